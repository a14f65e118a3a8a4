//! The web UI's routes: which path shows which screen of the back office
//! (`ui::staff`) and of the client cabinet (`ui::cabinet`), the embedded assets, and the
//! UI's own Content-Security-Policy. The screens and the kit they share (`crate::web`)
//! never import this module.
use crate::ui::{cabinet as cab, staff as st};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpResponse, web as aw};

pub const UI_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Who may use a UI route. Staff roles are ordered: an admin may do what a manager may,
/// a manager what a distributor may (`Staff` = any signed-in staff member, whose data is
/// still narrowed to what they may see).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No session needed (sign-in forms, mailed links, assets).
    Public,
    /// Any signed-in staff member (distributor, manager, admin).
    Staff,
    /// A manager or an admin.
    Manager,
    /// An admin only.
    Admin,
    /// A signed-in cabinet client.
    Cabinet,
}

/// One registered UI route: its method, its full path pattern, who may use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

macro_rules! method {
    (GET) => {
        aw::get()
    };
    (POST) => {
        aw::post()
    };
}

/// Declares a route table and the function that registers exactly those routes on a
/// scope, from one list, so the table the tests walk is what the router serves.
macro_rules! routes {
    ($(#[$doc:meta])* $table:ident, $register:ident, $prefix:literal,
     $( $method:ident $path:literal => $handler:path, $access:ident; )*) => {
        $(#[$doc])*
        pub const $table: &[Route] = &[
            $( Route { method: stringify!($method), path: concat!($prefix, $path), access: Access::$access }, )*
        ];
        fn $register<T>(scope: actix_web::Scope<T>) -> actix_web::Scope<T>
        where
            T: actix_web::dev::ServiceFactory<
                    ServiceRequest,
                    Config = (),
                    Error = actix_web::Error,
                    InitError = (),
                >,
        {
            scope $( .route($path, method!($method).to($handler)) )*
        }
    };
}

routes! {
    /// The back office's routes, under the app's root (after `/api`).
    STAFF_ROUTES, staff_routes, "",
        GET "/" => st::auth::root, Public;
        GET "/assets/app.css" => css, Public;
        GET "/assets/logo.svg" => logo, Public;
        GET "/login" => st::auth::login_form, Public;
        POST "/login" => st::auth::login, Public;
        POST "/logout" => st::auth::logout, Staff;
        GET "/setup/{token}" => st::auth::setup_form, Public;
        POST "/setup/{token}" => st::auth::setup, Public;
        GET "/password/{token}" => st::password::set_form, Public;
        POST "/password/{token}" => st::password::set, Public;
        GET "/account" => st::auth::account, Staff;
        POST "/account/password" => st::auth::change_password, Staff;
        POST "/account/lang" => st::auth::change_lang, Staff;
        GET "/clients" => st::clients::list, Staff;
        GET "/clients/new" => st::clients::new_form_page, Staff;
        POST "/clients/new" => st::clients::create, Staff;
        POST "/clients/merge" => st::clients::merge, Manager;
        GET "/clients/{id}" => st::clients::card_page, Staff;
        POST "/clients/{id}" => st::clients::update, Staff;
        POST "/clients/{id}/keys" => st::clients::new_key, Staff;
        POST "/clients/{id}/delete" => st::clients::delete, Manager;
        POST "/clients/{id}/mail" => st::clients::mute, Staff;
        GET "/clients/{id}/statistics" => st::client_reports::statistics, Staff;
        GET "/clients/{id}/statistics.csv" => st::client_reports::statistics_csv, Staff;
        GET "/clients/{id}/summary" => st::client_reports::summary, Staff;
        GET "/clients/{id}/problems" => st::client_reports::problems, Staff;
        GET "/statistics" => st::statistics::page_all, Staff;
        GET "/statistics.csv" => st::statistics::csv, Staff;
        GET "/problems" => st::problems::page_all, Staff;
        GET "/keys" => st::keys::list, Staff;
        GET "/keys/{regnum}" => st::keys::card, Staff;
        POST "/keys/{regnum}/items" => st::keys::add_item, Manager;
        POST "/keys/{regnum}/items/{id}" => st::keys::change_item, Manager;
        POST "/keys/{regnum}/block" => st::keys::block, Manager;
        POST "/keys/{regnum}/unbind" => st::keys::unbind, Staff;
        GET "/coupons" => st::coupons::list, Manager;
        POST "/coupons" => st::coupons::create, Manager;
        GET "/coupons.csv" => st::coupons::csv, Manager;
        GET "/sessions" => st::sessions::monitor, Staff;
        POST "/sessions/end" => st::sessions::end, Staff;
        GET "/products" => st::products::products_list, Manager;
        POST "/products" => st::products::products_create, Admin;
        GET "/products/{code}" => st::products::product_show, Admin;
        POST "/products/{code}" => st::products::product_update, Admin;
        POST "/products/{code}/unbind-limit" => st::products::unbind_limit_save, Admin;
        POST "/products/{code}/delete" => st::products::product_delete, Admin;
        GET "/distributors" => st::distributors::distributors_list, Admin;
        POST "/distributors" => st::distributors::distributors_create, Admin;
        GET "/distributors/{code}" => st::distributors::distributor_show, Admin;
        POST "/distributors/{code}" => st::distributors::distributor_update, Admin;
        POST "/distributors/{code}/delete" => st::distributors::distributor_delete, Admin;
        GET "/releases" => st::releases::list, Manager;
        POST "/releases" => st::releases::publish, Admin;
        GET "/releases/{id}" => st::releases::show, Manager;
        POST "/releases/{id}" => st::releases::update, Admin;
        POST "/releases/{id}/yank" => st::releases::yank, Admin;
        POST "/releases/{id}/delete" => st::releases::delete, Admin;
        GET "/releases/{id}/file" => st::releases::file, Manager;
        GET "/users" => st::users::users_list, Admin;
        POST "/users" => st::users::users_create, Admin;
        POST "/users/{login}" => st::users::users_change, Admin;
        GET "/tokens" => st::tokens::tokens_list, Admin;
        POST "/tokens" => st::tokens::tokens_create, Admin;
        POST "/tokens/{id}/revoke" => st::tokens::tokens_revoke, Admin;
        GET "/settings" => st::settings::settings_show, Admin;
        POST "/settings" => st::settings::settings_save, Admin;
        GET "/audit" => st::audit::audit_list, Admin;
        GET "/outbox" => st::outbox::list, Admin;
        GET "/outbox/{id}" => st::outbox::show, Admin;
        POST "/outbox/{id}/retry" => st::outbox::retry, Admin;
        POST "/outbox/{id}/drop" => st::outbox::drop_mail, Admin;
        GET "/system" => st::system::show, Admin;
        POST "/system/backup" => st::system::back_up_now, Admin;
        POST "/system/backup-settings" => st::system::save_settings, Admin;
        POST "/system/smtp" => st::system::save_smtp, Admin;
        POST "/system/test-mail" => st::system::test_mail, Admin;
        POST "/system/tls" => st::system::replace_cert, Admin;
        POST "/system/signing-rotate" => st::system::rotate_signing, Admin;
        GET "/system/backups/{name}" => st::system::download, Admin;
}

routes! {
    /// The client cabinet's routes, under `/cabinet`.
    CABINET_ROUTES, cabinet_routes, "/cabinet",
        GET "" => cab::root, Public;
        GET "/" => cab::root, Public;
        GET "/login" => cab::auth::login_form, Public;
        POST "/login" => cab::auth::login, Public;
        POST "/code" => cab::auth::request_code, Public;
        GET "/password" => cab::auth::link_form, Public;
        POST "/password" => cab::auth::request_link, Public;
        GET "/password/{token}" => cab::auth::set_form, Public;
        POST "/password/{token}" => cab::auth::set, Public;
        POST "/logout" => cab::auth::logout, Cabinet;
        POST "/lang" => cab::settings::lang, Cabinet;
        GET "/statistics" => cab::statistics::show, Cabinet;
        GET "/statistics.csv" => cab::statistics::csv, Cabinet;
        GET "/keys" => cab::holdings::keys, Cabinet;
        GET "/keys/{regnum}" => cab::holdings::key, Cabinet;
        GET "/summary" => cab::holdings::summary, Cabinet;
        GET "/problems" => cab::problems::show, Cabinet;
        GET "/sessions" => cab::sessions::show, Cabinet;
        POST "/sessions/unbind" => cab::sessions::unbind, Cabinet;
        POST "/sessions/end" => cab::sessions::end, Cabinet;
        GET "/distributions" => cab::distributions::show, Cabinet;
        GET "/distributions/{id}/file" => cab::distributions::file, Cabinet;
        GET "/settings" => cab::settings::show, Cabinet;
        POST "/settings" => cab::settings::save, Cabinet;
        POST "/settings/password" => cab::settings::password, Cabinet;
}

/// Every UI route, the back office's and the cabinet's.
pub fn routes() -> impl Iterator<Item = &'static Route> {
    STAFF_ROUTES.iter().chain(CABINET_ROUTES.iter())
}

/// The UI's routes, under the app's root (after `/api`).
pub fn scope() -> impl actix_web::dev::HttpServiceFactory {
    staff_routes(aw::scope("").service(cabinet_scope()))
        .default_service(aw::to(st::auth::not_found))
        .wrap(from_fn(ui_headers))
}

/// The client cabinet's routes, under `/cabinet`.
fn cabinet_scope() -> actix_web::Scope {
    cabinet_routes(aw::scope("/cabinet")).default_service(aw::to(cab::not_found))
}

/// UI pages may load their own stylesheet and images; nothing else. A screen that needs
/// another policy sets its own (a mail's page, for the mail's inline styles).
async fn ui_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    if !res.headers().contains_key(header::CONTENT_SECURITY_POLICY) {
        res.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(UI_CSP),
        );
    }
    Ok(res)
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(crate::web::layout::CSS)
}

async fn logo() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(crate::web::layout::LOGO_SVG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ui_route_is_in_the_table_once_with_its_access() {
        let all: Vec<&Route> = routes().collect();
        assert_eq!(all.len(), STAFF_ROUTES.len() + CABINET_ROUTES.len());
        for (i, r) in all.iter().enumerate() {
            assert!(
                !all[..i]
                    .iter()
                    .any(|o| o.method == r.method && o.path == r.path),
                "{} {} twice",
                r.method,
                r.path
            );
            assert!(matches!(r.method, "GET" | "POST"), "{r:?}");
            assert!(r.path.starts_with('/'), "{r:?}");
            let cabinet = r.path.starts_with("/cabinet");
            assert_eq!(
                r.access == Access::Cabinet,
                cabinet && r.access != Access::Public,
                "cabinet routes are for clients, staff routes never: {r:?}"
            );
        }
        // Registration goes through the table only: the one route call in this file is
        // the macro's, so a route added beside the table cannot escape the tests.
        let src = include_str!("ui.rs");
        let calls = src.matches(concat!(".", "route(")).count();
        assert_eq!(calls, 1, "register UI routes only through `routes!`");
    }
}
