//! Vendor settings (name, registration-number prefix, …), one record in `meta`.
use crate::domain::Settings;
use crate::store::{Snapshot, StoreError, meta, tables};

const NAME: &str = "settings";

/// The settings, from a read snapshot or inside a write.
pub fn read(tx: &impl Snapshot) -> Result<Settings, StoreError> {
    let t = tx.table(tables::META)?;
    Ok(meta::get_record(&t, NAME)?.unwrap_or_default())
}

pub fn write(tx: &redb::WriteTransaction, s: &Settings) -> Result<(), StoreError> {
    meta::put_record(tx, NAME, s)
}
