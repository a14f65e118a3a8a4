//! ACME against Debian's pebble on loopback: licd gets a certificate for `licd.test`
//! by answering TLS-ALPN-01 on its own listening port, serves it (a TLS client checks
//! the chain against pebble's root), and a forced renewal is presented without a
//! restart. pebble-challtestsrv is pebble's DNS (every name is 127.0.0.1).
use crate::kit::TestServer;
use crate::tls::{port_of, presented};
use licd::http::tls;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// pebble and its DNS, installed by `scripts/install-test-tools.sh` when missing.
fn ensure_pebble() {
    if Path::new("/usr/bin/pebble").exists() && Path::new("/usr/bin/pebble-challtestsrv").exists() {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install-test-tools.sh");
    let ok = Command::new("sh")
        .arg(script)
        .status()
        .expect("install")
        .success();
    assert!(ok, "installing pebble failed");
}
use std::path::Path;

async fn wait_port(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing listens on {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_pebble_is_served_and_renewed_without_a_restart() {
    ensure_pebble();
    // What licd and instant-acme say is shown when this test fails.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("licd=debug,instant_acme=debug")
        .with_test_writer()
        .try_init();
    let work = tempfile::tempdir().expect("work");
    // pebble's own HTTPS: a CA of the test's and a localhost certificate from it.
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test CA for pebble");
    let ca = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("leaf")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf cert");
    let p = |n: &str| work.path().join(n);
    std::fs::write(p("ca.pem"), ca.pem()).expect("ca.pem");
    std::fs::write(p("cert.pem"), leaf.pem()).expect("cert.pem");
    std::fs::write(p("key.pem"), leaf_key.serialize_pem()).expect("key.pem");

    let (licd_port, acme_port, mgmt_port, dns_port, chall_mgmt) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let config = serde_json::json!({"pebble": {
        "listenAddress": format!("127.0.0.1:{acme_port}"),
        "managementListenAddress": format!("127.0.0.1:{mgmt_port}"),
        "certificate": p("cert.pem"), "privateKey": p("key.pem"),
        "httpPort": free_port(), "tlsPort": licd_port,
        "ocspResponderURL": "", "externalAccountBindingRequired": false
    }});
    std::fs::write(p("pebble.json"), config.to_string()).expect("config");
    let _dns = Kill(
        Command::new("/usr/bin/pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-management", &format!("127.0.0.1:{chall_mgmt}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv"),
    );
    let _pebble = Kill(
        Command::new("/usr/bin/pebble")
            .arg("-config")
            .arg(p("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble"),
    );
    wait_port(acme_port).await;
    wait_port(mgmt_port).await;

    let ca_path = p("ca.pem");
    let s = TestServer::start_with(move |a| {
        a.listen = Some(format!("127.0.0.1:{licd_port}"));
        a.acme = Some("licd.test".into());
        a.acme_email = Some("ops@vendor.test".into());
        a.acme_directory = Some(format!("https://127.0.0.1:{acme_port}/dir"));
        a.acme_ca = Some(ca_path);
    })
    .await;
    assert_eq!(port_of(&s.url), licd_port);

    // pebble's issuing root (new at every start), from its management port.
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(tls::client_config(Some(&p("ca.pem")), false).expect("tls"))
        .build()
        .expect("client");
    let root_pem = http
        .get(format!("https://127.0.0.1:{mgmt_port}/roots/0"))
        .send()
        .await
        .expect("roots")
        .text()
        .await
        .expect("root pem");
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut root_pem.as_bytes()) {
        roots.add(c.expect("root")).expect("add root");
    }

    // The first certificate: the chain verifies against pebble's root for licd.test.
    let mut first = None;
    for _ in 0..600 {
        if let Ok(chain) = presented(licd_port, "licd.test", Some(roots.clone())).await {
            first = Some(chain);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = first.expect("a certificate from pebble within 60 s");
    let info = tls::cert_info(&first[0]).expect("parse");
    assert!(
        info.names.iter().any(|n| n == "licd.test"),
        "{:?}",
        info.names
    );
    assert!(first.len() >= 2, "leaf and intermediate");
    let (cert_path, key_path) = licd::service::acme::paths(&s.data_dir());
    assert!(cert_path.exists() && key_path.exists());
    assert!(
        s.data_dir().join("acme/account.json").exists(),
        "the account is kept"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [&key_path, &s.data_dir().join("acme/account.json")] {
            let m = std::fs::metadata(f).expect("meta").permissions().mode() & 0o777;
            assert_eq!(m, 0o600, "{}", f.display());
        }
    }
    // The API answers over it.
    let ok = reqwest::Client::builder()
        .use_preconfigured_tls({
            let mut c = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
            c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            c
        })
        .resolve("licd.test", ([127, 0, 0, 1], licd_port).into())
        .build()
        .expect("client")
        .get(format!("https://licd.test:{licd_port}/healthz"))
        .send()
        .await
        .expect("healthz over the ACME certificate");
    assert_eq!(ok.status(), 200);

    // A forced renewal: a new certificate from the next handshake on, same process.
    licd::service::acme::obtain(s.app()).await.expect("renewal");
    let second = presented(licd_port, "licd.test", Some(roots))
        .await
        .expect("tls");
    assert_ne!(first[0], second[0], "the renewed certificate is presented");
    assert_eq!(
        licd::service::acme::due(
            match &s.app().config.tls {
                licd::config::TlsSource::Acme(c) => c,
                _ => unreachable!("acme"),
            },
            &cert_path
        ),
        None,
        "nothing due after a renewal"
    );
    s.stop().await;
}
