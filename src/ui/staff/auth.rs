//! Sign-in, sign-out, the first admin's setup page, and the user's own account.
use crate::i18n::Lang;
use crate::service::sessions::{self, SignInError};
use crate::web::form::{pre_html, pre_token};
use crate::web::{Ctx, FieldErrors, csrf_field, field, page, t};
use crate::web::{
    Me, PRE_COOKIE, Post, PrePost, SESSION_COOKIE, UiError, UiResult, app_of, browser_lang,
    html_page, secure_cookie, see_other,
};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use maud::{Markup, html};

pub async fn root(req: HttpRequest) -> UiResult {
    match Me::from_req(&req) {
        Ok(_) => Ok(see_other("/clients")),
        Err(_) => Ok(see_other("/login")),
    }
}

pub async fn not_found(req: HttpRequest) -> UiResult {
    match Me::from_req(&req) {
        Ok(me) => Err(me.not_found()),
        Err(_) => Err(UiError::NotFound(browser_lang(&req))),
    }
}

fn login_markup(ctx: &Ctx, login: &str, error: Option<String>, note: Option<&str>) -> Markup {
    let l = ctx.lang;
    html! {
        h1 { (t(l, "Sign in", "Вход")) }
        @if let Some(e) = error { p.alert role="alert" { (e) } }
        @if let Some(n) = note { p.flash role="status" { (n) } }
        form.grid method="post" action="/login" {
            (csrf_field(ctx))
            (field(t(l, "Login", "Логин"), "login", "text", login, &FieldErrors::new()))
            (field(t(l, "Password", "Пароль"), "password", "password", "", &FieldErrors::new()))
            div.actions { button type="submit" { (t(l, "Sign in", "Войти")) } }
        }
    }
}

pub async fn login_form(req: HttpRequest) -> UiResult {
    if Me::from_req(&req).is_ok() {
        return Ok(see_other("/clients"));
    }
    let l = browser_lang(&req);
    // After a mailed link set the password.
    let note = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .is_ok_and(|q| q.iter().any(|(k, v)| k == "done" && v == "password"))
        .then(|| {
            t(
                l,
                "Password set. Sign in with it.",
                "Пароль задан. Войдите с ним.",
            )
        });
    Ok(pre_html(
        "/",
        l,
        StatusCode::OK,
        t(l, "Sign in", "Вход"),
        pre_token(&req),
        |ctx| login_markup(ctx, "", None, note),
    ))
}

pub async fn login(p: PrePost) -> UiResult {
    let l = p.lang;
    let login = p.form.get("login").trim().to_owned();
    let r = sessions::sign_in(&p.app, p.ip, &login, p.form.get("password"))
        .await
        .map_err(|e| UiError::App(e, l))?;
    match r {
        Ok((secret, session)) => {
            let life = (session.expires_at - session.created_at).whole_seconds();
            let mut res = see_other("/clients");
            let _ = res.add_cookie(&secure_cookie(SESSION_COOKIE, secret, life));
            let _ = res.add_removal_cookie(&secure_cookie(PRE_COOKIE, String::new(), 0));
            let _ = crate::service::audit::record(
                &p.app,
                &session.login,
                "sign_in",
                &session.login,
                &p.ip.to_string(),
            )
            .await;
            Ok(res)
        }
        Err(SignInError::Wrong) => {
            let msg = t(l, "Wrong login or password.", "Неверный логин или пароль.").to_owned();
            Ok(pre_html(
                "/",
                l,
                StatusCode::UNAUTHORIZED,
                t(l, "Sign in", "Вход"),
                Some(p.token.clone()),
                |ctx| login_markup(ctx, &login, Some(msg.clone()), None),
            ))
        }
        Err(SignInError::Wait(s)) => {
            let msg = match l {
                Lang::En => format!("Too many failed attempts. Try again in {s} s."),
                Lang::Ru => format!("Слишком много неудачных попыток. Повторите через {s} с."),
            };
            let mut res = pre_html(
                "/",
                l,
                StatusCode::TOO_MANY_REQUESTS,
                t(l, "Sign in", "Вход"),
                Some(p.token.clone()),
                |ctx| login_markup(ctx, &login, Some(msg.clone()), None),
            );
            crate::web::retry_after(&mut res, s);
            Ok(res)
        }
    }
}

pub async fn logout(p: Post) -> UiResult {
    sessions::sign_out(&p.me.app, &p.me.secret)
        .await
        .map_err(|e| p.me.err(e))?;
    let mut res = see_other("/login");
    let _ = res.add_removal_cookie(&secure_cookie(SESSION_COOKIE, String::new(), 0));
    Ok(res)
}

fn setup_markup(ctx: &Ctx, token: &str, login: &str, errors: &FieldErrors) -> Markup {
    let l = ctx.lang;
    html! {
        h1 { (t(l, "Create the first administrator", "Создание первого администратора")) }
        p.muted { (t(l, "This link works once. Choose a login and a password of at least 8 characters.",
                     "Ссылка одноразовая. Задайте логин и пароль не короче 8 символов.")) }
        form.grid method="post" action=(format!("/setup/{token}")) {
            (csrf_field(ctx))
            (field(t(l, "Login", "Логин"), "login", "text", login, errors))
            (field(t(l, "Password", "Пароль"), "password", "password", "", errors))
            (field(t(l, "Password again", "Пароль ещё раз"), "password2", "password", "", errors))
            div.actions { button type="submit" { (t(l, "Create administrator", "Создать администратора")) } }
        }
    }
}

pub async fn setup_form(req: HttpRequest, path: web::Path<String>) -> UiResult {
    let l = browser_lang(&req);
    let app = app_of(&req)?;
    let tx = app.store.read().map_err(|e| UiError::App(e.into(), l))?;
    if !sessions::setup_token_valid(&tx, &path).map_err(|e| UiError::App(e.into(), l))? {
        return Err(UiError::NotFound(l));
    }
    let token = path.into_inner();
    Ok(pre_html(
        "/",
        l,
        StatusCode::OK,
        t(l, "First administrator", "Первый администратор"),
        pre_token(&req),
        |ctx| setup_markup(ctx, &token, "admin", &FieldErrors::new()),
    ))
}

pub async fn setup(p: PrePost, path: web::Path<String>) -> UiResult {
    let l = p.lang;
    let token = path.into_inner();
    let login = p.form.get("login").trim().to_owned();
    let mut errors = FieldErrors::new();
    if p.form.get("password") != p.form.get("password2") {
        errors.insert(
            "password2".into(),
            t(l, "The passwords differ", "Пароли не совпадают").into(),
        );
    }
    if errors.is_empty() {
        match sessions::complete_setup(&p.app, &token, &login, p.form.get("password")).await {
            Ok(u) => {
                let _ = crate::service::audit::record(
                    &p.app,
                    &u.login,
                    "setup_first_admin",
                    &u.login,
                    "",
                )
                .await;
                return Ok(see_other("/login"));
            }
            Err(crate::error::AppError::Malformed(m)) => {
                for k in m.keys() {
                    errors.insert(k.clone(), field_msg(l, k));
                }
            }
            Err(crate::error::AppError::Forbidden) => return Err(UiError::NotFound(l)),
            Err(e) => return Err(UiError::App(e, l)),
        }
    }
    Ok(pre_html(
        "/",
        l,
        StatusCode::BAD_REQUEST,
        t(l, "First administrator", "Первый администратор"),
        Some(p.token.clone()),
        |ctx| setup_markup(ctx, &token, &login, &errors),
    ))
}

/// A field error in the page's language, by the field's name.
pub fn field_msg(l: Lang, field: &str) -> String {
    match field {
        "login" => t(
            l,
            "1 to 64 letters, digits, . _ - @",
            "от 1 до 64 букв, цифр, . _ - @",
        ),
        "password" | "new" => t(l, "At least 8 characters", "Не короче 8 символов"),
        "company" => t(l, "Required", "Обязательное поле"),
        "email" | "alert_email" => t(l, "Not an e-mail address", "Это не адрес e-mail"),
        "distributor" => t(
            l,
            "Required for the distributor role",
            "Обязательно для роли дистрибьютора",
        ),
        "code" => t(l, "Check the code", "Проверьте код"),
        "name" => t(l, "Required", "Обязательное поле"),
        "version" => t(
            l,
            "1 to 64 letters, digits, . + - _",
            "от 1 до 64 букв, цифр, . + - _",
        ),
        "file" => t(l, "Choose a file", "Выберите файл"),
        "product" => t(l, "Choose a product", "Выберите продукт"),
        "requires_feature" => t(
            l,
            "The number of a product's feature",
            "Номер функции какого-либо продукта",
        ),
        "min_seats" => t(l, "A whole number of seats", "Целое число мест"),
        "changelog" => t(l, "At most 256 KiB", "Не больше 256 КиБ"),
        _ => t(l, "Check this field", "Проверьте это поле"),
    }
    .to_owned()
}

fn account_markup(me: &Me, errors: &FieldErrors) -> Markup {
    let l = me.lang;
    let ctx = me.ctx("account", None);
    html! {
        h1 { (t(l, "My account", "Мой профиль")) }
        div.cols {
            section.card {
                h2 { (t(l, "Password", "Пароль")) }
                form.grid method="post" action="/account/password" {
                    (csrf_field(&ctx))
                    (field(t(l, "Current password", "Текущий пароль"), "current", "password", "", errors))
                    (field(t(l, "New password", "Новый пароль"), "new", "password", "", errors))
                    (field(t(l, "New password again", "Новый пароль ещё раз"), "new2", "password", "", errors))
                    div.actions { button type="submit" { (t(l, "Change password", "Сменить пароль")) } }
                }
            }
            section.card {
                h2 { (t(l, "Language", "Язык")) }
                form.inline method="post" action="/account/lang" {
                    (csrf_field(&ctx))
                    select name="lang" {
                        option value="" { (t(l, "As in the browser", "Как в браузере")) }
                        option value="en" selected[l == Lang::En] { "English" }
                        option value="ru" selected[l == Lang::Ru] { "Русский" }
                    }
                    button type="submit" { (t(l, "Save", "Сохранить")) }
                }
                h2 { (t(l, "Role", "Роль")) }
                p { (crate::web::role_name(l, me.user.role))
                    @if !me.user.distributor.is_empty() { " · " (me.user.distributor) } }
            }
        }
    }
}

pub async fn account(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    let flash = q
        .iter()
        .find(|(k, _)| k == "done")
        .map(|_| t(me.lang, "Saved.", "Сохранено.").to_owned());
    let mut ctx = me.ctx("account", flash);
    ctx.flash = ctx.flash.take();
    Ok(html_page(
        StatusCode::OK,
        page(
            &ctx,
            t(me.lang, "My account", "Мой профиль"),
            account_markup(&me, &FieldErrors::new()),
        ),
    ))
}

pub async fn change_password(p: Post) -> UiResult {
    let me = &p.me;
    let l = me.lang;
    let mut errors = FieldErrors::new();
    if !crate::service::auth::verify_password(&me.user.password_hash, p.form.get("current")) {
        errors.insert(
            "current".into(),
            t(l, "Wrong password", "Неверный пароль").into(),
        );
    }
    let new = p.form.get("new");
    if new.chars().count() < 8 {
        errors.insert("new".into(), field_msg(l, "new"));
    } else if new != p.form.get("new2") {
        errors.insert(
            "new2".into(),
            t(l, "The passwords differ", "Пароли не совпадают").into(),
        );
    }
    if !errors.is_empty() {
        let ctx = me.ctx("account", None);
        return Ok(html_page(
            StatusCode::BAD_REQUEST,
            page(
                &ctx,
                t(l, "My account", "Мой профиль"),
                account_markup(me, &errors),
            ),
        ));
    }
    sessions::set_password(&me.app, &me.user.login, new)
        .await
        .map_err(|e| me.err(e))?;
    sessions::end_sessions_of(&me.app, &me.user.login, Some(&me.secret))
        .await
        .map_err(|e| me.err(e))?;
    me.audit("change_own_password", &me.user.login, "").await?;
    Ok(see_other("/account?done=password"))
}

pub async fn change_lang(p: Post) -> UiResult {
    crate::service::users::set_lang(&p.me.app, &p.me.user.login, p.form.get("lang"))
        .await
        .map_err(|e| p.me.err(e))?;
    // Back to the page the switch was pressed on (a local path only).
    let back = p.form.get("back");
    if back.starts_with('/') && !back.starts_with("//") && !back.contains('\\') {
        return Ok(see_other(back));
    }
    Ok(see_other("/account?done=lang"))
}
