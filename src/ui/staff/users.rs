//! Staff users: the list, a new user (with a password, or mailed a link to set one),
//! role / distributor / e-mail / password / disable.
use super::forms::{bad, done};
use crate::domain::Role;
use crate::i18n::Lang;
use crate::service::{distributors, users};
use crate::web::{FieldErrors, csrf_field, field, page, role_name, select, t, when_t};
use crate::web::{Fields, Me, Post, UiResult, html_page, see_other};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};

fn roles(l: Lang) -> Vec<(String, String)> {
    [Role::Admin, Role::Manager, Role::Distributor]
        .iter()
        .map(|r| (r.as_str().to_owned(), role_name(l, *r).to_owned()))
        .collect()
}

fn users_page(
    me: &Me,
    typed: &Fields,
    errors: &FieldErrors,
    flash: Option<String>,
) -> Result<Markup, crate::web::UiError> {
    let l = me.lang;
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let list = users::list(&tx).map_err(|e| me.err(e))?;
    let dists = distributors::list(&tx).map_err(|e| me.err(e))?;
    drop(tx);
    let ctx = me.ctx("users", flash);
    let mut dist_options = vec![(String::new(), "—".to_owned())];
    dist_options.extend(
        dists
            .iter()
            .map(|d| (d.code.clone(), format!("{} ({})", d.name, d.code))),
    );
    let body = html! {
        h1 { (t(l, "Users", "Пользователи")) }
        @if let Some(e) = errors.get(CHANGE) { p.alert role="alert" { (e) } }
        div.table-wrap { table {
            thead { tr { th { (t(l, "Login", "Логин")) } th { (t(l, "Role, distributor, e-mail, state", "Роль, дистрибьютор, e-mail, состояние")) } th.hide-sm { (t(l, "Created", "Создан")) } } }
            tbody { @for u in &list { tr {
                td { strong { (u.login) } @if u.disabled { " " span.badge.bad { (t(l, "disabled", "отключён")) } }
                     @if u.password_hash.is_empty() { " " span.badge { (t(l, "no password yet", "пароль не задан")) } } }
                td { form.inline method="post" action=(format!("/users/{}", u.login)) {
                    (csrf_field(&ctx))
                    select name="role" aria-label=(t(l, "Role", "Роль")) { @for (v, n) in roles(l) { option value=(v) selected[v == u.role.as_str()] { (n) } } }
                    select name="distributor" aria-label=(t(l, "Distributor", "Дистрибьютор")) {
                        option value="" { "—" }
                        @for d in &dists { option value=(d.code) selected[d.code == u.distributor] { (d.name) } }
                        @if !u.distributor.is_empty() && !dists.iter().any(|d| d.code == u.distributor) { option value=(u.distributor) selected { (u.distributor) } }
                    }
                    input type="email" name="email" value=(u.email) placeholder="e-mail" size="18" aria-label="E-mail";
                    label.field.check { input type="checkbox" name="disabled" value="1" checked[u.disabled]; (t(l, "disabled", "отключён")) }
                    input type="password" name="password" placeholder=(t(l, "new password", "новый пароль")) size="12" autocomplete="new-password";
                    button.small type="submit" { (t(l, "Save", "Сохранить")) }
                } }
                td.hide-sm { (when_t(u.created_at)) }
            } } }
        } }
        section.card {
            h2 { (t(l, "New user", "Новый пользователь")) }
            form.grid method="post" action="/users" {
                (csrf_field(&ctx))
                (field(t(l, "Login", "Логин"), "login", "text", typed.get("login"), errors))
                (select(t(l, "Role", "Роль"), "role", if typed.has("role") { typed.get("role") } else { "manager" }, &roles(l)))
                (select(t(l, "Distributor (for the distributor role)", "Дистрибьютор (для роли дистрибьютора)"), "distributor", typed.get("distributor"), &dist_options))
                @if let Some(e) = errors.get("distributor") { span.error { (e) } }
                (field("E-mail", "email", "email", typed.get("email"), errors))
                (field(t(l, "Password (empty: a link to set it is mailed)", "Пароль (пусто — ссылка для его задания придёт на e-mail)"), "password", "password", "", errors))
                div.actions { button type="submit" { (t(l, "Add user", "Добавить пользователя")) } }
            }
        }
    };
    Ok(page(&ctx, t(l, "Users", "Пользователи"), body))
}

pub async fn users_list(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    me.require(Role::Admin)?;
    let flash = if q.iter().any(|(k, v)| k == "done" && v == "link") {
        Some(
            t(
                me.lang,
                "User added. A link to set the password (it works once, for 24 hours) was mailed to their e-mail.",
                "Пользователь добавлен. Ссылка для задания пароля (одноразовая, на 24 часа) отправлена на его e-mail.",
            )
            .to_owned(),
        )
    } else {
        done(me.lang, &q)
    };
    Ok(html_page(
        StatusCode::OK,
        users_page(&me, &Fields::default(), &FieldErrors::new(), flash)?,
    ))
}

pub async fn users_create(p: Post) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let f = &p.form;
    let password = f.get("password");
    let refused = |errors: FieldErrors| -> UiResult {
        Ok(html_page(
            StatusCode::BAD_REQUEST,
            users_page(me, f, &errors, None)?,
        ))
    };
    if password.is_empty() && f.get("email").trim().is_empty() {
        let why = t(
            me.lang,
            "Required without a password: the link to set one is mailed here",
            "Обязателен, если пароль не задан: на него придёт ссылка для задания пароля",
        );
        return refused([("email".to_owned(), why.to_owned())].into_iter().collect());
    }
    let new = users::NewUser {
        login: f.get("login").to_owned(),
        role: f.get("role").to_owned(),
        email: f.get("email").to_owned(),
        distributor: f.get("distributor").to_owned(),
        password: (!password.is_empty()).then(|| password.to_owned()),
    };
    match users::create(&me.app, new, &me.user.login).await {
        Ok(u) if u.password_hash.is_empty() => Ok(see_other("/users?done=link")),
        Ok(_) => Ok(see_other("/users?done=created")),
        Err(e) => match bad(me.lang, &e) {
            Some(errors) => refused(errors),
            None => Err(me.err(e)),
        },
    }
}

/// The key of the change forms' error, shown above the list.
const CHANGE: &str = "change";

/// A refused change's errors as the one message above the list.
fn change_refused(errors: FieldErrors) -> FieldErrors {
    let text: Vec<String> = errors.into_values().collect();
    [(CHANGE.to_owned(), text.join("; "))].into_iter().collect()
}

pub async fn users_change(p: Post, path: web::Path<String>) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let f = &p.form;
    let login = path.into_inner();
    let role = Role::parse(f.get("role")).unwrap_or(Role::Manager);
    let disabled = f.get("disabled") == "1";
    let changed = users::change(
        &me.app,
        &login,
        role,
        f.get("distributor"),
        f.get("email"),
        disabled,
    )
    .await;
    let u = match changed {
        Ok(u) => u,
        Err(e) => {
            return match bad(me.lang, &e) {
                Some(errors) => Ok(html_page(
                    StatusCode::BAD_REQUEST,
                    users_page(me, &Fields::default(), &change_refused(errors), None)?,
                )),
                None => Err(me.err(e)),
            };
        }
    };
    let new_password = f.get("password");
    if !new_password.is_empty() {
        if let Err(e) = crate::service::sessions::set_password(&me.app, &login, new_password).await
        {
            return match bad(me.lang, &e) {
                Some(_) => {
                    let errors = [(
                        CHANGE.to_owned(),
                        t(
                            me.lang,
                            "The new password needs at least 8 characters",
                            "Новый пароль — не короче 8 символов",
                        )
                        .to_owned(),
                    )]
                    .into_iter()
                    .collect();
                    Ok(html_page(
                        StatusCode::BAD_REQUEST,
                        users_page(me, &Fields::default(), &errors, None)?,
                    ))
                }
                None => Err(me.err(e)),
            };
        }
        crate::service::sessions::end_sessions_of(&me.app, &login, None)
            .await
            .map_err(|e| me.err(e))?;
    }
    if disabled {
        crate::service::sessions::end_sessions_of(&me.app, &login, None)
            .await
            .map_err(|e| me.err(e))?;
    }
    let detail = format!(
        "role {} distributor {} e-mail {} disabled {}{}",
        role.as_str(),
        u.distributor,
        u.email,
        disabled,
        if new_password.is_empty() {
            ""
        } else {
            ", password reset"
        }
    );
    me.audit("user_change", &login, &detail).await?;
    Ok(see_other("/users?done=saved"))
}
