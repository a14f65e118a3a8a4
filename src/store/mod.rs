//! The embedded store: one redb file, typed tables, one codec, versioned schema, and a
//! single writer thread that groups concurrent writes into shared durable commits.
//!
//! Group commit: every write is a closure sent to the writer. The writer takes all
//! closures waiting, runs them in one write transaction and commits once (fsync), then
//! answers each. A closure that fails makes the writer abort and rerun the batch without
//! it, so a failed use case never leaves a partial write behind. Nothing is answered
//! before its commit is durable.
//!
//! Logged writes (`write_logged`: the hot lease paths) are made durable through the redo
//! log instead of a durable redb commit; see `redo`.
pub mod codec;
pub mod meta;
pub mod migrate;
pub mod redo;
pub mod tables;

pub use redo::Logged;

use crate::error::{AppError, AppResult};
use redb::{Database, ReadTransaction, ReadableDatabase, WriteTransaction};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] redb::Error),
    #[error("value encoding: {0}")]
    Codec(String),
    #[error(
        "the database was written by a newer licd (schema {found}, this build reads up to {supported})"
    )]
    TooNew { found: u64, supported: u64 },
    #[error("another licd is already using {0}; stop it first (or go through its admin API)")]
    Locked(PathBuf),
    #[error("the store's writer has stopped")]
    WriterGone,
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Db(e.into()) }
        }
        impl From<$t> for AppError {
            fn from(e: $t) -> Self { AppError::from(StoreError::from(e)) }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// Most closures queued at once into one commit.
const MAX_BATCH: usize = 1024;

trait Job: Send {
    /// Runs the use case inside the shared transaction; false if it failed (and so
    /// must not be committed).
    fn run(&mut self, tx: &WriteTransaction) -> bool;
    /// The changes of the last run, when this job's writes are logged (else it needs a
    /// durable commit).
    fn redo(&self) -> Option<&[u8]> {
        None
    }
    /// Answers the caller once the batch is committed (or has failed as a whole).
    fn finish(self: Box<Self>, committed: Result<(), String>);
    /// The writer stops after this batch (see `Store::close`).
    fn closes(&self) -> bool {
        false
    }
}

/// Asks the writer to stop once everything queued before it is committed.
struct CloseJob;

impl Job for CloseJob {
    fn run(&mut self, _tx: &WriteTransaction) -> bool {
        true
    }
    fn finish(self: Box<Self>, _committed: Result<(), String>) {}
    fn closes(&self) -> bool {
        true
    }
}

struct WriteJob<T, F> {
    f: F,
    result: Option<AppResult<T>>,
    reply: tokio::sync::oneshot::Sender<AppResult<T>>,
}

impl<T: Send, F: FnMut(&WriteTransaction) -> AppResult<T> + Send> Job for WriteJob<T, F> {
    fn run(&mut self, tx: &WriteTransaction) -> bool {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.f)(tx)))
            .unwrap_or_else(|_| Err(AppError::internal("a write panicked")));
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        let _ = self.reply.send(answer(committed, self.result));
    }
}

/// A write whose changes are recorded for the redo log.
struct LoggedJob<T, F> {
    f: F,
    result: Option<AppResult<T>>,
    redo: Vec<u8>,
    reply: tokio::sync::oneshot::Sender<AppResult<T>>,
}

impl<T: Send, F: FnMut(&Logged) -> AppResult<T> + Send> Job for LoggedJob<T, F> {
    fn run(&mut self, tx: &WriteTransaction) -> bool {
        let logged = Logged::new(tx);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.f)(&logged)))
            .unwrap_or_else(|_| Err(AppError::internal("a write panicked")));
        self.redo = logged.into_redo();
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }

    fn redo(&self) -> Option<&[u8]> {
        Some(&self.redo)
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        let _ = self.reply.send(answer(committed, self.result));
    }
}

fn answer<T>(committed: Result<(), String>, result: Option<AppResult<T>>) -> AppResult<T> {
    match (committed, result) {
        (_, Some(Err(e))) => Err(e),
        (Ok(()), Some(Ok(v))) => Ok(v),
        (Err(e), _) => Err(AppError::internal(format!("commit failed: {e}"))),
        (Ok(()), None) => Err(AppError::internal("write never ran")),
    }
}

#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    writer: mpsc::Sender<Box<dyn Job>>,
    path: PathBuf,
    pub stats: Arc<WriterStats>,
    writer_thread: Arc<parking_lot::Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl Store {
    /// Opens (or creates) the database file, migrates it, and starts its writer.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        // A store closed a moment ago in this process may still be letting go of the
        // file; another process holding it is refused after a short wait.
        let mut tries = 0;
        let db = loop {
            match redb::Builder::new()
                .set_cache_size(64 * 1024 * 1024)
                .create(path)
            {
                Ok(db) => break db,
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if tries < 20 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                    return Err(StoreError::Locked(path.to_owned()));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let db = Arc::new(db);
        // Replay what the redo log holds beyond the last durable commit, migrate, and
        // retire the log with a durable commit of the next epoch.
        let tx = db.begin_write()?;
        let epoch = meta::get_u64(&tx, redo::EPOCH)?.unwrap_or(0);
        let (mut wal, frames) = redo::Wal::open(&path.with_extension("wal"), epoch)?;
        let mut changes = 0;
        for f in &frames {
            changes += redo::apply(&tx, f)?;
        }
        if !frames.is_empty() {
            tracing::warn!(
                batches = frames.len(),
                changes,
                "replayed the redo log after an unclean stop"
            );
        }
        migrate::migrate(&tx)?;
        meta::put_u64(&tx, redo::EPOCH, epoch + 1)?;
        tx.commit()?;
        wal.reset(epoch + 1);

        let (sender, receiver) = mpsc::channel::<Box<dyn Job>>();
        let wdb = db.clone();
        let stats = Arc::new(WriterStats::default());
        let wstats = stats.clone();
        let handle = std::thread::Builder::new()
            .name("licd-writer".into())
            .spawn(move || writer_loop(&wdb, wal, receiver, &wstats))
            .map_err(|e| StoreError::Codec(format!("cannot start the writer: {e}")))?;
        Ok(Store {
            db,
            writer: sender,
            path: path.to_owned(),
            stats,
            writer_thread: Arc::new(parking_lot::Mutex::new(Some(handle))),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn read(&self) -> Result<ReadTransaction, StoreError> {
        Ok(self.db.begin_read()?)
    }

    /// Runs `f` in the next group commit and answers once it is durable. `f` may run more
    /// than once (when another write in its batch fails), so it must not consume what it
    /// captured.
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnMut(&WriteTransaction) -> AppResult<T> + Send + 'static,
    {
        self.enqueue(f)?
            .await
            .map_err(|_| AppError::from(StoreError::WriterGone))?
    }

    /// `write` for a closure whose every write goes through `Logged::insert`/`remove`
    /// (to the tables `redo` knows): it is made durable by the redo log, far cheaper
    /// than a durable redb commit. Same rerun rule as `write`.
    pub async fn write_logged<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnMut(&Logged) -> AppResult<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.writer
            .send(Box::new(LoggedJob {
                f,
                result: None,
                redo: Vec::new(),
                reply,
            }))
            .map_err(|_| AppError::from(StoreError::WriterGone))?;
        answer
            .await
            .map_err(|_| AppError::from(StoreError::WriterGone))?
    }

    /// `write` for command-line tools that run without an async runtime.
    pub fn write_blocking<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnMut(&WriteTransaction) -> AppResult<T> + Send + 'static,
    {
        self.enqueue(f)?
            .blocking_recv()
            .map_err(|_| AppError::from(StoreError::WriterGone))?
    }

    /// Queues `f` for the writer; the receiver gets its answer after the commit.
    fn enqueue<T, F>(&self, f: F) -> AppResult<tokio::sync::oneshot::Receiver<AppResult<T>>>
    where
        T: Send + 'static,
        F: FnMut(&WriteTransaction) -> AppResult<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.writer
            .send(Box::new(WriteJob {
                f,
                result: None,
                reply,
            }))
            .map_err(|_| AppError::from(StoreError::WriterGone))?;
        Ok(answer)
    }

    /// Commits what is queued, then stops the writer, so that when the last handle to
    /// the database goes the file is closed cleanly (an unclean close costs a full
    /// check of the file at the next start). Later writes fail with `WriterGone`.
    pub fn close(&self) {
        let _ = self.writer.send(Box::new(CloseJob));
        if let Some(h) = self.writer_thread.lock().take() {
            let _ = h.join();
        }
    }

    /// Size of the database file in bytes.
    pub fn file_size(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }
}

/// Counters of the writer since start: how well group commit batches.
#[derive(Default, Debug)]
pub struct WriterStats {
    pub commits: std::sync::atomic::AtomicU64,
    pub jobs: std::sync::atomic::AtomicU64,
    pub run_us: std::sync::atomic::AtomicU64,
    pub commit_us: std::sync::atomic::AtomicU64,
    /// Commits made durable by the redo log rather than by redb.
    pub logged: std::sync::atomic::AtomicU64,
}

/// While logged writes flow, a durable commit (a checkpoint that retires the redo log)
/// is made at least this often, which bounds the replay after a crash.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

fn writer_loop(
    db: &Database,
    mut wal: redo::Wal,
    receiver: mpsc::Receiver<Box<dyn Job>>,
    stats: &WriterStats,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut last_durable = std::time::Instant::now();
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let mut failed = vec![false; batch.len()];
        let committed = loop {
            // One-phase commits (one fsync each); redb checks the commit's checksums
            // after a crash instead of the second fsync that quick-repair would cost.
            let tx = match db.begin_write() {
                Ok(tx) => tx,
                Err(e) => break Err(e.to_string()),
            };
            let t0 = std::time::Instant::now();
            let bad = batch
                .iter_mut()
                .enumerate()
                .filter(|(i, _)| !failed[*i])
                .find_map(|(i, job)| (!job.run(&tx)).then_some(i));
            stats
                .run_us
                .fetch_add(t0.elapsed().as_micros() as u64, Relaxed);
            match bad {
                Some(i) => {
                    failed[i] = true;
                    drop(tx); // aborts: nothing of this attempt is kept
                    if failed.iter().all(|f| *f) {
                        break Ok(());
                    }
                }
                None => {
                    let t1 = std::time::Instant::now();
                    // The batch's changes, when every job in it is logged.
                    let parts: Option<Vec<&[u8]>> = batch
                        .iter()
                        .zip(&failed)
                        .filter(|(_, f)| !**f)
                        .map(|(j, _)| j.redo())
                        .collect();
                    let bytes: usize = parts.iter().flatten().map(|p| p.len()).sum();
                    let r = match parts {
                        Some(parts)
                            if wal.fits(bytes) && last_durable.elapsed() < CHECKPOINT_EVERY =>
                        {
                            stats.logged.fetch_add(1, Relaxed);
                            commit_logged(db, tx, &mut wal, &parts, bytes)
                        }
                        _ => checkpoint(tx, &mut wal),
                    };
                    if wal.pos() == 0 && r.is_ok() {
                        last_durable = std::time::Instant::now();
                    }
                    stats
                        .commit_us
                        .fetch_add(t1.elapsed().as_micros() as u64, Relaxed);
                    stats.commits.fetch_add(1, Relaxed);
                    stats.jobs.fetch_add(batch.len() as u64, Relaxed);
                    break r;
                }
            }
        };
        let closing = batch.iter().any(|j| j.closes());
        for job in batch {
            job.finish(committed.clone());
        }
        if closing {
            return;
        }
    }
}

/// A durable commit of `tx` that also retires the redo log (next epoch).
fn checkpoint(tx: WriteTransaction, wal: &mut redo::Wal) -> Result<(), String> {
    let next = wal.epoch + 1;
    meta::put_u64(&tx, redo::EPOCH, next).map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())?;
    wal.reset(next);
    Ok(())
}

/// Commits `tx` to redb without syncing, then makes its changes durable in the log.
fn commit_logged(
    db: &Database,
    mut tx: WriteTransaction,
    wal: &mut redo::Wal,
    parts: &[&[u8]],
    bytes: usize,
) -> Result<(), String> {
    tx.set_durability(redb::Durability::None)
        .map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())?;
    if bytes == 0 {
        return Ok(());
    }
    match wal.append(parts) {
        Ok(()) => Ok(()),
        Err(e) => {
            // The changes are in redb, not yet durable: a checkpoint makes them so.
            tracing::error!(error = %e, "cannot write the redo log; making a durable commit instead");
            let tx = db.begin_write().map_err(|e| e.to_string())?;
            checkpoint(tx, wal)
        }
    }
}

/// A transaction that can be read from: a read snapshot or the writer's transaction,
/// so read helpers serve both.
pub trait Snapshot {
    type Table<'a, K: redb::Key + 'static, V: redb::Value + 'static>: redb::ReadableTable<K, V>
        + redb::ReadableTableMetadata
    where
        Self: 'a;
    type Multi<'a, K: redb::Key + 'static, V: redb::Key + 'static>: redb::ReadableMultimapTable<K, V>
    where
        Self: 'a;

    fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: redb::TableDefinition<K, V>,
    ) -> Result<Self::Table<'_, K, V>, StoreError>;

    fn multi<K: redb::Key + 'static, V: redb::Key + 'static>(
        &self,
        def: redb::MultimapTableDefinition<K, V>,
    ) -> Result<Self::Multi<'_, K, V>, StoreError>;
}

impl Snapshot for ReadTransaction {
    type Table<'a, K: redb::Key + 'static, V: redb::Value + 'static> = redb::ReadOnlyTable<K, V>;
    type Multi<'a, K: redb::Key + 'static, V: redb::Key + 'static> =
        redb::ReadOnlyMultimapTable<K, V>;

    fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: redb::TableDefinition<K, V>,
    ) -> Result<Self::Table<'_, K, V>, StoreError> {
        Ok(self.open_table(def)?)
    }

    fn multi<K: redb::Key + 'static, V: redb::Key + 'static>(
        &self,
        def: redb::MultimapTableDefinition<K, V>,
    ) -> Result<Self::Multi<'_, K, V>, StoreError> {
        Ok(self.open_multimap_table(def)?)
    }
}

impl Snapshot for WriteTransaction {
    type Table<'a, K: redb::Key + 'static, V: redb::Value + 'static> = redb::Table<'a, K, V>;
    type Multi<'a, K: redb::Key + 'static, V: redb::Key + 'static> = redb::MultimapTable<'a, K, V>;

    fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: redb::TableDefinition<K, V>,
    ) -> Result<Self::Table<'_, K, V>, StoreError> {
        Ok(self.open_table(def)?)
    }

    fn multi<K: redb::Key + 'static, V: redb::Key + 'static>(
        &self,
        def: redb::MultimapTableDefinition<K, V>,
    ) -> Result<Self::Multi<'_, K, V>, StoreError> {
        Ok(self.open_multimap_table(def)?)
    }
}

/// Reads inside a logged write (its writes go through `Logged::insert`/`remove`).
impl Snapshot for Logged<'_> {
    type Table<'a, K: redb::Key + 'static, V: redb::Value + 'static>
        = redb::Table<'a, K, V>
    where
        Self: 'a;
    type Multi<'a, K: redb::Key + 'static, V: redb::Key + 'static>
        = redb::MultimapTable<'a, K, V>
    where
        Self: 'a;

    fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: redb::TableDefinition<K, V>,
    ) -> Result<Self::Table<'_, K, V>, StoreError> {
        Ok(self.open_table(def)?)
    }

    fn multi<K: redb::Key + 'static, V: redb::Key + 'static>(
        &self,
        def: redb::MultimapTableDefinition<K, V>,
    ) -> Result<Self::Multi<'_, K, V>, StoreError> {
        Ok(self.open_multimap_table(def)?)
    }
}
