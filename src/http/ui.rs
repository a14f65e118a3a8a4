//! The back office's routes: sign-in and sessions (cookie + CSRF), role checks, and the
//! handlers of every screen. Pages are rendered by `crate::ui`.
//!
//! Every state-changing request is a POST through `Post`, which needs a live session and
//! that session's CSRF token (compared in constant time); sign-in and first-admin setup,
//! which have no session yet, use a double-submit token cookie instead.
use crate::domain::{Role, StaffSession, User};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::service::{App, audit, sessions, settings, users};
use crate::ui::{self, Ctx, t};
use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub const SESSION_COOKIE: &str = "licd_session";
pub const PRE_COOKIE: &str = "licd_presign";
pub const UI_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The UI's routes, under the app's root (after `/api`).
pub fn scope() -> impl actix_web::dev::HttpServiceFactory {
    use crate::ui::{admin, auth, clients, coupons, keys, sessions as mon};
    web::scope("")
        .wrap(from_fn(ui_headers))
        .route("/", web::get().to(auth::root))
        .route("/assets/app.css", web::get().to(css))
        .route("/assets/logo.svg", web::get().to(logo))
        .route("/login", web::get().to(auth::login_form))
        .route("/login", web::post().to(auth::login))
        .route("/logout", web::post().to(auth::logout))
        .route("/setup/{token}", web::get().to(auth::setup_form))
        .route("/setup/{token}", web::post().to(auth::setup))
        .route("/account", web::get().to(auth::account))
        .route("/account/password", web::post().to(auth::change_password))
        .route("/account/lang", web::post().to(auth::change_lang))
        .route("/clients", web::get().to(clients::list))
        .route("/clients/new", web::get().to(clients::new_form_page))
        .route("/clients/new", web::post().to(clients::create))
        .route("/clients/merge", web::post().to(clients::merge))
        .route("/clients/{id}", web::get().to(clients::card_page))
        .route("/clients/{id}", web::post().to(clients::update))
        .route("/clients/{id}/keys", web::post().to(clients::new_key))
        .route("/clients/{id}/delete", web::post().to(clients::delete))
        .route("/keys", web::get().to(keys::list))
        .route("/keys/{regnum}", web::get().to(keys::card))
        .route("/keys/{regnum}/items", web::post().to(keys::add_item))
        .route(
            "/keys/{regnum}/items/{id}",
            web::post().to(keys::change_item),
        )
        .route("/keys/{regnum}/block", web::post().to(keys::block))
        .route("/keys/{regnum}/unbind", web::post().to(keys::unbind))
        .route("/coupons", web::get().to(coupons::list))
        .route("/coupons", web::post().to(coupons::create))
        .route("/coupons.csv", web::get().to(coupons::csv))
        .route("/sessions", web::get().to(mon::monitor))
        .route("/sessions/end", web::post().to(mon::end))
        .route("/products", web::get().to(admin::products_list))
        .route("/products", web::post().to(admin::products_create))
        .route("/products/{code}", web::get().to(admin::product_show))
        .route("/products/{code}", web::post().to(admin::product_update))
        .route(
            "/products/{code}/delete",
            web::post().to(admin::product_delete),
        )
        .route("/distributors", web::get().to(admin::distributors_list))
        .route("/distributors", web::post().to(admin::distributors_create))
        .route(
            "/distributors/{code}",
            web::get().to(admin::distributor_show),
        )
        .route(
            "/distributors/{code}",
            web::post().to(admin::distributor_update),
        )
        .route(
            "/distributors/{code}/delete",
            web::post().to(admin::distributor_delete),
        )
        .route("/users", web::get().to(admin::users_list))
        .route("/users", web::post().to(admin::users_create))
        .route("/users/{login}", web::post().to(admin::users_change))
        .route("/tokens", web::get().to(admin::tokens_list))
        .route("/tokens", web::post().to(admin::tokens_create))
        .route("/tokens/{id}/revoke", web::post().to(admin::tokens_revoke))
        .route("/settings", web::get().to(admin::settings_show))
        .route("/settings", web::post().to(admin::settings_save))
        .route("/audit", web::get().to(admin::audit_list))
        .default_service(web::to(auth::not_found))
}

/// UI pages may load their own stylesheet and images; nothing else.
async fn ui_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(UI_CSP),
    );
    Ok(res)
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(ui::CSS)
}

async fn logo() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(ui::LOGO_SVG)
}

pub fn app_of(req: &HttpRequest) -> Result<web::Data<App>, UiError> {
    req.app_data::<web::Data<App>>()
        .cloned()
        .ok_or_else(|| UiError::App(AppError::internal("app data missing"), Lang::En))
}

/// The browser's language (before we know the user).
pub fn browser_lang(req: &HttpRequest) -> Lang {
    Lang::from_accept_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// What went wrong, shown as a page in the user's language.
pub enum UiError {
    /// No (live) session: go sign in.
    SignIn,
    Forbidden(Lang),
    NotFound(Lang),
    BadCsrf(Lang),
    App(AppError, Lang),
    /// An error met by a signed-in user: shown inside the usual page, with navigation.
    InPage(Box<Ctx>, Box<UiError>),
}

impl std::fmt::Debug for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UiError::SignIn => write!(f, "SignIn"),
            UiError::Forbidden(_) => write!(f, "Forbidden"),
            UiError::NotFound(_) => write!(f, "NotFound"),
            UiError::BadCsrf(_) => write!(f, "BadCsrf"),
            UiError::App(e, _) => write!(f, "App({e:?})"),
            UiError::InPage(_, e) => write!(f, "{e:?}"),
        }
    }
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            UiError::SignIn => StatusCode::SEE_OTHER,
            UiError::Forbidden(_) | UiError::BadCsrf(_) => StatusCode::FORBIDDEN,
            UiError::NotFound(_) => StatusCode::NOT_FOUND,
            UiError::App(e, _) => e.status(),
            UiError::InPage(_, e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.render(None)
    }
}

impl UiError {
    fn render(&self, page_ctx: Option<&Ctx>) -> HttpResponse {
        let (l, title, text) = match self {
            UiError::InPage(ctx, e) => return e.render(Some(ctx)),
            UiError::SignIn => {
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/login"))
                    .finish();
            }
            UiError::Forbidden(l) => (
                *l,
                t(*l, "Access denied", "Доступ запрещён"),
                t(
                    *l,
                    "Your role does not allow this page or action.",
                    "Ваша роль не даёт доступа к этой странице или действию.",
                ),
            ),
            UiError::NotFound(l) => (
                *l,
                t(*l, "Not found", "Не найдено"),
                t(
                    *l,
                    "There is no such page or record.",
                    "Такой страницы или записи нет.",
                ),
            ),
            UiError::BadCsrf(l) => (
                *l,
                t(*l, "The form has expired", "Форма устарела"),
                t(
                    *l,
                    "Reload the page and send the form again.",
                    "Обновите страницу и отправьте форму ещё раз.",
                ),
            ),
            UiError::App(e, l) => {
                let bare = bare_ctx(*l);
                let body = ui::message_page(
                    page_ctx.unwrap_or(&bare),
                    t(*l, "Something went wrong", "Что-то пошло не так"),
                    &e.message(*l),
                );
                return HttpResponse::build(e.status())
                    .content_type("text/html; charset=utf-8")
                    .body(body.into_string());
            }
        };
        let bare = bare_ctx(l);
        HttpResponse::build(self.status_code())
            .content_type("text/html; charset=utf-8")
            .body(ui::message_page(page_ctx.unwrap_or(&bare), title, text).into_string())
    }
}

pub fn bare_ctx(l: Lang) -> Ctx {
    Ctx {
        lang: l,
        user: None,
        csrf: String::new(),
        vendor: "licd".into(),
        nav: "",
        flash: None,
        back: String::new(),
    }
}

/// A signed-in staff member on a page request.
pub struct Me {
    pub app: web::Data<App>,
    pub user: User,
    pub session: StaffSession,
    pub secret: String,
    pub lang: Lang,
    pub vendor: String,
    /// The page's path and query when it was a GET (for the language switch).
    pub back: String,
}

impl Me {
    fn load(req: &HttpRequest) -> Result<Me, UiError> {
        let app = app_of(req)?;
        let lang0 = browser_lang(req);
        let secret = req
            .cookie(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .ok_or(UiError::SignIn)?;
        let (session, user) = sessions::session_of(&app, &secret)
            .map_err(|e| UiError::App(e, lang0))?
            .ok_or(UiError::SignIn)?;
        let tx = app
            .store
            .read()
            .map_err(|e| UiError::App(e.into(), lang0))?;
        let prefs = users::prefs(&tx, &user.login).map_err(|e| UiError::App(e.into(), lang0))?;
        let vendor = settings::read(&tx)
            .map_err(|e| UiError::App(e.into(), lang0))?
            .vendor_name;
        let lang = match prefs.lang.as_str() {
            "ru" => Lang::Ru,
            "en" => Lang::En,
            _ => lang0,
        };
        let back = if req.method() == actix_web::http::Method::GET {
            req.uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Me {
            back,
            app,
            user,
            session,
            secret,
            lang,
            vendor,
        })
    }

    /// Refuses (403 page) unless the user's role is at least `role`.
    pub fn require(&self, role: Role) -> Result<(), UiError> {
        if self.user.role >= role {
            Ok(())
        } else {
            Err(self.forbidden())
        }
    }

    pub fn ctx(&self, nav: &'static str, flash: Option<String>) -> Ctx {
        Ctx {
            lang: self.lang,
            user: Some(self.user.clone()),
            csrf: self.session.csrf.clone(),
            vendor: self.vendor.clone(),
            nav,
            flash,
            back: self.back.clone(),
        }
    }

    /// An `AppError` as this user's error page.
    pub fn err(&self, e: impl Into<AppError>) -> UiError {
        self.in_page(UiError::App(e.into(), self.lang))
    }

    pub fn forbidden(&self) -> UiError {
        self.in_page(UiError::Forbidden(self.lang))
    }

    pub fn not_found(&self) -> UiError {
        self.in_page(UiError::NotFound(self.lang))
    }

    fn in_page(&self, e: UiError) -> UiError {
        UiError::InPage(Box::new(self.ctx("", None)), Box::new(e))
    }

    pub fn app(&self) -> Arc<App> {
        self.app.clone().into_inner()
    }

    /// Writes an audit entry for a change this user made.
    pub async fn audit(&self, action: &str, target: &str, detail: &str) -> Result<(), UiError> {
        audit::record(&self.app, &self.user.login, action, target, detail)
            .await
            .map_err(|e| self.err(e))
    }
}

impl Me {
    /// The signed-in user of a request, if any.
    pub fn from_req(req: &HttpRequest) -> Result<Me, UiError> {
        Me::load(req)
    }
}

impl FromRequest for Me {
    type Error = UiError;
    type Future = std::future::Ready<Result<Me, UiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Me::load(req))
    }
}

/// A form's fields, in order (repeated names kept).
#[derive(Default, Debug)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

const FORM_LIMIT: usize = 256 * 1024;

async fn read_form(
    req: &HttpRequest,
    payload: &mut Payload,
    lang: Lang,
) -> Result<Fields, UiError> {
    let body = web::Bytes::from_request(req, payload)
        .await
        .map_err(|_| UiError::App(AppError::TooLarge { limit: FORM_LIMIT }, lang))?;
    if body.len() > FORM_LIMIT {
        return Err(UiError::App(AppError::TooLarge { limit: FORM_LIMIT }, lang));
    }
    let pairs: Vec<(String, String)> = form_pairs(&body);
    Ok(Fields(pairs))
}

/// Decodes `application/x-www-form-urlencoded`.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut it = p.splitn(2, |b| *b == b'=');
            let k = it.next().unwrap_or_default();
            let v = it.next().unwrap_or_default();
            (decode_component(k), decode_component(v))
        })
        .collect()
}

fn decode_component(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                let hex = std::str::from_utf8(&s[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A state-changing request: a signed-in user, the form, and a checked CSRF token.
pub struct Post {
    pub me: Me,
    pub form: Fields,
}

impl FromRequest for Post {
    type Error = UiError;
    type Future = Pin<Box<dyn Future<Output = Result<Post, UiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let me = Me::load(&req)?;
            let form = read_form(&req, &mut payload, me.lang).await?;
            if !sessions::same(form.get("csrf"), &me.session.csrf) {
                return Err(UiError::BadCsrf(me.lang));
            }
            Ok(Post { me, form })
        })
    }
}

/// A form posted without a session (sign-in, setup), guarded by a double-submit
/// token: the `licd_presign` cookie must equal the form's `csrf` field.
pub struct PrePost {
    pub form: Fields,
    pub lang: Lang,
    pub app: web::Data<App>,
    pub ip: std::net::IpAddr,
    /// The double-submit token (already checked).
    pub token: String,
}

impl FromRequest for PrePost {
    type Error = UiError;
    type Future = Pin<Box<dyn Future<Output = Result<PrePost, UiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let lang = browser_lang(&req);
            let app = app_of(&req)?;
            let form = read_form(&req, &mut payload, lang).await?;
            let cookie = req
                .cookie(PRE_COOKIE)
                .map(|c| c.value().to_owned())
                .unwrap_or_default();
            if cookie.is_empty() || !sessions::same(form.get("csrf"), &cookie) {
                return Err(UiError::BadCsrf(lang));
            }
            let ip = req
                .peer_addr()
                .map_or(std::net::IpAddr::from([127, 0, 0, 1]), |a| a.ip());
            Ok(PrePost {
                form,
                lang,
                app,
                ip,
                token: cookie,
            })
        })
    }
}

pub fn secure_cookie<'a>(name: &'a str, value: String, max_age_s: i64) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_s))
        .finish()
}

/// 303 to `to` (after a POST).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

pub fn html_page(status: StatusCode, m: maud::Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(m.into_string())
}

pub type UiResult = Result<HttpResponse, UiError>;
