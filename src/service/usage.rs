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

/// Adds pending counts to the `usage` table in one write, and the same changes to the
/// staff rollups (`usage_daily` per day and feature, `denial_client_days` per day and
/// client), in the same logged transaction so they never disagree with `usage`.
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
            add_usage(tx, &rows2)?;
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

/// Adds `rows` to `usage` and its rollups (the body of `flush`; `licd seed` uses the
/// rollup half directly).
pub fn add_usage(tx: &crate::store::Logged, rows: &[UsageRow]) -> Result<(), StoreError> {
    use std::collections::BTreeMap;
    // Read every current row with one open table, then write through the log.
    let current = {
        let t = tx.table(tables::USAGE)?;
        rows.iter()
            .map(|((regnum, feature, day), _)| {
                Ok(t.get((regnum.as_str(), *feature, *day))?
                    .map_or((0, 0, 0), |v| v.value()))
            })
            .collect::<Result<Vec<_>, StoreError>>()?
    };
    let mut daily: BTreeMap<(i32, u32), (u64, u64, u64)> = BTreeMap::new();
    let mut denied: BTreeMap<(i32, String), u32> = BTreeMap::new();
    for (((regnum, feature, day), (c, d, p)), old) in rows.iter().zip(current) {
        let v = (
            old.0.saturating_add(*c),
            old.1.saturating_add(*d),
            old.2.max(*p),
        );
        tx.insert(tables::USAGE, (regnum.as_str(), *feature, *day), v)?;
        let e = daily.entry((*day, *feature)).or_default();
        e.0 += u64::from(v.0 - old.0);
        e.1 += u64::from(v.1 - old.1);
        e.2 += u64::from(v.2 - old.2);
        if *d > 0 {
            *denied.entry((*day, regnum.clone())).or_default() += *d;
        }
    }
    add_daily(tx, &daily)?;
    // Denials per client: the key's owner now.
    let mut per_client: BTreeMap<(i32, u64), u32> = BTreeMap::new();
    {
        let keys = tx.table(tables::KEYS.def)?;
        let mut owner: std::collections::HashMap<String, Option<u64>> = Default::default();
        for ((day, regnum), n) in denied {
            let client = match owner.get(&regnum) {
                Some(c) => *c,
                None => {
                    let c = tables::KEYS
                        .get(&keys, regnum.as_str())?
                        .map(|k| k.client_id);
                    owner.insert(regnum, c);
                    c
                }
            };
            if let Some(c) = client {
                *per_client.entry((day, c)).or_default() += n;
            }
        }
    }
    crate::service::stats::blocks::add_client_denials(tx, &per_client)
}

/// Adds (captures, denials, peak) deltas to `usage_daily`.
pub fn add_daily(
    tx: &crate::store::Logged,
    deltas: &std::collections::BTreeMap<(i32, u32), (u64, u64, u64)>,
) -> Result<(), StoreError> {
    let current = {
        let t = tx.table(tables::USAGE_DAILY)?;
        deltas
            .keys()
            .map(|k| Ok(t.get(*k)?.map_or((0, 0, 0), |v| v.value())))
            .collect::<Result<Vec<_>, StoreError>>()?
    };
    for ((k, d), old) in deltas.iter().zip(current) {
        if *d == (0, 0, 0) {
            continue;
        }
        tx.insert(
            tables::USAGE_DAILY,
            *k,
            (old.0 + d.0, old.1 + d.1, old.2 + d.2),
        )?;
    }
    Ok(())
}

/// The next denial sequence number (unique within this process; with the time in ms it
/// keys a denial).
pub fn next_denial_seq() -> u64 {
    DENIAL_SEQ.fetch_add(1, Ordering::Relaxed)
}

/// A denial's time as the tables key it.
pub fn denial_ms(d: &Denial) -> i64 {
    (d.at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Records a refused capture (its per-day count goes through `UsageBuffer`): the row
/// under its key, the day index that prunes it, and the time-ordered indexes the back
/// office reads (all and per feature).
pub fn record_denial(tx: &crate::store::Logged, d: &Denial) -> Result<(), StoreError> {
    let seq = next_denial_seq();
    let ms = denial_ms(d);
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
    tx.insert(
        tables::DENIAL_TIMES,
        (ms, seq),
        (d.regnum.as_str(), d.feature, d.code),
    )?;
    tx.insert(
        tables::DENIAL_FEATURE_TIMES,
        (d.feature, ms, seq),
        (d.regnum.as_str(), d.code),
    )?;
    Ok(())
}

/// Deletes denials older than `RETENTION_DAYS`, with their index rows (the daily
/// counts in `usage` and the rollups stay).
pub async fn prune_denials(app: &crate::service::App) -> crate::error::AppResult<usize> {
    let cutoff = day_number(app.now()) - RETENTION_DAYS as i32;
    app.store
        .write(move |tx| Ok(prune_denials_before(tx, cutoff)?))
        .await
}

/// Deletes the denials of days before `cutoff` (at most 10,000 key-days per call).
pub fn prune_denials_before(tx: &redb::WriteTransaction, cutoff: i32) -> Result<usize, StoreError> {
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
    let mut times = tx.open_table(tables::DENIAL_TIMES)?;
    let mut by_feature = tx.open_table(tables::DENIAL_FEATURE_TIMES)?;
    for (day, regnum) in &old {
        let from = i64::from(*day) * 86_400_000;
        let to = from + 86_400_000;
        let mut rows: Vec<(i64, u64, u32)> = Vec::new();
        for row in t.range((regnum.as_str(), from, 0u64)..(regnum.as_str(), to, 0u64))? {
            let (k, v) = row?;
            let (_, ms, seq) = k.value();
            let d: Denial = crate::store::codec::decode(v.value())?;
            rows.push((ms, seq, d.feature));
        }
        for (ms, seq, feature) in rows {
            t.remove((regnum.as_str(), ms, seq))?;
            times.remove((ms, seq))?;
            by_feature.remove((feature, ms, seq))?;
            removed += 1;
        }
        days.remove((*day, regnum.as_str()))?;
    }
    Ok(removed)
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
