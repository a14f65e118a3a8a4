//! Consistent copies of the database (backups) and putting one back (restore).
//!
//! redb has no backup API, and copying the live file would catch it between commits. A
//! copy is instead made from ONE read transaction: every table's rows, in key order, are
//! inserted into a new redb file, which is committed durably, reopened and counted
//! before it is called done. A read transaction sees every commit made before it began,
//! durable or not, so the rows of captures made durable only by the redo log are in it.
//! A stopped server's directory is copied the same way, and the frames its redo log
//! holds beyond the last durable commit are applied to the copy, as a start would.
//!
//! A backup also carries the data directory's secrets that the database is useless
//! without — the signing key protected apps verify answers with, the self-signed TLS
//! pair — as `meta` entries named `carried:<file>`; restore writes them back.
use super::{StoreError, meta, redo, tables};
use redb::{
    Database, Durability, Key, MultimapTableDefinition, MultimapTableHandle, ReadTransaction,
    ReadableDatabase, ReadableMultimapTable, ReadableTable, ReadableTableMetadata, TableDefinition,
    TableError, TableHandle, Value, WriteTransaction,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Prefix of the `meta` entries holding carried files.
pub const CARRIED: &str = "carried:";
/// Data-directory files a backup carries, relative to the directory.
pub const CARRIED_FILES: [&str; 4] = [
    "signing.key",
    "signing.previous",
    "tls/cert.pem",
    "tls/key.pem",
];

/// Rows copied between two progress reports (and two pauses of a paced copy).
const CHUNK_ROWS: u64 = 2048;

/// How a copy shares the machine, and whom it tells how far it got.
pub struct CopyOptions<'a> {
    /// Share of one core the copy may use (0 < busy ≤ 1): after each chunk of rows it
    /// sleeps long enough to stay under it, so a running server keeps its throughput.
    pub busy: f64,
    /// Called with the rows copied so far.
    pub progress: &'a mut dyn FnMut(u64),
}

/// What a finished copy holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copied {
    pub path: PathBuf,
    pub rows: u64,
    pub tables: usize,
    pub bytes: u64,
    pub schema: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Redo-log changes applied on top of the snapshot (stopped servers only).
    pub replayed: usize,
}

/// Rows in every table of a read transaction.
pub fn count_rows(tx: &ReadTransaction) -> Result<u64, StoreError> {
    let mut c = Counter { tx, rows: 0 };
    tables::visit_all(&mut c)?;
    Ok(c.rows)
}

struct Counter<'a> {
    tx: &'a ReadTransaction,
    rows: u64,
}

/// The table `r` opened, or `None` when the database has no such table.
pub(crate) fn present<T>(r: Result<T, TableError>) -> Result<Option<T>, StoreError> {
    match r {
        Ok(t) => Ok(Some(t)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl tables::Visit for Counter<'_> {
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        def: TableDefinition<'static, K, V>,
        _decodes: Option<tables::Decodes>,
        _legacy: bool,
    ) -> Result<(), StoreError> {
        if let Some(t) = present(self.tx.open_table(def))? {
            self.rows += t.len()?;
        }
        Ok(())
    }
    fn multimap<K: Key + 'static, V: Key + 'static>(
        &mut self,
        def: MultimapTableDefinition<'static, K, V>,
    ) -> Result<(), StoreError> {
        if let Some(t) = present(self.tx.open_multimap_table(def))? {
            self.rows += t.len()?;
        }
        Ok(())
    }
}

/// Refuses a database holding a table this build does not know (it would not be copied).
fn known_tables_only(tx: &ReadTransaction) -> Result<(), StoreError> {
    struct Names(BTreeSet<String>);
    impl tables::Visit for Names {
        fn table<K: Key + 'static, V: Value + 'static>(
            &mut self,
            def: TableDefinition<'static, K, V>,
            _: Option<tables::Decodes>,
            _: bool,
        ) -> Result<(), StoreError> {
            self.0.insert(def.name().to_owned());
            Ok(())
        }
        fn multimap<K: Key + 'static, V: Key + 'static>(
            &mut self,
            def: MultimapTableDefinition<'static, K, V>,
        ) -> Result<(), StoreError> {
            self.0.insert(def.name().to_owned());
            Ok(())
        }
    }
    let mut known = Names(BTreeSet::new());
    tables::visit_all(&mut known)?;
    let present = tx
        .list_tables()?
        .map(|h| h.name().to_owned())
        .chain(tx.list_multimap_tables()?.map(|h| h.name().to_owned()));
    for name in present {
        if !known.0.contains(&name) {
            return Err(StoreError::Codec(format!(
                "the database has a table this licd does not know ({name}); use the licd that wrote it"
            )));
        }
    }
    Ok(())
}

struct Pace {
    busy: f64,
    since: Instant,
}

impl Pace {
    fn new(busy: f64) -> Pace {
        Pace {
            busy: busy.clamp(0.01, 1.0),
            since: Instant::now(),
        }
    }
    /// Sleeps so that the work since the last call stays under `busy` of a core.
    fn tick(&mut self) {
        if self.busy < 1.0 {
            let worked = self.since.elapsed();
            let rest = worked.mul_f64((1.0 - self.busy) / self.busy);
            std::thread::sleep(rest.min(Duration::from_millis(200)));
        }
        self.since = Instant::now();
    }
}

/// Rows written per transaction of the copy: the copy is committed in pieces, each
/// durably, so its pages never pile up in memory (redb keeps a non-durable commit's
/// pages until a durable one: a whole copy in memory, 300 MB for 1.6 M rows) and its
/// writes reach the disk in small steps instead of one burst that would hold up the
/// server's own syncs. A crash midway leaves only the `.partial` file, never a backup.
const ROWS_PER_COMMIT: u64 = 32 * 1024;

struct Copier<'a, 'o> {
    src: &'a ReadTransaction,
    dst: &'a Database,
    rows: u64,
    tables: usize,
    pace: Pace,
    opts: &'a mut CopyOptions<'o>,
}

impl Copier<'_, '_> {
    fn row(&mut self) {
        self.rows += 1;
        if self.rows.is_multiple_of(CHUNK_ROWS) {
            (self.opts.progress)(self.rows);
            self.pace.tick();
        }
    }

    fn begin(&self) -> Result<WriteTransaction, StoreError> {
        let mut tx = self.dst.begin_write()?;
        tx.set_durability(Durability::Immediate)?;
        Ok(tx)
    }
}

impl tables::Visit for Copier<'_, '_> {
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        def: TableDefinition<'static, K, V>,
        _decodes: Option<tables::Decodes>,
        _legacy: bool,
    ) -> Result<(), StoreError> {
        let Some(src) = present(self.src.open_table(def))? else {
            return Ok(());
        };
        let mut rows = src.iter()?;
        loop {
            let tx = self.begin()?;
            let mut done = true;
            {
                let mut dst = tx.open_table(def)?;
                let mut n = 0;
                for r in rows.by_ref() {
                    let (k, v) = r?;
                    dst.insert(k.value(), v.value())?;
                    self.row();
                    n += 1;
                    if n == ROWS_PER_COMMIT {
                        done = false;
                        break;
                    }
                }
            }
            tx.commit()?;
            if done {
                break;
            }
        }
        self.tables += 1;
        Ok(())
    }
    fn multimap<K: Key + 'static, V: Key + 'static>(
        &mut self,
        def: MultimapTableDefinition<'static, K, V>,
    ) -> Result<(), StoreError> {
        let Some(src) = present(self.src.open_multimap_table(def))? else {
            return Ok(());
        };
        let mut keys = src.iter()?;
        loop {
            let tx = self.begin()?;
            let mut done = true;
            {
                let mut dst = tx.open_multimap_table(def)?;
                let mut n = 0;
                for r in keys.by_ref() {
                    let (k, values) = r?;
                    for v in values {
                        dst.insert(k.value(), v?.value())?;
                        self.row();
                        n += 1;
                    }
                    if n >= ROWS_PER_COMMIT {
                        done = false;
                        break;
                    }
                }
            }
            tx.commit()?;
            if done {
                break;
            }
        }
        self.tables += 1;
        Ok(())
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Codec(format!("{}: {e}", path.display()))
}

/// The file a copy is written to before it is verified and renamed to `out`.
fn partial_of(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}

/// Copies the snapshot `src` into a new database file at `out` (which must not exist),
/// applies `frames` (a stopped server's redo log) and adds `carried` files, commits it
/// durably, reopens it and checks its row count before renaming it into place.
pub fn copy_snapshot(
    src: &ReadTransaction,
    frames: &[Vec<u8>],
    carried: &[(String, Vec<u8>)],
    out: &Path,
    opts: &mut CopyOptions,
) -> Result<Copied, StoreError> {
    known_tables_only(src)?;
    if out.exists() {
        return Err(StoreError::Codec(format!(
            "{} already exists; choose another file",
            out.display()
        )));
    }
    let partial = partial_of(out);
    let _ = std::fs::remove_file(&partial);
    let result = copy_into(src, frames, carried, &partial, opts).and_then(|mut copied| {
        std::fs::rename(&partial, out).map_err(io(out))?;
        sync_dir(out);
        copied.path = out.to_owned();
        Ok(copied)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn copy_into(
    src: &ReadTransaction,
    frames: &[Vec<u8>],
    carried: &[(String, Vec<u8>)],
    path: &Path,
    opts: &mut CopyOptions,
) -> Result<Copied, StoreError> {
    let db = redb::Builder::new()
        .set_cache_size(16 * 1024 * 1024)
        .create(path)?;
    let busy = opts.busy;
    let mut copier = Copier {
        src,
        dst: &db,
        rows: 0,
        tables: 0,
        pace: Pace::new(busy),
        opts,
    };
    tables::visit_all(&mut copier)?;
    let (copied_rows, copied_tables) = (copier.rows, copier.tables);
    (opts.progress)(copied_rows);
    // The last transaction (redo frames, carried files) is the durable one.
    let mut tx = db.begin_write()?;
    tx.set_durability(Durability::Immediate)?;
    let mut replayed = 0;
    for f in frames {
        replayed += redo::apply(&tx, f)?;
    }
    {
        let mut m = tx.open_table(tables::META)?;
        for (name, bytes) in carried {
            m.insert(format!("{CARRIED}{name}").as_str(), bytes.as_slice())?;
        }
    }
    let schema = meta::get_u64(&tx, "schema_version")?.unwrap_or(0);
    let expected = {
        let mut c = WriteCounter { tx: &tx, rows: 0 };
        tables::visit_all(&mut c)?;
        c.rows
    };
    tx.commit()?;
    drop(db);
    // Verify: the file opens on its own and holds what was committed.
    let check = open_read_only(path)?;
    let rows = count_rows(&check.begin_read()?)?;
    drop(check);
    if rows != expected {
        return Err(StoreError::Codec(format!(
            "the copy holds {rows} rows, {expected} were written"
        )));
    }
    let (bytes, sha256) = hash_paced(path, busy)?;
    Ok(Copied {
        path: path.to_owned(),
        rows,
        tables: copied_tables,
        bytes,
        schema,
        sha256,
        replayed,
    })
}

struct WriteCounter<'a> {
    tx: &'a WriteTransaction,
    rows: u64,
}

impl tables::Visit for WriteCounter<'_> {
    fn table<K: Key + 'static, V: Value + 'static>(
        &mut self,
        def: TableDefinition<'static, K, V>,
        _: Option<tables::Decodes>,
        legacy: bool,
    ) -> Result<(), StoreError> {
        // Opening a table in a write transaction creates it: only legacy tables the
        // source had (and so the copy has) are counted.
        if legacy && !self.has(def.name())? {
            return Ok(());
        }
        self.rows += self.tx.open_table(def)?.len()?;
        Ok(())
    }
    fn multimap<K: Key + 'static, V: Key + 'static>(
        &mut self,
        def: MultimapTableDefinition<'static, K, V>,
    ) -> Result<(), StoreError> {
        self.rows += self.tx.open_multimap_table(def)?.len()?;
        Ok(())
    }
}

impl WriteCounter<'_> {
    fn has(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.tx.list_tables()?.any(|h| h.name() == name))
    }
}

/// Size and SHA-256 (hex) of a file.
pub fn hash_file(path: &Path) -> Result<(u64, String), StoreError> {
    hash_paced(path, 1.0)
}

/// `hash_file` within `busy` of a core (see `CopyOptions::busy`).
fn hash_paced(path: &Path, busy: f64) -> Result<(u64, String), StoreError> {
    let mut pace = Pace::new(busy);
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(io(path))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
        pace.tick();
    }
    Ok((n, hex::encode(h.finalize())))
}

/// Makes a rename in `file`'s directory durable (no-op where directories cannot be
/// opened, as on Windows).
pub fn sync_dir(file: &Path) {
    #[cfg(unix)]
    if let Some(dir) = file.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = file;
}

/// The carried files a backup's `meta` holds.
pub fn carried_in(tx: &ReadTransaction) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let t = tx.open_table(tables::META)?;
    let mut out = Vec::new();
    for r in t.range(CARRIED..)? {
        let (k, v) = r?;
        let Some(name) = k.value().strip_prefix(CARRIED) else {
            break;
        };
        out.push((name.to_owned(), v.value().to_vec()));
    }
    Ok(out)
}

/// Reads the files a backup of `data_dir` carries (those that exist).
pub fn carried_files(data_dir: &Path) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let mut out = Vec::new();
    for name in CARRIED_FILES {
        let p = data_dir.join(name);
        match std::fs::read(&p) {
            Ok(b) => out.push((name.to_owned(), b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&p)(e)),
        }
    }
    Ok(out)
}

/// Backs up a stopped server's database `db_path` into `out`: one read snapshot plus
/// the frames of its redo log, with the directory's carried files. Refused while a
/// server holds the database.
pub fn backup_stopped(
    db_path: &Path,
    out: &Path,
    opts: &mut CopyOptions,
) -> Result<Copied, StoreError> {
    if !db_path.exists() {
        return Err(StoreError::Codec(format!(
            "no database at {}",
            db_path.display()
        )));
    }
    let db = open_exclusive(db_path)?;
    let tx = db.begin_read()?;
    // (The copy reads every page once: a small cache does as well as a big one.)
    let epoch = meta::read_u64(&tx, redo::EPOCH)?.unwrap_or(0);
    let log = redo::read_log(&db_path.with_extension("wal"), epoch)?;
    let dir = db_path.parent().unwrap_or(Path::new("."));
    let carried = carried_files(dir)?;
    copy_snapshot(&tx, &log.frames, &carried, out, opts)
}

/// Opens a database that no running licd may hold; a held one is refused clearly.
pub fn open_exclusive(path: &Path) -> Result<Database, StoreError> {
    match redb::Builder::new()
        .set_cache_size(16 * 1024 * 1024)
        .open(path)
    {
        Ok(db) => Ok(db),
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => Err(StoreError::Locked(path.to_owned())),
        Err(e) => Err(e.into()),
    }
}

/// Opens a database read-only with a small cache (redb's default is 1 GiB, and a check
/// or a copy reads each page about once).
pub fn open_read_only(path: &Path) -> Result<redb::ReadOnlyDatabase, redb::DatabaseError> {
    redb::Builder::new()
        .set_cache_size(16 * 1024 * 1024)
        .open_read_only(path)
}
