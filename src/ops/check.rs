//! `licd check`: a read-only integrity check of a stopped server's database.
//!
//! Every row of every table must decode; each seat count must equal its holder rows;
//! every lease in the index must name a holder that holds it, and every holder's lease
//! must be indexed; the client, product and denial indexes must match their tables both
//! ways; the redo log's frames of the current epoch must parse. Nothing is written.
use crate::domain::seats::Holder;
use crate::domain::{Client, Key as LicenseKey, Product};
use crate::store::backup::present;
use crate::store::{StoreError, codec, meta, migrate, redo, tables};
use redb::{
    Key, MultimapTableDefinition, ReadTransaction, ReadableDatabase, ReadableMultimapTable,
    ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle, Value,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Problems listed in full; beyond this only counted.
const SHOWN: usize = 50;

/// What the check found.
#[derive(Debug, Default)]
pub struct Report {
    pub schema: u64,
    /// (table, rows) of every table present.
    pub tables: Vec<(String, u64)>,
    pub problems: Vec<String>,
    /// Problems beyond the ones listed.
    pub more: usize,
    pub log_frames: usize,
    pub log_changes: usize,
    pub log_bytes: u64,
}

impl Report {
    pub fn sound(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, p: String) {
        if self.problems.len() < SHOWN {
            self.problems.push(p);
        } else {
            self.more += 1;
        }
    }

    /// The report as the command prints it.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let rows: u64 = self.tables.iter().map(|t| t.1).sum();
        let _ = writeln!(
            s,
            "schema {}; {} tables, {rows} rows",
            self.schema,
            self.tables.len()
        );
        for (t, n) in &self.tables {
            let _ = writeln!(s, "  {t:<24} {n:>12}");
        }
        let _ = writeln!(
            s,
            "redo log: {} bytes, {} unretired frames ({} changes), all sound",
            self.log_bytes, self.log_frames, self.log_changes
        );
        if self.sound() {
            let _ = writeln!(s, "sound: no problems found");
        } else {
            let _ = writeln!(s, "{} problem(s):", self.problems.len() + self.more);
            for p in &self.problems {
                let _ = writeln!(s, "  - {p}");
            }
            if self.more > 0 {
                let _ = writeln!(s, "  … and {} more", self.more);
            }
        }
        s
    }
}

/// Checks the database at `db_path` (and its redo log) without writing anything.
/// A database a running server holds is refused.
pub fn check(db_path: &Path) -> Result<Report, StoreError> {
    if !db_path.exists() {
        return Err(StoreError::Codec(format!(
            "no database at {}",
            db_path.display()
        )));
    }
    let db = match crate::store::backup::open_read_only(db_path) {
        Ok(db) => db,
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
            return Err(StoreError::Locked(db_path.to_owned()));
        }
        Err(e) => return Err(e.into()),
    };
    let tx = db.begin_read()?;
    let mut report = Report {
        schema: meta::read_u64(&tx, "schema_version")?.unwrap_or(0),
        ..Report::default()
    };
    if report.schema > migrate::CURRENT {
        return Err(StoreError::TooNew {
            found: report.schema,
            supported: migrate::CURRENT,
        });
    }
    let mut d = Decoder {
        tx: &tx,
        report: &mut report,
    };
    tables::visit_all(&mut d)?;
    if report.schema == migrate::CURRENT {
        relations(&tx, &mut report)?;
        let dir = db_path.parent().unwrap_or(Path::new(".")).join("releases");
        release_files(&tx, &dir, &mut report)?;
    } else {
        report.problem(format!(
            "schema {} is older than this licd's {}: a start migrates it; relations were not checked",
            report.schema,
            migrate::CURRENT
        ));
    }
    let epoch = meta::read_u64(&tx, redo::EPOCH)?.unwrap_or(0);
    let log = redo::read_log(&db_path.with_extension("wal"), epoch)?;
    report.log_bytes = log.size;
    report.log_frames = log.frames.len();
    for (i, f) in log.frames.iter().enumerate() {
        match redo::parse_frame(f) {
            Ok(n) => report.log_changes += n,
            Err(e) => report.problem(format!("redo log frame {}: {e}", i + 1)),
        }
    }
    Ok(report)
}

struct Decoder<'a> {
    tx: &'a ReadTransaction,
    report: &'a mut Report,
}

impl tables::Visit for Decoder<'_> {
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        def: TableDefinition<'static, K, V>,
        decodes: Option<tables::Decodes>,
        legacy: bool,
    ) -> Result<(), StoreError> {
        let Some(t) = present(self.tx.open_table(def))? else {
            if !legacy {
                self.report
                    .problem(format!("table {} is missing", def.name()));
            }
            return Ok(());
        };
        let mut rows = 0u64;
        for r in t.iter()? {
            let (_, v) = r?;
            rows += 1;
            if let Some(check) = decodes
                && let Err(e) = check(V::as_bytes(&v.value()).as_ref())
            {
                self.report
                    .problem(format!("{} row {rows}: {e}", def.name()));
            }
        }
        self.report.tables.push((def.name().to_owned(), rows));
        Ok(())
    }

    fn multimap<K: Key + 'static, V: Key + 'static>(
        &mut self,
        def: MultimapTableDefinition<'static, K, V>,
    ) -> Result<(), StoreError> {
        use redb::MultimapTableHandle;
        match present(self.tx.open_multimap_table(def))? {
            Some(t) => self.report.tables.push((def.name().to_owned(), t.len()?)),
            None => self
                .report
                .problem(format!("table {} is missing", def.name())),
        }
        Ok(())
    }
}

fn decoded<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    codec::decode(bytes).ok()
}

/// Cross-table rules of the current schema.
fn relations(tx: &ReadTransaction, r: &mut Report) -> Result<(), StoreError> {
    seats(tx, r)?;
    clients_and_keys(tx, r)?;
    products(tx, r)?;
    denials(tx, r)?;
    grant_expiry(tx, r)?;
    outbox(tx, r)?;
    Ok(())
}

/// The grant expiry index lists exactly the keys' grants that expire.
fn grant_expiry(tx: &ReadTransaction, r: &mut Report) -> Result<(), StoreError> {
    let mut indexed: BTreeSet<(i64, String, u64)> = BTreeSet::new();
    for row in tx.open_table(tables::GRANT_EXPIRY)?.iter()? {
        let (k, _) = row?;
        let (e, regnum, id) = k.value();
        indexed.insert((e, regnum.to_owned(), id));
    }
    let mut missing = 0u64;
    for row in tx.open_table(tables::KEYS.def)?.iter()? {
        let (_, v) = row?;
        let Some(key) = decoded::<LicenseKey>(v.value()) else {
            continue;
        };
        for g in &key.grants {
            if let Some(e) = g.expires_at
                && !indexed.remove(&(e.unix_timestamp(), key.regnum.clone(), g.id))
            {
                missing += 1;
            }
        }
    }
    if missing > 0 {
        r.problem(format!(
            "{missing} expiring grant(s) missing from grant_expiry (no reminders for them)"
        ));
    }
    if !indexed.is_empty() {
        r.problem(format!(
            "{} entr(ies) of grant_expiry name grants that do not exist",
            indexed.len()
        ));
    }
    Ok(())
}

/// Every release has its file in `dir` with the size it was published with, and the
/// version index names exactly the releases. (Backups copy the database; the files are
/// copied beside it: this says when they were not.)
fn release_files(tx: &ReadTransaction, dir: &Path, r: &mut Report) -> Result<(), StoreError> {
    let mut index: BTreeSet<u64> = BTreeSet::new();
    for row in tx.open_table(tables::RELEASE_VERSIONS)?.iter()? {
        index.insert(row?.1.value());
    }
    let (mut missing, mut wrong, mut unindexed) = (Vec::new(), Vec::new(), 0u64);
    for row in tx.open_table(tables::RELEASES.def)?.iter()? {
        let (id, v) = row?;
        let Some(rel) = decoded::<crate::domain::release::Release>(v.value()) else {
            continue;
        };
        if !index.remove(&id.value()) {
            unindexed += 1;
        }
        match std::fs::metadata(dir.join(&rel.stored)) {
            Err(_) => missing.push(format!("{} {} ({})", rel.product, rel.version, rel.stored)),
            Ok(m) if m.len() != rel.size => wrong.push(format!(
                "{} {} ({}: {} bytes, published with {})",
                rel.product,
                rel.version,
                rel.stored,
                m.len(),
                rel.size
            )),
            Ok(_) => {}
        }
    }
    if !missing.is_empty() {
        r.problem(format!(
            "{} release file(s) missing from {}: {}",
            missing.len(),
            dir.display(),
            missing.join(", ")
        ));
    }
    if !wrong.is_empty() {
        r.problem(format!(
            "{} release file(s) of the wrong size: {}",
            wrong.len(),
            wrong.join(", ")
        ));
    }
    if unindexed > 0 {
        r.problem(format!(
            "{unindexed} release(s) missing from release_versions"
        ));
    }
    if !index.is_empty() {
        r.problem(format!(
            "{} entr(ies) of release_versions name releases that do not exist",
            index.len()
        ));
    }
    Ok(())
}

/// Every queued mail is pending and every pending mail is queued.
fn outbox(tx: &ReadTransaction, r: &mut Report) -> Result<(), StoreError> {
    let mut pending: BTreeSet<u64> = BTreeSet::new();
    for row in tx.open_table(tables::MAIL_PENDING)?.iter()? {
        pending.insert(row?.0.value());
    }
    for row in tx.open_table(tables::OUTBOX.def)?.iter()? {
        let (k, v) = row?;
        let Some(m) = decoded::<crate::domain::Mail>(v.value()) else {
            continue;
        };
        let queued = m.state == crate::domain::MailState::Queued;
        if queued != pending.remove(&k.value()) {
            r.problem(format!(
                "mail {} is {:?} but {} mail_pending",
                k.value(),
                m.state,
                if queued { "missing from" } else { "listed in" }
            ));
        }
    }
    for id in pending {
        r.problem(format!(
            "mail_pending names mail {id}, which does not exist"
        ));
    }
    Ok(())
}

/// Seat counts equal their holder rows; the lease index and the holders agree.
fn seats(tx: &ReadTransaction, r: &mut Report) -> Result<(), StoreError> {
    let mut counted: BTreeMap<(String, u32), u32> = BTreeMap::new();
    // Lease id → (regnum, feature, unit) as the holders say.
    let mut held: BTreeMap<String, (String, u32, String)> = BTreeMap::new();
    for row in tx.open_table(tables::HOLDERS.def)?.iter()? {
        let (k, v) = row?;
        let (regnum, feature, unit) = k.value();
        *counted.entry((regnum.to_owned(), feature)).or_default() += 1;
        if let Some(h) = decoded::<Holder>(v.value()) {
            if h.unit_key != unit {
                r.problem(format!(
                    "holder {regnum}/{feature}/{unit} records unit {:?}",
                    h.unit_key
                ));
            }
            for l in h.leases {
                held.insert(l.id, (regnum.to_owned(), feature, unit.to_owned()));
            }
        }
    }
    for row in tx.open_table(tables::SEAT_COUNTS)?.iter()? {
        let (k, v) = row?;
        let (regnum, feature) = k.value();
        let n = v.value();
        let holders = counted.remove(&(regnum.to_owned(), feature)).unwrap_or(0);
        if n != holders {
            r.problem(format!(
                "seat count of key {regnum} feature {feature} is {n}, but it has {holders} holder row(s)"
            ));
        }
    }
    for ((regnum, feature), holders) in counted {
        r.problem(format!(
            "key {regnum} feature {feature} has {holders} holder row(s) and no seat count"
        ));
    }
    for row in tx.open_table(tables::LEASE_INDEX)?.iter()? {
        let (k, v) = row?;
        let id = k.value();
        let (regnum, feature, unit, _, _) = v.value();
        match held.remove(id) {
            Some(h) if h == (regnum.to_owned(), feature, unit.to_owned()) => {}
            Some(h) => r.problem(format!(
                "lease {id} is indexed under {regnum}/{feature}/{unit} but held by {}/{}/{}",
                h.0, h.1, h.2
            )),
            None => r.problem(format!(
                "lease {id} is indexed under {regnum}/{feature}/{unit} but no holder has it"
            )),
        }
    }
    for (id, h) in held {
        r.problem(format!(
            "lease {id} of {}/{}/{} is missing from the lease index",
            h.0, h.1, h.2
        ));
    }
    Ok(())
}

/// Every key's client exists and lists it; every client index entry matches its client.
fn clients_and_keys(tx: &ReadTransaction, r: &mut Report) -> Result<(), StoreError> {
    let mut clients: BTreeMap<u64, Client> = BTreeMap::new();
    for row in tx.open_table(tables::CLIENTS.def)?.iter()? {
        let (k, v) = row?;
        if let Some(c) = decoded::<Client>(v.value()) {
            if c.id != k.value() {
                r.problem(format!("client row {} holds id {}", k.value(), c.id));
            }
            clients.insert(k.value(), c);
        }
    }
    let mut listed: BTreeSet<(u64, String)> = BTreeSet::new();
    for row in tx.open_multimap_table(tables::CLIENT_KEYS)?.iter()? {
        let (k, values) = row?;
        for v in values {
            listed.insert((k.value(), v?.value().to_owned()));
        }
    }
    for row in tx.open_table(tables::KEYS.def)?.iter()? {
        let (k, v) = row?;
        let regnum = k.value();
        let Some(key) = decoded::<LicenseKey>(v.value()) else {
            continue;
        };
        if key.regnum != regnum {
            r.problem(format!("key row {regnum} holds {}", key.regnum));
        }
        if !clients.contains_key(&key.client_id) {
            r.problem(format!(
                "key {regnum} belongs to missing client {}",
                key.client_id
            ));
        }
        if !listed.remove(&(key.client_id, regnum.to_owned())) {
            r.problem(format!(
                "key {regnum} is missing from client {}'s key list",
                key.client_id
            ));
        }
    }
    for (client, regnum) in listed {
        r.problem(format!(
            "client {client}'s key list names {regnum}, which is not its key"
        ));
    }
    // The lookup indexes (e-mail, CRM ids, manager, distributor) both ways.
    let mut expected: BTreeSet<(String, String, u64)> = BTreeSet::new();
    for c in clients.values() {
        for (def, value) in crate::service::clients::index_keys(c) {
            if !value.is_empty() {
                expected.insert((def_name(def), value, c.id));
            }
        }
    }
    for (def, _) in crate::service::clients::index_keys(&Client::default()) {
        for row in tx.open_multimap_table(def)?.iter()? {
            let (k, values) = row?;
            for v in values {
                let entry = (def_name(def), k.value().to_owned(), v?.value());
                if !expected.remove(&entry) {
                    r.problem(format!(
                        "index {} maps {:?} to client {}, which does not say so",
                        entry.0, entry.1, entry.2
                    ));
                }
            }
        }
    }
    for (table, value, id) in expected {
        r.problem(format!(
            "client {id}'s {value:?} is missing from index {table}"
        ));
    }
    Ok(())
}

fn def_name(def: MultimapTableDefinition<'static, &'static str, u64>) -> String {
    use redb::MultimapTableHandle;
    def.name().to_owned()
}

/// Product codes and feature numbers point at the products that have them.
fn products(tx: &ReadTransaction, r: &mut Report) -> Result<(), StoreError> {
    let mut codes: BTreeMap<String, u64> = BTreeMap::new();
    let mut features: BTreeMap<u32, u64> = BTreeMap::new();
    for row in tx.open_table(tables::PRODUCTS.def)?.iter()? {
        let (k, v) = row?;
        if let Some(p) = decoded::<Product>(v.value()) {
            codes.insert(p.code.trim().to_lowercase(), k.value());
            for f in &p.features {
                features.insert(f.number, k.value());
            }
        }
    }
    for row in tx.open_table(tables::PRODUCT_CODES)?.iter()? {
        let (k, v) = row?;
        match codes.remove(k.value()) {
            Some(id) if id == v.value() => {}
            _ => r.problem(format!(
                "product code {:?} points at product {}, which does not have it",
                k.value(),
                v.value()
            )),
        }
    }
    for (code, id) in codes {
        r.problem(format!("product {id}'s code {code:?} is not indexed"));
    }
    for row in tx.open_table(tables::FEATURES)?.iter()? {
        let (k, v) = row?;
        match features.remove(&k.value()) {
            Some(id) if id == v.value() => {}
            _ => r.problem(format!(
                "feature {} points at product {}, which does not have it",
                k.value(),
                v.value()
            )),
        }
    }
    for (f, id) in features {
        r.problem(format!("feature {f} of product {id} is not indexed"));
    }
    Ok(())
}

/// Every denial in the time indexes exists.
fn denials(tx: &ReadTransaction, r: &mut Report) -> Result<(), StoreError> {
    let all = tx.open_table(tables::DENIALS.def)?;
    let mut dangling = 0u64;
    for row in tx.open_table(tables::DENIAL_TIMES)?.iter()? {
        let (k, v) = row?;
        let (ms, seq) = k.value();
        let (regnum, _, _) = v.value();
        if all.get((regnum, ms, seq))?.is_none() {
            dangling += 1;
        }
    }
    if dangling > 0 {
        r.problem(format!(
            "{dangling} entr(ies) of denial_times name denials that do not exist"
        ));
    }
    Ok(())
}
