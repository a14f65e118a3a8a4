//! The outbox sender: mails queued by use cases go out through SMTP (lettre), with
//! retries and backoff, surviving restarts (the queue is a table).
use crate::domain::Mail;
use crate::service::App;
use crate::store::{Snapshot, tables};
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use redb::ReadableTable;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// After this many failed attempts a mail is kept but no longer retried.
pub const MAX_ATTEMPTS: u32 = 12;

/// Delay before attempt `n + 1`: 30 s doubling, at most an hour.
pub fn backoff(attempts: u32) -> time::Duration {
    let secs = 30u64.saturating_mul(1u64 << attempts.min(7)).min(3600);
    time::Duration::seconds(secs as i64)
}

fn due(app: &App) -> Vec<Mail> {
    let now = app.now();
    let Ok(tx) = app.store.read() else {
        return Vec::new();
    };
    let Ok(t) = tx.table(tables::OUTBOX.def) else {
        return Vec::new();
    };
    let Ok(iter) = t.iter() else {
        return Vec::new();
    };
    iter.filter_map(Result::ok)
        .filter_map(|(_, v)| crate::store::codec::decode::<Mail>(v.value()).ok())
        .filter(|m| m.attempts < MAX_ATTEMPTS && m.next_attempt_at <= now)
        .take(100)
        .collect()
}

async fn send(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
    m: &Mail,
) -> Result<(), String> {
    let to: Mailbox = m.to.parse().map_err(|e| format!("recipient: {e}"))?;
    let msg = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(&m.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(m.body.clone())
        .map_err(|e| e.to_string())?;
    transport
        .send(msg)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Sends one test mail to `to` now, through the configured SMTP server, bypassing the
/// outbox (System page, `licd mail test`); answers what the server said.
pub async fn send_test(app: &App, to: &str) -> Result<String, String> {
    send_test_with(&app.config, to).await
}

/// `send_test` from a configuration alone (`licd mail test`, no data directory opened).
pub async fn send_test_with(config: &crate::config::Config, to: &str) -> Result<String, String> {
    let url = config
        .smtp
        .clone()
        .ok_or_else(|| "no SMTP server is configured (--smtp)".to_owned())?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
        .map_err(|e| e.to_string())?
        .timeout(Some(Duration::from_secs(20)))
        .build();
    let from: Mailbox = config
        .mail_from
        .parse()
        .map_err(|e| format!("sender: {e}"))?;
    let to: Mailbox = to.trim().parse().map_err(|e| format!("recipient: {e}"))?;
    let msg = Message::builder()
        .from(from)
        .to(to)
        .subject("licd: test mail")
        .header(ContentType::TEXT_PLAIN)
        .body(format!(
            "This is a test mail from licd at {}.\nIf you read it, licd's mail works.\n",
            config.public_url
        ))
        .map_err(|e| e.to_string())?;
    let answer = transport.send(msg).await.map_err(|e| e.to_string())?;
    Ok(format!(
        "{} {}",
        answer.code(),
        answer.message().collect::<Vec<_>>().join(" ")
    ))
}

pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let Some(url) = app.config.smtp.clone() else {
        tracing::info!("no --smtp: mail stays queued in the outbox until SMTP is configured");
        return;
    };
    let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(&url) {
        Ok(t) => t.timeout(Some(Duration::from_secs(20))).build(),
        Err(e) => {
            tracing::error!("SMTP settings unusable: {e}");
            return;
        }
    };
    let from: Mailbox = match app.config.mail_from.parse() {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("--mail-from unusable: {e}");
            return;
        }
    };
    loop {
        for m in due(&app) {
            if *stop.borrow() {
                return;
            }
            // Over the daily quota, mail waits in the outbox (System page).
            if !crate::service::system::mail_allowed(&app) {
                tracing::warn!("the daily mail quota is reached: mail waits in the outbox");
                break;
            }
            let result = send(&transport, &from, &m).await;
            let now = app.now();
            let id = m.id;
            let write = app
                .store
                .write(move |tx| {
                    let mut t = tx.open_table(tables::OUTBOX.def)?;
                    match &result {
                        Ok(()) => {
                            t.remove(id)?;
                            drop(t);
                            crate::service::system::count_mail_sent(tx, now)?;
                        }
                        Err(e) => {
                            if let Some(mut m) = tables::OUTBOX.get(&t, id)? {
                                m.attempts += 1;
                                m.last_error = e.clone();
                                m.next_attempt_at = now + backoff(m.attempts);
                                tables::OUTBOX.put(&mut t, id, &m)?;
                            }
                        }
                    }
                    Ok(result.clone())
                })
                .await;
            match write {
                Ok(Ok(())) => {
                    app.metrics.mail_sent();
                    tracing::info!(mail = id, "mail sent");
                }
                Ok(Err(e)) => {
                    app.metrics.mail_failed();
                    tracing::warn!(mail = id, "mail not sent, will retry: {e}");
                }
                Err(e) => tracing::error!(mail = id, "outbox update failed: {e}"),
            }
        }
        tokio::select! {
            _ = app.mail_queued.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stop.changed() => return,
        }
    }
}
