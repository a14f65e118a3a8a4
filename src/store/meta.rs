//! Small values in the `meta` table: schema version, id sequences, settings.
use super::{StoreError, codec, tables::META};
use redb::{ReadableTable, WriteTransaction};
use serde::{Serialize, de::DeserializeOwned};

pub fn get_u64(tx: &WriteTransaction, name: &str) -> Result<Option<u64>, StoreError> {
    let t = tx.open_table(META)?;
    let v = t.get(name)?.map(|v| {
        let b = v.value();
        let mut a = [0u8; 8];
        if b.len() == 8 {
            a.copy_from_slice(b);
        }
        u64::from_le_bytes(a)
    });
    Ok(v)
}

/// `get_u64` in a read transaction.
pub fn read_u64(tx: &redb::ReadTransaction, name: &str) -> Result<Option<u64>, StoreError> {
    let t = tx.open_table(META)?;
    let v = t.get(name)?.map(|v| {
        let mut a = [0u8; 8];
        if v.value().len() == 8 {
            a.copy_from_slice(v.value());
        }
        u64::from_le_bytes(a)
    });
    Ok(v)
}

pub fn put_u64(tx: &WriteTransaction, name: &str, v: u64) -> Result<(), StoreError> {
    let mut t = tx.open_table(META)?;
    t.insert(name, v.to_le_bytes().as_slice())?;
    Ok(())
}

/// The next id of a sequence (1, 2, 3, …), kept in the same transaction as its use.
pub fn next_id(tx: &WriteTransaction, seq: &str) -> Result<u64, StoreError> {
    let name = format!("seq:{seq}");
    let next = get_u64(tx, &name)?.unwrap_or(0) + 1;
    put_u64(tx, &name, next)?;
    Ok(next)
}

pub fn get_record<T: DeserializeOwned>(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    name: &str,
) -> Result<Option<T>, StoreError> {
    match t.get(name)? {
        Some(v) => Ok(Some(codec::decode(v.value())?)),
        None => Ok(None),
    }
}

pub fn put_record<T: Serialize>(
    tx: &WriteTransaction,
    name: &str,
    v: &T,
) -> Result<(), StoreError> {
    let mut t = tx.open_table(META)?;
    let b = codec::encode(v)?;
    t.insert(name, b.as_slice())?;
    Ok(())
}
