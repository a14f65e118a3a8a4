//! What went wrong on a page, shown as a page in the user's language (never a bare status).
use super::layout::{Ctx, message_page};
use super::t;
use crate::error::AppError;
use crate::i18n::Lang;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};

pub type UiResult = Result<HttpResponse, UiError>;

/// What went wrong, shown as a page in the user's language.
pub enum UiError {
    /// No (live) staff session: go sign in.
    SignIn,
    /// No (live) cabinet session: go to the cabinet's sign-in.
    CabinetSignIn,
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
            UiError::CabinetSignIn => write!(f, "CabinetSignIn"),
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
            UiError::SignIn | UiError::CabinetSignIn => StatusCode::SEE_OTHER,
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
            UiError::CabinetSignIn => {
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/cabinet/login"))
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
                let body = message_page(
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
            .body(message_page(page_ctx.unwrap_or(&bare), title, text).into_string())
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
        client: None,
        home: "/",
    }
}
