//! Coupons: made in batches by staff, activated once onto a key.
use crate::clock::rfc3339;
use crate::domain::{
    Coupon, CouponItem, Grant, GrantSource, NumberKind, generate_number, normalize_number,
};
use crate::error::{AppError, AppResult};
use crate::service::views::ItemView;
use crate::service::{App, clients, keys, mail, products, settings};
use crate::store::{Snapshot, StoreError, meta, tables};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use time::Duration;

pub const MAX_BATCH: u32 = 10_000;

#[derive(Deserialize, Debug, Clone, utoipa::ToSchema)]
pub struct NewCouponItem {
    pub product: String,
    pub feature: u32,
    pub seats: u32,
    /// Term of the seats from activation; omitted: never expire.
    pub days: Option<u32>,
}

#[derive(Deserialize, Debug, Clone, utoipa::ToSchema)]
pub struct NewCoupons {
    pub count: u32,
    pub items: Vec<NewCouponItem>,
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct CouponBatch {
    pub batch: u64,
    pub codes: Vec<String>,
}

pub fn parse_coupon(input: &str) -> AppResult<String> {
    normalize_number(input).ok_or(AppError::BadNumber {
        field: "coupon".into(),
    })
}

pub async fn create_batch(app: &App, input: NewCoupons) -> AppResult<CouponBatch> {
    if input.count == 0 || input.count > MAX_BATCH {
        return Err(AppError::malformed("count", "1 to 10000"));
    }
    if input.items.is_empty() {
        return Err(AppError::malformed("items", "at least one item"));
    }
    for (i, it) in input.items.iter().enumerate() {
        if it.seats == 0 {
            return Err(AppError::malformed(
                &format!("items[{i}].seats"),
                "at least 1",
            ));
        }
        if it.days == Some(0) {
            return Err(AppError::malformed(
                &format!("items[{i}].days"),
                "at least 1, or omit",
            ));
        }
    }
    let now = app.now();
    app.store
        .write(move |tx| {
            let mut items = Vec::new();
            for (i, it) in input.items.iter().enumerate() {
                let p = products::by_code(tx, &it.product)?.ok_or(AppError::UnknownProduct {
                    product: it.product.clone(),
                })?;
                if p.feature(it.feature).is_none() {
                    return Err(AppError::malformed(
                        &format!("items[{i}].feature"),
                        "not a feature of this product",
                    ));
                }
                items.push(CouponItem {
                    product: p.code.clone(),
                    feature: it.feature,
                    seats: it.seats,
                    days: it.days,
                });
            }
            let prefix = settings::read(tx)?.regnum_prefix;
            let batch = meta::next_id(tx, "coupon_batch")?;
            let mut t = tx.open_table(tables::COUPONS.def)?;
            let mut codes = Vec::with_capacity(input.count as usize);
            while codes.len() < input.count as usize {
                let code = generate_number(&prefix, NumberKind::Coupon);
                if t.get(code.as_str())?.is_some() {
                    continue;
                }
                tables::COUPONS.put(
                    &mut t,
                    code.as_str(),
                    &Coupon {
                        code: code.clone(),
                        batch,
                        items: items.clone(),
                        created_at: now,
                        activated: None,
                    },
                )?;
                codes.push(code);
            }
            Ok(CouponBatch { batch, codes })
        })
        .await
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct CouponView {
    pub code: String,
    pub batch: u64,
    pub created_at: String,
    /// "new" or "activated".
    pub state: String,
    pub regnum: Option<String>,
    pub activated_at: Option<String>,
    pub items: Vec<CouponItemView>,
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct CouponItemView {
    pub product: String,
    pub feature: u32,
    pub seats: u32,
    pub days: Option<u32>,
}

pub fn view(c: &Coupon) -> CouponView {
    CouponView {
        code: c.code.clone(),
        batch: c.batch,
        created_at: rfc3339(c.created_at),
        state: if c.activated.is_some() {
            "activated"
        } else {
            "new"
        }
        .into(),
        regnum: c.activated.as_ref().map(|a| a.regnum.clone()),
        activated_at: c.activated.as_ref().map(|a| rfc3339(a.at)),
        items: c
            .items
            .iter()
            .map(|i| CouponItemView {
                product: i.product.clone(),
                feature: i.feature,
                seats: i.seats,
                days: i.days,
            })
            .collect(),
    }
}

/// Coupons, optionally of one batch, in code order.
pub fn list(
    app: &App,
    batch: Option<u64>,
    limit: usize,
    offset: usize,
) -> AppResult<Vec<CouponView>> {
    let tx = app.store.read()?;
    let t = tx.table(tables::COUPONS.def)?;
    let mut out = Vec::new();
    let mut skipped = 0;
    for row in t.iter()? {
        let (_, v) = row?;
        let c: Coupon = crate::store::codec::decode(v.value())?;
        if batch.is_some_and(|b| b != c.batch) {
            continue;
        }
        if skipped < offset {
            skipped += 1;
            continue;
        }
        out.push(view(&c));
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

pub fn load(tx: &impl Snapshot, code: &str) -> Result<Option<Coupon>, StoreError> {
    let t = tx.table(tables::COUPONS.def)?;
    tables::COUPONS.get(&t, code)
}

#[derive(Deserialize, Debug, Clone, utoipa::ToSchema)]
pub struct ActivateInput {
    pub regnum: String,
    pub coupon: String,
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct AddedItem {
    pub product: String,
    pub feature: u32,
    pub seats: u32,
    pub expires_at: Option<String>,
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct Activated {
    pub regnum: String,
    pub added: Vec<AddedItem>,
    pub items: Vec<ItemView>,
}

/// Adds a coupon's items to a key, once. The client is mailed in the same transaction.
pub async fn activate(app: &App, input: ActivateInput) -> AppResult<Activated> {
    let regnum = keys::parse_regnum(&input.regnum)?;
    let code = parse_coupon(&input.coupon)?;
    let now = app.now();
    let r2 = regnum.clone();
    let env = app.mail_env();
    let added = app
        .store
        .write(move |tx| {
            let mut coupon = load(tx, &code)?.ok_or(AppError::UnknownCoupon)?;
            let mut key = keys::load(tx, &r2)?.ok_or(AppError::UnknownRegnum)?;
            if let Some(a) = &coupon.activated {
                return Err(AppError::CouponUsed {
                    activated_at: rfc3339(a.at),
                });
            }
            let mut added = Vec::new();
            for it in &coupon.items {
                let expires_at = it.days.map(|d| now + Duration::days(i64::from(d)));
                key.add_grant(Grant {
                    id: 0,
                    product: it.product.clone(),
                    feature: it.feature,
                    seats: it.seats,
                    expires_at,
                    trial: false,
                    source: GrantSource::Coupon(code.clone()),
                    added_at: now,
                });
                added.push(AddedItem {
                    product: it.product.clone(),
                    feature: it.feature,
                    seats: it.seats,
                    expires_at: expires_at.map(rfc3339),
                });
            }
            coupon.activated = Some(crate::domain::Activation {
                regnum: r2.clone(),
                at: now,
            });
            keys::save(tx, &key)?;
            let mut t = tx.open_table(tables::COUPONS.def)?;
            tables::COUPONS.put(&mut t, code.as_str(), &coupon)?;
            drop(t);
            if let Some(c) = clients::load(tx, key.client_id)? {
                let n = coupon.items.len();
                let new: Vec<&Grant> = key.grants.iter().rev().take(n).rev().collect();
                let event = crate::mail::Event::CouponActivated {
                    code: code.clone(),
                    regnum: r2.clone(),
                    lines: mail::seat_lines(tx, &new)?,
                };
                mail::to_client(tx, &env, now, &c, &event, &format!("coupon:{code}"))?;
            }
            Ok(added)
        })
        .await?;
    app.mail_queued.notify_one();
    let tx = app.store.read()?;
    let key = keys::load(&tx, &regnum)?.ok_or(AppError::UnknownRegnum)?;
    Ok(Activated {
        regnum,
        added,
        items: keys::items(app, &tx, &key, app.now())?,
    })
}
