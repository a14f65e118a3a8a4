//! What a client holds, as its cabinet and its card show it (seed 000): each key with its
//! items (License keys), every feature of every product summed over the keys (License
//! summary), and the live sessions and host bindings (Session monitor). One read
//! snapshot, so the numbers agree with each other.
use crate::domain::Unit;
use crate::error::{AppError, AppResult};
use crate::service::views::ItemView;
use crate::service::{App, clients, keys, leases};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// One key of the client and what it holds now.
#[derive(Clone, Debug)]
pub struct KeyHolding {
    pub regnum: String,
    pub blocked: bool,
    pub created_at: OffsetDateTime,
    pub items: Vec<ItemView>,
}

/// One feature across all of a client's keys.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    pub product: String,
    pub product_name: String,
    pub feature: u32,
    pub name: String,
    pub unit: Option<Unit>,
    pub seats: u32,
    pub used: u32,
    pub free: u32,
    /// How many of the client's keys hold it.
    pub keys: usize,
}

/// The client's keys in registration-number order, with their items.
pub fn keys_of_client(app: &App, client_id: u64) -> AppResult<Vec<KeyHolding>> {
    let tx = app.store.read()?;
    clients::load(&tx, client_id)?.ok_or(AppError::NotFound { what: "client" })?;
    let now = app.now();
    let mut out = Vec::new();
    for regnum in clients::keys_of(&tx, client_id)? {
        if let Some(k) = keys::load(&tx, &regnum)? {
            out.push(KeyHolding {
                items: keys::items(app, &tx, &k, now)?,
                regnum: k.regnum,
                blocked: k.blocked,
                created_at: k.created_at,
            });
        }
    }
    out.sort_by(|a, b| a.regnum.cmp(&b.regnum));
    Ok(out)
}

/// Every feature of every product over `keys`: seats, used, free summed, in product and
/// feature order.
pub fn summarize(app: &App, keys: &[KeyHolding]) -> Vec<SummaryRow> {
    let mut rows: BTreeMap<(String, u32), SummaryRow> = BTreeMap::new();
    for k in keys {
        for i in &k.items {
            let product = app.catalog.by_feature(i.feature);
            let r = rows
                .entry((i.product.clone(), i.feature))
                .or_insert_with(|| SummaryRow {
                    product: i.product.clone(),
                    product_name: product.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
                    feature: i.feature,
                    name: i.name.clone(),
                    unit: product
                        .as_ref()
                        .and_then(|p| p.feature(i.feature).map(|f| f.unit)),
                    seats: 0,
                    used: 0,
                    free: 0,
                    keys: 0,
                });
            r.seats = r.seats.saturating_add(i.seats);
            r.used = r.used.saturating_add(i.used);
            r.free = r.free.saturating_add(i.free);
            r.keys += 1;
        }
    }
    rows.into_values().collect()
}

/// The session monitor of a client: live leases and idle host bindings of its keys,
/// optionally of one key and/or one feature, at most `limit` rows.
pub fn sessions_of(
    app: &App,
    keys: &[KeyHolding],
    regnum: Option<&str>,
    feature: Option<u32>,
    limit: usize,
) -> AppResult<Vec<leases::LeaseView>> {
    let mut out = Vec::new();
    for k in keys {
        if regnum.is_some_and(|r| r != k.regnum) {
            continue;
        }
        if let Some(f) = feature
            && !k.items.iter().any(|i| i.feature == f)
        {
            continue;
        }
        for row in leases::monitor_rows(app, Some(&k.regnum), limit)? {
            if feature.is_none_or(|f| row.feature == f) && out.len() < limit {
                out.push(row);
            }
        }
    }
    Ok(out)
}
