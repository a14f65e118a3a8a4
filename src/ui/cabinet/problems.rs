//! Problems tab: the client's refused captures and what to do about them.
use crate::service::{clients, stats};
use crate::ui::report;
use crate::web::cabinet::Visitor;
use crate::web::{UiResult, html_page, page, t};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::html;

pub async fn show(me: Visitor, q: web::Query<Vec<(String, String)>>) -> UiResult {
    let l = me.lang;
    let (mut filter, pg) = report::problems::query_of(&q);
    // Only ever the client's own keys, whatever the query says.
    filter.client = None;
    filter.distributor = None;
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let regnums = clients::keys_of(&tx, me.client.id).map_err(|e| me.err(e))?;
    let found = stats::key_denials(&tx, &regnums, &filter, pg).map_err(|e| me.err(e))?;
    let features = stats::features(&tx).map_err(|e| me.err(e))?;
    let ctx = me.ctx("problems", None);
    let body = html! {
        h1 { (t(l, "Problems", "Проблемы")) }
        (report::problems::filters(l, "/cabinet/problems", &filter, &features, html! {}))
        (report::problems::view(l, "/cabinet/problems", &filter, &found, None))
    };
    Ok(html_page(
        StatusCode::OK,
        page(&ctx, t(l, "Problems", "Проблемы"), body),
    ))
}
