//! Products and their features.
use super::prelude::*;

/// Create a product with its numbered features and trial terms (admin).
#[utoipa::path(post, path = "/api/admin/v1/products", tag = "admin", request_body = NewProduct,
    security(("bearer" = [])),
    responses((status = 201, body = ProductView), (status = 400), (status = 401), (status = 403), (status = 409)))]
pub async fn create_product(
    app: web::Data<App>,
    staff: Staff,
    body: JsonBody<NewProduct>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let p = products::create(&app, body.0).await?;
    audited(&app, &staff, "product_create", &p.code, &p.name).await;
    Ok(HttpResponse::Created().json(ProductView::from(&p)))
}

/// Every product.
#[utoipa::path(get, path = "/api/admin/v1/products", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<ProductView>), (status = 401)))]
pub async fn list_products(app: web::Data<App>, _staff: Staff) -> AppResult<HttpResponse> {
    let tx = app.store.read()?;
    let list: Vec<ProductView> = products::list(&tx)?.iter().map(ProductView::from).collect();
    Ok(HttpResponse::Ok().json(list))
}

/// One product by code.
#[utoipa::path(get, path = "/api/admin/v1/products/{code}", tag = "admin", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = ProductView), (status = 401), (status = 404)))]
pub async fn get_product(
    app: web::Data<App>,
    _staff: Staff,
    code: web::Path<String>,
) -> AppResult<HttpResponse> {
    let tx = app.store.read()?;
    let p = products::by_code(&tx, &code)?.ok_or(AppError::NotFound { what: "product" })?;
    Ok(HttpResponse::Ok().json(ProductView::from(&p)))
}

/// Change a product (admin): name, heartbeat, trial terms; add features, rename them, or
/// change a feature's counting unit while no key holds it (else 409, reason
/// `feature_in_use`). Only the fields sent change.
#[utoipa::path(patch, path = "/api/admin/v1/products/{code}", tag = "admin", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = ProductPatch,
    responses((status = 200, body = ProductView), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn update_product(
    app: web::Data<App>,
    staff: Staff,
    code: web::Path<String>,
    body: JsonBody<ProductPatch>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let actor = format!("api:{}", staff.token.name);
    let p = products::update(&app, &code, body.0, &actor).await?;
    Ok(HttpResponse::Ok().json(ProductView::from(&p)))
}

/// Delete a product no key holds (admin).
#[utoipa::path(delete, path = "/api/admin/v1/products/{code}", tag = "admin", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = ProductView), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn delete_product(
    app: web::Data<App>,
    staff: Staff,
    code: web::Path<String>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let actor = format!("api:{}", staff.token.name);
    let p = products::delete(&app, &code, &actor).await?;
    Ok(HttpResponse::Ok().json(ProductView::from(&p)))
}
