//! License keys: each key, its products and features, seats, used, free, expiry, trial.
use crate::i18n::Lang;
use crate::service::holdings::KeyHolding;
use crate::web::{t, when, when_t};
use maud::{Markup, html};

pub fn view(l: Lang, keys: &[KeyHolding]) -> Markup {
    html! {
        @if keys.is_empty() {
            p.muted { (t(l, "No license keys yet.", "Лицензионных ключей пока нет.")) }
        }
        @for k in keys {
            section.card.key {
                h2 {
                    code.regnum { (k.regnum) }
                    @if k.blocked { " " span.badge.bad { (t(l, "blocked", "заблокирован")) } }
                }
                p.muted { (t(l, "Issued", "Выдан")) ": " (when_t(k.created_at)) }
                @if k.items.is_empty() {
                    p.muted { (t(l, "The key holds nothing yet.", "Ключ пока ничего не содержит.")) }
                } @else {
                    table.data {
                        thead { tr {
                            th { (t(l, "Product", "Продукт")) }
                            th.num { (t(l, "Feature", "Фича")) }
                            th { (t(l, "Name", "Название")) }
                            th.num { (t(l, "Seats", "Мест")) }
                            th.num { (t(l, "Used", "Занято")) }
                            th.num { (t(l, "Free", "Свободно")) }
                            th { (t(l, "Expires", "Действует до")) }
                            th { (t(l, "Trial", "Пробная")) }
                        } }
                        tbody {
                            @for i in &k.items {
                                tr {
                                    td { (i.product) }
                                    td.num { (i.feature) }
                                    td { (i.name) }
                                    td.num { (i.seats) }
                                    td.num { (i.used) }
                                    td.num { (i.free) }
                                    td { @match &i.expires_at {
                                        Some(e) => { (when(e)) @if i.seats == 0 { " " span.badge.bad { (t(l, "expired", "истёк")) } } }
                                        None => { (t(l, "no limit", "бессрочно")) }
                                    } }
                                    td { @if i.trial { span.badge { (t(l, "trial", "пробная")) } } @else { "—" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
