//! The test kit: the real server on a free loopback port with real TLS and a temporary
//! data directory, a real SMTP sink, and clients that check every signature.
#![allow(dead_code)]
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use licd::clock::Clock;
use licd::config::{Config, ServeArgs};
use licd::domain::Role;
use licd::server::Running;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[path = "../common/smtp.rs"]
mod smtp;
#[allow(unused_imports)]
pub use smtp::{SentMail, SmtpSink, Step};

/// An answer: status, JSON body, headers.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
    pub raw: Vec<u8>,
}

impl Resp {
    pub fn code(&self) -> u64 {
        self.body["error"]["code"].as_u64().unwrap_or(0)
    }
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected answer: {}", self.body);
        self.body
    }
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: u64) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "unexpected answer: {}",
            self.body
        );
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
}

pub struct TestServer {
    pub running: Option<Running>,
    pub url: String,
    pub http: reqwest::Client,
    pub token: String,
    pub dir: tempfile::TempDir,
    pub smtp: SmtpSink,
    pub public_key: VerifyingKey,
    pub clock: Clock,
}

pub fn client_for(cert: &Path) -> reqwest::Client {
    let tls = licd::http::tls::client_config(Some(cert), false).expect("client tls");
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .expect("client")
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut ServeArgs)) -> TestServer {
        Self::start_in(tempfile::tempdir().expect("tempdir"), tune).await
    }

    /// Starts on an existing data directory (a restart).
    pub async fn start_in(dir: tempfile::TempDir, tune: impl FnOnce(&mut ServeArgs)) -> TestServer {
        Self::start_on(dir, Clock::system(), tune).await
    }

    /// Starts on an existing data directory with the given clock (a test that replays
    /// the time a database was written at).
    pub async fn start_on(
        dir: tempfile::TempDir,
        clock: Clock,
        tune: impl FnOnce(&mut ServeArgs),
    ) -> TestServer {
        let smtp = SmtpSink::start().await;
        let mut args = ServeArgs {
            data: Some(dir.path().to_owned()),
            listen: Some("127.0.0.1:0".into()),
            smtp: Some(format!("smtp://127.0.0.1:{}", smtp.port)),
            mail_from: Some("licd@vendor.test".into()),
            workers: Some(2),
            ..Default::default()
        };
        tune(&mut args);
        let config = Config::resolve(&args).expect("config");
        let mut running = licd::server::start(config, clock.clone()).expect("start");
        running.spawn();
        let (token, _) = licd::service::auth::create_token(
            &running.app.store,
            "test",
            Role::Admin,
            clock.now(),
            "test",
        )
        .await
        .expect("token");
        let url = format!("https://127.0.0.1:{}", running.addr.port());
        let http = client_for(&running.cert_path);
        let pk: [u8; 32] = B64
            .decode(running.app.signer.public_key_b64())
            .expect("b64")
            .try_into()
            .expect("32 bytes");
        TestServer {
            url,
            http,
            token,
            smtp,
            public_key: VerifyingKey::from_bytes(&pk).expect("key"),
            clock,
            dir,
            running: Some(running),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    pub fn app(&self) -> &Arc<licd::service::App> {
        &self.running.as_ref().expect("running").app
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut rb = self.http.request(method, format!("{}{}", self.url, path));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let raw = r.bytes().await.expect("body").to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        if path.starts_with("/api/v1/") {
            let sig = headers
                .get("licd-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| {
                    panic!("no Licd-Signature on {path}: {status} {body} {headers:?}")
                });
            let sig = Signature::from_slice(&B64.decode(sig).expect("signature base64"))
                .expect("signature");
            self.public_key
                .verify(&raw, &sig)
                .unwrap_or_else(|_| panic!("bad signature on {path}: {body}"));
        }
        Resp {
            status,
            body,
            headers,
            raw,
        }
    }

    /// A protected-app call (signature checked).
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.send(method, &format!("/api/v1{path}"), body, &[])
            .await
    }

    /// An admin-API call with the admin token.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let auth = format!("Bearer {}", self.token);
        self.send(
            method,
            &format!("/api/admin/v1{path}"),
            body,
            &[("Authorization", &auth)],
        )
        .await
    }

    /// Makes a product `code` with the given features `(number, unit)` and a trial.
    pub async fn product(&self, code: &str, features: &[(u32, &str)]) -> Value {
        let feats: Vec<Value> = features
            .iter()
            .map(|(n, u)| json!({"number": n, "name": format!("Feature {n}"), "unit": u}))
            .collect();
        let trial_items: Vec<Value> = features
            .iter()
            .map(|(n, _)| json!({"feature": n, "seats": 2}))
            .collect();
        self.admin(
            Method::POST,
            "/products",
            Some(
                json!({"code": code, "name": format!("Product {code}"), "heartbeat_s": 30,
                        "features": feats, "trial": {"days": 14, "items": trial_items}}),
            ),
        )
        .await
        .expect(201)
    }

    /// A client with a key holding `seats` of `feature` of `product`; returns the regnum.
    pub async fn key_with(&self, product: &str, feature: u32, seats: u32) -> String {
        let c = self
            .admin(
                Method::POST,
                "/clients",
                Some(json!({"company": "Acme", "contact": "A", "phone": "1", "email": ""})),
            )
            .await
            .expect(201);
        let id = c["id"].as_u64().expect("id");
        let k = self
            .admin(Method::POST, &format!("/clients/{id}/keys"), None)
            .await
            .expect(201);
        let regnum = k["regnum"].as_str().expect("regnum").to_owned();
        self.admin(
            Method::POST,
            &format!("/keys/{regnum}/items"),
            Some(json!({"product": product, "feature": feature, "seats": seats})),
        )
        .await
        .expect(201);
        regnum
    }

    pub async fn stop(self) {
        self.stop_keep().await;
    }

    /// Stops and hands back the data directory, for a restart.
    pub async fn stop_keep(mut self) -> tempfile::TempDir {
        // Close idle keep-alive connections first, so a graceful stop need not wait.
        self.http = reqwest::Client::new();
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        self.dir
    }
}
