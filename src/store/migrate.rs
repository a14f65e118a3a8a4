//! Schema versions and the ordered steps between them, run at start in one
//! transaction.
use super::{StoreError, meta, tables};
use redb::WriteTransaction;

/// The schema this build writes.
pub const CURRENT: u64 = 2;

type Step = fn(&WriteTransaction) -> Result<(), StoreError>;

/// `STEPS[i]` moves a database from version `i + 1` to `i + 2`.
const STEPS: &[Step] = &[v1_to_v2];

/// 2: clients are also indexed by responsible manager and by distributor.
fn v1_to_v2(tx: &WriteTransaction) -> Result<(), StoreError> {
    use redb::ReadableTable;
    let clients: Vec<crate::domain::Client> = {
        let t = tx.open_table(tables::CLIENTS.def)?;
        let mut v = Vec::new();
        for row in t.iter()? {
            v.push(super::codec::decode(row?.1.value())?);
        }
        v
    };
    let mut managers = tx.open_multimap_table(tables::CLIENT_MANAGERS)?;
    let mut dists = tx.open_multimap_table(tables::CLIENT_DISTRIBUTORS)?;
    for c in &clients {
        if !c.manager.trim().is_empty() {
            managers.insert(c.manager.trim(), c.id)?;
        }
        if !c.distributor.trim().is_empty() {
            dists.insert(c.distributor.trim(), c.id)?;
        }
    }
    Ok(())
}

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
    fn version_1_gets_the_manager_and_distributor_indexes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v1.redb");
        {
            // A database as schema 1 left it: a client, no manager/distributor index.
            let db = redb::Database::create(&path).expect("create");
            let tx = db.begin_write().expect("tx");
            tables::create_all(&tx).expect("tables");
            meta::put_u64(&tx, "schema_version", 1).expect("version");
            let c = crate::domain::Client {
                id: 7,
                company: "Старый".into(),
                manager: "anna".into(),
                distributor: "Partner".into(),
                ..Default::default()
            };
            let mut t = tx.open_table(tables::CLIENTS.def).expect("clients");
            tables::CLIENTS.put(&mut t, 7u64, &c).expect("put");
            drop(t);
            tx.commit().expect("commit");
        }
        let store = Store::open(&path).expect("open migrates");
        let tx = store.read().expect("read");
        assert_eq!(
            crate::service::clients::ids_by_manager(&tx, "anna").expect("ids"),
            vec![7]
        );
        assert_eq!(
            crate::service::clients::ids_by_distributor(&tx, "Partner").expect("ids"),
            vec![7]
        );
        drop(tx);
        let v = store
            .write_blocking(|tx| Ok(meta::get_u64(tx, "schema_version")?))
            .expect("version");
        assert_eq!(v, Some(CURRENT));
    }

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
