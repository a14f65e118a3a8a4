//! The vendor's back office, rendered on the server with maud: the layout, small
//! components, and one module per screen. No JavaScript; styles and icons are embedded
//! (`assets/`). Every text is given in English and Russian at its use (`t(l, en, ru)`).
pub mod admin;
pub mod auth;
pub mod clients;
pub mod coupons;
pub mod keys;
pub mod sessions;

use crate::domain::{Role, User};
use crate::i18n::Lang;
use maud::{DOCTYPE, Markup, html};

pub const CSS: &str = include_str!("../../assets/app.css");
pub const LOGO_SVG: &str = include_str!("../../assets/logo.svg");

/// The two-language text picker used by every page.
pub fn t(l: Lang, en: &'static str, ru: &'static str) -> &'static str {
    match l {
        Lang::En => en,
        Lang::Ru => ru,
    }
}

/// Who is looking at a page and what it needs for forms.
pub struct Ctx {
    pub lang: Lang,
    pub user: Option<User>,
    pub csrf: String,
    pub vendor: String,
    /// Which nav item is current.
    pub nav: &'static str,
    /// A short message after a change (already translated).
    pub flash: Option<String>,
    /// This page's path (GET pages), to come back to after switching the language.
    pub back: String,
}

impl Ctx {
    pub fn role(&self) -> Option<Role> {
        self.user.as_ref().map(|u| u.role)
    }
    pub fn is(&self, r: Role) -> bool {
        self.role().is_some_and(|x| x >= r)
    }
}

struct NavItem {
    key: &'static str,
    href: &'static str,
    en: &'static str,
    ru: &'static str,
    min: Role,
}

const NAV: &[NavItem] = &[
    NavItem {
        key: "clients",
        href: "/clients",
        en: "Clients",
        ru: "Клиенты",
        min: Role::Distributor,
    },
    NavItem {
        key: "keys",
        href: "/keys",
        en: "Keys",
        ru: "Ключи",
        min: Role::Distributor,
    },
    NavItem {
        key: "coupons",
        href: "/coupons",
        en: "Coupons",
        ru: "Купоны",
        min: Role::Manager,
    },
    NavItem {
        key: "sessions",
        href: "/sessions",
        en: "Sessions",
        ru: "Сеансы",
        min: Role::Distributor,
    },
    NavItem {
        key: "products",
        href: "/products",
        en: "Products",
        ru: "Продукты",
        min: Role::Manager,
    },
    NavItem {
        key: "distributors",
        href: "/distributors",
        en: "Distributors",
        ru: "Дистрибьюторы",
        min: Role::Admin,
    },
    NavItem {
        key: "users",
        href: "/users",
        en: "Users",
        ru: "Пользователи",
        min: Role::Admin,
    },
    NavItem {
        key: "tokens",
        href: "/tokens",
        en: "API tokens",
        ru: "API-токены",
        min: Role::Admin,
    },
    NavItem {
        key: "settings",
        href: "/settings",
        en: "Settings",
        ru: "Настройки",
        min: Role::Admin,
    },
    NavItem {
        key: "audit",
        href: "/audit",
        en: "Audit log",
        ru: "Журнал",
        min: Role::Admin,
    },
];

/// The whole page around `body`.
pub fn page(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    let l = ctx.lang;
    html! {
        (DOCTYPE)
        html lang=(l.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (ctx.vendor) }
                link rel="stylesheet" href="/assets/app.css";
                link rel="icon" href="/assets/logo.svg" type="image/svg+xml";
            }
            body {
                header.top {
                    a.brand href="/" {
                        img src="/assets/logo.svg" alt="" width="22" height="22";
                        span { (ctx.vendor) }
                    }
                    @if let Some(u) = &ctx.user {
                        nav.main {
                            @for item in NAV.iter().filter(|i| u.role >= i.min) {
                                a.current[ctx.nav == item.key] href=(item.href) { (t(l, item.en, item.ru)) }
                            }
                        }
                        div.me {
                            a.current[ctx.nav == "account"] href="/account" title=(t(l, "My account", "Мой профиль")) {
                                (u.login) " · " span.role { (role_name(l, u.role)) }
                            }
                            @if !ctx.back.is_empty() {
                                form method="post" action="/account/lang" {
                                    (csrf_field(ctx))
                                    input type="hidden" name="back" value=(ctx.back);
                                    @match l {
                                        Lang::En => { button.link type="submit" name="lang" value="ru" lang="ru" title="Русский" { "RU" } }
                                        Lang::Ru => { button.link type="submit" name="lang" value="en" lang="en" title="English" { "EN" } }
                                    }
                                }
                            }
                            form method="post" action="/logout" {
                                (csrf_field(ctx))
                                button.link type="submit" { (t(l, "Sign out", "Выйти")) }
                            }
                        }
                    }
                }
                main {
                    @if let Some(f) = &ctx.flash {
                        p.flash role="status" { (f) }
                    }
                    (body)
                }
            }
        }
    }
}

pub fn role_name(l: Lang, r: Role) -> &'static str {
    match r {
        Role::Admin => t(l, "admin", "администратор"),
        Role::Manager => t(l, "manager", "менеджер"),
        Role::Distributor => t(l, "distributor", "дистрибьютор"),
    }
}

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

/// A bare page for errors and sign-in, without navigation.
pub fn message_page(ctx: &Ctx, title: &str, text: &str) -> Markup {
    page(
        ctx,
        title,
        html! {
            section.card.narrow {
                h1 { (title) }
                p { (text) }
                p { a.button href="/" { (t(ctx.lang, "Go to the start page", "На главную")) } }
            }
        },
    )
}
