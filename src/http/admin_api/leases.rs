//! Live leases.
use super::prelude::*;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct LeaseQuery {
    pub regnum: Option<String>,
    pub limit: Option<String>,
}

/// Live leases, of one key or all.
#[utoipa::path(get, path = "/api/admin/v1/leases", tag = "admin", security(("bearer" = [])),
    params(LeaseQuery),
    responses((status = 200, body = Vec<LeaseView>), (status = 400), (status = 401)))]
pub async fn list_leases(
    app: web::Data<App>,
    _staff: Staff,
    q: web::Query<LeaseQuery>,
) -> AppResult<HttpResponse> {
    let limit = parse_num("limit", &q.limit, 1000)?;
    if limit == 0 || limit > 10_000 {
        return Err(AppError::malformed("limit", "1 to 10000"));
    }
    let regnum = match q.regnum.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => Some(keys::parse_regnum(r)?),
        None => None,
    };
    Ok(HttpResponse::Ok().json(leases::list(&app, regnum.as_deref(), limit)?))
}

/// End a lease.
#[utoipa::path(delete, path = "/api/admin/v1/leases/{lease}", tag = "admin", security(("bearer" = [])),
    params(("lease" = String, Path)),
    responses((status = 200, body = crate::http::api::Released), (status = 401)))]
pub async fn end_lease(
    app: web::Data<App>,
    staff: Staff,
    lease: web::Path<String>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let released = leases::release(&app.clone().into_inner(), &lease).await?;
    if released {
        audited(&app, &staff, "lease_end", lease.as_str(), "").await;
    }
    Ok(HttpResponse::Ok().json(crate::http::api::Released { released }))
}
