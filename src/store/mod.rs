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
pub mod backup;
pub mod codec;
pub mod meta;
pub mod migrate;
pub mod redo;
pub mod tables;

pub use redo::Logged;

use crate::error::{AppError, AppResult};
use crossbeam_channel::Receiver;
use redb::{Database, ReadTransaction, ReadableDatabase, WriteTransaction};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    writer: crossbeam_channel::Sender<Box<dyn Job>>,
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

        let (sender, receiver) = crossbeam_channel::unbounded::<Box<dyn Job>>();
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
            tracing::info!("store closed: {}", self.stats.summary());
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
    /// Time spent writing and syncing the redo log.
    pub wal_us: std::sync::atomic::AtomicU64,
    /// The redo log could not be written: every batch then gets a durable redb commit.
    pub wal_failed: std::sync::atomic::AtomicBool,
    /// Time spent in durable redb commits (checkpoints and unlogged batches: `commits`
    /// less `logged`), in all and the longest: while one runs, no batch is committed.
    pub durable_us: std::sync::atomic::AtomicU64,
    pub durable_max_us: std::sync::atomic::AtomicU64,
}

impl WriterStats {
    /// One line for the log: how the writer batched and what its durable commits cost.
    pub fn summary(&self) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        let commits = self.commits.load(Relaxed);
        let jobs = self.jobs.load(Relaxed);
        let logged = self.logged.load(Relaxed);
        let durable = commits.saturating_sub(logged);
        format!(
            "{jobs} writes in {commits} commits ({:.1} a commit; {logged} logged), run {} ms, commit {} ms, redo log {} ms; {durable} durable commits, {:.1} ms on average, longest {:.1} ms",
            jobs as f64 / commits.max(1) as f64,
            self.run_us.load(Relaxed) / 1000,
            self.commit_us.load(Relaxed) / 1000,
            self.wal_us.load(Relaxed) / 1000,
            self.durable_us.load(Relaxed) as f64 / durable.max(1) as f64 / 1000.0,
            self.durable_max_us.load(Relaxed) as f64 / 1000.0,
        )
    }
}

/// While logged writes flow, a durable commit (a checkpoint that retires the redo log)
/// is made at least this often, which bounds the replay after a crash.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Work for the syncer thread, in commit order.
enum Sync {
    /// A batch committed to redb non-durably: log its changes, then answer its jobs.
    Frame(Vec<u8>, Vec<Box<dyn Job>>),
    /// A checkpoint retired the log: later frames start it over in this epoch.
    Reset(u64),
}

/// The writer: runs batches and commits them to redb. A batch of logged jobs is committed
/// non-durably and handed to the syncer, which makes it durable in the redo log and
/// answers it, while the writer already runs the next batch: the log's sync never
/// stalls the writer.
///
/// While the syncer is busy, a batch of logged jobs is *gathered*: each job runs in the
/// open transaction as it arrives, and the batch is committed when the syncer becomes
/// idle (or the batch is full, or holds an unlogged job, or a checkpoint is due). Its
/// jobs could not be synced earlier anyway, and one commit of many jobs costs far less
/// than many commits of a few.
fn writer_loop(
    db: &Database,
    wal: redo::Wal,
    receiver: Receiver<Box<dyn Job>>,
    stats: &Arc<WriterStats>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut epoch = wal.epoch;
    // Bytes handed to the log in this epoch.
    let mut logged_bytes = 0usize;
    let mut last_durable = std::time::Instant::now();
    let (to_syncer, syncer_rx) = crossbeam_channel::unbounded::<Sync>();
    // Frames handed to the syncer and not yet answered; the syncer signals when it
    // drops to zero.
    let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (idle_tx, idle_rx) = crossbeam_channel::bounded::<()>(1);
    let sstats = stats.clone();
    let sflight = in_flight.clone();
    let syncer = std::thread::Builder::new()
        .name("licd-syncer".into())
        .spawn(move || syncer_loop(wal, syncer_rx, &sstats, &sflight, &idle_tx));
    let Ok(syncer) = syncer else {
        tracing::error!("cannot start the redo log's syncer thread");
        return;
    };
    let mut gather = Gather::default();
    let mut disconnected = false;
    loop {
        // Wait for a job, or (while a batch is gathered) for the syncer to go idle.
        if gather.jobs.is_empty() {
            match receiver.recv() {
                Ok(j) => gather.push(j),
                Err(_) => break,
            }
        } else if !disconnected {
            crossbeam_channel::select! {
                recv(receiver) -> j => match j {
                    Ok(j) => gather.push(j),
                    Err(_) => disconnected = true,
                },
                recv(idle_rx) -> _ => {}
            }
        }
        while gather.jobs.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(j) => gather.push(j),
                Err(_) => break,
            }
        }
        let t0 = std::time::Instant::now();
        let ran = gather.run(db);
        stats
            .run_us
            .fetch_add(t0.elapsed().as_micros() as u64, Relaxed);
        if let Err(e) = ran {
            // No transaction: every job of the batch fails.
            for job in gather.take().0 {
                job.finish(Err(e.clone()));
            }
            continue;
        }
        if gather.failed.iter().all(|f| *f) {
            // Nothing to commit; each job answers with its own error.
            for job in gather.take().0 {
                job.finish(Ok(()));
            }
            continue;
        }
        let closing = gather.jobs.iter().any(|j| j.closes());
        let loggable = gather.redo_len().is_some_and(|len| {
            redo::fits(logged_bytes, len)
                && last_durable.elapsed() < CHECKPOINT_EVERY
                && !stats.wal_failed.load(Relaxed)
        });
        if loggable
            && !closing
            && !disconnected
            && gather.jobs.len() < MAX_BATCH
            && in_flight.load(Relaxed) > 0
        {
            // The syncer is busy: go on gathering.
            continue;
        }
        // The batch's changes, when every job in it is logged (built once, to commit).
        let redo = loggable.then(|| gather.redo()).flatten();
        let (mut batch, failed, tx) = gather.take();
        let Some(mut tx) = tx else { continue };
        let t1 = std::time::Instant::now();
        stats.commits.fetch_add(1, Relaxed);
        stats.jobs.fetch_add(batch.len() as u64, Relaxed);
        let mut handed = false;
        let committed = match redo {
            Some(redo) => {
                let r = tx
                    .set_durability(redb::Durability::None)
                    .map_err(|e| e.to_string())
                    .and_then(|()| tx.commit().map_err(|e| e.to_string()));
                if r.is_ok() {
                    stats.logged.fetch_add(1, Relaxed);
                    logged_bytes += redo::framed(redo.len());
                    // The syncer answers the committed jobs once the log holds them;
                    // the failed ones are answered here.
                    let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut batch)
                        .into_iter()
                        .zip(failed.iter())
                        .partition(|(_, f)| !**f);
                    for (job, _) in rest {
                        job.finish(Ok(()));
                    }
                    let done = done.into_iter().map(|(j, _)| j).collect();
                    in_flight.fetch_add(1, Relaxed);
                    handed = to_syncer.send(Sync::Frame(redo, done)).is_ok();
                }
                r
            }
            _ => {
                // A checkpoint: durable in redb, which also makes every batch still
                // waiting at the syncer durable.
                let r = meta::put_u64(&tx, redo::EPOCH, epoch + 1)
                    .map_err(|e| e.to_string())
                    .and_then(|()| tx.commit().map_err(|e| e.to_string()));
                let took = t1.elapsed().as_micros() as u64;
                stats.durable_us.fetch_add(took, Relaxed);
                stats.durable_max_us.fetch_max(took, Relaxed);
                if took > 20_000 {
                    tracing::debug!(
                        ms = took / 1000,
                        since_ms = last_durable.elapsed().as_millis() as u64,
                        logged_bytes,
                        "slow durable commit"
                    );
                }
                if r.is_ok() {
                    epoch += 1;
                    logged_bytes = 0;
                    last_durable = std::time::Instant::now();
                    let _ = to_syncer.send(Sync::Reset(epoch));
                }
                r
            }
        };
        stats
            .commit_us
            .fetch_add(t1.elapsed().as_micros() as u64, Relaxed);
        if !handed {
            for job in batch {
                job.finish(committed.clone());
            }
        }
        if closing || disconnected {
            break;
        }
    }
    // Let the syncer answer what it holds.
    drop(to_syncer);
    let _ = syncer.join();
}

/// The batch the writer is gathering: its jobs, which of them failed, and the open
/// transaction holding the changes of every job run so far.
#[derive(Default)]
struct Gather {
    jobs: Vec<Box<dyn Job>>,
    failed: Vec<bool>,
    /// Jobs `..ran` have run in `tx`.
    ran: usize,
    tx: Option<WriteTransaction>,
}

impl Gather {
    fn push(&mut self, job: Box<dyn Job>) {
        self.jobs.push(job);
        self.failed.push(false);
    }

    /// Runs the jobs not run yet. A job that fails is marked, the transaction is dropped
    /// (nothing of it is kept) and the others run again in a new one, so a failed use
    /// case never leaves a partial write behind.
    fn run(&mut self, db: &Database) -> Result<(), String> {
        loop {
            let tx = match &mut self.tx {
                Some(tx) => &*tx,
                slot @ None => {
                    self.ran = 0;
                    &*slot.insert(db.begin_write().map_err(|e| e.to_string())?)
                }
            };
            let mut bad = None;
            while self.ran < self.jobs.len() {
                let i = self.ran;
                if !self.failed[i] && !self.jobs[i].run(tx) {
                    bad = Some(i);
                    break;
                }
                self.ran += 1;
            }
            match bad {
                None => return Ok(()),
                Some(i) => {
                    self.failed[i] = true;
                    self.tx = None;
                    if self.failed.iter().all(|f| *f) {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// The logged changes of the jobs that did not fail, or None when one of them is
    /// not logged.
    fn logged(&self) -> impl Iterator<Item = Option<&[u8]>> {
        self.jobs
            .iter()
            .zip(&self.failed)
            .filter(|(_, f)| !**f)
            .map(|(j, _)| j.redo())
    }

    fn redo_len(&self) -> Option<usize> {
        self.logged().map(|r| r.map(<[u8]>::len)).sum()
    }

    fn redo(&self) -> Option<Vec<u8>> {
        self.logged()
            .collect::<Option<Vec<&[u8]>>>()
            .map(|parts| parts.concat())
    }

    fn take(&mut self) -> (Vec<Box<dyn Job>>, Vec<bool>, Option<WriteTransaction>) {
        self.ran = 0;
        (
            std::mem::take(&mut self.jobs),
            std::mem::take(&mut self.failed),
            self.tx.take(),
        )
    }
}

/// Makes committed batches durable in the redo log, in order, several per sync when they
/// queue up, and answers them.
fn syncer_loop(
    mut wal: redo::Wal,
    rx: Receiver<Sync>,
    stats: &WriterStats,
    in_flight: &std::sync::atomic::AtomicUsize,
    idle: &crossbeam_channel::Sender<()>,
) {
    let mut failure: Option<String> = None;
    while let Ok(first) = rx.recv() {
        let mut items = vec![first];
        while let Ok(more) = rx.try_recv() {
            items.push(more);
        }
        let handed = items
            .iter()
            .filter(|i| matches!(i, Sync::Frame(..)))
            .count();
        let mut frames: Vec<Vec<u8>> = Vec::new();
        let mut waiting: Vec<Box<dyn Job>> = Vec::new();
        let mut flush = |wal: &mut redo::Wal,
                         frames: &mut Vec<Vec<u8>>,
                         waiting: &mut Vec<Box<dyn Job>>| {
            let t = std::time::Instant::now();
            let r = match &failure {
                Some(e) => Err(e.clone()),
                None if frames.is_empty() => Ok(()),
                None => wal.append(frames).map_err(|e| {
                    tracing::error!(
                        error = %e,
                        "cannot write the redo log: the writes waiting for it fail; later writes are committed durably by redb"
                    );
                    stats
                        .wal_failed
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    let e = format!("redo log: {e}");
                    failure = Some(e.clone());
                    e
                }),
            };
            stats.wal_us.fetch_add(
                t.elapsed().as_micros() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
            frames.clear();
            for job in waiting.drain(..) {
                job.finish(r.clone());
            }
        };
        for item in items {
            match item {
                Sync::Frame(redo, jobs) => {
                    if !redo.is_empty() {
                        frames.push(redo);
                    }
                    waiting.extend(jobs);
                }
                Sync::Reset(epoch) => {
                    flush(&mut wal, &mut frames, &mut waiting);
                    wal.reset(epoch);
                }
            }
        }
        flush(&mut wal, &mut frames, &mut waiting);
        // Answered: when nothing else waits here, the writer may commit what it gathered.
        if in_flight.fetch_sub(handed, std::sync::atomic::Ordering::AcqRel) == handed {
            let _ = idle.try_send(());
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
        (**self).table(def)
    }

    fn multi<K: redb::Key + 'static, V: redb::Key + 'static>(
        &self,
        def: redb::MultimapTableDefinition<K, V>,
    ) -> Result<Self::Multi<'_, K, V>, StoreError> {
        (**self).multi(def)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many logged writes at once, every fifth failing after it wrote: the writer gathers
    /// them into shared commits, yet a failed write leaves nothing behind, every answered
    /// one is readable at once, and all of them survive a reopen.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gathered_batches_keep_each_write_whole() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.redb");
        let store = Store::open(&path).expect("open");
        let mut tasks = Vec::new();
        for i in 0..400u32 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                let r = s
                    .write_logged(move |tx| {
                        tx.insert(tables::SEAT_COUNTS, ("k", i), i + 1)?;
                        if i % 5 == 0 {
                            return Err(AppError::internal("refused on purpose"));
                        }
                        Ok(i)
                    })
                    .await;
                if let Ok(i) = r {
                    // Answered: visible to a reader right away.
                    let tx = s.read().expect("read");
                    let t = tx.table(tables::SEAT_COUNTS).expect("table");
                    assert_eq!(
                        t.get(("k", i)).expect("get").map(|v| v.value()),
                        Some(i + 1)
                    );
                }
                (i, r.is_ok())
            }));
        }
        for t in tasks {
            let (i, ok) = t.await.expect("task");
            assert_eq!(ok, i % 5 != 0, "write {i}");
        }
        let check = |s: &Store| {
            let tx = s.read().expect("read");
            let t = tx.table(tables::SEAT_COUNTS).expect("table");
            for i in 0..400u32 {
                let v = t.get(("k", i)).expect("get").map(|v| v.value());
                assert_eq!(v, (i % 5 != 0).then_some(i + 1), "row {i}");
            }
        };
        check(&store);
        store.close();
        drop(store);
        let store = Store::open(&path).expect("reopen");
        check(&store);
        store.close();
    }
}
