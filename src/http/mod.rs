//! The HTTP surfaces: the protected-app API (`/api/v1`), the admin API
//! (`/api/admin/v1`), the OpenAPI document, health. `configure` is the app factory that
//! `serve` and the tests share.
pub mod admin_api;
pub mod api;
pub mod extract;
pub mod files;
pub mod observe;
pub mod openapi;
pub mod openapi_rules;
pub mod release_file;
pub mod releases_api;
pub mod tls;
pub mod ui;
pub mod upload;

use crate::error::{AppError, ErrorCarrier};
use crate::i18n::Lang;
use crate::service::App;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use std::sync::Arc;

pub const SIGNATURE_HEADER: &str = "Licd-Signature";
pub const NONCE_HEADER: &str = "Licd-Nonce";

/// Routes of the whole server, on an `App` shared with the jobs.
pub fn configure(app: Arc<App>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        let data = web::Data::from(app);
        cfg.app_data(data)
            .route("/healthz", web::get().to(healthz))
            .service(
                web::scope("/api")
                    .app_data(web::QueryConfig::default().error_handler(query_error))
                    .wrap(from_fn(envelope))
                    .route("/openapi.json", web::get().to(openapi::document))
                    .service(api::scope())
                    .service(admin_api::scope())
                    .default_service(web::to(not_found)),
            )
            // The back office (HTML, its own CSP); after /api so it never shadows it.
            .service(ui::scope());
    }
}

/// Headers every answer carries.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .add((header::CACHE_CONTROL, "no-store"))
}

/// A query string the API's typed queries cannot read: the contract's 400 (1001) naming
/// the parameter, not actix's plain-text answer.
fn query_error(
    e: actix_web::error::QueryPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    let msg = e.to_string();
    let field = msg.split('`').nth(1).unwrap_or("query").to_owned();
    let why = msg.rsplit(": ").next().unwrap_or(&msg).to_owned();
    AppError::malformed(&field, &why).into()
}

async fn healthz(app: web::Data<App>) -> HttpResponse {
    match app.store.read() {
        Ok(_) => HttpResponse::Ok()
            .json(serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") })),
        Err(e) => AppError::from(e).into_response(),
    }
}

/// Methods each API path takes, read once from the OpenAPI document (so a route is
/// declared in one place), plus the document's own path.
fn api_methods() -> &'static [(actix_web::dev::ResourceDef, Vec<&'static str>)] {
    static TABLE: std::sync::OnceLock<Vec<(actix_web::dev::ResourceDef, Vec<&'static str>)>> =
        std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        use utoipa::OpenApi;
        let doc = openapi::ApiDoc::openapi();
        let mut table = vec![(
            actix_web::dev::ResourceDef::new("/api/openapi.json"),
            vec!["GET", "HEAD"],
        )];
        for (path, item) in doc.paths.paths {
            let mut m = Vec::new();
            if item.get.is_some() {
                m.extend(["GET", "HEAD"]);
            }
            for (op, name) in [
                (&item.post, "POST"),
                (&item.put, "PUT"),
                (&item.patch, "PATCH"),
                (&item.delete, "DELETE"),
            ] {
                if op.is_some() {
                    m.push(name);
                }
            }
            table.push((actix_web::dev::ResourceDef::new(path), m));
        }
        table
    })
}

/// An `/api` request no route took: 405 with `Allow` when the path exists with other
/// methods, else 404 — both in the contract's error body.
pub(crate) async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, AppError> {
    let mut allow: Vec<&'static str> = Vec::new();
    // The most literal template that matches decides (`/clients/merge`, not
    // `/clients/{id}`), as the router does.
    let matching = || {
        api_methods()
            .iter()
            .filter(|(def, _)| def.is_match(req.path()))
    };
    let fewest = matching()
        .map(|(def, _)| def.pattern().unwrap_or("").matches('{').count())
        .min();
    for (def, methods) in matching() {
        if Some(def.pattern().unwrap_or("").matches('{').count()) == fewest {
            for m in methods {
                if !allow.contains(m) {
                    allow.push(m);
                }
            }
        }
    }
    if allow.is_empty() || allow.contains(&req.method().as_str()) {
        return Err(AppError::NotFound { what: "route" });
    }
    Err(AppError::MethodNotAllowed { allow })
}

/// Marks a request that came as HEAD (now routed as GET).
#[derive(Clone, Copy, Debug)]
pub struct WasHead;

/// HEAD answers as GET would, without the body (the HTTP layer drops it for a HEAD
/// request, keeping `Content-Length`): routed as GET, marked [`WasHead`].
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
        actix_web::HttpMessage::extensions_mut(&req).insert(WasHead);
    }
    next.call(req).await
}

trait IntoResp {
    fn into_response(self) -> HttpResponse;
}
impl IntoResp for AppError {
    fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}

/// The API envelope: renders errors in the request's language, echoes `Licd-Nonce` into
/// the body, and signs every `/api/v1` body with `Licd-Signature`.
async fn envelope(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let lang = Lang::from_accept_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let signed = req.path().starts_with("/api/v1/") || req.path() == "/api/v1";
    let nonce = match req.headers().get(NONCE_HEADER) {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(s) if (1..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_graphic()) => {
                Ok(Some(s.to_owned()))
            }
            _ => Err(AppError::malformed(
                NONCE_HEADER,
                "1 to 64 printable ASCII characters",
            )),
        },
    };
    let app = req.app_data::<web::Data<App>>().cloned();
    let (http_req, res) = match &nonce {
        // The request must not be cloned before routing (the router needs it alone).
        Ok(_) => next.call(req).await?.map_into_boxed_body().into_parts(),
        Err(e) => {
            let (r, _) = req.into_parts();
            (r, actix_web::ResponseError::error_response(e))
        }
    };
    let nonce = nonce.ok().flatten();
    let res = finish(res, lang, nonce, if signed { app } else { None }).await?;
    Ok(ServiceResponse::new(http_req, res))
}

/// Finishes an answer in place: its head (status, headers, extensions) is kept as the
/// handler made it and only the body, `Content-Type`, `Content-Language` and the
/// signatures are set. No header map is copied and a body that is already bytes is not
/// copied either (issue 16: the envelope's cost beside the signature's).
async fn finish(
    res: HttpResponse,
    lang: Lang,
    nonce: Option<String>,
    signer: Option<web::Data<App>>,
) -> Result<HttpResponse, actix_web::Error> {
    let carrier = res.extensions().get::<ErrorCarrier>().cloned();
    // A file (a release's) is streamed as it is: never gathered, never signed.
    if carrier.is_none() && res.extensions().get::<release_file::Unsigned>().is_some() {
        return Ok(res);
    }
    let mut is_json = carrier.is_some()
        || res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
    if !is_json && signer.is_none() {
        // Not ours to rewrite (a non-JSON document, a streamed backup): passed through
        // untouched, never gathered into memory.
        return Ok(res);
    }
    let (mut head, body) = res.into_parts();
    let mut body: Bytes = match carrier {
        Some(c) => serde_json::to_vec(&c.0.body(lang))
            .unwrap_or_default()
            .into(),
        None => match body.try_into_bytes() {
            Ok(b) => b,
            Err(body) => actix_web::body::to_bytes(body)
                .await
                .map_err(|_| actix_web::error::ErrorInternalServerError("body"))?,
        },
    };
    if body.is_empty() && signer.is_some() {
        // Every /api/v1 answer has a JSON body.
        body = Bytes::from_static(b"{}");
        is_json = true;
    }
    if let Some(n) = &nonce
        && let Ok(serde_json::Value::Object(mut m)) =
            serde_json::from_slice::<serde_json::Value>(&body)
    {
        m.insert("nonce".into(), serde_json::Value::String(n.clone()));
        if let Ok(b) = serde_json::to_vec(&m) {
            body = b.into();
        }
    }
    let headers = head.headers_mut();
    // The HTTP layer writes the length of the body it is given.
    headers.remove(header::CONTENT_LENGTH);
    if is_json {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if let Some(app) = signer {
        let sigs = app.signer.sign_all(&body, app.now());
        if let Ok(v) = HeaderValue::from_str(&sigs.current) {
            headers.insert(HeaderName::from_static("licd-signature"), v);
        }
        if let Ok(v) = HeaderValue::from_str(&sigs.key_id) {
            headers.insert(HeaderName::from_static("licd-key-id"), v);
        }
        if let Some(v) = sigs.previous.and_then(|p| HeaderValue::from_str(&p).ok()) {
            headers.insert(HeaderName::from_static("licd-signature-previous"), v);
        }
    }
    headers.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.code()),
    );
    Ok(head.set_body(BoxBody::new(body)))
}
