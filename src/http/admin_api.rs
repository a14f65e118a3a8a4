//! The admin API, `/api/admin/v1`: API.md's core for CRM and back-office scripts, and
//! what else staff need. Every call needs a bearer token; roles are checked here.
use crate::domain::{Role, Settings};
use crate::error::{AppError, AppResult};
use crate::http::extract::{JsonBody, Staff};
use crate::service::clients::{ClientInput, ListQuery};
use crate::service::coupons::{CouponBatch, CouponView, NewCoupons};
use crate::service::keys::{GrantChange, NewGrant};
use crate::service::leases::{LeaseView, Unbound};
use crate::service::products::{NewProduct, ProductPatch};
use crate::service::users::NewUser;
use crate::service::views::{
    ClientView, DistributorView, KeyView, ProductView, TokenView, UserView,
};
use crate::service::{App, auth, clients, coupons, distributors, keys, leases, products};
use crate::service::{settings, stats, usage, users};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

pub fn scope() -> actix_web::Scope {
    let scope = web::scope("/admin/v1")
        .route("/products", web::post().to(create_product))
        .route("/products", web::get().to(list_products))
        .route("/products/{code}", web::get().to(get_product))
        .route("/products/{code}", web::patch().to(update_product))
        .route("/products/{code}", web::delete().to(delete_product))
        .route("/clients", web::post().to(create_client))
        .route("/clients", web::get().to(list_clients))
        .route("/clients/merge", web::post().to(merge_clients))
        // Not a client id: any other method is 405, not "no client `merge`".
        .route("/clients/merge", web::route().to(super::not_found))
        .route("/clients/{id}", web::get().to(get_client))
        .route("/clients/{id}", web::patch().to(update_client))
        .route("/clients/{id}", web::delete().to(delete_client))
        .route("/clients/{id}/keys", web::post().to(create_key))
        .route("/keys", web::get().to(list_keys))
        .route("/keys/{regnum}", web::get().to(get_key))
        .route("/keys/{regnum}", web::patch().to(patch_key))
        .route("/keys/{regnum}/items", web::post().to(add_item))
        .route("/keys/{regnum}/items/{id}", web::patch().to(change_item))
        .route("/keys/{regnum}/items/{id}", web::delete().to(remove_item))
        .route("/keys/{regnum}/unbind", web::post().to(unbind))
        .route("/keys/{regnum}/denials", web::get().to(key_denials))
        .route("/keys/{regnum}/usage", web::get().to(key_usage))
        .route("/coupons", web::post().to(create_coupons))
        .route("/coupons", web::get().to(list_coupons))
        .route("/leases", web::get().to(list_leases))
        .route("/leases/{lease}", web::delete().to(end_lease))
        .route("/distributors", web::post().to(create_distributor))
        .route("/distributors", web::get().to(list_distributors))
        .route("/users", web::post().to(create_user))
        .route("/users", web::get().to(list_users))
        .route("/tokens", web::get().to(list_tokens))
        .route("/tokens", web::post().to(create_token))
        .route("/tokens/{id}", web::delete().to(revoke_token))
        .route("/settings", web::get().to(get_settings))
        .route("/settings", web::patch().to(patch_settings))
        .route("/backup", web::get().to(get_backup))
        .route("/signing-key/rotate", web::post().to(rotate_signing_key))
        .route("/metrics", web::get().to(super::observe::metrics));
    super::releases_api::admin(scope).default_service(web::to(super::not_found))
}

/// Records a staff change made through the admin API in the audit log (as the UI
/// does, in its own commit after the change); a failure to record is logged, not
/// returned, since the change itself is done.
async fn audited(app: &App, staff: &Staff, action: &str, target: &str, detail: &str) {
    let actor = format!("api:{}", staff.token.name);
    if let Err(e) = crate::service::audit::record(app, &actor, action, target, detail).await {
        tracing::warn!("audit record failed: {e}");
    }
}

fn parse_id(s: &str) -> AppResult<u64> {
    s.trim()
        .parse()
        .map_err(|_| AppError::NotFound { what: "client" })
}

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

/// Create a client by hand.
#[utoipa::path(post, path = "/api/admin/v1/clients", tag = "admin", request_body = ClientInput,
    security(("bearer" = [])),
    responses((status = 201, body = ClientView), (status = 400), (status = 401)))]
pub async fn create_client(
    app: web::Data<App>,
    staff: Staff,
    body: JsonBody<ClientInput>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let c = clients::create(&app, body.0).await?;
    audited(
        &app,
        &staff,
        "client_create",
        &format!("client {}", c.id),
        &c.company,
    )
    .await;
    Ok(HttpResponse::Created().json(c))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ClientQuery {
    /// Quick search over company, contact, phone, e-mail, comment.
    pub q: Option<String>,
    pub crm_id1: Option<String>,
    pub crm_id2: Option<String>,
    /// Default 100, at most 1000.
    pub limit: Option<String>,
    pub offset: Option<String>,
}

fn parse_num(name: &str, v: &Option<String>, default: usize) -> AppResult<usize> {
    match v.as_deref().map(str::trim) {
        None => Ok(default),
        Some(s) => s
            .parse()
            .map_err(|_| AppError::malformed(name, "an unsigned integer")),
    }
}

/// Find clients: quick search, CRM ids, paging (newest first). The total number of
/// matches is in the `X-Total-Count` header.
#[utoipa::path(get, path = "/api/admin/v1/clients", tag = "admin", security(("bearer" = [])),
    params(ClientQuery),
    responses((status = 200, body = Vec<ClientView>), (status = 400), (status = 401)))]
pub async fn list_clients(
    app: web::Data<App>,
    _staff: Staff,
    q: web::Query<ClientQuery>,
) -> AppResult<HttpResponse> {
    let limit = parse_num("limit", &q.limit, 100)?;
    if limit == 0 || limit > 1000 {
        return Err(AppError::malformed("limit", "1 to 1000"));
    }
    let offset = parse_num("offset", &q.offset, 0)?;
    let (list, total) = clients::list(
        &app,
        &ListQuery {
            q: q.q.clone().filter(|s| !s.trim().is_empty()),
            crm_id1: q.crm_id1.clone().filter(|s| !s.trim().is_empty()),
            crm_id2: q.crm_id2.clone().filter(|s| !s.trim().is_empty()),
            limit,
            offset,
        },
    )?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total-Count", total.to_string()))
        .json(list))
}

#[utoipa::path(get, path = "/api/admin/v1/clients/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = u64, Path)),
    responses((status = 200, body = ClientView), (status = 401), (status = 404)))]
pub async fn get_client(
    app: web::Data<App>,
    _staff: Staff,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(clients::get(&app, parse_id(&id)?)?))
}

/// Change the fields sent.
#[utoipa::path(patch, path = "/api/admin/v1/clients/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = u64, Path)), request_body = ClientInput,
    responses((status = 200, body = ClientView), (status = 400), (status = 401), (status = 404)))]
pub async fn update_client(
    app: web::Data<App>,
    staff: Staff,
    id: web::Path<String>,
    body: JsonBody<ClientInput>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let c = clients::update(&app, parse_id(&id)?, body.0).await?;
    audited(
        &app,
        &staff,
        "client_update",
        &format!("client {}", c.id),
        &c.company,
    )
    .await;
    Ok(HttpResponse::Ok().json(c))
}

/// Delete a client (refused while it has keys with items).
#[utoipa::path(delete, path = "/api/admin/v1/clients/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = u64, Path)),
    responses((status = 200, body = ClientView), (status = 401), (status = 404), (status = 409)))]
pub async fn delete_client(
    app: web::Data<App>,
    staff: Staff,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let c = clients::delete(&app, parse_id(&id)?).await?;
    audited(
        &app,
        &staff,
        "client_delete",
        &format!("client {}", c.id),
        &c.company,
    )
    .await;
    Ok(HttpResponse::Ok().json(c))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MergeInput {
    /// The surviving client.
    pub into: u64,
    /// Clients whose keys move to `into`; they are then deleted.
    pub from: Vec<u64>,
}

/// Merge duplicates: the survivor keeps its card, all keys of the others move to it.
#[utoipa::path(post, path = "/api/admin/v1/clients/merge", tag = "admin", security(("bearer" = [])),
    request_body = MergeInput,
    responses((status = 200, body = ClientView), (status = 400), (status = 401), (status = 404), (status = 409)))]
pub async fn merge_clients(
    app: web::Data<App>,
    staff: Staff,
    body: JsonBody<MergeInput>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let detail = format!("{:?} -> {}", body.0.from, body.0.into);
    let c = clients::merge(&app, body.0.into, body.0.from).await?;
    audited(
        &app,
        &staff,
        "client_merge",
        &format!("client {}", c.id),
        &detail,
    )
    .await;
    Ok(HttpResponse::Ok().json(c))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NewKey {
    pub regnum: String,
}

/// Generate an empty key for a client.
#[utoipa::path(post, path = "/api/admin/v1/clients/{id}/keys", tag = "admin", security(("bearer" = [])),
    params(("id" = u64, Path)),
    responses((status = 201, body = NewKey), (status = 401), (status = 404)))]
pub async fn create_key(
    app: web::Data<App>,
    staff: Staff,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let regnum = keys::create_for_client(&app, parse_id(&id)?).await?;
    audited(
        &app,
        &staff,
        "key_create",
        &regnum,
        &format!("client {}", id.trim()),
    )
    .await;
    Ok(HttpResponse::Created().json(NewKey { regnum }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct Paging {
    pub limit: Option<String>,
    pub offset: Option<String>,
}

fn paging(p: &Paging) -> AppResult<(usize, usize)> {
    let limit = parse_num("limit", &p.limit, 100)?;
    if limit == 0 || limit > 1000 {
        return Err(AppError::malformed("limit", "1 to 1000"));
    }
    Ok((limit, parse_num("offset", &p.offset, 0)?))
}

/// Keys, in registration-number order.
#[utoipa::path(get, path = "/api/admin/v1/keys", tag = "admin", security(("bearer" = [])),
    params(Paging),
    responses((status = 200, body = Vec<KeyView>), (status = 401)))]
pub async fn list_keys(
    app: web::Data<App>,
    _staff: Staff,
    p: web::Query<Paging>,
) -> AppResult<HttpResponse> {
    let (limit, offset) = paging(&p)?;
    Ok(HttpResponse::Ok().json(keys::list(&app, limit, offset)?))
}

/// A key with its items, grants and client.
#[utoipa::path(get, path = "/api/admin/v1/keys/{regnum}", tag = "admin", security(("bearer" = [])),
    params(("regnum" = String, Path)),
    responses((status = 200, body = KeyView), (status = 400), (status = 401), (status = 404)))]
pub async fn get_key(
    app: web::Data<App>,
    _staff: Staff,
    regnum: web::Path<String>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(keys::get(&app, &regnum)?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct KeyPatch {
    pub blocked: Option<bool>,
}

/// Block or unblock a key.
#[utoipa::path(patch, path = "/api/admin/v1/keys/{regnum}", tag = "admin", security(("bearer" = [])),
    params(("regnum" = String, Path)), request_body = KeyPatch,
    responses((status = 200, body = KeyView), (status = 400), (status = 401), (status = 404)))]
pub async fn patch_key(
    app: web::Data<App>,
    staff: Staff,
    regnum: web::Path<String>,
    body: JsonBody<KeyPatch>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let view = match body.0.blocked {
        Some(b) => {
            let v = keys::set_blocked(&app, &regnum, b).await?;
            let action = if b { "key_block" } else { "key_unblock" };
            audited(&app, &staff, action, &v.regnum, "").await;
            v
        }
        None => keys::get(&app, &regnum)?,
    };
    Ok(HttpResponse::Ok().json(view))
}

/// Add a grant (item) to a key.
#[utoipa::path(post, path = "/api/admin/v1/keys/{regnum}/items", tag = "admin", security(("bearer" = [])),
    params(("regnum" = String, Path)), request_body = NewGrant,
    responses((status = 201, body = KeyView), (status = 400), (status = 401), (status = 404)))]
pub async fn add_item(
    app: web::Data<App>,
    staff: Staff,
    regnum: web::Path<String>,
    body: JsonBody<NewGrant>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let detail = format!("{} / {} x {}", body.0.product, body.0.feature, body.0.seats);
    let v = keys::add_grant(&app, &regnum, body.0).await?;
    audited(&app, &staff, "key_add_item", &v.regnum, &detail).await;
    Ok(HttpResponse::Created().json(v))
}

/// Change one grant's seats or expiry.
#[utoipa::path(patch, path = "/api/admin/v1/keys/{regnum}/items/{id}", tag = "admin", security(("bearer" = [])),
    params(("regnum" = String, Path), ("id" = u64, Path)), request_body = GrantChange,
    responses((status = 200, body = KeyView), (status = 400), (status = 401), (status = 404)))]
pub async fn change_item(
    app: web::Data<App>,
    staff: Staff,
    path: web::Path<(String, String)>,
    body: JsonBody<GrantChange>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let id = path
        .1
        .trim()
        .parse()
        .map_err(|_| AppError::NotFound { what: "item" })?;
    let v = keys::change_grant(&app, &path.0, id, Some(body.0)).await?;
    audited(
        &app,
        &staff,
        "key_change_item",
        &v.regnum,
        &format!("item {id}"),
    )
    .await;
    Ok(HttpResponse::Ok().json(v))
}

/// Remove one grant.
#[utoipa::path(delete, path = "/api/admin/v1/keys/{regnum}/items/{id}", tag = "admin", security(("bearer" = [])),
    params(("regnum" = String, Path), ("id" = u64, Path)),
    responses((status = 200, body = KeyView), (status = 401), (status = 404)))]
pub async fn remove_item(
    app: web::Data<App>,
    staff: Staff,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let id = path
        .1
        .trim()
        .parse()
        .map_err(|_| AppError::NotFound { what: "item" })?;
    let v = keys::change_grant(&app, &path.0, id, None).await?;
    audited(
        &app,
        &staff,
        "key_remove_item",
        &v.regnum,
        &format!("item {id}"),
    )
    .await;
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UnbindInput {
    pub host: String,
    pub feature: Option<u32>,
}

/// Remove a host's bindings (and leases) on a key; answers the bindings removed.
#[utoipa::path(post, path = "/api/admin/v1/keys/{regnum}/unbind", tag = "admin", security(("bearer" = [])),
    params(("regnum" = String, Path)), request_body = UnbindInput,
    responses((status = 200, body = Vec<Unbound>), (status = 400), (status = 401), (status = 404)))]
pub async fn unbind(
    app: web::Data<App>,
    staff: Staff,
    regnum: web::Path<String>,
    body: JsonBody<UnbindInput>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let removed = leases::unbind(
        &app.clone().into_inner(),
        &regnum,
        &body.0.host,
        body.0.feature,
    )
    .await?;
    audited(&app, &staff, "unbind", regnum.as_str(), &body.0.host).await;
    Ok(HttpResponse::Ok().json(removed))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DenialView {
    pub feature: u32,
    pub at: String,
    pub host: String,
    pub user: String,
    pub database: String,
    pub code: u32,
}

/// Refused captures of a key, newest first.
#[utoipa::path(get, path = "/api/admin/v1/keys/{regnum}/denials", tag = "admin", security(("bearer" = [])),
    params(("regnum" = String, Path), Paging),
    responses((status = 200, body = Vec<DenialView>), (status = 401), (status = 404)))]
pub async fn key_denials(
    app: web::Data<App>,
    _staff: Staff,
    regnum: web::Path<String>,
    p: web::Query<Paging>,
) -> AppResult<HttpResponse> {
    let (limit, _) = paging(&p)?;
    let regnum = keys::parse_regnum(&regnum)?;
    let tx = app.store.read()?;
    keys::load(&tx, &regnum)?.ok_or(AppError::UnknownRegnum)?;
    let list: Vec<DenialView> = usage::denials_of(&tx, &regnum, limit)?
        .into_iter()
        .map(|d| DenialView {
            feature: d.feature,
            at: crate::clock::rfc3339(d.at),
            host: d.host,
            user: d.user,
            database: d.database,
            code: d.code,
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DayRangeQuery {
    /// First day, `YYYY-MM-DD` (default: 29 days before `to`).
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (default: today, UTC).
    pub to: Option<String>,
}

/// A key's daily usage: one row per day and feature that had any (granted captures,
/// refused captures, most seats in use at once), oldest first.
#[utoipa::path(get, path = "/api/admin/v1/keys/{regnum}/usage", tag = "admin", security(("bearer" = [])),
    params(("regnum" = String, Path), DayRangeQuery),
    responses((status = 200, body = Vec<crate::service::stats::UsageDay>), (status = 400), (status = 401), (status = 404)))]
pub async fn key_usage(
    app: web::Data<App>,
    _staff: Staff,
    regnum: web::Path<String>,
    q: web::Query<DayRangeQuery>,
) -> AppResult<HttpResponse> {
    use crate::domain::days::DayRange;
    let regnum = keys::parse_regnum(&regnum)?;
    let tx = app.store.read()?;
    keys::load(&tx, &regnum)?.ok_or(AppError::UnknownRegnum)?;
    let range = DayRange::parse(q.from.as_deref(), q.to.as_deref(), stats::today(&app), 30)
        .map_err(|e| AppError::malformed(e.field, e.why))?;
    Ok(HttpResponse::Ok().json(stats::key_usage(&tx, &regnum, range)?))
}

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

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewDistributor {
    /// 1–40 letters, digits, `.`, `_`, `-`; kept lower-cased. Clients and distributor
    /// users refer to it.
    pub code: String,
    pub name: String,
    /// Where the notifications of the distributor's clients go.
    pub email: String,
}

/// Add a distributor (admin); a code already taken is 409.
#[utoipa::path(post, path = "/api/admin/v1/distributors", tag = "admin", security(("bearer" = [])),
    request_body = NewDistributor,
    responses((status = 201, body = DistributorView), (status = 400), (status = 401), (status = 403), (status = 409)))]
pub async fn create_distributor(
    app: web::Data<App>,
    staff: Staff,
    body: JsonBody<NewDistributor>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let b = body.0;
    let d = distributors::create(&app, &b.code, &b.name, &b.email).await?;
    audited(&app, &staff, "distributor_create", &d.code, &d.name).await;
    Ok(HttpResponse::Created().json(DistributorView::from(&d)))
}

/// Every distributor, by code (admin).
#[utoipa::path(get, path = "/api/admin/v1/distributors", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<DistributorView>), (status = 401), (status = 403)))]
pub async fn list_distributors(app: web::Data<App>, staff: Staff) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let tx = app.store.read()?;
    let list: Vec<DistributorView> = distributors::list(&tx)?
        .iter()
        .map(DistributorView::from)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Add a staff user (admin). Without `password` the user has no usable one and is
/// mailed a single-use link (24 h) to set it; `email` is then required. A login
/// already taken is 409; the answer never holds a password hash.
#[utoipa::path(post, path = "/api/admin/v1/users", tag = "admin", security(("bearer" = [])),
    request_body = NewUser,
    responses((status = 201, body = UserView), (status = 400), (status = 401), (status = 403), (status = 409)))]
pub async fn create_user(
    app: web::Data<App>,
    staff: Staff,
    body: JsonBody<NewUser>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let actor = format!("api:{}", staff.token.name);
    let u = users::create(&app, body.0, &actor).await?;
    Ok(HttpResponse::Created().json(UserView::from(&u)))
}

/// Every staff user, by login (admin); never a password hash.
#[utoipa::path(get, path = "/api/admin/v1/users", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<UserView>), (status = 401), (status = 403)))]
pub async fn list_users(app: web::Data<App>, staff: Staff) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let tx = app.store.read()?;
    let list: Vec<UserView> = users::list(&tx)?.iter().map(UserView::from).collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Admin-API tokens (admin).
#[utoipa::path(get, path = "/api/admin/v1/tokens", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<TokenView>), (status = 401), (status = 403)))]
pub async fn list_tokens(app: web::Data<App>, staff: Staff) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let tx = app.store.read()?;
    let list: Vec<TokenView> = auth::list_tokens(&tx)?
        .iter()
        .map(TokenView::from)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    pub name: String,
    /// admin or manager
    pub role: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The secret, shown this once.
    pub token: String,
    #[serde(flatten)]
    pub info: TokenView,
}

/// Make a token; its secret is in this answer only (admin).
#[utoipa::path(post, path = "/api/admin/v1/tokens", tag = "admin", security(("bearer" = [])),
    request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400), (status = 401), (status = 403)))]
pub async fn create_token(
    app: web::Data<App>,
    staff: Staff,
    body: JsonBody<NewToken>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let role =
        Role::parse(&body.0.role).ok_or_else(|| AppError::malformed("role", "admin or manager"))?;
    let actor = format!("api:{}", staff.token.name);
    let (secret, t) = auth::create_token(&app.store, &body.0.name, role, app.now(), &actor).await?;
    Ok(HttpResponse::Created().json(CreatedToken {
        token: secret,
        info: TokenView::from(&t),
    }))
}

/// Revoke a token (admin).
#[utoipa::path(delete, path = "/api/admin/v1/tokens/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = u64, Path)),
    responses((status = 200, body = TokenView), (status = 401), (status = 403), (status = 404)))]
pub async fn revoke_token(
    app: web::Data<App>,
    staff: Staff,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let id = id
        .trim()
        .parse()
        .map_err(|_| AppError::NotFound { what: "token" })?;
    let actor = format!("api:{}", staff.token.name);
    let t = auth::revoke_token(&app.store, id, app.now(), &actor).await?;
    Ok(HttpResponse::Ok().json(TokenView::from(&t)))
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct SettingsView {
    pub vendor_name: String,
    pub regnum_prefix: String,
    pub offline_license_days: u32,
    pub extra_fields: Vec<String>,
    /// Days before a grant's expiry when its client is reminded, largest first.
    pub expiry_days: Vec<u32>,
    /// The language of mail to clients who chose none: "ru" or "en".
    pub mail_lang: String,
}

impl From<Settings> for SettingsView {
    fn from(s: Settings) -> Self {
        SettingsView {
            vendor_name: s.vendor_name,
            regnum_prefix: s.regnum_prefix,
            offline_license_days: s.offline_license_days,
            extra_fields: s.extra_fields,
            expiry_days: s.expiry_days,
            mail_lang: s.mail_lang,
        }
    }
}

/// Vendor settings.
#[utoipa::path(get, path = "/api/admin/v1/settings", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = SettingsView), (status = 401)))]
pub async fn get_settings(app: web::Data<App>, _staff: Staff) -> AppResult<HttpResponse> {
    let tx = app.store.read()?;
    Ok(HttpResponse::Ok().json(SettingsView::from(settings::read(&tx)?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SettingsPatch {
    pub vendor_name: Option<String>,
    /// 1–12 Latin letters or digits; new keys and coupons use it.
    pub regnum_prefix: Option<String>,
    pub offline_license_days: Option<u32>,
    pub extra_fields: Option<Vec<String>>,
    /// 1 to 5 days, each 1–365 (stored largest first, duplicates merged).
    pub expiry_days: Option<Vec<u32>>,
    /// "ru" or "en".
    pub mail_lang: Option<String>,
}

/// Change vendor settings (admin).
#[utoipa::path(patch, path = "/api/admin/v1/settings", tag = "admin", security(("bearer" = [])),
    request_body = SettingsPatch,
    responses((status = 200, body = SettingsView), (status = 400), (status = 401), (status = 403)))]
pub async fn patch_settings(
    app: web::Data<App>,
    staff: Staff,
    body: JsonBody<SettingsPatch>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let p = body.0;
    if let Some(prefix) = &p.regnum_prefix
        && !crate::domain::number::valid_prefix(prefix.trim())
    {
        return Err(AppError::malformed(
            "regnum_prefix",
            "1 to 12 Latin letters or digits",
        ));
    }
    if p.offline_license_days.is_some_and(|d| d == 0 || d > 366) {
        return Err(AppError::malformed("offline_license_days", "1 to 366"));
    }
    if p.vendor_name.as_ref().is_some_and(|n| n.trim().is_empty()) {
        return Err(AppError::malformed("vendor_name", "must not be empty"));
    }
    // The API takes at most five entries (the Settings page also merges repeats).
    if p.expiry_days.as_ref().is_some_and(|d| d.len() > 5) {
        return Err(AppError::malformed("expiry_days", "at most 5 days"));
    }
    let expiry_days = match p.expiry_days.clone() {
        Some(d) => Some(
            crate::domain::mailing::expiry_days(d)
                .map_err(|why| AppError::malformed("expiry_days", why))?,
        ),
        None => None,
    };
    let mail_lang = match p.mail_lang.as_deref().map(str::trim) {
        None => None,
        Some(l @ ("ru" | "en")) => Some(l.to_owned()),
        Some(_) => return Err(AppError::malformed("mail_lang", "ru or en")),
    };
    let s = app
        .store
        .write(move |tx| {
            let mut s = settings::read(tx)?;
            if let Some(v) = &p.vendor_name {
                s.vendor_name = v.trim().to_owned();
            }
            if let Some(v) = &p.regnum_prefix {
                s.regnum_prefix = v.trim().to_ascii_uppercase();
            }
            if let Some(v) = p.offline_license_days {
                s.offline_license_days = v;
            }
            if let Some(v) = &p.extra_fields {
                s.extra_fields = v
                    .iter()
                    .map(|f| f.trim().to_owned())
                    .filter(|f| !f.is_empty())
                    .collect();
            }
            if let Some(v) = &expiry_days {
                s.expiry_days = v.clone();
            }
            if let Some(v) = &mail_lang {
                s.mail_lang = v.clone();
            }
            settings::write(tx, &s)?;
            Ok(s)
        })
        .await?;
    let detail = format!(
        "prefix {} expiry days {:?} mail {}",
        s.regnum_prefix, s.expiry_days, s.mail_lang
    );
    audited(&app, &staff, "settings_change", "settings", &detail).await;
    Ok(HttpResponse::Ok().json(SettingsView::from(s)))
}

/// A consistent copy of the database, taken while the server keeps serving (admin): a
/// complete redb file with every write acknowledged before the call, verified before it
/// is sent. `Licd-Backup-Sha256` and `Licd-Backup-Rows` let the receiver check it; it
/// also carries the signing key, so keep it as private as the data directory.
#[utoipa::path(get, path = "/api/admin/v1/backup", tag = "admin", security(("bearer" = [])),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>,
        headers(("Licd-Backup-Sha256" = String, description = "SHA-256 of the body, hex"),
                ("Licd-Backup-Rows" = u64, description = "rows in the copy"))),
        (status = 401), (status = 403)))]
pub async fn get_backup(app: web::Data<App>, staff: Staff) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let app = app.into_inner();
    let dir = crate::service::backups::policy(&app)?.dir;
    let tmp = dir.join(format!(
        ".online-{}.redb.tmp",
        uuid::Uuid::new_v4().simple()
    ));
    let copied =
        crate::service::backups::snapshot_to(&app, tmp, crate::service::backups::busy(&app))
            .await?;
    audited(
        &app,
        &staff,
        "backup",
        "database",
        &format!("{} rows", copied.rows),
    )
    .await;
    let stamp = app
        .now()
        .format(time::macros::format_description!(
            "[year][month][day]-[hour][minute][second]"
        ))
        .unwrap_or_default();
    let body = super::files::delete_after(copied.path.clone())
        .await
        .map_err(|e| AppError::internal(format!("backup file: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"licd-{stamp}.redb\""),
        ))
        .insert_header(("Licd-Backup-Sha256", copied.sha256.clone()))
        .insert_header(("Licd-Backup-Rows", copied.rows.to_string()))
        .insert_header(("Cache-Control", "no-store"))
        .no_chunking(copied.bytes)
        .streaming(body))
}

/// What `POST /signing-key/rotate` takes.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateInput {
    /// Days the replaced key keeps signing beside the new one (`Licd-Signature-Previous`),
    /// 1 to 3650 [default: 90].
    #[schema(minimum = 1, maximum = 3650)]
    pub overlap_days: Option<u32>,
}

/// Make a new signing key (admin). Answers are signed with it at once; the replaced key
/// keeps signing `Licd-Signature-Previous` and stays listed by `GET /api/v1/signing-key`
/// for the overlap, so apps that pinned it keep verifying until they update.
#[utoipa::path(post, path = "/api/admin/v1/signing-key/rotate", tag = "admin", security(("bearer" = [])),
    request_body = RotateInput,
    responses((status = 200, body = crate::service::signing::PublicKeyInfo), (status = 400), (status = 401), (status = 403)))]
pub async fn rotate_signing_key(
    app: web::Data<App>,
    staff: Staff,
    body: JsonBody<RotateInput>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let days = body.0.overlap_days.unwrap_or(90);
    if !(1..=3650).contains(&days) {
        return Err(AppError::malformed("overlap_days", "1 to 3650"));
    }
    let info = crate::service::signing::rotate_audited(
        &app,
        &format!("api:{}", staff.token.name),
        time::Duration::days(i64::from(days)),
    )
    .await?;
    Ok(HttpResponse::Ok().json(info))
}
