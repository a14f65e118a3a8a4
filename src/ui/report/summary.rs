//! License summary (seed 000): every feature of every product across the client's keys,
//! total / used / free; the "used" number opens the session monitor on that feature.
use crate::i18n::Lang;
use crate::service::holdings::SummaryRow;
use crate::web::t;
use maud::{Markup, html};

/// `sessions` is the session monitor's path (`…/sessions`), or `None` where the viewer
/// has none.
pub fn view(l: Lang, rows: &[SummaryRow], sessions: Option<&str>) -> Markup {
    html! {
        @if rows.is_empty() {
            p.muted { (t(l, "No features yet.", "Фич пока нет.")) }
        } @else {
            table.data.summary {
                thead { tr {
                    th { (t(l, "Product", "Продукт")) }
                    th.num { (t(l, "Feature", "Фича")) }
                    th { (t(l, "Name", "Название")) }
                    th.num { (t(l, "Total", "Всего")) }
                    th.num { (t(l, "Used", "Занято")) }
                    th.num { (t(l, "Free", "Свободно")) }
                } }
                tbody {
                    @for r in rows {
                        tr {
                            td { (r.product) @if !r.product_name.is_empty() { " · " span.muted { (r.product_name) } } }
                            td.num { (r.feature) }
                            td { (r.name) }
                            td.num { (r.seats) }
                            td.num {
                                @match sessions {
                                    Some(s) => {
                                        a.used href=(format!("{s}{}feature={}", if s.contains('?') { '&' } else { '?' }, r.feature))
                                            title=(t(l, "Who uses it now", "Кто сейчас использует")) { (r.used) }
                                    }
                                    None => { (r.used) }
                                }
                            }
                            td.num.free[r.free == 0 && r.seats > 0] { (r.free) }
                        }
                    }
                }
            }
        }
    }
}
