//! Forms: the decoded fields, and the double-submit-checked form of the pages that have
//! no session yet (sign-in, setup, password links).
use super::layout::{Ctx, page};
use super::{UiError, app_of, browser_lang};
use super::{bare_ctx, html_page, secure_cookie};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::service::{App, sessions};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use std::future::Future;
use std::pin::Pin;

/// The double-submit cookie of forms posted without a session.
pub const PRE_COOKIE: &str = "licd_presign";

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

pub(super) async fn read_form(
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

/// A page with a pre-sign-in form: reuses the browser's double-submit token when it has
/// one (so two open tabs both work), else sets a new one.
pub fn pre_html(
    home: &'static str,
    l: Lang,
    status: StatusCode,
    title: &str,
    token: Option<String>,
    make: impl Fn(&Ctx) -> Markup,
) -> HttpResponse {
    let token = token
        .filter(|t| t.len() == 64)
        .unwrap_or_else(sessions::random_secret);
    let mut ctx = bare_ctx(l);
    ctx.home = home;
    ctx.csrf = token.clone();
    let html = page(&ctx, title, html! { section.card.narrow { (make(&ctx)) } });
    let mut res = html_page(status, html);
    let _ = res.add_cookie(&secure_cookie(PRE_COOKIE, token, 3600));
    res
}

pub fn pre_token(req: &HttpRequest) -> Option<String> {
    req.cookie(PRE_COOKIE).map(|c| c.value().to_owned())
}

/// Who a page request is from (a staff member, a client), as the CSRF check needs it.
pub trait SignedIn: Sized {
    fn load(req: &HttpRequest) -> Result<Self, UiError>;
    fn lang(&self) -> Lang;
    /// The session's CSRF token.
    fn csrf(&self) -> &str;
}

/// A state-changing request of a signed-in `T`: its form, the CSRF token checked
/// (compared in constant time) against `T`'s session.
pub struct Form<T> {
    pub me: T,
    pub form: Fields,
}

impl<T: SignedIn + 'static> FromRequest for Form<T> {
    type Error = UiError;
    type Future = Pin<Box<dyn Future<Output = Result<Form<T>, UiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let me = T::load(&req)?;
            let form = read_form(&req, &mut payload, me.lang()).await?;
            if !sessions::same(form.get("csrf"), me.csrf()) {
                return Err(UiError::BadCsrf(me.lang()));
            }
            Ok(Form { me, form })
        })
    }
}
