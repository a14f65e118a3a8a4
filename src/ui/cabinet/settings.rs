//! Settings tab: language (also of the client's mail), alert e-mail, cabinet password;
//! and the language switch in the header.
use super::query;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::service::cabinet;
use crate::web::cabinet::{Visitor, VisitorPost};
use crate::web::{FieldErrors, UiResult, csrf_field, field, html_page, page, see_other, select, t};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};

fn form(
    me: &Visitor,
    lang: &str,
    alert: &str,
    errors: &FieldErrors,
    flash: Option<String>,
) -> Markup {
    let l = me.lang;
    let ctx = me.ctx("settings", flash);
    let body = html! {
        h1 { (t(l, "Settings", "Настройки")) }
        div.cols {
            section.card {
                h2 { (t(l, "Language and notifications", "Язык и оповещения")) }
                form.grid method="post" action="/cabinet/settings" {
                    (csrf_field(&ctx))
                    (select(t(l, "Language of the cabinet and of mail", "Язык кабинета и писем"), "lang", lang, &[
                        (String::new(), t(l, "As the browser asks", "Как в браузере").into()),
                        ("ru".into(), "Русский".into()),
                        ("en".into(), "English".into()),
                    ]))
                    (field(t(l, "E-mail for alerts (license problems, new releases)", "E-mail для оповещений (проблемы с лицензиями, новые релизы)"),
                        "alert_email", "email", alert, errors))
                    p.muted { (t(l, "Empty: alerts go to the buyer's e-mail", "Пусто — оповещения идут на основной e-mail")) " (" (me.client.email) ")." }
                    div.actions { button type="submit" { (t(l, "Save", "Сохранить")) } }
                }
            }
            section.card {
                h2 { (t(l, "Cabinet password", "Пароль кабинета")) }
                p.muted { (t(l, "For the key you signed in with", "Для ключа, с которым вы вошли")) ": " code.regnum { (me.session.regnum) } }
                form.grid method="post" action="/cabinet/settings/password" {
                    (csrf_field(&ctx))
                    (field(t(l, "Current password (empty if none yet)", "Текущий пароль (пусто, если его ещё нет)"), "current", "password", "", errors))
                    (field(t(l, "New password (at least 10 characters)", "Новый пароль (не короче 10 символов)"), "new", "password", "", errors))
                    (field(t(l, "New password again", "Новый пароль ещё раз"), "new2", "password", "", errors))
                    div.actions { button type="submit" { (t(l, "Change password", "Сменить пароль")) } }
                }
            }
        }
    };
    page(&ctx, t(l, "Settings", "Настройки"), body)
}

pub async fn show(me: Visitor, q: web::Query<Vec<(String, String)>>) -> UiResult {
    let l = me.lang;
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let prefs = cabinet::prefs(&tx, me.client.id).map_err(|e| me.err(e))?;
    let flash = match query(&q, "done") {
        "saved" => Some(t(l, "Saved.", "Сохранено.").to_owned()),
        "password" => Some(t(l, "The password was changed.", "Пароль изменён.").to_owned()),
        _ => None,
    };
    Ok(html_page(
        StatusCode::OK,
        form(
            &me,
            &prefs.lang,
            &me.client.alert_email,
            &FieldErrors::new(),
            flash,
        ),
    ))
}

fn field_errors(l: Lang, e: &AppError) -> Option<FieldErrors> {
    match e {
        AppError::Malformed(m) => Some(
            m.keys()
                .map(|k| {
                    let text = match k.as_str() {
                        "alert_email" => t(l, "Not an e-mail address", "Это не адрес e-mail"),
                        "new" | "password" => {
                            t(l, "At least 10 characters", "Не короче 10 символов")
                        }
                        "current" => {
                            t(l, "The current password is wrong", "Текущий пароль неверен")
                        }
                        _ => t(l, "Check this field", "Проверьте это поле"),
                    };
                    (k.clone(), text.to_owned())
                })
                .collect(),
        ),
        _ => None,
    }
}

pub async fn save(p: VisitorPost) -> UiResult {
    let me = &p.me;
    let lang = p.form.get("lang").trim().to_owned();
    let alert = p.form.get("alert_email").trim().to_owned();
    match cabinet::set_prefs(&me.app, &me.session, &lang, &alert).await {
        Ok(()) => Ok(see_other("/cabinet/settings?done=saved")),
        Err(e) => match field_errors(me.lang, &e) {
            Some(errors) => Ok(html_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                form(me, &lang, &alert, &errors, None),
            )),
            None => Err(me.err(e)),
        },
    }
}

pub async fn password(p: VisitorPost) -> UiResult {
    let me = &p.me;
    let l = me.lang;
    let (current, new) = (p.form.get("current"), p.form.get("new"));
    let tx = me.app.store.read().map_err(|e| me.err(e))?;
    let prefs = cabinet::prefs(&tx, me.client.id).map_err(|e| me.err(e))?;
    drop(tx);
    if new != p.form.get("new2") {
        let errors: FieldErrors = [(
            "new2".to_owned(),
            t(l, "The two passwords differ", "Пароли не совпадают").to_owned(),
        )]
        .into_iter()
        .collect();
        return Ok(html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            form(me, &prefs.lang, &me.client.alert_email, &errors, None),
        ));
    }
    match cabinet::change_password(&me.app, &me.session, current, new).await {
        Ok(()) => Ok(see_other("/cabinet/settings?done=password")),
        Err(e) => match field_errors(l, &e) {
            Some(errors) => Ok(html_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                form(me, &prefs.lang, &me.client.alert_email, &errors, None),
            )),
            None => Err(me.err(e)),
        },
    }
}

/// The header's RU / EN switch: saves the language, back to the page.
pub async fn lang(p: VisitorPost) -> UiResult {
    let me = &p.me;
    let lang = match p.form.get("lang") {
        "ru" => "ru",
        _ => "en",
    };
    cabinet::set_prefs(&me.app, &me.session, lang, &me.client.alert_email)
        .await
        .map_err(|e| me.err(e))?;
    let back = p.form.get("back");
    // Only back into the cabinet, never elsewhere.
    let to = if back.starts_with("/cabinet/") && !back.starts_with("//") {
        back
    } else {
        "/cabinet"
    };
    Ok(see_other(to))
}
