//! Every half minute: writes the usage counters gathered in memory, drops lapsed
//! leases from the store, and forgets idle rate-limit buckets; every ten minutes drops
//! the cabinet's dead sessions, codes and links. Captures judge lapse themselves; this keeps the tables and memory small.
use crate::service::{App, leases, usage};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let mut rounds: u64 = 0;
    loop {
        rounds += 1;
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
        if rounds % 20 == 1 {
            match crate::service::cabinet::prune(&app).await {
                Ok(n) if n > 0 => tracing::debug!(rows = n, "old cabinet rows pruned"),
                Ok(_) => {}
                Err(e) => tracing::warn!("cabinet pruning: {e}"),
            }
        }
        if rounds % 120 == 1 {
            match usage::prune_denials(&app).await {
                Ok(n) if n > 0 => tracing::info!(denials = n, "old denials pruned"),
                Ok(_) => {}
                Err(e) => tracing::warn!("denial pruning: {e}"),
            }
        }
        let st = &app.store.stats;
        let (c, j) = (
            st.commits.load(std::sync::atomic::Ordering::Relaxed),
            st.jobs.load(std::sync::atomic::Ordering::Relaxed),
        );
        tracing::debug!(
            commits = c,
            writes = j,
            avg_batch = j as f64 / c.max(1) as f64,
            avg_run_us = st.run_us.load(std::sync::atomic::Ordering::Relaxed) / c.max(1),
            avg_commit_us = st.commit_us.load(std::sync::atomic::Ordering::Relaxed) / c.max(1),
            logged = st.logged.load(std::sync::atomic::Ordering::Relaxed),
            avg_wal_us = st.wal_us.load(std::sync::atomic::Ordering::Relaxed) / c.max(1),
            "writer"
        );
    }
}
