//! The client behind a cabinet request: `Visitor` on a page, `VisitorPost` on a form that
//! changes something (a live cabinet session and that session's CSRF token). Cabinet
//! sessions are their own cookie, limited to `/cabinet`, never a staff session.
use super::form::{Form, SignedIn};
use super::layout::{CabinetWho, Ctx};
use super::{UiError, app_of, browser_lang};
use crate::domain::Client;
use crate::domain::cabinet::CabinetSession;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::service::cabinet;
use crate::service::{App, settings};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

/// The cabinet session's cookie.
pub const CABINET_COOKIE: &str = "licd_cabinet";

/// The cabinet's session cookie: HttpOnly, Secure, SameSite=Strict, only sent to
/// `/cabinet` (so staff pages never see it); it lives as long as the session may.
pub fn cabinet_cookie(value: String, max_age_s: i64) -> Cookie<'static> {
    Cookie::build(CABINET_COOKIE, value)
        .path("/cabinet")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_s))
        .finish()
}

/// A signed-in client on a cabinet page.
pub struct Visitor {
    pub app: web::Data<App>,
    pub session: CabinetSession,
    pub client: Client,
    pub secret: String,
    pub lang: Lang,
    pub vendor: String,
    /// The page's path and query when it was a GET (for the language switch).
    pub back: String,
}

impl Visitor {
    fn load(req: &HttpRequest) -> Result<Visitor, UiError> {
        let app = app_of(req)?;
        let lang0 = browser_lang(req);
        let secret = req
            .cookie(CABINET_COOKIE)
            .map(|c| c.value().to_owned())
            .ok_or(UiError::CabinetSignIn)?;
        let (session, client) = cabinet::session_of(&app.clone().into_inner(), &secret)
            .map_err(|e| UiError::App(e, lang0))?
            .ok_or(UiError::CabinetSignIn)?;
        let tx = app
            .store
            .read()
            .map_err(|e| UiError::App(e.into(), lang0))?;
        let prefs = cabinet::prefs(&tx, client.id).map_err(|e| UiError::App(e.into(), lang0))?;
        let vendor = settings::read(&tx)
            .map_err(|e| UiError::App(e.into(), lang0))?
            .vendor_name;
        let lang = super::response::lang_or(&prefs.lang, lang0);
        let back = super::response::back_of(req);
        Ok(Visitor {
            app,
            session,
            client,
            secret,
            lang,
            vendor,
            back,
        })
    }

    pub fn ctx(&self, nav: &'static str, flash: Option<String>) -> Ctx {
        Ctx {
            lang: self.lang,
            user: None,
            csrf: self.session.csrf.clone(),
            vendor: self.vendor.clone(),
            nav,
            flash,
            back: self.back.clone(),
            client: Some(CabinetWho {
                company: self.client.company.clone(),
                regnum: self.session.regnum.clone(),
            }),
            home: "/cabinet",
        }
    }

    /// The audit log's actor for this client's own changes.
    pub fn actor(&self) -> String {
        format!("client:{}", self.session.regnum)
    }

    pub fn err(&self, e: impl Into<AppError>) -> UiError {
        self.in_page(UiError::App(e.into(), self.lang))
    }

    pub fn not_found(&self) -> UiError {
        self.in_page(UiError::NotFound(self.lang))
    }

    fn in_page(&self, e: UiError) -> UiError {
        UiError::InPage(Box::new(self.ctx("", None)), Box::new(e))
    }
}

impl FromRequest for Visitor {
    type Error = UiError;
    type Future = std::future::Ready<Result<Visitor, UiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Visitor::load(req))
    }
}

impl SignedIn for Visitor {
    fn load(req: &HttpRequest) -> Result<Visitor, UiError> {
        Visitor::load(req)
    }
    fn lang(&self) -> Lang {
        self.lang
    }
    fn csrf(&self) -> &str {
        &self.session.csrf
    }
}

/// A state-changing cabinet request: a signed-in client, the form, a checked CSRF token.
pub type VisitorPost = Form<Visitor>;
