//! Denials and daily usage, kept for the statistics and problems screens.
//!
//! Sized for a year at 1,000 keys: usage is one small row per key, feature and day
//! (≈ 1,000 × 5 × 365 = 1.8 M rows of 12 bytes); denials are one row each, keyed by key
//! and time so a key's problems read as one range, and pruned after `RETENTION_DAYS`.
use crate::domain::Denial;
use crate::store::{Snapshot, StoreError, tables};
use redb::{ReadableTable, WriteTransaction};
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;

pub const RETENTION_DAYS: i64 = 400;

static DENIAL_SEQ: AtomicU64 = AtomicU64::new(0);

/// Days since 1970-01-01 (UTC).
pub fn day_number(t: OffsetDateTime) -> i32 {
    t.unix_timestamp().div_euclid(86_400) as i32
}

fn bump(
    tx: &WriteTransaction,
    regnum: &str,
    feature: u32,
    now: OffsetDateTime,
    f: impl FnOnce(&mut (u32, u32, u32)),
) -> Result<(), StoreError> {
    let mut t = tx.open_table(tables::USAGE)?;
    let k = (regnum, feature, day_number(now));
    let mut v = t.get(k)?.map(|v| v.value()).unwrap_or((0, 0, 0));
    f(&mut v);
    t.insert(k, v)?;
    Ok(())
}

/// A granted capture: one more capture that day, and the peak of seats in use.
pub fn record_capture(
    tx: &WriteTransaction,
    regnum: &str,
    feature: u32,
    now: OffsetDateTime,
    used: u32,
) -> Result<(), StoreError> {
    bump(tx, regnum, feature, now, |v| {
        v.0 = v.0.saturating_add(1);
        v.2 = v.2.max(used);
    })
}

pub fn record_denial(tx: &WriteTransaction, d: &Denial) -> Result<(), StoreError> {
    let seq = DENIAL_SEQ.fetch_add(1, Ordering::Relaxed);
    let ms = (d.at.unix_timestamp_nanos() / 1_000_000) as i64;
    let mut t = tx.open_table(tables::DENIALS.def)?;
    tables::DENIALS.put(&mut t, (d.regnum.as_str(), ms, seq), d)?;
    drop(t);
    bump(tx, &d.regnum, d.feature, d.at, |v| {
        v.1 = v.1.saturating_add(1)
    })
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
