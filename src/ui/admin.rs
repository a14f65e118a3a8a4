//! Admin screens: products & features, distributors, staff users, API tokens,
//! settings, and the audit log.
use super::{FieldErrors, csrf_field, field, page, role_name, select, t, textarea, when, when_t};
use crate::domain::{Role, Unit};
use crate::error::AppError;
use crate::http::ui::{Fields, Me, Post, UiResult, html_page, see_other};
use crate::i18n::Lang;
use crate::service::products::{
    FeaturePatch, NewFeature, NewProduct, NewTrial, NewTrialItem, ProductPatch,
};
use crate::service::{audit, auth, distributors, products, settings, users};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};

fn done(l: Lang, q: &[(String, String)]) -> Option<String> {
    q.iter().find(|(k, _)| k == "done").map(|(_, v)| {
        match v.as_str() {
            "deleted" => t(l, "Deleted.", "Удалено."),
            _ => t(l, "Saved.", "Сохранено."),
        }
        .to_owned()
    })
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
                div.head-row {
                    h2 { (p.name) " " span.muted.mono { (p.code) } }
                    span.muted { (t(l, "heartbeat", "пульс")) " " (p.heartbeat_s) " " (t(l, "s", "с")) }
                    @if me.user.role >= Role::Admin {
                        a.button.small.ghost href=(product_href(&p.code)) { (t(l, "Edit", "Изменить")) }
                    }
                }
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

// ---------- One product: edit, delete ----------

const UNITS: [Unit; 4] = [Unit::User, Unit::Host, Unit::Database, Unit::Session];

fn parse_unit(s: &str) -> Option<Unit> {
    let s = s.trim().to_ascii_lowercase();
    UNITS.iter().copied().find(|u| u.as_str() == s)
}

fn product_href(code: &str) -> String {
    format!("/products/{}", super::clients::urlencode(code))
}

/// An input in a table cell: keeps what was typed and shows its error below it.
fn cell(label: &str, name: &str, kind: &str, value: &str, errors: &FieldErrors) -> Markup {
    let err = errors.get(name);
    html! {
        label.field.invalid[err.is_some()] {
            input type=(kind) name=(name) value=(value) aria-label=(label) aria-invalid=[err.map(|_| "true")];
            @if let Some(e) = err { span.error { (e) } }
        }
    }
}

fn unit_cell(l: Lang, name: &str, value: &str, errors: &FieldErrors) -> Markup {
    let err = errors.get(name);
    html! {
        label.field.invalid[err.is_some()] {
            select name=(name) aria-label=(t(l, "Counted", "Учёт")) aria-invalid=[err.map(|_| "true")] {
                @for u in UNITS { option value=(u.as_str()) selected[u.as_str() == value] { (unit_name(l, u)) } }
            }
            @if let Some(e) = err { span.error { (e) } }
        }
    }
}

/// The product's page: its edit form (what was typed, when `typed`) and delete.
fn product_page(
    me: &Me,
    p: &crate::domain::Product,
    typed: Option<&Fields>,
    errors: &FieldErrors,
    flash: Option<String>,
    alert: Option<String>,
) -> Markup {
    let l = me.lang;
    let ctx = me.ctx("products", flash);
    let v = |name: &str, stored: String| typed.map_or(stored, |f| f.get(name).to_owned());
    let seats = |n: u32| {
        p.trial
            .as_ref()
            .and_then(|tr| tr.items.iter().find(|i| i.feature == n))
            .map(|i| i.seats.to_string())
            .unwrap_or_default()
    };
    let href = product_href(&p.code);
    let body = html! {
        div.head-row {
            h1 { (p.name) " " span.muted.mono { (p.code) } }
            a.button.ghost href="/products" { "← " (t(l, "All products", "Все продукты")) }
        }
        @if let Some(a) = &alert { p.alert role="alert" { (a) } }
        section.card {
            h2 { (t(l, "Edit product", "Изменение продукта")) }
            form.grid method="post" action=(href) {
                (csrf_field(&ctx))
                (field(t(l, "Name", "Название"), "name", "text", &v("name", p.name.clone()), errors))
                (field(t(l, "Heartbeat interval, s", "Интервал пульса, с"), "heartbeat_s", "number", &v("heartbeat_s", p.heartbeat_s.to_string()), errors))
                (field(t(l, "Trial days (empty: no trial)", "Дней триала (пусто — без триала)"), "trial_days", "number",
                    &v("trial_days", p.trial.as_ref().map(|tr| tr.days.to_string()).unwrap_or_default()), errors))
                div.wide {
                    div.table-wrap { table {
                        thead { tr { th.num { "#" } th { (t(l, "Feature", "Функция")) } th { (t(l, "Counted", "Учёт")) } th { (t(l, "Trial seats", "Мест в триале")) } } }
                        tbody {
                            @for f in &p.features {
                                @let n = f.number;
                                tr {
                                    td.num { (n) }
                                    td { (cell(t(l, "Feature name", "Название функции"), &format!("f{n}_name"), "text", &v(&format!("f{n}_name"), f.name.clone()), errors)) }
                                    td { (unit_cell(l, &format!("f{n}_unit"), &v(&format!("f{n}_unit"), f.unit.as_str().to_owned()), errors)) }
                                    td { (cell(t(l, "Trial seats", "Мест в триале"), &format!("f{n}_seats"), "number", &v(&format!("f{n}_seats"), seats(n)), errors)) }
                                }
                            }
                            tr {
                                td { (cell(t(l, "New feature: number", "Новая функция: номер"), "new_number", "number", &v("new_number", String::new()), errors)) }
                                td { (cell(t(l, "New feature: name", "Новая функция: название"), "new_name", "text", &v("new_name", String::new()), errors)) }
                                td { (unit_cell(l, "new_unit", &v("new_unit", "user".to_owned()), errors)) }
                                td { (cell(t(l, "New feature: trial seats", "Новая функция: мест в триале"), "new_seats", "number", &v("new_seats", String::new()), errors)) }
                            }
                        }
                    } }
                    p.muted { (t(l, "The last row adds a feature. A feature's counting unit can change only while no key holds it; features are not removed here.",
                                  "Последняя строка добавляет функцию. Способ учёта функции можно изменить, только пока её нет ни в одном ключе; функции здесь не удаляются.")) }
                }
                div.actions { button type="submit" { (t(l, "Save", "Сохранить")) } }
            }
        }
        section.card {
            h2 { (t(l, "Delete product", "Удаление продукта")) }
            p.muted { (t(l, "Only a product that no key holds can be deleted.", "Удалить можно только продукт, которого нет ни в одном ключе.")) }
            form.inline method="post" action=(format!("{href}/delete")) {
                (csrf_field(&ctx))
                button.danger type="submit" { (t(l, "Delete product", "Удалить продукт")) }
            }
        }
    };
    page(&ctx, &p.name, body)
}

fn load_product(me: &Me, code: &str) -> Result<crate::domain::Product, crate::http::ui::UiError> {
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    products::by_code(&tx, code)
        .map_err(|e| me.err(e))?
        .ok_or_else(|| me.not_found())
}

pub async fn product_show(
    me: Me,
    path: web::Path<String>,
    q: web::Query<Vec<(String, String)>>,
) -> UiResult {
    me.require(Role::Admin)?;
    let p = load_product(&me, &path)?;
    let flash = done(me.lang, &q);
    Ok(html_page(
        StatusCode::OK,
        product_page(&me, &p, None, &FieldErrors::new(), flash, None),
    ))
}

/// A product's form as a patch: every listed feature with its name, unit and trial
/// seats, the new feature's row if filled in; or the form's errors.
fn product_patch(
    l: Lang,
    p: &crate::domain::Product,
    f: &Fields,
) -> Result<ProductPatch, FieldErrors> {
    let mut errors = FieldErrors::new();
    let required = t(l, "Required", "Обязательное поле");
    let name = f.get("name").trim();
    if name.is_empty() {
        errors.insert("name".into(), required.into());
    }
    let heartbeat_s = f
        .get("heartbeat_s")
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|v| (5..=86_400).contains(v));
    if heartbeat_s.is_none() {
        errors.insert(
            "heartbeat_s".into(),
            t(l, "5 to 86400 seconds", "От 5 до 86400 секунд").into(),
        );
    }
    let days = match f.get("trial_days").trim() {
        "" => None,
        s => match s.parse::<u32>().ok().filter(|d| (1..=3650).contains(d)) {
            Some(d) => Some(d),
            None => {
                errors.insert(
                    "trial_days".into(),
                    t(
                        l,
                        "1 to 3650 days, or empty for no trial",
                        "От 1 до 3650 дней; пусто — без триала",
                    )
                    .into(),
                );
                None
            }
        },
    };
    let mut features = Vec::new();
    let mut items = Vec::new();
    let mut row = |number: u32, prefix: &str, errors: &mut FieldErrors| {
        let (nk, uk, sk) = (
            format!("{prefix}_name"),
            format!("{prefix}_unit"),
            format!("{prefix}_seats"),
        );
        let fname = f.get(&nk).trim();
        if fname.is_empty() {
            errors.insert(nk, required.into());
        }
        let unit = parse_unit(f.get(&uk));
        if unit.is_none() {
            errors.insert(
                uk,
                t(l, "Choose how seats are counted", "Выберите способ учёта").into(),
            );
        }
        match f.get(&sk).trim() {
            "" | "0" => {}
            s => match s.parse::<u32>() {
                Ok(seats) => items.push(NewTrialItem {
                    feature: number,
                    seats,
                }),
                Err(_) => {
                    errors.insert(
                        sk,
                        t(l, "A number of seats, or empty", "Число мест или пусто").into(),
                    );
                }
            },
        }
        features.push(FeaturePatch {
            number,
            name: Some(fname.to_owned()),
            unit,
        });
    };
    for x in &p.features {
        row(x.number, &format!("f{}", x.number), &mut errors);
    }
    if ["new_number", "new_name", "new_seats"]
        .iter()
        .any(|k| !f.get(k).trim().is_empty())
    {
        match f.get("new_number").trim().parse::<u32>() {
            Ok(n) if p.feature(n).is_some() => {
                errors.insert(
                    "new_number".into(),
                    t(
                        l,
                        "The product already has this feature",
                        "У продукта уже есть эта функция",
                    )
                    .into(),
                );
            }
            Ok(n) => row(n, "new", &mut errors),
            Err(_) => {
                errors.insert(
                    "new_number".into(),
                    t(l, "A feature number", "Номер функции").into(),
                );
            }
        }
    }
    if days.is_none() && !items.is_empty() && !errors.contains_key("trial_days") {
        errors.insert(
            "trial_days".into(),
            t(
                l,
                "Give the trial's days, or clear its seats",
                "Укажите дни триала или очистите места триала",
            )
            .into(),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ProductPatch {
        name: Some(name.to_owned()),
        heartbeat_s,
        features: Some(features),
        trial: Some(days.map(|days| NewTrial { days, items })),
    })
}

/// `features[3].unit` with `head` = `features[` → (3, "unit").
fn index<'a>(k: &'a str, head: &str) -> Option<(usize, &'a str)> {
    let (i, rest) = k.strip_prefix(head)?.split_once(']')?;
    Some((i.parse().ok()?, rest.trim_start_matches('.')))
}

/// The service's refusal of a product patch as the form's errors (`None`: not the
/// form's fault).
fn product_errors(
    l: Lang,
    e: &AppError,
    p: &crate::domain::Product,
    patch: &ProductPatch,
) -> Option<FieldErrors> {
    let prefix = |n: u32| {
        if p.feature(n).is_some() {
            format!("f{n}")
        } else {
            "new".to_owned()
        }
    };
    let features = patch.features.as_deref().unwrap_or_default();
    let items = patch
        .trial
        .as_ref()
        .and_then(|t| t.as_ref())
        .map_or(&[][..], |t| t.items.as_slice());
    match e {
        AppError::Malformed(m) => Some(
            m.keys()
                .map(|k| {
                    let key = if let Some((i, rest)) = index(k, "features[") {
                        features.get(i).map_or("name".to_owned(), |f| {
                            format!("{}_{rest}", prefix(f.number))
                        })
                    } else if let Some((i, _)) = index(k, "trial.items[") {
                        items.get(i).map_or("trial_days".to_owned(), |it| {
                            format!("{}_seats", prefix(it.feature))
                        })
                    } else if k.starts_with("trial") {
                        "trial_days".to_owned()
                    } else {
                        k.clone()
                    };
                    (
                        key,
                        t(l, "Check this field", "Проверьте это поле").to_owned(),
                    )
                })
                .collect(),
        ),
        AppError::Conflict {
            reason: "feature_in_use",
            details,
        } => {
            let n = details["feature"].as_u64().unwrap_or(0);
            let regnum = details["regnum"].as_str().unwrap_or("");
            let msg = match l {
                Lang::En => format!("A key holds this feature ({regnum}): its unit cannot change"),
                Lang::Ru => {
                    format!("Эта функция есть в ключе {regnum}: способ учёта менять нельзя")
                }
            };
            Some([(format!("f{n}_unit"), msg)].into_iter().collect())
        }
        AppError::Conflict {
            reason: "feature_number_taken",
            ..
        } => Some(
            [(
                "new_number".to_owned(),
                t(
                    l,
                    "This number belongs to another product's feature",
                    "Этот номер занят функцией другого продукта",
                )
                .to_owned(),
            )]
            .into_iter()
            .collect(),
        ),
        _ => None,
    }
}

pub async fn product_update(p: Post, path: web::Path<String>) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let prod = load_product(me, &path)?;
    let errors = match product_patch(me.lang, &prod, &p.form) {
        Ok(patch) => {
            match products::update(&me.app, &prod.code, patch.clone(), &me.user.login).await {
                Ok(saved) => {
                    return Ok(see_other(&format!(
                        "{}?done=saved",
                        product_href(&saved.code)
                    )));
                }
                Err(AppError::NotFound { .. }) => return Err(me.not_found()),
                Err(e) => product_errors(me.lang, &e, &prod, &patch).ok_or_else(|| me.err(e))?,
            }
        }
        Err(errors) => errors,
    };
    Ok(html_page(
        StatusCode::BAD_REQUEST,
        product_page(me, &prod, Some(&p.form), &errors, None, None),
    ))
}

pub async fn product_delete(p: Post, path: web::Path<String>) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let prod = load_product(me, &path)?;
    match products::delete(&me.app, &prod.code, &me.user.login).await {
        Ok(_) => Ok(see_other("/products?done=deleted")),
        Err(AppError::NotFound { .. }) => Err(me.not_found()),
        Err(AppError::Conflict {
            reason: "product_in_use",
            details,
        }) => {
            let regnum = details["regnum"].as_str().unwrap_or("");
            let alert = match me.lang {
                Lang::En => format!(
                    "Keys hold this product (for example {regnum}): remove their items first, then delete it."
                ),
                Lang::Ru => format!(
                    "Этот продукт есть в ключах (например, {regnum}): сначала удалите их позиции, затем продукт."
                ),
            };
            Ok(html_page(
                StatusCode::CONFLICT,
                product_page(me, &prod, None, &FieldErrors::new(), None, Some(alert)),
            ))
        }
        Err(e) => Err(me.err(e)),
    }
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
            thead { tr { th { (t(l, "Code", "Код")) } th { (t(l, "Name", "Название")) } th { "E-mail" } th { (t(l, "Clients", "Клиенты")) } th {} } }
            tbody { @for d in &list { tr {
                td.mono { a href=(distributor_href(&d.code)) { (d.code) } } td { (d.name) } td { (d.email) }
                td { a href=(format!("/clients?distributor={}", super::clients::urlencode(&d.code))) { (t(l, "Show", "Показать")) } }
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

// ---------- One distributor: edit, delete ----------

fn distributor_href(code: &str) -> String {
    format!("/distributors/{}", super::clients::urlencode(code))
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
                    a href=(format!("/clients?distributor={}", super::clients::urlencode(&d.code))) { (t(l, "Its clients", "Его клиенты")) } }
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
) -> Result<crate::domain::Distributor, crate::http::ui::UiError> {
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
                a href=(format!("/clients?distributor={}", super::clients::urlencode(&d.code))) { (t(l, "Show them", "Показать их")) }
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
