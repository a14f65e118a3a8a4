//! Certificates that just work: the self-signed default names licd and the host, is
//! renewed with the same key near its end, and its fingerprint is printed; certificate
//! files changed on disk are presented without a restart; the data directory and its
//! files are private (0700/0600); `licd setup-link` finds the first-admin link.
use crate::kit::TestServer;
use licd::http::tls;
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Accepts any certificate and keeps what the server presented.
#[derive(Debug)]
struct Grab(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Grab {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The chain a TLS handshake with `port` (SNI `name`) presents; with `roots`, the
/// handshake fails unless the chain verifies against them.
pub async fn presented(
    port: u16,
    name: &str,
    roots: Option<rustls::RootCertStore>,
) -> std::io::Result<Vec<CertificateDer<'static>>> {
    tls::install_provider();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?;
    let cfg = match roots {
        Some(r) => builder.with_root_certificates(r).with_no_client_auth(),
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Grab(provider)))
            .with_no_client_auth(),
    };
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let sni = ServerName::try_from(name.to_owned()).map_err(std::io::Error::other)?;
    let conn = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(sni, tcp)
        .await?;
    Ok(conn
        .get_ref()
        .1
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .map(|c| c.clone().into_owned())
        .collect())
}

pub fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port")
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
}

#[tokio::test]
async fn the_self_signed_default_names_licd_and_the_data_dir_is_private() {
    let s = TestServer::start().await;
    let chain = presented(port_of(&s.url), "localhost", None)
        .await
        .expect("tls");
    let info = tls::cert_info(&chain[0]).expect("parse");
    assert!(info.subject.contains("CN=licd on "), "{}", info.subject);
    assert!(info.subject.contains("O=licd"), "{}", info.subject);
    assert!(
        !info.subject.contains("rcgen"),
        "not a library's placeholder"
    );
    for n in ["localhost", "127.0.0.1"] {
        assert!(info.names.iter().any(|x| x == n), "{n} in {:?}", info.names);
    }
    let days = (info.not_after - time::OffsetDateTime::now_utc()).whole_days();
    assert!((390..=397).contains(&days), "valid ~13 months: {days} days");
    assert_eq!(tls::fingerprint(&chain[0]).len(), 32 * 3 - 1);
    #[cfg(unix)]
    {
        let d = s.data_dir();
        assert_eq!(mode(&d), 0o700);
        for f in ["licd.redb", "signing.key", "tls/key.pem", "tls/cert.pem"] {
            assert_eq!(mode(&d.join(f)), 0o600, "{f}");
        }
        assert_eq!(mode(&d.join("tls")), 0o700);
    }
    s.stop().await;
}

/// A self-signed pair of organisation "licd" valid `days` more days.
fn licd_pair(days: i64, key: &rcgen::KeyPair) -> String {
    let mut p = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "licd on old-host");
    dn.push(rcgen::DnType::OrganizationName, "licd");
    p.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(300);
    p.not_after = now + time::Duration::days(days);
    p.self_signed(key).expect("cert").pem()
}

#[tokio::test]
async fn a_self_signed_certificate_near_its_end_is_renewed_with_the_same_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tlsd = dir.path().join("tls");
    std::fs::create_dir_all(&tlsd).expect("mkdir");
    let key = rcgen::KeyPair::generate().expect("key");
    std::fs::write(tlsd.join("cert.pem"), licd_pair(5, &key)).expect("cert");
    std::fs::write(tlsd.join("key.pem"), key.serialize_pem()).expect("key");
    let old = tls::load_certs(&tlsd.join("cert.pem")).expect("old");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // As an older licd (or a hand copy) left them: readable by everyone.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        std::fs::set_permissions(tlsd.join("key.pem"), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
    }
    let s = TestServer::start_in(dir, |_| {}).await;
    let chain = presented(port_of(&s.url), "localhost", None)
        .await
        .expect("tls");
    assert_ne!(chain[0], old[0], "a new certificate");
    let info = tls::cert_info(&chain[0]).expect("parse");
    assert!((info.not_after - time::OffsetDateTime::now_utc()).whole_days() > 390);
    assert_eq!(
        tls::spki_pin(&chain[0]),
        tls::spki_pin(&old[0]),
        "the same key: a pinned public key keeps working"
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&s.data_dir()), 0o700);
        assert_eq!(mode(&s.data_dir().join("tls/key.pem")), 0o600);
    }
    s.stop().await;
}

fn pair_for(name: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    (cert.pem(), key.serialize_pem())
}

async fn presented_becomes(port: u16, want: &[u8], secs: u64) -> bool {
    for _ in 0..secs * 10 {
        if let Ok(c) = presented(port, "localhost", None).await
            && c[0].as_ref() == want
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn certificate_files_changed_on_disk_are_presented_without_a_restart() {
    let files = tempfile::tempdir().expect("files");
    let (cert, key) = (files.path().join("c.pem"), files.path().join("k.pem"));
    let (c1, k1) = pair_for("localhost");
    std::fs::write(&cert, &c1).expect("c1");
    std::fs::write(&key, &k1).expect("k1");
    let (c2, k2) = pair_for("localhost");
    let (cc, kk) = (cert.clone(), key.clone());
    let s = TestServer::start_with(move |a| {
        a.cert = Some(cc);
        a.key = Some(kk);
        a.tls_reload_secs = Some(1);
    })
    .await;
    let port = port_of(&s.url);
    let der = |pem: &str| {
        rustls_pemfile::certs(&mut pem.as_bytes())
            .next()
            .expect("one")
            .expect("der")
            .to_vec()
    };
    assert!(presented_becomes(port, &der(&c1), 1).await);
    // A certificate whose key does not match: the one in use stays.
    std::fs::write(&cert, &c2).expect("c2");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        presented_becomes(port, &der(&c1), 1).await,
        "a broken pair is not used"
    );
    // Its key arrives: the new pair is presented, with no restart.
    std::fs::write(&key, &k2).expect("k2");
    assert!(
        presented_becomes(port, &der(&c2), 10).await,
        "the new pair is in use"
    );
    // The server still answers over it.
    let health = s.http.get(format!("{}/healthz", s.url)).send().await;
    assert!(
        health.is_err(),
        "the old client no longer trusts the new certificate"
    );
    s.stop().await;
}

#[test]
fn serve_prints_the_fingerprint_and_setup_link_finds_the_link() {
    use std::process::Command;
    const BIN: &str = env!("CARGO_BIN_EXE_licd");
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, url, log) = crate::process::serve(dir.path());
    let text = || log.lock().join("\n");
    for _ in 0..50 {
        if text().contains("/setup/") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let printed = text();
    assert!(
        printed.contains("certificate SHA-256 fingerprint: "),
        "{printed}"
    );
    assert!(printed.contains("pin-sha256"), "{printed}");
    let link = printed
        .split_whitespace()
        .find(|w| w.contains("/setup/"))
        .expect("a setup link printed")
        .to_owned();
    assert!(link.starts_with(&url), "{link} on {url}");
    let fp = tls::fingerprint(&tls::load_certs(&dir.path().join("tls/cert.pem")).expect("cert")[0]);
    assert!(
        printed.contains(&fp),
        "the fingerprint of the certificate in use"
    );
    // While it runs, the same link.
    let out = Command::new(BIN)
        .args(["setup-link", "--data"])
        .arg(dir.path())
        .output()
        .expect("setup-link");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), link);
    #[cfg(unix)]
    assert_eq!(mode(&dir.path().join("setup-link.txt")), 0o600);
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    // Staff made from the command line: no link any more.
    let added = crate::process::add_admin(dir.path(), "boss", "correct horse battery");
    assert!(added.status.success());
    let out = Command::new(BIN)
        .args(["setup-link", "--data"])
        .arg(dir.path())
        .output()
        .expect("setup-link");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("staff exist already"), "{err}");
}
