//! The web UI's routes: which path shows which screen of the back office
//! (`ui::staff`) and of the client cabinet (`ui::cabinet`), the embedded assets, and the
//! UI's own Content-Security-Policy. The screens and the kit they share (`crate::web`)
//! never import this module.
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpResponse, web as aw};

pub const UI_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The UI's routes, under the app's root (after `/api`).
pub fn scope() -> impl actix_web::dev::HttpServiceFactory {
    use crate::ui::staff::{
        audit, auth, client_reports, clients, coupons, distributors, keys, outbox, password,
        problems, products, releases, sessions as mon, settings, statistics, system, tokens, users,
    };
    aw::scope("")
        .wrap(from_fn(ui_headers))
        .service(cabinet_scope())
        .route("/", aw::get().to(auth::root))
        .route("/assets/app.css", aw::get().to(css))
        .route("/assets/logo.svg", aw::get().to(logo))
        .route("/login", aw::get().to(auth::login_form))
        .route("/login", aw::post().to(auth::login))
        .route("/logout", aw::post().to(auth::logout))
        .route("/setup/{token}", aw::get().to(auth::setup_form))
        .route("/setup/{token}", aw::post().to(auth::setup))
        .route("/password/{token}", aw::get().to(password::set_form))
        .route("/password/{token}", aw::post().to(password::set))
        .route("/account", aw::get().to(auth::account))
        .route("/account/password", aw::post().to(auth::change_password))
        .route("/account/lang", aw::post().to(auth::change_lang))
        .route("/clients", aw::get().to(clients::list))
        .route("/clients/new", aw::get().to(clients::new_form_page))
        .route("/clients/new", aw::post().to(clients::create))
        .route("/clients/merge", aw::post().to(clients::merge))
        .route("/clients/{id}", aw::get().to(clients::card_page))
        .route("/clients/{id}", aw::post().to(clients::update))
        .route("/clients/{id}/keys", aw::post().to(clients::new_key))
        .route("/clients/{id}/delete", aw::post().to(clients::delete))
        .route("/clients/{id}/mail", aw::post().to(clients::mute))
        .route(
            "/clients/{id}/statistics",
            aw::get().to(client_reports::statistics),
        )
        .route(
            "/clients/{id}/statistics.csv",
            aw::get().to(client_reports::statistics_csv),
        )
        .route(
            "/clients/{id}/summary",
            aw::get().to(client_reports::summary),
        )
        .route(
            "/clients/{id}/problems",
            aw::get().to(client_reports::problems),
        )
        .route("/statistics", aw::get().to(statistics::page_all))
        .route("/statistics.csv", aw::get().to(statistics::csv))
        .route("/problems", aw::get().to(problems::page_all))
        .route("/keys", aw::get().to(keys::list))
        .route("/keys/{regnum}", aw::get().to(keys::card))
        .route("/keys/{regnum}/items", aw::post().to(keys::add_item))
        .route(
            "/keys/{regnum}/items/{id}",
            aw::post().to(keys::change_item),
        )
        .route("/keys/{regnum}/block", aw::post().to(keys::block))
        .route("/keys/{regnum}/unbind", aw::post().to(keys::unbind))
        .route("/coupons", aw::get().to(coupons::list))
        .route("/coupons", aw::post().to(coupons::create))
        .route("/coupons.csv", aw::get().to(coupons::csv))
        .route("/sessions", aw::get().to(mon::monitor))
        .route("/sessions/end", aw::post().to(mon::end))
        .route("/products", aw::get().to(products::products_list))
        .route("/products", aw::post().to(products::products_create))
        .route("/products/{code}", aw::get().to(products::product_show))
        .route("/products/{code}", aw::post().to(products::product_update))
        .route(
            "/products/{code}/unbind-limit",
            aw::post().to(products::unbind_limit_save),
        )
        .route(
            "/products/{code}/delete",
            aw::post().to(products::product_delete),
        )
        .route(
            "/distributors",
            aw::get().to(distributors::distributors_list),
        )
        .route(
            "/distributors",
            aw::post().to(distributors::distributors_create),
        )
        .route(
            "/distributors/{code}",
            aw::get().to(distributors::distributor_show),
        )
        .route(
            "/distributors/{code}",
            aw::post().to(distributors::distributor_update),
        )
        .route(
            "/distributors/{code}/delete",
            aw::post().to(distributors::distributor_delete),
        )
        .route("/releases", aw::get().to(releases::list))
        .route("/releases", aw::post().to(releases::publish))
        .route("/releases/{id}", aw::get().to(releases::show))
        .route("/releases/{id}", aw::post().to(releases::update))
        .route("/releases/{id}/yank", aw::post().to(releases::yank))
        .route("/releases/{id}/delete", aw::post().to(releases::delete))
        .route("/releases/{id}/file", aw::get().to(releases::file))
        .route("/users", aw::get().to(users::users_list))
        .route("/users", aw::post().to(users::users_create))
        .route("/users/{login}", aw::post().to(users::users_change))
        .route("/tokens", aw::get().to(tokens::tokens_list))
        .route("/tokens", aw::post().to(tokens::tokens_create))
        .route("/tokens/{id}/revoke", aw::post().to(tokens::tokens_revoke))
        .route("/settings", aw::get().to(settings::settings_show))
        .route("/settings", aw::post().to(settings::settings_save))
        .route("/audit", aw::get().to(audit::audit_list))
        .route("/outbox", aw::get().to(outbox::list))
        .route("/outbox/{id}", aw::get().to(outbox::show))
        .route("/outbox/{id}/retry", aw::post().to(outbox::retry))
        .route("/outbox/{id}/drop", aw::post().to(outbox::drop_mail))
        .route("/system", aw::get().to(system::show))
        .route("/system/backup", aw::post().to(system::back_up_now))
        .route(
            "/system/backup-settings",
            aw::post().to(system::save_settings),
        )
        .route("/system/smtp", aw::post().to(system::save_smtp))
        .route("/system/test-mail", aw::post().to(system::test_mail))
        .route("/system/tls", aw::post().to(system::replace_cert))
        .route(
            "/system/signing-rotate",
            aw::post().to(system::rotate_signing),
        )
        .route("/system/backups/{name}", aw::get().to(system::download))
        .default_service(aw::to(auth::not_found))
}

/// The client cabinet's routes, under `/cabinet`.
fn cabinet_scope() -> actix_web::Scope {
    use crate::ui::cabinet::{
        self as cab, auth, distributions, holdings, problems, sessions, settings, statistics,
    };
    aw::scope("/cabinet")
        .route("", aw::get().to(cab::root))
        .route("/", aw::get().to(cab::root))
        .route("/login", aw::get().to(auth::login_form))
        .route("/login", aw::post().to(auth::login))
        .route("/code", aw::post().to(auth::request_code))
        .route("/password", aw::get().to(auth::link_form))
        .route("/password", aw::post().to(auth::request_link))
        .route("/password/{token}", aw::get().to(auth::set_form))
        .route("/password/{token}", aw::post().to(auth::set))
        .route("/logout", aw::post().to(auth::logout))
        .route("/lang", aw::post().to(settings::lang))
        .route("/statistics", aw::get().to(statistics::show))
        .route("/statistics.csv", aw::get().to(statistics::csv))
        .route("/keys", aw::get().to(holdings::keys))
        .route("/keys/{regnum}", aw::get().to(holdings::key))
        .route("/summary", aw::get().to(holdings::summary))
        .route("/problems", aw::get().to(problems::show))
        .route("/sessions", aw::get().to(sessions::show))
        .route("/sessions/unbind", aw::post().to(sessions::unbind))
        .route("/sessions/end", aw::post().to(sessions::end))
        .route("/distributions", aw::get().to(distributions::show))
        .route(
            "/distributions/{id}/file",
            aw::get().to(distributions::file),
        )
        .route("/settings", aw::get().to(settings::show))
        .route("/settings", aw::post().to(settings::save))
        .route("/settings/password", aw::post().to(settings::password))
        .default_service(aw::to(cab::not_found))
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
