//! Program distributions tab (seed 000): the releases of the products the client's keys
//! hold, newest first, with filters by product, channel, version text and date; each with
//! its changelog and its file to download (counted against the client).
use crate::service::releases::{self, Downloader};
use crate::ui::report::releases as view;
use crate::web::cabinet::Visitor;
use crate::web::{UiResult, html_page, page, t};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

pub async fn show(me: Visitor, q: web::Query<Vec<(String, String)>>) -> UiResult {
    let l = me.lang;
    let filter = view::filter_of(&q);
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let all = releases::for_client(&tx, me.client.id, me.app.now()).map_err(|e| me.err(e))?;
    drop(tx);
    let mut products: Vec<String> = all.iter().map(|r| r.product.clone()).collect();
    products.sort_by_key(|p| p.to_lowercase());
    products.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    let shown: Vec<_> = all.iter().filter(|r| filter.matches(r)).collect();
    let ctx = me.ctx("distributions", None);
    let title = t(l, "Program distributions", "Дистрибутивы программ");
    let body = html! {
        h1 { (title) }
        @if all.is_empty() {
            section.card {
                p.muted { (t(l, "No releases of your products are published yet.",
                             "Релизы ваших продуктов пока не опубликованы.")) }
            }
        } @else {
            (view::filters(l, "/cabinet/distributions", &filter, &products))
            p.muted.count { (t(l, "Releases shown", "Показано релизов")) ": " (shown.len()) " / " (all.len()) }
            @if shown.is_empty() {
                p.muted { (t(l, "No release matches the filters.", "Ни один релиз не подходит под отбор.")) }
            }
            @for (i, r) in shown.iter().enumerate() {
                (view::card(l, r, &format!("/cabinet/distributions/{}/file", r.id), i == 0))
            }
        }
    };
    Ok(html_page(StatusCode::OK, page(&ctx, title, body)))
}

/// The file of a release the client may have (any of its keys entitled), counted.
pub async fn file(
    me: Visitor,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, crate::web::UiError> {
    let Ok(id) = id.parse::<u64>() else {
        return Err(me.not_found());
    };
    crate::http::release_file::download(&me.app, &req, id, Downloader::Client(me.client.id))
        .await
        .map_err(|e| me.err(e))
}
