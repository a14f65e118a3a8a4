//! The page of the mailed single-use link that sets a new staff user's password
//! (outside the signed-in area): the form, and a clear page once the link is used or
//! has expired.
use crate::i18n::Lang;
use crate::service::users;
use crate::web::form::{pre_html, pre_token};
use crate::web::{
    Ctx, FieldErrors, PRE_COOKIE, PrePost, UiError, UiResult, app_of, bare_ctx, browser_lang,
    csrf_field, field, html_page, message_page, secure_cookie, see_other, t,
};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};

fn set_markup(ctx: &Ctx, token: &str, login: &str, errors: &FieldErrors) -> Markup {
    let l = ctx.lang;
    html! {
        h1 { (t(l, "Set your password", "Задайте пароль")) }
        p.muted { (t(l, "Account", "Учётная запись")) ": " strong { (login) } }
        form.grid method="post" action=(format!("/password/{token}")) {
            (csrf_field(ctx))
            (field(t(l, "New password (at least 8 characters)", "Новый пароль (не короче 8 символов)"), "password", "password", "", errors))
            (field(t(l, "Password again", "Пароль ещё раз"), "password2", "password", "", errors))
            div.actions { button type="submit" { (t(l, "Set the password", "Задать пароль")) } }
        }
    }
}

/// The link is unknown, used or expired: say so, and what to do.
fn dead_link(l: Lang) -> HttpResponse {
    html_page(
        StatusCode::GONE,
        message_page(
            &bare_ctx(l),
            t(l, "This link no longer works", "Ссылка больше не действует"),
            t(
                l,
                "A password link works once, for 24 hours. If the password is already set, sign in; otherwise ask an administrator for a new account link.",
                "Ссылка для задания пароля действует один раз, 24 часа. Если пароль уже задан, войдите; иначе попросите администратора о новой ссылке.",
            ),
        ),
    )
}

pub async fn set_form(req: HttpRequest, path: web::Path<String>) -> UiResult {
    let l = browser_lang(&req);
    let app = app_of(&req)?;
    let token = path.into_inner();
    let tx = app.store.read().map_err(|e| UiError::App(e.into(), l))?;
    let login = users::link_login(&app, &tx, &token).map_err(|e| UiError::App(e.into(), l))?;
    drop(tx);
    let Some(login) = login else {
        return Ok(dead_link(l));
    };
    Ok(pre_html(
        "/",
        l,
        StatusCode::OK,
        t(l, "Set your password", "Задайте пароль"),
        pre_token(&req),
        |ctx| set_markup(ctx, &token, &login, &FieldErrors::new()),
    ))
}

pub async fn set(p: PrePost, path: web::Path<String>) -> UiResult {
    let l = p.lang;
    let token = path.into_inner();
    let login = {
        let tx = p.app.store.read().map_err(|e| UiError::App(e.into(), l))?;
        users::link_login(&p.app, &tx, &token).map_err(|e| UiError::App(e.into(), l))?
    };
    let Some(login) = login else {
        return Ok(dead_link(l));
    };
    let pw = p.form.get("password");
    let mut errors = FieldErrors::new();
    if pw != p.form.get("password2") {
        errors.insert(
            "password2".into(),
            t(l, "The passwords differ", "Пароли не совпадают").into(),
        );
    } else {
        match users::set_password_with_link(&p.app, &token, pw).await {
            Ok(_) => {
                let mut res = see_other("/login?done=password");
                let _ = res.add_removal_cookie(&secure_cookie(PRE_COOKIE, String::new(), 0));
                return Ok(res);
            }
            Err(crate::error::AppError::Malformed(_)) => {
                errors.insert(
                    "password".into(),
                    t(l, "At least 8 characters", "Не короче 8 символов").into(),
                );
            }
            // Spent by another tab in the meantime.
            Err(crate::error::AppError::NotFound { .. }) => return Ok(dead_link(l)),
            Err(e) => return Err(UiError::App(e, l)),
        }
    }
    Ok(pre_html(
        "/",
        l,
        StatusCode::UNPROCESSABLE_ENTITY,
        t(l, "Set your password", "Задайте пароль"),
        Some(p.token.clone()),
        |ctx| set_markup(ctx, &token, &login, &errors),
    ))
}
