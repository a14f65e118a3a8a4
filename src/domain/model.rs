//! The records licd keeps. Stored through `store::codec`; a change of shape here needs
//! a migration step in `store::migrate`.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// How a seat of a feature is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// One seat per OS / domain user, however many sessions.
    User,
    /// One seat per host, which stays bound to it until unbound.
    Host,
    /// One seat per database.
    Database,
    /// Every session is a seat.
    Session,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::User => "user",
            Unit::Host => "host",
            Unit::Database => "database",
            Unit::Session => "session",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    pub number: u32,
    pub name: String,
    pub unit: Unit,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialItem {
    pub feature: u32,
    pub seats: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialTerms {
    pub days: u32,
    pub items: Vec<TrialItem>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: u64,
    pub code: String,
    pub name: String,
    pub heartbeat_s: u32,
    pub features: Vec<Feature>,
    pub trial: Option<TrialTerms>,
    pub created_at: OffsetDateTime,
}

impl Product {
    pub fn feature(&self, number: u32) -> Option<&Feature> {
        self.features.iter().find(|f| f.number == number)
    }
}

pub const DEFAULT_HEARTBEAT_S: u32 = 60;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Client {
    pub id: u64,
    pub company: String,
    pub contact: String,
    pub phone: String,
    pub email: String,
    pub alert_email: String,
    pub crm_id1: String,
    pub crm_id2: String,
    pub manager: String,
    pub distributor: String,
    pub comment: String,
    pub extra: BTreeMap<String, String>,
    pub created_at: Option<OffsetDateTime>,
    pub updated_at: Option<OffsetDateTime>,
    /// How the card came to be: "trial" (from a protected app) or "manual".
    pub origin: String,
}

impl Client {
    /// The lower-cased text quick search looks in: company, contact, phone (also as
    /// bare digits), e-mail, comment. `ё` is folded to `е`, as people type both.
    pub fn search_text(&self) -> String {
        let digits: String = self.phone.chars().filter(char::is_ascii_digit).collect();
        fold(&format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
            self.company, self.contact, self.phone, digits, self.email, self.comment
        ))
    }
}

/// Case- and ё-folding used by quick search, on both the text and the query.
pub fn fold(s: &str) -> String {
    s.to_lowercase().replace('ё', "е")
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum GrantSource {
    Manual,
    Coupon(String),
    Trial,
}

/// One grant of seats of a feature on a key: a purchase, a coupon or a trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    pub id: u64,
    pub product: String,
    pub feature: u32,
    pub seats: u32,
    pub expires_at: Option<OffsetDateTime>,
    pub trial: bool,
    pub source: GrantSource,
    pub added_at: OffsetDateTime,
}

impl Grant {
    pub fn live(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Key {
    pub regnum: String,
    pub client_id: u64,
    pub blocked: bool,
    pub created_at: OffsetDateTime,
    pub grants: Vec<Grant>,
    /// Product codes this key has had a trial of.
    pub trials: Vec<String>,
    pub next_grant: u64,
}

/// What a key holds of one feature, summed over its grants.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureGrant {
    pub product: String,
    pub feature: u32,
    /// Seats of grants not expired.
    pub seats: u32,
    /// Latest expiry among live grants; `None` when one never expires.
    pub expires_at: Option<OffsetDateTime>,
    pub trial: bool,
    /// Some grants exist but every one has expired: the latest expiry.
    pub expired_at: Option<OffsetDateTime>,
}

impl Key {
    pub fn add_grant(&mut self, mut g: Grant) {
        self.next_grant += 1;
        g.id = self.next_grant;
        self.grants.push(g);
    }

    /// The key's holding of `feature` at `now`, or `None` when it never had a grant.
    pub fn feature_grant(&self, feature: u32, now: OffsetDateTime) -> Option<FeatureGrant> {
        let grants: Vec<&Grant> = self
            .grants
            .iter()
            .filter(|g| g.feature == feature)
            .collect();
        let first = grants.first()?;
        let live: Vec<&&Grant> = grants.iter().filter(|g| g.live(now)).collect();
        if live.is_empty() {
            let expired_at = grants.iter().filter_map(|g| g.expires_at).max();
            return Some(FeatureGrant {
                product: first.product.clone(),
                feature,
                seats: 0,
                expires_at: expired_at,
                trial: grants.iter().all(|g| g.trial),
                expired_at,
            });
        }
        let expires_at = if live.iter().any(|g| g.expires_at.is_none()) {
            None
        } else {
            live.iter().filter_map(|g| g.expires_at).max()
        };
        Some(FeatureGrant {
            product: live[0].product.clone(),
            feature,
            seats: live.iter().map(|g| g.seats).fold(0u32, u32::saturating_add),
            expires_at,
            trial: live.iter().all(|g| g.trial),
            expired_at: None,
        })
    }

    /// Every feature the key has ever held, in feature order.
    pub fn features(&self) -> Vec<u32> {
        let mut f: Vec<u32> = self.grants.iter().map(|g| g.feature).collect();
        f.sort_unstable();
        f.dedup();
        f
    }

    /// Whether the key holds at least one seat of anything (live or not).
    pub fn has_items(&self) -> bool {
        !self.grants.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CouponItem {
    pub product: String,
    pub feature: u32,
    pub seats: u32,
    pub days: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Activation {
    pub regnum: String,
    pub at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Coupon {
    pub code: String,
    pub batch: u64,
    pub items: Vec<CouponItem>,
    pub created_at: OffsetDateTime,
    pub activated: Option<Activation>,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Distributor,
    Manager,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(Role::Admin),
            "manager" => Some(Role::Manager),
            "distributor" => Some(Role::Distributor),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Distributor => "distributor",
        }
    }
}

/// An admin-API token. Only the SHA-256 of its secret is kept (the table's key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub id: u64,
    pub name: String,
    pub role: Role,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub login: String,
    pub role: Role,
    /// argon2id PHC string.
    pub password_hash: String,
    pub distributor: String,
    pub created_at: OffsetDateTime,
    pub disabled: bool,
    /// Where this user is mailed (a manager gets copies of their clients' mail); may be
    /// empty (schema 5).
    pub email: String,
}

/// A mailed single-use link that sets a staff user's password (a user made without
/// one), kept under the SHA-256 of its token; spent when the password is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StaffLink {
    pub login: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// How long the outbox keeps retrying a mail before it gives up, unless configured.
pub const DEFAULT_MAIL_GIVE_UP: time::Duration = time::Duration::days(3);

/// Where a mail in the outbox stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailState {
    /// Waiting for its next attempt (`Mail::next_attempt_at`).
    Queued,
    /// The SMTP server was handed the message body at this time and the answer was not
    /// recorded: after a crash it may or may not have been delivered, so it is never
    /// sent again by itself (the Outbox page offers "retry now").
    Sending(OffsetDateTime),
    /// The SMTP server accepted it.
    Sent(OffsetDateTime),
    /// Given up: a permanent SMTP refusal, or retries ran past `Mail::give_up_at`.
    Failed(OffsetDateTime),
    /// Dropped by an admin on the Outbox page.
    Dropped(OffsetDateTime),
}

/// One mail of the outbox, kept after it is sent (for the Outbox page) until pruned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mail {
    pub id: u64,
    /// The catalogue event (`mail::Event::name`), e.g. "trial", "expiring", "denials".
    pub event: String,
    /// The idempotency key: (event, subject of the event); one mail per key, ever.
    pub key: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub text: String,
    /// The HTML alternative (empty: plain text only).
    pub html: String,
    /// The client the mail is about, when there is one (Outbox filters).
    pub client_id: Option<u64>,
    pub created_at: OffsetDateTime,
    pub state: MailState,
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
    /// Retries stop after this time (then `Failed`).
    pub give_up_at: OffsetDateTime,
    /// The last SMTP error (or the server's answer once sent).
    pub last_error: String,
}

impl Mail {
    /// Every addressee, for the daily quota.
    pub fn addressees(&self) -> usize {
        self.to.len() + self.cc.len()
    }

    /// Whether it carries a one-time code or a single-use link (a secret of its
    /// addressee's that staff must not read).
    pub fn carries_secret(&self) -> bool {
        matches!(
            self.event.as_str(),
            "cabinet_code" | "cabinet_link" | "staff_link"
        )
    }

    /// The mail as staff may read it: a code's digits and a link's token masked.
    pub fn shown(&self) -> Mail {
        let mut m = self.clone();
        if m.carries_secret() {
            m.subject = mask_secret(&m.subject);
            m.text = mask_secret(&m.text);
            m.html = mask_secret(&m.html);
        }
        m
    }

    /// Forgets the secret once it is no longer needed (sent, given up or dropped): the
    /// stored subject and body keep only the masked form.
    pub fn forget_secret(&mut self) {
        if self.carries_secret() {
            *self = self.shown();
        }
    }
}

/// Masks what may be a secret in a mail: runs of 6 or more digits (a one-time code)
/// and runs of 32 or more hex digits (a link's token).
pub fn mask_secret(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let token_like = run.len() >= 32 && run.chars().all(|c| c.is_ascii_hexdigit());
        let code_like = run.len() >= 6 && run.chars().all(|c| c.is_ascii_digit());
        if token_like || code_like {
            out.push_str(&"•".repeat(8));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The SMTP server mail goes through, as set on the System page (a `--smtp` flag or
/// the config file wins over it). Kept apart from `Settings`: the URL may hold a password
/// and `Settings` is shown by the admin API.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SmtpSettings {
    /// smtp://[user:pass@]host[:port][?tls=required] or smtps://…; empty: none.
    pub url: String,
}

/// A refused capture on a known key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Denial {
    pub regnum: String,
    pub feature: u32,
    pub at: OffsetDateTime,
    pub host: String,
    pub user: String,
    pub database: String,
    pub code: u32,
}

/// Per key, feature and day: captures granted, captures denied, peak seats in use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DailyUsage {
    pub captures: u32,
    pub denials: u32,
    pub peak: u32,
}

/// Vendor settings, kept under one meta key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub vendor_name: String,
    pub regnum_prefix: String,
    pub offline_license_days: u32,
    /// Names of vendor-defined extra client fields.
    pub extra_fields: Vec<String>,
    pub mail_from: String,
    /// Days before a grant's expiry when its client is reminded (schema 5), largest first.
    pub expiry_days: Vec<u32>,
    /// The language mail is written in for clients who never chose one: "ru" or "en".
    pub mail_lang: String,
}

pub const DEFAULT_EXPIRY_DAYS: [u32; 3] = [30, 7, 1];

impl Default for Settings {
    fn default() -> Self {
        Settings {
            vendor_name: "licd".into(),
            regnum_prefix: "LIC".into(),
            offline_license_days: 7,
            extra_fields: Vec::new(),
            mail_from: "licd@localhost".into(),
            expiry_days: DEFAULT_EXPIRY_DAYS.to_vec(),
            mail_lang: "ru".into(),
        }
    }
}

/// A staff member's signed-in browser session. Kept under the SHA-256 of the cookie's
/// secret, so the database never holds a usable cookie.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StaffSession {
    pub login: String,
    /// The per-session CSRF token every form carries.
    pub csrf: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Failed sign-ins of one login, for lockout with growing waits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoginFailures {
    pub count: u32,
    pub last_at: Option<OffsetDateTime>,
}

/// A staff member's preferences (kept apart from `User`, whose shape is stored).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StaffPrefs {
    /// "en", "ru", or empty: from the browser.
    pub lang: String,
}

/// One staff change: who did what to what, and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: u64,
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// A partner that resells and supports some clients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distributor {
    /// Short code, the value of `Client::distributor` and `User::distributor`.
    pub code: String,
    pub name: String,
    pub email: String,
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod secret_tests {
    use super::mask_secret;

    #[test]
    fn codes_and_link_tokens_are_masked_and_the_rest_kept() {
        assert_eq!(
            mask_secret("licd: одноразовый код 81026761"),
            "licd: одноразовый код ••••••••"
        );
        let link =
            "Set it: https://lic.example/cabinet/password/0123456789abcdef0123456789abcdef0123?x=1";
        assert_eq!(
            mask_secret(link),
            "Set it: https://lic.example/cabinet/password/••••••••?x=1"
        );
        let plain = "Key LIC-X4NTG-87SC6-8ZSVP-59PVS, 12 seats until 2026-12-31";
        assert_eq!(mask_secret(plain), plain);
    }
}
