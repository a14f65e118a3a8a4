//! Coupons: generate a batch for chosen features, counts and term; the list with state
//! (new / activated, on which key, when); CSV export.
use crate::domain::Role;
use crate::error::AppError;
use crate::service::coupons::{self, NewCouponItem, NewCoupons};
use crate::service::products;
use crate::web::{FieldErrors, csrf_field, page, t, when};
use crate::web::{Me, Post, UiResult, html_page};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};

const PAGE: usize = 100;

fn q_get<'a>(q: &'a [(String, String)], k: &str) -> &'a str {
    q.iter()
        .find(|(n, _)| n == k)
        .map_or("", |(_, v)| v.as_str())
}

fn render(
    me: &Me,
    batch: Option<u64>,
    offset: usize,
    made: Option<&coupons::CouponBatch>,
    errors: &FieldErrors,
    typed: &crate::web::Fields,
) -> Result<Markup, crate::web::UiError> {
    let l = me.lang;
    let rows = coupons::list(&me.app, batch, PAGE + 1, offset).map_err(|e| me.err(e))?;
    let more = rows.len() > PAGE;
    let rows = &rows[..rows.len().min(PAGE)];
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let prods = products::list(&tx).map_err(|e| me.err(e))?;
    drop(tx);
    let ctx = me.ctx(
        "coupons",
        made.map(|b| match l {
            crate::i18n::Lang::En => format!("Batch {} made: {} coupons.", b.batch, b.codes.len()),
            crate::i18n::Lang::Ru => {
                format!("Партия {} создана: купонов — {}.", b.batch, b.codes.len())
            }
        }),
    );
    let chosen: Vec<&str> = typed.all("feature");
    let body = html! {
        h1 { (t(l, "Coupons", "Купоны")) }
        section.card {
            h2 { (t(l, "Generate a batch", "Сгенерировать партию")) }
            @if !errors.is_empty() { p.alert role="alert" { (t(l, "Check the marked fields.", "Проверьте отмеченные поля.")) } }
            form.grid method="post" action="/coupons" {
                (csrf_field(&ctx))
                fieldset.wide.invalid[errors.contains_key("feature")] {
                    legend { (t(l, "Features and seats of each", "Функции и число мест каждой")) }
                    @for p in &prods { div {
                        strong { (p.code) } " " span.muted { (p.name) } br;
                        @for f in &p.features {
                            @let v = format!("{}:{}", p.code, f.number);
                            @let seats_name = format!("seats:{v}");
                            span.feature-pick {
                                label.field.check { input type="checkbox" name="feature" value=(v) checked[chosen.contains(&v.as_str())]; (f.number) " " (f.name) }
                                input type="number" name=(seats_name) min="1" value=(if typed.has(&seats_name) { typed.get(&seats_name) } else { "1" })
                                    aria-label=(t(l, "Seats", "Мест")) title=(t(l, "Seats", "Мест"));
                            }
                        }
                    } }
                    @if prods.is_empty() { p.muted { (t(l, "Create a product first.", "Сначала создайте продукт.")) } }
                    @if let Some(e) = errors.get("feature") { span.error { (e) } }
                    @if let Some(e) = errors.get("seats") { span.error { (e) } }
                }
                (crate::web::field(t(l, "Term in days (empty: no limit)", "Срок в днях (пусто — бессрочно)"), "days", "number", typed.get("days"), errors))
                (crate::web::field(t(l, "How many coupons", "Сколько купонов"), "count", "number", if typed.has("count") { typed.get("count") } else { "10" }, errors))
                div.actions { button type="submit" { (t(l, "Generate", "Сгенерировать")) } }
            }
            @if let Some(b) = made {
                h2 { (t(l, "New coupons", "Новые купоны")) }
                pre.secret.mono { @for c in &b.codes { (c) "\n" } }
            }
        }
        div.head-row {
            h2 { (t(l, "All coupons", "Все купоны")) @if let Some(b) = batch { " · " (t(l, "batch", "партия")) " " (b) } }
            form.inline method="get" action="/coupons" {
                input type="number" name="batch" min="1" value=(batch.map(|b| b.to_string()).unwrap_or_default()) placeholder=(t(l, "Batch", "Партия"));
                button.ghost type="submit" { (t(l, "Filter", "Отобрать")) }
                a.button.ghost href=(match batch { Some(b) => format!("/coupons.csv?batch={b}"), None => "/coupons.csv".into() }) download { "CSV" }
            }
        }
        div.table-wrap {
            table {
                thead { tr { th { (t(l, "Coupon", "Купон")) } th.num { (t(l, "Batch", "Партия")) } th { (t(l, "Items", "Состав")) } th { (t(l, "State", "Состояние")) } th { (t(l, "Key", "Ключ")) } th { (t(l, "When", "Когда")) } } }
                tbody { @for c in rows { tr {
                    td.mono { (c.code) }
                    td.num { a href=(format!("/coupons?batch={}", c.batch)) { (c.batch) } }
                    td { @for i in &c.items { span.badge { (i.feature) " × " (i.seats) @if let Some(d) = i.days { " / " (d) (t(l, " d", " дн.")) } } " " } }
                    td { @if c.state == "activated" { span.badge.ok { (t(l, "activated", "активирован")) } } @else { span.badge { (t(l, "new", "новый")) } } }
                    td.mono { @if let Some(r) = &c.regnum { a href=(format!("/keys/{r}")) { (r) } } }
                    td { (when(c.activated_at.as_deref().unwrap_or(&c.created_at))) }
                } } }
            }
            @if rows.is_empty() { p.empty { (t(l, "No coupons.", "Купонов нет.")) } }
        }
        (crate::web::pager(l, offset, rows.len(), None, more, PAGE, &|o| match batch {
            Some(b) => format!("/coupons?batch={b}&offset={o}"),
            None => format!("/coupons?offset={o}"),
        }))
    };
    Ok(page(&ctx, t(l, "Coupons", "Купоны"), body))
}

pub async fn list(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    me.require(Role::Manager)?;
    let batch = q_get(&q, "batch").parse().ok();
    let offset = q_get(&q, "offset").parse().unwrap_or(0);
    Ok(html_page(
        StatusCode::OK,
        render(
            &me,
            batch,
            offset,
            None,
            &FieldErrors::new(),
            &Default::default(),
        )?,
    ))
}

pub async fn create(p: Post) -> UiResult {
    let me = &p.me;
    me.require(Role::Manager)?;
    let l = me.lang;
    let f = &p.form;
    let mut errors = FieldErrors::new();
    let days = match f.get("days").trim() {
        "" => Some(None),
        d => d.parse::<u32>().ok().filter(|d| *d > 0).map(Some),
    };
    if days.is_none() {
        errors.insert(
            "days".into(),
            t(l, "A number of days, or empty", "Число дней или пусто").into(),
        );
    }
    let count = f
        .get("count")
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|c| (1..=coupons::MAX_BATCH).contains(c));
    if count.is_none() {
        errors.insert("count".into(), t(l, "1 to 10000", "От 1 до 10000").into());
    }
    let mut items = Vec::new();
    for v in f.all("feature") {
        if let Some((product, n)) = v.split_once(':')
            && let Ok(feature) = n.parse()
        {
            let Some(seats) = f
                .get(&format!("seats:{v}"))
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|s| *s > 0)
            else {
                errors.insert(
                    "seats".into(),
                    t(
                        l,
                        "Seats: at least 1 for each chosen feature",
                        "Мест — не меньше 1 для каждой выбранной функции",
                    )
                    .into(),
                );
                continue;
            };
            items.push(NewCouponItem {
                product: product.to_owned(),
                feature,
                seats,
                days: days.flatten(),
            });
        }
    }
    if items.is_empty() && !errors.contains_key("seats") {
        errors.insert(
            "feature".into(),
            t(
                l,
                "Choose at least one feature",
                "Выберите хотя бы одну функцию",
            )
            .into(),
        );
    }
    if errors.is_empty() {
        let input = NewCoupons {
            count: count.unwrap_or(1),
            items,
        };
        match coupons::create_batch(&me.app, input).await {
            Ok(b) => {
                let feats = f.all("feature").join(", ");
                me.audit(
                    "coupons_create",
                    &format!("batch {}", b.batch),
                    &format!("{} × [{feats}]", b.codes.len()),
                )
                .await?;
                return Ok(html_page(
                    StatusCode::OK,
                    render(
                        me,
                        None,
                        0,
                        Some(&b),
                        &FieldErrors::new(),
                        &Default::default(),
                    )?,
                ));
            }
            Err(AppError::Malformed(_) | AppError::UnknownProduct { .. }) => {
                errors.insert(
                    "feature".into(),
                    t(l, "Check the features", "Проверьте функции").into(),
                );
            }
            Err(e) => return Err(me.err(e)),
        }
    }
    Ok(html_page(
        StatusCode::BAD_REQUEST,
        render(me, None, 0, None, &errors, f)?,
    ))
}

fn csv_cell(s: &str) -> String {
    // Quote always; neutralise spreadsheet formulas.
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub async fn csv(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    me.require(Role::Manager)?;
    let batch = q_get(&q, "batch").parse().ok();
    let mut out = String::from("coupon,batch,state,regnum,activated_at,created_at,items\r\n");
    let mut offset = 0;
    loop {
        let rows = coupons::list(&me.app, batch, 5000, offset).map_err(|e| me.err(e))?;
        if rows.is_empty() {
            break;
        }
        offset += rows.len();
        for c in &rows {
            let items: Vec<String> = c
                .items
                .iter()
                .map(|i| {
                    format!(
                        "{}/{}x{}{}",
                        i.product,
                        i.feature,
                        i.seats,
                        i.days.map(|d| format!("/{d}d")).unwrap_or_default()
                    )
                })
                .collect();
            out.push_str(&format!(
                "{},{},{},{},{},{},{}\r\n",
                csv_cell(&c.code),
                c.batch,
                c.state,
                csv_cell(c.regnum.as_deref().unwrap_or("")),
                c.activated_at.as_deref().unwrap_or(""),
                c.created_at,
                csv_cell(&items.join(" "))
            ));
        }
    }
    let name = match batch {
        Some(b) => format!("coupons-batch-{b}.csv"),
        None => "coupons.csv".into(),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .body(out))
}
