//! Schema versions and the ordered steps between them, run at start in one
//! transaction.
use super::{StoreError, meta, tables};
use redb::WriteTransaction;

/// The schema this build writes.
pub const CURRENT: u64 = 1;

type Step = fn(&WriteTransaction) -> Result<(), StoreError>;

/// `STEPS[i]` moves a database from version `i + 1` to `i + 2`.
const STEPS: &[Step] = &[];

/// Brings a database to `CURRENT`. A fresh file is stamped; an older one is stepped up;
/// a newer one (written by a later licd) is refused rather than misread.
pub fn migrate(tx: &WriteTransaction) -> Result<u64, StoreError> {
    tables::create_all(tx)?;
    let found = meta::get_u64(tx, "schema_version")?;
    let mut v = match found {
        None => {
            meta::put_u64(tx, "schema_version", CURRENT)?;
            return Ok(CURRENT);
        }
        Some(v) => v,
    };
    if v > CURRENT {
        return Err(StoreError::TooNew {
            found: v,
            supported: CURRENT,
        });
    }
    while v < CURRENT {
        let step = STEPS.get((v - 1) as usize).ok_or(StoreError::TooNew {
            found: v,
            supported: CURRENT,
        })?;
        step(tx)?;
        v += 1;
        meta::put_u64(tx, "schema_version", v)?;
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn fresh_is_stamped_and_newer_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.redb");
        {
            let store = Store::open(&path).expect("open");
            let v = store
                .write_blocking(|tx| Ok(meta::get_u64(tx, "schema_version")?))
                .expect("read");
            assert_eq!(v, Some(CURRENT));
            // Pretend a later licd wrote this file.
            store
                .write_blocking(|tx| Ok(meta::put_u64(tx, "schema_version", CURRENT + 1)?))
                .expect("write");
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        match Store::open(&path) {
            Err(StoreError::TooNew { found, supported }) => {
                assert_eq!((found, supported), (CURRENT + 1, CURRENT));
            }
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("a newer schema must be refused"),
        }
    }
}
