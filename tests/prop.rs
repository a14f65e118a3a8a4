//! Hostile input, property-based (proptest): every parser licd runs on bytes from the
//! outside or from disk either accepts or refuses cleanly — never a panic, never an
//! allocation a corrupt length can blow up — and what it accepts keeps its invariants.
//! Covered: request bodies (the JSON extractor), registration numbers and coupons, the
//! store codec, the redo log's reader (random, truncated and corrupted files) and frame
//! parser, multipart uploads, and Markdown rendering.
use licd::domain::release::{self, Release};
use licd::domain::{Client, Key, Mail, normalize_number};
use licd::http::extract::parse_json;
use licd::service::coupons::ActivateInput;
use licd::service::leases::CaptureInput;
use licd::service::trial::TrialInput;
use licd::store::{codec, redo};
use proptest::prelude::*;

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// JSON-ish text: real JSON fragments mixed with noise, so the parser gets deep.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        "\\PC{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        Just("\"LIC-AAAAA-BBBBB-CCCCC-DDDDD\"".to_owned()),
    ];
    let value = leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("regnum".to_owned()),
                        Just("feature".to_owned()),
                        Just("host".to_owned()),
                        Just("coupon".to_owned()),
                        Just("email".to_owned()),
                        Just("product".to_owned()),
                        "[a-z_]{1,8}"
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|kv| {
                let body: Vec<String> = kv
                    .into_iter()
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    });
    prop_oneof![
        4 => value.prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => (1usize..20_000).prop_map(|d| "[".repeat(d).into_bytes()),
    ]
}

proptest! {
    #![proptest_config(cases(3000))]

    #[test]
    fn request_bodies_parse_or_are_refused_naming_a_field(body in jsonish()) {
        let refusals = [
            parse_json::<CaptureInput>(&body).err(),
            parse_json::<TrialInput>(&body).err(),
            parse_json::<ActivateInput>(&body).err(),
            parse_json::<serde_json::Value>(&body).err(),
        ];
        for e in refusals.into_iter().flatten() {
            prop_assert_eq!(e.code(), 1001);
            prop_assert_eq!(e.status().as_u16(), 400);
        }
    }

    #[test]
    fn registration_numbers_and_coupons_normalize_once(s in prop_oneof![
        "\\PC{0,40}",
        "[a-zA-Z0-9 -]{0,40}",
        "(LIC|CPN|lic|cpn)[- ]?[A-Za-z0-9]{5}([- ]?[A-Za-z0-9]{5}){0,5}",
    ]) {
        if let Some(n) = normalize_number(&s) {
            prop_assert_eq!(normalize_number(&n), Some(n.clone()), "normalizing is idempotent");
            prop_assert!(n.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-'), "{}", n);
            prop_assert!(n.len() <= 64);
        }
    }

    #[test]
    fn the_store_codec_refuses_arbitrary_bytes_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = codec::decode::<Key>(&bytes);
        let _ = codec::decode::<Client>(&bytes);
        let _ = codec::decode::<Release>(&bytes);
        let _ = codec::decode::<Mail>(&bytes);
        let _ = codec::decode::<Vec<String>>(&bytes);
    }

    #[test]
    fn the_redo_log_frame_parser_refuses_garbage(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = redo::parse_frame(&bytes);
    }

    #[test]
    fn markdown_never_lets_script_through(src in prop_oneof![
        "\\PC{0,200}",
        prop::collection::vec(prop_oneof![
            Just("<script>alert(1)</script>"), Just("<img src=x onerror=alert(1)>"),
            Just("[x](javascript:alert(1))"), Just("[x](JaVaScRiPt:alert(1))"),
            Just("<a href=\"java\tscript:alert(1)\">a</a>"), Just("<svg onload=alert(1)>"),
            Just("<iframe src=//e.x>"), Just("<style>*{}</style>"), Just("**b**"), Just("\n\n"),
            Just("<b onclick=alert(1)>b</b>"), Just("`code`"), Just("<!-- c -->"),
            Just("<details open ontoggle=alert(1)>"), Just("[x](data:text/html,<script>)"),
            Just("<"), Just(">"), Just("\""), Just("'"), Just("&"),
        ], 0..24).prop_map(|v| v.concat()),
    ]) {
        let html = licd::web::markdown::to_html(&src).to_lowercase();
        for tag in real_tags(&html) {
            let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            prop_assert!(!["script", "img", "svg", "iframe", "style", "object", "embed", "form", "link", "meta"].contains(&name.as_str()), "<{}> in {}", tag, html);
            for (attr, value) in attributes(&tag) {
                prop_assert!(!attr.starts_with("on"), "{}= in {}", attr, html);
                prop_assert!(attr != "src" && attr != "style", "{}= in {}", attr, html);
                if attr == "href" {
                    let v = value.trim_start();
                    prop_assert!(v.starts_with("http://") || v.starts_with("https://") || v.starts_with("mailto:"), "href={} in {}", value, html);
                    prop_assert!(tag.contains("rel=\"noopener noreferrer nofollow\""), "{}", tag);
                }
            }
        }
    }
}

/// The real tags of sanitised HTML (text has `<` escaped, so a literal `<` opens a
/// tag), each without its angle brackets; quotes are honoured inside a tag.
fn real_tags(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in html.chars() {
        match (&mut cur, quote, c) {
            (None, _, '<') => cur = Some(String::new()),
            (None, _, _) => {}
            (Some(t), Some(q), c) => {
                if c == q {
                    quote = None;
                }
                t.push(c);
            }
            (Some(t), None, '"' | '\'') => {
                quote = Some(c);
                t.push(c);
            }
            (Some(_), None, '>') => out.extend(cur.take()),
            (Some(t), None, c) => t.push(c),
        }
    }
    out
}

/// The attributes of a tag's text: (name, value).
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tag.trim_start_matches('/');
    rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return out;
        }
        let name: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '=')
            .collect();
        rest = &rest[name.len()..];
        let mut value = String::new();
        if let Some(r) = rest.strip_prefix('=') {
            if let Some(q) = r.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let body = &r[1..];
                let end = body.find(q).unwrap_or(body.len());
                value = body[..end].to_owned();
                rest = body.get(end + 1..).unwrap_or("");
            } else {
                let end = r.find(char::is_whitespace).unwrap_or(r.len());
                value = r[..end].to_owned();
                rest = &r[end..];
            }
        }
        if name.is_empty() {
            return out;
        }
        out.push((name, value));
    }
}

/// A redo log as licd writes it: frames appended by the real writer.
fn written_log(frames: &[Vec<u8>]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("licd.wal");
    let (mut wal, _) = redo::Wal::open(&path, 7).expect("open");
    wal.append(frames).expect("append");
    drop(wal);
    (dir, path)
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn a_truncated_redo_log_yields_a_prefix_of_its_frames(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..64), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let (_dir, path) = written_log(&frames);
        let full = std::fs::read(&path).expect("read");
        let whole = redo::read_log(&path, 7).expect("read_log").frames;
        prop_assert_eq!(&whole, &frames);
        let at = cut.index(full.len() + 1);
        std::fs::write(&path, &full[..at]).expect("truncate");
        let got = redo::read_log(&path, 7).expect("read_log").frames;
        prop_assert!(got.len() <= frames.len());
        prop_assert_eq!(&got[..], &frames[..got.len()], "only whole frames, in order");
        // Another epoch's reader sees none of them.
        prop_assert!(redo::read_log(&path, 8).expect("read_log").frames.is_empty());
    }

    #[test]
    fn a_corrupted_redo_log_never_yields_a_changed_frame(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..64), 1..8),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let (_dir, path) = written_log(&frames);
        let mut bytes = std::fs::read(&path).expect("read");
        let at = flip.index(bytes.len());
        bytes[at] ^= 1 << bit;
        std::fs::write(&path, &bytes).expect("corrupt");
        let got = redo::read_log(&path, 7).expect("read_log").frames;
        // Whatever is read back is an unchanged prefix: the flipped frame and all after
        // it are dropped, never replayed altered.
        prop_assert!(got.len() <= frames.len());
        prop_assert_eq!(&got[..], &frames[..got.len()]);
    }

    #[test]
    fn random_files_are_not_redo_logs(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("licd.wal");
        std::fs::write(&path, &bytes).expect("write");
        let _ = redo::read_log(&path, 7);
        let _ = redo::Wal::open(&path, 7);
    }
}

/// A multipart body from parts and noise.
fn multipart_body() -> impl Strategy<Value = (String, Vec<u8>)> {
    let boundary = "[a-zA-Z0-9]{1,30}";
    let part = prop_oneof![
        Just(b"Content-Disposition: form-data; name=\"product\"\r\n\r\nCRM".to_vec()),
        Just(b"Content-Disposition: form-data; name=\"version\"\r\n\r\n1.2.3".to_vec()),
        ("[a-z_]{0,10}", "\\PC{0,30}").prop_map(|(n, v)| {
            format!("Content-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}").into_bytes()
        }),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(|bytes| {
            let mut p = b"Content-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
            p.extend(bytes);
            p
        }),
        prop::collection::vec(any::<u8>(), 0..100),
    ];
    (boundary, prop::collection::vec(part, 0..6), any::<bool>()).prop_map(|(b, parts, close)| {
        let mut body = Vec::new();
        for p in parts {
            body.extend(format!("--{b}\r\n").as_bytes());
            body.extend(p);
            body.extend(b"\r\n");
        }
        if close {
            body.extend(format!("--{b}--\r\n").as_bytes());
        }
        (b, body)
    })
}

proptest! {
    #![proptest_config(cases(400))]

    #[test]
    fn multipart_uploads_are_taken_or_refused_and_leave_nothing_behind(
        (boundary, body) in multipart_body(),
        split in 1usize..64,
        limit in 1u64..400,
    ) {
        use actix_web::http::header::{self, HeaderMap, HeaderValue};
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}")).expect("ct"),
        );
        let chunks: Vec<Result<actix_web::web::Bytes, actix_web::error::PayloadError>> = body
            .chunks(split)
            .map(|c| Ok(actix_web::web::Bytes::copy_from_slice(c)))
            .collect();
        let stream = futures_util::stream::iter(chunks);
        let got = rt.block_on(async {
            let mp = actix_multipart::Multipart::new(&headers, stream);
            match licd::http::upload::receive(mp, dir.path(), limit, None).await {
                Ok(form) => form.into_upload().map(|up| {
                    prop_assert!(up.size > 0 && up.size <= limit);
                    let stored = std::fs::read(&up.path).expect("the kept file");
                    prop_assert_eq!(stored.len() as u64, up.size);
                    std::fs::remove_file(&up.path).expect("rm");
                    Ok(())
                }).map_err(|e| e.code()),
                Err(e) => Err(e.code()),
            }
        });
        match got {
            Ok(r) => r?,
            Err(code) => prop_assert!(code == 1001 || code == 1004, "refused with {}", code),
        }
        let left: Vec<_> = std::fs::read_dir(dir.path()).map(|d| d.flatten().collect()).unwrap_or_default();
        prop_assert!(left.is_empty(), "nothing left behind: {:?}", left);
    }

    #[test]
    fn versions_compare_as_a_total_order(a in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}(-[a-z0-9.]{1,8})?", b in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}(-[a-z0-9.]{1,8})?") {
        let ab = release::compare_versions(&a, &b);
        prop_assert_eq!(ab.reverse(), release::compare_versions(&b, &a));
        prop_assert_eq!(release::compare_versions(&a, &a), std::cmp::Ordering::Equal);
    }
}
