//! Quick search over clients: an in-memory copy of each client's folded search text,
//! loaded at start and kept current after each committed change. Case-insensitive for
//! Cyrillic as for Latin (`ё` = `е`); every word of the query must occur.
//!
//! The texts live in one contiguous arena, so a query is one SIMD substring scan
//! (memchr's memmem) over all of them — about 150 MB at a million clients, a few tens of
//! milliseconds — instead of a million small strings. A changed client's new text is
//! appended and its old one left dead; the arena is compacted when half of it is dead.
use crate::domain::{Client, fold};
use crate::store::{Store, StoreError, tables};
use parking_lot::RwLock;
use redb::ReadableTable;
use std::collections::HashMap;

/// Separates texts in the arena; never part of a query word.
const SEP: u8 = b'\n';

fn load_range(store: &Store, ids: std::ops::RangeInclusive<u64>) -> Result<Arena, StoreError> {
    let tx = store.read()?;
    let t = tx.open_table(tables::CLIENTS.def)?;
    let mut arena = Arena::default();
    for row in t.range(ids)? {
        let (k, v) = row?;
        let c: Client = crate::store::codec::decode(v.value())?;
        arena.push(k.value(), &c.search_text());
    }
    Ok(arena)
}

#[derive(Default)]
struct Arena {
    bytes: Vec<u8>,
    /// Start offsets of the texts in `bytes`, ascending, with the client each belongs to
    /// (0 = dead).
    starts: Vec<usize>,
    owners: Vec<u64>,
    /// Client id → index into `starts` of its live text.
    slot: HashMap<u64, usize>,
    dead_bytes: usize,
}

impl Arena {
    fn push(&mut self, id: u64, text: &str) {
        if let Some(old) = self.slot.remove(&id) {
            self.owners[old] = 0;
            self.dead_bytes += self.len_of(old);
        }
        self.starts.push(self.bytes.len());
        self.owners.push(id);
        // The separator cannot occur in a text: fold() keeps newlines, so map them.
        self.bytes
            .extend(text.bytes().map(|b| if b == SEP { b' ' } else { b }));
        self.bytes.push(SEP);
        self.slot.insert(id, self.starts.len() - 1);
    }

    /// Appends another arena's texts (of other clients) after this one's.
    fn append(&mut self, other: Arena) {
        let base = self.bytes.len();
        let first = self.starts.len();
        self.bytes.extend_from_slice(&other.bytes);
        self.starts.extend(other.starts.iter().map(|s| s + base));
        self.owners.extend_from_slice(&other.owners);
        for (id, i) in other.slot {
            self.slot.insert(id, i + first);
        }
        self.dead_bytes += other.dead_bytes;
    }

    fn remove(&mut self, id: u64) {
        if let Some(old) = self.slot.remove(&id) {
            self.owners[old] = 0;
            self.dead_bytes += self.len_of(old);
        }
    }

    fn len_of(&self, i: usize) -> usize {
        let end = self.starts.get(i + 1).copied().unwrap_or(self.bytes.len());
        end - self.starts[i]
    }

    fn text(&self, i: usize) -> &[u8] {
        let end = self.starts.get(i + 1).copied().unwrap_or(self.bytes.len());
        &self.bytes[self.starts[i]..end]
    }

    fn compact_if_needed(&mut self) {
        if self.dead_bytes * 2 <= self.bytes.len() || self.bytes.len() < 1 << 20 {
            return;
        }
        let mut fresh = Arena::default();
        for i in 0..self.starts.len() {
            if self.owners[i] != 0 {
                let t = self.text(i);
                let t = String::from_utf8_lossy(&t[..t.len().saturating_sub(1)]).into_owned();
                fresh.push(self.owners[i], &t);
            }
        }
        *self = fresh;
    }
}

#[derive(Default)]
pub struct SearchIndex {
    arena: RwLock<Arena>,
}

impl SearchIndex {
    /// Loads every client's text, the two halves of the id range on two threads (the
    /// biggest part of a start at a million clients).
    pub fn load(store: &Store) -> Result<SearchIndex, StoreError> {
        let last = {
            let tx = store.read()?;
            let t = tx.open_table(tables::CLIENTS.def)?;
            t.last()?.map(|(k, _)| k.value()).unwrap_or(0)
        };
        let mid = last / 2 + 1;
        let upper = {
            let store = store.clone();
            std::thread::spawn(move || load_range(&store, mid..=u64::MAX))
        };
        let mut arena = load_range(store, 0..=mid - 1)?;
        let high = upper
            .join()
            .map_err(|_| StoreError::Codec("search index loader panicked".into()))??;
        arena.append(high);
        Ok(SearchIndex {
            arena: RwLock::new(arena),
        })
    }

    pub fn put(&self, c: &Client) {
        let mut a = self.arena.write();
        a.push(c.id, &c.search_text());
        a.compact_if_needed();
    }

    pub fn remove(&self, id: u64) {
        let mut a = self.arena.write();
        a.remove(id);
        a.compact_if_needed();
    }

    pub fn len(&self) -> usize {
        self.arena.read().slot.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by the index (for the System page and benchmarks).
    pub fn memory_bytes(&self) -> usize {
        let a = self.arena.read();
        a.bytes.capacity()
            + a.starts.capacity() * 8
            + a.owners.capacity() * 8
            + a.slot.capacity() * 24
    }

    /// Ids of clients matching `query`, newest first, skipping `offset`, at most
    /// `limit`; and the number of matches, counted up to `MAX_MATCHES`.
    pub fn find(&self, query: &str, offset: usize, limit: usize) -> (Vec<u64>, usize) {
        let q = fold(query);
        let mut words: Vec<&str> = q.split_whitespace().collect();
        if words.is_empty() {
            return (Vec::new(), 0);
        }
        // Scan for the longest word (the rarest, usually); check the others per text.
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        let first = memchr::memmem::FinderRev::new(words[0].as_bytes());
        let others: Vec<memchr::memmem::Finder> = words[1..]
            .iter()
            .map(|w| memchr::memmem::Finder::new(w.as_bytes()))
            .collect();
        let a = self.arena.read();
        let mut hits: Vec<u64> = Vec::new();
        // From the end of the arena backwards: the newest texts first, so a query that
        // matches very many clients stops early with the newest of them.
        let mut end = a.bytes.len();
        while hits.len() < MAX_MATCHES {
            let Some(pos) = first.rfind(&a.bytes[..end]) else {
                break;
            };
            let i = a.starts.partition_point(|s| *s <= pos) - 1;
            end = a.starts[i];
            let owner = a.owners[i];
            if owner != 0 {
                let text = a.text(i);
                if others.iter().all(|f| f.find(text).is_some()) {
                    hits.push(owner);
                }
            }
        }
        drop(a);
        hits.sort_unstable_by(|x, y| y.cmp(x));
        let total = hits.len();
        (hits.into_iter().skip(offset).take(limit).collect(), total)
    }
}

/// Quick search counts (and pages through) at most this many matches; a query that
/// matches more shows the newest of them and asks to be refined.
pub const MAX_MATCHES: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: u64, company: &str) -> Client {
        Client {
            id,
            company: company.into(),
            ..Default::default()
        }
    }

    #[test]
    fn finds_updates_and_forgets() {
        let idx = SearchIndex::default();
        idx.put(&client(1, "ООО Ромашка"));
        idx.put(&client(2, "Ромашка-Сервис"));
        idx.put(&client(3, "Acme"));
        assert_eq!(idx.find("ромашка", 0, 10), (vec![2, 1], 2));
        assert_eq!(idx.find("РОМАШКА сервис", 0, 10), (vec![2], 1));
        assert_eq!(idx.find("ромашка", 1, 10), (vec![1], 2));
        idx.put(&client(2, "Лютик"));
        assert_eq!(idx.find("ромашка", 0, 10), (vec![1], 1));
        assert_eq!(idx.find("лютик", 0, 10), (vec![2], 1));
        idx.remove(1);
        assert_eq!(idx.find("ромашка", 0, 10), (vec![], 0));
        assert_eq!(idx.find("   ", 0, 10), (vec![], 0));
        // A word across two texts' boundary is not a match.
        idx.put(&client(4, "abc"));
        idx.put(&client(5, "def"));
        assert_eq!(idx.find("cd", 0, 10).1, 0);
        assert_eq!(idx.len(), 4);
    }

    #[test]
    fn loads_both_halves_from_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.redb")).expect("open");
        store
            .write_blocking(|tx| {
                for i in 0..7 {
                    crate::service::clients::insert(tx, client(0, &format!("Фирма {i} общая")))?;
                }
                Ok(())
            })
            .expect("insert");
        let idx = SearchIndex::load(&store).expect("load");
        assert_eq!(idx.len(), 7);
        assert_eq!(idx.find("общая", 0, 100), (vec![7, 6, 5, 4, 3, 2, 1], 7));
        assert_eq!(idx.find("фирма 2", 0, 100), (vec![3], 1));
        assert_eq!(idx.find("фирма 6", 0, 100), (vec![7], 1));
    }

    #[test]
    fn compaction_keeps_results() {
        let idx = SearchIndex::default();
        let long = "x".repeat(4000);
        for round in 0..600 {
            for id in 1..=3u64 {
                idx.put(&client(id, &format!("{long} name{id} r{round}")));
            }
        }
        assert_eq!(idx.find("name2", 0, 10), (vec![2], 1));
        assert_eq!(idx.find("r599", 0, 10).1, 3);
        assert!(idx.memory_bytes() < 40 << 20);
    }
}
