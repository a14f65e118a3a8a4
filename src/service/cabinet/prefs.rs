//! A client's preferences in its cabinet: the mail it takes, and alerts muted.
use super::*;

/// A client's preferences (defaults when never set).
pub fn prefs(tx: &impl Snapshot, client_id: u64) -> Result<ClientPrefs, StoreError> {
    let t = tx.table(tables::CLIENT_PREFS.def)?;
    Ok(tables::CLIENT_PREFS.get(&t, client_id)?.unwrap_or_default())
}

/// The mail a client turned off in its cabinet. One-time codes and password links are
/// always sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MailOptOuts {
    /// No expiry reminders.
    pub expiry: bool,
    /// No license alerts (denials, seats).
    pub alerts: bool,
    /// No new-release mail.
    pub releases: bool,
}

impl MailOptOuts {
    pub fn of(p: &ClientPrefs) -> MailOptOuts {
        MailOptOuts {
            expiry: p.no_expiry_mail,
            alerts: p.no_alert_mail,
            releases: p.no_release_mail,
        }
    }
}

/// Saves the signed-in client's language ("ru", "en" or "" for the browser's), alert
/// e-mail (empty: alerts go to the main e-mail) and, when given, the mail it turned off;
/// what changed is audited.
pub async fn set_prefs(
    app: &App,
    session: &CabinetSession,
    lang: &str,
    alert_email: &str,
    opt_outs: Option<MailOptOuts>,
) -> AppResult<()> {
    let lang = lang.trim().to_ascii_lowercase();
    if !["", "ru", "en"].contains(&lang.as_str()) {
        return Err(AppError::malformed("lang", "ru, en or empty"));
    }
    let alert = alert_email.trim().to_owned();
    if !alert.is_empty() && !clients::valid_email(&alert) {
        return Err(AppError::malformed("alert_email", "an e-mail address"));
    }
    let regnum = session.regnum.clone();
    let now = app.now();
    app.store
        .write(move |tx| {
            let key = keys::load(tx, &regnum)?.ok_or(AppError::UnknownRegnum)?;
            let mut c =
                clients::load(tx, key.client_id)?.ok_or(AppError::NotFound { what: "client" })?;
            let mut t = tx.open_table(tables::CLIENT_PREFS.def)?;
            let old = tables::CLIENT_PREFS.get(&t, c.id)?.unwrap_or_default();
            let o = opt_outs.unwrap_or_else(|| MailOptOuts::of(&old));
            let new = ClientPrefs {
                lang: lang.clone(),
                no_expiry_mail: o.expiry,
                no_alert_mail: o.alerts,
                no_release_mail: o.releases,
                ..old.clone()
            };
            tables::CLIENT_PREFS.put(&mut t, c.id, &new)?;
            drop(t);
            let mut changes = Vec::new();
            if old.lang != lang {
                changes.push(format!("lang={lang}"));
            }
            for (name, was, is) in [
                ("no_expiry_mail", old.no_expiry_mail, new.no_expiry_mail),
                ("no_alert_mail", old.no_alert_mail, new.no_alert_mail),
                ("no_release_mail", old.no_release_mail, new.no_release_mail),
            ] {
                if was != is {
                    changes.push(format!("{name}={is}"));
                }
            }
            if c.alert_email != alert {
                changes.push(format!("alert_email={alert}"));
                c.alert_email = alert.clone();
                c.updated_at = Some(now);
                clients::save(tx, &c)?;
            }
            if !changes.is_empty() {
                audit::append(
                    tx,
                    &audit::entry(
                        &format!("client:{regnum}"),
                        now,
                        "cabinet_settings",
                        &c.id.to_string(),
                        &changes.join(", "),
                    ),
                )?;
            }
            Ok(())
        })
        .await
}

/// Staff mute (or unmute) a client's license alerts — e.g. a known noisy site — as
/// `actor`, audited. Answers whether it changed.
pub async fn mute_alerts(app: &App, client_id: u64, muted: bool, actor: &str) -> AppResult<bool> {
    let now = app.now();
    let actor = actor.to_owned();
    app.store
        .write(move |tx| {
            clients::load(tx, client_id)?.ok_or(AppError::NotFound { what: "client" })?;
            let mut t = tx.open_table(tables::CLIENT_PREFS.def)?;
            let mut p = tables::CLIENT_PREFS.get(&t, client_id)?.unwrap_or_default();
            if p.alerts_muted == muted {
                return Ok(false);
            }
            p.alerts_muted = muted;
            tables::CLIENT_PREFS.put(&mut t, client_id, &p)?;
            drop(t);
            audit::append(
                tx,
                &audit::entry(
                    &actor,
                    now,
                    "client_mail_mute",
                    &format!("client {client_id}"),
                    if muted {
                        "alerts muted"
                    } else {
                        "alerts unmuted"
                    },
                ),
            )?;
            Ok(true)
        })
        .await
}
