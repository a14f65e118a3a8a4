//! License keys and License summary tabs.
use crate::service::holdings;
use crate::ui::report;
use crate::web::cabinet::Visitor;
use crate::web::{UiResult, html_page, page, t};
use actix_web::http::StatusCode;
use maud::html;

pub async fn keys(me: Visitor) -> UiResult {
    let l = me.lang;
    let keys = holdings::keys_of_client(&me.app, me.client.id).map_err(|e| me.err(e))?;
    let ctx = me.ctx("keys", None);
    let body = html! {
        h1 { (t(l, "License keys", "Лицензионные ключи")) }
        (report::keys::view(l, &keys))
    };
    Ok(html_page(
        StatusCode::OK,
        page(&ctx, t(l, "License keys", "Лицензионные ключи"), body),
    ))
}

pub async fn summary(me: Visitor) -> UiResult {
    let l = me.lang;
    let keys = holdings::keys_of_client(&me.app, me.client.id).map_err(|e| me.err(e))?;
    let rows = holdings::summarize(&me.app, &keys);
    let ctx = me.ctx("summary", None);
    let body = html! {
        h1 { (t(l, "License summary", "Сводка по лицензиям")) }
        p.muted { (t(l, "Every feature of every product across your keys. Click a “used” number to see who uses it now.",
                     "Все фичи всех продуктов по вашим ключам. Нажмите на число занятых, чтобы увидеть, кто их сейчас использует.")) }
        (report::summary::view(l, &rows, Some("/cabinet/sessions")))
    };
    Ok(html_page(
        StatusCode::OK,
        page(&ctx, t(l, "License summary", "Сводка по лицензиям"), body),
    ))
}

/// One key of the client (`/cabinet/keys/{regnum}`); another client's key is "not found".
pub async fn key(me: Visitor, path: actix_web::web::Path<String>) -> UiResult {
    let l = me.lang;
    let wanted = crate::domain::normalize_number(&path).unwrap_or_default();
    let keys = holdings::keys_of_client(&me.app, me.client.id).map_err(|e| me.err(e))?;
    let Some(k) = keys.into_iter().find(|k| k.regnum == wanted) else {
        return Err(me.not_found());
    };
    let ctx = me.ctx("keys", None);
    let body = html! {
        p { a href="/cabinet/keys" { "← " (t(l, "All keys", "Все ключи")) } }
        (report::keys::view(l, std::slice::from_ref(&k)))
    };
    Ok(html_page(StatusCode::OK, page(&ctx, &k.regnum, body)))
}
