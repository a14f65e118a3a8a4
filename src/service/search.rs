//! Quick search over clients: an in-memory copy of each client's folded search text,
//! loaded at start and kept current after each committed change. Case-insensitive for
//! Cyrillic as for Latin; every word of the query must occur.
use crate::domain::{Client, fold};
use crate::store::{Store, StoreError, tables};
use parking_lot::RwLock;
use redb::ReadableTable;
use std::collections::BTreeMap;

#[derive(Default)]
pub struct SearchIndex {
    texts: RwLock<BTreeMap<u64, Box<str>>>,
}

impl SearchIndex {
    pub fn load(store: &Store) -> Result<SearchIndex, StoreError> {
        let tx = store.read()?;
        let t = tx.open_table(tables::CLIENTS.def)?;
        let mut texts = BTreeMap::new();
        for row in t.iter()? {
            let (k, v) = row?;
            let c: Client = crate::store::codec::decode(v.value())?;
            texts.insert(k.value(), c.search_text().into_boxed_str());
        }
        Ok(SearchIndex {
            texts: RwLock::new(texts),
        })
    }

    pub fn put(&self, c: &Client) {
        self.texts
            .write()
            .insert(c.id, c.search_text().into_boxed_str());
    }

    pub fn remove(&self, id: u64) {
        self.texts.write().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.texts.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ids of clients matching `query`, newest first, skipping `offset`, at most
    /// `limit`; and the total number of matches.
    pub fn find(&self, query: &str, offset: usize, limit: usize) -> (Vec<u64>, usize) {
        let q = fold(query);
        let words: Vec<&str> = q.split_whitespace().collect();
        let texts = self.texts.read();
        let mut total = 0;
        let mut page = Vec::new();
        for (id, text) in texts.iter().rev() {
            if words.iter().all(|w| text.contains(w)) {
                if total >= offset && page.len() < limit {
                    page.push(*id);
                }
                total += 1;
            }
        }
        (page, total)
    }
}
