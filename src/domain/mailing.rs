//! Rules of licd's mail with no I/O: the outbox states by name, the expiry reminder
//! days, and the SMTP URL taken apart into the fields the System page edits.
use super::MailState;
use time::OffsetDateTime;

/// A mail state without its time, as the Outbox page filters by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateKind {
    Queued,
    Sending,
    Sent,
    Failed,
    Dropped,
}

impl StateKind {
    pub const ALL: [StateKind; 5] = [
        StateKind::Queued,
        StateKind::Sending,
        StateKind::Sent,
        StateKind::Failed,
        StateKind::Dropped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StateKind::Queued => "queued",
            StateKind::Sending => "sending",
            StateKind::Sent => "sent",
            StateKind::Failed => "failed",
            StateKind::Dropped => "dropped",
        }
    }

    pub fn parse(s: &str) -> Option<StateKind> {
        StateKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl MailState {
    pub fn kind(&self) -> StateKind {
        match self {
            MailState::Queued => StateKind::Queued,
            MailState::Sending(_) => StateKind::Sending,
            MailState::Sent(_) => StateKind::Sent,
            MailState::Failed(_) => StateKind::Failed,
            MailState::Dropped(_) => StateKind::Dropped,
        }
    }

    /// When the mail came to this state (none for `Queued`).
    pub fn at(&self) -> Option<OffsetDateTime> {
        match *self {
            MailState::Queued => None,
            MailState::Sending(t)
            | MailState::Sent(t)
            | MailState::Failed(t)
            | MailState::Dropped(t) => Some(t),
        }
    }

    /// Whether "retry now" applies: waiting, given up, or handed over with no answer.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            MailState::Queued | MailState::Sending(_) | MailState::Failed(_)
        )
    }

    /// Whether "drop" applies: anything not sent and not dropped already.
    pub fn droppable(&self) -> bool {
        self.retryable()
    }
}

/// At most this many reminder days.
pub const MAX_EXPIRY_DAYS: usize = 5;

/// Reminder days typed as "30, 7, 1": each 1..365, at most five, duplicates merged,
/// largest first. Empty text is refused (the default is 30, 7, 1; reminders are turned
/// off per client).
pub fn parse_expiry_days(text: &str) -> Result<Vec<u32>, &'static str> {
    let mut days = Vec::new();
    for part in text.split([',', ';', ' ']).map(str::trim) {
        if part.is_empty() {
            continue;
        }
        days.push(part.parse::<u32>().map_err(|_| "each day 1 to 365")?);
    }
    expiry_days(days)
}

/// Reminder days as given (the admin API): the same rules as `parse_expiry_days`.
pub fn expiry_days(mut days: Vec<u32>) -> Result<Vec<u32>, &'static str> {
    if days.iter().any(|d| !(1..=365).contains(d)) {
        return Err("each day 1 to 365");
    }
    days.sort_unstable_by(|a, b| b.cmp(a));
    days.dedup();
    match days.len() {
        0 => Err("at least one day"),
        n if n > MAX_EXPIRY_DAYS => Err("at most 5 days"),
        _ => Ok(days),
    }
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: no TLS (a relay on the same host or network).
    None,
    /// `smtp://…?tls=required`: STARTTLS, refused without it (usually port 587).
    StartTls,
    /// `smtps://`: TLS from the first byte (usually port 465).
    Tls,
}

impl SmtpSecurity {
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::None => "none",
            SmtpSecurity::StartTls => "starttls",
            SmtpSecurity::Tls => "tls",
        }
    }
    pub fn parse(s: &str) -> Option<SmtpSecurity> {
        match s.trim() {
            "none" => Some(SmtpSecurity::None),
            "starttls" => Some(SmtpSecurity::StartTls),
            "tls" => Some(SmtpSecurity::Tls),
            _ => None,
        }
    }
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::None => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
        }
    }
}

/// An SMTP URL as separate fields, so the System page edits the host or the port
/// without the password being shown or typed again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpParts {
    /// Empty: no SMTP server.
    pub host: String,
    pub port: Option<u16>,
    pub security: SmtpSecurity,
    pub user: String,
    pub password: String,
}

impl Default for SmtpParts {
    fn default() -> Self {
        SmtpParts {
            host: String::new(),
            port: None,
            security: SmtpSecurity::StartTls,
            user: String::new(),
            password: String::new(),
        }
    }
}

impl SmtpParts {
    /// The fields of a stored URL (empty: the defaults); `None` when it is not one
    /// licd writes (`tls=opportunistic`, a HELO name, …): then it is shown as it is.
    pub fn of_url(url: &str) -> Option<SmtpParts> {
        let url = url.trim();
        if url.is_empty() {
            return Some(SmtpParts::default());
        }
        let u = url::Url::parse(url).ok()?;
        let tls: Vec<(String, String)> = u.query_pairs().into_owned().collect();
        let security = match (u.scheme(), tls.as_slice()) {
            ("smtp", []) => SmtpSecurity::None,
            ("smtp", [(k, v)]) if k == "tls" && v == "required" => SmtpSecurity::StartTls,
            ("smtps", []) => SmtpSecurity::Tls,
            _ => return None,
        };
        if u.path().len() > 1 || u.fragment().is_some() {
            return None;
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        };
        Some(SmtpParts {
            host: u.host_str()?.to_owned(),
            port: u.port(),
            security,
            user: decode(u.username())?,
            password: decode(u.password().unwrap_or(""))?,
        })
    }

    /// The URL of these fields (empty when there is no host).
    pub fn url(&self) -> Result<String, &'static str> {
        let host = self.host.trim();
        if host.is_empty() {
            return Ok(String::new());
        }
        if host.contains(['/', '@', '?', '#', ' ', ':'])
            && !(host.starts_with('[') && host.ends_with(']'))
        {
            return Err("a host name or address");
        }
        let scheme = match self.security {
            SmtpSecurity::Tls => "smtps",
            _ => "smtp",
        };
        let mut u =
            url::Url::parse(&format!("{scheme}://{host}")).map_err(|_| "a host name or address")?;
        if u.host_str().is_none_or(str::is_empty) {
            return Err("a host name or address");
        }
        u.set_port(self.port)
            .map_err(|_| "a host name or address")?;
        if !self.user.is_empty() {
            u.set_username(&self.user).map_err(|_| "a user name")?;
            if !self.password.is_empty() {
                u.set_password(Some(&self.password))
                    .map_err(|_| "a password")?;
            }
        }
        if self.security == SmtpSecurity::StartTls {
            u.set_query(Some("tls=required"));
        }
        // url keeps "smtp://host" without a trailing slash for these schemes.
        Ok(u.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_days_are_checked_and_kept_largest_first() {
        assert_eq!(parse_expiry_days("1, 30,7"), Ok(vec![30, 7, 1]));
        assert_eq!(parse_expiry_days("14;14 3"), Ok(vec![14, 3]));
        assert_eq!(parse_expiry_days("365"), Ok(vec![365]));
        assert!(parse_expiry_days("").is_err());
        assert!(parse_expiry_days("0").is_err());
        assert!(parse_expiry_days("366").is_err());
        assert!(parse_expiry_days("7, soon").is_err());
        assert!(parse_expiry_days("1,2,3,4,5,6").is_err());
        assert_eq!(parse_expiry_days("1,2,3,4,5,5"), Ok(vec![5, 4, 3, 2, 1]));
        assert_eq!(expiry_days(vec![7, 60]), Ok(vec![60, 7]));
        assert!(expiry_days(vec![]).is_err());
    }

    #[test]
    fn smtp_fields_make_the_url_and_back() {
        let p = SmtpParts {
            host: "mail.example.com".into(),
            port: Some(587),
            security: SmtpSecurity::StartTls,
            user: "licd@example.com".into(),
            password: "p@ss:w/rd".into(),
        };
        let url = p.url().expect("url");
        assert_eq!(
            url,
            "smtp://licd%40example.com:p%40ss%3Aw%2Frd@mail.example.com:587?tls=required"
        );
        assert!(crate::config::check_smtp_url(&url).is_ok());
        assert_eq!(SmtpParts::of_url(&url), Some(p));
        let plain = SmtpParts {
            host: "127.0.0.1".into(),
            port: Some(2525),
            security: SmtpSecurity::None,
            ..Default::default()
        };
        assert_eq!(plain.url().as_deref(), Ok("smtp://127.0.0.1:2525"));
        assert_eq!(SmtpParts::of_url("smtp://127.0.0.1:2525"), Some(plain));
        let tls = SmtpParts::of_url("smtps://u:p@smtp.example.com").expect("parts");
        assert_eq!(
            (
                tls.security,
                tls.port,
                tls.user.as_str(),
                tls.password.as_str()
            ),
            (SmtpSecurity::Tls, None, "u", "p")
        );
        assert_eq!(tls.url().as_deref(), Ok("smtps://u:p@smtp.example.com"));
        // No host: no server.
        assert_eq!(SmtpParts::default().url().as_deref(), Ok(""));
        assert_eq!(SmtpParts::of_url(""), Some(SmtpParts::default()));
        // Not a host.
        for bad in ["a b", "x/y", "u@h", "h:25"] {
            let p = SmtpParts {
                host: bad.into(),
                ..Default::default()
            };
            assert!(p.url().is_err(), "{bad}");
        }
        // What licd does not write is shown as it is, not taken apart.
        assert_eq!(SmtpParts::of_url("smtp://h?tls=opportunistic"), None);
        assert_eq!(SmtpParts::of_url("smtp://h/helo.example"), None);
    }
}
