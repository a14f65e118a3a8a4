//! A client's Statistics, License summary and Problems on its card: the very views the
//! client sees in its cabinet (`ui::report`), for any client the staff member may see.
use super::clients::load_visible;
use crate::i18n::Lang;
use crate::service::{holdings, stats};
use crate::ui::report;
use crate::web::{Me, UiResult, html_page, page, t};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};

/// The card's tabs.
pub fn tabs(l: Lang, id: u64, current: &str) -> Markup {
    let items = [
        ("card", format!("/clients/{id}"), t(l, "Card", "Карточка")),
        (
            "statistics",
            format!("/clients/{id}/statistics"),
            t(l, "Statistics", "Статистика"),
        ),
        (
            "summary",
            format!("/clients/{id}/summary"),
            t(l, "License summary", "Сводка по лицензиям"),
        ),
        (
            "problems",
            format!("/clients/{id}/problems"),
            t(l, "Problems", "Проблемы"),
        ),
    ];
    html! {
        nav.tabs aria-label=(t(l, "Client", "Клиент")) {
            @for (key, href, text) in &items {
                a.current[*key == current] href=(href) aria-current=[(*key == current).then_some("page")] { (text) }
            }
        }
    }
}

pub async fn statistics(
    me: Me,
    path: web::Path<u64>,
    q: web::Query<Vec<(String, String)>>,
) -> UiResult {
    let l = me.lang;
    let id = path.into_inner();
    let c = load_visible(&me, id)?;
    let today = stats::today(&me.app);
    let (range, bad) = report::statistics::range_of(&q, today);
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let s = stats::client_series(&tx, id, range).map_err(|e| me.err(e))?;
    let base = format!("/clients/{id}/statistics");
    let ctx = me.ctx("clients", bad);
    let body = html! {
        (tabs(l, id, "statistics"))
        h1 { (c.company) ": " (t(l, "statistics", "статистика")) }
        (report::statistics::picker(l, &base, range, today, ""))
        (report::statistics::view(l, &s, &format!("{base}.csv"), "client"))
    };
    Ok(html_page(StatusCode::OK, page(&ctx, &c.company, body)))
}

pub async fn statistics_csv(
    me: Me,
    path: web::Path<u64>,
    q: web::Query<Vec<(String, String)>>,
) -> UiResult {
    let id = path.into_inner();
    load_visible(&me, id)?;
    let (range, _) = report::statistics::range_of(&q, stats::today(&me.app));
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let s = stats::client_series(&tx, id, range).map_err(|e| me.err(e))?;
    Ok(csv_download(
        &format!("client-{id}-{}-{}.csv", range.from, range.to),
        stats::series_csv(&s.rows),
    ))
}

/// A CSV file to download.
pub fn csv_download(name: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(body)
}

pub async fn summary(me: Me, path: web::Path<u64>) -> UiResult {
    let l = me.lang;
    let id = path.into_inner();
    let c = load_visible(&me, id)?;
    let keys = holdings::keys_of_client(&me.app, id).map_err(|e| me.err(e))?;
    let rows = holdings::summarize(&me.app, &keys);
    let ctx = me.ctx("clients", None);
    let sessions = format!("/sessions?client={id}");
    let body = html! {
        (tabs(l, id, "summary"))
        h1 { (c.company) ": " (t(l, "license summary", "сводка по лицензиям")) }
        (report::summary::view(l, &rows, Some(&sessions)))
        h2 { (t(l, "License keys", "Лицензионные ключи")) }
        (report::keys::view(l, &keys))
    };
    Ok(html_page(StatusCode::OK, page(&ctx, &c.company, body)))
}

pub async fn problems(
    me: Me,
    path: web::Path<u64>,
    q: web::Query<Vec<(String, String)>>,
) -> UiResult {
    let l = me.lang;
    let id = path.into_inner();
    let c = load_visible(&me, id)?;
    let (mut filter, pg) = report::problems::query_of(&q);
    filter.client = None;
    filter.distributor = None;
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let regnums = crate::service::clients::keys_of(&tx, id).map_err(|e| me.err(e))?;
    let found = stats::key_denials(&tx, &regnums, &filter, pg).map_err(|e| me.err(e))?;
    let features = stats::features(&tx).map_err(|e| me.err(e))?;
    let base = format!("/clients/{id}/problems");
    let ctx = me.ctx("clients", None);
    let body = html! {
        (tabs(l, id, "problems"))
        h1 { (c.company) ": " (t(l, "problems", "проблемы")) }
        (report::problems::filters(l, &base, &filter, &features, html! {}))
        (report::problems::view(l, &base, &filter, &found, None))
    };
    Ok(html_page(StatusCode::OK, page(&ctx, &c.company, body)))
}
