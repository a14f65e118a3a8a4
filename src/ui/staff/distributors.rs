//! Distributors: the list, a new one, one distributor (edit, delete).
use super::forms::{bad, done};
use crate::domain::Role;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::service::distributors;
use crate::web::{FieldErrors, csrf_field, field, page, t};
use crate::web::{Fields, Me, Post, UiResult, html_page, see_other};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};

fn distributors_page(
    me: &Me,
    typed: &Fields,
    errors: &FieldErrors,
    flash: Option<String>,
) -> Result<Markup, crate::web::UiError> {
    let l = me.lang;
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let list = distributors::list(&tx).map_err(|e| me.err(e))?;
    drop(tx);
    let ctx = me.ctx("distributors", flash);
    let body = html! {
        h1 { (t(l, "Distributors", "Дистрибьюторы")) }
        div.table-wrap { table {
            thead { tr { th { (t(l, "Code", "Код")) } th { (t(l, "Name", "Название")) } th { "E-mail" } th { (t(l, "Clients", "Клиенты")) } th {} } }
            tbody { @for d in &list { tr {
                td.mono { a href=(distributor_href(&d.code)) { (d.code) } } td { (d.name) } td { (d.email) }
                td { a href=(format!("/clients?distributor={}", crate::web::urlencode(&d.code))) { (t(l, "Show", "Показать")) } }
                td { a.button.small.ghost href=(distributor_href(&d.code)) { (t(l, "Edit", "Изменить")) } }
            } } }
        }
        @if list.is_empty() { p.empty { (t(l, "No distributors yet.", "Дистрибьюторов пока нет.")) } } }
        section.card {
            h2 { (t(l, "New distributor", "Новый дистрибьютор")) }
            form.grid method="post" action="/distributors" {
                (csrf_field(&ctx))
                (field(t(l, "Code", "Код"), "code", "text", typed.get("code"), errors))
                (field(t(l, "Name", "Название"), "name", "text", typed.get("name"), errors))
                (field("E-mail", "email", "text", typed.get("email"), errors))
                div.actions { button type="submit" { (t(l, "Add", "Добавить")) } }
            }
        }
    };
    Ok(page(&ctx, t(l, "Distributors", "Дистрибьюторы"), body))
}

pub async fn distributors_list(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    me.require(Role::Admin)?;
    let flash = done(me.lang, &q);
    Ok(html_page(
        StatusCode::OK,
        distributors_page(&me, &Fields::default(), &FieldErrors::new(), flash)?,
    ))
}

pub async fn distributors_create(p: Post) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let f = &p.form;
    match distributors::create(&me.app, f.get("code"), f.get("name"), f.get("email")).await {
        Ok(d) => {
            me.audit("distributor_create", &d.code, &d.name).await?;
            Ok(see_other("/distributors?done=created"))
        }
        Err(e) => match bad(me.lang, &e) {
            Some(errors) => Ok(html_page(
                StatusCode::BAD_REQUEST,
                distributors_page(me, f, &errors, None)?,
            )),
            None => Err(me.err(e)),
        },
    }
}

fn distributor_href(code: &str) -> String {
    format!("/distributors/{}", crate::web::urlencode(code))
}

fn distributor_page(
    me: &Me,
    d: &crate::domain::Distributor,
    typed: Option<&Fields>,
    errors: &FieldErrors,
    flash: Option<String>,
    alert: Option<Markup>,
) -> Markup {
    let l = me.lang;
    let ctx = me.ctx("distributors", flash);
    let v = |name: &str, stored: &str| typed.map_or(stored.to_owned(), |f| f.get(name).to_owned());
    let href = distributor_href(&d.code);
    let body = html! {
        div.head-row {
            h1 { (d.name) " " span.muted.mono { (d.code) } }
            a.button.ghost href="/distributors" { "← " (t(l, "All distributors", "Все дистрибьюторы")) }
        }
        @if let Some(a) = &alert { p.alert role="alert" { (a) } }
        section.card {
            h2 { (t(l, "Edit distributor", "Изменение дистрибьютора")) }
            form.grid method="post" action=(href) {
                (csrf_field(&ctx))
                (field(t(l, "Name", "Название"), "name", "text", &v("name", &d.name), errors))
                (field("E-mail", "email", "text", &v("email", &d.email), errors))
                p.muted.wide { (t(l, "The code stays: clients and users refer to it.", "Код не меняется: на него ссылаются клиенты и пользователи.")) " "
                    a href=(format!("/clients?distributor={}", crate::web::urlencode(&d.code))) { (t(l, "Its clients", "Его клиенты")) } }
                div.actions { button type="submit" { (t(l, "Save", "Сохранить")) } }
            }
        }
        section.card {
            h2 { (t(l, "Delete distributor", "Удаление дистрибьютора")) }
            p.muted { (t(l, "Only a distributor with no clients assigned and no users acting for it can be deleted.",
                          "Удалить можно только дистрибьютора, за которым не закреплены клиенты и от имени которого не работают пользователи.")) }
            form.inline method="post" action=(format!("{href}/delete")) {
                (csrf_field(&ctx))
                button.danger type="submit" { (t(l, "Delete distributor", "Удалить дистрибьютора")) }
            }
        }
    };
    page(&ctx, &d.name, body)
}

fn load_distributor(
    me: &Me,
    code: &str,
) -> Result<crate::domain::Distributor, crate::web::UiError> {
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    distributors::get(&tx, code)
        .map_err(|e| me.err(e))?
        .ok_or_else(|| me.not_found())
}

pub async fn distributor_show(
    me: Me,
    path: web::Path<String>,
    q: web::Query<Vec<(String, String)>>,
) -> UiResult {
    me.require(Role::Admin)?;
    let d = load_distributor(&me, &path)?;
    let flash = done(me.lang, &q);
    Ok(html_page(
        StatusCode::OK,
        distributor_page(&me, &d, None, &FieldErrors::new(), flash, None),
    ))
}

pub async fn distributor_update(p: Post, path: web::Path<String>) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let l = me.lang;
    let d = load_distributor(me, &path)?;
    let f = &p.form;
    match distributors::update(
        &me.app,
        &d.code,
        f.get("name"),
        f.get("email"),
        &me.user.login,
    )
    .await
    {
        Ok(d) => Ok(see_other(&format!(
            "{}?done=saved",
            distributor_href(&d.code)
        ))),
        Err(AppError::NotFound { .. }) => Err(me.not_found()),
        Err(AppError::Malformed(m)) => {
            let errors = m
                .keys()
                .map(|k| {
                    let msg = match k.as_str() {
                        "name" => t(l, "1 to 200 characters", "От 1 до 200 символов").to_owned(),
                        other => super::auth::field_msg(l, other),
                    };
                    (k.clone(), msg)
                })
                .collect();
            Ok(html_page(
                StatusCode::BAD_REQUEST,
                distributor_page(me, &d, Some(f), &errors, None, None),
            ))
        }
        Err(e) => Err(me.err(e)),
    }
}

pub async fn distributor_delete(p: Post, path: web::Path<String>) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let l = me.lang;
    let d = load_distributor(me, &path)?;
    let alert = match distributors::delete(&me.app, &d.code, &me.user.login).await {
        Ok(_) => return Ok(see_other("/distributors?done=deleted")),
        Err(AppError::NotFound { .. }) => return Err(me.not_found()),
        Err(AppError::Conflict {
            reason: "distributor_has_clients",
            details,
        }) => {
            let n = details["clients"].as_u64().unwrap_or(0);
            let text = match l {
                Lang::En => format!(
                    "Cannot delete: {n} client(s) are assigned to this distributor. Assign them to another distributor (or none) first."
                ),
                Lang::Ru => format!(
                    "Удалить нельзя: за дистрибьютором закреплено клиентов — {n}. Сначала передайте их другому дистрибьютору (или снимите закрепление)."
                ),
            };
            html! {
                (text) " "
                a href=(format!("/clients?distributor={}", crate::web::urlencode(&d.code))) { (t(l, "Show them", "Показать их")) }
            }
        }
        Err(AppError::Conflict {
            reason: "distributor_has_users",
            details,
        }) => {
            let users = details["users"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|u| u.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let text = match l {
                Lang::En => format!(
                    "Cannot delete: staff users act for this distributor ({users}). Give them another distributor or role on the Users page first."
                ),
                Lang::Ru => format!(
                    "Удалить нельзя: от имени дистрибьютора работают пользователи ({users}). Сначала назначьте им другого дистрибьютора или роль на странице «Пользователи»."
                ),
            };
            html! { (text) }
        }
        Err(e) => return Err(me.err(e)),
    };
    Ok(html_page(
        StatusCode::CONFLICT,
        distributor_page(me, &d, None, &FieldErrors::new(), None, Some(alert)),
    ))
}
