//! Products and their numbered features.
use crate::domain::{DEFAULT_HEARTBEAT_S, Feature, Product, TrialItem, TrialTerms, Unit};
use crate::error::{AppError, AppResult};
use crate::service::App;
use crate::store::{Snapshot, StoreError, meta, tables};
use redb::ReadableTable;
use serde::Deserialize;

#[derive(Deserialize, Debug, Clone, utoipa::ToSchema)]
pub struct NewFeature {
    pub number: u32,
    pub name: String,
    pub unit: Unit,
}

#[derive(Deserialize, Debug, Clone, utoipa::ToSchema)]
pub struct NewTrialItem {
    pub feature: u32,
    pub seats: u32,
}

#[derive(Deserialize, Debug, Clone, utoipa::ToSchema)]
pub struct NewTrial {
    pub days: u32,
    pub items: Vec<NewTrialItem>,
}

#[derive(Deserialize, Debug, Clone, utoipa::ToSchema)]
pub struct NewProduct {
    pub code: String,
    pub name: String,
    pub heartbeat_s: Option<u32>,
    pub features: Vec<NewFeature>,
    pub trial: Option<NewTrial>,
}

/// Product by code, matched case-insensitively.
pub fn by_code(tx: &impl Snapshot, code: &str) -> Result<Option<Product>, StoreError> {
    let codes = tx.table(tables::PRODUCT_CODES)?;
    let id = match codes.get(code.trim().to_lowercase().as_str())? {
        Some(id) => id.value(),
        None => return Ok(None),
    };
    let products = tx.table(tables::PRODUCTS.def)?;
    tables::PRODUCTS.get(&products, id)
}

/// The product a feature number belongs to.
pub fn by_feature(tx: &impl Snapshot, feature: u32) -> Result<Option<Product>, StoreError> {
    let features = tx.table(tables::FEATURES)?;
    let id = match features.get(feature)? {
        Some(id) => id.value(),
        None => return Ok(None),
    };
    let products = tx.table(tables::PRODUCTS.def)?;
    tables::PRODUCTS.get(&products, id)
}

pub fn list(tx: &impl Snapshot) -> Result<Vec<Product>, StoreError> {
    let t = tx.table(tables::PRODUCTS.def)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        let (_, v) = row?;
        out.push(crate::store::codec::decode(v.value())?);
    }
    Ok(out)
}

fn validate(input: &NewProduct) -> AppResult<()> {
    let code = input.code.trim();
    if code.is_empty() || code.len() > 64 {
        return Err(AppError::malformed("code", "1 to 64 characters"));
    }
    if input.name.trim().is_empty() {
        return Err(AppError::malformed("name", "must not be empty"));
    }
    if let Some(hb) = input.heartbeat_s
        && !(5..=86_400).contains(&hb)
    {
        return Err(AppError::malformed("heartbeat_s", "5 to 86400 seconds"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, f) in input.features.iter().enumerate() {
        if !seen.insert(f.number) {
            return Err(AppError::malformed(
                &format!("features[{i}].number"),
                "repeated feature number",
            ));
        }
        if f.name.trim().is_empty() {
            return Err(AppError::malformed(
                &format!("features[{i}].name"),
                "must not be empty",
            ));
        }
    }
    if let Some(t) = &input.trial {
        if t.days == 0 || t.days > 3650 {
            return Err(AppError::malformed("trial.days", "1 to 3650 days"));
        }
        for (i, it) in t.items.iter().enumerate() {
            if !seen.contains(&it.feature) {
                return Err(AppError::malformed(
                    &format!("trial.items[{i}].feature"),
                    "not a feature of this product",
                ));
            }
            if it.seats == 0 {
                return Err(AppError::malformed(
                    &format!("trial.items[{i}].seats"),
                    "at least 1",
                ));
            }
        }
    }
    Ok(())
}

pub async fn create(app: &App, input: NewProduct) -> AppResult<Product> {
    validate(&input)?;
    let now = app.now();
    let p = app
        .store
        .write(move |tx| {
            let code_key = input.code.trim().to_lowercase();
            {
                let codes = tx.open_table(tables::PRODUCT_CODES)?;
                if codes.get(code_key.as_str())?.is_some() {
                    return Err(AppError::Conflict {
                        reason: "product_code_taken",
                        details: serde_json::json!({ "code": input.code.trim() }),
                    });
                }
                let features = tx.open_table(tables::FEATURES)?;
                for f in &input.features {
                    if features.get(f.number)?.is_some() {
                        return Err(AppError::Conflict {
                            reason: "feature_number_taken",
                            details: serde_json::json!({ "feature": f.number }),
                        });
                    }
                }
            }
            let id = meta::next_id(tx, "product")?;
            let product = Product {
                id,
                code: input.code.trim().to_owned(),
                name: input.name.trim().to_owned(),
                heartbeat_s: input.heartbeat_s.unwrap_or(DEFAULT_HEARTBEAT_S),
                features: input
                    .features
                    .iter()
                    .map(|f| Feature {
                        number: f.number,
                        name: f.name.trim().to_owned(),
                        unit: f.unit,
                    })
                    .collect(),
                trial: input.trial.as_ref().map(|t| TrialTerms {
                    days: t.days,
                    items: t
                        .items
                        .iter()
                        .map(|i| TrialItem {
                            feature: i.feature,
                            seats: i.seats,
                        })
                        .collect(),
                }),
                created_at: now,
            };
            let mut products = tx.open_table(tables::PRODUCTS.def)?;
            tables::PRODUCTS.put(&mut products, id, &product)?;
            let mut codes = tx.open_table(tables::PRODUCT_CODES)?;
            codes.insert(code_key.as_str(), id)?;
            let mut features = tx.open_table(tables::FEATURES)?;
            for f in &product.features {
                features.insert(f.number, id)?;
            }
            Ok(product)
        })
        .await?;
    app.catalog.reload(&app.store)?;
    Ok(p)
}

/// Deletes a product while no key holds a grant of it (a full scan of keys: rare, staff
/// only).
pub async fn delete(app: &App, code: &str) -> AppResult<Product> {
    let code = code.trim().to_owned();
    let p = app
        .store
        .write(move |tx| {
            let p = by_code(tx, &code)?.ok_or(AppError::NotFound { what: "product" })?;
            {
                let keys = tx.open_table(tables::KEYS.def)?;
                for row in keys.iter()? {
                    let (k, v) = row?;
                    let key: crate::domain::Key = crate::store::codec::decode(v.value())?;
                    if key
                        .grants
                        .iter()
                        .any(|g| g.product.eq_ignore_ascii_case(&p.code))
                    {
                        return Err(AppError::Conflict {
                            reason: "product_in_use",
                            details: serde_json::json!({ "regnum": k.value() }),
                        });
                    }
                }
            }
            tx.open_table(tables::PRODUCTS.def)?.remove(p.id)?;
            tx.open_table(tables::PRODUCT_CODES)?
                .remove(p.code.to_lowercase().as_str())?;
            let mut features = tx.open_table(tables::FEATURES)?;
            for f in &p.features {
                features.remove(f.number)?;
            }
            Ok(p)
        })
        .await?;
    app.catalog.reload(&app.store)?;
    Ok(p)
}

/// Every product by feature number, in memory: products are few and change rarely, and
/// every capture and key read needs its feature's product. Reloaded after each change.
#[derive(Default)]
pub struct Catalog {
    by_feature: parking_lot::RwLock<std::collections::HashMap<u32, std::sync::Arc<Product>>>,
}

impl Catalog {
    pub fn load(store: &crate::store::Store) -> Result<Catalog, StoreError> {
        let c = Catalog::default();
        c.reload(store)?;
        Ok(c)
    }

    pub fn reload(&self, store: &crate::store::Store) -> Result<(), StoreError> {
        let tx = store.read()?;
        let mut map = std::collections::HashMap::new();
        for p in list(&tx)? {
            let p = std::sync::Arc::new(p);
            for f in &p.features {
                map.insert(f.number, p.clone());
            }
        }
        *self.by_feature.write() = map;
        Ok(())
    }

    pub fn by_feature(&self, feature: u32) -> Option<std::sync::Arc<Product>> {
        self.by_feature.read().get(&feature).cloned()
    }

    /// The heartbeat interval of a feature's product (the default when unknown).
    pub fn term_s(&self, feature: u32) -> u32 {
        self.by_feature(feature)
            .map_or(DEFAULT_HEARTBEAT_S, |p| p.heartbeat_s)
    }
}
