//! Clients (seed 001): the paged list with quick search, filters, sorting and merge;
//! the card with every field and the vendor's extra fields; keys, coupons and current
//! sessions from the card; a new empty key; delete; create by hand.
use crate::domain::{Client, Role, User};
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;
use crate::service::clients::{self, ClientInput};
use crate::service::{App, distributors, keys, leases, settings, users};
use crate::web::{Ctx, FieldErrors, csrf_field, field, page, pager, select, t, textarea, when};
use crate::web::{Me, Post, UiError, UiResult, html_page, see_other};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};
use std::collections::BTreeMap;

pub const PAGE: usize = 50;

/// Whether `user` may see and change client `c`.
pub fn can_see(user: &User, c_distributor: &str) -> bool {
    match user.role {
        Role::Distributor => !user.distributor.is_empty() && user.distributor == c_distributor,
        _ => true,
    }
}

#[derive(Default, Clone)]
pub struct Filter {
    pub q: String,
    pub manager: String,
    pub distributor: String,
    pub old_first: bool,
    /// By company name, A to Z (then by id).
    pub by_company: bool,
    pub offset: usize,
}

impl Filter {
    /// What the service is asked for.
    fn browse(&self) -> clients::Browse {
        clients::Browse {
            q: self.q.clone(),
            manager: self.manager.clone(),
            distributor: self.distributor.clone(),
            old_first: self.old_first,
            by_company: self.by_company,
            offset: self.offset,
        }
    }

    fn from_query(q: &[(String, String)], me: &User) -> Filter {
        let get = |k: &str| {
            q.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        let mut f = Filter {
            q: get("q"),
            manager: get("manager"),
            distributor: get("distributor"),
            old_first: get("sort") == "old",
            by_company: get("sort") == "company",
            offset: get("offset").parse().unwrap_or(0),
        };
        if get("mine") == "1" {
            f.manager = me.login.clone();
        }
        if me.role == Role::Distributor {
            f.distributor = me.distributor.clone();
        }
        f
    }

    fn href(&self, offset: usize) -> String {
        let mut s = format!("/clients?offset={offset}");
        for (k, v) in [
            ("q", &self.q),
            ("manager", &self.manager),
            ("distributor", &self.distributor),
        ] {
            if !v.is_empty() {
                s.push_str(&format!("&{k}={}", crate::web::urlencode(v)));
            }
        }
        if self.old_first {
            s.push_str("&sort=old");
        }
        if self.by_company {
            s.push_str("&sort=company");
        }
        s
    }
}

/// Choices of a select: (value, text).
type Options = Vec<(String, String)>;

/// The managers and distributors a client can be assigned to.
fn people(app: &App, l: Lang) -> AppResult<(Options, Options)> {
    let tx = app.store.read()?;
    let mut managers = vec![(
        String::new(),
        t(l, "— none —", "— не назначен —").to_owned(),
    )];
    for u in users::list(&tx)? {
        if u.role >= Role::Manager && !u.disabled {
            managers.push((u.login.clone(), u.login));
        }
    }
    let mut dists = vec![(String::new(), t(l, "— none —", "— нет —").to_owned())];
    for d in distributors::list(&tx)? {
        dists.push((d.code.clone(), format!("{} ({})", d.name, d.code)));
    }
    Ok((managers, dists))
}

pub async fn list(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    let l = me.lang;
    let f = Filter::from_query(&q, &me.user);
    let (rows, total, more) = clients::browse(&me.app, &f.browse(), PAGE).map_err(|e| me.err(e))?;
    let (managers, dists) = people(&me.app, l).map_err(|e| me.err(e))?;
    let flash = q
        .iter()
        .find(|(k, _)| k == "done")
        .map(|(_, v)| done_text(l, v));
    let ctx = me.ctx("clients", flash);
    let can_merge = me.user.role >= Role::Manager;
    let body = html! {
        div.head-row {
            h1 { (t(l, "Clients", "Клиенты")) }
            a.button href="/clients/new" { "+ " (t(l, "New client", "Новый клиент")) }
        }
        form.toolbar.card method="get" action="/clients" role="search" {
            label.field.grow {
                span.label { (t(l, "Quick search: company, contact, phone, e-mail, comment", "Быстрый поиск: компания, контакт, телефон, e-mail, комментарий")) }
                input type="search" name="q" value=(f.q) autofocus;
            }
            @if me.user.role != Role::Distributor {
                (select(t(l, "Manager", "Менеджер"), "manager", &f.manager, &with_any(l, &managers)))
                (select(t(l, "Distributor", "Дистрибьютор"), "distributor", &f.distributor, &with_any(l, &dists)))
            }
            (select(t(l, "Order", "Порядок"), "sort", if f.by_company { "company" } else if f.old_first { "old" } else { "new" },
                &[("new".into(), t(l, "Newest first", "Сначала новые").into()), ("old".into(), t(l, "Oldest first", "Сначала старые").into()),
                  ("company".into(), t(l, "Company A–Z", "Компания А–Я").into())]))
            button type="submit" { (t(l, "Find", "Найти")) }
            @if me.user.role >= Role::Manager {
                a.button.ghost href=(format!("/clients?mine=1")) { (t(l, "My clients", "Мои клиенты")) }
            }
        }
        @if !f.q.is_empty() && !f.by_company && total.is_some_and(|n| n >= crate::service::search::MAX_MATCHES) {
            p.muted { (t(l, "Very many matches: the newest 10,000 are shown; refine the search to see others.",
                         "Очень много совпадений: показаны 10 000 самых новых; уточните поиск, чтобы увидеть остальные.")) }
        }
        form method="post" action="/clients/merge" {
            (csrf_field(&ctx))
            div.table-wrap {
                table {
                    thead { tr {
                        @if can_merge {
                            th.hide-sm title=(t(l, "The card that stays", "Карточка, которая останется")) { (t(l, "Main", "Основной")) }
                            th.hide-sm title=(t(l, "Merged into the main one", "Будут присоединены к основному")) { (t(l, "Merge", "Присоединить")) }
                        }
                        th { (t(l, "Company", "Компания")) }
                        th.hide-sm { (t(l, "Contact", "Контакт")) }
                        th.hide-sm { (t(l, "Phone", "Телефон")) }
                        th.hide-sm { "E-mail" }
                        th.hide-sm { (t(l, "Manager", "Менеджер")) }
                        th.num { (t(l, "Keys", "Ключи")) }
                    } }
                    tbody {
                        @for c in &rows {
                            tr {
                                @if can_merge {
                                    td.hide-sm { input type="radio" name="into" value=(c.id) aria-label=(t(l, "Main", "Основной")); }
                                    td.hide-sm { input type="checkbox" name="from" value=(c.id) aria-label=(t(l, "Merge", "Присоединить")); }
                                }
                                td { a href=(format!("/clients/{}", c.id)) { (c.company) } }
                                td.hide-sm { (c.contact) }
                                td.hide-sm.mono { (c.phone) }
                                td.hide-sm { (c.email) }
                                td.hide-sm { (c.manager) }
                                td.num { (c.keys.len()) }
                            }
                        }
                    }
                }
                @if rows.is_empty() { p.empty { (t(l, "No clients match.", "Подходящих клиентов нет.")) } }
            }
            (pager(l, f.offset, rows.len(), total, more, PAGE, &|o| f.href(o)))
            @if can_merge && !rows.is_empty() {
                div.actions.hide-sm {
                    button.ghost type="submit" { (t(l, "Merge", "Объединить")) }
                    span.muted { (t(l, "Choose the main client, tick the duplicates, then Merge: their keys move to the main one.",
                                    "Выберите основного клиента, отметьте дубли и нажмите «Объединить»: их ключи перейдут к основному.")) }
                }
            }
        }
    };
    Ok(html_page(
        StatusCode::OK,
        page(&ctx, t(l, "Clients", "Клиенты"), body),
    ))
}

fn with_any(l: Lang, opts: &[(String, String)]) -> Vec<(String, String)> {
    let mut v = vec![(String::new(), t(l, "Any", "Все").to_owned())];
    v.extend(opts.iter().skip(1).cloned());
    v
}

pub fn done_text(l: Lang, what: &str) -> String {
    match what {
        "merged" => t(l, "Clients merged.", "Клиенты объединены."),
        "deleted" => t(l, "Client deleted.", "Клиент удалён."),
        "created" => t(l, "Client created.", "Клиент создан."),
        "saved" => t(l, "Saved.", "Сохранено."),
        _ => t(l, "Done.", "Готово."),
    }
    .to_owned()
}

fn new_form(ctx: &Ctx, c: &Client, errors: &FieldErrors) -> Markup {
    let l = ctx.lang;
    html! {
        h1 { (t(l, "New client", "Новый клиент")) }
        section.card {
            form.grid method="post" action="/clients/new" {
                (csrf_field(ctx))
                (field(t(l, "Company", "Компания"), "company", "text", &c.company, errors))
                (field(t(l, "Contact", "Контакт"), "contact", "text", &c.contact, errors))
                (field(t(l, "Phone", "Телефон"), "phone", "text", &c.phone, errors))
                (field("E-mail", "email", "text", &c.email, errors))
                div.actions {
                    button type="submit" { (t(l, "Create", "Создать")) }
                    a.button.ghost href="/clients" { (t(l, "Cancel", "Отмена")) }
                }
            }
        }
    }
}

pub async fn new_form_page(me: Me) -> UiResult {
    let ctx = me.ctx("clients", None);
    Ok(html_page(
        StatusCode::OK,
        page(
            &ctx,
            t(me.lang, "New client", "Новый клиент"),
            new_form(&ctx, &Client::default(), &FieldErrors::new()),
        ),
    ))
}

fn errors_of(l: Lang, e: &AppError) -> Option<FieldErrors> {
    match e {
        AppError::Malformed(m) => Some(
            m.keys()
                .map(|k| (k.clone(), super::auth::field_msg(l, k)))
                .collect(),
        ),
        _ => None,
    }
}

pub async fn create(p: Post) -> UiResult {
    let me = &p.me;
    let l = me.lang;
    let mut input = ClientInput {
        company: Some(p.form.get("company").to_owned()),
        contact: Some(p.form.get("contact").to_owned()),
        phone: Some(p.form.get("phone").to_owned()),
        email: Some(p.form.get("email").to_owned()),
        ..Default::default()
    };
    if me.user.role == Role::Distributor {
        input.distributor = Some(me.user.distributor.clone());
    }
    match clients::create(&me.app, input).await {
        Ok(c) => {
            me.audit("client_create", &format!("client {}", c.id), &c.company)
                .await?;
            Ok(see_other(&format!("/clients/{}?done=created", c.id)))
        }
        Err(e) => match errors_of(l, &e) {
            Some(errors) => {
                let c = Client {
                    company: p.form.get("company").into(),
                    contact: p.form.get("contact").into(),
                    phone: p.form.get("phone").into(),
                    email: p.form.get("email").into(),
                    ..Default::default()
                };
                let ctx = me.ctx("clients", None);
                Ok(html_page(
                    StatusCode::BAD_REQUEST,
                    page(
                        &ctx,
                        t(l, "New client", "Новый клиент"),
                        new_form(&ctx, &c, &errors),
                    ),
                ))
            }
            None => Err(me.err(e)),
        },
    }
}

pub async fn merge(p: Post) -> UiResult {
    let me = &p.me;
    me.require(Role::Manager)?;
    let l = me.lang;
    let into: Option<u64> = p.form.get("into").parse().ok();
    let from: Vec<u64> = p
        .form
        .all("from")
        .iter()
        .filter_map(|s| s.parse().ok())
        .filter(|id| Some(*id) != into)
        .collect();
    let (Some(into), false) = (into, from.is_empty()) else {
        let ctx = me.ctx("clients", None);
        return Ok(html_page(
            StatusCode::BAD_REQUEST,
            crate::web::message_page(
                &ctx,
                t(l, "Nothing to merge", "Нечего объединять"),
                t(
                    l,
                    "Choose the main client and tick at least one other client.",
                    "Выберите основного клиента и отметьте хотя бы одного другого.",
                ),
            ),
        ));
    };
    let survivor = clients::merge(&me.app, into, from.clone())
        .await
        .map_err(|e| me.err(e))?;
    let ids: Vec<String> = from.iter().map(u64::to_string).collect();
    me.audit(
        "client_merge",
        &format!("client {into}"),
        &format!("merged {}", ids.join(", ")),
    )
    .await?;
    Ok(see_other(&format!("/clients/{}?done=merged", survivor.id)))
}

pub fn load_visible(me: &Me, id: u64) -> Result<Client, UiError> {
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let c = clients::load(&tx, id)
        .map_err(|e| me.err(e))?
        .ok_or(me.not_found())?;
    if !can_see(&me.user, &c.distributor) {
        return Err(me.forbidden());
    }
    Ok(c)
}

struct CardData {
    prefs: crate::domain::cabinet::ClientPrefs,
    keys: Vec<crate::service::views::KeyView>,
    leases: Vec<leases::LeaseView>,
    extra_fields: Vec<String>,
    managers: Vec<(String, String)>,
    dists: Vec<(String, String)>,
}

fn card_data(me: &Me, id: u64) -> AppResult<CardData> {
    let app = &me.app;
    let tx = app.store.read()?;
    let mut ks = Vec::new();
    let mut ls = Vec::new();
    for r in clients::keys_of(&tx, id)? {
        if let Some(k) = keys::load(&tx, &r)? {
            ks.push(keys::view(app, &tx, &k)?);
        }
        ls.extend(crate::service::leases::monitor_rows(app, Some(&r), 200)?);
    }
    let extra_fields = settings::read(&tx)?.extra_fields;
    let (managers, dists) = people(app, me.lang)?;
    Ok(CardData {
        prefs: crate::service::cabinet::prefs(&tx, id)?,
        keys: ks,
        leases: ls,
        extra_fields,
        managers,
        dists,
    })
}

fn card(
    me: &Me,
    ctx: &Ctx,
    c: &Client,
    d: &CardData,
    errors: &FieldErrors,
    alert: Option<String>,
) -> Markup {
    let l = me.lang;
    let staff = me.user.role >= Role::Manager;
    let coupons: Vec<(String, String, String)> = d
        .keys
        .iter()
        .flat_map(|k| {
            k.grants.iter().filter_map(|g| {
                g.coupon
                    .clone()
                    .map(|c| (c, k.regnum.clone(), g.added_at.clone()))
            })
        })
        .collect();
    html! {
        (super::client_reports::tabs(l, c.id, "card"))
        div.head-row {
            h1 { (c.company) }
            div.actions {
                form.inline method="post" action=(format!("/clients/{}/keys", c.id)) {
                    (csrf_field(ctx))
                    button type="submit" { "+ " (t(l, "Generate new key", "Сгенерировать новый ключ")) }
                }
                @if staff {
                    form.inline method="post" action=(format!("/clients/{}/delete", c.id)) {
                        (csrf_field(ctx))
                        button.danger type="submit" { (t(l, "Delete client", "Удалить клиента")) }
                    }
                }
            }
        }
        @if let Some(a) = alert { p.alert role="alert" { (a) } }
        section.card {
            h2 { (t(l, "Card", "Карточка")) }
            form.grid method="post" action=(format!("/clients/{}", c.id)) {
                (csrf_field(ctx))
                (field(t(l, "Company", "Компания"), "company", "text", &c.company, errors))
                (field(t(l, "Contact", "Контакт"), "contact", "text", &c.contact, errors))
                (field(t(l, "Phone", "Телефон"), "phone", "text", &c.phone, errors))
                (field(t(l, "E-mail (buyer: activations, expiry, reports)", "Email (покупатель: активации, сроки, отчёты)"), "email", "text", &c.email, errors))
                (field(t(l, "Alert e-mail (license problems, new releases)", "Почта для оповещений о проблемах и релизах"), "alert_email", "text", &c.alert_email, errors))
                (field(t(l, "CRM ID1 (e.g. INN)", "CRM ID1 (например, ИНН)"), "crm_id1", "text", &c.crm_id1, errors))
                (field(t(l, "CRM ID2 (1C counterparty id)", "CRM ID2 (ид. контрагента 1С)"), "crm_id2", "text", &c.crm_id2, errors))
                @if staff {
                    (select(t(l, "Responsible manager", "Ответственный менеджер"), "manager", &c.manager, &with_current(&d.managers, &c.manager)))
                    (select(t(l, "Distributor", "Дистрибьютор"), "distributor", &c.distributor, &with_current(&d.dists, &c.distributor)))
                } @else {
                    label.field { span.label { (t(l, "Responsible manager", "Ответственный менеджер")) } span { (c.manager) } }
                }
                @for name in &d.extra_fields {
                    (field(name, &format!("extra:{name}"), "text", c.extra.get(name).map_or("", String::as_str), errors))
                }
                (textarea(t(l, "Comment", "Комментарий"), "comment", &c.comment, errors))
                div.actions {
                    button type="submit" { (t(l, "Save", "Сохранить")) }
                    span.muted { (t(l, "Created", "Создан")) ": " (c.created_at.map(crate::web::when_t).unwrap_or_default())
                        " · " (if c.origin == "trial" { t(l, "by a trial", "из триала") } else { t(l, "by hand", "вручную") }) }
                }
            }
        }
        (mail_card(me, ctx, c, &d.prefs))
        h2 { (t(l, "License keys", "Лицензионные ключи")) }
        div.table-wrap {
            table {
                thead { tr { th { (t(l, "Registration number", "Регистрационный номер")) } th { (t(l, "State", "Состояние")) } th { (t(l, "Items", "Позиции")) } th { (t(l, "Created", "Создан")) } } }
                tbody {
                    @for k in &d.keys {
                        tr {
                            td.mono { a href=(format!("/keys/{}", k.regnum)) { (k.regnum) } }
                            td { @if k.blocked { span.badge.bad { (t(l, "blocked", "заблокирован")) } } @else { span.badge.ok { (t(l, "active", "активен")) } } }
                            td { @if k.items.is_empty() { span.muted { (t(l, "empty", "пустой")) } }
                                 @for it in &k.items { span.badge { (it.feature) " × " (it.seats) } " " } }
                            td { (when(&k.created_at)) }
                        }
                    }
                }
            }
            @if d.keys.is_empty() { p.empty { (t(l, "No keys yet.", "Ключей пока нет.")) } }
        }
        div.cols {
            div {
                h2 { (t(l, "Coupons", "Купоны")) }
                div.table-wrap {
                    table {
                        thead { tr { th { (t(l, "Coupon", "Купон")) } th { (t(l, "Key", "Ключ")) } th { (t(l, "Activated", "Активирован")) } } }
                        tbody { @for (code, regnum, at) in &coupons { tr { td.mono { (code) } td.mono { (regnum) } td { (when(at)) } } } }
                    }
                    @if coupons.is_empty() { p.empty { (t(l, "No coupons activated.", "Купоны не активировались.")) } }
                }
            }
            div {
                h2 { (t(l, "Current sessions", "Текущие сеансы")) }
                div.table-wrap {
                    table {
                        thead { tr { th { (t(l, "Feature", "Функция")) } th { (t(l, "Host", "Компьютер")) } th { (t(l, "User", "Пользователь")) } th { (t(l, "Since", "С")) } } }
                        tbody { @for s in &d.leases { tr { td { (s.feature) } td { (s.host) } td { (s.user) } td { (when(&s.since)) } } } }
                    }
                    @if d.leases.is_empty() { p.empty { (t(l, "No live sessions.", "Активных сеансов нет.")) } }
                }
                @if !d.leases.is_empty() { p { a href=(format!("/sessions?client={}", c.id)) { (t(l, "Open in the session monitor", "Открыть в мониторе сеансов")) " →" } } }
            }
        }
    }
}

/// Whether `user` may mute a client's alerts: an admin, or its responsible manager.
pub fn can_mute(user: &User, c: &Client) -> bool {
    match user.role {
        Role::Admin => true,
        Role::Manager => !c.manager.is_empty() && c.manager == user.login,
        Role::Distributor => false,
    }
}

/// What mail the client gets: its own choices (read-only here) and the staff mute.
fn mail_card(me: &Me, ctx: &Ctx, c: &Client, p: &crate::domain::cabinet::ClientPrefs) -> Markup {
    let l = me.lang;
    let choice = |off: bool| {
        if off {
            html! { span.badge.warn { (t(l, "turned off by the client", "отключено клиентом")) } }
        } else {
            html! { span.badge.ok { (t(l, "sent", "отправляются")) } }
        }
    };
    html! {
        section.card id="mail" {
            h2 { (t(l, "Mail", "Почта")) }
            dl.props {
                dt { (t(l, "Expiry reminders", "Напоминания об окончании")) } dd { (choice(p.no_expiry_mail)) }
                dt { (t(l, "License alerts", "Оповещения о лицензиях")) } dd { (choice(p.no_alert_mail)) }
                dt { (t(l, "Release news", "Новости о релизах")) } dd { (choice(p.no_release_mail)) }
            }
            p.muted { (t(l, "The client chooses these in its cabinet; one-time codes and password links are always sent.", "Клиент выбирает это в кабинете; одноразовые коды и ссылки для пароля приходят всегда.")) }
            @if can_mute(&me.user, c) {
                form.inline method="post" action=(format!("/clients/{}/mail", c.id)) {
                    (csrf_field(ctx))
                    label.field.check { input type="checkbox" name="alerts_muted" value="1" checked[p.alerts_muted]; (t(l, "mute license alerts for this client", "заглушить оповещения о лицензиях для этого клиента")) }
                    button.small type="submit" { (t(l, "Save", "Сохранить")) }
                }
            } @else if p.alerts_muted {
                p { span.badge.warn { (t(l, "license alerts muted by staff", "оповещения о лицензиях заглушены сотрудниками")) } }
            }
        }
    }
}

pub async fn mute(p: Post, path: web::Path<u64>) -> UiResult {
    let me = &p.me;
    let id = path.into_inner();
    let c = load_visible(me, id)?;
    if !can_mute(&me.user, &c) {
        return Err(me.forbidden());
    }
    let muted = p.form.has("alerts_muted");
    crate::service::cabinet::mute_alerts(&me.app, id, muted, &me.user.login)
        .await
        .map_err(|e| me.err(e))?;
    Ok(see_other(&format!("/clients/{id}?done=saved#mail")))
}

fn with_current(opts: &[(String, String)], current: &str) -> Vec<(String, String)> {
    let mut v = opts.to_vec();
    if !current.is_empty() && !v.iter().any(|(k, _)| k == current) {
        v.push((current.to_owned(), current.to_owned()));
    }
    v
}

pub async fn card_page(
    me: Me,
    path: web::Path<u64>,
    q: web::Query<Vec<(String, String)>>,
) -> UiResult {
    let id = path.into_inner();
    let c = load_visible(&me, id)?;
    let d = card_data(&me, id).map_err(|e| me.err(e))?;
    let flash = q
        .iter()
        .find(|(k, _)| k == "done")
        .map(|(_, v)| done_text(me.lang, v));
    let ctx = me.ctx("clients", flash);
    Ok(html_page(
        StatusCode::OK,
        page(
            &ctx,
            &c.company,
            card(&me, &ctx, &c, &d, &FieldErrors::new(), None),
        ),
    ))
}

pub async fn update(p: Post, path: web::Path<u64>) -> UiResult {
    let me = &p.me;
    let l = me.lang;
    let id = path.into_inner();
    let old = load_visible(me, id)?;
    let f = &p.form;
    let staff = me.user.role >= Role::Manager;
    let mut extra = BTreeMap::new();
    for (k, v) in &f.0 {
        if let Some(name) = k.strip_prefix("extra:") {
            extra.insert(name.to_owned(), v.trim().to_owned());
        }
    }
    let input = ClientInput {
        company: Some(f.get("company").to_owned()),
        contact: Some(f.get("contact").to_owned()),
        phone: Some(f.get("phone").to_owned()),
        email: Some(f.get("email").to_owned()),
        alert_email: Some(f.get("alert_email").to_owned()),
        crm_id1: Some(f.get("crm_id1").to_owned()),
        crm_id2: Some(f.get("crm_id2").to_owned()),
        manager: staff.then(|| f.get("manager").to_owned()),
        distributor: staff.then(|| f.get("distributor").to_owned()),
        comment: Some(f.get("comment").to_owned()),
        extra: Some(extra.clone()),
    };
    let mut errors = FieldErrors::new();
    if f.get("company").trim().is_empty() {
        errors.insert("company".into(), super::auth::field_msg(l, "company"));
    }
    if errors.is_empty() {
        match clients::update(&me.app, id, input).await {
            Ok(_) => {
                me.audit("client_update", &format!("client {id}"), f.get("company"))
                    .await?;
                return Ok(see_other(&format!("/clients/{id}?done=saved")));
            }
            Err(e) => match errors_of(l, &e) {
                Some(e) => errors = e,
                None => return Err(me.err(e)),
            },
        }
    }
    let typed = Client {
        id,
        company: f.get("company").into(),
        contact: f.get("contact").into(),
        phone: f.get("phone").into(),
        email: f.get("email").into(),
        alert_email: f.get("alert_email").into(),
        crm_id1: f.get("crm_id1").into(),
        crm_id2: f.get("crm_id2").into(),
        manager: if staff {
            f.get("manager").into()
        } else {
            old.manager.clone()
        },
        distributor: if staff {
            f.get("distributor").into()
        } else {
            old.distributor.clone()
        },
        comment: f.get("comment").into(),
        extra,
        ..old
    };
    let d = card_data(me, id).map_err(|e| me.err(e))?;
    let ctx = me.ctx("clients", None);
    let alert = Some(t(l, "Check the marked fields.", "Проверьте отмеченные поля.").to_owned());
    Ok(html_page(
        StatusCode::BAD_REQUEST,
        page(
            &ctx,
            &typed.company,
            card(me, &ctx, &typed, &d, &errors, alert),
        ),
    ))
}

pub async fn new_key(p: Post, path: web::Path<u64>) -> UiResult {
    let me = &p.me;
    let id = path.into_inner();
    load_visible(me, id)?;
    let regnum = keys::create_for_client(&me.app, id)
        .await
        .map_err(|e| me.err(e))?;
    me.audit("key_create", &regnum, &format!("client {id}"))
        .await?;
    Ok(see_other(&format!("/keys/{regnum}?done=created")))
}

pub async fn delete(p: Post, path: web::Path<u64>) -> UiResult {
    let me = &p.me;
    me.require(Role::Manager)?;
    let l = me.lang;
    let id = path.into_inner();
    let c = load_visible(me, id)?;
    match clients::delete(&me.app, id).await {
        Ok(_) => {
            me.audit("client_delete", &format!("client {id}"), &c.company)
                .await?;
            Ok(see_other("/clients?done=deleted"))
        }
        Err(AppError::Conflict {
            reason: "client_has_keys",
            ..
        }) => {
            let d = card_data(me, id).map_err(|e| me.err(e))?;
            let ctx = me.ctx("clients", None);
            let alert = Some(
                t(l, "This client has keys with items; remove the items or merge the client first.",
                  "У клиента есть ключи с позициями: сначала удалите позиции или объедините клиента.")
                    .to_owned(),
            );
            Ok(html_page(
                StatusCode::CONFLICT,
                page(
                    &ctx,
                    &c.company,
                    card(me, &ctx, &c, &d, &FieldErrors::new(), alert),
                ),
            ))
        }
        Err(e) => Err(me.err(e)),
    }
}
