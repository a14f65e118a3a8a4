//! What the APIs show of the records: the JSON shapes of API.md.
use crate::clock::rfc3339;
use crate::domain::{Client, Distributor, Feature, Key, Product, Role, Token, Unit, User};
use serde::Serialize;
use std::collections::BTreeMap;
use time::OffsetDateTime;

#[derive(Serialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct ItemView {
    pub product: String,
    pub feature: u32,
    pub name: String,
    pub seats: u32,
    pub used: u32,
    pub free: u32,
    /// Latest expiry among live grants; null when one never expires.
    pub expires_at: Option<String>,
    pub trial: bool,
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct FeatureView {
    pub number: u32,
    pub name: String,
    pub unit: Unit,
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct TrialItemView {
    pub feature: u32,
    pub seats: u32,
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct TrialView {
    pub days: u32,
    pub items: Vec<TrialItemView>,
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct ProductView {
    pub id: u64,
    pub code: String,
    pub name: String,
    pub heartbeat_s: u32,
    pub features: Vec<FeatureView>,
    pub trial: Option<TrialView>,
    pub created_at: String,
}

impl From<&Product> for ProductView {
    fn from(p: &Product) -> Self {
        ProductView {
            id: p.id,
            code: p.code.clone(),
            name: p.name.clone(),
            heartbeat_s: p.heartbeat_s,
            features: p.features.iter().map(feature_view).collect(),
            trial: p.trial.as_ref().map(|t| TrialView {
                days: t.days,
                items: t
                    .items
                    .iter()
                    .map(|i| TrialItemView {
                        feature: i.feature,
                        seats: i.seats,
                    })
                    .collect(),
            }),
            created_at: rfc3339(p.created_at),
        }
    }
}

fn feature_view(f: &Feature) -> FeatureView {
    FeatureView {
        number: f.number,
        name: f.name.clone(),
        unit: f.unit,
    }
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct ClientView {
    pub id: u64,
    pub company: String,
    pub contact: String,
    pub phone: String,
    pub email: String,
    pub alert_email: String,
    pub crm_id1: String,
    pub crm_id2: String,
    pub manager: String,
    pub distributor: String,
    pub comment: String,
    pub extra: BTreeMap<String, String>,
    pub origin: String,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    /// Registration numbers of the client's keys.
    pub keys: Vec<String>,
}

impl ClientView {
    pub fn new(c: &Client, keys: Vec<String>) -> ClientView {
        ClientView {
            id: c.id,
            company: c.company.clone(),
            contact: c.contact.clone(),
            phone: c.phone.clone(),
            email: c.email.clone(),
            alert_email: c.alert_email.clone(),
            crm_id1: c.crm_id1.clone(),
            crm_id2: c.crm_id2.clone(),
            manager: c.manager.clone(),
            distributor: c.distributor.clone(),
            comment: c.comment.clone(),
            extra: c.extra.clone(),
            origin: c.origin.clone(),
            created_at: c.created_at.map(rfc3339),
            updated_at: c.updated_at.map(rfc3339),
            keys,
        }
    }
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct GrantView {
    pub id: u64,
    pub product: String,
    pub feature: u32,
    pub seats: u32,
    pub expires_at: Option<String>,
    pub trial: bool,
    /// "manual", "trial" or "coupon".
    pub source: String,
    pub coupon: Option<String>,
    pub added_at: String,
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct KeyView {
    pub regnum: String,
    pub blocked: bool,
    pub created_at: String,
    pub client: Option<ClientView>,
    pub items: Vec<ItemView>,
    pub grants: Vec<GrantView>,
}

pub fn grant_views(k: &Key) -> Vec<GrantView> {
    use crate::domain::GrantSource;
    k.grants
        .iter()
        .map(|g| GrantView {
            id: g.id,
            product: g.product.clone(),
            feature: g.feature,
            seats: g.seats,
            expires_at: g.expires_at.map(rfc3339),
            trial: g.trial,
            source: match g.source {
                GrantSource::Manual => "manual",
                GrantSource::Trial => "trial",
                GrantSource::Coupon(_) => "coupon",
            }
            .into(),
            coupon: match &g.source {
                GrantSource::Coupon(c) => Some(c.clone()),
                _ => None,
            },
            added_at: rfc3339(g.added_at),
        })
        .collect()
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct TokenView {
    pub id: u64,
    pub name: String,
    pub role: Role,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<&Token> for TokenView {
    fn from(t: &Token) -> Self {
        TokenView {
            id: t.id,
            name: t.name.clone(),
            role: t.role,
            created_at: rfc3339(t.created_at),
            revoked_at: t.revoked_at.map(rfc3339),
        }
    }
}

/// A staff user as the admin API shows it: never its password hash.
#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct UserView {
    pub login: String,
    pub role: Role,
    /// Where the user is mailed (may be empty).
    pub email: String,
    /// For the distributor role: the distributor's code; else empty.
    pub distributor: String,
    pub disabled: bool,
    pub created_at: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            login: u.login.clone(),
            role: u.role,
            email: u.email.clone(),
            distributor: u.distributor.clone(),
            disabled: u.disabled,
            created_at: rfc3339(u.created_at),
        }
    }
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct DistributorView {
    pub code: String,
    pub name: String,
    pub email: String,
    pub created_at: String,
}

impl From<&Distributor> for DistributorView {
    fn from(d: &Distributor) -> Self {
        DistributorView {
            code: d.code.clone(),
            name: d.name.clone(),
            email: d.email.clone(),
            created_at: rfc3339(d.created_at),
        }
    }
}

pub fn opt_time(t: Option<OffsetDateTime>) -> Option<String> {
    t.map(rfc3339)
}
