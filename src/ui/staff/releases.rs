//! Releases in the back office: the list of every product's releases (managers read it,
//! admins publish), the upload form (also on a product's page), one release's page
//! (changelog, requirements, unpublish / publish again, delete, downloads per client) and
//! the staff download of its file.
use super::forms::{bad, done};
use crate::domain::Role;
use crate::domain::release::{Channel, Release};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::service::releases::{self, Downloader, ReleasePatch};
use crate::service::{clients, products};
use crate::ui::report::releases as view;
use crate::web::components::bytes;
use crate::web::{Ctx, FieldErrors, Fields, Me, Post, UiResult, csrf_field, field};
use crate::web::{html_page, page, see_other, t, when_t};
use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};

fn href(id: u64) -> String {
    format!("/releases/{id}")
}

/// What a form's field holds, or the stored value.
fn typed<'a>(typed: Option<&'a Fields>, name: &str, stored: &'a str) -> &'a str {
    typed.map_or(stored, |f| f.get(name))
}

/// The upload form; `product` fixes the product (a product's page), else a choice.
pub fn upload_form(
    ctx: &Ctx,
    codes: &[String],
    product: Option<&str>,
    typed_in: Option<&Fields>,
    errors: &FieldErrors,
) -> Markup {
    let l = ctx.lang;
    let v = |name: &str| typed(typed_in, name, "").to_owned();
    let err = |name: &str| errors.get(name).map(|e| html! { span.error { (e) } });
    let channel = v("channel");
    html! {
        form.grid.upload method="post" action="/releases" enctype="multipart/form-data" {
            (csrf_field(ctx))
            @match product {
                Some(p) => { input type="hidden" name="product" value=(p); }
                None => {
                    label.field.invalid[errors.contains_key("product")] {
                        span.label { (t(l, "Product", "Продукт")) }
                        select name="product" required {
                            @for c in codes { option value=(c) selected[c.eq_ignore_ascii_case(&v("product"))] { (c) } }
                        }
                        (err("product").unwrap_or_default())
                    }
                }
            }
            (field(t(l, "Version (e.g. 2.1.0)", "Версия (например, 2.1.0)"), "version", "text", &v("version"), errors))
            label.field {
                span.label { (t(l, "Channel", "Канал")) }
                select name="channel" {
                    @for c in Channel::ALL {
                        option value=(c.as_str()) selected[c.as_str() == channel] { (view::channel_name(l, c)) }
                    }
                }
            }
            (field(t(l, "Feature required to download (number, empty: none)", "Функция, нужная для скачивания (номер, пусто — не нужна)"), "requires_feature", "number", &v("requires_feature"), errors))
            (field(t(l, "Seats of the product required (0: any)", "Мест продукта, нужных для скачивания (0 — сколько угодно)"), "min_seats", "number", &v("min_seats"), errors))
            label.field.wide.invalid[errors.contains_key("changelog")] {
                span.label { (t(l, "What's new (Markdown)", "Что нового (Markdown)")) }
                textarea name="changelog" rows="8" { (v("changelog")) }
                (err("changelog").unwrap_or_default())
            }
            // The file goes last: the form's other fields (and its CSRF token) arrive first.
            label.field.wide.invalid[errors.contains_key("file")] {
                span.label { (t(l, "Distribution file", "Файл дистрибутива")) }
                input type="file" name="file" required;
                (err("file").unwrap_or_default())
            }
            @if let Some(e) = errors.get("form") { p.alert.wide role="alert" { (e) } }
            div.actions { button type="submit" { (t(l, "Publish release", "Опубликовать релиз")) } }
            p.muted.wide { (t(l, "Clients whose keys hold the product get a mail about the new release.",
                              "Клиенты, в ключах которых есть продукт, получат письмо о новом релизе.")) }
        }
    }
}

/// A table of releases, newest first, each linked to its page.
pub fn table(l: Lang, list: &[&Release]) -> Markup {
    html! {
        @if list.is_empty() {
            p.muted { (t(l, "No releases.", "Релизов нет.")) }
        } @else {
            div.table-wrap { table.releases {
                thead { tr {
                    th { (t(l, "Product", "Продукт")) } th { (t(l, "Version", "Версия")) } th { (t(l, "Channel", "Канал")) }
                    th { (t(l, "Published", "Опубликован")) } th.num { (t(l, "Size", "Размер")) } th.num { (t(l, "Downloads", "Скачиваний")) } th {}
                } }
                tbody {
                    @for r in list {
                        tr data-release=(r.id) {
                            td { (r.product) }
                            td { a.mono href=(href(r.id)) { (r.version) } }
                            td { (view::channel_name(l, r.channel)) }
                            td { (when_t(r.published_at)) }
                            td.num { (bytes(r.size)) }
                            td.num { (r.downloads) }
                            td { @if r.yanked_at.is_some() { span.badge.bad { (t(l, "unpublished", "снят с публикации")) } } }
                        }
                    }
                }
            } }
        }
    }
}

fn list_page(
    me: &Me,
    q: &[(String, String)],
    typed_in: Option<&Fields>,
    errors: &FieldErrors,
) -> Result<Markup, crate::web::UiError> {
    let l = me.lang;
    let filter = view::filter_of(q);
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let all = releases::all(&tx).map_err(|e| me.err(e))?;
    let codes: Vec<String> = products::list(&tx)
        .map_err(|e| me.err(e))?
        .into_iter()
        .map(|p| p.code)
        .collect();
    drop(tx);
    let shown: Vec<&Release> = all.iter().filter(|r| filter.matches(r)).collect();
    let ctx = me.ctx("releases", done(l, q));
    let title = t(l, "Releases", "Релизы");
    let body = html! {
        h1 { (title) }
        (view::filters(l, "/releases", &filter, &codes))
        section.card { (table(l, &shown)) }
        @if releases::may_manage(me.user.role) {
            section.card #publish {
                h2 { (t(l, "Publish a release", "Публикация релиза")) }
                @if codes.is_empty() {
                    p.muted { (t(l, "Add a product first.", "Сначала добавьте продукт.")) }
                } @else {
                    (upload_form(&ctx, &codes, None, typed_in, errors))
                }
                p.muted { (t(l, "Build pipelines publish with one call: POST /api/admin/v1/releases (multipart), see the README.",
                             "Сборочный конвейер публикует одним вызовом: POST /api/admin/v1/releases (multipart), см. README.")) }
            }
        }
    };
    Ok(page(&ctx, title, body))
}

pub async fn list(me: Me, q: web::Query<Vec<(String, String)>>) -> UiResult {
    me.require(Role::Manager)?;
    Ok(html_page(
        StatusCode::OK,
        list_page(&me, &q, None, &FieldErrors::new())?,
    ))
}

/// A refused publication's message, by field.
fn upload_errors(l: Lang, e: &AppError) -> Option<FieldErrors> {
    let one = |k: &str, en: &'static str, ru: &'static str| {
        Some(
            [(k.to_owned(), t(l, en, ru).to_owned())]
                .into_iter()
                .collect(),
        )
    };
    match e {
        AppError::UnknownProduct { .. } => one("product", "No such product", "Нет такого продукта"),
        AppError::TooLarge { .. } => one(
            "file",
            "The file is larger than the server accepts (--upload-limit-mib)",
            "Файл больше, чем принимает сервер (--upload-limit-mib)",
        ),
        e => bad(l, e),
    }
}

/// Publishes the uploaded release (admin; the form's CSRF token is checked before the
/// file is stored).
pub async fn publish(me: Me, payload: Multipart) -> UiResult {
    me.require(Role::Admin)?;
    let app = me.app.clone();
    let form = match crate::http::upload::receive(
        payload,
        &releases::dir(&app),
        app.config.upload_limit,
        Some(&me.session.csrf),
    )
    .await
    {
        Ok(f) => f,
        Err(AppError::Forbidden) => return Err(crate::web::UiError::BadCsrf(me.lang)),
        Err(e) => return refused(&me, Fields(Vec::new()), e),
    };
    let fields = Fields(
        form.fields
            .iter()
            .filter(|(k, _)| *k != "csrf")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    );
    let result = match form.into_upload() {
        Ok(up) => releases::publish(&app, up, &me.user.login).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(r) => Ok(see_other(&format!("{}?done=saved", href(r.id)))),
        Err(e) => refused(&me, fields, e),
    }
}

fn refused(me: &Me, typed_in: Fields, e: AppError) -> UiResult {
    let Some(errors) = upload_errors(me.lang, &e) else {
        return Err(me.err(e));
    };
    Ok(html_page(
        StatusCode::BAD_REQUEST,
        list_page(me, &[], Some(&typed_in), &errors)?,
    ))
}

fn load(me: &Me, id: &str) -> Result<Release, crate::web::UiError> {
    let id: u64 = id.parse().map_err(|_| me.not_found())?;
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    releases::get(&tx, id)
        .map_err(|e| me.err(e))?
        .ok_or_else(|| me.not_found())
}

fn release_page(
    me: &Me,
    r: &Release,
    typed_in: Option<&Fields>,
    errors: &FieldErrors,
    flash: Option<String>,
) -> Result<Markup, crate::web::UiError> {
    let l = me.lang;
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let by_client = releases::downloads_by_client(&tx, r.id).map_err(|e| me.err(e))?;
    let mut downloads = Vec::new();
    for (cid, n) in by_client {
        let name = if cid == 0 {
            t(l, "staff", "сотрудники").to_owned()
        } else {
            clients::load(&tx, cid)
                .map_err(|e| me.err(e))?
                .map_or_else(|| format!("#{cid}"), |c| c.company)
        };
        downloads.push((cid, name, n));
    }
    drop(tx);
    let ctx = me.ctx("releases", flash);
    let url = href(r.id);
    let manage = releases::may_manage(me.user.role);
    let feature = r
        .requires_feature
        .map(|f| f.to_string())
        .unwrap_or_default();
    let seats = r.min_seats.to_string();
    let body = html! {
        div.head-row {
            h1 { (r.product) " " span.mono { (r.version) } }
            a.button.ghost href="/releases" { "← " (t(l, "All releases", "Все релизы")) }
        }
        (view::card(l, r, &format!("{url}/file"), true))
        section.card {
            h2 { (t(l, "Facts", "Сведения")) }
            dl.props {
                dt { (t(l, "Published by", "Опубликовал")) } dd { (r.published_by) }
                dt { (t(l, "Visible to clients and apps", "Виден клиентам и программам")) }
                dd { @match r.yanked_at {
                    Some(at) => { (t(l, "no, unpublished", "нет, снят с публикации")) " " (when_t(at)) }
                    None => { (t(l, "yes", "да")) }
                } }
                dt { (t(l, "Required to download", "Нужно для скачивания")) }
                dd {
                    (t(l, "a live license of the product", "действующая лицензия на продукт"))
                    @if let Some(f) = r.requires_feature { ", " (t(l, "feature", "функция")) " " (f) }
                    @if r.min_seats > 0 { ", " (t(l, "at least", "не меньше")) " " (r.min_seats) " " (t(l, "seats", "мест")) }
                }
                dt { (t(l, "Downloads", "Скачиваний")) } dd { (r.downloads) }
            }
            @if !downloads.is_empty() {
                div.table-wrap { table.downloads {
                    thead { tr { th { (t(l, "Client", "Клиент")) } th.num { (t(l, "Downloads", "Скачиваний")) } } }
                    tbody { @for (cid, name, n) in &downloads {
                        tr { td { @if *cid == 0 { (name) } @else { a href=(format!("/clients/{cid}")) { (name) } } } td.num { (n) } }
                    } }
                } }
            }
        }
        @if manage {
            section.card {
                h2 { (t(l, "Change", "Изменение")) }
                form.grid method="post" action=(url) {
                    (csrf_field(&ctx))
                    label.field.wide.invalid[errors.contains_key("changelog")] {
                        span.label { (t(l, "What's new (Markdown)", "Что нового (Markdown)")) }
                        textarea name="changelog" rows="10" { (typed(typed_in, "changelog", &r.changelog)) }
                        @if let Some(e) = errors.get("changelog") { span.error { (e) } }
                    }
                    (field(t(l, "Feature required to download (number, empty: none)", "Функция, нужная для скачивания (номер, пусто — не нужна)"), "requires_feature", "number", typed(typed_in, "requires_feature", &feature), errors))
                    (field(t(l, "Seats of the product required (0: any)", "Мест продукта, нужных для скачивания (0 — сколько угодно)"), "min_seats", "number", typed(typed_in, "min_seats", &seats), errors))
                    div.actions { button type="submit" { (t(l, "Save", "Сохранить")) } }
                }
            }
            section.card {
                h2 { (t(l, "Publication", "Публикация")) }
                form.inline method="post" action=(format!("{url}/yank")) {
                    (csrf_field(&ctx))
                    @if r.yanked_at.is_some() {
                        input type="hidden" name="yanked" value="0";
                        p.muted { (t(l, "Unpublished: hidden from clients and update checks, kept for audit.", "Снят с публикации: скрыт от клиентов и проверок обновлений, сохранён для аудита.")) }
                        button type="submit" { (t(l, "Publish again", "Опубликовать снова")) }
                    } @else {
                        input type="hidden" name="yanked" value="1";
                        p.muted { (t(l, "Unpublishing hides the release from clients, update checks and new downloads; it stays here.", "Снятие с публикации скрывает релиз от клиентов, проверок обновлений и новых скачиваний; здесь он останется.")) }
                        button.danger type="submit" { (t(l, "Unpublish", "Снять с публикации")) }
                    }
                }
            }
            section.card {
                h2 { (t(l, "Delete release", "Удаление релиза")) }
                form.inline method="post" action=(format!("{url}/delete")) {
                    (csrf_field(&ctx))
                    label.field.check.invalid[errors.contains_key("confirm")] {
                        input type="checkbox" name="confirm" value="yes" required;
                        " " (t(l, "Delete the release, its file and its download counts for good", "Удалить релиз, его файл и счётчики скачиваний навсегда"))
                    }
                    @if let Some(e) = errors.get("confirm") { span.error { (e) } }
                    button.danger type="submit" { (t(l, "Delete release", "Удалить релиз")) }
                }
            }
        }
    };
    Ok(page(&ctx, &format!("{} {}", r.product, r.version), body))
}

pub async fn show(me: Me, id: web::Path<String>, q: web::Query<Vec<(String, String)>>) -> UiResult {
    me.require(Role::Manager)?;
    let r = load(&me, &id)?;
    let flash = done(me.lang, &q);
    Ok(html_page(
        StatusCode::OK,
        release_page(&me, &r, None, &FieldErrors::new(), flash)?,
    ))
}

/// The release form as a patch, or its errors.
fn patch_of(l: Lang, f: &Fields) -> Result<ReleasePatch, FieldErrors> {
    let mut errors = FieldErrors::new();
    let requires_feature = match f.get("requires_feature").trim() {
        "" => Some(0),
        s => s.parse::<u32>().ok().or_else(|| {
            errors.insert(
                "requires_feature".into(),
                t(l, "A feature number", "Номер функции").into(),
            );
            None
        }),
    };
    let min_seats = match f.get("min_seats").trim() {
        "" => Some(0),
        s => s.parse::<u32>().ok().or_else(|| {
            errors.insert(
                "min_seats".into(),
                t(l, "A whole number of seats", "Целое число мест").into(),
            );
            None
        }),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ReleasePatch {
        changelog: Some(f.get("changelog").replace("\r\n", "\n")),
        yanked: None,
        requires_feature,
        min_seats,
    })
}

async fn change(p: &Post, id: &str, patch: Result<ReleasePatch, FieldErrors>) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let r = load(me, id)?;
    let errors = match patch {
        Ok(patch) => match releases::update(&me.app, r.id, patch, &me.user.login).await {
            Ok(_) => return Ok(see_other(&format!("{}?done=saved", href(r.id)))),
            Err(AppError::NotFound { .. }) => return Err(me.not_found()),
            Err(e) => bad(me.lang, &e).ok_or_else(|| me.err(e))?,
        },
        Err(errors) => errors,
    };
    Ok(html_page(
        StatusCode::BAD_REQUEST,
        release_page(me, &r, Some(&p.form), &errors, None)?,
    ))
}

pub async fn update(p: Post, id: web::Path<String>) -> UiResult {
    let patch = patch_of(p.me.lang, &p.form);
    change(&p, &id, patch).await
}

pub async fn yank(p: Post, id: web::Path<String>) -> UiResult {
    let patch = ReleasePatch {
        yanked: Some(p.form.get("yanked") != "0"),
        ..ReleasePatch::default()
    };
    change(&p, &id, Ok(patch)).await
}

pub async fn delete(p: Post, id: web::Path<String>) -> UiResult {
    let me = &p.me;
    me.require(Role::Admin)?;
    let r = load(me, &id)?;
    if p.form.get("confirm") != "yes" {
        let errors: FieldErrors = [(
            "confirm".to_owned(),
            t(
                me.lang,
                "Tick the box to confirm",
                "Отметьте флажок для подтверждения",
            )
            .to_owned(),
        )]
        .into_iter()
        .collect();
        return Ok(html_page(
            StatusCode::BAD_REQUEST,
            release_page(me, &r, None, &errors, None)?,
        ));
    }
    match releases::delete(&me.app, r.id, &me.user.login).await {
        Ok(()) => Ok(see_other("/releases?done=deleted")),
        Err(AppError::NotFound { .. }) => Err(me.not_found()),
        Err(e) => Err(me.err(e)),
    }
}

/// The file of any release, yanked too (staff), counted as a staff download.
pub async fn file(
    me: Me,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, crate::web::UiError> {
    me.require(Role::Manager)?;
    let r = load(&me, &id)?;
    crate::http::release_file::download(&me.app, &req, r.id, Downloader::Staff)
        .await
        .map_err(|e| me.err(e))
}

/// The Releases card of a product's page: its releases and the upload form.
pub fn product_section(me: &Me, ctx: &Ctx, code: &str) -> Markup {
    let l = me.lang;
    let list = me
        .app
        .store
        .read()
        .ok()
        .and_then(|tx| releases::of_product(&tx, code, None).ok())
        .unwrap_or_default();
    let refs: Vec<&Release> = list.iter().collect();
    html! {
        section.card #releases {
            h2 { (t(l, "Releases", "Релизы")) }
            (table(l, &refs))
            details.more {
                summary { (t(l, "Publish a release", "Опубликовать релиз")) }
                (upload_form(ctx, &[], Some(code), None, &FieldErrors::new()))
            }
        }
    }
}
