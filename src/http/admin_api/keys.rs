//! Keys: their items, blocking, unbinding, denials and daily usage.
use super::prelude::*;

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
