//! The OpenAPI 3 document, generated from the handlers' annotations.
use actix_web::HttpResponse;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "licd", description = "Self-hosted software license server: the protected-app API (/api/v1, every body signed with Ed25519 in Licd-Signature) and the admin API (/api/admin/v1, bearer tokens)."),
    paths(
        super::api::post_trial,
        super::api::post_activate,
        super::api::post_lease,
        super::api::post_heartbeat,
        super::api::delete_lease,
        super::api::get_key,
        super::api::get_diag,
        super::api::get_license,
        super::api::get_signing_key,
        super::admin_api::rotate_signing_key,
        super::releases_api::latest,
        super::releases_api::key_file,
        super::releases_api::publish,
        super::releases_api::list,
        super::releases_api::get_one,
        super::releases_api::patch,
        super::releases_api::remove,
        super::releases_api::staff_file,
        super::admin_api::create_product,
        super::admin_api::list_products,
        super::admin_api::get_product,
        super::admin_api::update_product,
        super::admin_api::delete_product,
        super::admin_api::create_client,
        super::admin_api::list_clients,
        super::admin_api::get_client,
        super::admin_api::update_client,
        super::admin_api::delete_client,
        super::admin_api::merge_clients,
        super::admin_api::create_key,
        super::admin_api::list_keys,
        super::admin_api::get_key,
        super::admin_api::patch_key,
        super::admin_api::add_item,
        super::admin_api::change_item,
        super::admin_api::remove_item,
        super::admin_api::unbind,
        super::admin_api::key_denials,
        super::admin_api::key_usage,
        super::admin_api::create_coupons,
        super::admin_api::list_coupons,
        super::admin_api::list_leases,
        super::admin_api::end_lease,
        super::admin_api::create_distributor,
        super::admin_api::list_distributors,
        super::admin_api::create_user,
        super::admin_api::list_users,
        super::admin_api::list_tokens,
        super::admin_api::create_token,
        super::admin_api::revoke_token,
        super::admin_api::get_settings,
        super::admin_api::get_backup,
        super::admin_api::patch_settings,
        super::observe::metrics,
    ),
    modifiers(&Security)
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as served: generated, then refined by `openapi_rules`, made once.
pub fn json() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        super::openapi_rules::refine(&mut doc);
        serde_json::to_string(&doc).unwrap_or_else(|_| "{}".into())
    })
}

pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(json())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(method, path)` of every `.route("PATH", web::METHOD()…)` in `src` between the
    /// markers `from` and `to`.
    fn routes_in(src: &str, from: &str, to: &str) -> Vec<(String, String)> {
        let start = src.find(from).expect("start marker");
        let end = start + src[start..].find(to).expect("end marker");
        let mut out = Vec::new();
        let mut rest = &src[start..end];
        while let Some(at) = rest.find(".route(\"") {
            rest = &rest[at + 8..];
            let path = &rest[..rest.find('"').expect("end of path")];
            let m = &rest[rest.find("web::").expect("a method") + 5..];
            let method = &m[..m.find('(').expect("method call")];
            out.push((method.to_owned(), path.to_owned()));
        }
        out
    }

    #[test]
    fn every_admin_api_route_is_in_the_openapi_document() {
        let doc: serde_json::Value =
            serde_json::from_str(&ApiDoc::openapi().to_json().expect("json")).expect("doc");
        let mut routes = routes_in(
            include_str!("admin_api/mod.rs"),
            "pub fn scope()",
            "super::releases_api::admin",
        );
        routes.extend(routes_in(
            include_str!("releases_api.rs"),
            "pub fn admin(",
            "pub fn protected(",
        ));
        assert!(routes.len() > 40, "{routes:?}");
        // `web::route()` is the catch-all that answers 405 for other methods.
        for (method, path) in routes.iter().filter(|(m, _)| m != "head" && m != "route") {
            let full = format!("/api/admin/v1{path}");
            assert!(
                doc["paths"][&full][method].is_object(),
                "{method} {full} is served but not in the OpenAPI document (so the role tests miss it)"
            );
        }
    }
}
