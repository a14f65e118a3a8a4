//! Secrets never reach the log: the real binary at `LICD_LOG=debug` (access log on)
//! while an admin-API token is used, staff sign in (right and wrong passwords), a
//! cabinet code is asked for and mail fails against an SMTP URL with a password. Its
//! whole log must hold none of the token, the passwords, the SMTP password, or the
//! session cookies it handed out; neither may the error bodies it answers with or any
//! file of its data directory (the database with its audit log, the redo log).
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_licd");

fn cookie_of(h: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    h.get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", licd::web::urlencode(k), licd::web::urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn csrf_of(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    body[at..at + body[at..].find('"').expect("end")].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_passwords_codes_and_smtp_credentials_never_reach_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = crate::process::token(dir.path());
    let password = "Correct-Horse-Battery-9";
    let added = crate::process::add_admin(dir.path(), "boss", password);
    assert!(added.status.success());
    let smtp_password = "Smtp-Pa55word-Never-Logged";
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .arg("--smtp")
        .arg(format!("smtp://mailer:{smtp_password}@127.0.0.1:{closed}"))
        .env("LICD_LOG", "debug")
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let log = std::sync::Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    for stream in [
        Box::new(child.stderr.take().expect("stderr")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stdout.take().expect("stdout")),
    ] {
        let (log, tx) = (log.clone(), tx.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(i) = line.find("listening on https://") {
                    let _ = tx.send(line[i + "listening on ".len()..].trim().to_owned());
                }
                log.lock().push(line);
            }
        });
    }
    let url = rx.recv_timeout(Duration::from_secs(30)).expect("url");
    let http = crate::kit::client_for(&dir.path().join("tls/cert.pem"));
    let no_redirect = reqwest::Client::builder()
        .use_preconfigured_tls(
            licd::http::tls::client_config(Some(&dir.path().join("tls/cert.pem")), false)
                .expect("tls"),
        )
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    // The admin API with the token: a client with a key.
    let client: serde_json::Value = http
        .post(format!("{url}/api/admin/v1/clients"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"company": "ООО Тест", "email": "buyer@client.test"}))
        .send()
        .await
        .expect("client")
        .json()
        .await
        .expect("json");
    let id = client["id"].as_u64().expect("id");
    let key: serde_json::Value = http
        .post(format!("{url}/api/admin/v1/clients/{id}/keys"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("key")
        .json()
        .await
        .expect("json");
    let regnum = key["regnum"].as_str().expect("regnum").to_owned();
    // A wrong token too; its error body does not echo it.
    let wrong = http
        .get(format!("{url}/api/admin/v1/clients"))
        .bearer_auth(format!("{token}x"))
        .send()
        .await
        .expect("wrong token");
    assert_eq!(wrong.status(), 401);
    let body = wrong.text().await.expect("body");
    assert!(!body.contains(&token[..20]), "the token echoed: {body}");
    // A password refused (too short) is not echoed either.
    let short = "Sh0rt-7";
    let refused = http
        .post(format!("{url}/api/admin/v1/users"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"login": "anna", "role": "manager", "password": short}))
        .send()
        .await
        .expect("user");
    assert_eq!(refused.status(), 400);
    let body = refused.text().await.expect("body");
    assert!(body.contains("password") && !body.contains(short), "{body}");

    // Staff sign-in: a wrong password, then the right one.
    let mut secrets = vec![token.clone(), password.to_owned(), smtp_password.to_owned()];
    for pw in ["Wrong-Password-Typed-1", password] {
        let form = no_redirect
            .get(format!("{url}/login"))
            .send()
            .await
            .expect("form");
        let pre = cookie_of(form.headers(), "licd_presign").expect("presign cookie");
        let csrf = csrf_of(&form.text().await.expect("body"));
        let r = no_redirect
            .post(format!("{url}/login"))
            .header("Cookie", format!("licd_presign={pre}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form_body(&[
                ("csrf", &csrf),
                ("login", "boss"),
                ("password", pw),
            ]))
            .send()
            .await
            .expect("login");
        if let Some(session) = cookie_of(r.headers(), "licd_session") {
            secrets.push(session);
        }
        secrets.push(pw.to_owned());
    }
    assert!(secrets.len() >= 5, "the right password gave a session");

    // A cabinet code asked for: mailed (the mail then fails against the closed port).
    let form = no_redirect
        .get(format!("{url}/cabinet/login"))
        .send()
        .await
        .expect("cabinet form");
    let pre = cookie_of(form.headers(), "licd_presign").expect("presign");
    let csrf = csrf_of(&form.text().await.expect("body"));
    let r = no_redirect
        .post(format!("{url}/cabinet/code"))
        .header("Cookie", format!("licd_presign={pre}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form_body(&[("csrf", &csrf), ("login", &regnum)]))
        .send()
        .await
        .expect("code");
    assert!(r.status().is_success(), "{}", r.status());
    // Give the outbox a try at the closed SMTP port.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();

    // Nor anywhere in the data directory: the database (audit entries, tokens, users,
    // sessions: secrets are kept as hashes) and the redo log.
    let mut files = vec![dir.path().to_path_buf()];
    let mut read = 0;
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(
                std::fs::read_dir(&p)
                    .expect("dir")
                    .map(|e| e.expect("entry").path()),
            );
            continue;
        }
        let bytes = std::fs::read(&p).expect("file");
        read += bytes.len();
        for s in secrets.iter().chain([&short.to_owned()]) {
            let found = bytes.windows(s.len()).any(|w| w == s.as_bytes());
            assert!(
                !found,
                "a secret ({}…) is stored in {}",
                &s[..4],
                p.display()
            );
        }
    }
    assert!(read > 100_000, "the database was read ({read} bytes)");
    let log = log.lock().join("\n");
    assert!(
        log.contains("licd::access") || log.contains("/api/admin/v1/clients"),
        "the access log was on:\n{log}"
    );
    assert!(
        log.contains("mail not sent"),
        "the outbox tried the SMTP server:\n{log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "no terminal colours in a log that is not a terminal"
    );
    for s in &secrets {
        assert!(
            !log.contains(s.as_str()),
            "a secret ({}…) is in the log:\n{log}",
            &s[..4]
        );
    }
    // The code itself: never an 8-digit run in a line about mail or the cabinet.
    for line in log
        .lines()
        .filter(|l| l.contains("mail") || l.contains("cabinet"))
    {
        let digits = line
            .split(|c: char| !c.is_ascii_digit())
            .any(|run| run.len() == 8);
        assert!(!digits, "an 8-digit run (a one-time code?) in: {line}");
    }
}
