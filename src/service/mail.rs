//! Mail is never sent from a request: a use case queues a catalogue event (`crate::mail`)
//! in the outbox inside its own transaction, and `jobs::outbox` sends it. This module
//! decides who gets it (the client's e-mail or alert e-mail, the responsible manager's
//! copy, the distributor instead of the client), in which language, whether the client
//! turned it off, and queues it once per idempotency key.
use crate::domain::cabinet::ClientPrefs;
use crate::domain::{Client, Mail, MailState};
use crate::i18n::Lang;
use crate::mail::{Audience, Ctx, Event, Topic};
use crate::store::{Snapshot, StoreError, meta, tables};
use redb::{ReadableTable, WriteTransaction};
use time::{Duration, OffsetDateTime};

/// What queueing needs from the server's configuration, cloned into write closures.
#[derive(Clone, Debug)]
pub struct MailEnv {
    pub public_url: String,
    /// How long the outbox keeps retrying a mail.
    pub give_up: Duration,
}

impl MailEnv {
    pub fn of(config: &crate::config::Config) -> MailEnv {
        MailEnv {
            public_url: config.public_url.trim_end_matches('/').to_owned(),
            give_up: config
                .ops
                .mail_give_up_hours
                .map(|h| Duration::hours(i64::from(h)))
                .unwrap_or(crate::domain::DEFAULT_MAIL_GIVE_UP),
        }
    }
}

/// Who a mail goes to, and in which language.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipients {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub lang: Lang,
}

/// The language mail is written in for a client: its cabinet choice, else the vendor's.
pub fn client_lang(tx: &impl Snapshot, client_id: u64) -> Result<Lang, StoreError> {
    let prefs = prefs(tx, client_id)?;
    Ok(match prefs.lang.as_str() {
        "en" => Lang::En,
        "ru" => Lang::Ru,
        _ => vendor_lang(tx)?,
    })
}

/// The vendor's default mail language (Settings).
pub fn vendor_lang(tx: &impl Snapshot) -> Result<Lang, StoreError> {
    Ok(
        match crate::service::settings::read(tx)?.mail_lang.as_str() {
            "en" => Lang::En,
            _ => Lang::Ru,
        },
    )
}

fn prefs(tx: &impl Snapshot, client_id: u64) -> Result<ClientPrefs, StoreError> {
    let t = tx.table(tables::CLIENT_PREFS.def)?;
    Ok(tables::CLIENT_PREFS.get(&t, client_id)?.unwrap_or_default())
}

/// The addresses a mail for `audience` about `client` goes to. Codes and links
/// (`Secret`) go to the client's e-mail only; everything else goes to the distributor's
/// e-mail instead when the client has a distributor, and is copied to the responsible
/// manager's e-mail when that user has one.
pub fn recipients(
    tx: &impl Snapshot,
    client: &Client,
    audience: Audience,
) -> Result<Recipients, StoreError> {
    let lang = client_lang(tx, client.id)?;
    let own = match audience {
        Audience::Alert if !client.alert_email.trim().is_empty() => client.alert_email.trim(),
        _ => client.email.trim(),
    };
    let mut to: Vec<String> = Vec::new();
    let mut cc: Vec<String> = Vec::new();
    if audience == Audience::Secret || audience == Audience::Direct {
        push(&mut to, own);
        return Ok(Recipients { to, cc, lang });
    }
    match distributor_email(tx, &client.distributor)? {
        Some(d) => push(&mut to, &d),
        None => push(&mut to, own),
    }
    if let Some(m) = manager_email(tx, &client.manager)?
        && !to.iter().any(|t| t.eq_ignore_ascii_case(&m))
    {
        push(&mut cc, &m);
    }
    Ok(Recipients { to, cc, lang })
}

fn push(v: &mut Vec<String>, addr: &str) {
    let a = addr.trim();
    if !a.is_empty() && !v.iter().any(|x| x.eq_ignore_ascii_case(a)) {
        v.push(a.to_owned());
    }
}

/// The e-mail of a client's distributor, when it has one that has an e-mail.
pub fn distributor_email(tx: &impl Snapshot, code: &str) -> Result<Option<String>, StoreError> {
    if code.trim().is_empty() {
        return Ok(None);
    }
    Ok(crate::service::distributors::get(tx, code)?
        .map(|d| d.email.trim().to_owned())
        .filter(|e| !e.is_empty()))
}

/// The e-mail of an enabled staff user, when it has one.
pub fn manager_email(tx: &impl Snapshot, login: &str) -> Result<Option<String>, StoreError> {
    if login.trim().is_empty() {
        return Ok(None);
    }
    let t = tx.table(tables::USERS.def)?;
    Ok(tables::USERS
        .get(&t, login.trim())?
        .filter(|u| !u.disabled)
        .map(|u| u.email.trim().to_owned())
        .filter(|e| !e.is_empty()))
}

/// Whether the client (or staff for it) turned this kind of mail off.
fn opted_out(prefs: &ClientPrefs, topic: Topic) -> bool {
    match topic {
        Topic::Account => false,
        Topic::Expiry => prefs.no_expiry_mail,
        Topic::Alert => prefs.no_alert_mail || prefs.alerts_muted,
        Topic::Release => prefs.no_release_mail,
    }
}

/// Whether mail of `topic` may go to this client (its opt-outs and the staff mute).
pub fn wants(tx: &impl Snapshot, client_id: u64, topic: Topic) -> Result<bool, StoreError> {
    Ok(!opted_out(&prefs(tx, client_id)?, topic))
}

/// Queues `event` about `client` to the recipients its audience names, unless a mail
/// with the idempotency `key` was queued before, the client turned such mail off, or
/// there is no address. Answers the new mail's id.
pub fn to_client(
    tx: &WriteTransaction,
    env: &MailEnv,
    now: OffsetDateTime,
    client: &Client,
    event: &Event,
    key: &str,
) -> Result<Option<u64>, StoreError> {
    if opted_out(&prefs(tx, client.id)?, event.topic()) {
        return Ok(None);
    }
    let r = recipients(tx, client, event.audience())?;
    queue(tx, env, now, &r, Some(client.id), event, key)
}

/// Queues `event` to addresses given directly (staff, operations) in `lang` (`None`:
/// the vendor's default), once per idempotency `key`.
pub fn to_addresses(
    tx: &WriteTransaction,
    env: &MailEnv,
    now: OffsetDateTime,
    to: &[String],
    lang: Option<Lang>,
    event: &Event,
    key: &str,
) -> Result<Option<u64>, StoreError> {
    let mut r = Recipients {
        to: Vec::new(),
        cc: Vec::new(),
        lang: match lang {
            Some(l) => l,
            None => vendor_lang(tx)?,
        },
    };
    for a in to {
        push(&mut r.to, a);
    }
    queue(tx, env, now, &r, None, event, key)
}

/// Writes the mail (outbox row, idempotency key, pending entry) in `tx`.
pub fn queue(
    tx: &WriteTransaction,
    env: &MailEnv,
    now: OffsetDateTime,
    r: &Recipients,
    client_id: Option<u64>,
    event: &Event,
    key: &str,
) -> Result<Option<u64>, StoreError> {
    if r.to.is_empty() {
        return Ok(None);
    }
    let mut keys = tx.open_table(tables::MAIL_KEYS)?;
    if keys.get(key)?.is_some() {
        return Ok(None);
    }
    let vendor = crate::service::settings::read(tx)?.vendor_name;
    let rendered = event.render(&Ctx {
        vendor: &vendor,
        public_url: &env.public_url,
        lang: r.lang,
    });
    let id = meta::next_id(tx, "mail")?;
    keys.insert(key, (id, now.unix_timestamp()))?;
    let mail = Mail {
        id,
        event: event.name().to_owned(),
        key: key.to_owned(),
        to: r.to.clone(),
        cc: r.cc.clone(),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        client_id,
        created_at: now,
        state: MailState::Queued,
        attempts: 0,
        next_attempt_at: now,
        give_up_at: now + env.give_up,
        last_error: String::new(),
    };
    let mut t = tx.open_table(tables::OUTBOX.def)?;
    tables::OUTBOX.put(&mut t, id, &mail)?;
    tx.open_table(tables::MAIL_PENDING)?
        .insert(id, now.unix_timestamp())?;
    Ok(Some(id))
}

/// The seats table of grants, with product and feature names from the catalogue.
pub fn seat_lines(
    tx: &impl Snapshot,
    grants: &[&crate::domain::Grant],
) -> Result<Vec<crate::mail::SeatLine>, StoreError> {
    let mut products: std::collections::HashMap<String, Option<crate::domain::Product>> =
        std::collections::HashMap::new();
    let mut out = Vec::new();
    for g in grants {
        if !products.contains_key(&g.product) {
            products.insert(
                g.product.clone(),
                crate::service::products::by_code(tx, &g.product)?,
            );
        }
        let p = products.get(&g.product).and_then(Option::as_ref);
        out.push(crate::mail::SeatLine {
            product: p
                .map(|p| p.name.clone())
                .unwrap_or_else(|| g.product.clone()),
            feature: g.feature,
            feature_name: p
                .and_then(|p| p.feature(g.feature))
                .map(|f| f.name.clone())
                .unwrap_or_default(),
            seats: g.seats,
            expires_at: g.expires_at,
        });
    }
    Ok(out)
}

const SMTP: &str = "smtp";

/// The SMTP server set on the System page (empty URL: none).
pub fn smtp_settings(tx: &impl Snapshot) -> Result<crate::domain::SmtpSettings, StoreError> {
    let t = tx.table(tables::META)?;
    Ok(meta::get_record(&t, SMTP)?.unwrap_or_default())
}

pub fn write_smtp_settings(
    tx: &WriteTransaction,
    s: &crate::domain::SmtpSettings,
) -> Result<(), StoreError> {
    meta::put_record(tx, SMTP, s)
}

/// Sent, failed and dropped mail is kept this long for the Outbox page.
pub const KEEP_MAIL: Duration = Duration::days(90);
/// Idempotency keys are kept this long (longer than any reminder horizon).
pub const KEEP_KEYS: Duration = Duration::days(400);

/// Deletes old finished mail and old idempotency keys; answers the rows deleted.
pub async fn prune(app: &crate::service::App) -> crate::error::AppResult<usize> {
    let now = app.now();
    app.store
        .write(move |tx| {
            let mut t = tx.open_table(tables::OUTBOX.def)?;
            let mut old = Vec::new();
            for row in t.iter()? {
                let (id, v) = row?;
                let m: Mail = crate::store::codec::decode(v.value())?;
                let done_at = match m.state {
                    MailState::Sent(at) | MailState::Failed(at) | MailState::Dropped(at) => at,
                    MailState::Queued | MailState::Sending(_) => continue,
                };
                if now - done_at > KEEP_MAIL {
                    old.push(id.value());
                }
                if old.len() >= 10_000 {
                    break;
                }
            }
            for id in &old {
                t.remove(*id)?;
            }
            let mut keys = tx.open_table(tables::MAIL_KEYS)?;
            let cutoff = (now - KEEP_KEYS).unix_timestamp();
            let stale: Vec<String> = keys
                .iter()?
                .filter_map(Result::ok)
                .filter(|(_, v)| v.value().1 < cutoff)
                .take(10_000)
                .map(|(k, _)| k.value().to_owned())
                .collect();
            for k in &stale {
                keys.remove(k.as_str())?;
            }
            Ok(old.len() + stale.len())
        })
        .await
}

/// What the System page's SMTP form asks to keep.
#[derive(Clone, Debug)]
pub struct SmtpChange {
    /// The fields typed; an empty password keeps the stored one…
    pub parts: crate::domain::mailing::SmtpParts,
    /// …unless this asks to remove it.
    pub forget_password: bool,
}

/// Saves the SMTP server set on the System page (audited as `actor`, the password
/// never written to the audit log) and wakes the sender. Refused while `--smtp` or the
/// configuration sets it. Answers the URL as it may be shown (`config::redact`).
pub async fn save_smtp(
    app: &crate::service::App,
    change: SmtpChange,
    actor: &str,
) -> crate::error::AppResult<String> {
    use crate::domain::mailing::SmtpParts;
    use crate::error::AppError;
    if app.config.smtp.is_some() {
        return Err(AppError::Conflict {
            reason: "smtp_set_by_config",
            details: serde_json::Value::Null,
        });
    }
    let now = app.now();
    let actor = actor.to_owned();
    let shown = app
        .store
        .write(move |tx| {
            let mut parts = change.parts.clone();
            if parts.password.is_empty() && !change.forget_password && !parts.user.is_empty() {
                parts.password = SmtpParts::of_url(&smtp_settings(tx)?.url)
                    .map(|old| old.password)
                    .unwrap_or_default();
            }
            let url = parts.url().map_err(|why| {
                let field = match why {
                    "a user name" => "user",
                    "a password" => "password",
                    _ => "host",
                };
                AppError::malformed(field, why)
            })?;
            if !url.is_empty() {
                crate::config::check_smtp_url(&url)
                    .map_err(|why| AppError::malformed("host", &why))?;
            }
            let shown = crate::config::redact(&url);
            write_smtp_settings(tx, &crate::domain::SmtpSettings { url })?;
            crate::service::audit::append(
                tx,
                &crate::service::audit::entry(&actor, now, "smtp_settings", "system", &shown),
            )?;
            Ok(shown)
        })
        .await?;
    app.mail_queued.notify_one();
    Ok(shown)
}
