//! Keys: find by registration number; the key card with its items (add, change seats
//! or expiry, remove), block / unblock, and live bindings and leases with unbind.
use crate::domain::Role;
use crate::error::AppError;
use crate::service::keys::{self, GrantChange, NewGrant};
use crate::service::{leases, products};
use crate::web::{Me, Post, UiError, UiResult, html_page, see_other};
use crate::web::{csrf_field, page, t, when};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::html;

/// Loads a key the user may see (a distributor: only keys of its clients).
fn visible(me: &Me, regnum: &str) -> Result<crate::service::views::KeyView, UiError> {
    let k = match keys::get(&me.app, regnum) {
        Ok(k) => k,
        Err(AppError::UnknownRegnum | AppError::BadNumber { .. }) => {
            return Err(me.not_found());
        }
        Err(e) => return Err(me.err(e)),
    };
    let dist = k.client.as_ref().map_or("", |c| c.distributor.as_str());
    if !super::clients::can_see(&me.user, dist) {
        return Err(me.forbidden());
    }
    Ok(k)
}

const KEY_PAGE: usize = 50;

pub async fn list(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    let l = me.lang;
    let typed = q
        .iter()
        .find(|(k, _)| k == "regnum")
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let mut not_found = false;
    if !typed.is_empty() {
        match keys::parse_regnum(&typed) {
            Ok(r) if visible(&me, &r).is_ok() => return Ok(see_other(&format!("/keys/{r}"))),
            _ => not_found = true,
        }
    }
    let offset: usize = q
        .iter()
        .find(|(k, _)| k == "offset")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    // Staff see every key, a page at a time in registration-number order; a distributor
    // opens its keys from its clients' cards.
    let (rows, total) = if me.user.role >= Role::Manager {
        keys::page(&me.app, offset, KEY_PAGE).map_err(|e| me.err(e))?
    } else {
        (Vec::new(), 0)
    };
    let ctx = me.ctx("keys", None);
    let body = html! {
        h1 { (t(l, "License keys", "Лицензионные ключи")) }
        form.toolbar.card method="get" action="/keys" {
            label.field.grow.invalid[not_found] {
                span.label { (t(l, "Registration number", "Регистрационный номер")) }
                input type="search" name="regnum" value=(typed) placeholder="LIC-XXXXX-XXXXX-XXXXX-XXXXX" autofocus;
                @if not_found { span.error { (t(l, "No such key.", "Такого ключа нет.")) } }
            }
            button type="submit" { (t(l, "Open", "Открыть")) }
        }
        @if me.user.role >= Role::Manager {
            div.table-wrap { table {
                thead { tr {
                    th { (t(l, "Registration number", "Регистрационный номер")) } th { (t(l, "Client", "Клиент")) }
                    th { (t(l, "State", "Состояние")) } th.num { (t(l, "Items", "Позиций")) } th.hide-sm { (t(l, "Created", "Создан")) }
                } }
                tbody { @for (k, client) in &rows { tr {
                    td.mono { a href=(format!("/keys/{}", k.regnum)) { (k.regnum) } }
                    td { @if let Some((id, company)) = client { a href=(format!("/clients/{id}")) { (company) } } }
                    td { @if k.blocked { span.badge.bad { (t(l, "blocked", "заблокирован")) } } @else { span.badge.ok { (t(l, "active", "активен")) } } }
                    td.num { (k.grants.len()) }
                    td.hide-sm { (crate::web::when_t(k.created_at)) }
                } } }
            }
            @if rows.is_empty() { p.empty { (t(l, "No keys yet.", "Ключей пока нет.")) } } }
            (crate::web::pager(l, offset, rows.len(), Some(total), offset + rows.len() < total, KEY_PAGE, &|o| format!("/keys?offset={o}")))
        } @else {
            p.muted { (t(l, "Keys are also listed on each client's card.", "Ключи также видны в карточке каждого клиента.")) }
        }
    };
    Ok(html_page(
        if not_found {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        },
        page(&ctx, t(l, "Keys", "Ключи"), body),
    ))
}

pub async fn card(
    me: Me,
    path: web::Path<String>,
    q: web::Query<Vec<(String, String)>>,
) -> UiResult {
    let l = me.lang;
    let k = visible(&me, &path)?;
    let lease_rows = leases::monitor_rows(&me.app, Some(&k.regnum), 500).map_err(|e| me.err(e))?;
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let prods = products::list(&tx).map_err(|e| me.err(e))?;
    drop(tx);
    let flash = q
        .iter()
        .find(|(k, _)| k == "done")
        .map(|(_, v)| match v.as_str() {
            "created" => t(
                l,
                "Key generated; it is empty until items are added.",
                "Ключ сгенерирован; он пуст, пока не добавлены позиции.",
            )
            .to_owned(),
            "unbound" => t(l, "Unbound.", "Привязка снята.").to_owned(),
            _ => t(l, "Saved.", "Сохранено.").to_owned(),
        });
    let error = q
        .iter()
        .find(|(k, _)| k == "error")
        .map(|(_, v)| match v.as_str() {
            "seats" => t(
                l,
                "Seats must be at least 1.",
                "Количество мест — не меньше 1.",
            ),
            "feature" => t(l, "Choose a feature.", "Выберите функцию."),
            _ => t(l, "Check the form.", "Проверьте форму."),
        });
    let ctx = me.ctx("keys", flash);
    let staff = me.user.role >= Role::Manager;
    let body = html! {
        div.head-row {
            h1.mono { (k.regnum) }
            @if staff {
                form.inline method="post" action=(format!("/keys/{}/block", k.regnum)) {
                    (csrf_field(&ctx))
                    @if k.blocked {
                        input type="hidden" name="blocked" value="0";
                        button type="submit" { (t(l, "Unblock", "Разблокировать")) }
                    } @else {
                        input type="hidden" name="blocked" value="1";
                        button.danger type="submit" { (t(l, "Block", "Заблокировать")) }
                    }
                }
            }
        }
        @if let Some(e) = error { p.alert role="alert" { (e) } }
        section.card {
            dl.props {
                dt { (t(l, "Client", "Клиент")) }
                dd { @if let Some(c) = &k.client { a href=(format!("/clients/{}", c.id)) { (c.company) } } }
                dt { (t(l, "State", "Состояние")) }
                dd { @if k.blocked { span.badge.bad { (t(l, "blocked", "заблокирован")) } } @else { span.badge.ok { (t(l, "active", "активен")) } } }
                dt { (t(l, "Created", "Создан")) }
                dd { (when(&k.created_at)) }
            }
        }
        h2 { (t(l, "Features now", "Функции сейчас")) }
        div.table-wrap {
            table {
                thead { tr { th { (t(l, "Product", "Продукт")) } th { (t(l, "Feature", "Функция")) } th.num { (t(l, "Seats", "Мест")) } th.num { (t(l, "Used", "Занято")) } th.num { (t(l, "Free", "Свободно")) } th { (t(l, "Until", "До")) } } }
                tbody { @for it in &k.items { tr {
                    td { (it.product) } td { (it.feature) " " span.muted { (it.name) } @if it.trial { " " span.badge.warn { (t(l, "trial", "триал")) } } }
                    td.num { (it.seats) } td.num { (it.used) } td.num { (it.free) }
                    td { (it.expires_at.as_deref().map(when).unwrap_or_else(|| t(l, "no limit", "бессрочно").to_owned())) }
                } } }
            }
            @if k.items.is_empty() { p.empty { (t(l, "The key is empty.", "Ключ пуст.")) } }
        }
        h2 { (t(l, "Items", "Позиции")) }
        div.table-wrap {
            table {
                thead { tr { th { "#" } th { (t(l, "Feature", "Функция")) } th { (t(l, "Source", "Источник")) } th { (t(l, "Seats and expiry", "Места и срок")) } th {} } }
                tbody { @for g in &k.grants { tr {
                    td { (g.id) }
                    td { (g.product) " / " (g.feature) }
                    td { (match g.source.as_str() {
                            "trial" => t(l, "trial", "триал"),
                            "coupon" => t(l, "coupon", "купон"),
                            _ => t(l, "by hand", "вручную"),
                        }) @if let Some(c) = &g.coupon { " " span.mono { (c) } } }
                    td { @if staff {
                        form.inline method="post" action=(format!("/keys/{}/items/{}", k.regnum, g.id)) {
                            (csrf_field(&ctx))
                            input type="number" name="seats" min="1" value=(g.seats) aria-label=(t(l, "Seats", "Мест"));
                            input type="date" name="expires" value=(g.expires_at.as_deref().map(|e| e.chars().take(10).collect::<String>()).unwrap_or_default()) aria-label=(t(l, "Until", "До"));
                            button.small type="submit" name="action" value="change" { (t(l, "Change", "Изменить")) }
                            button.small.danger type="submit" name="action" value="remove" { (t(l, "Remove", "Удалить")) }
                        }
                    } @else { (g.seats) " · " (g.expires_at.as_deref().map(when).unwrap_or_default()) } }
                    td {}
                } } }
            }
            @if k.grants.is_empty() { p.empty { (t(l, "No items.", "Позиций нет.")) } }
        }
        @if staff {
            section.card {
                h2 { (t(l, "Add an item", "Добавить позицию")) }
                form.inline method="post" action=(format!("/keys/{}/items", k.regnum)) {
                    (csrf_field(&ctx))
                    label.field { span.label { (t(l, "Feature", "Функция")) }
                        select name="feature" {
                            @for p in &prods { optgroup label=(format!("{} — {}", p.code, p.name)) {
                                @for f in &p.features { option value=(format!("{}:{}", p.code, f.number)) { (f.number) " " (f.name) } }
                            } }
                        }
                    }
                    label.field { span.label { (t(l, "Seats", "Мест")) } input type="number" name="seats" min="1" value="1"; }
                    label.field { span.label { (t(l, "Until (empty: no limit)", "До (пусто — бессрочно)")) } input type="date" name="expires"; }
                    button type="submit" { (t(l, "Add", "Добавить")) }
                }
            }
        }
        h2 { (t(l, "Bindings and leases", "Привязки и захваты")) }
        (lease_table(&ctx, &lease_rows, &k.client.as_ref().map(|c| [(k.regnum.clone(), (c.id, c.company.clone()))].into_iter().collect()).unwrap_or_default()))
    };
    Ok(html_page(StatusCode::OK, page(&ctx, &k.regnum, body)))
}

/// Live leases with "unbind host" and "end" buttons (shared with the session monitor).
pub fn lease_table(
    ctx: &crate::web::Ctx,
    rows: &[leases::LeaseView],
    owners: &std::collections::HashMap<String, (u64, String)>,
) -> maud::Markup {
    let l = ctx.lang;
    html! {
        div.table-wrap {
            table {
                thead { tr {
                    th { (t(l, "Key", "Ключ")) } th.hide-sm { (t(l, "Client", "Клиент")) } th { (t(l, "Feature", "Функция")) } th { (t(l, "Host", "Компьютер")) }
                    th.hide-sm { (t(l, "Database", "База")) } th { (t(l, "User", "Пользователь")) } th.hide-sm { (t(l, "App", "Приложение")) }
                    th { (t(l, "Since", "С")) } th.hide-sm { (t(l, "Until", "До")) } th {}
                } }
                tbody { @for s in rows { tr {
                    td.mono { a href=(format!("/keys/{}", s.regnum)) { (s.regnum) } }
                    td.hide-sm { @if let Some((id, company)) = owners.get(&s.regnum) { a href=(format!("/clients/{id}")) { (company) } } }
                    td { (s.feature) @if s.bound { " " span.badge { (t(l, "bound", "привязан")) } } }
                    td { (s.host) } td.hide-sm { (s.database) } td { (s.user) }
                    td.hide-sm { (s.app) " " (s.version) }
                    td { (when(&s.since)) }
                    td.hide-sm { @if s.expires_at.is_empty() { span.muted { (t(l, "bound, idle", "привязан, не используется")) } } @else { (when(&s.expires_at)) } }
                    td { form.inline method="post" action="/sessions/end" {
                        (csrf_field(ctx))
                        input type="hidden" name="regnum" value=(s.regnum);
                        input type="hidden" name="host" value=(s.host);
                        input type="hidden" name="feature" value=(s.feature);
                        input type="hidden" name="lease" value=(s.lease);
                        button.small.danger type="submit" name="action" value="unbind" { (t(l, "Unbind", "Отвязать")) }
                    } }
                } } }
            }
            @if rows.is_empty() { p.empty { (t(l, "No live leases.", "Активных захватов нет.")) } }
        }
    }
}

fn expiry(date: &str) -> Option<String> {
    let d = date.trim();
    if d.is_empty() {
        return None;
    }
    Some(format!("{d}T23:59:59Z"))
}

pub async fn add_item(p: Post, path: web::Path<String>) -> UiResult {
    let me = &p.me;
    me.require(Role::Manager)?;
    let k = visible(me, &path)?;
    let Some((product, feature)) = p.form.get("feature").split_once(':') else {
        return Ok(see_other(&format!("/keys/{}?error=feature", k.regnum)));
    };
    let (Ok(feature), Ok(seats)) = (
        feature.parse::<u32>(),
        p.form.get("seats").trim().parse::<u32>(),
    ) else {
        return Ok(see_other(&format!("/keys/{}?error=seats", k.regnum)));
    };
    let input = NewGrant {
        product: product.to_owned(),
        feature,
        seats,
        expires_at: expiry(p.form.get("expires")),
    };
    match keys::add_grant(&me.app, &k.regnum, input).await {
        Ok(_) => {}
        Err(AppError::Malformed(m)) => {
            let which = if m.contains_key("seats") {
                "seats"
            } else {
                "form"
            };
            return Ok(see_other(&format!("/keys/{}?error={which}", k.regnum)));
        }
        Err(e) => return Err(me.err(e)),
    }
    me.audit(
        "key_add_item",
        &k.regnum,
        &format!("{product}/{feature} × {seats}"),
    )
    .await?;
    Ok(see_other(&format!("/keys/{}?done=saved", k.regnum)))
}

pub async fn change_item(p: Post, path: web::Path<(String, u64)>) -> UiResult {
    let me = &p.me;
    me.require(Role::Manager)?;
    let (regnum, id) = path.into_inner();
    let k = visible(me, &regnum)?;
    let remove = p.form.get("action") == "remove";
    let change = if remove {
        None
    } else {
        let Ok(seats) = p.form.get("seats").trim().parse::<u32>() else {
            return Ok(see_other(&format!("/keys/{}?error=seats", k.regnum)));
        };
        Some(GrantChange {
            seats: Some(seats),
            expires_at: Some(expiry(p.form.get("expires"))),
        })
    };
    match keys::change_grant(&me.app, &k.regnum, id, change).await {
        Ok(_) => {}
        Err(AppError::Malformed(_)) => {
            return Ok(see_other(&format!("/keys/{}?error=seats", k.regnum)));
        }
        Err(e) => return Err(me.err(e)),
    }
    let what = if remove {
        "key_remove_item"
    } else {
        "key_change_item"
    };
    me.audit(
        what,
        &k.regnum,
        &format!(
            "item {id} seats {} until {}",
            p.form.get("seats"),
            p.form.get("expires")
        ),
    )
    .await?;
    Ok(see_other(&format!("/keys/{}?done=saved", k.regnum)))
}

pub async fn block(p: Post, path: web::Path<String>) -> UiResult {
    let me = &p.me;
    me.require(Role::Manager)?;
    let k = visible(me, &path)?;
    let blocked = p.form.get("blocked") == "1";
    keys::set_blocked(&me.app, &k.regnum, blocked)
        .await
        .map_err(|e| me.err(e))?;
    me.audit(
        if blocked { "key_block" } else { "key_unblock" },
        &k.regnum,
        "",
    )
    .await?;
    Ok(see_other(&format!("/keys/{}?done=saved", k.regnum)))
}

pub async fn unbind(p: Post, path: web::Path<String>) -> UiResult {
    let me = &p.me;
    let k = visible(me, &path)?;
    let feature = p.form.get("feature").parse::<u32>().ok();
    leases::unbind(&me.app(), &k.regnum, p.form.get("host"), feature)
        .await
        .map_err(|e| me.err(e))?;
    me.audit(
        "unbind",
        &k.regnum,
        &format!(
            "host {} feature {}",
            p.form.get("host"),
            p.form.get("feature")
        ),
    )
    .await?;
    Ok(see_other(&format!("/keys/{}?done=unbound", k.regnum)))
}

/// Used by the session monitor: may this user act on `regnum`?
pub fn check_visible(me: &Me, regnum: &str) -> Result<String, UiError> {
    visible(me, regnum).map(|k| k.regnum)
}
