//! The admin API, `/api/admin/v1`: API.md's core for CRM and back-office scripts, and
//! what else staff need. Every call needs a bearer token; roles are checked here.
//!
//! One module per resource: products, clients, keys (items, denials, usage), coupons,
//! leases, staff (distributors, users, tokens), settings (settings, backup, signing key).
use crate::error::{AppError, AppResult};
use crate::http::extract::Staff;
use crate::service::App;
use actix_web::web;
use serde::Deserialize;

mod clients;
mod coupons;
mod keys;
mod leases;
mod products;
mod settings;
mod staff;

pub use clients::*;
pub use coupons::*;
pub use keys::*;
pub use leases::*;
pub use products::*;
pub use settings::*;
pub use staff::*;

/// What every resource module of the admin API uses.
mod prelude {
    pub(super) use super::{Paging, audited, paging, parse_id, parse_num};
    pub(super) use crate::domain::{Role, Settings};
    pub(super) use crate::error::{AppError, AppResult};
    pub(super) use crate::http::extract::{JsonBody, Staff};
    pub(super) use crate::service::clients::{ClientInput, ListQuery};
    pub(super) use crate::service::coupons::{CouponBatch, CouponView, NewCoupons};
    pub(super) use crate::service::keys::{GrantChange, NewGrant};
    pub(super) use crate::service::leases::{LeaseView, Unbound};
    pub(super) use crate::service::products::{NewProduct, ProductPatch};
    pub(super) use crate::service::users::NewUser;
    pub(super) use crate::service::views::{
        ClientView, DistributorView, KeyView, ProductView, TokenView, UserView,
    };
    pub(super) use crate::service::{
        App, auth, clients, coupons, distributors, keys, leases, products,
    };
    pub(super) use crate::service::{settings, stats, usage, users};
    pub(super) use actix_web::{HttpResponse, web};
    pub(super) use serde::{Deserialize, Serialize};
}

pub fn scope() -> actix_web::Scope {
    let scope = web::scope("/admin/v1")
        .route("/products", web::post().to(create_product))
        .route("/products", web::get().to(list_products))
        .route("/products/{code}", web::get().to(get_product))
        .route("/products/{code}", web::patch().to(update_product))
        .route("/products/{code}", web::delete().to(delete_product))
        .route("/clients", web::post().to(create_client))
        .route("/clients", web::get().to(list_clients))
        .route("/clients/merge", web::post().to(merge_clients))
        // Not a client id: any other method is 405, not "no client `merge`".
        .route("/clients/merge", web::route().to(super::not_found))
        .route("/clients/{id}", web::get().to(get_client))
        .route("/clients/{id}", web::patch().to(update_client))
        .route("/clients/{id}", web::delete().to(delete_client))
        .route("/clients/{id}/keys", web::post().to(create_key))
        .route("/keys", web::get().to(list_keys))
        .route("/keys/{regnum}", web::get().to(get_key))
        .route("/keys/{regnum}", web::patch().to(patch_key))
        .route("/keys/{regnum}/items", web::post().to(add_item))
        .route("/keys/{regnum}/items/{id}", web::patch().to(change_item))
        .route("/keys/{regnum}/items/{id}", web::delete().to(remove_item))
        .route("/keys/{regnum}/unbind", web::post().to(unbind))
        .route("/keys/{regnum}/denials", web::get().to(key_denials))
        .route("/keys/{regnum}/usage", web::get().to(key_usage))
        .route("/coupons", web::post().to(create_coupons))
        .route("/coupons", web::get().to(list_coupons))
        .route("/leases", web::get().to(list_leases))
        .route("/leases/{lease}", web::delete().to(end_lease))
        .route("/distributors", web::post().to(create_distributor))
        .route("/distributors", web::get().to(list_distributors))
        .route("/users", web::post().to(create_user))
        .route("/users", web::get().to(list_users))
        .route("/tokens", web::get().to(list_tokens))
        .route("/tokens", web::post().to(create_token))
        .route("/tokens/{id}", web::delete().to(revoke_token))
        .route("/settings", web::get().to(get_settings))
        .route("/settings", web::patch().to(patch_settings))
        .route("/backup", web::get().to(get_backup))
        .route("/signing-key/rotate", web::post().to(rotate_signing_key))
        .route("/metrics", web::get().to(super::observe::metrics));
    super::releases_api::admin(scope).default_service(web::to(super::not_found))
}

/// Records a staff change made through the admin API in the audit log (as the UI
/// does, in its own commit after the change); a failure to record is logged, not
/// returned, since the change itself is done.
pub(super) async fn audited(app: &App, staff: &Staff, action: &str, target: &str, detail: &str) {
    let actor = format!("api:{}", staff.token.name);
    if let Err(e) = crate::service::audit::record(app, &actor, action, target, detail).await {
        tracing::warn!("audit record failed: {e}");
    }
}

pub(super) fn parse_id(s: &str) -> AppResult<u64> {
    s.trim()
        .parse()
        .map_err(|_| AppError::NotFound { what: "client" })
}

fn parse_num(name: &str, v: &Option<String>, default: usize) -> AppResult<usize> {
    match v.as_deref().map(str::trim) {
        None => Ok(default),
        Some(s) => s
            .parse()
            .map_err(|_| AppError::malformed(name, "an unsigned integer")),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct Paging {
    pub limit: Option<String>,
    pub offset: Option<String>,
}

fn paging(p: &Paging) -> AppResult<(usize, usize)> {
    let limit = parse_num("limit", &p.limit, 100)?;
    if limit == 0 || limit > 1000 {
        return Err(AppError::malformed("limit", "1 to 1000"));
    }
    Ok((limit, parse_num("offset", &p.offset, 0)?))
}
