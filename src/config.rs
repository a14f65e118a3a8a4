//! Configuration: command-line flags over `LICD_*` variables over a TOML file
//! (`--config`, unknown keys refused) over defaults, validated once into `Config`.
use clap::Args;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

/// Options of `licd serve` (each also `LICD_<NAME>` and a key of the config file).
#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// TOML file with any of these options (unknown keys are refused).
    #[arg(long, env = "LICD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory [default: the platform's data directory for licd].
    #[arg(long, env = "LICD_DATA")]
    pub data: Option<PathBuf>,
    /// Address and port to listen on with HTTPS [default: 127.0.0.1:8443].
    #[arg(long, env = "LICD_LISTEN")]
    pub listen: Option<String>,
    /// The vendor's certificate chain (PEM); with --key. Default: a self-signed one kept in the data directory.
    #[arg(long, env = "LICD_CERT", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert (PEM).
    #[arg(long, env = "LICD_KEY", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Outgoing mail: smtp://[user:pass@]host[:port] (plain), smtp://…?tls=required (STARTTLS) or smtps://… (TLS).
    #[arg(long, env = "LICD_SMTP")]
    pub smtp: Option<String>,
    /// Sender address of licd's mail [default: licd@<host name>].
    #[arg(long, env = "LICD_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// The address people reach this server at, for links in mail and messages [default: https://<listen>].
    #[arg(long, env = "LICD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Largest request body accepted, in bytes [default: 65536].
    #[arg(long, env = "LICD_BODY_LIMIT")]
    pub body_limit: Option<usize>,
    /// Requests per minute one address may make to trial, activate and unknown-key lookups [default: 30].
    #[arg(long, env = "LICD_ABUSE_PER_MINUTE")]
    pub abuse_per_minute: Option<u32>,
    /// Worker threads for HTTP [default: the number of cores].
    #[arg(long, env = "LICD_WORKERS")]
    pub workers: Option<usize>,
    /// Daily backup window, local time, "HH:MM-HH:MM", or "off" [default: 03:00-05:00; when unset here, the System page sets it].
    #[arg(long, env = "LICD_BACKUP_WINDOW")]
    pub backup_window: Option<String>,
    /// Time zone of the backup window, e.g. Europe/Moscow [default: the system's].
    #[arg(long, env = "LICD_BACKUP_TIMEZONE")]
    pub backup_timezone: Option<String>,
    /// Scheduled backups kept, newest first [default: 7].
    #[arg(long, env = "LICD_BACKUP_KEEP")]
    pub backup_keep: Option<u32>,
    /// Folder of scheduled backups [default: DATA/backups].
    #[arg(long, env = "LICD_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Compression of scheduled backups: none, gzip or zstd [default: none].
    #[arg(long, env = "LICD_BACKUP_COMPRESSION")]
    pub backup_compression: Option<String>,
    /// Share of one core a backup of the running server may use, 0.05 to 1 [default: 0.15].
    #[arg(long, env = "LICD_BACKUP_CPU")]
    pub backup_cpu: Option<f64>,
    /// Where operations alerts (a failed backup) are mailed, comma-separated.
    #[arg(long, env = "LICD_OPS_EMAIL")]
    pub ops_email: Option<String>,
    /// Most e-mails sent in any 24 hours; more wait in the outbox [default: 2000].
    #[arg(long, env = "LICD_MAIL_DAILY_QUOTA")]
    pub mail_daily_quota: Option<u32>,
    /// Hours the outbox keeps retrying a mail the SMTP server does not take before it
    /// gives up and keeps the last error [default: 72].
    #[arg(long, env = "LICD_MAIL_GIVE_UP_HOURS")]
    pub mail_give_up_hours: Option<u32>,
    /// Largest release file accepted by an upload, in MiB [default: 4096].
    #[arg(long, env = "LICD_UPLOAD_LIMIT_MIB")]
    pub upload_limit_mib: Option<u64>,
    /// Get and renew a certificate for this domain (comma-separate several) from an ACME
    /// CA by itself, answering the TLS-ALPN-01 challenge on the listening port (443).
    #[arg(long, env = "LICD_ACME", conflicts_with = "cert")]
    pub acme: Option<String>,
    /// Contact address given to the ACME CA (expiry warnings) [default: none].
    #[arg(long, env = "LICD_ACME_EMAIL")]
    pub acme_email: Option<String>,
    /// The ACME CA's directory URL [default: Let's Encrypt].
    #[arg(long, env = "LICD_ACME_DIRECTORY")]
    pub acme_directory: Option<String>,
    /// A root certificate (PEM) to trust for a private ACME CA's API (tests use pebble).
    #[arg(long, env = "LICD_ACME_CA")]
    pub acme_ca: Option<PathBuf>,
    /// Seconds between checks of the certificate files for changes [default: 10].
    #[arg(long, env = "LICD_TLS_RELOAD_SECS", hide = true)]
    pub tls_reload_secs: Option<u64>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data: Option<PathBuf>,
    listen: Option<String>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    smtp: Option<String>,
    mail_from: Option<String>,
    public_url: Option<String>,
    body_limit: Option<usize>,
    abuse_per_minute: Option<u32>,
    workers: Option<usize>,
    backup_window: Option<String>,
    backup_timezone: Option<String>,
    backup_keep: Option<u32>,
    backup_dir: Option<PathBuf>,
    backup_compression: Option<String>,
    backup_cpu: Option<f64>,
    ops_email: Option<String>,
    mail_daily_quota: Option<u32>,
    mail_give_up_hours: Option<u32>,
    upload_limit_mib: Option<u64>,
    acme: Option<String>,
    acme_email: Option<String>,
    acme_directory: Option<String>,
    acme_ca: Option<PathBuf>,
}

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

#[derive(Clone, Debug)]
pub enum TlsSource {
    /// A certificate made on first start and kept in the data directory.
    SelfSigned,
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    /// A certificate from an ACME CA, kept in `DATA/acme/`.
    Acme(AcmeConfig),
}

#[derive(Clone, Debug, PartialEq)]
pub struct AcmeConfig {
    pub domains: Vec<String>,
    pub email: Option<String>,
    pub directory: String,
    pub ca: Option<PathBuf>,
}

/// The validated configuration, passed down as a value.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub tls: TlsSource,
    pub smtp: Option<String>,
    pub mail_from: String,
    pub public_url: String,
    pub body_limit: usize,
    pub abuse_per_minute: u32,
    pub workers: usize,
    /// Largest release file an upload may bring, in bytes.
    pub upload_limit: u64,
    /// How often the certificate files are checked for changes.
    pub tls_reload: std::time::Duration,
    /// What the config file, environment or flags set of the operations settings; the
    /// rest is set on the System page (a value set here wins and is shown locked there).
    pub ops: OpsConfig,
}

/// Operations settings as the configuration gives them (`None`: not set there).
#[derive(Clone, Debug, Default)]
pub struct OpsConfig {
    pub backup_window: Option<String>,
    pub backup_timezone: Option<String>,
    pub backup_keep: Option<u32>,
    pub backup_dir: Option<PathBuf>,
    pub backup_compression: Option<crate::ops::archive::Compression>,
    pub backup_cpu: Option<f64>,
    pub ops_email: Option<String>,
    pub mail_daily_quota: Option<u32>,
    pub mail_give_up_hours: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("config file {0}: {1}")]
    Parse(PathBuf, String),
    #[error("listen address {0:?} is not ADDR:PORT")]
    Listen(String),
    #[error("--cert and --key go together")]
    CertKey,
    #[error("--smtp {0:?}: {1}")]
    Smtp(String, String),
    #[error("cannot tell the platform's data directory; pass --data")]
    NoDataDir,
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
}

/// This machine's name (`HOSTNAME`, `/etc/hostname`, `COMPUTERNAME` on Windows).
pub fn host_name() -> Option<String> {
    ["HOSTNAME", "COMPUTERNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .chain(std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_lowercase())
        .find(|h| !h.is_empty())
}

/// The address people reach a server listening on `listen` at, when none is given:
/// the host's name for a wildcard address, the port left out when it is 443.
pub fn default_public_url(listen: SocketAddr) -> String {
    let host = if listen.ip().is_unspecified() {
        host_name().unwrap_or_else(|| "localhost".into())
    } else if listen.is_ipv6() {
        format!("[{}]", listen.ip())
    } else {
        listen.ip().to_string()
    };
    match listen.port() {
        443 => format!("https://{host}"),
        p => format!("https://{host}:{p}"),
    }
}

/// The platform's data directory for licd (e.g. ~/.local/share/licd, %APPDATA%\licd).
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "licd").map(|d| d.data_dir().to_path_buf())
}

impl Config {
    pub fn resolve(args: &ServeArgs) -> Result<Config, ConfigError> {
        let file = match &args.config {
            Some(p) => read_file(p)?,
            None => FileConfig::default(),
        };
        let data_dir = match args.data.clone().or(file.data) {
            Some(d) => d,
            None => default_data_dir().ok_or(ConfigError::NoDataDir)?,
        };
        let listen_s = args
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen: SocketAddr = listen_s
            .parse()
            .map_err(|_| ConfigError::Listen(listen_s.clone()))?;
        let acme = args.acme.clone().or(file.acme);
        let tls = match (
            args.cert.clone().or(file.cert),
            args.key.clone().or(file.key),
            acme,
        ) {
            (Some(_), _, Some(_)) => {
                return Err(ConfigError::Invalid(
                    "acme",
                    "--acme gets the certificate itself: leave out --cert and --key".into(),
                ));
            }
            (Some(cert), Some(key), None) => TlsSource::Files { cert, key },
            (None, None, None) => TlsSource::SelfSigned,
            (None, None, Some(domains)) => {
                let domains: Vec<String> = domains
                    .split(',')
                    .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                    .filter(|d| !d.is_empty())
                    .collect();
                if domains.is_empty()
                    || domains.iter().any(|d| {
                        d.parse::<std::net::IpAddr>().is_ok()
                            || !d.contains('.')
                            || !d
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                    })
                {
                    return Err(ConfigError::Invalid(
                        "acme",
                        "one or more DNS names (example.com), comma-separated".into(),
                    ));
                }
                TlsSource::Acme(AcmeConfig {
                    domains,
                    email: args.acme_email.clone().or(file.acme_email),
                    directory: args
                        .acme_directory
                        .clone()
                        .or(file.acme_directory)
                        .unwrap_or_else(|| LETS_ENCRYPT.to_owned()),
                    ca: args.acme_ca.clone().or(file.acme_ca),
                })
            }
            _ => return Err(ConfigError::CertKey),
        };
        let tls_reload = std::time::Duration::from_secs(args.tls_reload_secs.unwrap_or(10).max(1));
        let smtp = args.smtp.clone().or(file.smtp);
        if let Some(url) = &smtp {
            check_smtp_url(url).map_err(|e| ConfigError::Smtp(redact(url), e))?;
        }
        let mail_from = args
            .mail_from
            .clone()
            .or(file.mail_from)
            .unwrap_or_else(|| DEFAULT_MAIL_FROM.to_owned());
        let public_url = args
            .public_url
            .clone()
            .or(file.public_url)
            .unwrap_or_else(|| default_public_url(listen));
        let body_limit = args.body_limit.or(file.body_limit).unwrap_or(64 * 1024);
        let abuse_per_minute = args
            .abuse_per_minute
            .or(file.abuse_per_minute)
            .unwrap_or(30);
        let workers = args.workers.or(file.workers).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        });
        if body_limit == 0 {
            return Err(ConfigError::Zero("body_limit"));
        }
        if abuse_per_minute == 0 {
            return Err(ConfigError::Zero("abuse_per_minute"));
        }
        if workers == 0 {
            return Err(ConfigError::Zero("workers"));
        }
        let upload_limit_mib = args
            .upload_limit_mib
            .or(file.upload_limit_mib)
            .unwrap_or(4096);
        if upload_limit_mib == 0 {
            return Err(ConfigError::Zero("upload_limit_mib"));
        }
        let ops = OpsConfig {
            backup_window: args.backup_window.clone().or(file.backup_window),
            backup_timezone: args.backup_timezone.clone().or(file.backup_timezone),
            backup_keep: args.backup_keep.or(file.backup_keep),
            backup_dir: args.backup_dir.clone().or(file.backup_dir),
            backup_compression: match args.backup_compression.clone().or(file.backup_compression) {
                None => None,
                Some(c) => Some(crate::ops::archive::Compression::parse(&c).ok_or_else(|| {
                    ConfigError::Invalid(
                        "backup_compression",
                        format!("{c:?} is not none, gzip or zstd"),
                    )
                })?),
            },
            backup_cpu: args.backup_cpu.or(file.backup_cpu),
            ops_email: args.ops_email.clone().or(file.ops_email),
            mail_daily_quota: args.mail_daily_quota.or(file.mail_daily_quota),
            mail_give_up_hours: args.mail_give_up_hours.or(file.mail_give_up_hours),
        };
        if let Some(w) = &ops.backup_window {
            crate::service::backups::Window::parse(w)
                .map_err(|e| ConfigError::Invalid("backup_window", e))?;
        }
        if let Some(tz) = &ops.backup_timezone {
            crate::service::backups::zone(tz)
                .map_err(|e| ConfigError::Invalid("backup_timezone", e))?;
        }
        if let Some(c) = ops.backup_cpu
            && !(0.05..=1.0).contains(&c)
        {
            return Err(ConfigError::Invalid(
                "backup_cpu",
                format!("{c} is not between 0.05 and 1"),
            ));
        }
        if ops.backup_keep == Some(0) {
            return Err(ConfigError::Zero("backup_keep"));
        }
        if ops.mail_give_up_hours == Some(0) {
            return Err(ConfigError::Zero("mail_give_up_hours"));
        }
        if ops.mail_daily_quota == Some(0) {
            return Err(ConfigError::Zero("mail_daily_quota"));
        }
        Ok(Config {
            data_dir,
            listen,
            tls,
            smtp,
            mail_from,
            public_url: public_url.trim_end_matches('/').to_owned(),
            body_limit,
            abuse_per_minute,
            workers,
            upload_limit: upload_limit_mib.saturating_mul(1024 * 1024),
            tls_reload,
            ops,
        })
    }

    /// A configuration for tests and tools: everything default under `data_dir`.
    pub fn for_data_dir(data_dir: &Path) -> Config {
        let args = ServeArgs {
            data: Some(data_dir.to_owned()),
            ..Default::default()
        };
        // Defaults alone always validate.
        match Config::resolve(&args) {
            Ok(c) => c,
            Err(e) => unreachable!("default config invalid: {e}"),
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("licd.redb")
    }
}

fn read_file(p: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(p).map_err(|e| ConfigError::Read(p.to_owned(), e))?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse(p.to_owned(), e.to_string()))
}

/// Accepts what API.md allows: smtp://[user:pass@]host[:port][?tls=required], smtps://….
/// The sender address when neither `--mail-from` nor the vendor settings give one.
pub const DEFAULT_MAIL_FROM: &str = "licd@localhost";

pub fn check_smtp_url(url: &str) -> Result<(), String> {
    lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// An SMTP URL with its password hidden, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_refuses_unknown_keys_and_flags_win() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "listen = \"127.0.0.1:9000\"\nbogus = 1\n").expect("write");
        let args = ServeArgs {
            config: Some(p.clone()),
            ..Default::default()
        };
        assert!(matches!(
            Config::resolve(&args),
            Err(ConfigError::Parse(..))
        ));
        std::fs::write(&p, "listen = \"127.0.0.1:9000\"\nabuse_per_minute = 5\n").expect("write");
        let args = ServeArgs {
            config: Some(p),
            listen: Some("127.0.0.1:9001".into()),
            data: Some(dir.path().into()),
            ..Default::default()
        };
        let c = Config::resolve(&args).expect("valid");
        assert_eq!(c.listen.port(), 9001);
        assert_eq!(c.abuse_per_minute, 5);
    }

    #[test]
    fn smtp_urls() {
        assert!(check_smtp_url("smtp://localhost:2525").is_ok());
        assert!(check_smtp_url("smtp://u:p@mail.example.com?tls=required").is_ok());
        assert!(check_smtp_url("smtps://mail.example.com").is_ok());
        assert!(check_smtp_url("http://x").is_err());
        assert_eq!(redact("smtp://u:secret@h:25"), "smtp://u:***@h:25");
    }
}
