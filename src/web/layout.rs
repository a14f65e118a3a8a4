//! The page around every screen, for both audiences: staff (the back office's menu) and
//! clients (the cabinet's tabs). No JavaScript; styles and icons are embedded
//! (`assets/`). Every text is given in English and Russian at its use (`t(l, en, ru)`).

use super::components::csrf_field;
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
    /// A client signed in to the cabinet (then `user` is `None`).
    pub client: Option<CabinetWho>,
    /// The start page of the page's audience (`/` or `/cabinet`).
    pub home: &'static str,
}

/// Who is signed in to the cabinet, as its header shows it.
#[derive(Clone, Debug)]
pub struct CabinetWho {
    pub company: String,
    /// The registration number signed in with.
    pub regnum: String,
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
        key: "statistics",
        href: "/statistics",
        en: "Statistics",
        ru: "Статистика",
        min: Role::Distributor,
    },
    NavItem {
        key: "problems",
        href: "/problems",
        en: "Problems",
        ru: "Проблемы",
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
        key: "releases",
        href: "/releases",
        en: "Releases",
        ru: "Релизы",
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
        key: "outbox",
        href: "/outbox",
        en: "Mail",
        ru: "Почта",
        min: Role::Admin,
    },
    NavItem {
        key: "system",
        href: "/system",
        en: "System",
        ru: "Система",
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

/// The cabinet's tabs (seed 000), in its order.
pub const CABINET_TABS: &[(&str, &str, &str, &str)] = &[
    (
        "statistics",
        "/cabinet/statistics",
        "Statistics",
        "Статистика",
    ),
    (
        "keys",
        "/cabinet/keys",
        "License keys",
        "Лицензионные ключи",
    ),
    (
        "summary",
        "/cabinet/summary",
        "License summary",
        "Сводка по лицензиям",
    ),
    ("problems", "/cabinet/problems", "Problems", "Проблемы"),
    (
        "sessions",
        "/cabinet/sessions",
        "Session monitor",
        "Монитор сессий",
    ),
    (
        "distributions",
        "/cabinet/distributions",
        "Program distributions",
        "Дистрибутивы программ",
    ),
    ("settings", "/cabinet/settings", "Settings", "Настройки"),
];

/// The header's RU / EN switch (GET pages only) and the sign-out button.
fn switch_and_sign_out(ctx: &Ctx, lang_action: &str, logout_action: &str) -> Markup {
    let l = ctx.lang;
    html! {
        @if !ctx.back.is_empty() {
            form method="post" action=(lang_action) {
                (csrf_field(ctx))
                input type="hidden" name="back" value=(ctx.back);
                @match l {
                    Lang::En => { button.link type="submit" name="lang" value="ru" lang="ru" title="Русский" { "RU" } }
                    Lang::Ru => { button.link type="submit" name="lang" value="en" lang="en" title="English" { "EN" } }
                }
            }
        }
        form method="post" action=(logout_action) {
            (csrf_field(ctx))
            button.link type="submit" { (t(l, "Sign out", "Выйти")) }
        }
    }
}

/// Where the start page of the page's audience is.
pub fn home(ctx: &Ctx) -> &'static str {
    ctx.home
}

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
                    a.brand href=(home(ctx)) {
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
                            (switch_and_sign_out(ctx, "/account/lang", "/logout"))
                        }
                    }
                    @if let Some(c) = &ctx.client {
                        nav.main aria-label=(t(l, "Cabinet", "Личный кабинет")) {
                            @for (key, href, en, ru) in CABINET_TABS {
                                a.current[ctx.nav == *key] href=(href) { (t(l, en, ru)) }
                            }
                        }
                        div.me {
                            span title=(c.regnum) { (c.company) }
                            (switch_and_sign_out(ctx, "/cabinet/lang", "/cabinet/logout"))
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

/// A bare page for errors and sign-in, without navigation.
pub fn message_page(ctx: &Ctx, title: &str, text: &str) -> Markup {
    page(
        ctx,
        title,
        html! {
            section.card.narrow {
                h1 { (title) }
                p { (text) }
                p { a.button href=(home(ctx)) { (t(ctx.lang, "Go to the start page", "На главную")) } }
            }
        },
    )
}
