//! Request extractors: JSON bodies with the contract's errors, the caller's address,
//! the caller's language, and admin-API authentication.
use crate::domain::{Role, Token};
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::service::App;
use crate::service::auth;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

/// A JSON body: over the size limit → 413 (1004); not JSON or wrong fields → 400 (1001)
/// naming the field.
pub struct JsonBody<T>(pub T);

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> AppResult<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::malformed("body", "a JSON object is required"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        let field = match msg.split('`').nth(1) {
            Some(name) if msg.starts_with("missing field") => {
                if path == "." {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                }
            }
            _ if path != "." && !path.is_empty() => path,
            _ => "body".to_owned(),
        };
        let why = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
        AppError::malformed(&field, &why)
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<App>>()
            .map_or(64 * 1024, |a| a.config.body_limit);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit) {
                return Err(AppError::TooLarge { limit });
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| AppError::malformed("body", "could not be read"))?;
                if body.len() + chunk.len() > limit {
                    return Err(AppError::TooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body).map(JsonBody)
        })
    }
}

/// The caller's IP address (licd terminates TLS itself, so the peer is the caller).
pub struct ClientIp(pub IpAddr);

impl FromRequest for ClientIp {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ip = req
            .peer_addr()
            .map_or(IpAddr::from([127, 0, 0, 1]), |a| a.ip());
        std::future::ready(Ok(ClientIp(ip)))
    }
}

/// The language the caller asked for.
pub struct ReqLang(pub Lang);

impl FromRequest for ReqLang {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(ReqLang(Lang::from_accept_language(
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        ))))
    }
}

/// A caller of the admin API, authenticated by `Authorization: Bearer TOKEN`.
pub struct Staff {
    pub token: Token,
}

impl Staff {
    pub fn require(&self, role: Role) -> AppResult<()> {
        if self.token.role >= role {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

impl FromRequest for Staff {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready((|| {
            let app = req
                .app_data::<web::Data<App>>()
                .ok_or_else(|| AppError::internal("app data missing"))?;
            let secret = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    let (scheme, rest) = v.trim().split_once(' ')?;
                    scheme
                        .eq_ignore_ascii_case("bearer")
                        .then(|| rest.trim().to_owned())
                })
                .filter(|s| !s.is_empty())
                .ok_or(AppError::Unauthorized)?;
            let tx = app.store.read()?;
            let token = auth::check_token(&tx, &secret)?.ok_or(AppError::Unauthorized)?;
            Ok(Staff { token })
        })())
    }
}
