//! Small helpers for answers: cookies, redirects, HTML pages, the app and language of a
//! request.
use super::UiError;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::service::App;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

pub fn app_of(req: &HttpRequest) -> Result<web::Data<App>, UiError> {
    req.app_data::<web::Data<App>>()
        .cloned()
        .ok_or_else(|| UiError::App(AppError::internal("app data missing"), Lang::En))
}

/// The browser's language (before we know the user).
pub fn browser_lang(req: &HttpRequest) -> Lang {
    Lang::from_accept_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

pub fn secure_cookie<'a>(name: &'a str, value: String, max_age_s: i64) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_s))
        .finish()
}

/// Says on a 429 page when to try again (`Retry-After`, in seconds).
pub fn retry_after(res: &mut HttpResponse, seconds: u64) {
    if let Ok(v) = header::HeaderValue::from_str(&seconds.max(1).to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

/// 303 to `to` (after a POST).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

pub fn html_page(status: StatusCode, m: maud::Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(m.into_string())
}

/// The page's path and query when the request is a GET (where the header's language
/// switch comes back to); empty otherwise.
pub fn back_of(req: &HttpRequest) -> String {
    if req.method() == actix_web::http::Method::GET {
        req.uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default()
    } else {
        String::new()
    }
}

/// A saved language preference ("ru", "en"), else the browser's.
pub fn lang_or(pref: &str, browser: Lang) -> Lang {
    match pref {
        "ru" => Lang::Ru,
        "en" => Lang::En,
        _ => browser,
    }
}
