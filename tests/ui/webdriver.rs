//! A small WebDriver client on reqwest, driving Debian's chromedriver + headless
//! chromium (installed by scripts/install-browser.sh when missing).
use base64::Engine;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver on a free port; killed when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
    port: u16,
    http: reqwest::Client,
    /// Browser sessions still open, ended on drop (also when a test panics), so no
    /// chromium outlives the test.
    open: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let open = self.open.lock().map(|v| v.clone()).unwrap_or_default();
        for id in open {
            if let Ok(mut sock) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
                let req = format!(
                    "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = sock.write_all(req.as_bytes());
                let mut buf = Vec::new();
                let _ = sock.read_to_end(&mut buf);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn ensure_browser() {
    if std::path::Path::new("/usr/bin/chromium").exists()
        && std::path::Path::new("/usr/bin/chromedriver").exists()
    {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install-browser.sh");
    let ok = Command::new("sh")
        .arg(script)
        .status()
        .expect("run install-browser.sh")
        .success();
    assert!(ok, "installing chromium and chromium-driver failed");
}

impl Driver {
    pub async fn start() -> Driver {
        ensure_browser();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().build().expect("client");
        for _ in 0..100 {
            if http.get(format!("{url}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Driver {
            child,
            url,
            port,
            http,
            open: Default::default(),
        }
    }

    /// A fresh browser with its own profile (so its own cookies).
    pub async fn browser(&self, lang: &str) -> Browser {
        self.browser_in(lang, None).await
    }

    /// A fresh browser that saves downloads into `downloads` without asking.
    pub async fn browser_in(&self, lang: &str, downloads: Option<&std::path::Path>) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut prefs = json!({"intl.accept_languages": lang});
        if let Some(d) = downloads {
            prefs["download.default_directory"] = json!(d.display().to_string());
            prefs["download.prompt_for_download"] = json!(false);
            prefs["download.directory_upgrade"] = json!(true);
            prefs["safebrowsing.enabled"] = json!(false);
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--no-first-run", format!("--lang={lang}"), "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.path().display())],
                "prefs": prefs
            }
        }}});
        let r: Value = self
            .http
            .post(format!("{}/session", self.url))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let id = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_owned();
        if let Ok(mut open) = self.open.lock() {
            open.push(id.clone());
        }
        Browser {
            base: format!("{}/session/{id}", self.url),
            http: self.http.clone(),
            _profile: profile,
            id,
            open: self.open.clone(),
        }
    }
}

pub struct Browser {
    base: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
    id: String,
    open: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Browser {
    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        rb = rb.json(&body.unwrap_or_else(|| json!({})));
        let v: Value = rb
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("webdriver json");
        if v["value"].get("error").is_some() {
            panic!("webdriver {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    pub async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    pub async fn find(&self, css: &str) -> String {
        for _ in 0..30 {
            let v: Value = self
                .http
                .post(format!("{}/element", self.base))
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .await
                .expect("find")
                .json()
                .await
                .expect("find json");
            if let Some(id) = v["value"][ELEMENT].as_str() {
                return id.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no element {css} on {}:\n{}",
            self.url().await,
            self.text().await
        );
    }

    pub async fn count(&self, css: &str) -> usize {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array().map_or(0, Vec::len)
    }

    pub async fn type_in(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/clear"), None)
            .await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/click"), None)
            .await;
    }

    /// The visible text of the whole page.
    pub async fn text(&self) -> String {
        let v: Value = self
            .http
            .post(format!("{}/element", self.base))
            .json(&json!({"using": "css selector", "value": "body"}))
            .send()
            .await
            .expect("body")
            .json()
            .await
            .expect("json");
        let Some(id) = v["value"][ELEMENT].as_str() else {
            return String::new();
        };
        // The page may be replaced between the two calls (after a click): then "".
        let v: Value = match self
            .http
            .get(format!("{}/element/{id}/text", self.base))
            .send()
            .await
        {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        v["value"].as_str().unwrap_or("").to_owned()
    }

    /// Waits until the page's text contains `what`; panics with the page otherwise.
    pub async fn see(&self, what: &str) {
        for _ in 0..30 {
            if self.text().await.contains(what) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let source = self.cmd(reqwest::Method::GET, "/source", None).await;
        panic!(
            "expected {what:?} on {}:\n{}\n{source}",
            self.url().await,
            self.text().await
        );
    }

    pub async fn window(&self, width: u32, height: u32) {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Saves a PNG screenshot under target/screenshots/.
    pub async fn screenshot(&self, name: &str) {
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .expect("png base64");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshots dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Runs `js` (a function body) in the page and returns what it returns.
    pub async fn script(&self, js: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
        .await
    }

    pub async fn close(self) {
        let _ = self.http.delete(&self.base).send().await;
        if let Ok(mut open) = self.open.lock() {
            open.retain(|i| *i != self.id);
        }
    }
}

impl Browser {
    /// The current value of a form control.
    pub async fn value(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::GET,
            &format!("/element/{e}/property/value"),
            None,
        )
        .await
        .as_str()
        .unwrap_or("")
        .to_owned()
    }

    /// The text of an open alert (or confirm, prompt) dialog; `None` when WebDriver
    /// answers "no such alert".
    pub async fn alert(&self) -> Option<String> {
        let v: Value = self
            .http
            .get(format!("{}/alert/text", self.base))
            .send()
            .await
            .expect("alert")
            .json()
            .await
            .expect("alert json");
        match v["value"].get("error").and_then(Value::as_str) {
            Some("no such alert") => None,
            Some(e) => panic!("webdriver alert/text: {e}: {}", v["value"]),
            None => Some(v["value"].as_str().unwrap_or("").to_owned()),
        }
    }

    /// Goes into the frame `css` (then `text`, `see` and `find` work inside it).
    pub async fn enter_frame(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            "/frame",
            Some(json!({"id": {ELEMENT: e}})),
        )
        .await;
    }

    /// Back out of a frame to the page around it.
    pub async fn leave_frame(&self) {
        self.cmd(reqwest::Method::POST, "/frame/parent", None).await;
    }
}
