//! Vendor settings (name, registration-number prefix, …), one record in `meta`.
use crate::domain::Settings;
use crate::store::{StoreError, meta, tables};
use redb::ReadTransaction;

const NAME: &str = "settings";

pub fn read(tx: &ReadTransaction) -> Result<Settings, StoreError> {
    let t = tx.open_table(tables::META)?;
    Ok(meta::get_record(&t, NAME)?.unwrap_or_default())
}

pub fn read_in(tx: &redb::WriteTransaction) -> Result<Settings, StoreError> {
    let t = tx.open_table(tables::META)?;
    Ok(meta::get_record(&t, NAME)?.unwrap_or_default())
}

pub fn write(tx: &redb::WriteTransaction, s: &Settings) -> Result<(), StoreError> {
    meta::put_record(tx, NAME, s)
}
