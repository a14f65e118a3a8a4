//! Prometheus metrics (`GET /api/admin/v1/metrics`), the access log and JSON logs, end
//! to end: the in-process server over TLS, and the real binary for its stderr.
use crate::kit::{TestServer, client_for};
use reqwest::Method;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// The value of the sample `series` (name with its labels, as exposed), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().expect("a number"))
}

#[track_caller]
fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

async fn scrape(s: &TestServer) -> String {
    let r = s.admin(Method::GET, "/metrics", None).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.raw));
    assert_eq!(
        r.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    String::from_utf8(r.raw).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_captures_denials_mail_and_answers() {
    let s = TestServer::start().await;
    s.product("metered", &[(48, "user")]).await;
    let regnum = s.key_with("metered", 48, 1).await;
    let before = scrape(&s).await;
    assert_eq!(
        value(&before, "licd_backup_last_success_timestamp_seconds"),
        0.0
    );

    let capture = |user: &str| {
        let body = json!({"regnum": regnum, "feature": 48, "host": "pc", "user": user});
        s.api(Method::POST, "/leases", Some(body))
    };
    capture("ivan").await.expect(201);
    capture("petr").await.expect_error(409, 1030);
    let after = scrape(&s).await;

    let delta = |series: &str| value(&after, series) - sample(&before, series).unwrap_or(0.0);
    assert_eq!(delta("licd_captures_total"), 1.0);
    assert_eq!(delta("licd_denials_total{code=\"1030\"}"), 1.0);
    assert_eq!(delta("licd_denials_total{code=\"1031\"}"), 0.0);
    assert!(value(&after, "licd_leases_live") >= 1.0);
    assert!(value(&after, "licd_seats_used") >= 1.0);
    // Each answer is counted before it is sent: the first scrape's 200, the 201 and 409.
    assert!(value(&after, "licd_http_requests_total{status=\"200\"}") >= 1.0);
    assert_eq!(delta("licd_http_requests_total{status=\"201\"}"), 1.0);
    assert_eq!(delta("licd_http_requests_total{status=\"409\"}"), 1.0);
    assert_eq!(delta("licd_http_request_duration_seconds_count"), 3.0);
    assert!(value(&after, "licd_http_request_duration_seconds_sum") > 0.0);
    assert_eq!(
        value(
            &after,
            "licd_http_request_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        value(&after, "licd_http_request_duration_seconds_count")
    );
    for series in [
        "licd_outbox_pending",
        "licd_mail_sent_total",
        "licd_db_size_bytes",
        "licd_start_time_seconds",
        "licd_store_commits_total",
    ] {
        value(&after, series);
    }
    assert!(after.contains("licd_build_info{version=\""));

    // Mail the SMTP server accepted is counted once the outbox has let go of it.
    let sent = value(&after, "licd_mail_sent_total");
    s.api(
        Method::POST,
        "/trial",
        Some(
            json!({"product": "metered", "company": "C", "contact": "c", "phone": "1",
                    "email": "m@metrics.test", "host": "trial-host"}),
        ),
    )
    .await
    .expect(201);
    s.smtp
        .wait_for("m@metrics.test", 20)
        .await
        .expect("welcome mail");
    let mut counted = false;
    for _ in 0..100 {
        if value(&scrape(&s).await, "licd_mail_sent_total") == sent + 1.0 {
            counted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(counted, "licd_mail_sent_total did not move");

    // Backup code reports its success here.
    s.app().metrics.backup_succeeded(1_800_000_000);
    assert_eq!(
        value(
            &scrape(&s).await,
            "licd_backup_last_success_timestamp_seconds"
        ),
        1.8e9
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_an_admin_token() {
    let s = TestServer::start().await;
    s.send(Method::GET, "/api/admin/v1/metrics", None, &[])
        .await
        .expect_error(401, 2001);
    let t = s
        .admin(
            Method::POST,
            "/tokens",
            Some(json!({"name": "crm", "role": "manager"})),
        )
        .await
        .expect(201);
    let auth = format!("Bearer {}", t["token"].as_str().expect("token"));
    s.send(
        Method::GET,
        "/api/admin/v1/metrics",
        None,
        &[("Authorization", auth.as_str())],
    )
    .await
    .expect_error(403, 2003);
    // The OpenAPI document describes it like every admin call.
    let doc = s.send(Method::GET, "/api/openapi.json", None, &[]).await;
    assert!(
        doc.body["paths"]["/api/admin/v1/metrics"]["get"].is_object(),
        "{}",
        doc.body["paths"]
    );
    s.stop().await;
}

/// `LICD_LOG_FORMAT=json` and `LICD_LOG=debug`: the real binary's stderr has one JSON
/// object a log line, among them an access line per request with the route's pattern,
/// and neither the token, the registration number in the path nor the query string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_access_log_names_routes_not_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = crate::process::token(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_licd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .env("LICD_LOG", "debug")
        .env("LICD_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn licd");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let log = Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));
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
    let http = client_for(&dir.path().join("tls/cert.pem"));
    let call = |m: Method, path: &str, body: Option<Value>| {
        let mut rb = http.request(m, format!("{url}{path}")).bearer_auth(&token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        async move {
            let r = rb.send().await.expect("request");
            let st = r.status().as_u16();
            (st, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (st, c) = call(
        Method::POST,
        "/api/admin/v1/clients",
        Some(json!({"company": "Logged Co"})),
    )
    .await;
    assert_eq!(st, 201);
    let (st, k) = call(
        Method::POST,
        &format!("/api/admin/v1/clients/{}/keys", c["id"]),
        None,
    )
    .await;
    assert_eq!(st, 201);
    let regnum = k["regnum"].as_str().expect("regnum").to_owned();
    let (st, _) = call(
        Method::GET,
        &format!("/api/admin/v1/keys/{regnum}?secretquery=1"),
        None,
    )
    .await;
    assert_eq!(st, 200);
    let (st, _) = call(Method::GET, "/api/admin/v1/nowhere", None).await;
    assert_eq!(st, 404);

    // The access line of the last request is written before its answer is sent; the
    // reader thread may take a moment to pass it on.
    let access = |log: &[String]| -> Vec<Value> {
        log.iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["target"] == "licd::access")
            .collect()
    };
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = access(&log.lock());
        if lines.iter().any(|v| v["fields"]["status"] == 404) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = log.lock().clone();

    let key_line = lines
        .iter()
        .find(|v| v["fields"]["route"] == "/api/admin/v1/keys/{regnum}")
        .unwrap_or_else(|| panic!("no access line for the key read in {lines:#?}"));
    assert_eq!(key_line["level"], "DEBUG");
    assert_eq!(key_line["fields"]["method"], "GET");
    assert_eq!(key_line["fields"]["status"], 200);
    assert!(
        key_line["fields"]["ms"]
            .as_f64()
            .is_some_and(|ms| ms >= 0.0)
    );
    assert!(
        lines.iter().any(
            |v| v["fields"]["route"] == "/api/admin/v1/clients" && v["fields"]["status"] == 201
        )
    );
    // An unknown route is logged without its path.
    assert!(
        lines
            .iter()
            .any(|v| v["fields"]["status"] == 404 && v["fields"]["route"] == "-"),
        "{lines:#?}"
    );
    for l in &lines {
        let text = l.to_string();
        assert!(
            !text.contains(&regnum) && !text.contains("nowhere"),
            "{text}"
        );
    }
    // Every log line is JSON (what licd prints to people at start is not a log line),
    // and nothing logged holds the token or the query string.
    let json_lines = log
        .iter()
        .filter(|l| serde_json::from_str::<Value>(l).is_ok())
        .count();
    assert!(json_lines >= lines.len() && !lines.is_empty());
    for l in &log {
        assert!(!l.contains(&token), "token in the log: {l}");
        assert!(!l.contains("secretquery"), "query string in the log: {l}");
        if l.starts_with('{') {
            serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        }
    }
}

/// An idle server writes nothing: no background job commits every few seconds with
/// nothing to do (issue 16: the alert job did, every 2 s, and each such write is a
/// durable commit that stalls the capture path behind it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_server_commits_nothing() {
    let s = TestServer::start().await;
    s.product("idle", &[(49, "user")]).await;
    let regnum = s.key_with("idle", 49, 2).await;
    let body = json!({"regnum": regnum, "feature": 49, "host": "pc", "user": "ivan"});
    s.api(Method::POST, "/leases", Some(body)).await.expect(201);
    // The alert job steps its cursor once an hour: keep that hour's end out of the window.
    let into_hour = (s.clock.now() - time::Duration::seconds(5)).unix_timestamp() % 3600;
    if 3600 - into_hour < 30 {
        s.clock.advance(time::Duration::seconds(60));
    }
    // The jobs' first passes (they set their cursors once), then three of the alert
    // job's 2-second passes.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = value(&scrape(&s).await, "licd_store_commits_total");
    tokio::time::sleep(Duration::from_secs(7)).await;
    let after = value(&scrape(&s).await, "licd_store_commits_total");
    assert_eq!(after, before, "commits while idle");
    // The check can fail: a write does count.
    s.api(
        Method::POST,
        "/leases",
        Some(json!({"regnum": regnum, "feature": 49, "host": "pc", "user": "petr"})),
    )
    .await
    .expect(201);
    let later = value(&scrape(&s).await, "licd_store_commits_total");
    assert!(later > after, "a capture is a commit: {after} then {later}");
}
