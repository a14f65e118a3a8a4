//! Admin-API tokens: the list, a new token (shown once), revoke.
use super::forms::{bad, done};
use crate::domain::Role;
use crate::service::auth;
use crate::web::{FieldErrors, csrf_field, field, page, role_name, select, t, when_t};
use crate::web::{Me, Post, UiResult, html_page, see_other};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};

fn tokens_page(
    me: &Me,
    shown: Option<(&str, &str)>,
    typed_name: &str,
    errors: &FieldErrors,
    flash: Option<String>,
) -> Result<Markup, crate::web::UiError> {
    let l = me.lang;
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let list = auth::list_tokens(&tx).map_err(|e| me.err(e))?;
    drop(tx);
    let ctx = me.ctx("tokens", flash);
    let body = html! {
        h1 { (t(l, "API tokens", "API-токены")) }
        @if let Some((name, secret)) = shown {
            section.card {
                h2 { (t(l, "Token created: ", "Токен создан: ")) (name) }
                p { (t(l, "Copy it now: it is shown only once.", "Скопируйте его сейчас: он показывается только один раз.")) }
                p.secret.mono { (secret) }
            }
        }
        div.table-wrap { table {
            thead { tr { th.num { "#" } th { (t(l, "Name", "Название")) } th { (t(l, "Role", "Роль")) } th { (t(l, "Created", "Создан")) } th { (t(l, "State", "Состояние")) } th {} } }
            tbody { @for tk in &list { tr {
                td.num { (tk.id) } td { (tk.name) } td { (role_name(l, tk.role)) } td { (when_t(tk.created_at)) }
                td { @match tk.revoked_at { Some(r) => { span.badge.bad { (t(l, "revoked", "отозван")) } " " (when_t(r)) }, None => { span.badge.ok { (t(l, "active", "действует")) } } } }
                td { @if tk.revoked_at.is_none() {
                    form.inline method="post" action=(format!("/tokens/{}/revoke", tk.id)) {
                        (csrf_field(&ctx))
                        button.small.danger type="submit" { (t(l, "Revoke", "Отозвать")) }
                    }
                } }
            } } }
        }
        @if list.is_empty() { p.empty { (t(l, "No tokens.", "Токенов нет.")) } } }
        section.card {
            h2 { (t(l, "New token", "Новый токен")) }
            form.grid method="post" action="/tokens" {
                (csrf_field(&ctx))
                (field(t(l, "Name", "Название"), "name", "text", typed_name, errors))
                (select(t(l, "Role", "Роль"), "role", "manager", &[
                    ("manager".into(), role_name(l, Role::Manager).into()),
                    ("admin".into(), role_name(l, Role::Admin).into()),
                ]))
                div.actions { button type="submit" { (t(l, "Create token", "Создать токен")) } }
            }
        }
    };
    Ok(page(&ctx, t(l, "API tokens", "API-токены"), body))
}

pub async fn tokens_list(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    me.require(Role::Admin)?;
    let flash = done(me.lang, &q);
    Ok(html_page(
        StatusCode::OK,
        tokens_page(&me, None, "", &FieldErrors::new(), flash)?,
    ))
}

pub async fn tokens_create(p: Post) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let role = if p.form.get("role") == "admin" {
        Role::Admin
    } else {
        Role::Manager
    };
    match auth::create_token(
        &me.app.store,
        p.form.get("name"),
        role,
        me.app.now(),
        &me.user.login,
    )
    .await
    {
        Ok((secret, tk)) => Ok(html_page(
            StatusCode::OK,
            tokens_page(me, Some((&tk.name, &secret)), "", &FieldErrors::new(), None)?,
        )),
        Err(e) => match bad(me.lang, &e) {
            Some(errors) => Ok(html_page(
                StatusCode::BAD_REQUEST,
                tokens_page(me, None, p.form.get("name"), &errors, None)?,
            )),
            None => Err(me.err(e)),
        },
    }
}

pub async fn tokens_revoke(p: Post, path: web::Path<u64>) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let id = path.into_inner();
    auth::revoke_token(&me.app.store, id, me.app.now(), &me.user.login)
        .await
        .map_err(|e| me.err(e))?;
    Ok(see_other("/tokens?done=revoked"))
}
