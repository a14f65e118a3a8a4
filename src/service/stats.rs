//! The statistics and problems the cabinet and the back office show: daily series of
//! captures, denials, peaks and seats owned; top clients by denials; denials newest
//! first with filters and paging. Read-only, over one snapshot.
//!
//! Per-client views read the raw rows (`usage`, `denials`) of the client's keys. The
//! all-clients views read rollups kept beside them in the same logged writes:
//! `usage_daily` (day, feature), `denial_client_days` (day, block of 1024 clients),
//! and the time indexes `denial_times` / `denial_feature_times`, so each stays fast at
//! a year of 100,000 keys (BENCHMARKS.md).
use crate::domain::days::{Day, DayRange};
use crate::domain::series::{SeriesRow, seats_owned};
use crate::domain::{Denial, Key};
use crate::service::{clients, keys, products};
use crate::store::{Snapshot, StoreError, tables};
use redb::ReadableTable;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use time::OffsetDateTime;

pub use crate::domain::days::{Preset, RangeError};
pub use crate::domain::problems::{advice, reason};
pub use crate::domain::series::series_csv;

/// Today (UTC) by the server's clock.
pub fn today(app: &crate::service::App) -> Day {
    Day::of(app.now())
}

/// A feature as the statistics name it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FeatureInfo {
    pub number: u32,
    pub name: String,
    /// Code of the product it belongs to.
    pub product: String,
}

/// A daily series over a range: one row per day and feature, for every day of the
/// range and every feature in `features` (days without activity have zeros), ordered
/// by day then feature.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Series {
    pub range: DayRange,
    /// The features that appear (had usage or, for keys, owned seats in the range),
    /// by number; a feature no product defines any more has an empty name and product.
    pub features: Vec<FeatureInfo>,
    pub rows: Vec<SeriesRow>,
}

impl Series {
    /// The rows of one feature, oldest first.
    pub fn of_feature(&self, feature: u32) -> impl Iterator<Item = &SeriesRow> {
        self.rows.iter().filter(move |r| r.feature == feature)
    }
}

/// Every feature of every product, by number (for filter choices).
pub fn features(tx: &impl Snapshot) -> Result<Vec<FeatureInfo>, StoreError> {
    let mut out: Vec<FeatureInfo> = products::list(tx)?
        .into_iter()
        .flat_map(|p| {
            p.features.into_iter().map(move |f| FeatureInfo {
                number: f.number,
                name: f.name,
                product: p.code.clone(),
            })
        })
        .collect();
    out.sort_by_key(|f| f.number);
    Ok(out)
}

fn feature_infos(
    tx: &impl Snapshot,
    numbers: &BTreeSet<u32>,
) -> Result<Vec<FeatureInfo>, StoreError> {
    let known: HashMap<u32, FeatureInfo> =
        features(tx)?.into_iter().map(|f| (f.number, f)).collect();
    Ok(numbers
        .iter()
        .map(|n| {
            known.get(n).cloned().unwrap_or(FeatureInfo {
                number: *n,
                name: String::new(),
                product: String::new(),
            })
        })
        .collect())
}

/// Counters of one (day, feature), summed.
type Sums = (u64, u64, u64);

fn dense(
    range: DayRange,
    sums: &BTreeMap<(i32, u32), Sums>,
    owned: Option<&BTreeMap<(Day, u32), u64>>,
    features: &BTreeSet<u32>,
) -> Vec<SeriesRow> {
    let mut rows = Vec::with_capacity(range.len().max(0) as usize * features.len());
    for day in range.days() {
        for f in features {
            let (captures, denials, peak) = sums.get(&(day.0, *f)).copied().unwrap_or_default();
            rows.push(SeriesRow {
                day,
                feature: *f,
                captures,
                denials,
                peak,
                seats_owned: owned.map(|o| o.get(&(day, *f)).copied().unwrap_or(0)),
            });
        }
    }
    rows
}

/// Adds one key's `usage` rows in `range` to `sums`, reading only the range's rows of
/// each feature the key has rows for.
fn add_key_usage<T>(
    t: &T,
    regnum: &str,
    range: DayRange,
    sums: &mut BTreeMap<(i32, u32), Sums>,
) -> Result<(), StoreError>
where
    T: ReadableTable<(&'static str, u32, i32), (u32, u32, u32)>,
{
    let mut next = 0u32;
    loop {
        let first = t
            .range((regnum, next, i32::MIN)..=(regnum, u32::MAX, i32::MAX))?
            .next();
        let Some(row) = first else { break };
        let feature = row?.0.value().1;
        for row in t.range((regnum, feature, range.from.0)..=(regnum, feature, range.to.0))? {
            let (k, v) = row?;
            let (c, d, p) = v.value();
            let e = sums.entry((k.value().2, feature)).or_default();
            e.0 += u64::from(c);
            e.1 += u64::from(d);
            e.2 += u64::from(p);
        }
        match feature.checked_add(1) {
            Some(n) => next = n,
            None => break,
        }
    }
    Ok(())
}

/// The series of a set of keys (one client's keys, or one key) over `range`, summed
/// over the keys. `peak` is the sum of the keys' daily peaks: an upper bound of the
/// seats in use at once across the keys. `seats_owned` comes from the keys' grants.
/// Unknown registration numbers are skipped.
pub fn key_series(
    tx: &impl Snapshot,
    regnums: &[String],
    range: DayRange,
) -> Result<Series, StoreError> {
    let mut key_rows: Vec<Key> = Vec::new();
    for r in regnums {
        if let Some(k) = keys::load(tx, r)? {
            key_rows.push(k);
        }
    }
    let mut sums = BTreeMap::new();
    {
        let t = tx.table(tables::USAGE)?;
        for k in &key_rows {
            add_key_usage(&t, &k.regnum, range, &mut sums)?;
        }
    }
    let owned = seats_owned(&key_rows, range);
    let numbers: BTreeSet<u32> = sums
        .keys()
        .map(|(_, f)| *f)
        .chain(owned.keys().map(|(_, f)| *f))
        .collect();
    Ok(Series {
        range,
        features: feature_infos(tx, &numbers)?,
        rows: dense(range, &sums, Some(&owned), &numbers),
    })
}

/// `key_series` of every key of a client.
pub fn client_series(
    tx: &impl Snapshot,
    client_id: u64,
    range: DayRange,
) -> Result<Series, StoreError> {
    key_series(tx, &clients::keys_of(tx, client_id)?, range)
}

/// One day and feature of one key, as `GET /api/admin/v1/keys/{regnum}/usage` answers.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct UsageDay {
    /// `YYYY-MM-DD`
    #[schema(value_type = String)]
    pub day: Day,
    pub feature: u32,
    /// Granted captures.
    pub captures: u32,
    /// Refused captures.
    pub denials: u32,
    /// Most seats in use at once.
    pub peak: u32,
}

/// The `usage` rows of one key in `range` (only days and features that had any),
/// ordered by day then feature.
pub fn key_usage(
    tx: &impl Snapshot,
    regnum: &str,
    range: DayRange,
) -> Result<Vec<UsageDay>, StoreError> {
    let mut sums = BTreeMap::new();
    add_key_usage(&tx.table(tables::USAGE)?, regnum, range, &mut sums)?;
    Ok(sums
        .into_iter()
        .map(|((day, feature), (c, d, p))| UsageDay {
            day: Day(day),
            feature,
            captures: c as u32,
            denials: d as u32,
            peak: p as u32,
        })
        .collect())
}

/// Which features an all-clients series covers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeriesFilter {
    /// A product code (case-insensitive): only its features.
    pub product: Option<String>,
    pub feature: Option<u32>,
}

/// The series across all clients from the `usage_daily` rollup (`seats_owned` is
/// `None`; `peak` is the sum of every key's daily peak). An unknown product matches
/// nothing.
pub fn global_series(
    tx: &impl Snapshot,
    range: DayRange,
    filter: &SeriesFilter,
) -> Result<Series, StoreError> {
    let allowed: Option<HashSet<u32>> = match &filter.product {
        Some(code) => Some(
            products::by_code(tx, code.trim())?
                .map(|p| p.features.iter().map(|f| f.number).collect())
                .unwrap_or_default(),
        ),
        None => None,
    };
    let keep = |f: u32| {
        filter.feature.is_none_or(|x| x == f) && allowed.as_ref().is_none_or(|a| a.contains(&f))
    };
    let mut sums = BTreeMap::new();
    let t = tx.table(tables::USAGE_DAILY)?;
    for row in t.range((range.from.0, 0u32)..=(range.to.0, u32::MAX))? {
        let (k, v) = row?;
        let (day, f) = k.value();
        if keep(f) {
            sums.insert((day, f), v.value());
        }
    }
    let numbers: BTreeSet<u32> = sums.keys().map(|(_, f)| *f).collect();
    Ok(Series {
        range,
        features: feature_infos(tx, &numbers)?,
        rows: dense(range, &sums, None, &numbers),
    })
}

/// A client and its denials over a range.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TopClient {
    pub client_id: u64,
    /// Empty when the client is gone (its denials stay counted under its old id).
    pub company: String,
    pub denials: u64,
}

/// The `limit` clients with the most denials in `range`, most first (ties: lower id
/// first), from the `denial_client_days` rollup. Denials count for the client that
/// owned the key when they were flushed.
pub fn top_clients(
    tx: &impl Snapshot,
    range: DayRange,
    limit: usize,
) -> Result<Vec<TopClient>, StoreError> {
    let mut sums: HashMap<u64, Box<[u64; blocks::SIZE as usize]>> = HashMap::new();
    {
        let t = tx.table(tables::DENIAL_CLIENT_DAYS)?;
        for row in t.range((range.from.0, 0u64)..=(range.to.0, u64::MAX))? {
            let (k, v) = row?;
            let block = k.value().1;
            let arr = sums
                .entry(block)
                .or_insert_with(|| Box::new([0; blocks::SIZE as usize]));
            for (lo, n) in blocks::entries(v.value()) {
                arr[lo as usize] += u64::from(n);
            }
        }
    }
    // Keep the best `limit` in a min-heap: (denials, lower id better).
    let mut heap: BinaryHeap<std::cmp::Reverse<(u64, std::cmp::Reverse<u64>)>> =
        BinaryHeap::with_capacity(limit + 1);
    for (block, arr) in &sums {
        for (lo, n) in arr.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let id = block * blocks::SIZE + lo as u64;
            heap.push(std::cmp::Reverse((*n, std::cmp::Reverse(id))));
            if heap.len() > limit {
                heap.pop();
            }
        }
    }
    let mut best: Vec<(u64, u64)> = heap
        .into_iter()
        .map(|std::cmp::Reverse((n, std::cmp::Reverse(id)))| (id, n))
        .collect();
    best.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    best.into_iter()
        .map(|(client_id, denials)| {
            Ok(TopClient {
                client_id,
                company: clients::load(tx, client_id)?
                    .map(|c| c.company)
                    .unwrap_or_default(),
                denials,
            })
        })
        .collect()
}

/// Where a page of denials ends: the next page holds the denials strictly older.
/// Text form `MS-SEQ` (for a query string).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    pub ms: i64,
    pub seq: u64,
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl std::str::FromStr for Cursor {
    type Err = ();
    fn from_str(s: &str) -> Result<Cursor, ()> {
        let (ms, seq) = s.trim().split_once('-').ok_or(())?;
        Ok(Cursor {
            ms: ms.parse().map_err(|_| ())?,
            seq: seq.parse().map_err(|_| ())?,
        })
    }
}

impl serde::Serialize for Cursor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Which page: at most `limit` rows (1 to 1000 are sensible), older than `before`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: usize,
    pub before: Option<Cursor>,
}

impl Default for Page {
    fn default() -> Page {
        Page {
            limit: 50,
            before: None,
        }
    }
}

/// Which denials. For a set of keys only `feature` and `code` apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DenialFilter {
    pub feature: Option<u32>,
    pub code: Option<u32>,
    pub client: Option<u64>,
    /// A distributor's code: denials of its clients' keys.
    pub distributor: Option<String>,
}

/// One denial as the Problems screens show it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DenialRow {
    #[serde(with = "crate::clock::serde_rfc3339")]
    pub at: OffsetDateTime,
    pub regnum: String,
    /// 0 and empty company when the key is gone.
    pub client_id: u64,
    pub company: String,
    pub feature: u32,
    /// Empty when no product defines the feature.
    pub feature_name: String,
    pub host: String,
    pub user: String,
    pub database: String,
    pub code: u32,
    /// This row's place (a cursor for "older than this").
    pub cursor: Cursor,
}

/// A page of denials, newest first. `next` is set when older denials may remain
/// (pass it as `Page::before`); a page may hold fewer than `limit` rows and still have
/// a `next` when the filter is rare and the scan stopped at its bound.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DenialPage {
    pub rows: Vec<DenialRow>,
    pub next: Option<Cursor>,
}

/// Index rows one all-clients page examines at most, so a rare filter costs a bounded
/// time per page (the page then says where to continue).
pub const MAX_SCAN: usize = 100_000;
/// Up to this many keys, a key set's denials are read by merging its keys' own rows;
/// above it, by scanning the time index for them.
const MERGE_KEYS: usize = 512;

/// Turns `Denial` records into display rows (one lookup of key, client and feature
/// name per distinct key / feature).
struct Shaper<'a, S: Snapshot> {
    tx: &'a S,
    owners: HashMap<String, (u64, String)>,
    names: HashMap<u32, String>,
}

impl<'a, S: Snapshot> Shaper<'a, S> {
    fn new(tx: &'a S) -> Result<Self, StoreError> {
        let names = features(tx)?
            .into_iter()
            .map(|f| (f.number, f.name))
            .collect();
        Ok(Shaper {
            tx,
            owners: HashMap::new(),
            names,
        })
    }

    fn row(&mut self, d: Denial, cursor: Cursor) -> Result<DenialRow, StoreError> {
        if !self.owners.contains_key(&d.regnum) {
            let owner = match keys::load(self.tx, &d.regnum)? {
                Some(k) => (
                    k.client_id,
                    clients::load(self.tx, k.client_id)?
                        .map(|c| c.company)
                        .unwrap_or_default(),
                ),
                None => (0, String::new()),
            };
            self.owners.insert(d.regnum.clone(), owner);
        }
        let (client_id, company) = self.owners.get(&d.regnum).cloned().unwrap_or_default();
        Ok(DenialRow {
            at: d.at,
            feature_name: self.names.get(&d.feature).cloned().unwrap_or_default(),
            regnum: d.regnum,
            client_id,
            company,
            feature: d.feature,
            host: d.host,
            user: d.user,
            database: d.database,
            code: d.code,
            cursor,
        })
    }
}

fn upper(before: Option<Cursor>) -> (i64, u64) {
    before.map_or((i64::MAX, u64::MAX), |c| (c.ms, c.seq))
}

/// Denials of a set of keys (one client's, or one key), newest first; `filter`'s
/// `feature` and `code` apply (its client and distributor are ignored).
pub fn key_denials(
    tx: &impl Snapshot,
    regnums: &[String],
    filter: &DenialFilter,
    page: Page,
) -> Result<DenialPage, StoreError> {
    if regnums.len() > MERGE_KEYS {
        let set: HashSet<&str> = regnums.iter().map(String::as_str).collect();
        return scan_index(tx, Some(&set), filter.feature, filter.code, page);
    }
    let t = tx.table(tables::DENIALS.def)?;
    let (ms, seq) = upper(page.before);
    let mut iters = Vec::with_capacity(regnums.len());
    for r in regnums {
        iters.push(
            t.range((r.as_str(), i64::MIN, 0u64)..(r.as_str(), ms, seq))?
                .rev(),
        );
    }
    // Max-heap of each key's newest remaining denial.
    let mut heap: BinaryHeap<(i64, u64, usize)> = BinaryHeap::new();
    let mut heads: Vec<Option<Denial>> = Vec::with_capacity(iters.len());
    let advance = |i: usize,
                   iters: &mut Vec<std::iter::Rev<redb::Range<'_, _, _>>>,
                   heap: &mut BinaryHeap<(i64, u64, usize)>|
     -> Result<Option<Denial>, StoreError> {
        match iters[i].next() {
            Some(row) => {
                let (k, v) = row?;
                let (_, ms, seq): (&str, i64, u64) = k.value();
                heap.push((ms, seq, i));
                Ok(Some(crate::store::codec::decode(v.value())?))
            }
            None => Ok(None),
        }
    };
    for i in 0..iters.len() {
        let d = advance(i, &mut iters, &mut heap)?;
        heads.push(d);
    }
    let mut shaper = Shaper::new(tx)?;
    let mut out = DenialPage::default();
    while let Some((ms, seq, i)) = heap.pop() {
        let Some(d) = heads[i].take() else { continue };
        let cursor = Cursor { ms, seq };
        if out.rows.len() == page.limit {
            out.next = out.rows.last().map(|r| r.cursor);
            break;
        }
        if filter.feature.is_none_or(|f| f == d.feature) && filter.code.is_none_or(|c| c == d.code)
        {
            out.rows.push(shaper.row(d, cursor)?);
        }
        heads[i] = advance(i, &mut iters, &mut heap)?;
    }
    Ok(out)
}

/// Newest-first scan of the time index (per feature when one is given), keeping the
/// rows of `keys` (all when `None`) with `code`.
fn scan_index(
    tx: &impl Snapshot,
    keys: Option<&HashSet<&str>>,
    feature: Option<u32>,
    code: Option<u32>,
    page: Page,
) -> Result<DenialPage, StoreError> {
    let (ms, seq) = upper(page.before);
    let mut hits: Vec<(String, Cursor)> = Vec::new();
    let mut next = None;
    let mut seen: Option<Cursor> = None;
    let mut take = |regnum: &str, c: u32, cursor: Cursor, scanned: usize| -> bool {
        if hits.len() == page.limit {
            next = hits.last().map(|h| h.1);
            return false;
        }
        if scanned >= MAX_SCAN {
            // Continue after the last row examined (this one is not).
            next = seen;
            return false;
        }
        if code.is_none_or(|x| x == c) && keys.is_none_or(|k| k.contains(regnum)) {
            hits.push((regnum.to_owned(), cursor));
        }
        seen = Some(cursor);
        true
    };
    match feature {
        Some(f) => {
            let t = tx.table(tables::DENIAL_FEATURE_TIMES)?;
            for (n, row) in t
                .range((f, i64::MIN, 0u64)..(f, ms, seq))?
                .rev()
                .enumerate()
            {
                let (k, v) = row?;
                let (_, ms, seq) = k.value();
                let (regnum, c) = v.value();
                if !take(regnum, c, Cursor { ms, seq }, n) {
                    break;
                }
            }
        }
        None => {
            let t = tx.table(tables::DENIAL_TIMES)?;
            for (n, row) in t.range((i64::MIN, 0u64)..(ms, seq))?.rev().enumerate() {
                let (k, v) = row?;
                let (ms, seq) = k.value();
                let (regnum, _, c) = v.value();
                if !take(regnum, c, Cursor { ms, seq }, n) {
                    break;
                }
            }
        }
    }
    let t = tx.table(tables::DENIALS.def)?;
    let mut shaper = Shaper::new(tx)?;
    let mut out = DenialPage {
        rows: Vec::with_capacity(hits.len()),
        next,
    };
    for (regnum, cursor) in hits {
        if let Some(d) = tables::DENIALS.get(&t, (regnum.as_str(), cursor.ms, cursor.seq))? {
            out.rows.push(shaper.row(d, cursor)?);
        }
    }
    Ok(out)
}

/// Denials across all clients, newest first, filtered by feature, code, client and
/// distributor (a client and a distributor together: that client if it is the
/// distributor's).
pub fn all_denials(
    tx: &impl Snapshot,
    filter: &DenialFilter,
    page: Page,
) -> Result<DenialPage, StoreError> {
    let mut client_ids: Option<Vec<u64>> = filter.client.map(|c| vec![c]);
    if let Some(d) = filter.distributor.as_deref() {
        let of_dist = clients::ids_by_distributor(tx, d)?;
        client_ids = Some(match client_ids {
            Some(c) => c.into_iter().filter(|id| of_dist.contains(id)).collect(),
            None => of_dist,
        });
    }
    match client_ids {
        None => scan_index(tx, None, filter.feature, filter.code, page),
        Some(ids) => {
            let mut regnums = Vec::new();
            for id in ids {
                regnums.extend(clients::keys_of(tx, id)?);
            }
            key_denials(tx, &regnums, filter, page)
        }
    }
}

/// `denial_client_days` values: per (day, block of `SIZE` client ids), the denials of
/// each client of the block that had any, as sorted (id % SIZE: u16 LE, count: u32 LE)
/// pairs. One small row per block and day keeps a year's top-clients read to a few
/// tens of thousands of rows at 100,000 clients.
pub mod blocks {
    use crate::store::{Logged, Snapshot, StoreError, tables};
    use redb::ReadableTable;
    use std::collections::BTreeMap;

    pub const SIZE: u64 = 1024;
    const ENTRY: usize = 6;

    /// (block, position in it) of a client id.
    pub fn split(client: u64) -> (u64, u16) {
        (client / SIZE, (client % SIZE) as u16)
    }

    pub fn entries(blob: &[u8]) -> impl Iterator<Item = (u16, u32)> + '_ {
        blob.chunks_exact(ENTRY).map(|c| {
            (
                u16::from_le_bytes([c[0], c[1]]),
                u32::from_le_bytes([c[2], c[3], c[4], c[5]]),
            )
        })
    }

    /// `blob` with `adds` (sorted by position, one per position) added.
    pub fn add(blob: &[u8], adds: &[(u16, u32)]) -> Vec<u8> {
        let mut merged: BTreeMap<u16, u32> = entries(blob).collect();
        for (lo, n) in adds {
            let e = merged.entry(*lo).or_default();
            *e = e.saturating_add(*n);
        }
        encode(&merged)
    }

    pub fn encode(counts: &BTreeMap<u16, u32>) -> Vec<u8> {
        let mut out = Vec::with_capacity(counts.len() * ENTRY);
        for (lo, n) in counts {
            out.extend_from_slice(&lo.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
        }
        out
    }

    /// Adds denials per (day, client id) to `denial_client_days`.
    pub fn add_client_denials(
        tx: &Logged,
        per_client: &BTreeMap<(i32, u64), u32>,
    ) -> Result<(), StoreError> {
        let mut per_block: BTreeMap<(i32, u64), Vec<(u16, u32)>> = BTreeMap::new();
        for ((day, client), n) in per_client {
            let (block, lo) = split(*client);
            per_block.entry((*day, block)).or_default().push((lo, *n));
        }
        let current: Vec<Vec<u8>> = {
            let t = tx.table(tables::DENIAL_CLIENT_DAYS)?;
            per_block
                .keys()
                .map(|k| Ok(t.get(*k)?.map(|v| v.value().to_vec()).unwrap_or_default()))
                .collect::<Result<_, StoreError>>()?
        };
        for ((k, adds), old) in per_block.iter().zip(current) {
            tx.insert(tables::DENIAL_CLIENT_DAYS, *k, add(&old, adds).as_slice())?;
        }
        Ok(())
    }
}
