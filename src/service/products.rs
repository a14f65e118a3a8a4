//! Products and their numbered features.
use crate::domain::{DEFAULT_HEARTBEAT_S, Feature, Product, TrialItem, TrialTerms, Unit};
use crate::error::{AppError, AppResult};
use crate::service::{App, audit};
use crate::store::{Snapshot, StoreError, meta, tables};
use redb::{ReadableTable, WriteTransaction};
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

/// Changes to a product: only the fields sent change. Features are matched by number: a
/// new number adds a feature (name and unit required), a known one is renamed and/or
/// counted by another unit (only while no key holds it). Features are not removed here.
#[derive(Deserialize, Debug, Clone, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub heartbeat_s: Option<u32>,
    pub features: Option<Vec<FeaturePatch>>,
    /// New trial terms, replacing the old ones; `null` ends trials of this product.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<NewTrial>, nullable)]
    pub trial: Option<Option<NewTrial>>,
}

#[derive(Deserialize, Debug, Clone, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeaturePatch {
    pub number: u32,
    pub name: Option<String>,
    pub unit: Option<Unit>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Ok(Some(Option::deserialize(d)?))
    }
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
    if code.is_empty() || code.chars().count() > 64 {
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
        validate_trial(t, &seen)?;
    }
    Ok(())
}

/// Trial terms for a product whose feature numbers are `features`.
fn validate_trial(t: &NewTrial, features: &std::collections::BTreeSet<u32>) -> AppResult<()> {
    if t.days == 0 || t.days > 3650 {
        return Err(AppError::malformed("trial.days", "1 to 3650 days"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, it) in t.items.iter().enumerate() {
        if !features.contains(&it.feature) {
            return Err(AppError::malformed(
                &format!("trial.items[{i}].feature"),
                "not a feature of this product",
            ));
        }
        if !seen.insert(it.feature) {
            return Err(AppError::malformed(
                &format!("trial.items[{i}].feature"),
                "repeated feature",
            ));
        }
        if it.seats == 0 {
            return Err(AppError::malformed(
                &format!("trial.items[{i}].seats"),
                "at least 1",
            ));
        }
    }
    Ok(())
}

fn trial_terms(t: &NewTrial) -> TrialTerms {
    TrialTerms {
        days: t.days,
        items: t
            .items
            .iter()
            .map(|i| TrialItem {
                feature: i.feature,
                seats: i.seats,
            })
            .collect(),
    }
}

/// What can be checked of a patch before the product is read.
fn validate_patch(patch: &ProductPatch) -> AppResult<()> {
    if patch.name.as_ref().is_some_and(|n| n.trim().is_empty()) {
        return Err(AppError::malformed("name", "must not be empty"));
    }
    if let Some(hb) = patch.heartbeat_s
        && !(5..=86_400).contains(&hb)
    {
        return Err(AppError::malformed("heartbeat_s", "5 to 86400 seconds"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, f) in patch.features.iter().flatten().enumerate() {
        if !seen.insert(f.number) {
            return Err(AppError::malformed(
                &format!("features[{i}].number"),
                "repeated feature number",
            ));
        }
        if f.name.as_ref().is_some_and(|n| n.trim().is_empty()) {
            return Err(AppError::malformed(
                &format!("features[{i}].name"),
                "must not be empty",
            ));
        }
    }
    Ok(())
}

/// The first key holding `features`: a grant of one of them, or a seat of one held or
/// still bound to a host (a binding made under one unit means nothing under another).
/// A full scan of keys and seats: rare, staff only, and only when a unit changes.
fn holder_of(tx: &WriteTransaction, features: &[u32]) -> Result<Option<(u32, String)>, StoreError> {
    let keys = tx.open_table(tables::KEYS.def)?;
    for row in keys.iter()? {
        let (k, v) = row?;
        let key: crate::domain::Key = crate::store::codec::decode(v.value())?;
        if let Some(g) = key.grants.iter().find(|g| features.contains(&g.feature)) {
            return Ok(Some((g.feature, k.value().to_owned())));
        }
    }
    let counts = tx.open_table(tables::SEAT_COUNTS)?;
    for row in counts.iter()? {
        let (k, v) = row?;
        let (regnum, feature) = k.value();
        if features.contains(&feature) && v.value() > 0 {
            return Ok(Some((feature, regnum.to_owned())));
        }
    }
    Ok(None)
}

/// Changes a product (see `ProductPatch`), audited as `actor` in the same commit, and
/// brings the in-memory catalog up to date.
pub async fn update(app: &App, code: &str, patch: ProductPatch, actor: &str) -> AppResult<Product> {
    validate_patch(&patch)?;
    let code = code.trim().to_owned();
    let actor = actor.to_owned();
    let now = app.now();
    let p = app
        .store
        .write(move |tx| {
            let mut p = by_code(tx, &code)?.ok_or(AppError::NotFound { what: "product" })?;
            let mut changes: Vec<String> = Vec::new();
            if let Some(name) = patch.name.as_deref().map(str::trim)
                && name != p.name
            {
                changes.push(format!("name \"{name}\""));
                p.name = name.to_owned();
            }
            if let Some(hb) = patch.heartbeat_s
                && hb != p.heartbeat_s
            {
                changes.push(format!("heartbeat {} -> {hb} s", p.heartbeat_s));
                p.heartbeat_s = hb;
            }
            let mut added = Vec::new();
            let mut recounted = Vec::new();
            for (i, f) in patch.features.iter().flatten().enumerate() {
                let name = f.name.as_deref().map(str::trim);
                match p.features.iter_mut().find(|x| x.number == f.number) {
                    Some(x) => {
                        if let Some(name) = name
                            && name != x.name
                        {
                            changes.push(format!("feature {} name \"{name}\"", x.number));
                            x.name = name.to_owned();
                        }
                        if let Some(unit) = f.unit
                            && unit != x.unit
                        {
                            changes.push(format!(
                                "feature {} unit {} -> {}",
                                x.number,
                                x.unit.as_str(),
                                unit.as_str()
                            ));
                            x.unit = unit;
                            recounted.push(x.number);
                        }
                    }
                    None => {
                        let name = name.ok_or_else(|| {
                            AppError::malformed(
                                &format!("features[{i}].name"),
                                "required for a new feature",
                            )
                        })?;
                        let unit = f.unit.ok_or_else(|| {
                            AppError::malformed(
                                &format!("features[{i}].unit"),
                                "required for a new feature",
                            )
                        })?;
                        if tx.open_table(tables::FEATURES)?.get(f.number)?.is_some() {
                            return Err(AppError::Conflict {
                                reason: "feature_number_taken",
                                details: serde_json::json!({ "feature": f.number }),
                            });
                        }
                        changes.push(format!("feature {} added", f.number));
                        p.features.push(Feature {
                            number: f.number,
                            name: name.to_owned(),
                            unit,
                        });
                        added.push(f.number);
                    }
                }
            }
            if let Some(trial) = &patch.trial {
                let terms = match trial {
                    Some(t) => {
                        let numbers = p.features.iter().map(|f| f.number).collect();
                        validate_trial(t, &numbers)?;
                        Some(trial_terms(t))
                    }
                    None => None,
                };
                if terms != p.trial {
                    changes.push(match &terms {
                        Some(t) => format!("trial {} days", t.days),
                        None => "no trial".to_owned(),
                    });
                    p.trial = terms;
                }
            }
            if !recounted.is_empty()
                && let Some((feature, regnum)) = holder_of(tx, &recounted)?
            {
                return Err(AppError::Conflict {
                    reason: "feature_in_use",
                    details: serde_json::json!({ "feature": feature, "regnum": regnum }),
                });
            }
            if changes.is_empty() {
                return Ok(p);
            }
            let mut products = tx.open_table(tables::PRODUCTS.def)?;
            tables::PRODUCTS.put(&mut products, p.id, &p)?;
            let mut features = tx.open_table(tables::FEATURES)?;
            for n in &added {
                features.insert(*n, p.id)?;
            }
            let e = audit::entry(&actor, now, "product_update", &p.code, &changes.join("; "));
            audit::append(tx, &e)?;
            Ok(p)
        })
        .await?;
    app.catalog.reload(&app.store)?;
    Ok(p)
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
                trial: input.trial.as_ref().map(trial_terms),
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
/// only), audited as `actor` in the same commit.
pub async fn delete(app: &App, code: &str, actor: &str) -> AppResult<Product> {
    let code = code.trim().to_owned();
    let actor = actor.to_owned();
    let now = app.now();
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
            drop(features);
            let e = audit::entry(&actor, now, "product_delete", &p.code, &p.name);
            audit::append(tx, &e)?;
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

    /// Reads the products committed so far. The lock is held while reading, so of two
    /// reloads racing after two commits the later snapshot always lands last.
    pub fn reload(&self, store: &crate::store::Store) -> Result<(), StoreError> {
        let mut held = self.by_feature.write();
        let tx = store.read()?;
        let mut map = std::collections::HashMap::new();
        for p in list(&tx)? {
            let p = std::sync::Arc::new(p);
            for f in &p.features {
                map.insert(f.number, p.clone());
            }
        }
        *held = map;
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
