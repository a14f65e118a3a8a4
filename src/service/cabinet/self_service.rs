//! Self-service on the cabinet's session monitor: unbinding a host or ending a lease,
//! within the product's limit per key and feature in 30 days.
use super::*;

/// The self-service limit of the product a feature belongs to.
pub fn unbind_limit(app: &App, tx: &impl Snapshot, feature: u32) -> Result<u32, StoreError> {
    match app.catalog.by_feature(feature) {
        Some(p) => product_unbind_limit(tx, p.id),
        None => Ok(DEFAULT_UNBIND_LIMIT),
    }
}

/// A product's self-service limit (unbinds or ended sessions per key and feature per
/// 30 days; 0: the client may not do it itself).
pub fn product_unbind_limit(tx: &impl Snapshot, product_id: u64) -> Result<u32, StoreError> {
    let t = tx.table(tables::PRODUCT_OPTIONS.def)?;
    Ok(tables::PRODUCT_OPTIONS
        .get(&t, product_id)?
        .map_or(DEFAULT_UNBIND_LIMIT, |o| o.unbind_limit))
}

/// Sets a product's self-service limit.
pub async fn set_unbind_limit(app: &App, product_code: &str, n: u32, actor: &str) -> AppResult<()> {
    if n > 1000 {
        return Err(AppError::malformed("unbind_limit", "0 to 1000"));
    }
    let code = product_code.to_owned();
    let actor = actor.to_owned();
    let now = app.now();
    app.store
        .write(move |tx| {
            let p =
                crate::service::products::by_code(tx, &code)?.ok_or(AppError::UnknownProduct {
                    product: code.clone(),
                })?;
            let mut t = tx.open_table(tables::PRODUCT_OPTIONS.def)?;
            tables::PRODUCT_OPTIONS.put(&mut t, p.id, &ProductOptions { unbind_limit: n })?;
            drop(t);
            audit::append(
                tx,
                &audit::entry(&actor, now, "product_unbind_limit", &p.code, &n.to_string()),
            )?;
            Ok(())
        })
        .await
}

fn action_times(
    tx: &impl Snapshot,
    regnum: &str,
    feature: u32,
    now: OffsetDateTime,
) -> Result<Vec<OffsetDateTime>, StoreError> {
    let from = ((now - UNBIND_WINDOW).unix_timestamp_nanos() / 1_000_000) as i64;
    let t = tx.table(tables::SELF_SERVICE)?;
    let mut out = Vec::new();
    for row in t.range((regnum, feature, from, 0u64)..=(regnum, feature, i64::MAX, u64::MAX))? {
        let (k, _) = row?;
        let ms = k.value().2;
        if let Ok(at) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) {
            out.push(at);
        }
    }
    Ok(out)
}

/// What is left of a key's self-service actions on a feature now.
pub fn allowance(
    app: &App,
    tx: &impl Snapshot,
    regnum: &str,
    feature: u32,
) -> Result<Allowance, StoreError> {
    let now = app.now();
    Ok(Allowance::of(
        unbind_limit(app, tx, feature)?,
        action_times(tx, regnum, feature, now)?,
        now,
    ))
}

static ACTION_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Checks that the key is the signed-in client's and takes one action of its allowance,
/// in one write, so racing clicks cannot exceed the limit. Returns the reservation.
async fn reserve(
    app: &Arc<App>,
    session: &CabinetSession,
    regnum: &str,
    feature: u32,
    kind: u8,
) -> AppResult<(String, u32, i64, u64)> {
    let regnum = keys::parse_regnum(regnum).map_err(|_| AppError::NotFound { what: "key" })?;
    let own = session.regnum.clone();
    let a = app.clone();
    let seq = ACTION_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    app.store
        .write(move |tx| {
            let now = a.now();
            // The key must belong to the client of the session's key (now).
            let mine = keys::load(tx, &own)?.ok_or(AppError::NotFound { what: "key" })?;
            let k = keys::load(tx, &regnum)?.ok_or(AppError::NotFound { what: "key" })?;
            if k.client_id != mine.client_id {
                return Err(AppError::NotFound { what: "key" });
            }
            let left = allowance(&a, tx, &regnum, feature)?;
            if left.left == 0 {
                return Err(AppError::Conflict {
                    reason: "self_service_limit",
                    details: serde_json::json!({
                        "limit": left.limit,
                        "next_free_at": left.next_free_at.map(crate::clock::rfc3339),
                    }),
                });
            }
            let ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
            tx.open_table(tables::SELF_SERVICE)?
                .insert((regnum.as_str(), feature, ms, seq), kind)?;
            Ok((regnum.clone(), feature, ms, seq))
        })
        .await
}

async fn give_back(app: &App, r: (String, u32, i64, u64)) -> AppResult<()> {
    app.store
        .write(move |tx| {
            tx.open_table(tables::SELF_SERVICE)?
                .remove((r.0.as_str(), r.1, r.2, r.3))?;
            Ok(())
        })
        .await
}

/// The client unbinds a host from a feature of one of its keys: the host's seat frees
/// and its leases end. Counts against the limit only when something was unbound.
/// Returns how many bindings went.
pub async fn unbind_host(
    app: &Arc<App>,
    session: &CabinetSession,
    regnum: &str,
    feature: u32,
    host: &str,
) -> AppResult<usize> {
    if host.trim().is_empty() {
        return Err(AppError::malformed("host", "required"));
    }
    let r = reserve(app, session, regnum, feature, 1).await?;
    let gone = match leases::unbind(app, &r.0, host, Some(feature)).await {
        Ok(g) => g,
        Err(e) => {
            give_back(app, r).await?;
            return Err(e);
        }
    };
    if gone.is_empty() {
        give_back(app, r).await?;
        return Ok(0);
    }
    audit::record(
        app,
        &format!("client:{}", session.regnum),
        "client_unbind",
        &r.0,
        &format!("feature {feature}, host {}", host.trim()),
    )
    .await?;
    Ok(gone.len())
}

/// The client ends one of its live sessions (a machine that crashed): its seat frees at
/// once. Counts against the same limit. `false` when it had already ended.
pub async fn end_lease(app: &Arc<App>, session: &CabinetSession, lease: &str) -> AppResult<bool> {
    let lease = lease.trim().to_owned();
    let found = {
        let tx = app.store.read()?;
        let t = tx.table(tables::LEASE_INDEX)?;
        t.get(lease.as_str())?.map(|v| {
            let (r, f, _, _, _) = v.value();
            (r.to_owned(), f)
        })
    };
    let Some((regnum, feature)) = found else {
        return Err(AppError::NotFound { what: "lease" });
    };
    let r = reserve(app, session, &regnum, feature, 2).await?;
    let ended = match leases::release(app, &lease).await {
        Ok(b) => b,
        Err(e) => {
            give_back(app, r).await?;
            return Err(e);
        }
    };
    if !ended {
        give_back(app, r).await?;
        return Ok(false);
    }
    audit::record(
        app,
        &format!("client:{}", session.regnum),
        "client_end_session",
        &regnum,
        &format!("feature {feature}, lease {lease}"),
    )
    .await?;
    Ok(true)
}
