//! The UI test kit: the real server (real TLS, temp data dir) and a plain HTTPS client
//! that keeps cookies by hand, for the checks that need no browser.
#![allow(dead_code)]
use licd::clock::Clock;
use licd::config::{Config, ServeArgs};
use licd::server::Running;
use std::sync::Arc;

#[path = "../common/smtp.rs"]
mod smtp;
#[allow(unused_imports)]
pub use smtp::{SentMail, SmtpSink};

pub struct Server {
    pub running: Option<Running>,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub cert: std::path::PathBuf,
    pub clock: Clock,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(|_| {}).await
    }

    /// The server with mail going to `sink`.
    pub async fn start_mailing(sink: &SmtpSink) -> Server {
        let port = sink.port;
        Server::start_with(move |a| a.smtp = Some(format!("smtp://127.0.0.1:{port}"))).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut ServeArgs)) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args = ServeArgs {
            data: Some(dir.path().to_owned()),
            listen: Some("127.0.0.1:0".into()),
            workers: Some(2),
            ..Default::default()
        };
        tune(&mut args);
        let config = Config::resolve(&args).expect("config");
        let clock = Clock::system();
        let mut running = licd::server::start(config, clock.clone()).expect("start");
        running.spawn();
        let url = format!("https://127.0.0.1:{}", running.addr.port());
        let cert = running.cert_path.clone();
        Server {
            running: Some(running),
            url,
            dir,
            cert,
            clock,
        }
    }

    pub fn app(&self) -> &Arc<licd::service::App> {
        &self.running.as_ref().expect("running").app
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    /// Adds a staff user directly (the UI makes them too; this is for setup), with the
    /// distributor it acts for when that does not exist yet.
    pub async fn user(&self, login: &str, role: licd::domain::Role, distributor: &str) {
        let known = {
            let tx = self.app().store.read().expect("read");
            licd::service::distributors::get(&tx, distributor)
                .expect("distributor")
                .is_some()
        };
        if role == licd::domain::Role::Distributor && !known {
            licd::service::distributors::create(self.app(), distributor, distributor, "")
                .await
                .expect("distributor");
        }
        licd::service::auth::add_user(
            &self.app().store,
            login,
            role,
            "password123",
            distributor,
            "",
            self.app().now(),
            "test",
        )
        .await
        .expect("add user");
    }
}

/// A browser-less client: keeps the cookies it is given, follows no redirects.
pub struct Http {
    pub client: reqwest::Client,
    pub base: String,
    pub cookies: Vec<(String, String)>,
    /// The Accept-Language of `get` and `post` (Russian unless changed).
    pub lang: &'static str,
}

pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    /// The value of `<input type="hidden" name="csrf" value="…">` on the page.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field");
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').expect("end of value")].to_owned()
    }
}

impl Http {
    pub fn new(s: &Server) -> Http {
        let tls = licd::http::tls::client_config(Some(&s.cert), false).expect("client tls");
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Http {
            client,
            base: s.url.clone(),
            cookies: Vec::new(),
            lang: "ru-RU,ru;q=0.9",
        }
    }

    fn keep(&mut self, headers: &reqwest::header::HeaderMap) {
        for v in headers.get_all("set-cookie") {
            let Ok(v) = v.to_str() else { continue };
            let first = v.split(';').next().unwrap_or("");
            if let Some((k, val)) = first.split_once('=') {
                self.cookies.retain(|(n, _)| n != k);
                if !val.is_empty() && !v.contains("Max-Age=0") {
                    self.cookies.push((k.to_owned(), val.to_owned()));
                }
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .header("Accept-Language", self.lang)
            .send()
            .await
            .expect("get");
        self.page(r).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{}={}", licd::web::urlencode(k), licd::web::urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .header("Accept-Language", self.lang)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("post");
        self.page(r).await
    }

    /// Posts a multipart form (a file upload).
    pub async fn post_multipart(&mut self, path: &str, form: reqwest::multipart::Form) -> Page {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .header("Accept-Language", "en-US,en;q=0.9")
            .multipart(form)
            .send()
            .await
            .expect("post multipart");
        self.page(r).await
    }

    /// A GET whose answer is bytes (a download): status, headers, body.
    pub async fn get_bytes(&mut self, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .send()
            .await
            .expect("get");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        self.keep(&headers);
        (status, headers, r.bytes().await.expect("body").to_vec())
    }

    async fn page(&mut self, r: reqwest::Response) -> Page {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        self.keep(&headers);
        let body = r.text().await.expect("body");
        Page {
            status,
            headers,
            body,
        }
    }

    /// Signs in through the login form; panics unless it lands on /clients.
    pub async fn login(&mut self, login: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        let csrf = form.csrf();
        let p = self
            .post(
                "/login",
                &[("csrf", &csrf), ("login", login), ("password", password)],
            )
            .await;
        assert_eq!(
            (p.status, p.location()),
            (303, "/clients"),
            "login of {login}: {}",
            p.body
        );
        p
    }
}
