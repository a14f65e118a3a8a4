//! Statistics tab: the client's captures, peaks against seats owned, and denials.
use crate::service::stats;
use crate::ui::report;
use crate::web::cabinet::Visitor;
use crate::web::{UiResult, html_page, page, t};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::html;

pub async fn show(me: Visitor, q: web::Query<Vec<(String, String)>>) -> UiResult {
    let l = me.lang;
    let today = stats::today(&me.app);
    let (range, bad) = report::statistics::range_of(&q, today);
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let s = stats::client_series(&tx, me.client.id, range).map_err(|e| me.err(e))?;
    let ctx = me.ctx("statistics", bad);
    let body = html! {
        h1 { (t(l, "License usage statistics", "Статистика использования лицензий")) }
        (report::statistics::picker(l, "/cabinet/statistics", range, today, ""))
        (report::statistics::view(l, &s, "/cabinet/statistics.csv", "cabinet"))
    };
    Ok(html_page(
        StatusCode::OK,
        page(&ctx, t(l, "Statistics", "Статистика"), body),
    ))
}

pub async fn csv(me: Visitor, q: web::Query<Vec<(String, String)>>) -> UiResult {
    let (range, _) = report::statistics::range_of(&q, stats::today(&me.app));
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let s = stats::client_series(&tx, me.client.id, range).map_err(|e| me.err(e))?;
    Ok(crate::ui::staff::client_reports::csv_download(
        &format!("statistics-{}-{}.csv", range.from, range.to),
        stats::series_csv(&s.rows),
    ))
}
