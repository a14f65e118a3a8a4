//! The redo log: how the hot writes (captures, releases, unbinds, lease reaping) are made
//! durable with one small sequential write instead of a redb commit.
//!
//! A durable redb commit writes every page the batch changed, scattered over the file,
//! then syncs: a dozen I/O requests for a handful of captures. A batch whose writes are
//! all *logged* is instead committed to redb with `Durability::None` (visible, not yet
//! durable) and its row changes — table, key bytes, value bytes — are appended to
//! `licd.wal` and synced: one contiguous write. A durable redb commit (a checkpoint) is
//! still made for every batch holding an unlogged write, when the log is full, and every
//! few seconds; it bumps the *epoch* kept in `meta`, which retires the whole log.
//!
//! Recovery: redb reopens at its last durable commit, whose epoch is E; the log's frames
//! of epoch E are exactly the batches acknowledged since, in order; each frame is
//! checksummed, so a torn last write is recognised and dropped (it was never answered).
//! They are applied, and a durable commit with epoch E + 1 retires them.
//!
//! The log is a file of fixed, zero-filled chunks that is overwritten from its start at
//! each epoch, so a sync writes data blocks only, never file-size metadata.
use super::{StoreError, tables};
use redb::{Key, TableDefinition, TableHandle, Value, WriteTransaction};
use std::borrow::Borrow;
use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The `meta` entry holding the epoch of the last durable commit.
pub const EPOCH: &str = "redo_epoch";

const MAGIC: u32 = 0x4c57_414c; // "LWAL"
const HEADER: usize = 4 + 8 + 4 + 4;
/// The log grows by zero-filled chunks of this size…
const CHUNK: u64 = 4 * 1024 * 1024;
/// …up to this size; a batch that does not fit makes a checkpoint instead.
pub const MAX_SIZE: u64 = 64 * 1024 * 1024;

const PUT: u8 = 1;
const DEL: u8 = 2;

/// The write transaction of a logged closure: reads as usual (it dereferences to the
/// transaction), writes ONLY through `insert` / `remove`, which also record the change.
/// A write made any other way inside a logged closure would be lost in a crash.
pub struct Logged<'a> {
    tx: &'a WriteTransaction,
    redo: RefCell<Vec<u8>>,
}

impl std::ops::Deref for Logged<'_> {
    type Target = WriteTransaction;
    fn deref(&self) -> &WriteTransaction {
        self.tx
    }
}

impl<'a> Logged<'a> {
    pub(super) fn new(tx: &'a WriteTransaction) -> Logged<'a> {
        Logged {
            tx,
            redo: RefCell::new(Vec::new()),
        }
    }

    pub(super) fn into_redo(self) -> Vec<u8> {
        self.redo.into_inner()
    }

    fn record(&self, op: u8, table: &str, key: &[u8], value: Option<&[u8]>) {
        debug_assert!(
            LOGGED_TABLES.contains(&table),
            "table {table} is not logged"
        );
        let mut r = self.redo.borrow_mut();
        r.push(op);
        r.push(table.len() as u8);
        r.extend_from_slice(table.as_bytes());
        r.extend_from_slice(&(key.len() as u32).to_le_bytes());
        r.extend_from_slice(key);
        if let Some(v) = value {
            r.extend_from_slice(&(v.len() as u32).to_le_bytes());
            r.extend_from_slice(v);
        }
    }

    pub fn insert<'k, 'v, K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
        key: impl Borrow<K::SelfType<'k>>,
        value: impl Borrow<V::SelfType<'v>>,
    ) -> Result<(), StoreError> {
        let (key, value) = (key.borrow(), value.borrow());
        self.tx.open_table(def)?.insert(key, value)?;
        self.record(
            PUT,
            def.name(),
            K::as_bytes(key).as_ref(),
            Some(V::as_bytes(value).as_ref()),
        );
        Ok(())
    }

    pub fn remove<'k, K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
        key: impl Borrow<K::SelfType<'k>>,
    ) -> Result<bool, StoreError> {
        let key = key.borrow();
        let had = self.tx.open_table(def)?.remove(key)?.is_some();
        if had {
            self.record(DEL, def.name(), K::as_bytes(key).as_ref(), None);
        }
        Ok(had)
    }
}

/// The tables a logged closure may write.
const LOGGED_TABLES: [&str; 10] = [
    "holders",
    "seat_counts",
    "lease_index",
    "denials",
    "denial_days",
    "usage",
    "usage_daily",
    "denial_times",
    "denial_feature_times",
    "denial_client_days",
];

fn apply_one<K: Key + 'static, V: Value + 'static>(
    tx: &WriteTransaction,
    def: TableDefinition<K, V>,
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<(), StoreError> {
    let mut t = tx.open_table(def)?;
    match value {
        Some(v) => {
            t.insert(K::from_bytes(key), V::from_bytes(v))?;
        }
        None => {
            t.remove(K::from_bytes(key))?;
        }
    }
    Ok(())
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Codec(format!("redo log: {what}"))
}

/// Re-applies one frame's changes.
pub(super) fn apply(tx: &WriteTransaction, mut frame: &[u8]) -> Result<usize, StoreError> {
    fn take<'b>(b: &mut &'b [u8], n: usize) -> Result<&'b [u8], StoreError> {
        if b.len() < n {
            return Err(corrupt("truncated change"));
        }
        let (h, t) = b.split_at(n);
        *b = t;
        Ok(h)
    }
    fn len(b: &mut &[u8]) -> Result<usize, StoreError> {
        let s = take(b, 4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
    }
    let mut n = 0;
    while !frame.is_empty() {
        let op = take(&mut frame, 1)?[0];
        let tl = take(&mut frame, 1)?[0] as usize;
        let table = std::str::from_utf8(take(&mut frame, tl)?).map_err(|_| corrupt("table"))?;
        let kl = len(&mut frame)?;
        let key = take(&mut frame, kl)?;
        let value = match op {
            PUT => {
                let vl = len(&mut frame)?;
                Some(take(&mut frame, vl)?)
            }
            DEL => None,
            _ => return Err(corrupt("unknown change")),
        };
        match table {
            "holders" => apply_one(tx, tables::HOLDERS.def, key, value)?,
            "seat_counts" => apply_one(tx, tables::SEAT_COUNTS, key, value)?,
            "lease_index" => apply_one(tx, tables::LEASE_INDEX, key, value)?,
            // A log left by schema 2 (replayed before the migration that moves them).
            "seats" => apply_one(tx, tables::LEGACY_SEATS.def, key, value)?,
            "leases" => apply_one(tx, tables::LEGACY_LEASES, key, value)?,
            "denials" => apply_one(tx, tables::DENIALS.def, key, value)?,
            "denial_days" => apply_one(tx, tables::DENIAL_DAYS, key, value)?,
            "usage" => apply_one(tx, tables::USAGE, key, value)?,
            "usage_daily" => apply_one(tx, tables::USAGE_DAILY, key, value)?,
            "denial_times" => apply_one(tx, tables::DENIAL_TIMES, key, value)?,
            "denial_feature_times" => apply_one(tx, tables::DENIAL_FEATURE_TIMES, key, value)?,
            "denial_client_days" => apply_one(tx, tables::DENIAL_CLIENT_DAYS, key, value)?,
            other => return Err(corrupt(&format!("unknown table {other}"))),
        }
        n += 1;
    }
    Ok(n)
}

/// The log file, owned by the writer thread (public for the property tests of its reader).
pub struct Wal {
    file: File,
    /// Where the next frame goes.
    pos: u64,
    /// Zero-filled bytes available.
    size: u64,
    pub epoch: u64,
}

impl Wal {
    /// Opens (or creates) the log and returns the frames of `epoch`, in order.
    pub fn open(path: &Path, epoch: u64) -> Result<(Wal, Vec<Vec<u8>>), StoreError> {
        let io = |e: std::io::Error| StoreError::Codec(format!("redo log {}: {e}", path.display()));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let mut all = Vec::new();
        file.read_to_end(&mut all).map_err(io)?;
        let size = all.len() as u64;
        let mut frames = Vec::new();
        let mut at = 0usize;
        while let Some((payload, next)) = frame_at(&all, at, epoch) {
            frames.push(payload.to_vec());
            at = next;
        }
        Ok((
            Wal {
                file,
                pos: 0,
                size,
                epoch,
            },
            frames,
        ))
    }

    /// Starts the log over for a new epoch (the old frames are retired by it).
    pub fn reset(&mut self, epoch: u64) {
        self.epoch = epoch;
        self.pos = 0;
    }

    /// Appends `frames` and makes them durable with one sync.
    pub fn append(&mut self, frames: &[Vec<u8>]) -> std::io::Result<()> {
        let len: usize = frames.iter().map(|f| framed(f.len())).sum();
        let end = self.pos + len as u64;
        if end > self.size {
            // Grow by zero-filled chunks, made durable once, so later syncs of
            // overwrites never carry file metadata.
            let new_size = end.div_ceil(CHUNK) * CHUNK;
            self.file.seek(SeekFrom::Start(self.size))?;
            let zeros = vec![0u8; (new_size - self.size) as usize];
            self.file.write_all(&zeros)?;
            self.file.sync_all()?;
            self.size = new_size;
        }
        let mut buf = Vec::with_capacity(len);
        for f in frames {
            buf.extend_from_slice(&MAGIC.to_le_bytes());
            buf.extend_from_slice(&self.epoch.to_le_bytes());
            buf.extend_from_slice(&(f.len() as u32).to_le_bytes());
            let mut h = crc32fast::Hasher::new();
            h.update(&self.epoch.to_le_bytes());
            h.update(&(f.len() as u32).to_le_bytes());
            h.update(f);
            buf.extend_from_slice(&h.finalize().to_le_bytes());
            buf.extend_from_slice(f);
        }
        self.file.seek(SeekFrom::Start(self.pos))?;
        self.file.write_all(&buf)?;
        self.file.sync_data()?;
        self.pos = end;
        Ok(())
    }
}

/// What a log file holds for one epoch, read without changing it (backups, `licd check`).
#[derive(Debug, Default)]
pub struct LogContents {
    /// The sound frames of the epoch, in order.
    pub frames: Vec<Vec<u8>>,
    /// The log's size on disk.
    pub size: u64,
}

/// Reads the frames of `epoch` from the log at `path` (none when there is no log).
pub fn read_log(path: &Path, epoch: u64) -> Result<LogContents, StoreError> {
    let all = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LogContents::default()),
        Err(e) => {
            return Err(StoreError::Codec(format!(
                "redo log {}: {e}",
                path.display()
            )));
        }
    };
    let mut frames = Vec::new();
    let mut at = 0usize;
    while let Some((payload, next)) = frame_at(&all, at, epoch) {
        frames.push(payload.to_vec());
        at = next;
    }
    Ok(LogContents {
        frames,
        size: all.len() as u64,
    })
}

/// Checks that a frame's changes parse and name tables the log may write, without
/// applying them; returns how many changes it holds.
pub fn parse_frame(mut frame: &[u8]) -> Result<usize, StoreError> {
    let mut n = 0;
    while !frame.is_empty() {
        let take = |b: &mut &[u8], k: usize| -> Result<(), StoreError> {
            if b.len() < k {
                return Err(corrupt("truncated change"));
            }
            *b = &b[k..];
            Ok(())
        };
        let len = |b: &[u8]| -> Result<usize, StoreError> {
            b.get(..4)
                .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
                .ok_or_else(|| corrupt("truncated change"))
        };
        let op = *frame.first().ok_or_else(|| corrupt("truncated change"))?;
        let tl = *frame.get(1).ok_or_else(|| corrupt("truncated change"))? as usize;
        take(&mut frame, 2)?;
        let table = frame.get(..tl).ok_or_else(|| corrupt("truncated change"))?;
        let table = std::str::from_utf8(table).map_err(|_| corrupt("table"))?;
        if !LOGGED_TABLES.contains(&table) && table != "seats" && table != "leases" {
            return Err(corrupt(&format!("unknown table {table}")));
        }
        take(&mut frame, tl)?;
        let kl = len(frame)?;
        take(&mut frame, 4 + kl)?;
        match op {
            PUT => {
                let vl = len(frame)?;
                take(&mut frame, 4 + vl)?;
            }
            DEL => {}
            _ => return Err(corrupt("unknown change")),
        }
        n += 1;
    }
    Ok(n)
}

/// Bytes a frame of `len` bytes of changes takes in the log.
pub fn framed(len: usize) -> usize {
    len + HEADER
}

/// Whether a frame of `len` bytes still fits after `used` bytes of this epoch.
pub fn fits(used: usize, len: usize) -> bool {
    (used + framed(len)) as u64 <= MAX_SIZE
}

/// The frame of `epoch` starting at `at`, and where the next one starts.
fn frame_at(all: &[u8], at: usize, epoch: u64) -> Option<(&[u8], usize)> {
    let h = all.get(at..at + HEADER)?;
    let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    if u32_at(0) != MAGIC {
        return None;
    }
    let e = u64::from_le_bytes(h[4..12].try_into().ok()?);
    let len = u32_at(12) as usize;
    let crc = u32_at(16);
    if e != epoch {
        return None;
    }
    let payload = all.get(at + HEADER..at + HEADER + len)?;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&h[4..16]);
    hasher.update(payload);
    (hasher.finalize() == crc).then_some((payload, at + HEADER + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_of_the_current_epoch_survive_and_a_torn_one_is_dropped() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.wal");
        let (mut w, frames) = Wal::open(&path, 7).expect("open");
        assert!(frames.is_empty());
        w.append(&[b"one-a".to_vec()]).expect("append");
        w.append(&[b"two".to_vec(), b"three".to_vec()])
            .expect("append");
        drop(w);
        let (_, frames) = Wal::open(&path, 7).expect("reopen");
        assert_eq!(
            frames,
            vec![b"one-a".to_vec(), b"two".to_vec(), b"three".to_vec()]
        );
        // Another epoch sees none of them.
        let (mut w, frames) = Wal::open(&path, 8).expect("reopen");
        assert!(frames.is_empty());
        // A new epoch overwrites from the start; the old tail is not taken for its own.
        w.append(&[b"four".to_vec()]).expect("append");
        drop(w);
        let (_, frames) = Wal::open(&path, 8).expect("reopen");
        assert_eq!(frames, vec![b"four".to_vec()]);
        // A torn frame (a flipped byte in its payload) ends the log there.
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[HEADER + 1] ^= 0xff;
        std::fs::write(&path, &bytes).expect("write");
        let (_, frames) = Wal::open(&path, 8).expect("reopen");
        assert!(frames.is_empty());
    }
}
