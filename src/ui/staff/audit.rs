//! The audit log: who changed what, and when.
use crate::domain::Role;
use crate::i18n::Lang;
use crate::service::audit;
use crate::web::{Me, UiResult, html_page};
use crate::web::{page, t, when};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::html;

/// What an audit action code means, in the reader's language.
fn action_name(l: Lang, code: &str) -> String {
    let (en, ru) = match code {
        "sign_in" => ("Signed in", "Вход"),
        "setup_first_admin" => ("First admin created", "Создан первый администратор"),
        "change_own_password" => ("Changed own password", "Смена своего пароля"),
        "client_create" => ("Client created", "Создан клиент"),
        "client_update" => ("Client changed", "Изменён клиент"),
        "client_delete" => ("Client deleted", "Удалён клиент"),
        "client_merge" => ("Clients merged", "Объединены клиенты"),
        "key_create" => ("Key generated", "Сгенерирован ключ"),
        "key_add_item" => ("Item added", "Добавлена позиция"),
        "key_change_item" => ("Item changed", "Изменена позиция"),
        "key_remove_item" => ("Item removed", "Удалена позиция"),
        "key_block" => ("Key blocked", "Ключ заблокирован"),
        "key_unblock" => ("Key unblocked", "Ключ разблокирован"),
        "unbind" => ("Unbound", "Снята привязка"),
        "coupons_create" => ("Coupons generated", "Сгенерированы купоны"),
        "product_create" => ("Product created", "Создан продукт"),
        "product_update" => ("Product changed", "Изменён продукт"),
        "product_delete" => ("Product deleted", "Удалён продукт"),
        "lease_end" => ("Lease ended", "Завершён захват"),
        "distributor_create" => ("Distributor added", "Добавлен дистрибьютор"),
        "distributor_update" => ("Distributor changed", "Изменён дистрибьютор"),
        "distributor_delete" => ("Distributor deleted", "Удалён дистрибьютор"),
        "user_create" => ("User added", "Добавлен пользователь"),
        "user_change" => ("User changed", "Изменён пользователь"),
        "user_password_link" => (
            "Password set through the mailed link",
            "Пароль задан по ссылке из письма",
        ),
        "token_create" => ("API token created", "Создан API-токен"),
        "token_revoke" => ("API token revoked", "Отозван API-токен"),
        "settings_change" => ("Settings changed", "Изменены настройки"),
        "mail_retry" => ("Mail retried", "Письмо отправлено повторно"),
        "mail_drop" => ("Mail dropped", "Письмо отменено"),
        "smtp_settings" => ("SMTP settings changed", "Изменены настройки SMTP"),
        "client_mail_mute" => (
            "Client's alerts muted or unmuted",
            "Оповещения клиента заглушены или включены",
        ),
        "cabinet_settings" => (
            "Cabinet settings changed by the client",
            "Клиент изменил настройки кабинета",
        ),
        other => return other.to_owned(),
    };
    format!("{} ({code})", t(l, en, ru))
}

pub async fn audit_list(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    me.require(Role::Admin)?;
    let l = me.lang;
    const PAGE: usize = 100;
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let text = get("q");
    let offset: usize = get("offset").parse().unwrap_or(0);
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let (mut rows, total) = audit::page(&tx, &text, offset, PAGE + 1).map_err(|e| me.err(e))?;
    drop(tx);
    let more = rows.len() > PAGE;
    rows.truncate(PAGE);
    let ctx = me.ctx("audit", None);
    let body = html! {
        h1 { (t(l, "Audit log", "Журнал действий")) }
        form.toolbar.card method="get" action="/audit" {
            label.field.grow { span.label { (t(l, "Who, what or which", "Кто, что или над чем")) } input type="search" name="q" value=(text); }
            button type="submit" { (t(l, "Find", "Найти")) }
        }
        div.table-wrap { table {
            thead { tr { th { (t(l, "When (UTC)", "Когда (UTC)")) } th { (t(l, "Who", "Кто")) } th { (t(l, "Action", "Действие")) } th { (t(l, "Object", "Объект")) } th { (t(l, "Details", "Подробности")) } } }
            tbody { @for e in &rows { tr {
                td { (when(&crate::clock::rfc3339(e.at))) } td { (e.actor) } td { (action_name(l, &e.action)) } td { (e.target) } td.muted { (e.detail) }
            } } }
        }
        @if rows.is_empty() { p.empty { (t(l, "No entries.", "Записей нет.")) } } }
        (crate::web::pager(l, offset, rows.len(), if text.is_empty() { Some(total) } else { None }, more, PAGE,
            &|o| format!("/audit?offset={o}&q={}", crate::web::urlencode(&text))))
    };
    Ok(html_page(
        StatusCode::OK,
        page(&ctx, t(l, "Audit log", "Журнал"), body),
    ))
}
