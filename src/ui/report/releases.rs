//! A release as clients and staff read it: version, channel, date, the changelog
//! rendered from Markdown (sanitised), the file's name, size and SHA-256 beside the
//! download button; and the filter bar of a release list.
use crate::domain::release::{Channel, Release};
use crate::i18n::Lang;
use crate::service::releases::ReleaseFilter;
use crate::web::components::bytes;
use crate::web::{markdown, t, when_t};
use maud::{Markup, html};

/// The channel's name with its meaning.
pub fn channel_name(l: Lang, c: Channel) -> &'static str {
    match c {
        Channel::Stable => t(l, "stable", "стабильный"),
        Channel::Rc => t(l, "release candidate", "кандидат в релиз"),
        Channel::Beta => t(l, "beta", "бета"),
        Channel::Alpha => t(l, "alpha", "альфа"),
        Channel::Dev => t(l, "dev", "разработка"),
    }
}

/// One release; `download` is the file's link, `open` shows the changelog unfolded.
pub fn card(l: Lang, r: &Release, download: &str, open: bool) -> Markup {
    html! {
        article.card.release id=(format!("release-{}", r.id)) data-release=(r.id) {
            div.head-row {
                h2 {
                    span.product { (r.product) } " " span.version.mono { (r.version) } " "
                    span.badge.channel.ok[r.channel == Channel::Stable] { (channel_name(l, r.channel)) }
                    @if r.yanked_at.is_some() { " " span.badge.bad { (t(l, "unpublished", "снят с публикации")) } }
                }
                span.muted { (t(l, "Published", "Опубликован")) " " time datetime=(crate::clock::rfc3339(r.published_at)) { (when_t(r.published_at)) } }
            }
            details.changelog open[open] {
                summary { (t(l, "What's new", "Что нового")) }
                div.markdown {
                    @if r.changelog.trim().is_empty() {
                        p.muted { (t(l, "No changelog.", "Описание изменений не задано.")) }
                    } @else {
                        (markdown::render(&r.changelog))
                    }
                }
            }
            div.file {
                a.button.download href=(download) download=(r.filename) { (t(l, "Download", "Скачать")) }
                " "
                span.filename.mono { (r.filename) }
                " · "
                span.size title=(format!("{} {}", r.size, t(l, "bytes", "байт"))) { (bytes(r.size)) }
                div.muted.sha {
                    "SHA-256: " code.sha256 { (r.sha256) }
                }
            }
        }
    }
}

/// The filter bar; `products` are the codes to choose from.
pub fn filters(l: Lang, path: &str, f: &ReleaseFilter, products: &[String]) -> Markup {
    let chosen = f.product.as_deref().unwrap_or("");
    html! {
        form.toolbar.card method="get" action=(path) role="search" {
            label.field {
                span.label { (t(l, "Product", "Продукт")) }
                select name="product" {
                    option value="" { (t(l, "— all —", "— все —")) }
                    @for p in products {
                        option value=(p) selected[p.eq_ignore_ascii_case(chosen)] { (p) }
                    }
                }
            }
            label.field {
                span.label { (t(l, "Channel", "Канал")) }
                select name="channel" {
                    option value="" { (t(l, "— all —", "— все —")) }
                    @for c in Channel::ALL {
                        option value=(c.as_str()) selected[f.channel == Some(c)] { (channel_name(l, c)) }
                    }
                }
            }
            label.field {
                span.label { (t(l, "Version contains", "Версия содержит")) }
                input type="search" name="version" value=(f.version.as_deref().unwrap_or("")) maxlength="64";
            }
            label.field { span.label { (t(l, "From", "С")) } input type="date" name="from" value=(f.from.map(|d| d.to_string()).unwrap_or_default()); }
            label.field { span.label { (t(l, "To", "По")) } input type="date" name="to" value=(f.to.map(|d| d.to_string()).unwrap_or_default()); }
            button type="submit" { (t(l, "Show", "Показать")) }
            @if f.any() { a.button.ghost href=(path) { (t(l, "Reset", "Сбросить")) } }
        }
    }
}

/// The filters of a query (`?product=&channel=&version=&from=&to=`); what does not parse
/// is ignored.
pub fn filter_of(q: &[(String, String)]) -> ReleaseFilter {
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let day = |k: &str| {
        get(k)
            .and_then(crate::domain::days::Day::parse)
            .map(|d| d.date())
    };
    ReleaseFilter {
        product: get("product").map(str::to_owned),
        channel: get("channel").and_then(Channel::parse),
        version: get("version").map(|v| v.chars().take(64).collect()),
        from: day("from"),
        to: day("to"),
    }
}
