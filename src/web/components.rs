//! Small form and table components every screen uses.
use super::layout::Ctx;
use super::t;
use crate::i18n::Lang;
use maud::{Markup, html};

pub fn csrf_field(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.csrf); }
}

/// Errors of a form, by field name, already in the page's language.
pub type FieldErrors = std::collections::BTreeMap<String, String>;

/// A labelled text input that keeps what was typed and shows its error.
pub fn field(label: &str, name: &str, kind: &str, value: &str, errors: &FieldErrors) -> Markup {
    let err = errors.get(name);
    html! {
        label.field.invalid[err.is_some()] {
            span.label { (label) }
            input type=(kind) name=(name) value=(value) aria-invalid=[err.map(|_| "true")];
            @if let Some(e) = err { span.error { (e) } }
        }
    }
}

pub fn textarea(label: &str, name: &str, value: &str, errors: &FieldErrors) -> Markup {
    let err = errors.get(name);
    html! {
        label.field.wide.invalid[err.is_some()] {
            span.label { (label) }
            textarea name=(name) rows="3" { (value) }
            @if let Some(e) = err { span.error { (e) } }
        }
    }
}

pub fn select(label: &str, name: &str, value: &str, options: &[(String, String)]) -> Markup {
    html! {
        label.field {
            span.label { (label) }
            select name=(name) {
                @for (v, text) in options {
                    option value=(v) selected[v == value] { (text) }
                }
            }
        }
    }
}

/// "Shown a–b of n" with previous / next links; `href(offset)` makes a page's link.
pub fn pager(
    l: Lang,
    offset: usize,
    shown: usize,
    total: Option<usize>,
    more: bool,
    limit: usize,
    href: &dyn Fn(usize) -> String,
) -> Markup {
    html! {
        nav.pager {
            span.count {
                @if shown == 0 {
                    (t(l, "Nothing found", "Ничего не найдено"))
                } @else {
                    (offset + 1) "–" (offset + shown)
                    @if let Some(n) = total { " " (t(l, "of", "из")) " " (n) }
                }
            }
            @if offset > 0 {
                a.button.ghost href=(href(offset.saturating_sub(limit))) rel="prev" { "← " (t(l, "Previous", "Назад")) }
            }
            @if more {
                a.button.ghost href=(href(offset + limit)) rel="next" { (t(l, "Next", "Далее")) " →" }
            }
        }
    }
}

/// A date-time as staff read it: `2026-11-23 15:04` (UTC).
pub fn when(rfc: &str) -> String {
    rfc.replace('T', " ")
        .trim_end_matches('Z')
        .chars()
        .take(16)
        .collect()
}

pub fn when_t(t: time::OffsetDateTime) -> String {
    when(&crate::clock::rfc3339(t))
}

/// Percent-encodes a query or path component.
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A size as people read it: `812 B`, `3.4 MiB`.
pub fn bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}
