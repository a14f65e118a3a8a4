//! Settings tab: language (also of the client's mail), alert e-mail, the mail the client
//! turns off, cabinet password; and the language switch in the header.
use super::query;
use crate::domain::cabinet::ClientPrefs;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::service::cabinet::{self, MailOptOuts};
use crate::web::cabinet::{Visitor, VisitorPost};
use crate::web::{FieldErrors, UiResult, csrf_field, field, html_page, page, see_other, select, t};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};

/// The settings form's values.
struct Shown<'a> {
    lang: &'a str,
    alert: &'a str,
    opt_outs: MailOptOuts,
}

fn form(me: &Visitor, v: Shown, errors: &FieldErrors, flash: Option<String>) -> Markup {
    let l = me.lang;
    let ctx = me.ctx("settings", flash);
    let body = html! {
        h1 { (t(l, "Settings", "Настройки")) }
        div.cols {
            section.card {
                h2 { (t(l, "Language and notifications", "Язык и оповещения")) }
                form.grid method="post" action="/cabinet/settings" {
                    (csrf_field(&ctx))
                    (select(t(l, "Language of the cabinet and of mail", "Язык кабинета и писем"), "lang", v.lang, &[
                        (String::new(), t(l, "As the browser asks", "Как в браузере").into()),
                        ("ru".into(), "Русский".into()),
                        ("en".into(), "English".into()),
                    ]))
                    (field(t(l, "E-mail for alerts (license problems, new releases)", "E-mail для оповещений (проблемы с лицензиями, новые релизы)"),
                        "alert_email", "email", v.alert, errors))
                    p.muted { (t(l, "Empty: alerts go to the buyer's e-mail", "Пусто — оповещения идут на основной e-mail")) " (" (me.client.email) ")." }
                    input type="hidden" name="mail_choices" value="1";
                    fieldset.wide {
                        legend { (t(l, "Do not send me", "Не присылать мне")) }
                        label.check { input type="checkbox" name="no_expiry_mail" value="1" checked[v.opt_outs.expiry]; (t(l, "reminders that a license expires", "напоминания об окончании лицензий")) }
                        label.check { input type="checkbox" name="no_alert_mail" value="1" checked[v.opt_outs.alerts]; (t(l, "license alerts (refused captures, seats running out)", "оповещения о лицензиях (отказы в захвате, нехватка мест)")) }
                        label.check { input type="checkbox" name="no_release_mail" value="1" checked[v.opt_outs.releases]; (t(l, "news of new releases", "новости о новых релизах")) }
                        p.muted { (t(l, "One-time codes and password links are always sent.", "Одноразовые коды и ссылки для пароля приходят всегда.")) }
                    }
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

fn shown<'a>(me: &'a Visitor, prefs: &'a ClientPrefs) -> Shown<'a> {
    Shown {
        lang: &prefs.lang,
        alert: &me.client.alert_email,
        opt_outs: MailOptOuts::of(prefs),
    }
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
        form(&me, shown(&me, &prefs), &FieldErrors::new(), flash),
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
    let f = &p.form;
    let lang = f.get("lang").trim().to_owned();
    let alert = f.get("alert_email").trim().to_owned();
    // Unchecked boxes are not posted: the marker says the form had them.
    let opt_outs = f.has("mail_choices").then(|| MailOptOuts {
        expiry: f.has("no_expiry_mail"),
        alerts: f.has("no_alert_mail"),
        releases: f.has("no_release_mail"),
    });
    match cabinet::set_prefs(&me.app, &me.session, &lang, &alert, opt_outs).await {
        Ok(()) => Ok(see_other("/cabinet/settings?done=saved")),
        Err(e) => match field_errors(me.lang, &e) {
            Some(errors) => Ok(html_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                form(
                    me,
                    Shown {
                        lang: &lang,
                        alert: &alert,
                        opt_outs: opt_outs.unwrap_or_default(),
                    },
                    &errors,
                    None,
                ),
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
            form(me, shown(me, &prefs), &errors, None),
        ));
    }
    match cabinet::change_password(&me.app, &me.session, current, new).await {
        Ok(()) => Ok(see_other("/cabinet/settings?done=password")),
        Err(e) => match field_errors(l, &e) {
            Some(errors) => Ok(html_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                form(me, shown(me, &prefs), &errors, None),
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
    cabinet::set_prefs(&me.app, &me.session, lang, &me.client.alert_email, None)
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
