//! What licd mails: the catalogue of events, each with its template in Russian and
//! English (plain text plus an HTML alternative). No I/O here: `service::mail` decides
//! who gets a mail and queues it; `jobs::outbox` sends it.
mod client;
pub mod layout;
mod notices;
mod staff;

use crate::i18n::Lang;
use time::OffsetDateTime;

/// What a template needs beyond its event.
pub struct Ctx<'a> {
    pub vendor: &'a str,
    /// The server's public URL, without a trailing slash.
    pub public_url: &'a str,
    pub lang: Lang,
}

impl Ctx<'_> {
    pub fn t<'a>(&self, en: &'a str, ru: &'a str) -> &'a str {
        self.lang.pick(en, ru)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.trim_end_matches('/'))
    }
}

/// A rendered mail.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One line of seats in a letter: what a key got, holds or is losing.
#[derive(Clone, Debug, PartialEq)]
pub struct SeatLine {
    pub product: String,
    pub feature: u32,
    pub feature_name: String,
    pub seats: u32,
    pub expires_at: Option<OffsetDateTime>,
}

/// Refused captures of one key in a summary: (feature, feature name, code, count).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyDenials {
    pub regnum: String,
    pub company: String,
    pub rows: Vec<(u32, String, u32, u32)>,
}

/// A client's grant expiring soon, in a manager's or distributor's weekly digest.
#[derive(Clone, Debug, PartialEq)]
pub struct DigestRow {
    pub company: String,
    pub regnum: String,
    pub line: SeatLine,
}

/// Who a mail is for, which decides its recipients (`service::mail`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The client's e-mail (the buyer): registration, activations, expiry. Copied to the
    /// responsible manager; sent to the distributor instead for a distributor's client.
    Buyer,
    /// The client's alert e-mail, else its e-mail (the sysadmin): problems, releases.
    /// Copied and redirected like `Buyer`.
    Alert,
    /// The client's e-mail only, never copied or redirected: cabinet codes and links.
    Secret,
    /// Addressed directly (staff, operations).
    Direct,
}

/// What a client may turn off (cabinet settings) or staff may mute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    /// Always sent.
    Account,
    /// Expiry reminders.
    Expiry,
    /// Denial and seat alerts.
    Alert,
    /// New releases.
    Release,
}

/// Every kind of mail licd sends.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A trial registered a new client and key.
    Trial {
        regnum: String,
        product: String,
        until: Option<OffsetDateTime>,
    },
    /// 1058: the e-mail is already registered; its registration numbers again.
    EmailTaken { regnums: Vec<String> },
    CouponActivated {
        code: String,
        regnum: String,
        lines: Vec<SeatLine>,
    },
    /// Staff added seats to a key.
    GrantAdded {
        regnum: String,
        lines: Vec<SeatLine>,
    },
    /// Grants of a key expire within `days` days.
    Expiring {
        regnum: String,
        days: u32,
        lines: Vec<SeatLine>,
    },
    /// Grants of a key have expired.
    Expired {
        regnum: String,
        lines: Vec<SeatLine>,
    },
    /// The first refused capture of a key and feature in an hour.
    Denial {
        regnum: String,
        feature: u32,
        feature_name: String,
        code: u32,
        host: String,
        user: String,
        at: OffsetDateTime,
    },
    /// Refused captures of an hour not mailed one by one, per key.
    DenialSummary {
        from: OffsetDateTime,
        to: OffsetDateTime,
        keys: Vec<KeyDenials>,
    },
    /// A key's feature reached 90 % or more of its seats in use.
    SeatsNearlyFull {
        regnum: String,
        feature: u32,
        feature_name: String,
        used: u32,
        seats: u32,
    },
    /// A new release of a product a key holds.
    Release {
        regnum: String,
        product: String,
        version: String,
        channel: String,
    },
    /// A one-time cabinet sign-in code.
    CabinetCode { regnum: String, code: String },
    /// A link that sets a key's cabinet password.
    CabinetLink { regnum: String, url: String },
    /// A link that sets a staff user's password (a user created without one).
    StaffLink { login: String, url: String },
    /// Weekly, to a manager or distributor: their clients' grants expiring in 30 days.
    Digest { name: String, rows: Vec<DigestRow> },
    /// A scheduled backup failed (to the operations e-mail).
    BackupFailed {
        at: OffsetDateTime,
        error: String,
        dir: String,
    },
}

impl Event {
    /// The event's name in the outbox and on the Outbox page.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Trial { .. } => "trial",
            Event::EmailTaken { .. } => "email_taken",
            Event::CouponActivated { .. } => "coupon",
            Event::GrantAdded { .. } => "grant",
            Event::Expiring { .. } => "expiring",
            Event::Expired { .. } => "expired",
            Event::Denial { .. } => "denial",
            Event::DenialSummary { .. } => "denials",
            Event::SeatsNearlyFull { .. } => "seats",
            Event::Release { .. } => "release",
            Event::CabinetCode { .. } => "cabinet_code",
            Event::CabinetLink { .. } => "cabinet_link",
            Event::StaffLink { .. } => "staff_link",
            Event::Digest { .. } => "digest",
            Event::BackupFailed { .. } => "backup_failed",
        }
    }

    pub fn audience(&self) -> Audience {
        match self {
            Event::Trial { .. }
            | Event::EmailTaken { .. }
            | Event::CouponActivated { .. }
            | Event::GrantAdded { .. }
            | Event::Expiring { .. }
            | Event::Expired { .. } => Audience::Buyer,
            Event::Denial { .. }
            | Event::DenialSummary { .. }
            | Event::SeatsNearlyFull { .. }
            | Event::Release { .. } => Audience::Alert,
            Event::CabinetCode { .. } | Event::CabinetLink { .. } => Audience::Secret,
            Event::StaffLink { .. } | Event::Digest { .. } | Event::BackupFailed { .. } => {
                Audience::Direct
            }
        }
    }

    pub fn topic(&self) -> Topic {
        match self {
            Event::Expiring { .. } | Event::Expired { .. } => Topic::Expiry,
            Event::Denial { .. } | Event::DenialSummary { .. } | Event::SeatsNearlyFull { .. } => {
                Topic::Alert
            }
            Event::Release { .. } => Topic::Release,
            _ => Topic::Account,
        }
    }

    /// The mail in the context's language.
    pub fn render(&self, ctx: &Ctx) -> Rendered {
        match self {
            Event::Trial {
                regnum,
                product,
                until,
            } => client::trial(ctx, regnum, product, *until),
            Event::EmailTaken { regnums } => client::email_taken(ctx, regnums),
            Event::CouponActivated {
                code,
                regnum,
                lines,
            } => client::coupon(ctx, code, regnum, lines),
            Event::GrantAdded { regnum, lines } => client::grant(ctx, regnum, lines),
            Event::Expiring {
                regnum,
                days,
                lines,
            } => client::expiring(ctx, regnum, *days, lines),
            Event::Expired { regnum, lines } => client::expired(ctx, regnum, lines),
            Event::CabinetCode { regnum, code } => client::cabinet_code(ctx, regnum, code),
            Event::CabinetLink { regnum, url } => client::cabinet_link(ctx, regnum, url),
            Event::Denial {
                regnum,
                feature,
                feature_name,
                code,
                host,
                user,
                at,
            } => notices::denial(ctx, regnum, *feature, feature_name, *code, host, user, *at),
            Event::DenialSummary { from, to, keys } => notices::summary(ctx, *from, *to, keys),
            Event::SeatsNearlyFull {
                regnum,
                feature,
                feature_name,
                used,
                seats,
            } => notices::seats(ctx, regnum, *feature, feature_name, *used, *seats),
            Event::Release {
                regnum,
                product,
                version,
                channel,
            } => notices::release(ctx, regnum, product, version, channel),
            Event::StaffLink { login, url } => staff::link(ctx, login, url),
            Event::Digest { name, rows } => staff::digest(ctx, name, rows),
            Event::BackupFailed { at, error, dir } => staff::backup_failed(ctx, *at, error, dir),
        }
    }
}

/// A date as mail shows it: 2026-12-31.
pub fn date(t: OffsetDateTime) -> String {
    let d = t.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// A moment as mail shows it: 2026-12-31 23:59 UTC.
pub fn moment(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{} {:02}:{:02} UTC", date(t), t.hour(), t.minute())
}

/// The seats table of a letter.
fn seat_table(ctx: &Ctx, lines: &[SeatLine]) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        ctx.t("Product", "Продукт").to_owned(),
        ctx.t("Feature", "Функция").to_owned(),
        ctx.t("Seats", "Мест").to_owned(),
        ctx.t("Valid until", "Действует до").to_owned(),
    ]];
    for l in lines {
        rows.push(vec![
            l.product.clone(),
            if l.feature_name.is_empty() {
                l.feature.to_string()
            } else {
                format!("{} {}", l.feature, l.feature_name)
            },
            l.seats.to_string(),
            l.expires_at
                .map(date)
                .unwrap_or_else(|| ctx.t("no end", "бессрочно").to_owned()),
        ]);
    }
    rows
}

#[cfg(test)]
mod tests;
