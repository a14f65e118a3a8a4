//! One SMTP session, command by command (lettre's connection), so the outbox can record
//! "handed over" durably at the last moment before the message body goes out: a crash
//! before that leaves the mail queued (the server never got a complete message); a crash
//! after it leaves the mail `Sending`, never sent twice by itself.
use lettre::Address;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail as MailCmd, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use std::future::Future;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Clone, Debug, PartialEq)]
enum Security {
    Plain,
    StartTls { required: bool },
    Wrapper,
}

/// Where and how to connect, from an smtp:// or smtps:// URL.
#[derive(Clone)]
pub struct Server {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
}

/// Why a mail did not go: `Permanent` is a 5xx refusal (retrying will not help).
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    Transient(String),
    Permanent(String),
}

impl Failure {
    pub fn text(&self) -> &str {
        match self {
            Failure::Transient(s) | Failure::Permanent(s) => s,
        }
    }
}

fn failure(e: lettre::transport::smtp::Error) -> Failure {
    if e.is_permanent() {
        Failure::Permanent(e.to_string())
    } else {
        Failure::Transient(e.to_string())
    }
}

impl Server {
    pub fn parse(url: &str) -> Result<Server, String> {
        let u = url::Url::parse(url).map_err(|e| e.to_string())?;
        let host = u
            .host_str()
            .ok_or_else(|| "no host in the SMTP URL".to_owned())?
            .trim_matches(['[', ']'])
            .to_owned();
        let tls = u
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.to_string());
        let (security, port) = match (u.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some("required")) => (Security::StartTls { required: true }, 587),
            ("smtp", Some("opportunistic")) => (Security::StartTls { required: false }, 587),
            ("smtps", _) => (Security::Wrapper, 465),
            (s, t) => return Err(format!("unknown scheme {s:?} or tls={t:?}")),
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|e| e.to_string())
        };
        let credentials = match u.password() {
            Some(p) => Some(Credentials::new(decode(u.username())?, decode(p)?)),
            None => None,
        };
        let hello = if u.path().len() > 1 {
            ClientId::Domain(u.path().trim_matches('/').to_owned())
        } else {
            ClientId::default()
        };
        Ok(Server {
            port: u.port().unwrap_or(port),
            host,
            security,
            credentials,
            hello,
        })
    }

    fn tls(&self) -> Result<TlsParameters, Failure> {
        TlsParameters::new(self.host.clone()).map_err(|e| Failure::Transient(e.to_string()))
    }

    /// Connects, secures and authenticates a session.
    pub async fn connect(&self) -> Result<Session, Failure> {
        let wrapper = match self.security {
            Security::Wrapper => Some(self.tls()?),
            _ => None,
        };
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(TIMEOUT),
            &self.hello,
            wrapper,
            None,
        )
        .await
        .map_err(failure)?;
        if let Security::StartTls { required } = self.security {
            if conn.can_starttls() {
                conn.starttls(self.tls()?, &self.hello)
                    .await
                    .map_err(failure)?;
            } else if required {
                return Err(Failure::Transient(
                    "the SMTP server does not offer STARTTLS (tls=required)".into(),
                ));
            }
        }
        if let Some(c) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, c).await.map_err(failure)?;
        }
        Ok(Session { conn })
    }
}

pub struct Session {
    conn: AsyncSmtpConnection,
}

/// What the server said to one mail.
pub struct Delivered {
    /// The server's answer to the message (e.g. "250 2.0.0 queued as …").
    pub answer: String,
    /// Cc addresses the server refused (the mail went to the others).
    pub refused_cc: Vec<(String, String)>,
}

impl Session {
    /// Sends one message: MAIL, RCPT for each `to` and `cc`, DATA; then `handing_over`
    /// (which must record the mail as sent-or-unknown durably) and the body. A refused
    /// Cc is reported, not fatal; a refused `to` is.
    pub async fn send<F, Fut>(
        &mut self,
        from: &Address,
        to: &[Address],
        cc: &[Address],
        message: &[u8],
        handing_over: F,
    ) -> Result<Delivered, Failure>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let info = self.conn.server_info();
        let mut params = Vec::new();
        if to
            .iter()
            .chain(cc)
            .chain([from])
            .any(|a: &Address| !a.to_string().is_ascii())
        {
            if !info.supports_feature(Extension::SmtpUtfEight) {
                return Err(Failure::Permanent(
                    "a non-ASCII address, and the SMTP server does not support SMTPUTF8".into(),
                ));
            }
            params.push(MailParameter::SmtpUtfEight);
        }
        if !message.is_ascii() && info.supports_feature(Extension::EightBitMime) {
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        self.conn
            .command(MailCmd::new(Some(from.clone()), params))
            .await
            .map_err(failure)?;
        for a in to {
            self.conn
                .command(Rcpt::new(a.clone(), vec![]))
                .await
                .map_err(failure)?;
        }
        let mut refused_cc = Vec::new();
        for a in cc {
            if let Err(e) = self.conn.command(Rcpt::new(a.clone(), vec![])).await {
                if self.conn.has_broken() {
                    return Err(failure(e));
                }
                refused_cc.push((a.to_string(), e.to_string()));
            }
        }
        self.conn.command(Data).await.map_err(failure)?;
        handing_over()
            .await
            .map_err(|e| Failure::Transient(format!("not handed over: {e}")))?;
        let r = self.conn.message(message).await.map_err(failure)?;
        Ok(Delivered {
            answer: format!("{} {}", r.code(), r.message().collect::<Vec<_>>().join(" ")),
            refused_cc,
        })
    }

    pub fn broken(&self) -> bool {
        self.conn.has_broken()
    }

    pub async fn quit(mut self) {
        if self.conn.quit().await.is_err() {
            self.conn.abort().await;
        }
    }
}
