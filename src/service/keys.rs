//! License keys: make, grant items, block, read with what is in use.
use crate::clock::rfc3339;
use crate::domain::{Grant, GrantSource, Key, NumberKind, generate_number, normalize_number};
use crate::error::{AppError, AppResult};
use crate::service::views::{ItemView, KeyView, grant_views};
use crate::service::{App, clients, products, settings};
use crate::store::{Snapshot, StoreError, tables};
use redb::{ReadableTable, WriteTransaction};
use serde::Deserialize;
use time::OffsetDateTime;

/// A registration number as typed (any case, spaces around) → its stored form, or 1003.
pub fn parse_regnum(input: &str) -> AppResult<String> {
    normalize_number(input).ok_or(AppError::BadNumber {
        field: "regnum".into(),
    })
}

pub fn load(tx: &impl Snapshot, regnum: &str) -> Result<Option<Key>, StoreError> {
    let t = tx.table(tables::KEYS.def)?;
    tables::KEYS.get(&t, regnum)
}

/// Saves a key, keeping the grant expiry index (`GRANT_EXPIRY`) in step with its grants.
pub fn save(tx: &WriteTransaction, k: &Key) -> Result<(), StoreError> {
    let mut t = tx.open_table(tables::KEYS.def)?;
    let old = tables::KEYS.get(&t, k.regnum.as_str())?;
    tables::KEYS.put(&mut t, k.regnum.as_str(), k)?;
    drop(t);
    let mut index = tx.open_table(tables::GRANT_EXPIRY)?;
    for g in old.iter().flat_map(|o| &o.grants) {
        if let Some(e) = g.expires_at {
            index.remove((e.unix_timestamp(), k.regnum.as_str(), g.id))?;
        }
    }
    index_grants(&mut index, k)
}

/// Adds a key's expiring grants to the expiry index.
pub fn index_grants(
    index: &mut redb::Table<(i64, &'static str, u64), ()>,
    k: &Key,
) -> Result<(), StoreError> {
    for g in &k.grants {
        if let Some(e) = g.expires_at {
            index.insert((e.unix_timestamp(), k.regnum.as_str(), g.id), ())?;
        }
    }
    Ok(())
}

/// A new, empty key of `client_id` under the vendor's prefix, saved in `tx`.
pub fn insert_new(
    tx: &WriteTransaction,
    client_id: u64,
    now: OffsetDateTime,
) -> Result<Key, StoreError> {
    let prefix = settings::read(tx)?.regnum_prefix;
    let regnum = loop {
        let r = generate_number(&prefix, NumberKind::Regnum);
        if load(tx, &r)?.is_none() {
            break r;
        }
    };
    let k = Key {
        regnum: regnum.clone(),
        client_id,
        blocked: false,
        created_at: now,
        grants: Vec::new(),
        trials: Vec::new(),
        next_grant: 0,
    };
    save(tx, &k)?;
    tx.open_multimap_table(tables::CLIENT_KEYS)?
        .insert(client_id, regnum.as_str())?;
    Ok(k)
}

/// Removes a key that holds nothing, with its seat rows and leases; returns the ids of
/// the leases removed (for the caller to forget once committed).
pub fn delete_empty_key(tx: &WriteTransaction, regnum: &str) -> Result<Vec<String>, StoreError> {
    let mut held: Vec<(u32, crate::domain::seats::Holder)> = Vec::new();
    crate::service::leases::rows::each(tx, Some(regnum), |_, f, h| {
        held.push((f, h));
        true
    })?;
    let mut holders = tx.open_table(tables::HOLDERS.def)?;
    let mut counts = tx.open_table(tables::SEAT_COUNTS)?;
    let mut leases = tx.open_table(tables::LEASE_INDEX)?;
    for (feature, h) in &held {
        for l in &h.leases {
            leases.remove(l.id.as_str())?;
        }
        holders.remove((regnum, *feature, h.unit_key.as_str()))?;
        counts.remove((regnum, *feature))?;
    }
    drop((holders, counts, leases));
    if let Some(k) = tx.open_table(tables::KEYS.def)?.remove(regnum)? {
        let k: Key = crate::store::codec::decode(k.value())?;
        let mut index = tx.open_table(tables::GRANT_EXPIRY)?;
        for g in &k.grants {
            if let Some(e) = g.expires_at {
                index.remove((e.unix_timestamp(), regnum, g.id))?;
            }
        }
    }
    Ok(held
        .into_iter()
        .flat_map(|(_, h)| h.leases.into_iter().map(|l| l.id))
        .collect())
}

/// Seats in use of one feature of a key now (lapsed leases do not count).
pub fn used_seats(
    tx: &impl Snapshot,
    regnum: &str,
    feature: u32,
    term_s: u32,
    clock: &crate::service::leases::LeaseClock,
    now: OffsetDateTime,
) -> Result<u32, StoreError> {
    let mut book = crate::service::leases::rows::book(tx, regnum, feature)?;
    book.prune(now, |l| clock.expiry(l, term_s));
    Ok(book.used())
}

/// One item per feature the key has held: seats of live grants, in use, free.
pub fn items(
    app: &App,
    tx: &impl Snapshot,
    key: &Key,
    now: OffsetDateTime,
) -> Result<Vec<ItemView>, StoreError> {
    let mut out = Vec::new();
    for feature in key.features() {
        let Some(fg) = key.feature_grant(feature, now) else {
            continue;
        };
        let product = app.catalog.by_feature(feature);
        let (name, term) = match &product {
            Some(p) => (
                p.feature(feature)
                    .map(|f| f.name.clone())
                    .unwrap_or_default(),
                p.heartbeat_s,
            ),
            None => (String::new(), crate::domain::DEFAULT_HEARTBEAT_S),
        };
        let used = used_seats(tx, &key.regnum, feature, term, &app.leases, now)?;
        out.push(ItemView {
            product: product.map(|p| p.code.clone()).unwrap_or(fg.product),
            feature,
            name,
            seats: fg.seats,
            used,
            free: fg.seats.saturating_sub(used),
            expires_at: fg.expires_at.map(rfc3339),
            trial: fg.trial,
        });
    }
    Ok(out)
}

pub fn view(app: &App, tx: &impl Snapshot, key: &Key) -> AppResult<KeyView> {
    let now = app.now();
    let client = match clients::load(tx, key.client_id)? {
        Some(c) => Some(clients::view(tx, &c)?),
        None => None,
    };
    Ok(KeyView {
        regnum: key.regnum.clone(),
        blocked: key.blocked,
        created_at: rfc3339(key.created_at),
        client,
        items: items(app, tx, key, now)?,
        grants: grant_views(key),
    })
}

pub fn get(app: &App, regnum: &str) -> AppResult<KeyView> {
    let regnum = parse_regnum(regnum)?;
    let tx = app.store.read()?;
    let key = load(&tx, &regnum)?.ok_or(AppError::UnknownRegnum)?;
    view(app, &tx, &key)
}

pub async fn create_for_client(app: &App, client_id: u64) -> AppResult<String> {
    let now = app.now();
    app.store
        .write(move |tx| {
            clients::load(tx, client_id)?.ok_or(AppError::NotFound { what: "client" })?;
            Ok(insert_new(tx, client_id, now)?.regnum)
        })
        .await
}

#[derive(Deserialize, Debug, Clone, utoipa::ToSchema)]
pub struct NewGrant {
    pub product: String,
    pub feature: u32,
    pub seats: u32,
    /// RFC 3339; omitted or null: never expires.
    pub expires_at: Option<String>,
}

fn parse_time(field: &str, s: &str) -> AppResult<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|_| AppError::malformed(field, "an RFC 3339 time, e.g. 2027-01-31T00:00:00Z"))
}

pub async fn add_grant(app: &App, regnum: &str, input: NewGrant) -> AppResult<KeyView> {
    let regnum = parse_regnum(regnum)?;
    if input.seats == 0 {
        return Err(AppError::malformed("seats", "at least 1"));
    }
    let expires_at = match &input.expires_at {
        Some(s) => Some(parse_time("expires_at", s)?),
        None => None,
    };
    let now = app.now();
    let r2 = regnum.clone();
    let env = app.mail_env();
    app.store
        .write(move |tx| {
            let mut key = load(tx, &r2)?.ok_or(AppError::UnknownRegnum)?;
            let product =
                products::by_code(tx, &input.product)?.ok_or(AppError::UnknownProduct {
                    product: input.product.clone(),
                })?;
            if product.feature(input.feature).is_none() {
                return Err(AppError::malformed(
                    "feature",
                    "not a feature of this product",
                ));
            }
            key.add_grant(Grant {
                id: 0,
                product: product.code.clone(),
                feature: input.feature,
                seats: input.seats,
                expires_at,
                trial: false,
                source: GrantSource::Manual,
                added_at: now,
            });
            save(tx, &key)?;
            if let Some(g) = key.grants.last()
                && let Some(c) = crate::service::clients::load(tx, key.client_id)?
            {
                let event = crate::mail::Event::GrantAdded {
                    regnum: key.regnum.clone(),
                    lines: crate::service::mail::seat_lines(tx, &[g])?,
                };
                let subject = format!("grant:{}:{}", key.regnum, g.id);
                crate::service::mail::to_client(tx, &env, now, &c, &event, &subject)?;
            }
            Ok(())
        })
        .await?;
    app.mail_queued.notify_one();
    get(app, &regnum)
}

#[derive(Deserialize, Debug, Clone, utoipa::ToSchema)]
pub struct GrantChange {
    pub seats: Option<u32>,
    /// RFC 3339, or null to make it never expire.
    #[serde(default, with = "double_option")]
    pub expires_at: Option<Option<String>>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::deserialize(d)?))
    }
}

/// Changes seats or expiry of one grant, or removes it (`change` = None).
pub async fn change_grant(
    app: &App,
    regnum: &str,
    grant_id: u64,
    change: Option<GrantChange>,
) -> AppResult<KeyView> {
    let regnum = parse_regnum(regnum)?;
    if change.as_ref().and_then(|c| c.seats) == Some(0) {
        return Err(AppError::malformed("seats", "at least 1"));
    }
    let expires = match change.as_ref().and_then(|c| c.expires_at.clone()) {
        Some(Some(s)) => Some(Some(parse_time("expires_at", &s)?)),
        Some(None) => Some(None),
        None => None,
    };
    let r2 = regnum.clone();
    app.store
        .write(move |tx| {
            let mut key = load(tx, &r2)?.ok_or(AppError::UnknownRegnum)?;
            let i = key
                .grants
                .iter()
                .position(|g| g.id == grant_id)
                .ok_or(AppError::NotFound { what: "item" })?;
            match &change {
                None => {
                    key.grants.remove(i);
                }
                Some(c) => {
                    if let Some(s) = c.seats {
                        key.grants[i].seats = s;
                    }
                    if let Some(e) = expires {
                        key.grants[i].expires_at = e;
                    }
                }
            }
            save(tx, &key)?;
            Ok(())
        })
        .await?;
    get(app, &regnum)
}

pub async fn set_blocked(app: &App, regnum: &str, blocked: bool) -> AppResult<KeyView> {
    let regnum = parse_regnum(regnum)?;
    let r2 = regnum.clone();
    app.store
        .write(move |tx| {
            let mut key = load(tx, &r2)?.ok_or(AppError::UnknownRegnum)?;
            key.blocked = blocked;
            save(tx, &key)?;
            Ok(())
        })
        .await?;
    get(app, &regnum)
}

/// Keys in registration-number order.
pub fn list(app: &App, limit: usize, offset: usize) -> AppResult<Vec<KeyView>> {
    let tx = app.store.read()?;
    let t = tx.table(tables::KEYS.def)?;
    let mut out = Vec::new();
    for row in t.iter()?.skip(offset).take(limit) {
        let (_, v) = row?;
        let k: Key = crate::store::codec::decode(v.value())?;
        out.push(view(app, &tx, &k)?);
    }
    Ok(out)
}

/// A key with its client's id and company, when the client exists.
pub type KeyRow = (Key, Option<(u64, String)>);

/// A page of keys in registration-number order with their clients, and the total.
pub fn page(app: &App, offset: usize, limit: usize) -> AppResult<(Vec<KeyRow>, usize)> {
    use redb::{ReadableTable, ReadableTableMetadata};
    let tx = app.store.read()?;
    let t = tx.table(tables::KEYS.def)?;
    let total = t.len()? as usize;
    let mut out = Vec::new();
    for row in t.iter()?.skip(offset).take(limit) {
        let (_, v) = row?;
        let k: Key = crate::store::codec::decode(v.value())?;
        let client = crate::service::clients::load(&tx, k.client_id)?.map(|c| (c.id, c.company));
        out.push((k, client));
    }
    Ok((out, total))
}
