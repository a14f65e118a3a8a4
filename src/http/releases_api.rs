//! Releases over HTTP: publishing and managing them with an admin token
//! (`/api/admin/v1/releases`), and the protected apps' update check and download
//! (`/api/v1/releases/latest`, `/api/v1/releases/{id}/file`).
use crate::domain::Role;
use crate::domain::release::Channel;
use crate::error::{AppError, AppResult};
use crate::http::extract::{ClientIp, JsonBody, Staff};
use crate::http::release_file;
use crate::service::App;
use crate::service::releases::{self, Downloader, Latest, ReleasePatch, ReleaseView};
use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

/// The admin API's release routes (inside `/api/admin/v1`).
pub fn admin(scope: actix_web::Scope) -> actix_web::Scope {
    scope
        .route("/releases", web::post().to(publish))
        .route("/releases", web::get().to(list))
        .route("/releases/{id}", web::get().to(get_one))
        .route("/releases/{id}", web::patch().to(patch))
        .route("/releases/{id}", web::delete().to(remove))
        .route("/releases/{id}/file", web::get().to(staff_file))
        .route("/releases/{id}/file", web::head().to(staff_file))
}

/// The protected apps' release routes (inside `/api/v1`).
pub fn protected(scope: actix_web::Scope) -> actix_web::Scope {
    scope
        .route("/releases/latest", web::get().to(latest))
        .route("/releases/{id}/file", web::get().to(key_file))
        .route("/releases/{id}/file", web::head().to(key_file))
}

fn release_id(raw: &str) -> AppResult<u64> {
    raw.parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or(AppError::NotFound { what: "release" })
}

fn actor(staff: &Staff) -> String {
    format!("api:{}", staff.token.name)
}

/// The multipart body of `POST /releases` (for the OpenAPI document).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ReleaseForm {
    /// The product's code.
    product: String,
    /// The version, e.g. 2.1.0 (semver orders it; other forms sort by date).
    version: String,
    /// stable (default), rc, beta, alpha or dev.
    channel: Option<String>,
    /// What changed, in Markdown (at most 256 KiB).
    changelog: Option<String>,
    /// Only keys holding this feature may download it.
    requires_feature: Option<u32>,
    /// Only keys holding at least this many live seats of the product may download it.
    min_seats: Option<u32>,
    /// The file.
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
}

/// Publish a release (admin): the file streams to the data directory with its size
/// and SHA-256; the release is committed once it is complete and synced, and every
/// client holding the product is mailed. The same product, version and channel twice
/// is 409.
#[utoipa::path(post, path = "/api/admin/v1/releases", operation_id = "publish_release", tag = "admin", security(("bearer" = [])),
    request_body(content = ReleaseForm, content_type = "multipart/form-data"),
    responses((status = 201, body = ReleaseView), (status = 400), (status = 401), (status = 403),
        (status = 404, description = "unknown product"), (status = 409), (status = 413)))]
pub async fn publish(
    app: web::Data<App>,
    staff: Staff,
    payload: Multipart,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let form =
        crate::http::upload::receive(payload, &releases::dir(&app), app.config.upload_limit, None)
            .await?;
    let view = releases::publish(&app, form.into_upload()?, &actor(&staff)).await?;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReleaseQuery {
    /// Only this product's releases.
    pub product: Option<String>,
    /// Only this channel's releases.
    pub channel: Option<String>,
}

/// Releases, newest version first (yanked ones too, marked).
#[utoipa::path(get, path = "/api/admin/v1/releases", operation_id = "list_releases", tag = "admin", security(("bearer" = [])),
    params(ReleaseQuery),
    responses((status = 200, body = Vec<ReleaseView>), (status = 400), (status = 401)))]
pub async fn list(
    app: web::Data<App>,
    staff: Staff,
    q: web::Query<ReleaseQuery>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let channel = match q
        .channel
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        None => None,
        Some(c) => Some(
            Channel::parse(c)
                .ok_or_else(|| AppError::malformed("channel", "stable, rc, beta, alpha or dev"))?,
        ),
    };
    let tx = app.store.read()?;
    let mut all = match q
        .product
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        Some(p) => releases::of_product(&tx, p, channel)?,
        None => {
            let mut v = releases::all(&tx)?;
            v.retain(|r| channel.is_none_or(|c| r.channel == c));
            v.sort_by(|a, b| {
                a.product
                    .cmp(&b.product)
                    .then_with(|| crate::domain::release::compare(b, a))
            });
            v
        }
    };
    let list: Vec<ReleaseView> = all.drain(..).map(|r| ReleaseView::from(&r)).collect();
    Ok(HttpResponse::Ok().json(list))
}

/// One release with its downloads per client.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReleaseDetail {
    #[serde(flatten)]
    pub release: ReleaseView,
    /// Downloads per client (client 0: staff).
    pub downloads_by_client: Vec<ClientDownloads>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ClientDownloads {
    pub client_id: u64,
    pub downloads: u64,
}

/// A release, with its downloads per client.
#[utoipa::path(get, path = "/api/admin/v1/releases/{id}", operation_id = "get_release", tag = "admin", security(("bearer" = [])),
    params(("id" = u64, Path)),
    responses((status = 200, body = ReleaseDetail), (status = 401), (status = 404)))]
pub async fn get_one(
    app: web::Data<App>,
    staff: Staff,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let id = release_id(&id)?;
    let tx = app.store.read()?;
    let r = releases::get(&tx, id)?.ok_or(AppError::NotFound { what: "release" })?;
    let downloads_by_client = releases::downloads_by_client(&tx, id)?
        .into_iter()
        .map(|(client_id, downloads)| ClientDownloads {
            client_id,
            downloads,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ReleaseDetail {
        release: ReleaseView::from(&r),
        downloads_by_client,
    }))
}

/// Change a release (admin): its changelog, yank or unyank it (a yanked release is
/// hidden from update checks and new downloads, kept for audit), its requirements.
#[utoipa::path(patch, path = "/api/admin/v1/releases/{id}", operation_id = "patch_release", tag = "admin", security(("bearer" = [])),
    params(("id" = u64, Path)), request_body = ReleasePatch,
    responses((status = 200, body = ReleaseView), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub async fn patch(
    app: web::Data<App>,
    staff: Staff,
    id: web::Path<String>,
    body: JsonBody<ReleasePatch>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let id = release_id(&id)?;
    let view = releases::update(&app, id, body.0, &actor(&staff)).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Deleted {
    pub deleted: bool,
}

/// Delete a release and its file (admin).
#[utoipa::path(delete, path = "/api/admin/v1/releases/{id}", operation_id = "delete_release", tag = "admin", security(("bearer" = [])),
    params(("id" = u64, Path)),
    responses((status = 200, body = Deleted), (status = 401), (status = 403), (status = 404)))]
pub async fn remove(
    app: web::Data<App>,
    staff: Staff,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Admin)?;
    let id = release_id(&id)?;
    releases::delete(&app, id, &actor(&staff)).await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted: true }))
}

/// A release's file, for staff (yanked ones too).
#[utoipa::path(get, path = "/api/admin/v1/releases/{id}/file", operation_id = "release_file", tag = "admin", security(("bearer" = [])),
    params(("id" = u64, Path)),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"),
        (status = 206, description = "a range of it"), (status = 304), (status = 401), (status = 404), (status = 416)))]
pub async fn staff_file(
    app: web::Data<App>,
    staff: Staff,
    req: HttpRequest,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    staff.require(Role::Manager)?;
    let id = release_id(&id)?;
    release_file::download(&app, &req, id, Downloader::Staff).await
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct LatestQuery {
    /// The key's registration number.
    pub regnum: String,
    /// The product's code.
    pub product: String,
    /// stable (default), rc, beta, alpha or dev; a channel also gets newer releases of
    /// the steadier channels it includes (alpha ⊃ beta ⊃ rc ⊃ stable; dev alone).
    pub channel: Option<String>,
    /// The version the app runs, for `newer`.
    pub current: Option<String>,
}

/// The newest release of a product for this key (the update check).
#[utoipa::path(get, path = "/api/v1/releases/latest", operation_id = "latest_release", tag = "protected app",
    params(LatestQuery),
    responses((status = 200, body = Latest), (status = 400), (status = 403, description = "1071: the key holds no live grant of the product"),
        (status = 404, description = "1020 unknown key, 1050 unknown product, 1070 no release"), (status = 429)))]
pub async fn latest(
    app: web::Data<App>,
    ip: ClientIp,
    q: web::Query<LatestQuery>,
) -> AppResult<HttpResponse> {
    let body = crate::http::api::lookup_key(&app, ip.0, || {
        releases::latest(
            &app,
            &q.regnum,
            &q.product,
            q.channel.as_deref(),
            q.current.as_deref(),
        )
    })?;
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct FileQuery {
    /// The key's registration number.
    pub regnum: String,
}

/// A release's file for a key entitled to it: not signed (its integrity is the
/// `sha256` of the signed `latest` answer); `Range` requests resume it.
#[utoipa::path(get, path = "/api/v1/releases/{id}/file", operation_id = "app_release_file", tag = "protected app",
    params(("id" = u64, Path), FileQuery),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"),
        (status = 206, description = "a range of it"), (status = 304), (status = 400),
        (status = 403, description = "1071"), (status = 404), (status = 416), (status = 429)))]
pub async fn key_file(
    app: web::Data<App>,
    ip: ClientIp,
    req: HttpRequest,
    id: web::Path<String>,
    q: web::Query<FileQuery>,
) -> AppResult<HttpResponse> {
    let id = release_id(&id)?;
    use crate::http::api::{charge_on, limited};
    use crate::service::limits::Guess;
    limited(&app, ip.0, Guess::UnknownKey)?;
    let r = release_file::download(&app, &req, id, Downloader::Key(&q.regnum)).await;
    charge_on(&app, ip.0, Guess::UnknownKey, r, &[1020])
}
