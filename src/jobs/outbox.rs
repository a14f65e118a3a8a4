//! The outbox sender: mail queued by use cases goes out through SMTP, with retries and
//! exponential backoff until the mail's give-up time, surviving restarts (the queue is a
//! table), never sent twice (a mail is marked `Sending` durably just before its body
//! goes out), and within the daily quota of addressees.
use super::smtp::{Failure, Server, Session};
use crate::domain::{Mail, MailState};
use crate::service::App;
use crate::store::tables;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use redb::ReadableTable;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::watch;

/// Delay before attempt `n + 1`: 30 s doubling, at most an hour.
pub fn backoff(attempts: u32) -> time::Duration {
    let secs = 30u64.saturating_mul(1u64 << attempts.min(7)).min(3600);
    time::Duration::seconds(secs as i64)
}

/// Mails due now, oldest first, at most `limit`.
fn due(app: &App, limit: usize) -> Vec<Mail> {
    let now = app.now().unix_timestamp();
    let read = || -> Result<Vec<Mail>, crate::store::StoreError> {
        let tx = app.store.read()?;
        let pending = tx.open_table(tables::MAIL_PENDING)?;
        let outbox = tx.open_table(tables::OUTBOX.def)?;
        let mut out = Vec::new();
        for row in pending.iter()? {
            let (id, at) = row?;
            if at.value() > now {
                continue;
            }
            if let Some(m) = tables::OUTBOX.get(&outbox, id.value())?
                && m.state == MailState::Queued
            {
                out.push(m);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    };
    read().unwrap_or_else(|e| {
        tracing::error!("cannot read the outbox: {e}");
        Vec::new()
    })
}

/// The SMTP server mail goes through now: `--smtp` / the config file, else the one set
/// on the System page.
pub fn smtp_url(app: &App) -> Option<String> {
    if let Some(u) = &app.config.smtp {
        return Some(u.clone());
    }
    let tx = app.store.read().ok()?;
    let s = crate::service::mail::smtp_settings(&tx).ok()?;
    (!s.url.trim().is_empty()).then(|| s.url.trim().to_owned())
}

/// The sender address: `--mail-from` when given, else the vendor settings' one.
pub fn mail_from(app: &App) -> String {
    if app.config.mail_from != crate::config::DEFAULT_MAIL_FROM {
        return app.config.mail_from.clone();
    }
    app.store
        .read()
        .ok()
        .and_then(|tx| crate::service::settings::read(&tx).ok())
        .map(|s| s.mail_from)
        .unwrap_or_else(|| app.config.mail_from.clone())
}

/// A header lettre has no type for (`Auto-Submitted`, RFC 3834): auto-replies and
/// vacation notices should not answer licd's mail.
#[derive(Clone)]
struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

fn domain_of(addr: &str) -> &str {
    addr.rsplit_once('@').map_or("licd.invalid", |(_, d)| d)
}

/// The message of a mail, with a Message-ID made from its id and idempotency key, so
/// a mail re-sent by hand from the Outbox page is recognisably the same message.
pub fn message(m: &Mail, from: &Mailbox) -> Result<Message, String> {
    let mut b = Message::builder()
        .from(from.clone())
        .subject(m.subject.clone())
        .message_id(Some(format!(
            "<licd.{}.{}@{}>",
            m.id,
            &crate::service::sessions::secret_hash(&m.key)[..16],
            domain_of(from.email.as_ref())
        )))
        .header(AutoSubmitted);
    for t in &m.to {
        b = b.to(t.parse().map_err(|e| format!("recipient {t:?}: {e}"))?);
    }
    for c in &m.cc {
        if let Ok(c) = c.parse::<Mailbox>() {
            b = b.cc(c);
        }
    }
    let msg = if m.html.is_empty() {
        b.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(m.text.clone()),
        )
    } else {
        b.multipart(MultiPart::alternative_plain_html(
            m.text.clone(),
            m.html.clone(),
        ))
    };
    msg.map_err(|e| e.to_string())
}

/// Sends one test mail to `to` now, through the SMTP server mail goes through,
/// bypassing the outbox (System page); answers what the server said.
pub async fn send_test(app: &App, to: &str) -> Result<String, String> {
    let url = smtp_url(app).ok_or_else(|| "no SMTP server is configured".to_owned())?;
    test_through(&url, &mail_from(app), &app.config.public_url, to).await
}

/// `send_test` from a configuration alone (`licd mail test`, no data directory opened).
pub async fn send_test_with(config: &crate::config::Config, to: &str) -> Result<String, String> {
    let url = config
        .smtp
        .clone()
        .ok_or_else(|| "no SMTP server is configured (--smtp)".to_owned())?;
    test_through(&url, &config.mail_from, &config.public_url, to).await
}

async fn test_through(url: &str, from: &str, public_url: &str, to: &str) -> Result<String, String> {
    let server = Server::parse(url)?;
    let from: Mailbox = from.parse().map_err(|e| format!("sender: {e}"))?;
    let to = to.trim().to_owned();
    let now = OffsetDateTime::UNIX_EPOCH;
    let m = Mail {
        id: 0,
        event: "test".into(),
        key: format!("test:{to}"),
        to: vec![to.clone()],
        cc: Vec::new(),
        subject: "licd: test mail".into(),
        text: format!(
            "This is a test mail from licd at {public_url}.\nIf you read it, licd's mail works.\n"
        ),
        html: String::new(),
        client_id: None,
        created_at: now,
        state: MailState::Queued,
        attempts: 0,
        next_attempt_at: now,
        give_up_at: now,
        last_error: String::new(),
    };
    let msg = message(&m, &from)?;
    let to: Address = to.parse().map_err(|e| format!("recipient: {e}"))?;
    let mut s = server.connect().await.map_err(|f| f.text().to_owned())?;
    let d = s
        .send(&from.email, &[to], &[], &msg.formatted(), || async {
            Ok(())
        })
        .await
        .map_err(|f| f.text().to_owned())?;
    s.quit().await;
    Ok(d.answer)
}

/// The outcome of one attempt, recorded in the outbox.
enum Outcome {
    Sent(String),
    Failed(Failure),
}

async fn record(app: &App, id: u64, outcome: Outcome) {
    let now = app.now();
    let r = app
        .store
        .write(move |tx| {
            let mut t = tx.open_table(tables::OUTBOX.def)?;
            let Some(mut m) = tables::OUTBOX.get(&t, id)? else {
                return Ok(None);
            };
            // Dropped on the Outbox page meanwhile: it stays dropped.
            if matches!(m.state, MailState::Dropped(_)) {
                return Ok(None);
            }
            let mut pending = tx.open_table(tables::MAIL_PENDING)?;
            pending.remove(id)?;
            let result = match &outcome {
                Outcome::Sent(answer) => {
                    m.state = MailState::Sent(now);
                    m.last_error = answer.clone();
                    m.forget_secret();
                    true
                }
                Outcome::Failed(f) => {
                    m.attempts += 1;
                    m.last_error = f.text().to_owned();
                    let retry = matches!(f, Failure::Transient(_)) && now < m.give_up_at;
                    if retry {
                        m.state = MailState::Queued;
                        m.next_attempt_at = now + backoff(m.attempts);
                        pending.insert(id, m.next_attempt_at.unix_timestamp())?;
                    } else {
                        m.state = MailState::Failed(now);
                        m.forget_secret();
                    }
                    false
                }
            };
            tables::OUTBOX.put(&mut t, id, &m)?;
            drop((t, pending));
            if result {
                crate::service::system::count_mail_sent(tx, now, m.addressees() as u32)?;
            }
            Ok(Some(result))
        })
        .await;
    match r {
        Ok(Some(true)) => {
            app.metrics.mail_sent();
            tracing::info!(mail = id, "mail sent");
        }
        Ok(Some(false)) => {
            app.metrics.mail_failed();
            tracing::warn!(mail = id, "mail not sent");
        }
        Ok(None) => {}
        Err(e) => tracing::error!(mail = id, "outbox update failed: {e}"),
    }
}

/// Marks a mail `Sending` durably: from here on it is never sent again by itself. A
/// mail no longer queued (dropped on the Outbox page since it was picked) is refused:
/// its body does not go out.
async fn hand_over(app: &App, id: u64) -> Result<(), String> {
    let now = app.now();
    app.store
        .write(move |tx| {
            let mut t = tx.open_table(tables::OUTBOX.def)?;
            match tables::OUTBOX.get(&t, id)? {
                Some(mut m) if m.state == MailState::Queued => {
                    m.state = MailState::Sending(now);
                    tables::OUTBOX.put(&mut t, id, &m)?;
                }
                _ => return Ok(false),
            }
            tx.open_table(tables::MAIL_PENDING)?.remove(id)?;
            Ok(true)
        })
        .await
        .map_err(|e| e.to_string())?
        .then_some(())
        .ok_or_else(|| "no longer queued".to_owned())
}

/// One mail through an open session (opened here when there is none).
async fn deliver(app: &App, server: &Server, session: &mut Option<Session>, m: &Mail) {
    let from_text = mail_from(app);
    let prepared = (|| -> Result<_, Failure> {
        let from: Mailbox = from_text
            .parse()
            .map_err(|e| Failure::Transient(format!("sender {from_text:?}: {e}")))?;
        let msg = message(m, &from).map_err(Failure::Permanent)?;
        let to: Vec<Address> = m.to.iter().filter_map(|a| a.parse().ok()).collect();
        let cc: Vec<Address> = m.cc.iter().filter_map(|a| a.parse().ok()).collect();
        Ok((from, msg, to, cc))
    })();
    let (from, msg, to, cc) = match prepared {
        Ok(p) => p,
        Err(f) => return record(app, m.id, Outcome::Failed(f)).await,
    };
    if session.is_none() {
        match server.connect().await {
            Ok(s) => *session = Some(s),
            Err(f) => return record(app, m.id, Outcome::Failed(f)).await,
        }
    }
    let Some(s) = session.as_mut() else { return };
    let id = m.id;
    let result = s
        .send(&from.email, &to, &cc, &msg.formatted(), || {
            hand_over(app, id)
        })
        .await;
    match result {
        Ok(d) => {
            let mut answer = d.answer;
            for (addr, e) in d.refused_cc {
                answer.push_str(&format!("; copy to {addr} refused: {e}"));
            }
            record(app, id, Outcome::Sent(answer)).await;
        }
        Err(f) => {
            // The session may be mid-command: never reuse it after a failure.
            *session = None;
            record(app, id, Outcome::Failed(f)).await;
        }
    }
}

pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let mut said_no_smtp = false;
    loop {
        match smtp_url(&app).map(|u| Server::parse(&u)) {
            None => {
                if !said_no_smtp {
                    tracing::info!(
                        "no SMTP server is set (--smtp or the System page): mail stays queued in the outbox"
                    );
                    said_no_smtp = true;
                }
            }
            Some(Err(e)) => tracing::error!("SMTP settings unusable: {e}"),
            Some(Ok(server)) => {
                said_no_smtp = false;
                let mut session: Option<Session> = None;
                let batch = due(&app, 50);
                let full = batch.len() == 50;
                for m in batch {
                    if *stop.borrow() {
                        return;
                    }
                    // Over the daily quota of addressees, mail waits (System page).
                    if !crate::service::system::mail_allowed(&app, m.addressees() as u32) {
                        tracing::warn!("the daily mail quota is reached: mail waits in the outbox");
                        break;
                    }
                    deliver(&app, &server, &mut session, &m).await;
                }
                if let Some(s) = session {
                    s.quit().await;
                }
                if full {
                    continue;
                }
            }
        }
        tokio::select! {
            _ = app.mail_queued.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stop.changed() => return,
        }
    }
}
