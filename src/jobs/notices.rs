//! The notification jobs: license alerts (denials at once, hourly summaries, seats
//! nearly exhausted) every couple of seconds; expiry reminders at start and hourly;
//! the weekly digest checked hourly; old outbox rows pruned daily. Hours are the app
//! clock's, so tests move time instead of waiting.
use crate::service::{App, alerts, reminders};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

fn report(what: &str, r: crate::error::AppResult<usize>) {
    match r {
        Ok(0) => {}
        Ok(n) => tracing::info!(mails = n, "{what} queued"),
        Err(e) => tracing::warn!("{what}: {e}"),
    }
}

pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let mut last_hour: Option<i64> = None;
    loop {
        report("denial alerts", alerts::denials(&app).await);
        report("denial summaries", alerts::summaries(&app).await);
        report("seat alerts", alerts::seats(&app).await);
        let hour = app.now().unix_timestamp().div_euclid(3600);
        if last_hour != Some(hour) {
            last_hour = Some(hour);
            report("expiry reminders", reminders::expiry(&app).await);
            report("weekly digests", reminders::digest(&app).await);
            report("outbox pruning", crate::service::mail::prune(&app).await);
        }
        tokio::select! {
            _ = app.alerts.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.changed() => return,
        }
    }
}
