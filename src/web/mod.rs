//! The web kit both audiences' screens are built on — the back office (`ui::staff`) and
//! the client cabinet (`ui::cabinet`): who is signed in (session extractors, CSRF-checked
//! forms), errors shown as pages, the layout, form and table components, and the SVG
//! chart. It knows nothing of routes: `http::ui` maps paths to the screens, the screens
//! use this kit, and the kit uses only services — so nothing here imports `http` or `ui`.

pub mod cabinet;
pub mod chart;
pub mod components;
pub mod error;
pub mod form;
pub mod layout;
pub mod markdown;
pub mod response;
pub mod staff;

pub use components::{
    FieldErrors, csrf_field, field, pager, select, textarea, urlencode, when, when_t,
};
pub use error::{UiError, UiResult, bare_ctx};
pub use form::{Fields, PRE_COOKIE, PrePost, form_pairs};
pub use layout::{CabinetWho, Ctx, message_page, page, role_name, t};
pub use response::{app_of, browser_lang, html_page, retry_after, secure_cookie, see_other};
pub use staff::{Me, Post, SESSION_COOKIE};
