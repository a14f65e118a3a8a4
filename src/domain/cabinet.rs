//! The client cabinet's records: the key's cabinet password, one-time codes, password
//! links, sessions, the client's preferences, self-service actions and the product's
//! self-service limit. Each lives in its own table (records are not self-describing, so
//! the older records stay as they are).
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// A key's cabinet password (argon2id PHC string).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CabinetPassword {
    pub hash: String,
    pub set_at: OffsetDateTime,
}

/// A one-time sign-in code mailed for a key; only its hash is kept. A newer code
/// replaces the older one; it is spent by a sign-in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OneTimeCode {
    pub hash: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A mailed link that sets a key's cabinet password (first or forgotten), kept under
/// the hash of its token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PasswordLink {
    pub regnum: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A client's signed-in browser session, kept under the hash of its cookie's secret.
/// The client is found through the key each time (a merge may move the key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CabinetSession {
    /// The key signed in with (for a coupon: the key it was activated on).
    pub regnum: String,
    /// The per-session CSRF token every form carries.
    pub csrf: String,
    pub created_at: OffsetDateTime,
    pub last_seen: OffsetDateTime,
}

/// How long a cabinet session lives without a request…
pub const IDLE_LIFE: Duration = Duration::minutes(30);
/// …and at most from its sign-in.
pub const ABSOLUTE_LIFE: Duration = Duration::hours(12);

impl CabinetSession {
    pub fn live(&self, now: OffsetDateTime) -> bool {
        now < self.last_seen + IDLE_LIFE && now < self.created_at + ABSOLUTE_LIFE
    }
}

/// A client's preferences.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientPrefs {
    /// "ru", "en", or empty: from the browser (and the vendor's default for mail).
    pub lang: String,
    /// The client turned off expiry reminders (schema 5).
    pub no_expiry_mail: bool,
    /// The client turned off denial and seat alerts.
    pub no_alert_mail: bool,
    /// The client turned off new-release mail.
    pub no_release_mail: bool,
    /// Staff muted this client's alerts (denials, seats) — e.g. a known noisy site.
    pub alerts_muted: bool,
}

/// Per product: how many self-service unbinds (or ended sessions) a client may make per
/// key and feature in 30 days.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProductOptions {
    pub unbind_limit: u32,
}

pub const DEFAULT_UNBIND_LIMIT: u32 = 3;
/// The rolling window of the self-service limit.
pub const UNBIND_WINDOW: Duration = Duration::days(30);

/// What is left of a key's self-service actions on a feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowance {
    pub limit: u32,
    pub used: u32,
    pub left: u32,
    /// When the next action becomes possible again, if none is left.
    pub next_free_at: Option<OffsetDateTime>,
}

impl Allowance {
    /// The allowance given the times of the actions in the window (any order).
    pub fn of(limit: u32, mut times: Vec<OffsetDateTime>, now: OffsetDateTime) -> Allowance {
        times.retain(|t| *t > now - UNBIND_WINDOW);
        times.sort();
        let used = times.len() as u32;
        let left = limit.saturating_sub(used);
        let next_free_at = if left == 0 && limit > 0 {
            // The oldest action that keeps the count at the limit leaves the window.
            let idx = (used - limit) as usize;
            times.get(idx).map(|t| *t + UNBIND_WINDOW)
        } else {
            None
        };
        Allowance {
            limit,
            used,
            left,
            next_free_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn allowance_counts_the_window_only() {
        let now = datetime!(2026-12-01 12:00 UTC);
        let a = Allowance::of(
            3,
            vec![now - Duration::days(31), now - Duration::days(1)],
            now,
        );
        assert_eq!((a.used, a.left, a.next_free_at), (1, 2, None));
        let times = vec![
            now - Duration::days(20),
            now - Duration::days(5),
            now - Duration::days(10),
        ];
        let a = Allowance::of(3, times, now);
        assert_eq!((a.used, a.left), (3, 0));
        assert_eq!(a.next_free_at, Some(now + Duration::days(10)));
        let a = Allowance::of(0, vec![], now);
        assert_eq!((a.limit, a.left, a.next_free_at), (0, 0, None));
    }

    #[test]
    fn session_expires_idle_or_absolute() {
        let t0 = datetime!(2026-12-01 08:00 UTC);
        let mut s = CabinetSession {
            regnum: "R".into(),
            csrf: "c".into(),
            created_at: t0,
            last_seen: t0,
        };
        assert!(s.live(t0 + Duration::minutes(29)));
        assert!(!s.live(t0 + Duration::minutes(31)));
        s.last_seen = t0 + Duration::hours(11) + Duration::minutes(50);
        assert!(s.live(t0 + Duration::hours(11) + Duration::minutes(59)));
        assert!(!s.live(t0 + Duration::hours(12)));
    }
}
