//! The System page's facts (seed 002 read as an appliance's own page): build, uptime,
//! storage, load, staff, mail against its daily quota, TLS, backups.
use super::{App, backups};
use crate::store::{Snapshot, StoreError, meta, tables};
use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;

/// The git revision and build time the binary was made from (build.rs).
pub const GIT_REVISION: &str = env!("LICD_GIT_REVISION");
pub const BUILD_UNIX: &str = env!("LICD_BUILD_UNIX");

pub fn build_time() -> Option<OffsetDateTime> {
    BUILD_UNIX
        .parse()
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
}

/// Requests per second over the last sampling period (the load job's).
#[derive(Default)]
pub struct Load {
    /// Requests per second × 100.
    rps_centi: AtomicU64,
    last_total: AtomicU64,
    /// CPU of this process, per cent of one core × 100.
    cpu_centi: AtomicU64,
}

impl Load {
    pub fn rps(&self) -> f64 {
        self.rps_centi.load(Ordering::Relaxed) as f64 / 100.0
    }
    pub fn cpu_percent(&self) -> f64 {
        self.cpu_centi.load(Ordering::Relaxed) as f64 / 100.0
    }
}

/// Seconds between two load samples.
pub const LOAD_PERIOD_S: u64 = 5;

/// The job sampling requests per second and the process's CPU.
pub async fn run_load(app: std::sync::Arc<App>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut sys = sysinfo::System::new();
    let pid = sysinfo::get_current_pid().ok();
    app.load
        .last_total
        .store(app.metrics.requests_total(), Ordering::Relaxed);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(LOAD_PERIOD_S)) => {}
        }
        let total = app.metrics.requests_total();
        let before = app.load.last_total.swap(total, Ordering::Relaxed);
        let rps = total.saturating_sub(before) as f64 / LOAD_PERIOD_S as f64;
        app.load
            .rps_centi
            .store((rps * 100.0) as u64, Ordering::Relaxed);
        if let Some(pid) = pid {
            sys.refresh_processes(sysinfo::ProcessesToUpdate::Some(&[pid]), true);
            if let Some(p) = sys.process(pid) {
                app.load
                    .cpu_centi
                    .store((p.cpu_usage() as f64 * 100.0) as u64, Ordering::Relaxed);
            }
        }
    }
}

/// Free and total bytes of the volume holding `path`.
pub fn disk_space(path: &Path) -> Option<(u64, u64)> {
    let path = std::fs::canonicalize(path).ok()?;
    let disks = sysinfo::Disks::new_with_refreshed_list();
    disks
        .list()
        .iter()
        .filter(|d| path.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len())
        .map(|d| (d.available_space(), d.total_space()))
}

/// One-minute load average of the machine (where the platform has one).
pub fn load_average() -> Option<f64> {
    let l = sysinfo::System::load_average();
    (l.one > 0.0 || cfg!(unix)).then_some(l.one)
}

// ---- Mail sent per 24 hours, against the daily quota (seed 002's "addressees per 24 h").

const MAIL_HOURS: &str = "mail_sent_hours";

/// Mails sent per hour (unix hour → count), the last 24 hours.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MailHours(pub Vec<(i64, u32)>);

fn hour(now: OffsetDateTime) -> i64 {
    now.unix_timestamp().div_euclid(3600)
}

impl MailHours {
    /// Mails sent in the 24 hours up to `now`.
    pub fn last_24h(&self, now: OffsetDateTime) -> u32 {
        let h = hour(now);
        self.0
            .iter()
            .filter(|(at, _)| h - at < 24 && *at <= h)
            .map(|(_, n)| n)
            .sum()
    }
}

pub fn mail_hours(tx: &impl Snapshot) -> Result<MailHours, StoreError> {
    let t = tx.table(tables::META)?;
    Ok(meta::get_record(&t, MAIL_HOURS)?.unwrap_or_default())
}

/// Counts a mail to `n` addressees sent at `now` (inside the write that marks it sent).
pub fn count_mail_sent(
    tx: &redb::WriteTransaction,
    now: OffsetDateTime,
    n: u32,
) -> Result<(), StoreError> {
    let mut hours: MailHours = {
        let t = tx.open_table(tables::META)?;
        meta::get_record(&t, MAIL_HOURS)?.unwrap_or_default()
    };
    let h = hour(now);
    hours.0.retain(|(at, _)| h - at < 24 && *at <= h);
    match hours.0.iter_mut().find(|(at, _)| *at == h) {
        Some((_, c)) => *c += n,
        None => hours.0.push((h, n)),
    }
    meta::put_record(tx, MAIL_HOURS, &hours)
}

/// Whether the quota leaves room for a mail to `n` addressees now (a mail larger than
/// the whole quota goes when nothing else was sent in the last 24 hours).
pub fn mail_allowed(app: &App, n: u32) -> bool {
    let Ok(tx) = app.store.read() else {
        return true;
    };
    let quota = backups::stored(&tx).map_or(backups::DEFAULT_MAIL_QUOTA, |page| {
        backups::resolve(app, &page).mail_daily_quota
    });
    let sent = mail_hours(&tx).map_or(0, |h| h.last_24h(app.now()));
    sent == 0 || sent.saturating_add(n) <= quota
}

/// Staff users per role.
pub fn staff_counts(tx: &redb::ReadTransaction) -> Result<[u64; 3], StoreError> {
    let t = tx.open_table(tables::USERS.def)?;
    let mut n = [0u64; 3];
    for row in t.iter()? {
        let (_, v) = row?;
        if let Ok(u) = crate::store::codec::decode::<crate::domain::User>(v.value()) {
            let i = match u.role {
                crate::domain::Role::Admin => 0,
                crate::domain::Role::Manager => 1,
                crate::domain::Role::Distributor => 2,
            };
            n[i] += 1;
        }
    }
    Ok(n)
}

/// Mails waiting in the outbox (queued, not yet sent or given up).
pub fn outbox_len(tx: &redb::ReadTransaction) -> Result<u64, StoreError> {
    Ok(tx.open_table(tables::MAIL_PENDING)?.len()?)
}

/// Live leases (rows of the lease index).
pub fn leases_len(tx: &redb::ReadTransaction) -> Result<u64, StoreError> {
    Ok(tx.open_table(tables::LEASE_INDEX)?.len()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_hours_count_the_last_day_only() {
        let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        let h = MailHours(vec![(hour(t0) - 30, 5), (hour(t0) - 23, 2), (hour(t0), 3)]);
        assert_eq!(h.last_24h(t0), 5);
        assert_eq!(h.last_24h(t0 + time::Duration::hours(1)), 3);
    }
}
