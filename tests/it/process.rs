//! The real binary as a separate process: kill -9 in the middle of a capture load and
//! restart, the data-directory lock, the command line, `licd diag`.
use crate::kit::{TestServer, client_for};
use reqwest::Method;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_licd");

pub(crate) fn token(dir: &Path) -> String {
    let out = Command::new(BIN)
        .args([
            "token", "create", "--name", "t", "--role", "admin", "--data",
        ])
        .arg(dir)
        .output()
        .expect("token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    assert!(
        t.starts_with("licd_") && !t.contains('\n'),
        "token alone on stdout: {t:?}"
    );
    t
}

/// `licd user add` of an admin on a stopped server's directory, the password on stdin.
pub(crate) fn add_admin(dir: &Path, login: &str, password: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(["user", "add", "--login", login, "--role", "admin", "--data"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("user add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write");
    child.wait_with_output().expect("wait")
}

/// A server process, killed (and reaped) when dropped: a failing assertion never leaves
/// one running beside the next test.
pub(crate) struct Running(Child);

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `licd serve`; the server's log lines are gathered into the returned list.
pub(crate) fn serve(dir: &Path) -> (Running, String, Arc<parking_lot::Mutex<Vec<String>>>) {
    serve_with(dir, &[])
}

/// `serve` with more options.
pub(crate) fn serve_with(
    dir: &Path,
    extra: &[&str],
) -> (Running, String, Arc<parking_lot::Mutex<Vec<String>>>) {
    let mut child = Running(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir)
            .args(extra)
            .env("LICD_LOG", "warn")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn licd"),
    );
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let log = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(i) = line.find("listening on https://") {
                let _ = tx.send(line[i + "listening on ".len()..].trim().to_owned());
            }
            log2.lock().push(line);
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server printed its URL");
    (child, url, log)
}

pub(crate) struct Remote {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Remote {
    pub(crate) fn new(dir: &Path, url: String, token: String) -> Remote {
        Remote {
            http: client_for(&dir.join("tls/cert.pem")),
            url,
            token,
        }
    }
    pub(crate) async fn call(&self, m: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut rb = self
            .http
            .request(m, format!("{}{}", self.url, path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        match rb.send().await {
            Ok(r) => {
                let st = r.status().as_u16();
                (st, r.json().await.unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = token(dir.path());
    let (mut child, url, _) = serve(dir.path());
    let r = Arc::new(Remote::new(dir.path(), url, t.clone()));
    let (st, _) = r
        .call(Method::POST, "/api/admin/v1/products", Some(json!({"code": "p", "name": "P", "heartbeat_s": 60,
            "features": [{"number": 1, "name": "f", "unit": "session"}], "trial": {"days": 10, "items": [{"feature": 1, "seats": 1}]}})))
        .await;
    assert_eq!(st, 201);
    let (st, c) = r
        .call(
            Method::POST,
            "/api/admin/v1/clients",
            Some(json!({"company": "Crash Co"})),
        )
        .await;
    assert_eq!(st, 201);
    let (_, k) = r
        .call(
            Method::POST,
            &format!("/api/admin/v1/clients/{}/keys", c["id"]),
            None,
        )
        .await;
    let regnum = k["regnum"].as_str().expect("regnum").to_owned();
    let seats = 150;
    r.call(
        Method::POST,
        &format!("/api/admin/v1/keys/{regnum}/items"),
        Some(json!({"product": "p", "feature": 1, "seats": seats})),
    )
    .await;
    // An acknowledged trial and coupon activation, too.
    let (st, trial) = r
        .call(Method::POST, "/api/v1/trial", Some(json!({"product": "p", "company": "T", "contact": "c", "phone": "1", "email": "t@t.test", "host": "th"})))
        .await;
    assert_eq!(st, 201);
    let (_, batch) = r
        .call(
            Method::POST,
            "/api/admin/v1/coupons",
            Some(json!({"count": 1, "items": [{"product": "p", "feature": 1, "seats": 7}]})),
        )
        .await;
    let coupon = batch["codes"][0].as_str().expect("code").to_owned();
    let (st, _) = r
        .call(
            Method::POST,
            "/api/v1/activate",
            Some(json!({"regnum": trial["regnum"], "coupon": coupon})),
        )
        .await;
    assert_eq!(st, 200);

    // A capture load from 16 connections; kill -9 while it runs.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (r, stop, acked, regnum) = (r.clone(), stop.clone(), acked.clone(), regnum.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let (st, b) = r
                    .call(Method::POST, "/api/v1/leases", Some(json!({"regnum": regnum, "feature": 1, "host": format!("w{w}"), "session": format!("{w}-{i}")})))
                    .await;
                match st {
                    201 => acked.lock().push(b["lease"].as_str().unwrap_or_default().to_owned()),
                    409 | 0 => tokio::time::sleep(Duration::from_millis(5)).await,
                    other => panic!("unexpected {other}: {b}"),
                }
            }
        }));
    }
    while acked.lock().len() < 60 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().expect("kill -9"); // SIGKILL on unix
    let _ = child.wait();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().clone();
    assert!(acked.len() >= 60);

    // Restart: every acknowledged lease is there and heartbeats; never more than the seats.
    let (mut child, url, log) = serve(dir.path());
    // The acknowledged captures since the last durable redb commit come back from the
    // redo log.
    assert!(
        log.lock()
            .iter()
            .any(|l| l.contains("replayed the redo log")),
        "no replay logged: {:?}",
        log.lock()
    );
    let r = Remote::new(dir.path(), url, t);
    for l in &acked {
        let (st, b) = r
            .call(Method::POST, &format!("/api/v1/leases/{l}/heartbeat"), None)
            .await;
        assert_eq!(st, 200, "acknowledged lease {l} lost: {b}");
    }
    let (_, key) = r
        .call(Method::GET, &format!("/api/v1/keys/{regnum}"), None)
        .await;
    let used = key["items"][0]["used"].as_u64().expect("used");
    assert!(
        used as usize >= acked.len() && used <= seats,
        "used {used}, acked {}",
        acked.len()
    );
    let (_, leases) = r
        .call(
            Method::GET,
            &format!("/api/admin/v1/leases?regnum={regnum}"),
            None,
        )
        .await;
    assert_eq!(leases.as_array().map(Vec::len), Some(used as usize));
    let (_, tk) = r
        .call(
            Method::GET,
            &format!("/api/v1/keys/{}", trial["regnum"].as_str().expect("r")),
            None,
        )
        .await;
    assert_eq!(
        tk["items"][0]["seats"], 8,
        "trial (1) + activated coupon (7) survived"
    );
    let (st, _) = r
        .call(
            Method::POST,
            "/api/v1/activate",
            Some(json!({"regnum": trial["regnum"], "coupon": coupon})),
        )
        .await;
    assert_eq!(st, 409, "the activation is remembered");

    // A second licd on the same data directory gets a clear error, not a corrupt file.
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .output()
        .expect("second licd");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another licd is already using"), "{err}");
    let out = Command::new(BIN)
        .args([
            "token", "create", "--name", "x", "--role", "admin", "--data",
        ])
        .arg(dir.path())
        .output()
        .expect("token");
    assert!(!out.status.success());
    // SIGTERM: a clean stop.
    #[cfg(unix)]
    {
        let st = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(st.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                assert!(status.success(), "licd exits cleanly on SIGTERM: {status}");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "licd did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diag_command_names_what_stands_between() {
    let s = TestServer::start().await;
    s.product("tel", &[(48, "user")]).await;
    let regnum = s.key_with("tel", 48, 1).await;
    let ca = s.running.as_ref().expect("running").cert_path.clone();
    let diag = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("diag")
            .args(args)
            .env("LANG", "C")
            .output()
            .expect("diag");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let ca_s = ca.to_string_lossy().into_owned();
    let (code, out) = diag(&[
        "48",
        &regnum.to_lowercase(),
        "--server",
        &s.url,
        "--ca",
        &ca_s,
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("can be had") && out.contains("code 0"),
        "{out}"
    );

    s.api(
        Method::POST,
        "/leases",
        Some(json!({"regnum": regnum, "feature": 48, "host": "pc", "user": "ivan"})),
    )
    .await
    .expect(201);
    let (code, out) = diag(&["48", &regnum, "--server", &s.url, "--ca", &ca_s]);
    assert_eq!(code, Some(1));
    assert!(out.contains("1030") && out.contains("ivan"), "{out}");
    let (code, out) = diag(&[
        "48", &regnum, "--server", &s.url, "--ca", &ca_s, "--lang", "ru",
    ]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("код 1030") && out.contains("Нет свободной"),
        "{out}"
    );
    let (_, out) = diag(&["31", &regnum, "--server", &s.url, "--insecure"]);
    assert!(out.contains("1031"), "{out}");
    let (_, out) = diag(&[
        "48",
        "LIC-22222-22222-22222-22222",
        "--server",
        &s.url,
        "--insecure",
    ]);
    assert!(out.contains("1020"), "{out}");
    let (code, out) = diag(&["48", "bad", "--server", &s.url, "--insecure"]);
    assert_eq!((code, out.contains("1003")), (Some(1), true), "{out}");

    // Client-side failures: 1013 untrusted certificate, 1012 refused, 1011 name, 1014 time-out.
    let (code, out) = diag(&["48", &regnum, "--server", &s.url]);
    assert_eq!(code, Some(1));
    assert!(out.contains("1013"), "{out}");
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = free.local_addr().expect("addr").port();
    drop(free);
    let (_, out) = diag(&[
        "48",
        &regnum,
        "--server",
        &format!("https://127.0.0.1:{port}"),
        "--insecure",
    ]);
    assert!(out.contains("1012"), "{out}");
    let (_, out) = diag(&[
        "48",
        &regnum,
        "--server",
        "https://no-such-host.invalid",
        "--insecure",
    ]);
    assert!(out.contains("1011"), "{out}");
    // A listener that accepts but never speaks TLS: time-out.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let sport = silent.local_addr().expect("addr").port();
    let (_, out) = diag(&[
        "48",
        &regnum,
        "--server",
        &format!("https://127.0.0.1:{sport}"),
        "--insecure",
        "--timeout",
        "1",
    ]);
    assert!(out.contains("1014"), "{out}");
    drop(silent);
    s.stop().await;
}

#[test]
fn help_and_bad_config_are_clear() {
    let out = Command::new(BIN).arg("--help").output().expect("help");
    let text = String::from_utf8_lossy(&out.stdout);
    for c in ["serve", "token", "user", "diag"] {
        assert!(text.contains(c), "{text}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("licd.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:0\"\nno_such_key = true\n").expect("write");
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .expect("serve");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_key"));
    let out = Command::new(BIN)
        .args(["serve", "--smtp", "ftp://x", "--data"])
        .arg(dir.path())
        .output()
        .expect("serve");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--smtp"));
    // user add reads the password from stdin; the hash, not the password, is stored.
    let out = add_admin(dir.path(), "boss", "correct horse battery");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = std::fs::read(dir.path().join("licd.redb")).expect("db");
    assert!(
        !db.windows(b"correct horse".len())
            .any(|w| w == b"correct horse")
    );
    assert!(db.windows(b"$argon2id$".len()).any(|w| w == b"$argon2id$"));
}

/// `licd token create/revoke` and `licd user add` write the audit log, as `cli:<OS user>`
/// (or `cli` when the environment names no user), in the change's own commit.
#[test]
fn command_line_changes_are_audited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let licd = |args: &[&str], user: Option<&str>| {
        let mut c = Command::new(BIN);
        c.args(args).arg("--data").arg(dir.path());
        for v in ["SUDO_USER", "USER", "LOGNAME", "USERNAME"] {
            c.env_remove(v);
        }
        if let Some(u) = user {
            c.env("USER", u);
        }
        c
    };
    let out = licd(
        &["token", "create", "--name", "crm", "--role", "manager"],
        Some("ops"),
    )
    .output()
    .expect("token create");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let id: String = err
        .split("token ")
        .nth(1)
        .expect("the token's id")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let out = licd(&["token", "revoke", "--id", &id], None)
        .output()
        .expect("token revoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut child = licd(
        &["user", "add", "--login", "anna", "--role", "manager"],
        Some("ops"),
    )
    .stdin(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("user add");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"long enough password\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let store = licd::store::Store::open(&dir.path().join("licd.redb")).expect("open");
    let tx = store.read().expect("read");
    let (entries, total) = licd::service::audit::page(&tx, "", 0, 10).expect("audit");
    drop(tx);
    store.close();
    assert_eq!(total, 3, "{entries:?}");
    let seen: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.target.as_str()))
        .collect();
    let token = format!("token {id}");
    assert_eq!(
        seen,
        [
            ("cli:ops", "user_create", "anna"),
            ("cli", "token_revoke", token.as_str()),
            ("cli:ops", "token_create", token.as_str()),
        ]
    );
    assert_eq!(entries[2].detail, "crm (manager)");
}

/// `licd user add --email` keeps the user's e-mail; a bad e-mail or an unknown
/// distributor is refused, naming the option.
#[test]
fn user_add_keeps_the_email() {
    let dir = tempfile::tempdir().expect("tempdir");
    let add = |args: &[&str]| {
        let mut child = Command::new(BIN)
            .args(["user", "add", "--data"])
            .arg(dir.path())
            .args(args)
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("user add");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"long enough password\n")
            .expect("write");
        let out = child.wait_with_output().expect("wait");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = add(&[
        "--login",
        "olga",
        "--role",
        "manager",
        "--email",
        " olga@vendor.test ",
    ]);
    assert!(ok, "{err}");
    let (ok, err) = add(&["--login", "bad", "--role", "manager", "--email", "nope"]);
    assert!(!ok && err.contains("--email"), "{err}");
    let (ok, err) = add(&[
        "--login",
        "partner",
        "--role",
        "distributor",
        "--distributor",
        "south",
    ]);
    assert!(!ok && err.contains("--distributor"), "{err}");

    let store = licd::store::Store::open(&dir.path().join("licd.redb")).expect("open");
    let tx = store.read().expect("read");
    let users = licd::service::users::list(&tx).expect("users");
    drop(tx);
    store.close();
    let seen: Vec<(&str, &str)> = users
        .iter()
        .map(|u| (u.login.as_str(), u.email.as_str()))
        .collect();
    assert_eq!(seen, [("olga", "olga@vendor.test")]);
}
