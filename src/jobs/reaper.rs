//! Every half minute: writes the usage counters gathered in memory, drops lapsed
//! leases from the store, and forgets idle rate-limit buckets. Captures judge lapse themselves; this keeps the tables and memory small.
use crate::service::{App, leases, usage};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(30)) => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = usage::flush(&app).await {
            tracing::warn!("usage flush: {e}");
        }
        match leases::reap(&app).await {
            Ok(n) if n > 0 => tracing::info!(leases = n, "lapsed leases dropped"),
            Ok(_) => {}
            Err(e) => tracing::warn!("lease reaper: {e}"),
        }
        app.limits.sweep();
    }
}
