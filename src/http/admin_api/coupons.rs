//! Coupon batches.
use super::prelude::*;

/// Generate a batch of coupons.
#[utoipa::path(post, path = "/api/admin/v1/coupons", tag = "admin", security(("bearer" = [])),
    request_body = NewCoupons,
    responses((status = 201, body = CouponBatch), (status = 400), (status = 401), (status = 404)))]
pub async fn create_coupons(
    app: web::Data<App>,
    staff: Staff,
    body: JsonBody<NewCoupons>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let b = coupons::create_batch(&app, body.0).await?;
    let detail = format!("{} coupons", b.codes.len());
    audited(
        &app,
        &staff,
        "coupons_create",
        &format!("batch {}", b.batch),
        &detail,
    )
    .await;
    Ok(HttpResponse::Created().json(b))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CouponQuery {
    pub batch: Option<u64>,
    pub limit: Option<String>,
    pub offset: Option<String>,
}

/// Coupons with their state.
#[utoipa::path(get, path = "/api/admin/v1/coupons", tag = "admin", security(("bearer" = [])),
    params(CouponQuery),
    responses((status = 200, body = Vec<CouponView>), (status = 401)))]
pub async fn list_coupons(
    app: web::Data<App>,
    _staff: Staff,
    q: web::Query<CouponQuery>,
) -> AppResult<HttpResponse> {
    let (limit, offset) = paging(&Paging {
        limit: q.limit.clone(),
        offset: q.offset.clone(),
    })?;
    Ok(HttpResponse::Ok().json(coupons::list(&app, q.batch, limit, offset)?))
}
