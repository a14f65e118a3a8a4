//! The protected-app API, `/api/v1`, exactly as API.md fixes it. Every body here is
//! signed and carries the nonce (see `http::envelope`).
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::http::extract::{ClientIp, JsonBody, ReqLang};
use crate::service::coupons::{ActivateInput, Activated};
use crate::service::leases::{Beat, CaptureInput, Captured, Diagnosis};
use crate::service::limits::Guess;
use crate::service::trial::{TrialGranted, TrialInput};
use crate::service::views::ItemView;
use crate::service::{App, clients, coupons, keys, leases, trial};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

pub fn scope() -> actix_web::Scope {
    // The router tries routes in this order, and a route with a `{segment}` costs a
    // regex match: the fixed paths come first, then the hottest (heartbeats) (issue 16).
    let scope = web::scope("/v1")
        .route("/leases", web::post().to(post_lease))
        .route("/signing-key", web::get().to(get_signing_key))
        .route("/trial", web::post().to(post_trial))
        .route("/activate", web::post().to(post_activate))
        .route("/leases/{lease}/heartbeat", web::post().to(post_heartbeat))
        .route("/leases/{lease}", web::delete().to(delete_lease))
        .route("/keys/{regnum}", web::get().to(get_key))
        .route("/keys/{regnum}/diag", web::get().to(get_diag))
        .route("/keys/{regnum}/license", web::get().to(get_license));
    super::releases_api::protected(scope).default_service(web::to(super::not_found))
}

pub(crate) fn limited(app: &App, ip: IpAddr, what: Guess) -> AppResult<()> {
    app.limits
        .check(ip, what)
        .map_err(|retry_after_s| AppError::TooManyRequests { retry_after_s })
}

/// Counts a failed guess of `what` against the caller's address.
pub(crate) fn charge_on<T>(
    app: &App,
    ip: IpAddr,
    what: Guess,
    r: AppResult<T>,
    codes: &[u32],
) -> AppResult<T> {
    if let Err(e) = &r
        && codes.contains(&e.code())
    {
        app.limits.charge(ip, what);
    }
    r
}

/// Register a trial: a new client and key, or another product's trial on a key.
#[utoipa::path(post, path = "/api/v1/trial", tag = "protected app",
    request_body = TrialInput,
    responses((status = 201, body = TrialGranted), (status = 400), (status = 404), (status = 409), (status = 429)))]
pub async fn post_trial(
    app: web::Data<App>,
    ip: ClientIp,
    body: JsonBody<TrialInput>,
) -> AppResult<HttpResponse> {
    limited(&app, ip.0, Guess::Trial)?;
    app.limits.charge(ip.0, Guess::Trial);
    let r = trial::register(&app, body.0).await?;
    Ok(HttpResponse::Created().json(r))
}

/// Activate a coupon on a key: its items are added once.
#[utoipa::path(post, path = "/api/v1/activate", tag = "protected app",
    request_body = ActivateInput,
    responses((status = 200, body = Activated), (status = 400), (status = 404), (status = 409), (status = 429)))]
pub async fn post_activate(
    app: web::Data<App>,
    ip: ClientIp,
    body: JsonBody<ActivateInput>,
) -> AppResult<HttpResponse> {
    limited(&app, ip.0, Guess::Coupon)?;
    let r = coupons::activate(&app, body.0).await;
    let r = charge_on(&app, ip.0, Guess::Coupon, r, &[1003, 1020, 1040])?;
    Ok(HttpResponse::Ok().json(r))
}

/// Capture a seat of a feature.
#[utoipa::path(post, path = "/api/v1/leases", tag = "protected app",
    request_body = CaptureInput,
    responses((status = 201, body = Captured), (status = 400), (status = 403), (status = 404), (status = 409), (status = 429)))]
pub async fn post_lease(
    app: web::Data<App>,
    ip: ClientIp,
    body: JsonBody<CaptureInput>,
) -> AppResult<HttpResponse> {
    limited(&app, ip.0, Guess::UnknownKey)?;
    let r = leases::capture(&app.clone().into_inner(), body.0).await;
    let r = charge_on(&app, ip.0, Guess::UnknownKey, r, &[1020])?;
    Ok(HttpResponse::Created().json(r))
}

/// Keep a lease alive.
#[utoipa::path(post, path = "/api/v1/leases/{lease}/heartbeat", tag = "protected app",
    params(("lease" = String, Path)),
    responses((status = 200, body = Beat), (status = 404)))]
pub async fn post_heartbeat(
    app: web::Data<App>,
    lease: web::Path<String>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(leases::heartbeat(&app, &lease)?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Released {
    pub released: bool,
}

/// Release a lease (idempotent).
#[utoipa::path(delete, path = "/api/v1/leases/{lease}", tag = "protected app",
    params(("lease" = String, Path)),
    responses((status = 200, body = Released)))]
pub async fn delete_lease(
    app: web::Data<App>,
    lease: web::Path<String>,
) -> AppResult<HttpResponse> {
    let released = leases::release(&app.clone().into_inner(), &lease).await?;
    Ok(HttpResponse::Ok().json(Released { released }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PublicKey {
    pub regnum: String,
    pub company: String,
    pub blocked: bool,
    pub items: Vec<ItemView>,
}

pub(crate) fn lookup_key<T>(
    app: &App,
    ip: IpAddr,
    f: impl FnOnce() -> AppResult<T>,
) -> AppResult<T> {
    limited(app, ip, Guess::UnknownKey)?;
    charge_on(app, ip, Guess::UnknownKey, f(), &[1020])
}

/// A key's state: used and free seats per item.
#[utoipa::path(get, path = "/api/v1/keys/{regnum}", operation_id = "app_get_key", tag = "protected app",
    params(("regnum" = String, Path)),
    responses((status = 200, body = PublicKey), (status = 400), (status = 404), (status = 429)))]
pub async fn get_key(
    app: web::Data<App>,
    ip: ClientIp,
    regnum: web::Path<String>,
) -> AppResult<HttpResponse> {
    let body = lookup_key(&app, ip.0, || {
        let regnum = keys::parse_regnum(&regnum)?;
        let tx = app.store.read()?;
        let key = keys::load(&tx, &regnum)?.ok_or(AppError::UnknownRegnum)?;
        let company = clients::load(&tx, key.client_id)?
            .map(|c| c.company)
            .unwrap_or_default();
        Ok(PublicKey {
            items: keys::items(&app, &tx, &key, app.now())?,
            regnum: key.regnum,
            company,
            blocked: key.blocked,
        })
    })?;
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DiagQuery {
    pub feature: Option<String>,
}

/// What stands between the key and a seat of a feature.
#[utoipa::path(get, path = "/api/v1/keys/{regnum}/diag", tag = "protected app",
    params(("regnum" = String, Path), DiagQuery),
    responses((status = 200, body = Diagnosis), (status = 400), (status = 404), (status = 429)))]
pub async fn get_diag(
    app: web::Data<App>,
    ip: ClientIp,
    lang: ReqLang,
    regnum: web::Path<String>,
    q: web::Query<DiagQuery>,
) -> AppResult<HttpResponse> {
    let feature = q
        .feature
        .as_deref()
        .ok_or_else(|| AppError::malformed("feature", "required"))?
        .trim()
        .parse::<u32>()
        .map_err(|_| AppError::malformed("feature", "an unsigned integer"))?;
    let d = lookup_key(&app, ip.0, || {
        leases::diagnose(&app, &regnum, feature, lang.0)
    })?;
    Ok(HttpResponse::Ok().json(d))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OfflineLicense {
    pub regnum: String,
    pub items: Vec<ItemView>,
    pub issued_at: String,
    pub valid_until: String,
}

/// A signed offline license: valid for the configured days, never past an item's expiry.
#[utoipa::path(get, path = "/api/v1/keys/{regnum}/license", tag = "protected app",
    params(("regnum" = String, Path)),
    responses((status = 200, body = OfflineLicense), (status = 400), (status = 403), (status = 404), (status = 429)))]
pub async fn get_license(
    app: web::Data<App>,
    ip: ClientIp,
    regnum: web::Path<String>,
) -> AppResult<HttpResponse> {
    let body = lookup_key(&app, ip.0, || {
        let regnum = keys::parse_regnum(&regnum)?;
        let tx = app.store.read()?;
        let key = keys::load(&tx, &regnum)?.ok_or(AppError::UnknownRegnum)?;
        if key.blocked {
            return Err(AppError::Blocked);
        }
        let now = app.now();
        let days = crate::service::settings::read(&tx)?
            .offline_license_days
            .max(1);
        let mut until = now + time::Duration::days(i64::from(days));
        let items: Vec<ItemView> = keys::items(&app, &tx, &key, now)?
            .into_iter()
            .filter(|i| i.seats > 0)
            .collect();
        for feature in items.iter().map(|i| i.feature) {
            if let Some(e) = key.feature_grant(feature, now).and_then(|g| g.expires_at) {
                until = until.min(e);
            }
        }
        Ok(OfflineLicense {
            regnum: key.regnum,
            items,
            issued_at: rfc3339(now),
            valid_until: rfc3339(until),
        })
    })?;
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SigningKey {
    /// The current key's algorithm: "ed25519".
    pub algorithm: String,
    /// The current public key (base64), which signs `Licd-Signature`.
    pub public_key: String,
    /// The current key's id (`Licd-Key-Id` of every answer).
    pub key_id: String,
    /// The current key and, after a rotation, the previous one with its end of
    /// validity (until then it also signs `Licd-Signature-Previous`).
    pub keys: Vec<crate::service::signing::PublicKeyInfo>,
}

/// The public keys that verify `Licd-Signature` (current) and, for a while after a
/// rotation, `Licd-Signature-Previous` (previous).
#[utoipa::path(get, path = "/api/v1/signing-key", tag = "protected app",
    responses((status = 200, body = SigningKey)))]
pub async fn get_signing_key(app: web::Data<App>) -> HttpResponse {
    let keys = app.signer.keys(app.now());
    HttpResponse::Ok().json(SigningKey {
        algorithm: "ed25519".into(),
        public_key: keys[0].public_key.clone(),
        key_id: keys[0].key_id.clone(),
        keys,
    })
}
