//! Quick search over clients: an in-memory copy of each client's folded search text,
//! loaded at start and kept current after each committed change. Case-insensitive for
//! Cyrillic as for Latin (`ё` = `е`); every word of the query must occur.
//!
//! The texts live in one contiguous arena, so a query is one SIMD substring scan
//! (memchr's memmem) over all of them — about 150 MB at a million clients, a few tens of
//! milliseconds — instead of a million small strings. A changed client's new text is
//! appended and its old one left dead; the arena is compacted when half of it is dead.
//!
//! The same arena keeps the clients in company order (A–Z by folded name, then id), for
//! the list's "Company A–Z": a vector of arena slots, 4 bytes a client, whose sort key
//! is the text's first field (the folded company) — no second copy of any name. New
//! slots wait in a short unsorted tail and are merged in by the next sorted read (or
//! every `SETTLE_AT` changes), so a page of all clients is a slice and a filtered page
//! one pass over the order.
use crate::domain::{Client, fold};
use crate::store::{Store, StoreError, tables};
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use redb::ReadableTable;
use std::cmp::Ordering;
use std::collections::HashMap;

/// Separates texts in the arena; never part of a query word.
const SEP: u8 = b'\n';
/// Separates the fields of a search text (see `Client::search_text`); the company is first.
const FIELD_SEP: u8 = 0x1f;
/// Marks a dead text's owner (the id stays in the low bits); `settle` drops such slots
/// from the company order.
const DEAD: u64 = 1 << 63;
/// Unsorted new slots merged into the company order at once, at the latest.
const SETTLE_AT: usize = 4096;

fn load_range(store: &Store, ids: std::ops::RangeInclusive<u64>) -> Result<Arena, StoreError> {
    let tx = store.read()?;
    let t = tx.open_table(tables::CLIENTS.def)?;
    let mut arena = Arena::default();
    for row in t.range(ids)? {
        let (k, v) = row?;
        let c: Client = crate::store::codec::decode(v.value())?;
        arena.push(k.value(), &c.search_text());
    }
    arena.settle();
    Ok(arena)
}

/// Bytes of the arena one step of a newest-first scan looks at.
const SCAN_CHUNK: usize = 1 << 20;

#[derive(Default)]
struct Arena {
    bytes: Vec<u8>,
    /// Start offsets of the texts in `bytes`, ascending, with the client each belongs to
    /// (`DEAD` set once the text is replaced or removed).
    starts: Vec<usize>,
    owners: Vec<u64>,
    /// Client id → index into `starts` of its live text.
    slot: HashMap<u64, usize>,
    dead_bytes: usize,
    /// Slots in company order (see `cmp_slots`); may still hold slots died since the
    /// last `settle`, and lacks those in `pending`.
    order: Vec<u32>,
    /// Slots pushed since the last `settle`, not yet in `order`.
    pending: Vec<u32>,
    /// Slots died since the last `settle` (some of them in `order`).
    retired: usize,
}

impl Arena {
    fn push(&mut self, id: u64, text: &str) {
        if let Some(old) = self.slot.remove(&id) {
            self.retire(old);
        }
        // The separator cannot occur in a text: fold() keeps newlines, so map them.
        let i = self.append_text(id, text.bytes().map(|b| if b == SEP { b' ' } else { b }));
        self.pending.push(i as u32);
    }

    /// Appends a text (without its separator) and makes it `id`'s; its slot.
    fn append_text(&mut self, id: u64, text: impl IntoIterator<Item = u8>) -> usize {
        self.starts.push(self.bytes.len());
        self.owners.push(id);
        self.bytes.extend(text);
        self.bytes.push(SEP);
        let i = self.starts.len() - 1;
        self.slot.insert(id, i);
        i
    }

    fn retire(&mut self, i: usize) {
        self.owners[i] |= DEAD;
        self.dead_bytes += self.len_of(i);
        self.retired += 1;
    }

    /// Appends another arena's texts (of other clients) after this one's, merging the
    /// company orders.
    fn append(&mut self, mut other: Arena) {
        other.settle();
        self.settle();
        let base = self.bytes.len();
        let first = self.starts.len();
        self.bytes.extend_from_slice(&other.bytes);
        self.starts.extend(other.starts.iter().map(|s| s + base));
        self.owners.extend_from_slice(&other.owners);
        for (id, i) in other.slot {
            self.slot.insert(id, i + first);
        }
        self.dead_bytes += other.dead_bytes;
        self.pending = other.order.iter().map(|s| s + first as u32).collect();
        self.settle();
    }

    fn remove(&mut self, id: u64) {
        if let Some(old) = self.slot.remove(&id) {
            self.retire(old);
        }
    }

    fn live(&self, i: usize) -> bool {
        self.owners[i] & DEAD == 0
    }

    fn owner(&self, i: usize) -> u64 {
        self.owners[i] & !DEAD
    }

    fn len_of(&self, i: usize) -> usize {
        let end = self.starts.get(i + 1).copied().unwrap_or(self.bytes.len());
        end - self.starts[i]
    }

    fn text(&self, i: usize) -> &[u8] {
        let end = self.starts.get(i + 1).copied().unwrap_or(self.bytes.len());
        &self.bytes[self.starts[i]..end]
    }

    /// The folded company: the text up to its first field separator.
    fn company(&self, i: usize) -> &[u8] {
        let t = self.text(i);
        let t = &t[..t.len().saturating_sub(1)];
        memchr::memchr(FIELD_SEP, t).map_or(t, |end| &t[..end])
    }

    /// Company order: folded company name (bytewise, so A–Z, then А–Я), then id.
    fn cmp_slots(&self, a: u32, b: u32) -> Ordering {
        let (a, b) = (a as usize, b as usize);
        self.company(a)
            .cmp(self.company(b))
            .then_with(|| self.owner(a).cmp(&self.owner(b)))
    }

    /// The first 24 bytes of a slot's company, zero-padded, as numbers that order as the
    /// bytes do: when two keys differ, so do the companies, the same way round.
    fn prefix_key(&self, s: u32) -> [u64; 3] {
        let c = self.company(s as usize);
        let mut buf = [0u8; 24];
        let n = c.len().min(24);
        buf[..n].copy_from_slice(&c[..n]);
        let mut key = [0u64; 3];
        for (k, chunk) in key.iter_mut().zip(buf.chunks_exact(8)) {
            *k = chunk.iter().fold(0, |acc, b| acc << 8 | u64::from(*b));
        }
        key
    }

    /// Sorts slots into company order. Many at once are sorted by their prefix keys
    /// (integer comparisons in one flat vector), the full comparison breaking ties only.
    fn sort_slots(&self, slots: &mut [u32]) {
        if slots.len() < 256 {
            slots.sort_unstable_by(|a, b| self.cmp_slots(*a, *b));
            return;
        }
        let mut keyed: Vec<([u64; 3], u32)> =
            slots.iter().map(|s| (self.prefix_key(*s), *s)).collect();
        keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| self.cmp_slots(a.1, b.1)));
        for (dst, (_, s)) in slots.iter_mut().zip(keyed) {
            *dst = s;
        }
    }

    fn settled(&self) -> bool {
        self.pending.is_empty() && self.retired == 0
    }

    /// Brings the company order up to date: drops the dead, merges the pending in.
    fn settle(&mut self) {
        if self.settled() {
            return;
        }
        if self.retired > 0 {
            let owners = &self.owners;
            self.order.retain(|s| owners[*s as usize] & DEAD == 0);
            self.retired = 0;
        }
        let mut pending = std::mem::take(&mut self.pending);
        pending.retain(|s| self.live(*s as usize));
        self.sort_slots(&mut pending);
        if pending.is_empty() {
            return;
        }
        let n = self.order.len();
        let mut out = Vec::with_capacity(n + pending.len());
        if pending.len() > n / 32 {
            // Many: one linear merge.
            let (mut i, mut j) = (0, 0);
            while i < n && j < pending.len() {
                if self.cmp_slots(self.order[i], pending[j]) == Ordering::Less {
                    out.push(self.order[i]);
                    i += 1;
                } else {
                    out.push(pending[j]);
                    j += 1;
                }
            }
            out.extend_from_slice(&self.order[i..]);
            out.extend_from_slice(&pending[j..]);
        } else {
            // Few: find each one's place, copy the runs between.
            let mut from = 0;
            for s in &pending {
                let at = from
                    + self.order[from..]
                        .partition_point(|o| self.cmp_slots(*o, *s) == Ordering::Less);
                out.extend_from_slice(&self.order[from..at]);
                out.push(*s);
                from = at;
            }
            out.extend_from_slice(&self.order[from..]);
        }
        self.order = out;
    }

    fn compact_if_needed(&mut self) {
        if self.dead_bytes * 2 <= self.bytes.len() || self.bytes.len() < 1 << 20 {
            return;
        }
        self.settle();
        let mut fresh = Arena::default();
        let mut moved = vec![u32::MAX; self.starts.len()];
        for (i, to) in moved.iter_mut().enumerate() {
            if self.live(i) {
                let t = self.text(i);
                *to = fresh.append_text(self.owners[i], t[..t.len() - 1].iter().copied()) as u32;
            }
        }
        // The same texts in the same order: the company order carries over.
        fresh.order = self.order.iter().map(|s| moved[*s as usize]).collect();
        *self = fresh;
    }

    /// Slots of the live texts holding every word, newest text first, at most `cap`.
    fn matching(&self, words: &[&str], cap: usize) -> Vec<usize> {
        let mut words = words.to_vec();
        if words.is_empty() {
            return Vec::new();
        }
        // Scan for the longest word (the rarest, usually); check the others per text.
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        let first = memchr::memmem::Finder::new(words[0].as_bytes());
        let others: Vec<memchr::memmem::Finder> = words[1..]
            .iter()
            .map(|w| memchr::memmem::Finder::new(w.as_bytes()))
            .collect();
        let mut hits = Vec::new();
        // From the end of the arena backwards, a chunk at a time, so a query that
        // matches very many clients stops early with the newest of them. Each chunk is
        // scanned forwards (memchr's forward search is SIMD-accelerated; its reverse
        // search is not) and starts at a text's start, so no match straddles two chunks.
        let mut end = self.bytes.len();
        let mut found: Vec<usize> = Vec::new();
        while end > 0 && hits.len() < cap {
            let from = end.saturating_sub(SCAN_CHUNK);
            let first_text = self
                .starts
                .partition_point(|s| *s <= from)
                .saturating_sub(1);
            let lo = self.starts.get(first_text).copied().unwrap_or(0).min(from);
            found.clear();
            let mut i = first_text;
            for pos in first.find_iter(&self.bytes[lo..end]) {
                let pos = lo + pos;
                while self.starts.get(i + 1).is_some_and(|s| *s <= pos) {
                    i += 1;
                }
                if found.last() != Some(&i) {
                    found.push(i);
                }
            }
            for &i in found.iter().rev() {
                if hits.len() >= cap {
                    break;
                }
                if self.live(i) {
                    let text = self.text(i);
                    if others.iter().all(|f| f.find(text).is_some()) {
                        hits.push(i);
                    }
                }
            }
            end = lo;
        }
        hits
    }

    /// Marks every live slot whose text holds every word: one forward scan of the arena
    /// (no per-hit search for the text's start), for queries that need all matches.
    fn matching_all(&self, words: &[&str], set: &mut Slots) {
        let mut words = words.to_vec();
        if words.is_empty() {
            return;
        }
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        let first = memchr::memmem::Finder::new(words[0].as_bytes());
        let others: Vec<memchr::memmem::Finder> = words[1..]
            .iter()
            .map(|w| memchr::memmem::Finder::new(w.as_bytes()))
            .collect();
        let (mut i, mut last) = (0, usize::MAX);
        for pos in first.find_iter(&self.bytes) {
            // The text holding `pos`: a few steps forward, then a binary search.
            let mut steps = 0;
            while self.starts.get(i + 1).is_some_and(|s| *s <= pos) {
                i += 1;
                steps += 1;
                if steps == 8 {
                    i += self.starts[i..].partition_point(|s| *s <= pos) - 1;
                    break;
                }
            }
            if i == last {
                continue;
            }
            last = i;
            if self.live(i) {
                let text = self.text(i);
                if others.iter().all(|f| f.find(text).is_some()) {
                    set.set(i);
                }
            }
        }
    }
}

/// A set of arena slots, one bit each.
struct Slots(Vec<u64>);

impl Slots {
    fn new(n: usize) -> Slots {
        Slots(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn has(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }
    fn and(&mut self, other: &Slots) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a &= b;
        }
    }
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, bits)| {
            let mut bits = *bits;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let b = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    w * 64 + b
                })
            })
        })
    }
}

#[derive(Default)]
pub struct SearchIndex {
    arena: RwLock<Arena>,
}

impl SearchIndex {
    /// Loads every client's text, the two halves of the id range on two threads (the
    /// biggest part of a start at a million clients), each sorting its half.
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
        if a.pending.len() >= SETTLE_AT {
            a.settle();
        }
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
            + (a.order.capacity() + a.pending.capacity()) * 4
    }

    /// Bytes of the company order alone.
    pub fn order_bytes(&self) -> usize {
        let a = self.arena.read();
        (a.order.capacity() + a.pending.capacity()) * 4
    }

    /// Ids of clients matching `query`, newest first, skipping `offset`, at most
    /// `limit`; and the number of matches, counted up to `MAX_MATCHES`.
    pub fn find(&self, query: &str, offset: usize, limit: usize) -> (Vec<u64>, usize) {
        let q = fold(query);
        let words: Vec<&str> = q.split_whitespace().collect();
        let a = self.arena.read();
        let mut hits: Vec<u64> = a
            .matching(&words, MAX_MATCHES)
            .into_iter()
            .map(|i| a.owner(i))
            .collect();
        drop(a);
        hits.sort_unstable_by(|x, y| y.cmp(x));
        let total = hits.len();
        (hits.into_iter().skip(offset).take(limit).collect(), total)
    }

    /// The arena with its company order up to date, for reading.
    /// (A plain read when nothing waits, so sorted reads run side by side.)
    fn sorted(&self) -> RwLockReadGuard<'_, Arena> {
        let a = self.arena.read();
        if a.settled() {
            return a;
        }
        drop(a);
        let mut w = self.arena.write();
        w.settle();
        RwLockWriteGuard::downgrade(w)
    }

    /// Ids of clients in company order (A–Z, then id) — of all, or of those matching
    /// `query` and/or among `only` — skipping `offset`, at most `limit`; and how many
    /// there are (every match counted: no cap).
    pub fn by_company(
        &self,
        query: Option<&str>,
        only: Option<&[u64]>,
        offset: usize,
        limit: usize,
    ) -> (Vec<u64>, usize) {
        let q = query.map(fold).unwrap_or_default();
        let words: Vec<&str> = q.split_whitespace().collect();
        let a = self.sorted();
        if words.is_empty() && only.is_none() {
            let page = a.order.iter().skip(offset).take(limit);
            return (page.map(|s| a.owner(*s as usize)).collect(), a.order.len());
        }
        let mut chosen: Option<Slots> = None;
        if let Some(ids) = only {
            let mut set = Slots::new(a.starts.len());
            for i in ids.iter().filter_map(|id| a.slot.get(id)) {
                set.set(*i);
            }
            chosen = Some(set);
        }
        if !words.is_empty() {
            let mut set = Slots::new(a.starts.len());
            a.matching_all(&words, &mut set);
            if let Some(c) = &chosen {
                set.and(c);
            }
            chosen = Some(set);
        }
        let Some(chosen) = chosen else {
            return (Vec::new(), 0);
        };
        let total = chosen.len();
        let page: Vec<u64> = if total * 16 < a.order.len() {
            // Few: sort just them.
            let mut few: Vec<u32> = chosen.iter().map(|i| i as u32).collect();
            a.sort_slots(&mut few);
            few.iter()
                .skip(offset)
                .take(limit)
                .map(|s| a.owner(*s as usize))
                .collect()
        } else {
            // Many: one pass along the order.
            a.order
                .iter()
                .filter(|s| chosen.has(**s as usize))
                .skip(offset)
                .take(limit)
                .map(|s| a.owner(*s as usize))
                .collect()
        };
        (page, total)
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
    fn newest_first_across_scan_chunks() {
        // Texts of ~100 bytes: 40,000 of them span four scan chunks.
        let idx = SearchIndex::default();
        let pad = "п".repeat(45);
        let n = 40_000u64;
        for id in 1..=n {
            let name = if id % 997 == 0 {
                format!("{pad} Редкое{id}")
            } else {
                format!("{pad} Обычное")
            };
            idx.put(&client(id, &name));
        }
        let want: Vec<u64> = (1..=n).rev().filter(|id| id % 997 == 0).collect();
        let (got, total) = idx.find("редкое", 0, 1000);
        assert_eq!(total, want.len());
        assert_eq!(got, want, "every match, newest first");
        // Two words: the second is checked within each text.
        assert_eq!(idx.find("редкое39880 ппп", 0, 10), (vec![39_880], 1));
        // Stopping at the cap keeps the newest.
        let (got, _) = idx.find("обычное", 0, 3);
        assert_eq!(got, vec![n, n - 1, n - 2]);
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

    /// The company order as the list should show it, computed the slow way.
    fn model_order(
        model: &std::collections::BTreeMap<u64, String>,
        keep: impl Fn(u64) -> bool,
    ) -> Vec<u64> {
        let mut v: Vec<(String, u64)> = model
            .iter()
            .filter(|(id, _)| keep(**id))
            .map(|(id, c)| (fold(c), *id))
            .collect();
        v.sort();
        v.into_iter().map(|(_, id)| id).collect()
    }

    #[test]
    fn company_order_follows_puts_updates_and_removes() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let names = [
            "Ромашка",
            "ромашка",
            "Acme",
            "Ёлка",
            "Елка",
            "Банан",
            "zeta",
            "Яблоко",
            "Abc",
            "ООО «Лес»",
        ];
        let idx = SearchIndex::default();
        let mut model = std::collections::BTreeMap::new();
        for step in 0..20_000 {
            let id = rng.gen_range(1..=600u64);
            if rng.gen_ratio(1, 5) {
                idx.remove(id);
                model.remove(&id);
            } else {
                let company = format!(
                    "{} {}",
                    names[rng.gen_range(0..names.len())],
                    rng.gen_range(0..30)
                );
                idx.put(&client(id, &company));
                model.insert(id, company);
            }
            if step % 13 == 0 {
                // Often, so few changes wait each time (merged by binary search).
                assert_eq!(
                    idx.by_company(None, None, 0, usize::MAX).0,
                    model_order(&model, |_| true)
                );
            }
            if step % 997 == 0 || step == 19_999 {
                let all = model_order(&model, |_| true);
                let (page, total) = idx.by_company(None, None, 0, usize::MAX);
                assert_eq!((page, total), (all.clone(), model.len()), "step {step}");
                let (page, total) = idx.by_company(None, None, 100, 20);
                assert_eq!(
                    page,
                    all.iter().skip(100).take(20).copied().collect::<Vec<_>>()
                );
                assert_eq!(total, model.len());
                // Among some ids (a manager's clients, say), few and many.
                for modulo in [2, 50] {
                    let only: Vec<u64> = (1..=600).filter(|i| i % modulo == 0).collect();
                    let want = model_order(&model, |id| id % modulo == 0);
                    let (page, total) = idx.by_company(None, Some(&only), 3, 40);
                    assert_eq!(total, want.len());
                    assert_eq!(
                        page,
                        want.iter().skip(3).take(40).copied().collect::<Vec<_>>()
                    );
                }
                // Matching a query (ё = е), alone and with ids.
                let want = model_order(&model, |id| fold(&model[&id]).contains("елка"));
                assert_eq!(
                    idx.by_company(Some("ЁЛКА"), None, 0, 1000),
                    (want.clone(), want.len())
                );
                let only: Vec<u64> = (1..=300).collect();
                let want: Vec<u64> = want.into_iter().filter(|id| *id <= 300).collect();
                assert_eq!(
                    idx.by_company(Some("елка"), Some(&only), 0, 1000),
                    (want.clone(), want.len())
                );
                assert_eq!(idx.by_company(Some("нет такого"), None, 0, 10), (vec![], 0));
            }
        }
    }

    #[test]
    fn prefix_keys_sort_as_the_names_do() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let parts = [
            "",
            "\0",
            "a",
            "ab",
            "Я",
            "ё",
            "е",
            " ",
            "Общество с ограниченной ответственностью «",
            "x\0y",
        ];
        let idx = SearchIndex::default();
        let mut model = std::collections::BTreeMap::new();
        for id in 1..=6000u64 {
            let company: String = (0..rng.gen_range(1..5))
                .map(|_| parts[rng.gen_range(0..parts.len())])
                .collect();
            idx.put(&client(id, &company));
            model.insert(id, company);
        }
        let want = model_order(&model, |_| true);
        assert_eq!(idx.by_company(None, None, 0, usize::MAX).0, want);
        // And a large subset, sorted on its own.
        let only: Vec<u64> = (1..=6000).filter(|i| i % 20 == 0).collect();
        let want = model_order(&model, |id| id % 20 == 0);
        assert_eq!(idx.by_company(None, Some(&only), 0, usize::MAX).0, want);
    }

    #[test]
    fn many_puts_are_merged_on_the_way() {
        let idx = SearchIndex::default();
        let mut model = std::collections::BTreeMap::new();
        for id in 1..=3 * SETTLE_AT as u64 {
            let company = format!("Фирма {}", (id * 7919) % 1000);
            idx.put(&client(id, &company));
            model.insert(id, company);
        }
        assert!(idx.arena.read().pending.len() < SETTLE_AT);
        let want = model_order(&model, |_| true);
        assert_eq!(
            idx.by_company(None, None, 0, usize::MAX),
            (want.clone(), want.len())
        );
        assert_eq!(
            idx.by_company(Some("фирма"), None, 5000, 3).0,
            want[5000..5003].to_vec()
        );
    }

    #[test]
    fn company_order_survives_compaction_and_loading() {
        let idx = SearchIndex::default();
        let long = "x".repeat(3000);
        for round in 0..400u64 {
            for id in 1..=5u64 {
                // The company changes every round, so the order does too.
                idx.put(&client(id, &format!("{} {long}", (id * 7 + round) % 10)));
            }
        }
        let mem = idx.memory_bytes();
        assert!(mem < 40 << 20, "compacted: {mem}");
        // round 399: companies (id*7+399)%10 = id 1→6, 2→3, 3→0, 4→7, 5→4.
        assert_eq!(idx.by_company(None, None, 0, 10), (vec![3, 2, 5, 1, 4], 5));

        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.redb")).expect("open");
        store
            .write_blocking(|tx| {
                for name in ["Виктория", "альфа", "Бета", "Acme", "альфа", "Гамма", "Ёж"]
                {
                    crate::service::clients::insert(tx, client(0, name))?;
                }
                Ok(())
            })
            .expect("insert");
        let idx = SearchIndex::load(&store).expect("load");
        // Acme, альфа(2), альфа(5), Бета, Виктория, Гамма, Ёж (folded to "еж").
        assert_eq!(
            idx.by_company(None, None, 0, 10),
            (vec![4, 2, 5, 3, 1, 6, 7], 7)
        );
        assert_eq!(
            idx.by_company(None, Some(&[7, 1, 4]), 1, 10),
            (vec![1, 7], 3)
        );
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
