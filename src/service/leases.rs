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
use crate::domain::seats::{Claimant, Decision, LeaseSlot, SeatBook, unit_key};
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

/// In-memory heartbeats and the start-of-process floor.
pub struct LeaseClock {
    floor: OffsetDateTime,
    beats: DashMap<u128, i64>,
}

impl LeaseClock {
    pub fn new(started: OffsetDateTime) -> LeaseClock {
        LeaseClock {
            floor: started,
            beats: DashMap::new(),
        }
    }

    fn last_beat(&self, id: &str) -> OffsetDateTime {
        let beat = parse_lease_id(id)
            .and_then(|n| self.beats.get(&n).map(|t| *t))
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
        beat.map_or(self.floor, |b| b.max(self.floor))
    }

    /// When a lease lapses, given the durable expiry and the heartbeats seen.
    pub fn expiry_at(&self, id: &str, durable: OffsetDateTime, term_s: u32) -> OffsetDateTime {
        durable.max(self.last_beat(id) + lease_life(term_s))
    }

    pub fn expiry(&self, slot: &LeaseSlot, term_s: u32) -> OffsetDateTime {
        self.expiry_at(&slot.id, slot.expires_at, term_s)
    }

    fn beat(&self, id: u128, now: OffsetDateTime) {
        self.beats.insert(id, now.unix_timestamp());
    }

    fn forget(&self, id: &str) {
        if let Some(n) = parse_lease_id(id) {
            self.beats.remove(&n);
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

/// What stands between a key and a seat of a feature, judged on a pruned copy of its
/// seat book (nothing written here).
struct Judgement {
    verdict: Result<(), AppError>,
    total: u32,
    book: SeatBook,
    /// Leases found lapsed while judging.
    lapsed: Vec<String>,
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

/// One question to `judge`: may this unit have a seat of this feature on this key?
struct Ask<'a> {
    key: &'a crate::domain::Key,
    feature: u32,
    /// The feature belongs to a product (else the key cannot hold it).
    known: bool,
    term_s: u32,
    /// The claiming unit, when known; without it, "is any seat free".
    unit_key: Option<&'a str>,
}

fn judge(
    app: &App,
    tx: &impl Snapshot,
    ask: &Ask,
    now: OffsetDateTime,
) -> Result<Judgement, StoreError> {
    let Ask {
        key,
        feature,
        known,
        term_s,
        unit_key,
    } = *ask;
    let mut book = {
        let t = tx.table(tables::SEATS.def)?;
        tables::SEATS
            .get(&t, (key.regnum.as_str(), feature))?
            .unwrap_or_default()
    };
    let lapsed = book.prune(now, |l| app.leases.expiry(l, term_s));
    let fg = key.feature_grant(feature, now).filter(|_| known);
    let total = fg.as_ref().map_or(0, |g| g.seats);
    let verdict = if key.blocked {
        Err(AppError::Blocked)
    } else {
        match &fg {
            None => Err(AppError::NoFeature { feature }),
            Some(g) if g.seats == 0 => Err(AppError::Expired {
                expired_at: g.expired_at.map(rfc3339).unwrap_or_default(),
            }),
            Some(g) => {
                let full = match unit_key {
                    Some(k) => book.decide(k, g.seats) == Decision::Full,
                    None => book.used() >= g.seats,
                };
                if full {
                    Err(AppError::NoFreeSeat {
                        total: g.seats,
                        used: book.used(),
                        holders: holder_views(&book),
                    })
                } else {
                    Ok(())
                }
            }
        }
    };
    Ok(Judgement {
        verdict,
        total,
        book,
        lapsed,
    })
}

fn remove_leases(tx: &Logged, ids: &[String]) -> Result<(), StoreError> {
    for id in ids {
        tx.remove(tables::LEASES, id.as_str())?;
    }
    Ok(())
}

fn store_book(tx: &Logged, regnum: &str, feature: u32, book: &SeatBook) -> Result<(), StoreError> {
    if book.holders.is_empty() {
        tx.remove(tables::SEATS.def, (regnum, feature))?;
    } else {
        let bytes = crate::store::codec::encode(book)?;
        tx.insert(tables::SEATS.def, (regnum, feature), bytes.as_slice())?;
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
    let a = app.clone();
    app.store
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
            let Judgement {
                verdict,
                total,
                mut book,
                lapsed,
            } = judge(
                &a,
                tx,
                &Ask {
                    key: &key,
                    feature,
                    known,
                    term_s,
                    unit_key: Some(&ukey),
                },
                now,
            )?;
            remove_leases(tx, &lapsed)?;
            if let Err(e) = verdict {
                if !lapsed.is_empty() {
                    store_book(tx, &regnum, feature, &book)?;
                }
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
                return Ok(Err(e));
            }
            let expires_at = now + lease_life(term_s);
            let decision = book.decide(&ukey, total);
            book.take(
                &decision,
                unit,
                ukey.clone(),
                &claimant,
                LeaseSlot {
                    id: lease_id.clone(),
                    session: session.clone(),
                    app: app_name.clone(),
                    version: version.clone(),
                    since: now,
                    expires_at,
                },
            );
            store_book(tx, &regnum, feature, &book)?;
            tx.insert(
                tables::LEASES,
                lease_id.as_str(),
                (
                    regnum.as_str(),
                    feature,
                    term_s,
                    expires_at.unix_timestamp(),
                ),
            )?;
            a.usage.capture(&regnum, feature, now, book.used());
            Ok(Ok(Captured {
                lease: lease_id.clone(),
                feature,
                expires_at: rfc3339(expires_at),
                heartbeat_s: term_s,
                seats: SeatCount {
                    total,
                    used: book.used(),
                },
            }))
        })
        .await?
}

pub fn heartbeat(app: &App, lease: &str) -> AppResult<Beat> {
    let id = parse_lease_id(lease.trim()).ok_or(AppError::UnknownLease)?;
    let lease = lease.trim().to_ascii_lowercase();
    let tx = app.store.read()?;
    let t = tx.table(tables::LEASES)?;
    let (term_s, durable) = match t.get(lease.as_str())? {
        Some(v) => {
            let (_, _, term_s, exp) = v.value();
            (
                term_s,
                OffsetDateTime::from_unix_timestamp(exp).unwrap_or(app.started_at),
            )
        }
        None => return Err(AppError::UnknownLease),
    };
    let now = app.now();
    if app.leases.expiry_at(&lease, durable, term_s) <= now {
        return Err(AppError::UnknownLease);
    }
    app.leases.beat(id, now);
    Ok(Beat {
        lease,
        expires_at: rfc3339(now + lease_life(term_s)),
    })
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
                let t = tx.table(tables::LEASES)?;
                t.get(l2.as_str())?.map(|v| {
                    let (r, f, _, _) = v.value();
                    (r.to_owned(), f)
                })
            };
            let Some((regnum, feature)) = found else {
                return Ok(false);
            };
            let mut book = {
                let t = tx.table(tables::SEATS.def)?;
                tables::SEATS
                    .get(&t, (regnum.as_str(), feature))?
                    .unwrap_or_default()
            };
            book.release(&l2);
            store_book(tx, &regnum, feature, &book)?;
            remove_leases(tx, std::slice::from_ref(&l2))?;
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
                let mut book = {
                    let t = tx.table(tables::SEATS.def)?;
                    match tables::SEATS.get(&t, (regnum.as_str(), f))? {
                        Some(b) => b,
                        None => continue,
                    }
                };
                let gone = book.unbind_host(&host);
                if gone.is_empty() {
                    continue;
                }
                store_book(tx, &regnum, f, &book)?;
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

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct LeaseView {
    pub lease: String,
    pub regnum: String,
    pub feature: u32,
    pub host: String,
    pub database: String,
    pub user: String,
    pub session: String,
    pub app: String,
    pub version: String,
    pub since: String,
    pub expires_at: String,
    /// The seat stays bound to the host after the lease ends.
    pub bound: bool,
}

/// Live leases, of one key or of all, in key order, at most `limit`.
pub fn list(app: &App, regnum: Option<&str>, limit: usize) -> AppResult<Vec<LeaseView>> {
    let regnum = regnum.map(keys::parse_regnum).transpose()?;
    let tx = app.store.read()?;
    let t = tx.table(tables::SEATS.def)?;
    let now = app.now();
    let range = match &regnum {
        Some(r) => t.range((r.as_str(), 0u32)..=(r.as_str(), u32::MAX))?,
        None => t.range::<(&str, u32)>(..)?,
    };
    let mut out = Vec::new();
    for row in range {
        let (k, v) = row?;
        let (r, f) = k.value();
        let book: SeatBook = crate::store::codec::decode(v.value())?;
        let term_s = app.catalog.term_s(f);
        for h in &book.holders {
            for l in &h.leases {
                let exp = app.leases.expiry(l, term_s);
                if exp <= now {
                    continue;
                }
                out.push(LeaseView {
                    lease: l.id.clone(),
                    regnum: r.to_owned(),
                    feature: f,
                    host: h.host.clone(),
                    database: h.database.clone(),
                    user: h.user.clone(),
                    session: l.session.clone(),
                    app: l.app.clone(),
                    version: l.version.clone(),
                    since: rfc3339(l.since),
                    expires_at: rfc3339(exp),
                    bound: h.bound,
                });
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct Diagnosis {
    pub ok: bool,
    /// 0 when a seat can be had, else the error code a capture would get.
    pub code: u32,
    pub message: String,
    pub feature: u32,
    pub total: u32,
    pub used: u32,
    pub holders: Vec<HolderView>,
}

/// What a capture of `feature` on the key would meet now, without taking anything.
pub fn diagnose(
    app: &App,
    regnum: &str,
    feature: u32,
    lang: crate::i18n::Lang,
) -> AppResult<Diagnosis> {
    let regnum = keys::parse_regnum(regnum)?;
    let tx = app.store.read()?;
    let now = app.now();
    let Some(key) = keys::load(&tx, &regnum)? else {
        return Err(AppError::UnknownRegnum);
    };
    let (product, _, term_s) = feature_info(app, feature);
    let known = product
        .as_ref()
        .is_some_and(|p| p.feature(feature).is_some());
    let j = judge(
        app,
        &tx,
        &Ask {
            key: &key,
            feature,
            known,
            term_s,
            unit_key: None,
        },
        now,
    )?;
    let used = j.book.used();
    let holders = holder_views(&j.book);
    Ok(match j.verdict {
        Ok(()) => Diagnosis {
            ok: true,
            code: 0,
            message: match lang {
                crate::i18n::Lang::En => format!(
                    "A seat of feature {feature} can be had: {} of {} free",
                    j.total.saturating_sub(used),
                    j.total
                ),
                crate::i18n::Lang::Ru => format!(
                    "Лицензию на фичу {feature} можно получить: свободно {} из {}",
                    j.total.saturating_sub(used),
                    j.total
                ),
            },
            feature,
            total: j.total,
            used,
            holders,
        },
        Err(e) => Diagnosis {
            ok: false,
            code: e.code(),
            message: e.message(lang),
            feature,
            total: j.total,
            used,
            holders,
        },
    })
}

/// Drops lapsed leases from the store (the reaper job). Returns how many.
pub async fn reap(app: &std::sync::Arc<App>) -> AppResult<usize> {
    let now = app.now();
    let mut lapsed: Vec<(String, u32)> = Vec::new();
    {
        let tx = app.store.read()?;
        let t = tx.table(tables::LEASES)?;
        for row in t.iter()? {
            let (k, v) = row?;
            let (r, f, term_s, exp) = v.value();
            let durable = OffsetDateTime::from_unix_timestamp(exp).unwrap_or(app.started_at);
            if app.leases.expiry_at(k.value(), durable, term_s) <= now {
                lapsed.push((r.to_owned(), f));
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
                for (regnum, feature) in &chunk {
                    let term_s = a.catalog.term_s(*feature);
                    let mut book = {
                        let t = tx.table(tables::SEATS.def)?;
                        tables::SEATS
                            .get(&t, (regnum.as_str(), *feature))?
                            .unwrap_or_default()
                    };
                    let ids = book.prune(now, |l| a.leases.expiry(l, term_s));
                    if !ids.is_empty() {
                        store_book(tx, regnum, *feature, &book)?;
                    }
                    gone.extend(ids);
                }
                // Index rows whose book no longer has them (e.g. pruned by a capture).
                remove_leases(tx, &gone)?;
                Ok(gone)
            })
            .await?;
        for id in &gone {
            app.leases.forget(id);
        }
        total += gone.len();
    }
    Ok(total)
}
