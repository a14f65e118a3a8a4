//! Session monitor tab (seed 000): the client's live sessions and its host, database and
//! user bindings; the client unbinds a host itself ("if settings inside the company
//! changed") and ends a session stuck on a crashed machine, within the vendor's limit
//! per feature per 30 days, shown beside the buttons.
use super::query;
use crate::domain::cabinet::Allowance;
use crate::i18n::Lang;
use crate::service::cabinet;
use crate::service::holdings;
use crate::web::cabinet::{Visitor, VisitorPost};
use crate::web::{Ctx, UiResult, csrf_field, html_page, page, see_other, t, when, when_t};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};
use std::collections::BTreeMap;

const ROWS: usize = 500;

fn allowance_text(l: Lang, a: &Allowance) -> String {
    if a.limit == 0 {
        return t(
            l,
            "Unbinding is done by the vendor for this product.",
            "Для этого продукта отвязку делает поставщик.",
        )
        .to_owned();
    }
    let mut s = match l {
        Lang::En => format!("{} of {} left for 30 days", a.left, a.limit),
        Lang::Ru => format!("осталось {} из {} на 30 дней", a.left, a.limit),
    };
    if a.left == 0
        && let Some(at) = a.next_free_at
    {
        s.push_str(&match l {
            Lang::En => format!("; the next one from {}", when_t(at)),
            Lang::Ru => format!("; следующая — с {}", when_t(at)),
        });
    }
    s
}

fn flash(l: Lang, q: &[(String, String)]) -> Option<String> {
    match query(q, "done") {
        "unbound" => Some(
            t(
                l,
                "The host was unbound; its seat is free.",
                "Хост отвязан, место свободно.",
            )
            .into(),
        ),
        "ended" => Some(
            t(
                l,
                "The session was ended; its seat is free.",
                "Сеанс завершён, место свободно.",
            )
            .into(),
        ),
        "nothing" => Some(
            t(
                l,
                "Nothing to unbind: it was already free.",
                "Отвязывать нечего: место уже свободно.",
            )
            .into(),
        ),
        _ => None,
    }
}

pub async fn show(me: Visitor, q: web::Query<Vec<(String, String)>>) -> UiResult {
    let l = me.lang;
    let feature: Option<u32> = query(&q, "feature").parse().ok();
    let keys = holdings::keys_of_client(&me.app, me.client.id).map_err(|e| me.err(e))?;
    let rows = holdings::sessions_of(&me.app, &keys, None, feature, ROWS).map_err(|e| me.err(e))?;
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let mut allowances: BTreeMap<(String, u32), Allowance> = BTreeMap::new();
    for r in &rows {
        let k = (r.regnum.clone(), r.feature);
        if let std::collections::btree_map::Entry::Vacant(v) = allowances.entry(k) {
            let a =
                cabinet::allowance(&me.app, &tx, &r.regnum, r.feature).map_err(|e| me.err(e))?;
            v.insert(a);
        }
    }
    let names: BTreeMap<u32, String> = keys
        .iter()
        .flat_map(|k| k.items.iter().map(|i| (i.feature, i.name.clone())))
        .collect();
    let ctx = me.ctx("sessions", flash(l, &q));
    let body = html! {
        h1 { (t(l, "Session monitor", "Монитор сессий")) }
        form.toolbar.card method="get" action="/cabinet/sessions" {
            label.field {
                span.label { (t(l, "Feature", "Фича")) }
                select name="feature" {
                    option value="" { (t(l, "— all —", "— все —")) }
                    @for (n, name) in &names {
                        option value=(n) selected[feature == Some(*n)] { (n) " " (name) }
                    }
                }
            }
            button type="submit" { (t(l, "Show", "Показать")) }
            @if feature.is_some() { a.button.ghost href="/cabinet/sessions" { (t(l, "All features", "Все фичи")) } }
        }
        (table(&ctx, &rows, &names, &allowances))
    };
    Ok(html_page(
        StatusCode::OK,
        page(&ctx, t(l, "Session monitor", "Монитор сессий"), body),
    ))
}

fn table(
    ctx: &Ctx,
    rows: &[crate::service::leases::LeaseView],
    names: &BTreeMap<u32, String>,
    allowances: &BTreeMap<(String, u32), Allowance>,
) -> Markup {
    let l = ctx.lang;
    html! {
        @if rows.is_empty() {
            p.muted.card { (t(l, "No sessions and no bindings now.", "Сейчас нет сеансов и привязок.")) }
        } @else {
            div.table-wrap { table.data.sessions {
                thead { tr {
                    th { (t(l, "Key", "Ключ")) }
                    th { (t(l, "Feature", "Фича")) }
                    th { (t(l, "Host", "Хост")) }
                    th { (t(l, "Database", "База")) }
                    th { (t(l, "User", "Пользователь")) }
                    th { (t(l, "App", "Программа")) }
                    th { (t(l, "Since", "С")) }
                    th { (t(l, "Until", "До")) }
                    th { (t(l, "Action", "Действие")) }
                } }
                tbody {
                    @for s in rows {
                        @let a = allowances.get(&(s.regnum.clone(), s.feature));
                        tr {
                            td { code.regnum { (s.regnum) } }
                            td { (s.feature) " " span.muted { (names.get(&s.feature).map(String::as_str).unwrap_or("")) }
                                 @if s.bound { " " span.badge { (t(l, "bound to host", "привязана к хосту")) } } }
                            td { (s.host) }
                            td { (s.database) }
                            td { (s.user) }
                            td { (s.app) " " (s.version) }
                            td { (when(&s.since)) }
                            td { @if s.expires_at.is_empty() { span.muted { (t(l, "idle binding", "привязка без сеанса")) } } @else { (when(&s.expires_at)) } }
                            td.actions {
                                @if let Some(a) = a {
                                    @let can = a.limit > 0 && a.left > 0;
                                    @if s.bound {
                                        form.inline method="post" action="/cabinet/sessions/unbind" {
                                            (csrf_field(ctx))
                                            input type="hidden" name="regnum" value=(s.regnum);
                                            input type="hidden" name="feature" value=(s.feature);
                                            input type="hidden" name="host" value=(s.host);
                                            button.small.danger type="submit" disabled[!can] { (t(l, "Unbind host", "Отвязать хост")) }
                                        }
                                    } @else if !s.lease.is_empty() {
                                        form.inline method="post" action="/cabinet/sessions/end" {
                                            (csrf_field(ctx))
                                            input type="hidden" name="lease" value=(s.lease);
                                            button.small.danger type="submit" disabled[!can] { (t(l, "End session", "Завершить сеанс")) }
                                        }
                                    }
                                    small.allowance { (allowance_text(l, a)) }
                                }
                            }
                        }
                    }
                }
            } }
        }
    }
}

/// What a refused self-service action says.
fn refusal(me: &Visitor, e: crate::error::AppError) -> crate::web::UiError {
    me.err(e)
}

pub async fn unbind(p: VisitorPost) -> UiResult {
    let me = &p.me;
    let feature: u32 = p.form.get("feature").trim().parse().map_err(|_| {
        me.err(crate::error::AppError::malformed(
            "feature",
            "a feature number",
        ))
    })?;
    let n = cabinet::unbind_host(
        &me.app.clone().into_inner(),
        &me.session,
        p.form.get("regnum"),
        feature,
        p.form.get("host"),
    )
    .await
    .map_err(|e| refusal(me, e))?;
    Ok(see_other(if n > 0 {
        "/cabinet/sessions?done=unbound"
    } else {
        "/cabinet/sessions?done=nothing"
    }))
}

pub async fn end(p: VisitorPost) -> UiResult {
    let me = &p.me;
    let ended = cabinet::end_lease(
        &me.app.clone().into_inner(),
        &me.session,
        p.form.get("lease"),
    )
    .await
    .map_err(|e| refusal(me, e))?;
    Ok(see_other(if ended {
        "/cabinet/sessions?done=ended"
    } else {
        "/cabinet/sessions?done=nothing"
    }))
}
