//! The client's self-service cabinet (seed 000): sign-in, then the tabs Statistics,
//! License keys, License summary, Problems, Session monitor, Program distributions and
//! Settings. A client sees only its own keys; every page reads through services.
pub mod auth;
pub mod distributions;
pub mod holdings;
pub mod problems;
pub mod sessions;
pub mod settings;
pub mod statistics;

use crate::web::cabinet::Visitor;
use crate::web::{UiResult, see_other};
use actix_web::HttpRequest;

/// `/cabinet`: the first tab, or the sign-in.
pub async fn root(req: HttpRequest) -> UiResult {
    use actix_web::FromRequest;
    let signed_in = Visitor::extract(&req).await.is_ok();
    Ok(see_other(if signed_in {
        "/cabinet/statistics"
    } else {
        "/cabinet/login"
    }))
}

/// A page of the cabinet that does not exist.
pub async fn not_found(req: HttpRequest) -> UiResult {
    use actix_web::FromRequest;
    match Visitor::extract(&req).await {
        Ok(me) => Err(me.not_found()),
        Err(_) => Err(crate::web::UiError::NotFound(crate::web::browser_lang(
            &req,
        ))),
    }
}

/// The value of a query parameter, trimmed ("" when absent).
pub fn query<'a>(q: &'a [(String, String)], k: &str) -> &'a str {
    q.iter().find(|(n, _)| n == k).map_or("", |(_, v)| v.trim())
}
