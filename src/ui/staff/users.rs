//! Staff users: the list, a new user, role / distributor / password / disable.
use super::forms::{bad, done};
use crate::domain::Role;
use crate::i18n::Lang;
use crate::service::{auth, distributors, users};
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
        @if let Some(e) = errors.get("role") { p.alert role="alert" { (e) } }
        div.table-wrap { table {
            thead { tr { th { (t(l, "Login", "Логин")) } th { (t(l, "Role, distributor, state", "Роль, дистрибьютор, состояние")) } th.hide-sm { (t(l, "Created", "Создан")) } } }
            tbody { @for u in &list { tr {
                td { strong { (u.login) } @if u.disabled { " " span.badge.bad { (t(l, "disabled", "отключён")) } } }
                td { form.inline method="post" action=(format!("/users/{}", u.login)) {
                    (csrf_field(&ctx))
                    select name="role" aria-label=(t(l, "Role", "Роль")) { @for (v, n) in roles(l) { option value=(v) selected[v == u.role.as_str()] { (n) } } }
                    select name="distributor" aria-label=(t(l, "Distributor", "Дистрибьютор")) {
                        option value="" { "—" }
                        @for d in &dists { option value=(d.code) selected[d.code == u.distributor] { (d.name) } }
                        @if !u.distributor.is_empty() && !dists.iter().any(|d| d.code == u.distributor) { option value=(u.distributor) selected { (u.distributor) } }
                    }
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
                (field(t(l, "Password", "Пароль"), "password", "password", "", errors))
                div.actions { button type="submit" { (t(l, "Add user", "Добавить пользователя")) } }
            }
        }
    };
    Ok(page(&ctx, t(l, "Users", "Пользователи"), body))
}

pub async fn users_list(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    me.require(Role::Admin)?;
    let flash = done(me.lang, &q);
    Ok(html_page(
        StatusCode::OK,
        users_page(&me, &Fields::default(), &FieldErrors::new(), flash)?,
    ))
}

pub async fn users_create(p: Post) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let f = &p.form;
    let role = Role::parse(f.get("role")).unwrap_or(Role::Manager);
    match auth::add_user(
        &me.app.store,
        f.get("login"),
        role,
        f.get("password"),
        f.get("distributor"),
        me.app.now(),
        &me.user.login,
    )
    .await
    {
        Ok(_) => Ok(see_other("/users?done=created")),
        Err(e) => match bad(me.lang, &e) {
            Some(errors) => Ok(html_page(
                StatusCode::BAD_REQUEST,
                users_page(me, f, &errors, None)?,
            )),
            None => Err(me.err(e)),
        },
    }
}

pub async fn users_change(p: Post, path: web::Path<String>) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let f = &p.form;
    let login = path.into_inner();
    let role = Role::parse(f.get("role")).unwrap_or(Role::Manager);
    let disabled = f.get("disabled") == "1";
    if let Err(e) = users::change(&me.app, &login, role, f.get("distributor"), disabled).await {
        return match bad(me.lang, &e) {
            Some(errors) => Ok(html_page(
                StatusCode::BAD_REQUEST,
                users_page(me, &Fields::default(), &errors, None)?,
            )),
            None => Err(me.err(e)),
        };
    }
    let new_password = f.get("password");
    if !new_password.is_empty() {
        if let Err(e) = crate::service::sessions::set_password(&me.app, &login, new_password).await
        {
            return match bad(me.lang, &e) {
                Some(_) => {
                    let errors = [(
                        "role".to_owned(),
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
        "role {} distributor {} disabled {}{}",
        role.as_str(),
        f.get("distributor"),
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
