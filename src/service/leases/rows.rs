//! The seat rows of one (key, feature): a `HOLDERS` row per unit holding a seat and a
//! `SEAT_COUNTS` row with how many there are. A capture touches its own unit's row and
//! the count, so its cost does not grow with the number of holders; only a full key
//! reads all its holders (to free the seats of lapsed leases).
use super::*;
use crate::domain::seats::Holder;

/// Every holder of one (key, feature), in unit order.
pub fn book(tx: &impl Snapshot, regnum: &str, feature: u32) -> Result<SeatBook, StoreError> {
    let t = tx.table(tables::HOLDERS.def)?;
    let mut holders = Vec::new();
    for row in t.range((regnum, feature, "")..)? {
        let (k, v) = row?;
        let (r, f, _) = k.value();
        if r != regnum || f != feature {
            break;
        }
        holders.push(crate::store::codec::decode(v.value())?);
    }
    Ok(SeatBook { holders })
}

pub fn holder(
    tx: &impl Snapshot,
    regnum: &str,
    feature: u32,
    unit_key: &str,
) -> Result<Option<Holder>, StoreError> {
    let t = tx.table(tables::HOLDERS.def)?;
    tables::HOLDERS.get(&t, (regnum, feature, unit_key))
}

pub fn count(tx: &impl Snapshot, regnum: &str, feature: u32) -> Result<u32, StoreError> {
    let t = tx.table(tables::SEAT_COUNTS)?;
    Ok(t.get((regnum, feature))?.map_or(0, |v| v.value()))
}

pub fn put(tx: &Logged, regnum: &str, feature: u32, h: &Holder) -> Result<(), StoreError> {
    let bytes = crate::store::codec::encode(h)?;
    tx.insert(
        tables::HOLDERS.def,
        (regnum, feature, h.unit_key.as_str()),
        bytes.as_slice(),
    )
}

pub fn set_count(tx: &Logged, regnum: &str, feature: u32, n: u32) -> Result<(), StoreError> {
    if n == 0 {
        tx.remove(tables::SEAT_COUNTS, (regnum, feature))?;
        Ok(())
    } else {
        tx.insert(tables::SEAT_COUNTS, (regnum, feature), n)
    }
}

/// Frees one seat: the unit's row goes and the count drops by one.
pub fn free(tx: &Logged, regnum: &str, feature: u32, unit_key: &str) -> Result<(), StoreError> {
    if tx.remove(tables::HOLDERS.def, (regnum, feature, unit_key))? {
        set_count(
            tx,
            regnum,
            feature,
            count(tx, regnum, feature)?.saturating_sub(1),
        )?;
    }
    Ok(())
}

/// Writes `after` where `before` was (the same key and feature, the whole book): rows of holders gone
/// are deleted, changed ones rewritten, and the count set.
pub fn save(
    tx: &Logged,
    regnum: &str,
    feature: u32,
    before: &SeatBook,
    after: &SeatBook,
) -> Result<(), StoreError> {
    for old in &before.holders {
        match after.holders.iter().find(|h| h.unit_key == old.unit_key) {
            None => {
                tx.remove(
                    tables::HOLDERS.def,
                    (regnum, feature, old.unit_key.as_str()),
                )?;
            }
            Some(h) if h != old => put(tx, regnum, feature, h)?,
            Some(_) => {}
        }
    }
    for h in &after.holders {
        if !before.holders.iter().any(|o| o.unit_key == h.unit_key) {
            put(tx, regnum, feature, h)?;
        }
    }
    if before.used() != after.used() {
        set_count(tx, regnum, feature, after.used())?;
    }
    Ok(())
}

/// Every (feature, holder) of a key, or of all keys, in key order; `f` returns false
/// to stop.
pub fn each(
    tx: &impl Snapshot,
    regnum: Option<&str>,
    mut f: impl FnMut(&str, u32, Holder) -> bool,
) -> Result<(), StoreError> {
    let t = tx.table(tables::HOLDERS.def)?;
    let range = match regnum {
        Some(r) => t.range((r, 0u32, "")..)?,
        None => t.range::<(&str, u32, &str)>(..)?,
    };
    for row in range {
        let (k, v) = row?;
        let (r, feature, _) = k.value();
        if regnum.is_some_and(|want| want != r) {
            break;
        }
        if !f(r, feature, crate::store::codec::decode(v.value())?) {
            break;
        }
    }
    Ok(())
}
