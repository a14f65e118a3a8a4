//! Problems (seed 000, seed 003's advice): the refused captures, newest first, with the
//! time, host, user, code and the reason in words, and what to do about each code.
use crate::domain::problems::CODES;
use crate::i18n::Lang;
use crate::service::stats::{self, Cursor, DenialFilter, DenialPage, FeatureInfo, Page};
use crate::web::{t, urlencode, when_t};
use maud::{Markup, html};

/// Rows per page.
pub const PAGE: usize = 50;

/// The filter and page a Problems page was asked for (`feature`, `code`, `before`).
pub fn query_of(q: &[(String, String)]) -> (DenialFilter, Page) {
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let filter = DenialFilter {
        feature: get("feature").and_then(|v| v.parse().ok()),
        code: get("code").and_then(|v| v.parse().ok()),
        client: get("client").and_then(|v| v.parse().ok()),
        distributor: get("distributor").map(str::to_owned),
    };
    let page = Page {
        limit: PAGE,
        before: get("before").and_then(|v| v.parse::<Cursor>().ok()),
    };
    (filter, page)
}

/// The query of `f` (for the next page's link), without `before`.
pub fn filter_query(f: &DenialFilter) -> String {
    let mut s = String::new();
    if let Some(v) = f.feature {
        s.push_str(&format!("&feature={v}"));
    }
    if let Some(v) = f.code {
        s.push_str(&format!("&code={v}"));
    }
    if let Some(v) = f.client {
        s.push_str(&format!("&client={v}"));
    }
    if let Some(v) = &f.distributor {
        s.push_str(&format!("&distributor={}", urlencode(v)));
    }
    s
}

/// The feature and code choosers. `extra` renders more fields (staff: client,
/// distributor).
pub fn filters(
    l: Lang,
    path: &str,
    f: &DenialFilter,
    features: &[FeatureInfo],
    extra: Markup,
) -> Markup {
    html! {
        form.toolbar.card method="get" action=(path) role="search" {
            label.field {
                span.label { (t(l, "Feature", "Фича")) }
                select name="feature" {
                    option value="" { (t(l, "— all —", "— все —")) }
                    @for x in features {
                        option value=(x.number) selected[f.feature == Some(x.number)] { (x.number) " " (x.name) }
                    }
                }
            }
            label.field {
                span.label { (t(l, "Code", "Код")) }
                select name="code" {
                    option value="" { (t(l, "— all —", "— все —")) }
                    @for c in [1021u32, 1030, 1031, 1032] {
                        option value=(c) selected[f.code == Some(c)] { (c) " · " (stats::reason(c, l)) }
                    }
                }
            }
            (extra)
            button type="submit" { (t(l, "Show", "Показать")) }
        }
    }
}

/// The denials and the advice. `client_link` makes the link of a client's card (staff
/// across clients), or `None` where the viewer is the client itself.
pub fn view(
    l: Lang,
    path: &str,
    f: &DenialFilter,
    page: &DenialPage,
    client_link: Option<&dyn Fn(u64) -> String>,
) -> Markup {
    let mut seen: Vec<u32> = page.rows.iter().map(|r| r.code).collect();
    seen.sort_unstable();
    seen.dedup();
    html! {
        @if page.rows.is_empty() {
            p.ok.card { (t(l, "No refused captures. Everything worked.", "Отказов нет — всё работало.")) }
        } @else {
            div.table-wrap { table.data.problems {
                thead { tr {
                    th { (t(l, "Time (UTC)", "Время (UTC)")) }
                    @if client_link.is_some() { th { (t(l, "Client", "Клиент")) } }
                    th { (t(l, "Key", "Ключ")) }
                    th { (t(l, "Feature", "Фича")) }
                    th { (t(l, "Host", "Хост")) }
                    th { (t(l, "User", "Пользователь")) }
                    th { (t(l, "Database", "База")) }
                    th.num { (t(l, "Code", "Код")) }
                    th { (t(l, "Reason", "Причина")) }
                } }
                tbody {
                    @for r in &page.rows {
                        tr {
                            td { (when_t(r.at)) }
                            @if let Some(link) = client_link {
                                td { @if r.client_id > 0 { a href=(link(r.client_id)) { (r.company) } } }
                            }
                            td { code.regnum { (r.regnum) } }
                            td { (r.feature) " " span.muted { (r.feature_name) } }
                            td { (r.host) }
                            td { (r.user) }
                            td { (r.database) }
                            td.num { span.badge.bad { (r.code) } }
                            td { (stats::reason(r.code, l)) }
                        }
                    }
                }
            } }
            @if let Some(next) = page.next {
                nav.pager {
                    a.button.ghost rel="next" href=(format!("{path}?before={next}{}", filter_query(f))) {
                        (t(l, "Older", "Раньше")) " →"
                    }
                }
            }
        }
        section.card.advice {
            h2 { (t(l, "What to do", "Что делать")) }
            dl {
                @for c in CODES.iter().filter(|c| seen.is_empty() || seen.contains(c) || (1011..=1014).contains(*c)) {
                    dt { span.badge.bad { (c) } " " (stats::reason(*c, l)) }
                    dd { (stats::advice(*c, l)) }
                }
            }
        }
    }
}
