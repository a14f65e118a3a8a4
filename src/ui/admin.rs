//! Admin screens: products & features, distributors, staff users, API tokens,
//! settings, and the audit log.
use super::{FieldErrors, csrf_field, field, page, role_name, select, t, textarea, when, when_t};
use crate::domain::{Role, Unit};
use crate::error::AppError;
use crate::http::ui::{Fields, Me, Post, UiResult, html_page, see_other};
use crate::i18n::Lang;
use crate::service::products::{NewFeature, NewProduct, NewTrial, NewTrialItem};
use crate::service::{audit, auth, distributors, products, settings, users};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};

fn done(l: Lang, q: &[(String, String)]) -> Option<String> {
    q.iter()
        .find(|(k, _)| k == "done")
        .map(|_| t(l, "Saved.", "Сохранено.").to_owned())
}

fn bad(l: Lang, e: &AppError) -> Option<FieldErrors> {
    match e {
        AppError::Malformed(m) => Some(
            m.iter()
                .map(|(k, v)| {
                    let key = k.split(['[', '.']).next().unwrap_or(k).to_owned();
                    (key, format!("{} ({v})", super::auth::field_msg(l, k)))
                })
                .collect(),
        ),
        AppError::Conflict { reason, .. } => {
            let (k, en, ru) = match *reason {
                "product_code_taken" => ("code", "This code is taken", "Этот код уже занят"),
                "feature_number_taken" => (
                    "features",
                    "A feature number is taken by another product",
                    "Номер функции занят другим продуктом",
                ),
                "login_taken" => ("login", "This login is taken", "Этот логин уже занят"),
                "distributor_code_taken" => ("code", "This code is taken", "Этот код уже занят"),
                "last_admin" => (
                    "role",
                    "The last administrator must stay",
                    "Последний администратор должен остаться",
                ),
                _ => ("form", "Conflict", "Конфликт"),
            };
            Some(
                [(k.to_owned(), t(l, en, ru).to_owned())]
                    .into_iter()
                    .collect(),
            )
        }
        _ => None,
    }
}

// ---------- Products ----------

fn unit_name(l: Lang, u: Unit) -> &'static str {
    match u {
        Unit::User => t(l, "per user", "на пользователя"),
        Unit::Host => t(l, "per host", "на компьютер"),
        Unit::Database => t(l, "per database", "на базу"),
        Unit::Session => t(l, "per session", "на сеанс"),
    }
}

fn products_page(
    me: &Me,
    typed: &Fields,
    errors: &FieldErrors,
    flash: Option<String>,
) -> Result<Markup, crate::http::ui::UiError> {
    let l = me.lang;
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let list = products::list(&tx).map_err(|e| me.err(e))?;
    drop(tx);
    let ctx = me.ctx("products", flash);
    let body = html! {
        h1 { (t(l, "Products & features", "Продукты и функции")) }
        @for p in &list {
            section.card {
                div.head-row { h2 { (p.name) " " span.muted.mono { (p.code) } } span.muted { (t(l, "heartbeat", "пульс")) " " (p.heartbeat_s) " " (t(l, "s", "с")) } }
                div.table-wrap { table {
                    thead { tr { th.num { "#" } th { (t(l, "Feature", "Функция")) } th { (t(l, "Counted", "Учёт")) } th { (t(l, "Trial seats", "Мест в триале")) } } }
                    tbody { @for f in &p.features { tr {
                        td.num { (f.number) } td { (f.name) } td { (unit_name(l, f.unit)) }
                        td { (p.trial.as_ref().and_then(|tr| tr.items.iter().find(|i| i.feature == f.number)).map(|i| i.seats.to_string()).unwrap_or_default()) }
                    } } }
                } }
                p.muted { (t(l, "Trial", "Триал")) ": " (p.trial.as_ref().map(|tr| format!("{} {}", tr.days, t(l, "days", "дн."))).unwrap_or_else(|| t(l, "none", "нет").to_owned())) }
            }
        }
        @if list.is_empty() { p.empty { (t(l, "No products yet.", "Продуктов пока нет.")) } }
        @if me.user.role >= Role::Admin {
            section.card {
                h2 { (t(l, "New product", "Новый продукт")) }
                form.grid method="post" action="/products" {
                    (csrf_field(&ctx))
                    (field(t(l, "Code", "Код"), "code", "text", typed.get("code"), errors))
                    (field(t(l, "Name", "Название"), "name", "text", typed.get("name"), errors))
                    (field(t(l, "Heartbeat interval, s", "Интервал пульса, с"), "heartbeat_s", "number", if typed.has("heartbeat_s") { typed.get("heartbeat_s") } else { "60" }, errors))
                    (field(t(l, "Trial days (empty: no trial)", "Дней триала (пусто — без триала)"), "trial_days", "number", typed.get("trial_days"), errors))
                    (textarea(t(l, "Features, one a line: number; name; unit (user, host, database, session); trial seats",
                                "Функции, по одной в строке: номер; название; учёт (user, host, database, session); мест в триале"),
                              "features", typed.get("features"), errors))
                    div.actions { button type="submit" { (t(l, "Create product", "Создать продукт")) } }
                }
            }
        }
    };
    Ok(page(&ctx, t(l, "Products", "Продукты"), body))
}

pub async fn products_list(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    me.require(Role::Manager)?;
    let flash = done(me.lang, &q);
    Ok(html_page(
        StatusCode::OK,
        products_page(&me, &Fields::default(), &FieldErrors::new(), flash)?,
    ))
}

pub async fn products_create(p: Post) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let l = me.lang;
    let f = &p.form;
    let mut errors = FieldErrors::new();
    let mut features = Vec::new();
    let mut trial_items = Vec::new();
    for (i, line) in f
        .get("features")
        .lines()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        let parts: Vec<&str> = line.split(';').map(str::trim).collect();
        let number = parts.first().and_then(|n| n.parse::<u32>().ok());
        let unit = match parts
            .get(2)
            .copied()
            .unwrap_or("user")
            .to_ascii_lowercase()
            .as_str()
        {
            "user" | "" => Some(Unit::User),
            "host" => Some(Unit::Host),
            "database" => Some(Unit::Database),
            "session" => Some(Unit::Session),
            _ => None,
        };
        match (number, parts.get(1), unit) {
            (Some(number), Some(name), Some(unit)) if !name.is_empty() => {
                features.push(NewFeature {
                    number,
                    name: (*name).to_owned(),
                    unit,
                });
                if let Some(s) = parts
                    .get(3)
                    .and_then(|s| s.parse::<u32>().ok())
                    .filter(|s| *s > 0)
                {
                    trial_items.push(NewTrialItem {
                        feature: number,
                        seats: s,
                    });
                }
            }
            _ => {
                let msg = match l {
                    Lang::En => format!("Line {}: expected number; name; unit; trial seats", i + 1),
                    Lang::Ru => format!(
                        "Строка {}: ожидается номер; название; учёт; мест в триале",
                        i + 1
                    ),
                };
                errors.insert("features".into(), msg);
            }
        }
    }
    if features.is_empty() && !errors.contains_key("features") {
        errors.insert(
            "features".into(),
            t(l, "At least one feature", "Хотя бы одна функция").into(),
        );
    }
    let heartbeat_s = match f.get("heartbeat_s").trim() {
        "" => None,
        s => match s.parse::<u32>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.insert(
                    "heartbeat_s".into(),
                    t(l, "5 to 86400 seconds", "От 5 до 86400 секунд").into(),
                );
                None
            }
        },
    };
    let trial = match f.get("trial_days").trim() {
        "" => None,
        s => match s.parse::<u32>() {
            Ok(days) => Some(NewTrial {
                days,
                items: trial_items,
            }),
            Err(_) => {
                errors.insert(
                    "trial_days".into(),
                    t(l, "A number of days", "Число дней").into(),
                );
                None
            }
        },
    };
    if errors.is_empty() {
        let input = NewProduct {
            code: f.get("code").to_owned(),
            name: f.get("name").to_owned(),
            heartbeat_s,
            features,
            trial,
        };
        match products::create(&me.app, input).await {
            Ok(pr) => {
                me.audit("product_create", &pr.code, &pr.name).await?;
                return Ok(see_other("/products?done=created"));
            }
            Err(e) => match bad(l, &e) {
                Some(e) => errors = e,
                None => return Err(me.err(e)),
            },
        }
    }
    Ok(html_page(
        StatusCode::BAD_REQUEST,
        products_page(me, f, &errors, None)?,
    ))
}

// ---------- Distributors ----------

fn distributors_page(
    me: &Me,
    typed: &Fields,
    errors: &FieldErrors,
    flash: Option<String>,
) -> Result<Markup, crate::http::ui::UiError> {
    let l = me.lang;
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let list = distributors::list(&tx).map_err(|e| me.err(e))?;
    drop(tx);
    let ctx = me.ctx("distributors", flash);
    let body = html! {
        h1 { (t(l, "Distributors", "Дистрибьюторы")) }
        div.table-wrap { table {
            thead { tr { th { (t(l, "Code", "Код")) } th { (t(l, "Name", "Название")) } th { "E-mail" } th { (t(l, "Clients", "Клиенты")) } } }
            tbody { @for d in &list { tr {
                td.mono { (d.code) } td { (d.name) } td { (d.email) }
                td { a href=(format!("/clients?distributor={}", super::clients::urlencode(&d.code))) { (t(l, "Show", "Показать")) } }
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

// ---------- Users ----------

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
) -> Result<Markup, crate::http::ui::UiError> {
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

// ---------- API tokens ----------

fn tokens_page(
    me: &Me,
    shown: Option<(&str, &str)>,
    typed_name: &str,
    errors: &FieldErrors,
    flash: Option<String>,
) -> Result<Markup, crate::http::ui::UiError> {
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

// ---------- Settings ----------

fn settings_form(
    me: &Me,
    s: &crate::domain::Settings,
    extra_text: &str,
    errors: &FieldErrors,
    flash: Option<String>,
) -> Markup {
    let l = me.lang;
    let ctx = me.ctx("settings", flash);
    let body = html! {
        h1 { (t(l, "Settings", "Настройки")) }
        section.card {
            form.grid method="post" action="/settings" {
                (csrf_field(&ctx))
                (field(t(l, "Vendor name", "Название вендора"), "vendor_name", "text", &s.vendor_name, errors))
                (field(t(l, "Registration number prefix", "Префикс регистрационных номеров"), "regnum_prefix", "text", &s.regnum_prefix, errors))
                (field(t(l, "Offline license, days", "Офлайн-лицензия, дней"), "offline_license_days", "number", &s.offline_license_days.to_string(), errors))
                (field(t(l, "Mail sender (From)", "Отправитель писем (From)"), "mail_from", "text", &s.mail_from, errors))
                (textarea(t(l, "Extra client fields, one name a line", "Дополнительные поля клиента, по одному названию в строке"), "extra_fields", extra_text, errors))
                div.actions { button type="submit" { (t(l, "Save", "Сохранить")) } }
            }
        }
    };
    page(&ctx, t(l, "Settings", "Настройки"), body)
}

pub async fn settings_show(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    me.require(Role::Admin)?;
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let s = settings::read(&tx).map_err(|e| me.err(e))?;
    drop(tx);
    let flash = done(me.lang, &q);
    Ok(html_page(
        StatusCode::OK,
        settings_form(
            &me,
            &s,
            &s.extra_fields.join("\n"),
            &FieldErrors::new(),
            flash,
        ),
    ))
}

pub async fn settings_save(p: Post) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let l = me.lang;
    let f = &p.form;
    let mut errors = FieldErrors::new();
    let vendor_name = f.get("vendor_name").trim().to_owned();
    if vendor_name.is_empty() || vendor_name.chars().count() > 100 {
        errors.insert(
            "vendor_name".into(),
            t(l, "1 to 100 characters", "От 1 до 100 символов").into(),
        );
    }
    let prefix = f.get("regnum_prefix").trim().to_ascii_uppercase();
    if !crate::domain::number::valid_prefix(&prefix) {
        errors.insert(
            "regnum_prefix".into(),
            t(
                l,
                "1 to 12 Latin letters or digits",
                "От 1 до 12 латинских букв или цифр",
            )
            .into(),
        );
    }
    let days = f
        .get("offline_license_days")
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|d| (1..=365).contains(d));
    if days.is_none() {
        errors.insert(
            "offline_license_days".into(),
            t(l, "1 to 365", "От 1 до 365").into(),
        );
    }
    let mail_from = f.get("mail_from").trim().to_owned();
    if mail_from.is_empty() || !crate::service::clients::valid_email(&mail_from) {
        errors.insert("mail_from".into(), super::auth::field_msg(l, "email"));
    }
    let mut extra: Vec<String> = Vec::new();
    for name in f
        .get("extra_fields")
        .lines()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if name.chars().count() > 100 {
            errors.insert(
                "extra_fields".into(),
                t(
                    l,
                    "Names up to 100 characters",
                    "Названия — до 100 символов",
                )
                .into(),
            );
        } else if !extra.iter().any(|x| x == name) {
            extra.push(name.to_owned());
        }
    }
    let s = crate::domain::Settings {
        vendor_name,
        regnum_prefix: prefix,
        offline_license_days: days.unwrap_or(7),
        extra_fields: extra,
        mail_from,
    };
    if !errors.is_empty() {
        return Ok(html_page(
            StatusCode::BAD_REQUEST,
            settings_form(me, &s, f.get("extra_fields"), &errors, None),
        ));
    }
    let entry = crate::domain::AuditEntry {
        id: 0,
        at: me.app.now(),
        actor: me.user.login.clone(),
        action: "settings_change".into(),
        target: "settings".into(),
        detail: format!(
            "vendor {} prefix {} extra [{}]",
            s.vendor_name,
            s.regnum_prefix,
            s.extra_fields.join(", ")
        ),
    };
    me.app
        .store
        .write(move |tx| {
            settings::write(tx, &s)?;
            audit::append(tx, &entry)?;
            Ok(())
        })
        .await
        .map_err(|e| me.err(e))?;
    Ok(see_other("/settings?done=saved"))
}

// ---------- Audit log ----------

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
        "token_create" => ("API token created", "Создан API-токен"),
        "token_revoke" => ("API token revoked", "Отозван API-токен"),
        "settings_change" => ("Settings changed", "Изменены настройки"),
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
        (super::pager(l, offset, rows.len(), if text.is_empty() { Some(total) } else { None }, more, PAGE,
            &|o| format!("/audit?offset={o}&q={}", super::clients::urlencode(&text))))
    };
    Ok(html_page(
        StatusCode::OK,
        page(&ctx, t(l, "Audit log", "Журнал"), body),
    ))
}
