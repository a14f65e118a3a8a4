//! Schema versions and the ordered steps between them, run at start in one
//! transaction.
use super::{StoreError, meta, tables};
use redb::WriteTransaction;

/// The schema this build writes.
pub const CURRENT: u64 = 5;

type Step = fn(&WriteTransaction) -> Result<(), StoreError>;

/// `STEPS[i]` moves a database from version `i + 1` to `i + 2`.
const STEPS: &[Step] = &[v1_to_v2, v2_to_v3, v3_to_v4, v4_to_v5];

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

/// 3: a seat holder per row (`holders` + `seat_counts`) instead of one seat book per
/// key and feature; the lease index names the holder's unit.
fn v2_to_v3(tx: &WriteTransaction) -> Result<(), StoreError> {
    use redb::{ReadableTable, TableHandle};
    let exists = |name: &str| -> Result<bool, StoreError> {
        Ok(tx.list_tables()?.any(|t| t.name() == name))
    };
    if exists(tables::LEGACY_SEATS.def.name())? {
        let terms: std::collections::HashMap<String, (u32, i64)> =
            if exists(tables::LEGACY_LEASES.name())? {
                let t = tx.open_table(tables::LEGACY_LEASES)?;
                let mut m = std::collections::HashMap::new();
                for row in t.iter()? {
                    let (k, v) = row?;
                    let (_, _, term, exp) = v.value();
                    m.insert(k.value().to_owned(), (term, exp));
                }
                m
            } else {
                Default::default()
            };
        let books: Vec<((String, u32), crate::domain::seats::SeatBook)> = {
            let t = tx.open_table(tables::LEGACY_SEATS.def)?;
            let mut v = Vec::new();
            for row in t.iter()? {
                let (k, b) = row?;
                let (r, f) = k.value();
                v.push(((r.to_owned(), f), super::codec::decode(b.value())?));
            }
            v
        };
        let mut holders = tx.open_table(tables::HOLDERS.def)?;
        let mut counts = tx.open_table(tables::SEAT_COUNTS)?;
        let mut index = tx.open_table(tables::LEASE_INDEX)?;
        for ((r, f), book) in &books {
            for h in &book.holders {
                tables::HOLDERS.put(&mut holders, (r.as_str(), *f, h.unit_key.as_str()), h)?;
                for l in &h.leases {
                    let (term, exp) = terms.get(&l.id).copied().unwrap_or((
                        crate::domain::DEFAULT_HEARTBEAT_S,
                        l.expires_at.unix_timestamp(),
                    ));
                    index.insert(
                        l.id.as_str(),
                        (r.as_str(), *f, h.unit_key.as_str(), term, exp),
                    )?;
                }
            }
            if !book.holders.is_empty() {
                counts.insert((r.as_str(), *f), book.holders.len() as u32)?;
            }
        }
        drop((holders, counts, index));
        tx.delete_table(tables::LEGACY_SEATS.def)?;
    }
    if exists(tables::LEGACY_LEASES.name())? {
        tx.delete_table(tables::LEGACY_LEASES)?;
    }
    Ok(())
}

/// 4: the statistics rollups (`usage_daily`, `denial_client_days`) and the denials'
/// time indexes (`denial_times`, `denial_feature_times`), filled from the rows kept so
/// far. New tables only: no stored record changes shape.
fn v3_to_v4(tx: &WriteTransaction) -> Result<(), StoreError> {
    use redb::ReadableTable;
    use std::collections::{BTreeMap, HashMap};
    let mut daily: BTreeMap<(i32, u32), (u64, u64, u64)> = BTreeMap::new();
    let mut per_key_day: Vec<(String, i32, u32)> = Vec::new();
    {
        let t = tx.open_table(tables::USAGE)?;
        for row in t.iter()? {
            let (k, v) = row?;
            let (regnum, feature, day) = k.value();
            let (c, d, p) = v.value();
            let e = daily.entry((day, feature)).or_default();
            e.0 += u64::from(c);
            e.1 += u64::from(d);
            e.2 += u64::from(p);
            if d > 0 {
                per_key_day.push((regnum.to_owned(), day, d));
            }
        }
    }
    {
        let mut t = tx.open_table(tables::USAGE_DAILY)?;
        for (k, v) in &daily {
            t.insert(*k, *v)?;
        }
    }
    let mut per_block: BTreeMap<(i32, u64), BTreeMap<u16, u32>> = BTreeMap::new();
    {
        let keys = tx.open_table(tables::KEYS.def)?;
        let mut owner: HashMap<String, Option<u64>> = HashMap::new();
        for (regnum, day, n) in per_key_day {
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
                let (block, lo) = crate::service::stats::blocks::split(c);
                *per_block
                    .entry((day, block))
                    .or_default()
                    .entry(lo)
                    .or_default() += n;
            }
        }
    }
    {
        let mut t = tx.open_table(tables::DENIAL_CLIENT_DAYS)?;
        for (k, counts) in &per_block {
            t.insert(*k, crate::service::stats::blocks::encode(counts).as_slice())?;
        }
    }
    let denials = tx.open_table(tables::DENIALS.def)?;
    let mut times = tx.open_table(tables::DENIAL_TIMES)?;
    let mut by_feature = tx.open_table(tables::DENIAL_FEATURE_TIMES)?;
    for row in denials.iter()? {
        let (k, v) = row?;
        let (regnum, ms, seq) = k.value();
        let d: crate::domain::Denial = super::codec::decode(v.value())?;
        times.insert((ms, seq), (regnum, d.feature, d.code))?;
        by_feature.insert((d.feature, ms, seq), (regnum, d.code))?;
    }
    Ok(())
}

/// The shapes schema 4 stored, read once by `v4_to_v5`.
mod v4 {
    use serde::Deserialize;
    use time::OffsetDateTime;

    #[derive(Deserialize)]
    pub struct User {
        pub login: String,
        pub role: crate::domain::Role,
        pub password_hash: String,
        pub distributor: String,
        pub created_at: OffsetDateTime,
        pub disabled: bool,
    }

    #[derive(Deserialize)]
    pub struct Mail {
        pub id: u64,
        pub to: String,
        pub subject: String,
        pub body: String,
        pub created_at: OffsetDateTime,
        pub attempts: u32,
        pub next_attempt_at: OffsetDateTime,
        pub last_error: String,
    }

    #[derive(Deserialize)]
    pub struct Settings {
        pub vendor_name: String,
        pub regnum_prefix: String,
        pub offline_license_days: u32,
        pub extra_fields: Vec<String>,
        pub mail_from: String,
    }

    #[derive(Deserialize)]
    pub struct ClientPrefs {
        pub lang: String,
    }
}

/// 5: mail. Grants that expire are indexed by expiry (`grant_expiry`); staff users get an e-mail; an outbox mail gets its event, idempotency key,
/// recipients and Cc, HTML, state and give-up time (with the `mail_keys` and
/// `mail_pending` tables); settings get the expiry reminder days and the mail language;
/// client preferences get the mail opt-outs and the staff mute.
fn v4_to_v5(tx: &WriteTransaction) -> Result<(), StoreError> {
    use super::codec::{decode, encode};
    use crate::domain::{Mail, MailState, Settings, User};
    use redb::ReadableTable;
    let rows = |def: redb::TableDefinition<'static, &'static str, &'static [u8]>| -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let t = tx.open_table(def)?;
        let mut v = Vec::new();
        for row in t.iter()? {
            let (k, b) = row?;
            v.push((k.value().to_owned(), b.value().to_vec()));
        }
        Ok(v)
    };
    {
        let keys = tx.open_table(tables::KEYS.def)?;
        let mut index = tx.open_table(tables::GRANT_EXPIRY)?;
        for row in keys.iter()? {
            let k: crate::domain::Key = decode(row?.1.value())?;
            crate::service::keys::index_grants(&mut index, &k)?;
        }
    }
    {
        let old = rows(tables::USERS.def)?;
        let mut t = tx.open_table(tables::USERS.def)?;
        for (k, b) in old {
            let u: v4::User = decode(&b)?;
            let n = User {
                login: u.login,
                role: u.role,
                password_hash: u.password_hash,
                distributor: u.distributor,
                created_at: u.created_at,
                disabled: u.disabled,
                email: String::new(),
            };
            t.insert(k.as_str(), encode(&n)?.as_slice())?;
        }
    }
    {
        let mut old = Vec::new();
        {
            let t = tx.open_table(tables::OUTBOX.def)?;
            for row in t.iter()? {
                let (k, b) = row?;
                old.push((k.value(), b.value().to_vec()));
            }
        }
        let mut t = tx.open_table(tables::OUTBOX.def)?;
        let mut keys = tx.open_table(tables::MAIL_KEYS)?;
        let mut pending = tx.open_table(tables::MAIL_PENDING)?;
        for (id, b) in old {
            let m: v4::Mail = decode(&b)?;
            // Schema 4 gave up after 12 attempts and removed what it sent.
            let state = if m.attempts >= 12 {
                MailState::Failed(m.next_attempt_at)
            } else {
                MailState::Queued
            };
            let n = Mail {
                id: m.id,
                event: "legacy".into(),
                key: format!("legacy:{}", m.id),
                to: vec![m.to],
                cc: Vec::new(),
                subject: m.subject,
                text: m.body,
                html: String::new(),
                client_id: None,
                created_at: m.created_at,
                state,
                attempts: m.attempts,
                next_attempt_at: m.next_attempt_at,
                give_up_at: m.created_at + crate::domain::DEFAULT_MAIL_GIVE_UP,
                last_error: m.last_error,
            };
            t.insert(id, encode(&n)?.as_slice())?;
            keys.insert(n.key.as_str(), (id, n.created_at.unix_timestamp()))?;
            if n.state == MailState::Queued {
                pending.insert(id, n.next_attempt_at.unix_timestamp())?;
            }
        }
    }
    {
        let t = tx.open_table(tables::META)?;
        let old: Option<v4::Settings> = meta::get_record(&t, "settings")?;
        drop(t);
        if let Some(s) = old {
            let n = Settings {
                vendor_name: s.vendor_name,
                regnum_prefix: s.regnum_prefix,
                offline_license_days: s.offline_license_days,
                extra_fields: s.extra_fields,
                mail_from: s.mail_from,
                ..Settings::default()
            };
            meta::put_record(tx, "settings", &n)?;
        }
    }
    {
        let mut old = Vec::new();
        {
            let t = tx.open_table(tables::CLIENT_PREFS.def)?;
            for row in t.iter()? {
                let (k, b) = row?;
                old.push((k.value(), b.value().to_vec()));
            }
        }
        let mut t = tx.open_table(tables::CLIENT_PREFS.def)?;
        for (id, b) in old {
            let p: v4::ClientPrefs = decode(&b)?;
            let n = crate::domain::cabinet::ClientPrefs {
                lang: p.lang,
                ..Default::default()
            };
            t.insert(id, encode(&n)?.as_slice())?;
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
    fn version_2_seat_books_become_holder_rows() {
        use crate::domain::seats::{Holder, LeaseSlot, SeatBook};
        use redb::ReadableTableMetadata;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v2.redb");
        let now = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .expect("ns");
        let slot = |id: &str| LeaseSlot {
            id: id.into(),
            session: String::new(),
            app: "a".into(),
            version: String::new(),
            since: now,
            expires_at: now + time::Duration::minutes(3),
        };
        let holder = |unit: &str, leases: Vec<LeaseSlot>| Holder {
            unit_key: unit.into(),
            host: format!("{unit}-host"),
            database: String::new(),
            user: unit.into(),
            since: now,
            bound: false,
            leases,
        };
        let (l1, l2, l3) = ("0".repeat(32), "1".repeat(32), "2".repeat(32));
        {
            // A database as schema 2 left it: one seat book with two holders, three leases.
            let db = redb::Database::create(&path).expect("create");
            let tx = db.begin_write().expect("tx");
            tables::create_all(&tx).expect("tables");
            meta::put_u64(&tx, "schema_version", 2).expect("version");
            let book = SeatBook {
                holders: vec![
                    holder("ann", vec![slot(&l1), slot(&l2)]),
                    holder("bob", vec![slot(&l3)]),
                ],
            };
            let mut t = tx.open_table(tables::LEGACY_SEATS.def).expect("seats");
            tables::LEGACY_SEATS
                .put(&mut t, ("K-1", 7u32), &book)
                .expect("put");
            drop(t);
            let mut t = tx.open_table(tables::LEGACY_LEASES).expect("leases");
            for l in [&l1, &l2, &l3] {
                t.insert(l.as_str(), ("K-1", 7u32, 45u32, 1_000i64))
                    .expect("lease");
            }
            drop(t);
            tx.commit().expect("commit");
        }
        let store = Store::open(&path).expect("open migrates");
        let tx = store.read().expect("read");
        let book = crate::service::leases::rows::book(&tx, "K-1", 7).expect("book");
        assert_eq!(book.holders.len(), 2);
        assert_eq!(book.holders[0].leases.len(), 2);
        assert_eq!(book.holders[1].user, "bob");
        assert_eq!(
            crate::service::leases::rows::count(&tx, "K-1", 7).expect("count"),
            2
        );
        let idx = tx.open_table(tables::LEASE_INDEX).expect("index");
        let row = idx.get(l3.as_str()).expect("get").expect("lease kept");
        assert_eq!(row.value(), ("K-1", 7, "bob", 45, 1_000));
        assert_eq!(idx.len().expect("len"), 3);
        // The schema-2 tables are gone.
        use redb::TableHandle;
        assert!(
            !tx.list_tables()
                .expect("tables")
                .any(|t| t.name() == "seats" || t.name() == "leases")
        );
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
