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

/// The server's TLS configuration and the certificate file it uses.
pub fn server_config(config: &Config) -> Result<(rustls::ServerConfig, PathBuf), TlsError> {
    install_provider();
    let (cert, key) = match &config.tls {
        TlsSource::Files { cert, key } => (cert.clone(), key.clone()),
        TlsSource::SelfSigned => {
            ensure_self_signed(&config.data_dir, &config.listen.ip().to_string())?
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut sc = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(load_certs(&cert)?, load_key(&key)?)?;
    sc.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((sc, cert))
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
