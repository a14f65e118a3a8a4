//! The staff member behind a back-office request: `Me` on a page, `Post` on a form that
//! changes something (a live session and that session's CSRF token).
use super::form::{Form, SignedIn};
use super::layout::Ctx;
use super::{UiError, app_of, browser_lang};
use crate::domain::{Role, StaffSession, User};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::service::{App, audit, sessions, settings, users};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use std::sync::Arc;

/// The staff session's cookie.
pub const SESSION_COOKIE: &str = "licd_session";

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
        let lang = super::response::lang_or(&prefs.lang, lang0);
        let back = super::response::back_of(req);
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
            client: None,
            home: "/",
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

impl SignedIn for Me {
    fn load(req: &HttpRequest) -> Result<Me, UiError> {
        Me::load(req)
    }
    fn lang(&self) -> Lang {
        self.lang
    }
    fn csrf(&self) -> &str {
        &self.session.csrf
    }
}

/// A state-changing back-office request: a signed-in staff member, the form, and a
/// checked CSRF token.
pub type Post = Form<Me>;
