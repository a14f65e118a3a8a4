//! Products and their features: the list, a new product, one product (edit, delete).
use super::forms::{bad, done};
use crate::domain::{Role, Unit};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::service::products;
use crate::service::products::{
    FeaturePatch, NewFeature, NewProduct, NewTrial, NewTrialItem, ProductPatch,
};
use crate::web::{FieldErrors, csrf_field, field, page, t, textarea};
use crate::web::{Fields, Me, Post, UiResult, html_page, see_other};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};

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
) -> Result<Markup, crate::web::UiError> {
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

const UNITS: [Unit; 4] = [Unit::User, Unit::Host, Unit::Database, Unit::Session];

fn parse_unit(s: &str) -> Option<Unit> {
    let s = s.trim().to_ascii_lowercase();
    UNITS.iter().copied().find(|u| u.as_str() == s)
}

fn product_href(code: &str) -> String {
    format!("/products/{}", crate::web::urlencode(code))
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
    let unbind_limit = me
        .app
        .store
        .read()
        .ok()
        .and_then(|tx| crate::service::cabinet::product_unbind_limit(&tx, p.id).ok())
        .unwrap_or(crate::domain::cabinet::DEFAULT_UNBIND_LIMIT);
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
            h2 { (t(l, "Client self-service", "Самообслуживание клиентов")) }
            form.inline method="post" action=(format!("{href}/unbind-limit")) {
                (csrf_field(&ctx))
                label.field {
                    span.label { (t(l, "Unbinds or ended sessions a client may make per key and feature in 30 days (0: only staff)",
                                    "Сколько отвязок или завершённых сеансов клиент может сделать сам на ключ и фичу за 30 дней (0 — только сотрудники)")) }
                    input type="number" name="unbind_limit" min="0" max="1000" value=(unbind_limit);
                }
                button type="submit" { (t(l, "Save", "Сохранить")) }
            }
        }
        (super::releases::product_section(me, &ctx, &p.code))
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

fn load_product(me: &Me, code: &str) -> Result<crate::domain::Product, crate::web::UiError> {
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

pub async fn unbind_limit_save(p: Post, path: web::Path<String>) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let prod = load_product(me, &path)?;
    let Ok(n) = p.form.get("unbind_limit").trim().parse::<u32>() else {
        return Err(me.err(AppError::malformed("unbind_limit", "0 to 1000")));
    };
    crate::service::cabinet::set_unbind_limit(&me.app, &prod.code, n, &me.user.login)
        .await
        .map_err(|e| me.err(e))?;
    Ok(see_other(&format!(
        "{}?done=saved",
        product_href(&prod.code)
    )))
}
