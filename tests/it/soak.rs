//! The soak test: 10,000 malformed requests against a live server — random methods,
//! paths, headers and JSON bodies through a pooled client; raw TLS connections for what
//! a well-behaved client cannot send (bad UTF-8 in the request line, a 64 KiB header,
//! bodies cut short, slowloris-style slow headers, 10 MB bodies, deep JSON nesting).
//! Nothing may answer 5xx, the server keeps serving, and its memory comes back.
//!
//! The server is the real binary in its own process, with the allocator it ships with,
//! so the memory measured is the server's alone, not the test client's as well.
use crate::kit::client_for;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The resident memory of a process, from Linux's `/proc` (0 where there is none).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

const PATHS: &[&str] = &[
    "/api/v1/trial",
    "/api/v1/activate",
    "/api/v1/leases",
    "/api/v1/leases/xyz/heartbeat",
    "/api/v1/keys/LIC-AAAAA-BBBBB-CCCCC-DDDDD",
    "/api/v1/releases/latest",
    "/api/admin/v1/clients",
    "/api/admin/v1/products",
    "/api/admin/v1/keys",
    "/api/admin/v1/coupons",
    "/api/admin/v1/releases",
    "/api/admin/v1/settings",
    "/cabinet/login",
    "/login",
    "/clients",
];

/// One request a pooled client can send: method, path (with noise), headers, body.
fn request() -> impl Strategy<Value = (String, String, Vec<(String, String)>, Vec<u8>)> {
    let method = prop_oneof![
        Just("GET"),
        Just("POST"),
        Just("PATCH"),
        Just("DELETE"),
        Just("PUT"),
        Just("OPTIONS"),
        Just("TRACE"),
    ]
    .prop_map(str::to_owned);
    let path = (prop::sample::select(PATHS), "[a-zA-Z0-9%._~/?=&{}-]{0,40}")
        .prop_map(|(p, tail)| format!("{p}{tail}"));
    let header = prop_oneof![
        Just(("Content-Type".to_owned(), "application/json".to_owned())),
        Just((
            "Content-Type".to_owned(),
            "multipart/form-data; boundary=x".to_owned()
        )),
        Just((
            "Content-Type".to_owned(),
            "application/x-www-form-urlencoded".to_owned()
        )),
        Just(("Authorization".to_owned(), "Bearer licd_nope".to_owned())),
        ("[A-Za-z-]{1,20}", "[ -~]{0,60}"),
        Just(("Accept-Language".to_owned(), "ru;q=abc, *;q=-1".to_owned())),
        Just(("Licd-Nonce".to_owned(), "x".repeat(65))),
        Just(("Range".to_owned(), "bytes=99999999999999999999-".to_owned())),
        Just((
            "Cookie".to_owned(),
            "licd_session=; licd_cabinet=%%%".to_owned()
        )),
    ];
    let body = prop_oneof![
        Just(Vec::new()),
        prop::collection::vec(any::<u8>(), 0..300),
        "\\PC{0,200}".prop_map(String::into_bytes),
        Just(br#"{"regnum":"LIC-AAAAA","feature":-1,"host":"","extra":1}"#.to_vec()),
        Just(br#"{"email":"a@b","product":"X","host":"h","company":"\u0000"}"#.to_vec()),
        (1usize..2000)
            .prop_map(|n| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)).into_bytes()),
    ];
    (method, path, prop::collection::vec(header, 0..4), body)
}

/// Sends raw bytes over a new TLS connection and returns the status it got (0: none).
async fn raw(
    tls: &tokio_rustls::TlsConnector,
    port: u16,
    head: &[u8],
    body: &[u8],
    slow: Option<Duration>,
    cut_short: bool,
) -> u16 {
    let Ok(tcp) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return 0;
    };
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let Ok(mut s) = tls.connect(name, tcp).await else {
        return 0;
    };
    match slow {
        Some(gap) => {
            for b in head {
                if s.write_all(&[*b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(gap).await;
            }
        }
        None => {
            if s.write_all(head).await.is_err() {
                return 0;
            }
            for chunk in body.chunks(64 * 1024) {
                if s.write_all(chunk).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = s.flush().await;
    if cut_short {
        // The client goes away mid-body: the server must let go of it at once.
        let _ = s.shutdown().await;
    }
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(15), s.read(&mut buf))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(0);
    let line = String::from_utf8_lossy(&buf[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_malformed_requests_leave_the_server_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = crate::process::token(dir.path());
    let (mut child, url, log) = crate::process::serve_with(dir.path(), &["--workers", "2"]);
    let pid = child.id();
    let cert = dir.path().join("tls/cert.pem");
    let http = client_for(&cert);
    let port = crate::tls::port_of(&url);
    let started = Instant::now();
    let served = Arc::new(AtomicUsize::new(0));
    let server_errors = Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));

    // Warm up, then the baseline.
    for _ in 0..200 {
        let _ = http.get(format!("{url}/healthz")).send().await;
    }
    let baseline = rss_kib(pid);

    // 9,000 through a pooled client, 32 at a time.
    let mut runner = TestRunner::deterministic();
    let strategy = request();
    let mut cases = Vec::with_capacity(9000);
    for _ in 0..9000 {
        cases.push(strategy.new_tree(&mut runner).expect("case").current());
    }
    let cases = Arc::new(parking_lot::Mutex::new(cases));
    let mut workers = Vec::new();
    for _ in 0..32 {
        let (cases, http, url, token) = (cases.clone(), http.clone(), url.clone(), token.clone());
        let (served, errors) = (served.clone(), server_errors.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let Some((method, path, headers, body)) = cases.lock().pop() else {
                    return;
                };
                let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
                let mut rb = http.request(m, format!("{url}{path}")).body(body);
                let admin =
                    path.starts_with("/api/admin") && served.load(Ordering::Relaxed) % 2 == 0;
                if admin {
                    rb = rb.bearer_auth(&token);
                }
                for (k, v) in headers {
                    rb = rb.header(k, v);
                }
                if let Ok(r) = rb.send().await {
                    let st = r.status().as_u16();
                    let _ = r.bytes().await;
                    if st >= 500 {
                        errors.lock().push(format!("{st} {method} {path}"));
                    }
                }
                served.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // 1,000 over raw TLS, beside them.
    let tls = tokio_rustls::TlsConnector::from(Arc::new(
        licd::http::tls::client_config(Some(&cert), false)
            .map(|mut c| {
                c.alpn_protocols = vec![b"http/1.1".to_vec()];
                c
            })
            .expect("tls"),
    ));
    let raw_statuses = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let mut raw_workers = Vec::new();
    for w in 0..8u64 {
        let (tls, statuses) = (tls.clone(), raw_statuses.clone());
        raw_workers.push(tokio::spawn(async move {
            let mut rng = w.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = move || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            for i in 0..125u64 {
                let kind = (w * 125 + i) % 10;
                let r = next();
                let (head, body, slow): (Vec<u8>, Vec<u8>, Option<Duration>) = match kind {
                    // A request line with bytes that are not UTF-8.
                    0 => (
                        [b"GET /api/v1/keys/".as_slice(), &[0xff, 0xfe, (r % 256) as u8, 0xc3], b" HTTP/1.1\r\nHost: x\r\n\r\n"].concat(),
                        vec![],
                        None,
                    ),
                    // A 64 KiB header.
                    1 => (format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(64 * 1024)).into_bytes(), vec![], None),
                    // A body cut short of its Content-Length.
                    2 => (b"POST /api/v1/trial HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"email\":".to_vec(), vec![], None),
                    // Deep nesting.
                    3 => {
                        let b = "[".repeat(30_000).into_bytes();
                        (format!("POST /api/v1/leases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", b.len()).into_bytes(), b, None)
                    }
                    // 10 MB bodies (a few), refused by size.
                    4 if i == 4 && w % 2 == 0 => {
                        let b = vec![b'{'; 10 * 1024 * 1024];
                        (format!("POST /api/v1/trial HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", b.len()).into_bytes(), b, None)
                    }
                    // Slow headers (slowloris): one byte every 50 ms for a while.
                    5 if i == 5 => (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(), vec![], Some(Duration::from_millis(50))),
                    // Garbage instead of HTTP.
                    6 => ((0..(r % 200 + 1)).map(|k| (r.rotate_left(k as u32) % 256) as u8).collect(), vec![], None),
                    // Chunked with a bad chunk size.
                    7 => (b"POST /api/v1/leases HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".to_vec(), vec![], None),
                    // Both Content-Length and chunked (request smuggling shape).
                    8 => (b"POST /api/v1/trial HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n".to_vec(), vec![], None),
                    // A header without a colon, an absurd method.
                    _ => (format!("P{}ST /api/v1/trial HTTP/1.1\r\nHost x\r\n\r\n", "O".repeat((r % 5000) as usize)).into_bytes(), vec![], None),
                };
                let st = raw(&tls, port, &head, &body, slow, kind == 2).await;
                statuses.lock().push((kind, st));
            }
        }));
    }
    for w in workers.into_iter().chain(raw_workers) {
        w.await.expect("worker");
    }
    let took = started.elapsed();
    eprintln!(
        "soak: pooled and raw requests done in {:.1} s",
        took.as_secs_f64()
    );

    let errors = server_errors.lock().clone();
    assert!(errors.is_empty(), "5xx answers: {errors:?}");
    let raws = raw_statuses.lock().clone();
    assert_eq!(raws.len(), 1000);
    let raw5xx: Vec<_> = raws.iter().filter(|(_, st)| *st >= 500).collect();
    assert!(raw5xx.is_empty(), "5xx to raw requests: {raw5xx:?}");
    assert_eq!(served.load(Ordering::Relaxed), 9000);
    // The bad ones got refusals, not silence, where HTTP allows an answer.
    let seen = |kind: u64, status: u16| raws.iter().any(|(k, st)| *k == kind && *st == status);
    assert!(seen(3, 400), "deep nesting is a 400: {raws:?}");
    assert!(seen(4, 413), "a 10 MB body is a 413: {raws:?}");
    assert!(seen(5, 408), "slow headers time out with 408: {raws:?}");
    assert!(
        seen(0, 400),
        "bad UTF-8 in the request line is a 400: {raws:?}"
    );

    // Still serving, and the memory is back.
    let ok = http
        .get(format!("{url}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(ok.status(), 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid);
    eprintln!(
        "soak: 10,000 requests in {:.1} s; RSS {} MiB before, {} MiB after",
        took.as_secs_f64(),
        baseline / 1024,
        after / 1024
    );
    assert!(
        after < baseline + 48 * 1024,
        "memory back near the baseline: {baseline} KiB before, {after} KiB after"
    );
    let _ = child.kill();
    let _ = child.wait();
    let log = log.lock();
    // actix notes each unparseable request at ERROR (`actix_http::h1::dispatcher`);
    // those are this test's own garbage, not faults of the server.
    let bad: Vec<_> = log
        .iter()
        .filter(|l| l.contains("panicked") || l.contains("ERROR"))
        .filter(|l| !l.contains("actix_http::h1::dispatcher"))
        .take(5)
        .collect();
    assert!(bad.is_empty(), "the server logged errors: {bad:?}");
}
