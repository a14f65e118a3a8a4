//! Certificates from an ACME CA (Let's Encrypt by default) without a proxy: the
//! TLS-ALPN-01 challenge (RFC 8737) is answered on the listening port itself, so only
//! 443 needs to be open. The account and the certificate live in `DATA/acme/`
//! (`account.json`, `cert.pem`, `key.pem`, all 0600); until the first certificate
//! arrives a self-signed one stands in. A job renews it 30 days before it expires and
//! presents the new one from the next handshake on, without a restart.
use crate::config::AcmeConfig;
use crate::http::tls::{self, LiveCert};
use crate::service::App;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where the ACME certificate and its key are kept.
pub fn paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let d = data_dir.join("acme");
    (d.join("cert.pem"), d.join("key.pem"))
}

fn account_path(data_dir: &Path) -> PathBuf {
    data_dir.join("acme").join("account.json")
}

/// Why a certificate is (not) due: `None` when the one in use is fine.
pub fn due(cfg: &AcmeConfig, cert: &Path) -> Option<&'static str> {
    if tls::is_own_self_signed(cert) {
        return Some("no certificate from the CA yet");
    }
    let Some(info) = tls::load_certs(cert)
        .ok()
        .and_then(|c| tls::cert_info(&c[0]))
    else {
        return Some("the certificate does not load");
    };
    if !cfg
        .domains
        .iter()
        .all(|d| info.names.iter().any(|n| n.eq_ignore_ascii_case(d)))
    {
        return Some("the certificate does not name every domain");
    }
    if tls::needs_renewal(cert) {
        return Some("the certificate expires within 30 days");
    }
    None
}

async fn account(app: &App, cfg: &AcmeConfig) -> anyhow::Result<Account> {
    let builder = || match &cfg.ca {
        Some(ca) => Account::builder_with_root(ca),
        None => Account::builder(),
    };
    let path = account_path(&app.config.data_dir);
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(creds) = serde_json::from_str::<AccountCredentials>(&text)
    {
        match builder()?.from_credentials(creds).await {
            Ok(a) => return Ok(a),
            Err(e) => tracing::warn!(
                "ACME account in {} not usable ({e}): making a new one",
                path.display()
            ),
        }
    }
    let contact: Vec<String> = cfg.email.iter().map(|e| format!("mailto:{e}")).collect();
    let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (acc, creds) = builder()?
        .create(
            &NewAccount {
                contact: &contact,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            cfg.directory.clone(),
            None,
        )
        .await?;
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    crate::service::signing::replace_private(&path, serde_json::to_string(&creds)?.as_bytes())?;
    Ok(acc)
}

/// The self-signed certificate that answers a TLS-ALPN-01 challenge for `domain`.
fn challenge_cert(domain: &str, digest: &[u8]) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let mut params = rcgen::CertificateParams::new(vec![domain.to_owned()])?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.der().to_vec(), key.serialize_der()))
}

/// Orders a certificate for the configured domains now, answers the challenges on the
/// listener, and presents the certificate once issued.
pub async fn obtain(app: &App) -> anyhow::Result<()> {
    let crate::config::TlsSource::Acme(cfg) = &app.config.tls else {
        anyhow::bail!("licd does not run with --acme");
    };
    let live = app
        .tls
        .get()
        .ok_or_else(|| anyhow::anyhow!("the listener is not up"))?
        .clone();
    let result = order(app, cfg, &live).await;
    live.clear_challenges();
    result
}

async fn order(app: &App, cfg: &AcmeConfig, live: &Arc<LiveCert>) -> anyhow::Result<()> {
    let acc = account(app, cfg).await?;
    let ids: Vec<Identifier> = cfg.domains.iter().cloned().map(Identifier::Dns).collect();
    let mut order = acc.new_order(&NewOrder::new(&ids)).await?;
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz?;
        match authz.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => anyhow::bail!("authorization is {other:?}"),
        }
        let mut challenge = authz
            .challenge(ChallengeType::TlsAlpn01)
            .ok_or_else(|| anyhow::anyhow!("the CA offers no tls-alpn-01 challenge"))?;
        let domain = challenge.identifier().to_string();
        let (cert, key) = challenge_cert(&domain, challenge.key_authorization().digest().as_ref())?;
        live.set_challenge(&domain, cert, key)?;
        challenge.set_ready().await?;
    }
    let patience = RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .timeout(Duration::from_secs(120));
    let status = order.poll_ready(&patience).await?;
    if status != OrderStatus::Ready {
        anyhow::bail!("the order is {status:?}, not ready");
    }
    let key_pem = order.finalize().await?;
    let chain_pem = order.poll_certificate(&patience).await?;
    let (cert_path, key_path) = paths(&app.config.data_dir);
    // Key first: a reader that sees the new chain also finds its key.
    crate::service::signing::replace_private(&key_path, key_pem.as_bytes())?;
    crate::service::signing::replace_private(&cert_path, chain_pem.as_bytes())?;
    live.reload_if_changed()?;
    let info = tls::load_certs(&cert_path)
        .ok()
        .and_then(|c| tls::cert_info(&c[0]));
    tracing::info!(
        domains = cfg.domains.join(","),
        not_after = info
            .map(|i| crate::clock::rfc3339(i.not_after))
            .unwrap_or_default(),
        "ACME certificate installed"
    );
    Ok(())
}

/// Keeps the ACME certificate current: at start and every hour, orders one when due;
/// after a failure tries again sooner (1 min, doubling to 1 h).
pub async fn run(app: Arc<App>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let crate::config::TlsSource::Acme(cfg) = app.config.tls.clone() else {
        return;
    };
    let (cert, _) = paths(&app.config.data_dir);
    let mut retry = Duration::from_secs(60);
    loop {
        let wait = match due(&cfg, &cert) {
            None => Duration::from_secs(3600),
            Some(why) => {
                tracing::info!(
                    domains = cfg.domains.join(","),
                    "ordering an ACME certificate: {why}"
                );
                match obtain(&app).await {
                    Ok(()) => {
                        retry = Duration::from_secs(60);
                        Duration::from_secs(3600)
                    }
                    Err(e) => {
                        tracing::warn!(
                            "ACME certificate not obtained (next try in {} s): {e:#}",
                            retry.as_secs()
                        );
                        let w = retry;
                        retry = (retry * 2).min(Duration::from_secs(3600));
                        w
                    }
                }
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}
