//! Signing in to the cabinet (API.md "Client cabinet"): a registration number with the
//! key's password or a mailed one-time code, or an activated coupon alone; the mailed
//! link that sets the first password (and a forgotten one); signing out.
use crate::i18n::Lang;
use crate::service::cabinet::{self, SignInError};
use crate::web::cabinet::{Visitor, VisitorPost, cabinet_cookie};
use crate::web::form::{pre_html, pre_token};
use crate::web::{
    Ctx, FieldErrors, PRE_COOKIE, PrePost, UiError, UiResult, csrf_field, field, secure_cookie,
    see_other, t,
};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use maud::{Markup, html};

const HOME: &str = "/cabinet";

fn wait_text(l: Lang, s: u64) -> String {
    match l {
        Lang::En => format!("Too many attempts. Try again in {s} s."),
        Lang::Ru => format!("Слишком много попыток. Повторите через {s} с."),
    }
}

fn login_markup(ctx: &Ctx, login: &str, alert: Option<&str>, note: Option<&str>) -> Markup {
    let l = ctx.lang;
    html! {
        h1 { (t(l, "Client cabinet", "Личный кабинет клиента")) }
        @if let Some(a) = alert { p.alert role="alert" { (a) } }
        @if let Some(n) = note { p.flash role="status" { (n) } }
        form.grid method="post" action="/cabinet/login" {
            (csrf_field(ctx))
            (field(t(l, "Registration number or coupon", "Регистрационный номер или купон"), "login", "text", login, &FieldErrors::new()))
            (field(t(l, "Password or one-time code (empty for a coupon)", "Пароль или одноразовый код (для купона — пусто)"), "password", "password", "", &FieldErrors::new()))
            div.actions { button type="submit" { (t(l, "Sign in", "Войти")) } }
        }
        details.more {
            summary { (t(l, "No password? Get a one-time code by e-mail", "Нет пароля? Получите одноразовый код на e-mail")) }
            form.grid method="post" action="/cabinet/code" {
                (csrf_field(ctx))
                (field(t(l, "Registration number", "Регистрационный номер"), "login", "text", login, &FieldErrors::new()))
                p.muted { (t(l, "An 8-digit code goes to the key's e-mail; it works once, for 15 minutes.",
                             "8-значный код придёт на e-mail ключа; он действует один раз, 15 минут.")) }
                div.actions { button.ghost type="submit" { (t(l, "Send the code", "Прислать код")) } }
            }
        }
        p { a href="/cabinet/password" { (t(l, "Set a password or reset a forgotten one", "Задать пароль или восстановить забытый")) } }
    }
}

fn login_page(
    l: Lang,
    status: StatusCode,
    token: Option<String>,
    login: &str,
    alert: Option<String>,
    note: Option<String>,
) -> HttpResponse {
    pre_html(
        HOME,
        l,
        status,
        t(l, "Client cabinet", "Личный кабинет клиента"),
        token,
        |ctx| login_markup(ctx, login, alert.as_deref(), note.as_deref()),
    )
}

pub async fn login_form(req: HttpRequest, q: web::Query<Vec<(String, String)>>) -> UiResult {
    if Visitor::extract(&req).await.is_ok() {
        return Ok(see_other("/cabinet/statistics"));
    }
    let l = crate::web::browser_lang(&req);
    let note = match super::query(&q, "done") {
        "password" => Some(
            t(
                l,
                "Your password is set. Sign in with it.",
                "Пароль задан. Войдите с ним.",
            )
            .to_owned(),
        ),
        "out" => Some(t(l, "You have signed out.", "Вы вышли из кабинета.").to_owned()),
        _ => None,
    };
    Ok(login_page(
        l,
        StatusCode::OK,
        pre_token(&req),
        "",
        None,
        note,
    ))
}

pub async fn login(p: PrePost) -> UiResult {
    let l = p.lang;
    let login = p.form.get("login").trim().to_owned();
    let r = cabinet::sign_in(&p.app, p.ip, &login, p.form.get("password"))
        .await
        .map_err(|e| UiError::App(e, l))?;
    match r {
        Ok((secret, _session)) => {
            let mut res = see_other("/cabinet/statistics");
            let _ = res.add_cookie(&cabinet_cookie(
                secret,
                cabinet::ABSOLUTE_LIFE.whole_seconds(),
            ));
            let _ = res.add_removal_cookie(&secure_cookie(PRE_COOKIE, String::new(), 0));
            Ok(res)
        }
        Err(SignInError::Wrong) => Ok(login_page(
            l,
            StatusCode::UNAUTHORIZED,
            Some(p.token.clone()),
            &login,
            Some(
                t(
                    l,
                    "Wrong registration number, password or code.",
                    "Неверный регистрационный номер, пароль или код.",
                )
                .to_owned(),
            ),
            None,
        )),
        Err(SignInError::Wait(s)) => Ok(wait_page(l, &p.token, &login, s)),
    }
}

/// The sign-in page with "try again in N s", as a 429 with `Retry-After`.
fn wait_page(l: Lang, token: &str, login: &str, s: u64) -> HttpResponse {
    let mut res = login_page(
        l,
        StatusCode::TOO_MANY_REQUESTS,
        Some(token.to_owned()),
        login,
        Some(wait_text(l, s)),
        None,
    );
    crate::web::retry_after(&mut res, s);
    res
}

/// Mails a one-time code. The answer is the same whether the number exists or not.
pub async fn request_code(p: PrePost) -> UiResult {
    let l = p.lang;
    let login = p.form.get("login").trim().to_owned();
    let r = cabinet::request_code(&p.app, p.ip, &login)
        .await
        .map_err(|e| UiError::App(e, l))?;
    Ok(match r {
        Ok(()) => login_page(
            l,
            StatusCode::OK,
            Some(p.token.clone()),
            &login,
            None,
            Some(
                t(
                    l,
                    "If this registration number is ours, a one-time code was sent to its e-mail. Enter it as the password.",
                    "Если такой регистрационный номер есть, одноразовый код отправлен на его e-mail. Введите его как пароль.",
                )
                .to_owned(),
            ),
        ),
        Err(s) => wait_page(l, &p.token, &login, s),
    })
}

fn link_request_markup(ctx: &Ctx, login: &str, alert: Option<&str>, note: Option<&str>) -> Markup {
    let l = ctx.lang;
    html! {
        h1 { (t(l, "Set or reset the password", "Задать или восстановить пароль")) }
        @if let Some(a) = alert { p.alert role="alert" { (a) } }
        @if let Some(n) = note { p.flash role="status" { (n) } }
        p.muted { (t(l, "We mail a link to the e-mail of the key. It works once, for 24 hours.",
                     "Мы отправим ссылку на e-mail ключа. Она действует один раз, 24 часа.")) }
        form.grid method="post" action="/cabinet/password" {
            (csrf_field(ctx))
            (field(t(l, "Registration number", "Регистрационный номер"), "login", "text", login, &FieldErrors::new()))
            div.actions { button type="submit" { (t(l, "Send the link", "Отправить ссылку")) } }
        }
        p { a href="/cabinet/login" { "← " (t(l, "Back to sign-in", "Назад ко входу")) } }
    }
}

pub async fn link_form(req: HttpRequest) -> UiResult {
    let l = crate::web::browser_lang(&req);
    Ok(pre_html(
        HOME,
        l,
        StatusCode::OK,
        t(l, "Password", "Пароль"),
        pre_token(&req),
        |ctx| link_request_markup(ctx, "", None, None),
    ))
}

pub async fn request_link(p: PrePost) -> UiResult {
    let l = p.lang;
    let login = p.form.get("login").trim().to_owned();
    let r = cabinet::request_password_link(&p.app, p.ip, &login)
        .await
        .map_err(|e| UiError::App(e, l))?;
    let wait = r.err();
    let (status, alert, note) = match r {
        Ok(()) => (
            StatusCode::OK,
            None,
            Some(t(
                l,
                "If this registration number is ours, a link was sent to its e-mail.",
                "Если такой регистрационный номер есть, ссылка отправлена на его e-mail.",
            )),
        ),
        Err(s) => (StatusCode::TOO_MANY_REQUESTS, Some(wait_text(l, s)), None),
    };
    let mut res = pre_html(
        HOME,
        l,
        status,
        t(l, "Password", "Пароль"),
        Some(p.token.clone()),
        |ctx| link_request_markup(ctx, &login, alert.as_deref(), note),
    );
    if let Some(s) = wait {
        crate::web::retry_after(&mut res, s);
    }
    Ok(res)
}

fn set_markup(ctx: &Ctx, token: &str, errors: &FieldErrors) -> Markup {
    let l = ctx.lang;
    html! {
        h1 { (t(l, "Choose a cabinet password", "Задайте пароль кабинета")) }
        form.grid method="post" action=(format!("/cabinet/password/{token}")) {
            (csrf_field(ctx))
            (field(t(l, "New password (at least 10 characters)", "Новый пароль (не короче 10 символов)"), "password", "password", "", errors))
            (field(t(l, "Password again", "Пароль ещё раз"), "password2", "password", "", errors))
            div.actions { button type="submit" { (t(l, "Set the password", "Задать пароль")) } }
        }
    }
}

fn dead_link(l: Lang) -> UiError {
    UiError::App(
        crate::error::AppError::NotFound {
            what: "password link",
        },
        l,
    )
}

pub async fn set_form(req: HttpRequest, path: web::Path<String>) -> UiResult {
    let l = crate::web::browser_lang(&req);
    let app = crate::web::app_of(&req)?;
    let token = path.into_inner();
    let tx = app.store.read().map_err(|e| UiError::App(e.into(), l))?;
    if !cabinet::password_link_valid(&app, &tx, &token).map_err(|e| UiError::App(e.into(), l))? {
        return Err(dead_link(l));
    }
    Ok(pre_html(
        HOME,
        l,
        StatusCode::OK,
        t(l, "Password", "Пароль"),
        pre_token(&req),
        |ctx| set_markup(ctx, &token, &FieldErrors::new()),
    ))
}

pub async fn set(p: PrePost, path: web::Path<String>) -> UiResult {
    let l = p.lang;
    let token = path.into_inner();
    let pw = p.form.get("password");
    let mut errors = FieldErrors::new();
    if pw != p.form.get("password2") {
        errors.insert(
            "password2".into(),
            t(l, "The two passwords differ", "Пароли не совпадают").into(),
        );
    } else {
        match cabinet::set_password_with_link(&p.app, &token, pw).await {
            Ok(()) => {
                let mut res = see_other("/cabinet/login?done=password");
                let _ = res.add_removal_cookie(&secure_cookie(PRE_COOKIE, String::new(), 0));
                return Ok(res);
            }
            Err(crate::error::AppError::Malformed(_)) => {
                errors.insert(
                    "password".into(),
                    t(l, "At least 10 characters", "Не короче 10 символов").into(),
                );
            }
            Err(crate::error::AppError::NotFound { .. }) => return Err(dead_link(l)),
            Err(e) => return Err(UiError::App(e, l)),
        }
    }
    Ok(pre_html(
        HOME,
        l,
        StatusCode::UNPROCESSABLE_ENTITY,
        t(l, "Password", "Пароль"),
        Some(p.token.clone()),
        |ctx| set_markup(ctx, &token, &errors),
    ))
}

pub async fn logout(p: VisitorPost) -> UiResult {
    cabinet::sign_out(&p.me.app, &p.me.secret)
        .await
        .map_err(|e| p.me.err(e))?;
    let mut res = see_other("/cabinet/login?done=out");
    let _ = res.add_removal_cookie(&cabinet_cookie(String::new(), 0));
    Ok(res)
}
