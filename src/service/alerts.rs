//! License alerts to a client's alert e-mail: the first refused capture (1021, 1030,
//! 1032) of a key and feature in an hour at once, the rest of that hour in one summary
//! per recipient after it ends, and "seats nearly exhausted" when a key's feature has
//! 90 % or more of its seats in use at once (at most daily). Read from the denials'
//! time index with a durable cursor, so the capture path does no mail work.
use crate::error::AppResult;
use crate::mail::{Event, KeyDenials, Topic};
use crate::service::{App, clients, keys, mail, products};
use crate::store::{Snapshot, StoreError, meta, tables};
use redb::{ReadableTable, WriteTransaction};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use time::OffsetDateTime;

/// The denial codes that are mailed (API.md: "a capture refused (1021, 1030, 1032)").
pub const ALERT_CODES: [u32; 3] = [1021, 1030, 1032];
const HOUR_MS: i64 = 3_600_000;
/// Denials this recent may still be committing when the cursor moves past "now".
const SETTLE_MS: i64 = 5_000;
const CURSOR: &str = "denial_alert_cursor";
const SUMMARY_HOUR: &str = "denial_summary_hour";
/// Hours a summary is still worth sending after a server was down.
const SUMMARY_CATCH_UP: i64 = 24;

/// A key's feature seen at 90 % or more of its seats, waiting for the alert job.
#[derive(Clone, Debug)]
struct Crowded {
    regnum: String,
    feature: u32,
    used: u32,
    total: u32,
    at: OffsetDateTime,
}

/// What the capture path tells the alert job, in memory (an alert is not a contract:
/// one lost in a crash is not worth a disk write on every capture).
#[derive(Default)]
pub struct Alerts {
    /// (key, feature) → the day number it was last reported on.
    seen: Mutex<HashMap<(String, u32), i32>>,
    crowded: Mutex<Vec<Crowded>>,
    pub wake: tokio::sync::Notify,
}

impl Alerts {
    /// After a granted capture: `used` of `total` seats are taken.
    pub fn seats_in_use(
        &self,
        regnum: &str,
        feature: u32,
        used: u32,
        total: u32,
        at: OffsetDateTime,
    ) {
        if total < 2 || u64::from(used) * 10 < u64::from(total) * 9 {
            return;
        }
        let day = crate::service::usage::day_number(at);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.get(&(regnum.to_owned(), feature)) == Some(&day) {
            return;
        }
        if seen.len() > 100_000 {
            seen.retain(|_, d| *d == day);
        }
        seen.insert((regnum.to_owned(), feature), day);
        drop(seen);
        self.crowded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Crowded {
                regnum: regnum.to_owned(),
                feature,
                used,
                total,
                at,
            });
        self.wake.notify_one();
    }

    fn take(&self) -> Vec<Crowded> {
        std::mem::take(&mut *self.crowded.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn get_pair(tx: &impl Snapshot, name: &str) -> Result<Option<(i64, u64)>, StoreError> {
    let t = tx.table(tables::META)?;
    meta::get_record(&t, name)
}

fn feature_name(tx: &impl Snapshot, feature: u32) -> Result<String, StoreError> {
    Ok(products::by_feature(tx, feature)?
        .and_then(|p| p.feature(feature).map(|f| f.name.clone()))
        .unwrap_or_default())
}

fn immediate_key(regnum: &str, feature: u32, hour: i64) -> String {
    format!("denial:{regnum}:{feature}:{hour}")
}

/// Whether the client wants (and staff allows) alert mail.
fn wants_alerts(tx: &impl Snapshot, client_id: u64) -> Result<bool, StoreError> {
    mail::wants(tx, client_id, Topic::Alert)
}

/// Mails the first alert-worthy denial of each key and feature in its hour, for every
/// denial recorded since the last run. Answers how many mails were queued.
pub async fn denials(app: &App) -> AppResult<usize> {
    let now = app.now();
    if !denials_pending(&app.store.read()?, now)? {
        // Nothing recorded since the last run: no write, so no durable commit every
        // couple of seconds in the middle of the capture path's logged ones (issue 16).
        return Ok(0);
    }
    let env = app.mail_env();
    let n = app
        .store
        .write(move |tx| {
            let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
            let settled = (now_ms - SETTLE_MS, u64::MAX);
            let Some(cursor) = get_pair(tx, CURSOR)? else {
                // First run: history is not news.
                meta::put_record(tx, CURSOR, &settled)?;
                return Ok(0);
            };
            let mut rows = Vec::new();
            {
                let t = tx.open_table(tables::DENIAL_TIMES)?;
                for row in t.range((cursor.0, cursor.1)..)?.take(2_000) {
                    let (k, v) = row?;
                    if k.value() == cursor {
                        continue;
                    }
                    let (r, f, c) = v.value();
                    rows.push((k.value(), r.to_owned(), f, c));
                }
            }
            let full = rows.len() >= 2_000;
            let mut queued = 0;
            let mut last = cursor;
            for ((ms, seq), regnum, feature, code) in rows {
                last = (ms, seq);
                if !ALERT_CODES.contains(&code) {
                    continue;
                }
                let mk = immediate_key(&regnum, feature, ms.div_euclid(HOUR_MS));
                if tx
                    .open_table(tables::MAIL_KEYS)?
                    .get(mk.as_str())?
                    .is_some()
                {
                    continue;
                }
                let mut id = None;
                if let Some(key) = keys::load(tx, &regnum)?
                    && let Some(client) = clients::load(tx, key.client_id)?
                {
                    let d = {
                        let t = tx.open_table(tables::DENIALS.def)?;
                        tables::DENIALS.get(&t, (regnum.as_str(), ms, seq))?
                    };
                    let event = Event::Denial {
                        regnum: regnum.clone(),
                        feature,
                        feature_name: feature_name(tx, feature)?,
                        code,
                        host: d.as_ref().map(|d| d.host.clone()).unwrap_or_default(),
                        user: d.as_ref().map(|d| d.user.clone()).unwrap_or_default(),
                        at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                            .unwrap_or(now),
                    };
                    id = mail::to_client(tx, &env, now, &client, &event, &mk)?;
                }
                if id.is_none() {
                    // Not mailed (opted out, no address): still the hour's first.
                    tx.open_table(tables::MAIL_KEYS)?
                        .insert(mk.as_str(), (0u64, now.unix_timestamp()))?;
                }
                queued += usize::from(id.is_some());
            }
            let next = if full { last } else { last.max(settled) };
            meta::put_record(tx, CURSOR, &next)?;
            Ok(queued)
        })
        .await?;
    if n > 0 {
        app.mail_queued.notify_one();
    }
    Ok(n)
}

/// Whether `denials` has anything to do: its first run, a denial after its cursor, or an
/// hour ended since the cursor (the summaries wait for the cursor to pass an hour). The
/// cursor left where it is loses nothing: the next run reads on from it.
fn denials_pending(tx: &impl Snapshot, now: OffsetDateTime) -> Result<bool, StoreError> {
    let Some(cursor) = get_pair(tx, CURSOR)? else {
        return Ok(true);
    };
    let settled = (now.unix_timestamp_nanos() / 1_000_000) as i64 - SETTLE_MS;
    if settled.div_euclid(HOUR_MS) > cursor.0.div_euclid(HOUR_MS) {
        return Ok(true);
    }
    let t = tx.table(tables::DENIAL_TIMES)?;
    for row in t.range((cursor.0, cursor.1)..)? {
        if row?.0.value() != cursor {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The hours `summaries` has to mail, given the denial pass's cursor and the last hour
/// done (`None`: its first run).
fn summary_hours(
    tx: &impl Snapshot,
    now: OffsetDateTime,
) -> Result<(i64, Option<std::ops::Range<i64>>), StoreError> {
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    // Only hours the immediate pass has fully read (its cursor is past them).
    let cursor = get_pair(tx, CURSOR)?.map_or(now_ms, |c| c.0);
    let open_hour = cursor.min(now_ms).div_euclid(HOUR_MS);
    let hours = get_pair(tx, SUMMARY_HOUR)?
        .map(|(done, _)| (done + 1).max(open_hour - SUMMARY_CATCH_UP)..open_hour);
    Ok((open_hour, hours))
}

/// Per key: (feature, code) → refusals.
type KeyCounts = BTreeMap<String, BTreeMap<(u32, u32), u32>>;
/// A summary's recipients (to, cc, language) → (them, the clients, their keys' rows).
type Batches = BTreeMap<
    (Vec<String>, Vec<String>, &'static str),
    (mail::Recipients, Vec<u64>, Vec<KeyDenials>),
>;

/// Per key of one hour: (feature, code) → refusals not mailed one by one.
fn hour_counts(tx: &WriteTransaction, hour: i64) -> Result<KeyCounts, StoreError> {
    let t = tx.open_table(tables::DENIAL_TIMES)?;
    let mut out: KeyCounts = BTreeMap::new();
    let mut firsts: HashMap<(String, u32), ()> = HashMap::new();
    let keys = tx.open_table(tables::MAIL_KEYS)?;
    for row in t.range((hour * HOUR_MS, 0)..((hour + 1) * HOUR_MS, 0))? {
        let (_, v) = row?;
        let (regnum, feature, code) = v.value();
        if !ALERT_CODES.contains(&code) {
            continue;
        }
        // The hour's first denial of a key and feature was mailed at once.
        if firsts.insert((regnum.to_owned(), feature), ()).is_none() {
            let mk = immediate_key(regnum, feature, hour);
            if let Some(v) = keys.get(mk.as_str())?
                && v.value().0 != 0
            {
                continue;
            }
        }
        *out.entry(regnum.to_owned())
            .or_default()
            .entry((feature, code))
            .or_default() += 1;
    }
    Ok(out)
}

/// After each hour ends, mails one summary per recipient of that hour's refusals not
/// mailed at once (all its keys in one mail). Answers how many mails were queued.
pub async fn summaries(app: &App) -> AppResult<usize> {
    let now = app.now();
    if summary_hours(&app.store.read()?, now)?
        .1
        .is_some_and(|hours| hours.is_empty())
    {
        // No hour has ended since the last run: no write (see `denials`).
        return Ok(0);
    }
    let env = app.mail_env();
    let n = app
        .store
        .write(move |tx| {
            let (open_hour, hours) = summary_hours(tx, now)?;
            let Some(hours) = hours else {
                meta::put_record(tx, SUMMARY_HOUR, &(open_hour - 1, 0u64))?;
                return Ok(0);
            };
            let done = hours.start - 1;
            let mut queued = 0;
            for hour in hours {
                let counts = hour_counts(tx, hour)?;
                let mut groups: Batches = BTreeMap::new();
                let mut names: HashMap<u32, String> = HashMap::new();
                for (regnum, per) in counts {
                    let Some(key) = keys::load(tx, &regnum)? else {
                        continue;
                    };
                    let Some(client) = clients::load(tx, key.client_id)? else {
                        continue;
                    };
                    if !wants_alerts(tx, client.id)? {
                        continue;
                    }
                    let r = mail::recipients(tx, &client, crate::mail::Audience::Alert)?;
                    if r.to.is_empty() {
                        continue;
                    }
                    let mut rows = Vec::new();
                    for ((feature, code), n) in per {
                        let name = match names.get(&feature) {
                            Some(n) => n.clone(),
                            None => {
                                let n = feature_name(tx, feature)?;
                                names.insert(feature, n.clone());
                                n
                            }
                        };
                        rows.push((feature, name, code, n));
                    }
                    let g = groups
                        .entry((r.to.clone(), r.cc.clone(), r.lang.code()))
                        .or_insert_with(|| (r.clone(), Vec::new(), Vec::new()));
                    g.1.push(client.id);
                    g.2.push(KeyDenials {
                        regnum,
                        company: client.company.clone(),
                        rows,
                    });
                }
                let from = OffsetDateTime::from_unix_timestamp(hour * 3600).unwrap_or(now);
                for ((to, _, _), (r, ids, keys)) in groups {
                    let client_id = (ids.iter().all(|i| *i == ids[0])).then_some(ids[0]);
                    let event = Event::DenialSummary {
                        from,
                        to: from + time::Duration::hours(1),
                        keys,
                    };
                    let key = format!("denials:{hour}:{}", to.join(",").to_lowercase());
                    let id = mail::queue(tx, &env, now, &r, client_id, &event, &key)?;
                    queued += usize::from(id.is_some());
                }
            }
            meta::put_record(tx, SUMMARY_HOUR, &((open_hour - 1).max(done), 0u64))?;
            Ok(queued)
        })
        .await?;
    if n > 0 {
        app.mail_queued.notify_one();
    }
    Ok(n)
}

/// Mails "seats nearly exhausted" for what the capture path reported (once a day per
/// key and feature, also across restarts).
pub async fn seats(app: &App) -> AppResult<usize> {
    let crowded = app.alerts.take();
    if crowded.is_empty() {
        return Ok(0);
    }
    let now = app.now();
    let env = app.mail_env();
    let n = app
        .store
        .write(move |tx| {
            let mut queued = 0;
            for c in &crowded {
                let Some(key) = keys::load(tx, &c.regnum)? else {
                    continue;
                };
                let Some(client) = clients::load(tx, key.client_id)? else {
                    continue;
                };
                let event = Event::SeatsNearlyFull {
                    regnum: c.regnum.clone(),
                    feature: c.feature,
                    feature_name: feature_name(tx, c.feature)?,
                    used: c.used,
                    seats: c.total,
                };
                let mk = format!(
                    "seats:{}:{}:{}",
                    c.regnum,
                    c.feature,
                    crate::service::usage::day_number(c.at)
                );
                let id = mail::to_client(tx, &env, now, &client, &event, &mk)?;
                queued += usize::from(id.is_some());
            }
            Ok(queued)
        })
        .await?;
    if n > 0 {
        app.mail_queued.notify_one();
    }
    Ok(n)
}
