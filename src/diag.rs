//! `licd diag FEATURE REGNUM`: the seeds' licdiag. Walks the path to the server step by
//! step, so a failure names its cause (1011 name, 1012 connection, 1013 TLS, 1014
//! time-out), then asks the server what stands between the key and a seat.
use crate::i18n::Lang;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args, Debug, Clone)]
pub struct DiagArgs {
    /// Feature number.
    pub feature: String,
    /// Registration number.
    pub regnum: String,
    /// The license server.
    #[arg(long, env = "LICD_SERVER", default_value = "https://127.0.0.1:8443")]
    pub server: String,
    /// Trust this certificate (PEM), e.g. the server's self-signed one.
    #[arg(long, conflicts_with = "insecure")]
    pub ca: Option<PathBuf>,
    /// Do not check the server's certificate.
    #[arg(long)]
    pub insecure: bool,
    /// Language of the report: ru or en [default: from LANG].
    #[arg(long)]
    pub lang: Option<String>,
    /// Seconds to wait at each step.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
}

/// The outcome of a diagnosis: a code (0 = a seat can be had) and a line to print.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub code: u32,
    pub message: String,
}

fn lang_of(arg: &Option<String>) -> Lang {
    let from_env = std::env::var("LC_ALL")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("LANG").ok());
    match arg.as_deref().or(from_env.as_deref()) {
        Some(l) if l.to_ascii_lowercase().starts_with("ru") => Lang::Ru,
        _ => Lang::En,
    }
}

fn client_error(code: u32, detail: &str, lang: Lang) -> Report {
    let (en, ru) = match code {
        1011 => (
            "The license server's name could not be resolved",
            "Не удалось определить адрес сервера лицензирования",
        ),
        1012 => (
            "The license server refused the connection or is unreachable",
            "Сервер лицензирования отказал в соединении или недоступен",
        ),
        1013 => (
            "The TLS handshake with the license server failed (certificate not trusted?)",
            "Не удалось установить TLS-соединение с сервером лицензирования (сертификат не доверенный?)",
        ),
        1014 => (
            "The license server did not answer in time",
            "Сервер лицензирования не ответил вовремя",
        ),
        _ => (
            "The license server gave an unexpected answer",
            "Сервер лицензирования дал неожиданный ответ",
        ),
    };
    Report {
        code,
        message: format!("{}: {detail}", lang.pick(en, ru)),
    }
}

/// Runs the diagnosis and returns its report (no printing).
pub async fn diagnose(args: &DiagArgs) -> Report {
    let lang = lang_of(&args.lang);
    let wait = Duration::from_secs(args.timeout.max(1));
    let Some(regnum) = crate::domain::normalize_number(&args.regnum) else {
        return Report {
            code: 1003,
            message: crate::error::AppError::BadNumber {
                field: "regnum".into(),
            }
            .message(lang),
        };
    };
    let Ok(feature) = args.feature.trim().parse::<u32>() else {
        return Report {
            code: 1001,
            message: crate::error::AppError::malformed("feature", "").message(lang),
        };
    };
    let url = match reqwest::Url::parse(args.server.trim_end_matches('/')) {
        Ok(u) if u.scheme() == "https" && u.host_str().is_some() => u,
        _ => {
            return client_error(
                1011,
                &format!("--server {:?} is not an https:// URL", args.server),
                lang,
            );
        }
    };
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(443);

    // 1. name
    let addrs =
        match tokio::time::timeout(wait, tokio::net::lookup_host((host.as_str(), port))).await {
            Err(_) => return client_error(1014, &host, lang),
            Ok(Err(e)) => return client_error(1011, &format!("{host}: {e}"), lang),
            Ok(Ok(a)) => a.collect::<Vec<_>>(),
        };
    let Some(addr) = addrs.first().copied() else {
        return client_error(1011, &host, lang);
    };
    // 2. connection
    let tcp = match tokio::time::timeout(wait, tokio::net::TcpStream::connect(addr)).await {
        Err(_) => return client_error(1014, &addr.to_string(), lang),
        Ok(Err(e)) => return client_error(1012, &format!("{addr}: {e}"), lang),
        Ok(Ok(s)) => s,
    };
    // 3. TLS
    let tls = match crate::http::tls::client_config(args.ca.as_deref(), args.insecure) {
        Ok(c) => Arc::new(c),
        Err(e) => return client_error(1013, &e.to_string(), lang),
    };
    let server_name = match rustls::pki_types::ServerName::try_from(host.clone()) {
        Ok(n) => n,
        Err(e) => return client_error(1011, &e.to_string(), lang),
    };
    let connector = tokio_rustls::TlsConnector::from(tls.clone());
    match tokio::time::timeout(wait, connector.connect(server_name, tcp)).await {
        Err(_) => return client_error(1014, "TLS", lang),
        Ok(Err(e)) => return client_error(1013, &e.to_string(), lang),
        Ok(Ok(_)) => {}
    }
    // 4. the question itself
    let client = match reqwest::Client::builder()
        .use_preconfigured_tls((*tls).clone())
        .timeout(wait)
        .build()
    {
        Ok(c) => c,
        Err(e) => return client_error(1013, &e.to_string(), lang),
    };
    let mut endpoint = url.clone();
    endpoint.set_path(&format!("/api/v1/keys/{regnum}/diag"));
    endpoint.set_query(Some(&format!("feature={feature}")));
    let resp = match client
        .get(endpoint)
        .header("Accept-Language", lang.code())
        .send()
        .await
    {
        Err(e) if e.is_timeout() => return client_error(1014, &e.to_string(), lang),
        Err(e) => return client_error(1012, &e.to_string(), lang),
        Ok(r) => r,
    };
    let body: serde_json::Value = match resp.json().await {
        Ok(b) => b,
        Err(e) => return client_error(1500, &e.to_string(), lang),
    };
    if let Some(err) = body.get("error") {
        return Report {
            code: err.get("code").and_then(|c| c.as_u64()).unwrap_or(1500) as u32,
            message: err
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or_default()
                .to_owned(),
        };
    }
    let code = body.get("code").and_then(|c| c.as_u64()).unwrap_or(1500) as u32;
    let mut message = body
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_owned();
    if let Some(holders) = body.get("holders").and_then(|h| h.as_array())
        && !holders.is_empty()
    {
        message.push_str(lang.pick("\nSeats held by:", "\nЛицензии заняты:"));
        for h in holders {
            let s = |k: &str| h.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
            message.push_str(&format!(
                "\n  {} {} {} {}",
                s("host"),
                s("user"),
                s("database"),
                s("since")
            ));
        }
    }
    Report { code, message }
}

pub fn main(args: DiagArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("licd diag: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = rt.block_on(diagnose(&args));
    let lang = lang_of(&args.lang);
    let label = lang.pick("code", "код");
    println!("{} ({label} {})", report.message, report.code);
    if report.code == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
