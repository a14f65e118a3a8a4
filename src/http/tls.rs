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

/// Makes (once) and returns the self-signed certificate's paths.
pub fn ensure_self_signed(
    data_dir: &Path,
    listen_host: &str,
) -> Result<(PathBuf, PathBuf), TlsError> {
    let (cert, key) = self_signed_paths(data_dir);
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let dir = data_dir.join("tls");
    std::fs::create_dir_all(&dir).map_err(|e| TlsError::Read(dir.clone(), e))?;
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Ok(h) = hostname() {
        names.push(h);
    }
    if !names.iter().any(|n| n == listen_host)
        && !listen_host.is_empty()
        && listen_host != "0.0.0.0"
        && listen_host != "::"
    {
        names.push(listen_host.to_owned());
    }
    let ck =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    std::fs::write(&cert, ck.cert.pem()).map_err(|e| TlsError::Read(cert.clone(), e))?;
    let _ = std::fs::remove_file(&key);
    crate::service::signing::write_private(&key, ck.signing_key.serialize_pem().as_bytes())
        .map_err(|e| TlsError::Read(key.clone(), e))?;
    Ok((cert, key))
}

fn hostname() -> std::io::Result<String> {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .map(Ok)
        .unwrap_or_else(|| std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_owned()))
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
}

impl rustls::server::ResolvesServerCert for LiveCert {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
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
        *self.current.write() = Arc::new(ck);
        Ok(())
    }
}

/// The server's TLS configuration and the certificate it presents.
pub fn server_config(config: &Config) -> Result<(rustls::ServerConfig, Arc<LiveCert>), TlsError> {
    install_provider();
    let (cert, key, in_data_dir) = match &config.tls {
        TlsSource::Files { cert, key } => (cert.clone(), key.clone(), false),
        TlsSource::SelfSigned => {
            let (c, k) = ensure_self_signed(&config.data_dir, &config.listen.ip().to_string())?;
            (c, k, true)
        }
    };
    let live = Arc::new(LiveCert {
        current: parking_lot::RwLock::new(Arc::new(certified(
            load_certs(&cert)?,
            load_key(&key)?,
        )?)),
        cert_path: cert,
        key_path: key,
        in_data_dir,
    });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut sc = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(live.clone());
    sc.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
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
