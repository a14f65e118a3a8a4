//! Problems across clients: the newest refused captures, filtered by feature, code,
//! client and distributor, with what to do about each code. A distributor sees only its
//! own clients' problems.
use crate::domain::Role;
use crate::service::{distributors, stats};
use crate::ui::report;
use crate::web::{Me, UiResult, html_page, page, select, t};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::html;

pub async fn page_all(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    let l = me.lang;
    let (mut filter, pg) = report::problems::query_of(&q);
    if me.user.role == Role::Distributor {
        filter.distributor = Some(me.user.distributor.clone());
    }
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let found = stats::all_denials(&tx, &filter, pg).map_err(|e| me.err(e))?;
    let features = stats::features(&tx).map_err(|e| me.err(e))?;
    let mut dist_opts = vec![(String::new(), t(l, "— all —", "— все —").to_owned())];
    if me.user.role != Role::Distributor {
        for d in distributors::list(&tx).map_err(|e| me.err(e))? {
            dist_opts.push((d.code.clone(), format!("{} ({})", d.name, d.code)));
        }
    }
    let client_value = filter.client.map(|c| c.to_string()).unwrap_or_default();
    let extra = html! {
        label.field {
            span.label { (t(l, "Client id", "Ид клиента")) }
            input type="number" name="client" min="1" value=(client_value);
        }
        @if me.user.role != Role::Distributor {
            (select(t(l, "Distributor", "Дистрибьютор"), "distributor", filter.distributor.as_deref().unwrap_or(""), &dist_opts))
        }
    };
    let ctx = me.ctx("problems", None);
    let link = |id: u64| format!("/clients/{id}/problems");
    let body = html! {
        h1 { (t(l, "Problems", "Проблемы")) }
        (report::problems::filters(l, "/problems", &filter, &features, extra))
        (report::problems::view(l, "/problems", &filter, &found, Some(&link)))
    };
    Ok(html_page(
        StatusCode::OK,
        page(&ctx, t(l, "Problems", "Проблемы"), body),
    ))
}
