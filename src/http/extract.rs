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
    // Every body is an object (serde would also read a struct from an array).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(AppError::malformed("body", "a JSON object is required"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let first = serde_path_to_error::deserialize(de);
    // JSON has one number type: `708.0` is the integer 708 (JSON Schema says so too), but
    // serde refuses a float for an integer field. Only on that refusal is the body read
    // again with such numbers made integers, so the usual path pays nothing.
    let result = match first {
        Err(e) if e.inner().to_string().contains("floating point") => {
            match serde_json::from_slice::<serde_json::Value>(bytes) {
                Ok(mut v) => {
                    if integral_floats(&mut v) {
                        serde_path_to_error::deserialize(v)
                    } else {
                        Err(e)
                    }
                }
                Err(_) => Err(e),
            }
        }
        r => r,
    };
    result.map_err(|e| {
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

/// Turns every float with no fractional part that fits an integer into that integer;
/// answers whether any changed.
fn integral_floats(v: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            let whole = f.fract() == 0.0;
            if whole && f >= 0.0 && f <= u64::MAX as f64 {
                *v = Value::from(f as u64);
                true
            } else if whole && f < 0.0 && f >= i64::MIN as f64 {
                *v = Value::from(f as i64);
                true
            } else {
                false
            }
        }
        Value::Array(a) => a.iter_mut().fold(false, |c, x| integral_floats(x) | c),
        Value::Object(m) => m.values_mut().fold(false, |c, x| integral_floats(x) | c),
        _ => false,
    }
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
