//! Seat leases: capture, heartbeat, release, unbind, and the read-only diagnosis.
//!
//! A capture is one closure in the store's writer: it reads the key and the feature's
//! `SeatBook`, prunes lapsed leases, decides, and writes the book, the lease index and
//! the day's usage (or a denial) in the same transaction. The writer runs closures one
//! after another, so no two captures can both see the last free seat; group commit
//! makes the batch durable with one commit before any of them is answered.
//!
//! Heartbeats are kept in memory only (`LeaseClock`): a lease's expiry is the later of
//! its durable capture-time expiry and (last heartbeat, or this process's start) + its
//! term. After a restart every lease so gets a full fresh term, so no restart can make
//! a live lease lapse early, and a heartbeat costs no disk write.
use crate::clock::rfc3339;
use crate::domain::Denial;
use crate::domain::seats::{Claimant, LeaseSlot, SeatBook, unit_key};
use crate::error::{AppError, AppResult, HolderView};
use crate::service::{App, keys, usage};
use crate::store::Logged;
use crate::store::{Snapshot, StoreError, tables};
use dashmap::DashMap;
use rand::RngCore;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// A lease lives this many heartbeat intervals after its last heartbeat.
pub const TERMS: i64 = 3;

/// Live leases in memory — a cache of `lease_index` (heartbeat interval, durable expiry)
/// plus the last heartbeat, which is kept in memory only — and the start-of-process
/// floor. A heartbeat is one lookup here, no read transaction. Filled by captures and,
/// after a restart, by each lease's first heartbeat (not at start: at a million leases
/// that would cost a second of start-up).
pub struct LeaseClock {
    floor: OffsetDateTime,
    /// Lease id → (heartbeat_s, durable expiry, last beat or NO_BEAT), times in unix
    /// seconds as u32 (good until 2106): 32 bytes a lease with the key.
    live: DashMap<u128, (u32, u32, u32)>,
}

const NO_BEAT: u32 = 0;

/// Unix seconds as stored in the map (clamped into u32).
fn secs(t: i64) -> u32 {
    t.clamp(1, i64::from(u32::MAX)) as u32
}

impl LeaseClock {
    pub fn new(started: OffsetDateTime) -> LeaseClock {
        LeaseClock {
            floor: started,
            live: DashMap::new(),
        }
    }

    fn last_beat(&self, id: &str) -> OffsetDateTime {
        let beat = parse_lease_id(id)
            .and_then(|n| self.live.get(&n).map(|e| e.2))
            .filter(|t| *t != NO_BEAT)
            .and_then(|t| OffsetDateTime::from_unix_timestamp(i64::from(t)).ok());
        beat.map_or(self.floor, |b| b.max(self.floor))
    }

    /// When a lease lapses, given the durable expiry and the heartbeats seen.
    pub fn expiry_at(&self, id: &str, durable: OffsetDateTime, term_s: u32) -> OffsetDateTime {
        durable.max(self.last_beat(id) + lease_life(term_s))
    }

    pub fn expiry(&self, slot: &LeaseSlot, term_s: u32) -> OffsetDateTime {
        self.expiry_at(&slot.id, slot.expires_at, term_s)
    }

    /// A lease made durable: heartbeats find it here from now on.
    fn track(&self, id: &str, term_s: u32, durable: OffsetDateTime) {
        if let Some(n) = parse_lease_id(id) {
            self.live
                .entry(n)
                .or_insert((term_s, secs(durable.unix_timestamp()), NO_BEAT));
        }
    }

    /// A heartbeat of a tracked lease: its new expiry, or `Err(true)` when it lapsed,
    /// `Err(false)` when it is not tracked.
    fn beat(&self, id: u128, now: OffsetDateTime) -> Result<OffsetDateTime, bool> {
        let Some(mut e) = self.live.get_mut(&id) else {
            return Err(false);
        };
        let (term_s, exp, beat) = *e;
        let durable = OffsetDateTime::from_unix_timestamp(i64::from(exp)).unwrap_or(self.floor);
        let last = OffsetDateTime::from_unix_timestamp(i64::from(beat))
            .ok()
            .filter(|_| beat != NO_BEAT)
            .map_or(self.floor, |b| b.max(self.floor));
        if durable.max(last + lease_life(term_s)) <= now {
            return Err(true);
        }
        e.2 = secs(now.unix_timestamp());
        Ok(now + lease_life(term_s))
    }

    pub fn forget(&self, id: &str) {
        if let Some(n) = parse_lease_id(id) {
            self.live.remove(&n);
        }
    }
}

pub fn lease_life(term_s: u32) -> Duration {
    Duration::seconds(TERMS * i64::from(term_s))
}

/// A lease id: 48 bits of the time in milliseconds, then 80 random bits, in hex. New
/// leases so sort after older ones, and a batch of captures adds to the last pages of
/// the `leases` table instead of dirtying pages all over it; 80 bits stay unguessable.
pub fn new_lease_id() -> String {
    let mut b = [0u8; 16];
    let ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64;
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    rand::thread_rng().fill_bytes(&mut b[6..]);
    hex::encode(b)
}

fn parse_lease_id(s: &str) -> Option<u128> {
    (s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u128::from_str_radix(s, 16).ok())
        .flatten()
}

#[derive(Deserialize, Debug, Clone, utoipa::ToSchema)]
pub struct CaptureInput {
    pub regnum: String,
    pub feature: u32,
    pub host: String,
    pub database: Option<String>,
    pub user: Option<String>,
    pub session: Option<String>,
    pub app: Option<String>,
    pub version: Option<String>,
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct SeatCount {
    pub total: u32,
    pub used: u32,
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct Captured {
    pub lease: String,
    pub feature: u32,
    pub expires_at: String,
    pub heartbeat_s: u32,
    pub seats: SeatCount,
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct Beat {
    pub lease: String,
    pub expires_at: String,
}

const MAX_TEXT: usize = 255;

fn field(name: &str, v: &Option<String>) -> AppResult<String> {
    let v = v.as_deref().unwrap_or("").trim();
    if v.chars().count() > MAX_TEXT {
        return Err(AppError::malformed(name, "at most 255 characters"));
    }
    Ok(v.to_owned())
}

pub fn holder_views(book: &SeatBook) -> Vec<HolderView> {
    book.holders
        .iter()
        .map(|h| HolderView {
            host: h.host.clone(),
            database: (!h.database.is_empty()).then(|| h.database.clone()),
            user: (!h.user.is_empty()).then(|| h.user.clone()),
            since: rfc3339(h.since),
        })
        .collect()
}

pub mod rows;
mod view;
pub use view::*;

/// Why a key cannot give any seat of a feature now (blocked, no such grant, expired), or
/// its seats when it can.
fn grant_verdict(
    key: &crate::domain::Key,
    feature: u32,
    known: bool,
    now: OffsetDateTime,
) -> Result<u32, AppError> {
    if key.blocked {
        return Err(AppError::Blocked);
    }
    match key.feature_grant(feature, now).filter(|_| known) {
        None => Err(AppError::NoFeature { feature }),
        Some(g) if g.seats == 0 => Err(AppError::Expired {
            expired_at: g.expired_at.map(rfc3339).unwrap_or_default(),
        }),
        Some(g) => Ok(g.seats),
    }
}

/// The counting unit and heartbeat interval of a feature, and its product.
fn feature_info(
    app: &App,
    feature: u32,
) -> (
    Option<std::sync::Arc<crate::domain::Product>>,
    crate::domain::Unit,
    u32,
) {
    let product = app.catalog.by_feature(feature);
    let unit = product
        .as_ref()
        .and_then(|p| p.feature(feature))
        .map_or(crate::domain::Unit::Session, |f| f.unit);
    let term_s = product
        .as_ref()
        .map_or(crate::domain::DEFAULT_HEARTBEAT_S, |p| p.heartbeat_s);
    (product, unit, term_s)
}

fn remove_leases(tx: &Logged, ids: &[String]) -> Result<(), StoreError> {
    for id in ids {
        tx.remove(tables::LEASE_INDEX, id.as_str())?;
    }
    Ok(())
}

pub async fn capture(app: &std::sync::Arc<App>, input: CaptureInput) -> AppResult<Captured> {
    let regnum = keys::parse_regnum(&input.regnum)?;
    let host = field("host", &Some(input.host.clone()))?;
    if host.is_empty() {
        return Err(AppError::malformed("host", "required"));
    }
    let database = field("database", &input.database)?;
    let user = field("user", &input.user)?;
    let session = field("session", &input.session)?;
    let app_name = field("app", &input.app)?;
    let version = field("version", &input.version)?;
    let feature = input.feature;
    let lease_id = new_lease_id();
    let regnum_alert = regnum.clone();
    let a = app.clone();
    let decided = app
        .store
        .write_logged(move |tx| {
            let now = a.now();
            let key = keys::load(tx, &regnum)?.ok_or(AppError::UnknownRegnum)?;
            let claimant = Claimant {
                host: &host,
                database: &database,
                user: &user,
                session: &session,
            };
            let (product, unit, term_s) = feature_info(&a, feature);
            let known = product
                .as_ref()
                .is_some_and(|p| p.feature(feature).is_some());
            let ukey = match unit_key(unit, &claimant, &lease_id) {
                Ok(k) => k,
                Err(missing) if known && !key.blocked => {
                    return Err(AppError::malformed(
                        missing,
                        "required for this feature's counting unit",
                    ));
                }
                Err(_) => String::new(),
            };
            let deny = |e: AppError| -> AppResult<Result<(Captured, OffsetDateTime), AppError>> {
                a.usage.denial(&regnum, feature, now);
                usage::record_denial(
                    tx,
                    &Denial {
                        regnum: regnum.clone(),
                        feature,
                        at: now,
                        host: host.clone(),
                        user: user.clone(),
                        database: database.clone(),
                        code: e.code(),
                    },
                )?;
                Ok(Err(e))
            };
            let total = match grant_verdict(&key, feature, known, now) {
                Ok(total) => total,
                Err(e) => return deny(e),
            };
            let expires_at = now + lease_life(term_s);
            let slot = LeaseSlot {
                id: lease_id.clone(),
                session: session.clone(),
                app: app_name.clone(),
                version: version.clone(),
                since: now,
                expires_at,
            };
            let mut used = rows::count(tx, &regnum, feature)?;
            let existing = rows::holder(tx, &regnum, feature, &ukey)?;
            let mut holder = match existing {
                // The unit already holds a seat: the new lease shares it.
                Some(mut h) => {
                    let before = h.leases.len();
                    let mut lapsed = Vec::new();
                    h.leases.retain(|l| {
                        let live = a.leases.expiry(l, term_s) > now;
                        if !live {
                            lapsed.push(l.id.clone());
                        }
                        live
                    });
                    if h.leases.len() != before {
                        remove_leases(tx, &lapsed)?;
                    }
                    h
                }
                None => {
                    if used >= total {
                        // Full: free the seats whose leases all lapsed, then look again.
                        let before = rows::book(tx, &regnum, feature)?;
                        let mut book = before.clone();
                        let lapsed = book.prune(now, |l| a.leases.expiry(l, term_s));
                        rows::save(tx, &regnum, feature, &before, &book)?;
                        remove_leases(tx, &lapsed)?;
                        used = book.used();
                        if used >= total {
                            return deny(AppError::NoFreeSeat {
                                total,
                                used,
                                holders: holder_views(&book),
                            });
                        }
                    }
                    used += 1;
                    rows::set_count(tx, &regnum, feature, used)?;
                    crate::domain::seats::Holder {
                        unit_key: ukey.clone(),
                        host: host.clone(),
                        database: database.clone(),
                        user: user.clone(),
                        since: now,
                        bound: false,
                        leases: Vec::new(),
                    }
                }
            };
            // The latest capture says where the unit is now.
            holder.host = host.clone();
            holder.database = database.clone();
            holder.user = user.clone();
            holder.bound |= unit == crate::domain::Unit::Host;
            holder.leases.push(slot.clone());
            rows::put(tx, &regnum, feature, &holder)?;
            tx.insert(
                tables::LEASE_INDEX,
                lease_id.as_str(),
                (
                    regnum.as_str(),
                    feature,
                    ukey.as_str(),
                    term_s,
                    expires_at.unix_timestamp(),
                ),
            )?;
            a.usage.capture(&regnum, feature, now, used);
            Ok(Ok((
                Captured {
                    lease: lease_id.clone(),
                    feature,
                    expires_at: rfc3339(expires_at),
                    heartbeat_s: term_s,
                    seats: SeatCount { total, used },
                },
                expires_at,
            )))
        })
        .await?;
    // Counted once durable (a closure may run twice): `Err` here is a denial.
    match &decided {
        Ok(_) => app.metrics.captured(),
        Err(e) => app.metrics.denied(e.code()),
    }
    let (captured, durable) = decided?;
    app.alerts.seats_in_use(
        &regnum_alert,
        captured.feature,
        captured.seats.used,
        captured.seats.total,
        app.now(),
    );
    // Durable now: heartbeats find it in memory.
    app.leases
        .track(&captured.lease, captured.heartbeat_s, durable);
    Ok(captured)
}

pub fn heartbeat(app: &App, lease: &str) -> AppResult<Beat> {
    let id = parse_lease_id(lease.trim()).ok_or(AppError::UnknownLease)?;
    let lease = lease.trim().to_ascii_lowercase();
    let now = app.now();
    match app.leases.beat(id, now) {
        Ok(expires_at) => {
            return Ok(Beat {
                lease,
                expires_at: rfc3339(expires_at),
            });
        }
        Err(true) => return Err(AppError::UnknownLease),
        Err(false) => {}
    }
    // Not in memory (it always is once captured): the index decides.
    let tx = app.store.read()?;
    let t = tx.table(tables::LEASE_INDEX)?;
    let Some(v) = t.get(lease.as_str())? else {
        return Err(AppError::UnknownLease);
    };
    let (_, _, _, term_s, exp) = v.value();
    let durable = OffsetDateTime::from_unix_timestamp(exp).unwrap_or(app.started_at);
    app.leases.track(&lease, term_s, durable);
    match app.leases.beat(id, now) {
        Ok(expires_at) => Ok(Beat {
            lease,
            expires_at: rfc3339(expires_at),
        }),
        Err(_) => Err(AppError::UnknownLease),
    }
}

/// The key a live lease is on, if it is live.
pub fn key_of(app: &App, lease: &str) -> AppResult<Option<String>> {
    let lease = lease.trim().to_ascii_lowercase();
    let tx = app.store.read()?;
    let t = tx.table(tables::LEASE_INDEX)?;
    Ok(t.get(lease.as_str())?.map(|v| v.value().0.to_owned()))
}

/// Ends a lease; false when it was unknown or already gone (idempotent).
pub async fn release(app: &std::sync::Arc<App>, lease: &str) -> AppResult<bool> {
    let lease = lease.trim().to_ascii_lowercase();
    if parse_lease_id(&lease).is_none() {
        return Ok(false);
    }
    let l2 = lease.clone();
    let released = app
        .store
        .write_logged(move |tx| {
            let found = {
                let t = tx.table(tables::LEASE_INDEX)?;
                t.get(l2.as_str())?.map(|v| {
                    let (r, f, u, _, _) = v.value();
                    (r.to_owned(), f, u.to_owned())
                })
            };
            let Some((regnum, feature, ukey)) = found else {
                return Ok(false);
            };
            remove_leases(tx, std::slice::from_ref(&l2))?;
            if let Some(mut h) = rows::holder(tx, &regnum, feature, &ukey)? {
                h.leases.retain(|l| l.id != l2);
                if h.leases.is_empty() && !h.bound {
                    // The seat is free again.
                    tx.remove(
                        tables::HOLDERS.def,
                        (regnum.as_str(), feature, ukey.as_str()),
                    )?;
                    let n = rows::count(tx, &regnum, feature)?;
                    rows::set_count(tx, &regnum, feature, n.saturating_sub(1))?;
                } else {
                    rows::put(tx, &regnum, feature, &h)?;
                }
            }
            Ok(true)
        })
        .await?;
    app.leases.forget(&lease);
    Ok(released)
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct Unbound {
    pub feature: u32,
    pub host: String,
    pub database: Option<String>,
    pub user: Option<String>,
    pub since: String,
    /// Leases that ended with the binding.
    pub leases: Vec<String>,
}

/// Removes the seats `host` holds on a key (one feature or all), bindings and leases.
pub async fn unbind(
    app: &std::sync::Arc<App>,
    regnum: &str,
    host: &str,
    feature: Option<u32>,
) -> AppResult<Vec<Unbound>> {
    let regnum = keys::parse_regnum(regnum)?;
    let host = host.trim().to_owned();
    if host.is_empty() {
        return Err(AppError::malformed("host", "required"));
    }
    let removed = app
        .store
        .write_logged(move |tx| {
            let key = keys::load(tx, &regnum)?.ok_or(AppError::UnknownRegnum)?;
            let features = match feature {
                Some(f) => vec![f],
                None => key.features(),
            };
            let mut out = Vec::new();
            for f in features {
                let before = rows::book(tx, &regnum, f)?;
                let mut book = before.clone();
                let gone = book.unbind_host(&host);
                if gone.is_empty() {
                    continue;
                }
                rows::save(tx, &regnum, f, &before, &book)?;
                for h in gone {
                    let ids: Vec<String> = h.leases.iter().map(|l| l.id.clone()).collect();
                    remove_leases(tx, &ids)?;
                    out.push(Unbound {
                        feature: f,
                        host: h.host,
                        database: (!h.database.is_empty()).then_some(h.database),
                        user: (!h.user.is_empty()).then_some(h.user),
                        since: rfc3339(h.since),
                        leases: ids,
                    });
                }
            }
            Ok(out)
        })
        .await?;
    for u in &removed {
        for l in &u.leases {
            app.leases.forget(l);
        }
    }
    Ok(removed)
}

/// Drops lapsed leases from the store (the reaper job). Returns how many.
pub async fn reap(app: &std::sync::Arc<App>) -> AppResult<usize> {
    let now = app.now();
    // Holders with a lapsed lease, found without blocking the writer.
    let mut lapsed: Vec<(String, u32, String)> = Vec::new();
    {
        let tx = app.store.read()?;
        let t = tx.table(tables::LEASE_INDEX)?;
        for row in t.iter()? {
            let (k, v) = row?;
            let (r, f, u, term_s, exp) = v.value();
            let durable = OffsetDateTime::from_unix_timestamp(exp).unwrap_or(app.started_at);
            if app.leases.expiry_at(k.value(), durable, term_s) <= now {
                lapsed.push((r.to_owned(), f, u.to_owned()));
            }
        }
    }
    lapsed.sort();
    lapsed.dedup();
    let mut total = 0;
    for chunk in lapsed.chunks(256) {
        let chunk = chunk.to_vec();
        let a = app.clone();
        let gone = app
            .store
            .write_logged(move |tx| {
                let now = a.now();
                let mut gone = Vec::new();
                for (regnum, feature, ukey) in &chunk {
                    let term_s = a.catalog.term_s(*feature);
                    let Some(h) = rows::holder(tx, regnum, *feature, ukey)? else {
                        continue;
                    };
                    // One holder alone (not the feature's whole book, whose count
                    // `rows::save` would set).
                    let mut one = SeatBook { holders: vec![h] };
                    let ids = one.prune(now, |l| a.leases.expiry(l, term_s));
                    if ids.is_empty() {
                        continue;
                    }
                    match one.holders.first() {
                        Some(h) => rows::put(tx, regnum, *feature, h)?,
                        None => rows::free(tx, regnum, *feature, ukey)?,
                    }
                    gone.extend(ids);
                }
                remove_leases(tx, &gone)?;
                Ok(gone)
            })
            .await?;
        for id in &gone {
            app.leases.forget(id);
        }
        total += gone.len();
    }
    // Index rows whose holder no longer has them (their holder was unbound or pruned by
    // a capture of a full key) are removed by those paths; none are left behind here.
    Ok(total)
}
