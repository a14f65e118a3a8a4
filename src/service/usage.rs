//! Denials and daily usage, kept for the statistics and problems screens.
//!
//! Sized for a year at 1,000 keys: usage is one small row per key, feature and day
//! (≈ 1,000 × 5 × 365 = 1.8 M rows of 12 bytes); denials are one row each, keyed by key
//! and time so a key's problems read as one range, and pruned after `RETENTION_DAYS`.
use crate::domain::Denial;
use crate::store::{Snapshot, StoreError, tables};
use redb::ReadableTable;
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;

pub const RETENTION_DAYS: i64 = 400;

static DENIAL_SEQ: AtomicU64 = AtomicU64::new(0);

/// Days since 1970-01-01 (UTC).
pub fn day_number(t: OffsetDateTime) -> i32 {
    t.unix_timestamp().div_euclid(86_400) as i32
}

/// Usage counters gathered in memory and added to the `usage` table every few seconds
/// (and at shutdown), so a capture's commit writes no statistics row. A crash loses at
/// most the last few seconds of counts — statistics, never a seat or a lease.
/// (registration number, feature, day) → (captures, denials, peak seats).
pub type UsageRow = ((String, u32, i32), (u32, u32, u32));

#[derive(Default)]
pub struct UsageBuffer {
    pending: dashmap::DashMap<(String, u32, i32), (u32, u32, u32)>,
}

impl UsageBuffer {
    /// A granted capture; `used` seats are in use after it.
    pub fn capture(&self, regnum: &str, feature: u32, now: OffsetDateTime, used: u32) {
        let mut e = self
            .pending
            .entry((regnum.to_owned(), feature, day_number(now)))
            .or_default();
        e.0 = e.0.saturating_add(1);
        e.2 = e.2.max(used);
    }

    pub fn denial(&self, regnum: &str, feature: u32, now: OffsetDateTime) {
        let mut e = self
            .pending
            .entry((regnum.to_owned(), feature, day_number(now)))
            .or_default();
        e.1 = e.1.saturating_add(1);
    }

    /// Takes what is pending (to be written).
    pub fn take(&self) -> Vec<UsageRow> {
        let keys: Vec<_> = self.pending.iter().map(|e| e.key().clone()).collect();
        keys.into_iter()
            .filter_map(|k| self.pending.remove(&k))
            .collect()
    }

    /// Puts back what could not be written.
    pub fn restore(&self, rows: Vec<UsageRow>) {
        for (k, v) in rows {
            let mut e = self.pending.entry(k).or_default();
            e.0 = e.0.saturating_add(v.0);
            e.1 = e.1.saturating_add(v.1);
            e.2 = e.2.max(v.2);
        }
    }
}

/// Adds pending counts to the `usage` table in one write.
pub async fn flush(app: &crate::service::App) -> crate::error::AppResult<usize> {
    let rows = app.usage.take();
    if rows.is_empty() {
        return Ok(0);
    }
    let n = rows.len();
    let rows2 = rows.clone();
    let r = app
        .store
        // Logged like the captures it counts, so it never forces a checkpoint.
        .write_logged(move |tx| {
            // Read every current row with one open table, then write through the log.
            let current = {
                let t = tx.table(tables::USAGE)?;
                rows2
                    .iter()
                    .map(|((regnum, feature, day), _)| {
                        Ok(t.get((regnum.as_str(), *feature, *day))?
                            .map_or((0, 0, 0), |v| v.value()))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?
            };
            for (((regnum, feature, day), (c, d, p)), mut v) in rows2.iter().zip(current) {
                v.0 = v.0.saturating_add(*c);
                v.1 = v.1.saturating_add(*d);
                v.2 = v.2.max(*p);
                tx.insert(tables::USAGE, (regnum.as_str(), *feature, *day), v)?;
            }
            Ok(())
        })
        .await;
    match r {
        Ok(()) => Ok(n),
        Err(e) => {
            app.usage.restore(rows);
            Err(e)
        }
    }
}

/// Records a refused capture (its per-day count goes through `UsageBuffer`).
pub fn record_denial(tx: &crate::store::Logged, d: &Denial) -> Result<(), StoreError> {
    let seq = DENIAL_SEQ.fetch_add(1, Ordering::Relaxed);
    let ms = (d.at.unix_timestamp_nanos() / 1_000_000) as i64;
    let bytes = crate::store::codec::encode(d)?;
    tx.insert(
        tables::DENIALS.def,
        (d.regnum.as_str(), ms, seq),
        bytes.as_slice(),
    )?;
    tx.insert(
        tables::DENIAL_DAYS,
        (day_number(d.at), d.regnum.as_str()),
        (),
    )?;
    Ok(())
}

/// Deletes denials older than `RETENTION_DAYS` (the daily counts in `usage` stay).
pub async fn prune_denials(app: &crate::service::App) -> crate::error::AppResult<usize> {
    let cutoff = day_number(app.now()) - RETENTION_DAYS as i32;
    app.store
        .write(move |tx| {
            let old: Vec<(i32, String)> = {
                let days = tx.open_table(tables::DENIAL_DAYS)?;
                let mut v = Vec::new();
                for row in days.range((i32::MIN, "")..(cutoff, ""))?.take(10_000) {
                    let (k, _) = row?;
                    let (day, regnum) = k.value();
                    v.push((day, regnum.to_owned()));
                }
                v
            };
            let mut removed = 0;
            let mut t = tx.open_table(tables::DENIALS.def)?;
            let mut days = tx.open_table(tables::DENIAL_DAYS)?;
            for (day, regnum) in &old {
                let from = i64::from(*day) * 86_400_000;
                let to = from + 86_400_000;
                let keys: Vec<(i64, u64)> = t
                    .range((regnum.as_str(), from, 0u64)..(regnum.as_str(), to, 0u64))?
                    .filter_map(Result::ok)
                    .map(|(k, _)| {
                        let (_, ms, seq) = k.value();
                        (ms, seq)
                    })
                    .collect();
                for (ms, seq) in keys {
                    t.remove((regnum.as_str(), ms, seq))?;
                    removed += 1;
                }
                days.remove((*day, regnum.as_str()))?;
            }
            Ok(removed)
        })
        .await
}

/// Denials of a key, newest first.
pub fn denials_of(
    tx: &impl Snapshot,
    regnum: &str,
    limit: usize,
) -> Result<Vec<Denial>, StoreError> {
    let t = tx.table(tables::DENIALS.def)?;
    let mut out = Vec::new();
    for row in t
        .range((regnum, i64::MIN, 0u64)..=(regnum, i64::MAX, u64::MAX))?
        .rev()
        .take(limit)
    {
        let (_, v) = row?;
        out.push(crate::store::codec::decode(v.value())?);
    }
    Ok(out)
}

/// (day, captures, denials, peak) of one key and feature, oldest first.
pub fn usage_of(
    tx: &impl Snapshot,
    regnum: &str,
    feature: u32,
) -> Result<Vec<(i32, u32, u32, u32)>, StoreError> {
    let t = tx.table(tables::USAGE)?;
    let mut out = Vec::new();
    for row in t.range((regnum, feature, i32::MIN)..=(regnum, feature, i32::MAX))? {
        let (k, v) = row?;
        let (c, d, p) = v.value();
        out.push((k.value().2, c, d, p));
    }
    Ok(out)
}
