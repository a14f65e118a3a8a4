//! TLS: rustls with the ring provider, TLS 1.2 and 1.3 only, HTTP/2 and HTTP/1.1.
//! Either the vendor's PEM files or a self-signed certificate made on first start and
//! kept in the data directory.
use crate::config::{Config, TlsSource};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0}: no certificate found in the PEM file")]
    NoCert(PathBuf),
    #[error("{0}: no private key found in the PEM file")]
    NoKey(PathBuf),
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(String),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Installs ring as the process's one crypto provider (harmless when already done).
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// Days a self-signed certificate is valid (about 13 months, what browsers accept).
pub const SELF_SIGNED_DAYS: i64 = 397;
/// A certificate licd renews itself (self-signed, ACME) is renewed this many days
/// before it expires.
pub const RENEW_BEFORE_DAYS: i64 = 30;

/// The names a self-signed certificate covers: localhost, the loopback addresses, the
/// host's name and the address licd listens on.
fn self_signed_names(listen_host: &str) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Ok(h) = hostname()
        && !h.is_empty()
        && !names.contains(&h)
    {
        names.push(h);
    }
    if !names.iter().any(|n| n == listen_host)
        && !listen_host.is_empty()
        && listen_host != "0.0.0.0"
        && listen_host != "::"
    {
        names.push(listen_host.to_owned());
    }
    names
}

/// Makes a self-signed certificate for `key`: subject "licd on HOST" of organisation
/// "licd", valid from a day ago for [`SELF_SIGNED_DAYS`].
fn make_self_signed(listen_host: &str, key: &rcgen::KeyPair) -> Result<String, TlsError> {
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let mut params =
        rcgen::CertificateParams::new(self_signed_names(listen_host)).map_err(generate)?;
    let host = hostname()
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, format!("licd on {host}"));
    dn.push(rcgen::DnType::OrganizationName, "licd");
    dn.push(rcgen::DnType::OrganizationalUnitName, "self-signed");
    params.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(SELF_SIGNED_DAYS);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    Ok(params.self_signed(key).map_err(generate)?.pem())
}

/// Whether the certificate at `cert` is one licd made itself (so it may renew it).
pub fn is_own_self_signed(cert: &Path) -> bool {
    load_certs(cert)
        .ok()
        .and_then(|c| cert_info(&c[0]))
        .is_some_and(|i| {
            i.subject == i.issuer
                && (i.subject.contains("O=licd") || i.subject.contains("rcgen self signed cert"))
        })
}

/// Whether the first certificate at `cert` expires within [`RENEW_BEFORE_DAYS`] (or
/// cannot be read), or is a library's placeholder.
pub fn needs_renewal(cert: &Path) -> bool {
    let Some(info) = load_certs(cert).ok().and_then(|c| cert_info(&c[0])) else {
        return true;
    };
    info.subject.contains("rcgen self signed cert")
        || info.not_after - time::OffsetDateTime::now_utc()
            < time::Duration::days(RENEW_BEFORE_DAYS)
}

/// Makes (once) and returns the self-signed certificate's paths; renews it with the
/// same key (so a pinned public key stays valid) when it is near its end.
pub fn ensure_self_signed(
    data_dir: &Path,
    listen_host: &str,
) -> Result<(PathBuf, PathBuf), TlsError> {
    let (cert, key) = self_signed_paths(data_dir);
    ensure_self_signed_at(&cert, &key, listen_host)?;
    Ok((cert, key))
}

pub fn ensure_self_signed_at(cert: &Path, key: &Path, listen_host: &str) -> Result<(), TlsError> {
    let (cert, key) = (cert.to_owned(), key.to_owned());
    if cert.exists() && key.exists() {
        if !is_own_self_signed(&cert) || !needs_renewal(&cert) {
            return Ok(());
        }
        let pem = std::fs::read_to_string(&key).map_err(|e| TlsError::Read(key.clone(), e))?;
        if let Ok(kp) = rcgen::KeyPair::from_pem(&pem) {
            let made = make_self_signed(listen_host, &kp)?;
            crate::service::signing::replace_private(&cert, made.as_bytes())
                .map_err(|e| TlsError::Read(cert.clone(), e))?;
            tracing::info!(
                "self-signed certificate renewed (same key): {}",
                cert.display()
            );
            return Ok(());
        }
    }
    if let Some(dir) = cert.parent() {
        std::fs::create_dir_all(dir).map_err(|e| TlsError::Read(dir.to_owned(), e))?;
    }
    let kp = rcgen::KeyPair::generate().map_err(|e| TlsError::Generate(e.to_string()))?;
    let made = make_self_signed(listen_host, &kp)?;
    let _ = std::fs::remove_file(&key);
    crate::service::signing::write_private(&key, kp.serialize_pem().as_bytes())
        .map_err(|e| TlsError::Read(key.clone(), e))?;
    crate::service::signing::replace_private(&cert, made.as_bytes())
        .map_err(|e| TlsError::Read(cert.clone(), e))?;
    Ok(())
}

/// The SHA-256 fingerprint of a DER certificate, as `AB:CD:…` (what browsers and
/// `openssl x509 -fingerprint -sha256` show).
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The SHA-256 of a DER certificate's public key (SPKI), base64: the `pin-sha256` an app
/// pins to survive renewals with the same key.
pub fn spki_pin(der: &[u8]) -> Option<String> {
    use base64::Engine;
    use sha2::Digest;
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(
        base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(cert.public_key().raw)),
    )
}

fn hostname() -> std::io::Result<String> {
    crate::config::host_name().ok_or_else(|| std::io::Error::other("no host name"))
}

pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let data = std::fs::read(path).map_err(|e| TlsError::Read(path.to_owned(), e))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut data.as_slice())
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCert(path.to_owned()));
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let data = std::fs::read(path).map_err(|e| TlsError::Read(path.to_owned(), e))?;
    rustls_pemfile::private_key(&mut data.as_slice())
        .map_err(|e| TlsError::Read(path.to_owned(), e))?
        .ok_or_else(|| TlsError::NoKey(path.to_owned()))
}

/// The certificate the listener presents, replaceable while it runs (the System page's
/// upload; ACME renewals): every new handshake gets the current one.
#[derive(Debug)]
pub struct LiveCert {
    current: parking_lot::RwLock<Arc<rustls::sign::CertifiedKey>>,
    /// Where the certificate in use was read from.
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    /// Whether it is the one kept in the data directory (replaceable from the System
    /// page); a pair given by `--cert`/`--key` is the configuration's and wins.
    pub in_data_dir: bool,
    /// The listening host, when licd may renew a self-signed pair in the data directory.
    renew_host: Option<String>,
    /// The files' modification times and sizes when last read (or found unreadable).
    seen: parking_lot::Mutex<Option<Stamp>>,
    /// TLS-ALPN-01 answers by domain, presented only to an `acme-tls/1` handshake.
    challenges:
        parking_lot::RwLock<std::collections::HashMap<String, Arc<rustls::sign::CertifiedKey>>>,
}

/// The ALPN protocol of the TLS-ALPN-01 challenge (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

type Stamp = [(Option<std::time::SystemTime>, u64); 2];

fn stamp_of(cert: &Path, key: &Path) -> Stamp {
    let one = |p: &Path| std::fs::metadata(p).map_or((None, 0), |m| (m.modified().ok(), m.len()));
    [one(cert), one(key)]
}

impl rustls::server::ResolvesServerCert for LiveCert {
    fn resolve(
        &self,
        hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        if let Some(mut alpn) = hello.alpn()
            && alpn.any(|p| p == ACME_TLS_ALPN)
        {
            let name = hello.server_name()?.to_ascii_lowercase();
            return self.challenges.read().get(&name).cloned();
        }
        Some(self.current.read().clone())
    }
}

fn certified(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<rustls::sign::CertifiedKey, TlsError> {
    Ok(rustls::sign::CertifiedKey::from_der(
        certs,
        key,
        &rustls::crypto::ring::default_provider(),
    )?)
}

impl LiveCert {
    /// The chain in use, leaf first.
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.current.read().cert.clone()
    }

    /// Makes a live certificate from a pair of PEM files.
    pub fn from_files(
        cert: PathBuf,
        key: PathBuf,
        in_data_dir: bool,
        renew_host: Option<String>,
    ) -> Result<LiveCert, TlsError> {
        let seen = stamp_of(&cert, &key);
        Ok(LiveCert {
            current: parking_lot::RwLock::new(Arc::new(certified(
                load_certs(&cert)?,
                load_key(&key)?,
            )?)),
            cert_path: cert,
            key_path: key,
            in_data_dir,
            renew_host,
            seen: parking_lot::Mutex::new(Some(seen)),
            challenges: Default::default(),
        })
    }

    /// Presents `cert_pem`/`key_pem` (a TLS-ALPN-01 answer) to `acme-tls/1` handshakes
    /// for `domain`.
    pub fn set_challenge(
        &self,
        domain: &str,
        cert_der: Vec<u8>,
        key_der: Vec<u8>,
    ) -> Result<(), TlsError> {
        let key =
            PrivateKeyDer::try_from(key_der).map_err(|e| TlsError::Generate(e.to_string()))?;
        // Not `certified`: its key check parses the certificate with webpki, which
        // refuses the critical acmeIdentifier extension this certificate must carry.
        let signer = rustls::crypto::ring::default_provider()
            .key_provider
            .load_private_key(key)?;
        let ck = rustls::sign::CertifiedKey::new(vec![CertificateDer::from(cert_der)], signer);
        self.challenges
            .write()
            .insert(domain.to_ascii_lowercase(), Arc::new(ck));
        Ok(())
    }

    pub fn clear_challenges(&self) {
        self.challenges.write().clear();
    }

    /// Presents a new certificate from the next handshake on.
    pub fn install(&self, ck: rustls::sign::CertifiedKey) {
        *self.current.write() = Arc::new(ck);
    }

    /// Reads the files again when they changed on disk since last read (a vendor's
    /// certbot, a copied-in pair) and presents them; a pair that does not load (half
    /// written, key not matching) is reported once and the one in use stays.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = stamp_of(&self.cert_path, &self.key_path);
        let mut seen = self.seen.lock();
        if seen.as_ref() == Some(&now) {
            return Ok(false);
        }
        *seen = Some(now);
        drop(seen);
        let ck = certified(load_certs(&self.cert_path)?, load_key(&self.key_path)?)?;
        self.install(ck);
        Ok(true)
    }

    /// Renews the self-signed pair licd made when it nears its end, then presents it.
    pub fn renew_if_due(&self) -> Result<bool, TlsError> {
        let Some(host) = &self.renew_host else {
            return Ok(false);
        };
        if !is_own_self_signed(&self.cert_path) || !needs_renewal(&self.cert_path) {
            return Ok(false);
        }
        ensure_self_signed_at(&self.cert_path, &self.key_path, host)?;
        self.reload_if_changed()
    }

    /// Checks a PEM certificate chain and its private key (they must match), writes them
    /// over the data directory's pair (the old one kept as `*.pem.old`) and presents
    /// them from the next handshake on.
    pub fn replace_pem(&self, cert_pem: &str, key_pem: &str) -> Result<(), TlsError> {
        let certs: Vec<_> = rustls_pemfile::certs(&mut cert_pem.as_bytes())
            .filter_map(Result::ok)
            .collect();
        if certs.is_empty() {
            return Err(TlsError::NoCert(PathBuf::from("the uploaded certificate")));
        }
        let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())
            .ok()
            .flatten()
            .ok_or_else(|| TlsError::NoKey(PathBuf::from("the uploaded key")))?;
        let ck = certified(certs, key)?;
        for (path, pem) in [(&self.cert_path, cert_pem), (&self.key_path, key_pem)] {
            let mut old = path.as_os_str().to_owned();
            old.push(".old");
            let _ = std::fs::rename(path, PathBuf::from(old));
            crate::service::signing::write_private(path, pem.as_bytes())
                .map_err(|e| TlsError::Read(path.clone(), e))?;
        }
        self.install(ck);
        *self.seen.lock() = Some(stamp_of(&self.cert_path, &self.key_path));
        Ok(())
    }
}

/// The server's TLS configuration and the certificate it presents.
pub fn server_config(config: &Config) -> Result<(rustls::ServerConfig, Arc<LiveCert>), TlsError> {
    install_provider();
    let host = config.listen.ip().to_string();
    let live = Arc::new(match &config.tls {
        TlsSource::Files { cert, key } => {
            LiveCert::from_files(cert.clone(), key.clone(), false, None)?
        }
        TlsSource::SelfSigned => {
            let (c, k) = ensure_self_signed(&config.data_dir, &host)?;
            LiveCert::from_files(c, k, true, Some(host))?
        }
        TlsSource::Acme(_) => {
            // Until the CA's certificate arrives, a self-signed one stands in (the
            // ACME job replaces it; the listener must run to answer the challenge).
            let (c, k) = crate::service::acme::paths(&config.data_dir);
            if !c.exists() || !k.exists() {
                ensure_self_signed_at(&c, &k, &host)?;
            }
            LiveCert::from_files(c, k, false, None)?
        }
    });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut sc = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(live.clone());
    sc.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if matches!(config.tls, TlsSource::Acme(_)) {
        sc.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
    }
    Ok((sc, live))
}

/// What the System page shows of a certificate.
#[derive(Clone, Debug)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub names: Vec<String>,
    pub not_before: time::OffsetDateTime,
    pub not_after: time::OffsetDateTime,
}

/// Reads subject, issuer, names and validity of a DER certificate.
pub fn cert_info(der: &[u8]) -> Option<CertInfo> {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .map(|n| match n {
                    GeneralName::DNSName(d) => (*d).to_owned(),
                    GeneralName::IPAddress(b) => match b.len() {
                        4 => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
                        16 => <[u8; 16]>::try_from(*b)
                            .map(|a| std::net::Ipv6Addr::from(a).to_string())
                            .unwrap_or_default(),
                        _ => String::new(),
                    },
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let t = |a: ASN1Time| ::time::OffsetDateTime::from_unix_timestamp(a.timestamp()).ok();
    Some(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        names,
        not_before: t(cert.validity().not_before)?,
        not_after: t(cert.validity().not_after)?,
    })
}

/// Accepts any server certificate (`--insecure`), still checking the handshake's
/// signatures.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client TLS configuration: trusting `ca` (PEM) if given, else the public web roots;
/// or nothing at all with `insecure`.
pub fn client_config(ca: Option<&Path>, insecure: bool) -> Result<rustls::ClientConfig, TlsError> {
    install_provider();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let mut cfg = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match ca {
            Some(p) => {
                for c in load_certs(p)? {
                    roots.add(c)?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}
