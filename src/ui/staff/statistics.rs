//! Statistics across clients: captures and denials per day per product and feature, and
//! the clients with the most denials. Read from the rollups, so a year of 100,000 keys
//! stays fast (BENCHMARKS.md). A distributor sees only its own clients.
use crate::domain::Role;
use crate::service::{clients, stats};
use crate::ui::report;
use crate::web::{Me, UiResult, html_page, page, select, t};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::html;

/// Clients listed by denials.
const TOP: usize = 20;

fn get<'a>(q: &'a [(String, String)], k: &str) -> &'a str {
    q.iter().find(|(n, _)| n == k).map_or("", |(_, v)| v.trim())
}

/// The series the page shows: all clients from the rollup, or a distributor's own.
fn series_for(
    me: &Me,
    tx: &redb::ReadTransaction,
    range: crate::domain::days::DayRange,
    filter: &stats::SeriesFilter,
) -> crate::error::AppResult<stats::Series> {
    if me.user.role == Role::Distributor {
        let mut regnums = Vec::new();
        for id in clients::ids_by_distributor(tx, &me.user.distributor)? {
            regnums.extend(clients::keys_of(tx, id)?);
        }
        let mut s = stats::key_series(tx, &regnums, range)?;
        let allowed: Option<Vec<u32>> = match &filter.product {
            Some(code) => Some(
                crate::service::products::by_code(tx, code)?
                    .map(|p| p.features.iter().map(|f| f.number).collect())
                    .unwrap_or_default(),
            ),
            None => None,
        };
        let keep = |f: u32| {
            filter.feature.is_none_or(|x| x == f) && allowed.as_ref().is_none_or(|a| a.contains(&f))
        };
        s.features.retain(|f| keep(f.number));
        s.rows.retain(|r| keep(r.feature));
        Ok(s)
    } else {
        Ok(stats::global_series(tx, range, filter)?)
    }
}

fn filter_of(q: &[(String, String)]) -> stats::SeriesFilter {
    stats::SeriesFilter {
        product: Some(get(q, "product").to_owned()).filter(|s| !s.is_empty()),
        feature: get(q, "feature").parse().ok(),
    }
}

pub async fn page_all(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    let l = me.lang;
    let today = stats::today(&me.app);
    let (range, bad) = report::statistics::range_of(&q, today);
    let filter = filter_of(&q);
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let s = series_for(&me, &tx, range, &filter).map_err(|e| me.err(e))?;
    let mut top = stats::top_clients(
        &tx,
        range,
        if me.user.role == Role::Distributor {
            100_000
        } else {
            TOP
        },
    )
    .map_err(|e| me.err(e))?;
    if me.user.role == Role::Distributor {
        let mine = clients::ids_by_distributor(&tx, &me.user.distributor).map_err(|e| me.err(e))?;
        top.retain(|c| mine.binary_search(&c.client_id).is_ok());
        top.truncate(TOP);
    }
    let products = crate::service::products::list(&tx).map_err(|e| me.err(e))?;
    let features = stats::features(&tx).map_err(|e| me.err(e))?;
    let mut product_opts = vec![(String::new(), t(l, "— all —", "— все —").to_owned())];
    product_opts.extend(
        products
            .iter()
            .map(|p| (p.code.clone(), format!("{} · {}", p.code, p.name))),
    );
    let mut feature_opts = vec![(String::new(), t(l, "— all —", "— все —").to_owned())];
    feature_opts.extend(
        features
            .iter()
            .map(|f| (f.number.to_string(), format!("{} {}", f.number, f.name))),
    );
    let extra = format!(
        "{}{}",
        report::statistics::keep("product", get(&q, "product")),
        report::statistics::keep("feature", get(&q, "feature"))
    );
    let ctx = me.ctx("statistics", bad);
    let body = html! {
        h1 { (t(l, "Statistics", "Статистика")) }
        form.toolbar.card method="get" action="/statistics" {
            (select(t(l, "Product", "Продукт"), "product", get(&q, "product"), &product_opts))
            (select(t(l, "Feature", "Фича"), "feature", get(&q, "feature"), &feature_opts))
            input type="hidden" name="from" value=(range.from.to_string());
            input type="hidden" name="to" value=(range.to.to_string());
            button type="submit" { (t(l, "Filter", "Отобрать")) }
        }
        (report::statistics::picker(l, "/statistics", range, today, &extra))
        (report::statistics::view(l, &s, "/statistics.csv", "all"))
        section.card {
            h2 { (t(l, "Clients with the most denials", "Клиенты с наибольшим числом отказов")) }
            @if top.is_empty() {
                p.muted { (t(l, "No denials in this range.", "Отказов за этот период нет.")) }
            } @else {
                table.data.top {
                    thead { tr { th { (t(l, "Client", "Клиент")) } th.num { (t(l, "Denials", "Отказы")) } th {} } }
                    tbody {
                        @for c in &top {
                            tr {
                                td { a href=(format!("/clients/{}", c.client_id)) { @if c.company.is_empty() { "#" (c.client_id) } @else { (c.company) } } }
                                td.num { (c.denials) }
                                td { a href=(format!("/clients/{}/problems", c.client_id)) { (t(l, "Problems", "Проблемы")) } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        page(&ctx, t(l, "Statistics", "Статистика"), body),
    ))
}

pub async fn csv(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    let (range, _) = report::statistics::range_of(&q, stats::today(&me.app));
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let s = series_for(&me, &tx, range, &filter_of(&q)).map_err(|e| me.err(e))?;
    Ok(super::client_reports::csv_download(
        &format!("statistics-{}-{}.csv", range.from, range.to),
        stats::series_csv(&s.rows),
    ))
}
