//! The vendor's settings.
use super::forms::done;
use crate::domain::Role;
use crate::service::{audit, settings};
use crate::web::{FieldErrors, csrf_field, field, page, select, t, textarea};
use crate::web::{Me, Post, UiResult, html_page, see_other};
use actix_web::http::StatusCode;
use actix_web::web;
use maud::{Markup, html};

/// What was typed into the free-text fields (kept when the form is refused).
struct Typed<'a> {
    extra: &'a str,
    expiry_days: &'a str,
}

fn settings_form(
    me: &Me,
    s: &crate::domain::Settings,
    typed: Typed,
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
                (field(t(l, "Expiry reminders, days before (up to 5, e.g. 30, 7, 1)", "Напоминания об окончании, за сколько дней (до 5, например 30, 7, 1)"), "expiry_days", "text", typed.expiry_days, errors))
                (select(t(l, "Mail language for clients who chose none", "Язык писем для клиентов, не выбравших язык"), "mail_lang", &s.mail_lang, &[
                    ("ru".into(), "Русский".into()),
                    ("en".into(), "English".into()),
                ]))
                (textarea(t(l, "Extra client fields, one name a line", "Дополнительные поля клиента, по одному названию в строке"), "extra_fields", typed.extra, errors))
                div.actions { button type="submit" { (t(l, "Save", "Сохранить")) } }
            }
        }
    };
    page(&ctx, t(l, "Settings", "Настройки"), body)
}

fn days_text(days: &[u32]) -> String {
    days.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
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
            Typed {
                extra: &s.extra_fields.join("\n"),
                expiry_days: &days_text(&s.expiry_days),
            },
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
    let old = crate::service::settings::read(&me.app.store.read().map_err(|e| me.err(e))?)
        .map_err(|e| me.err(e))?;
    // A field the form did not post keeps its value.
    let expiry_days = match crate::domain::mailing::parse_expiry_days(f.get("expiry_days")) {
        _ if !f.has("expiry_days") => Some(old.expiry_days.clone()),
        Ok(d) => Some(d),
        Err(_) => {
            errors.insert(
                "expiry_days".into(),
                t(
                    l,
                    "1 to 5 numbers of days, each 1 to 365, separated by commas",
                    "От 1 до 5 чисел дней через запятую, каждое от 1 до 365",
                )
                .into(),
            );
            None
        }
    };
    let mail_lang = match f.get("mail_lang") {
        _ if !f.has("mail_lang") => old.mail_lang.as_str(),
        "en" => "en",
        _ => "ru",
    }
    .to_owned();
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
        expiry_days: expiry_days.unwrap_or(old.expiry_days),
        mail_lang,
    };
    if !errors.is_empty() {
        let typed = Typed {
            extra: f.get("extra_fields"),
            expiry_days: f.get("expiry_days"),
        };
        return Ok(html_page(
            StatusCode::BAD_REQUEST,
            settings_form(me, &s, typed, &errors, None),
        ));
    }
    let entry = crate::domain::AuditEntry {
        id: 0,
        at: me.app.now(),
        actor: me.user.login.clone(),
        action: "settings_change".into(),
        target: "settings".into(),
        detail: format!(
            "vendor {} prefix {} extra [{}] expiry days {} mail {}",
            s.vendor_name,
            s.regnum_prefix,
            s.extra_fields.join(", "),
            days_text(&s.expiry_days),
            s.mail_lang
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
