//! Releases end to end over real TLS: multipart publish, 409, a cut-off upload, the
//! update check across channels and semver, who may download (1071), Range/ETag, and
//! the new-release mail.
use crate::kit::{Resp, TestServer};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Publishes a release through the admin API; answers the raw response.
async fn publish(
    s: &TestServer,
    product: &str,
    version: &str,
    channel: &str,
    changelog: &str,
    file: Vec<u8>,
    extra: &[(&str, &str)],
) -> Resp {
    let mut form = Form::new()
        .text("product", product.to_owned())
        .text("version", version.to_owned())
        .text("changelog", changelog.to_owned());
    if !channel.is_empty() {
        form = form.text("channel", channel.to_owned());
    }
    for (k, v) in extra {
        form = form.text(k.to_string(), v.to_string());
    }
    form = form.part(
        "file",
        Part::bytes(file).file_name(format!("{product}-{version}.zip")),
    );
    let r = s
        .http
        .post(format!("{}/api/admin/v1/releases", s.url))
        .bearer_auth(&s.token)
        .multipart(form)
        .send()
        .await
        .expect("publish");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let raw = r.bytes().await.expect("body").to_vec();
    Resp {
        status,
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        headers,
        raw,
    }
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_list_duplicate_and_bad_forms() {
    let s = TestServer::start().await;
    s.product("TEL", &[(42, "user"), (43, "user")]).await;
    let file = bytes(300_000, 7);
    let sha = hex::encode(Sha256::digest(&file));
    let r = publish(
        &s,
        "TEL",
        "2.1.0",
        "",
        "# 2.1.0\n- faster",
        file.clone(),
        &[],
    )
    .await
    .expect(201);
    assert_eq!(r["product"], "TEL");
    assert_eq!(r["version"], "2.1.0");
    assert_eq!(r["channel"], "stable", "the default channel");
    assert_eq!(r["size"], 300_000);
    assert_eq!(r["sha256"], sha.as_str());
    assert_eq!(r["filename"], "TEL-2.1.0.zip");
    assert!(r["published_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    let id = r["id"].as_u64().expect("id");

    // The same product, version and channel again: 409, and no second file stays.
    let again = publish(&s, "tel", "2.1.0", "stable", "", bytes(10, 1), &[]).await;
    again.expect_error(409, 2009);
    // Another channel is another release.
    publish(&s, "TEL", "2.1.0", "beta", "", bytes(10, 1), &[])
        .await
        .expect(201);
    let dir = s.data_dir().join("releases");
    assert_eq!(files_in(&dir).len(), 2, "{:?}", files_in(&dir));

    // Bad forms: clear errors, nothing kept.
    for (product, version, channel, file, field) in [
        ("TEL", "", "", bytes(5, 0), "version"),
        ("TEL", "2 .0", "", bytes(5, 0), "version"),
        ("TEL", "3.0.0", "nightly", bytes(5, 0), "channel"),
        ("TEL", "3.0.0", "", Vec::new(), "file"),
    ] {
        let r = publish(&s, product, version, channel, "", file, &[]).await;
        r.expect_error(400, 1001);
        assert!(
            r.body["error"]["details"][field].is_string(),
            "{field}: {}",
            r.body
        );
    }
    let r = publish(&s, "NOPE", "1.0", "", "", bytes(5, 0), &[]).await;
    r.expect_error(404, 1050);
    assert_eq!(files_in(&dir).len(), 2, "refused uploads leave nothing");

    // Listing: newest version first, filters; the detail counts downloads.
    let list = s
        .admin(Method::GET, "/releases?product=TEL", None)
        .await
        .expect(200);
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    let stable = s
        .admin(Method::GET, "/releases?product=TEL&channel=stable", None)
        .await
        .expect(200);
    assert_eq!(stable[0]["id"], id);
    s.admin(Method::GET, "/releases?channel=nightly", None)
        .await
        .expect_error(400, 1001);
    let one = s
        .admin(Method::GET, &format!("/releases/{id}"), None)
        .await
        .expect(200);
    assert_eq!(one["changelog"], "# 2.1.0\n- faster");
    assert_eq!(one["downloads"], 0);

    // A manager's token may read but not publish.
    let (mgr, _) = licd::service::auth::create_token(
        &s.app().store,
        "mgr",
        licd::domain::Role::Manager,
        s.clock.now(),
        "test",
    )
    .await
    .expect("token");
    let r = s
        .http
        .post(format!("{}/api/admin/v1/releases", s.url))
        .bearer_auth(&mgr)
        .multipart(
            Form::new()
                .text("product", "TEL")
                .text("version", "9.0")
                .part("file", Part::bytes(vec![1, 2, 3]).file_name("x.bin")),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 403);
    // (An answer left unread would hold its HTTP/2 stream open past the stop.)
    drop(r);

    // Delete: the row and the file go.
    s.admin(Method::DELETE, &format!("/releases/{id}"), None)
        .await
        .expect(200);
    s.admin(Method::GET, &format!("/releases/{id}"), None)
        .await
        .expect_error(404, 2004);
    assert_eq!(files_in(&dir).len(), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_upload_leaves_nothing_and_a_too_large_one_is_refused() {
    let s = TestServer::start_with(|a| a.upload_limit_mib = Some(1)).await;
    s.product("TEL", &[(42, "user")]).await;
    // A body that stops in the middle of the file, then the connection closes.
    let boundary = "XyZbOuNdArY";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"product\"\r\n\r\nTEL\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"version\"\r\n\r\n1.0.0\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let mut body = head.into_bytes();
    body.extend(bytes(200_000, 3));
    let declared = body.len() + 400_000;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let stream = tokio_stream_of(rx);
    let req = s
        .http
        .post(format!("{}/api/admin/v1/releases", s.url))
        .bearer_auth(&s.token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("content-length", declared.to_string())
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let dir = s.data_dir().join("releases");
    let watched = dir.clone();
    let sender = tokio::spawn(async move {
        tx.send(Ok(body)).await.ok();
        // The server is writing the file…
        let mut seen = false;
        for _ in 0..100 {
            if files_in(&watched).iter().any(|f| f.ends_with(".part")) {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // …when the client gives up mid-file.
        tx.send(Err(std::io::Error::other("cut"))).await.ok();
        seen
    });
    let _ = tokio::time::timeout(Duration::from_secs(10), req).await;
    assert!(
        sender.await.expect("sender"),
        "the upload was being received into a .part file"
    );
    let mut left = files_in(&dir);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = files_in(&dir);
    }
    assert!(left.is_empty(), "a cut-off upload left {left:?}");
    let list = s.admin(Method::GET, "/releases", None).await.expect(200);
    assert_eq!(list, json!([]));

    // Over the limit (1 MiB here): 413, nothing kept.
    let r = publish(&s, "TEL", "1.0.0", "", "", bytes(1_100_000, 1), &[]).await;
    r.expect_error(413, 1004);
    assert!(files_in(&dir).is_empty());
    // Just under it: published.
    publish(&s, "TEL", "1.0.0", "", "", bytes(1_000_000, 1), &[])
        .await
        .expect(201);
    s.stop().await;
}

fn tokio_stream_of(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// A key with a live grant of `product` (feature, seats).
async fn key(s: &TestServer, product: &str, feature: u32, seats: u32) -> String {
    s.key_with(product, feature, seats).await
}

fn latest_path(regnum: &str, product: &str, channel: &str, current: &str) -> String {
    let mut p = format!("/releases/latest?regnum={regnum}&product={product}");
    if !channel.is_empty() {
        p.push_str(&format!("&channel={channel}"));
    }
    if !current.is_empty() {
        p.push_str(&format!("&current={current}"));
    }
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_orders_by_semver_and_nests_channels() {
    let s = TestServer::start().await;
    s.product("TEL", &[(42, "user")]).await;
    s.product("CRM", &[(7, "user")]).await;
    let regnum = key(&s, "TEL", 42, 2).await;

    // Nothing yet: 1070.
    s.api(Method::GET, &latest_path(&regnum, "TEL", "", ""), None)
        .await
        .expect_error(404, 1070);
    for (v, ch) in [
        ("1.9.0", "stable"),
        ("1.10.0", "stable"),
        ("1.2", "stable"),
        ("1.11.0-rc.1", "rc"),
        ("2.0.0-beta.2", "beta"),
        ("2.0.0-beta.10", "beta"),
        ("3.0.0-dev", "dev"),
    ] {
        publish(&s, "TEL", v, ch, "", bytes(100, 1), &[])
            .await
            .expect(201);
    }
    let cases = [
        ("", "1.9.0", "1.10.0", true),
        ("stable", "1.10.0", "1.10.0", false),
        ("rc", "1.10.0", "1.11.0-rc.1", true),
        ("beta", "", "2.0.0-beta.10", true),
        ("alpha", "", "2.0.0-beta.10", true),
        ("dev", "", "3.0.0-dev", true),
    ];
    for (channel, current, want, newer) in cases {
        let r = s
            .api(
                Method::GET,
                &latest_path(&regnum, "TEL", channel, current),
                None,
            )
            .await
            .expect(200);
        assert_eq!(r["version"], want, "channel {channel:?}: {r}");
        assert_eq!(r["newer"], newer, "channel {channel:?} from {current:?}");
        assert_eq!(r["product"], "TEL");
        assert!(
            r["download_url"]
                .as_str()
                .is_some_and(|u| u.contains(&format!("/api/v1/releases/{}/file?regnum=", r["id"])))
        );
        assert_eq!(r["sha256"].as_str().map(str::len), Some(64));
    }
    // A newer stable reaches a beta follower too.
    publish(&s, "TEL", "2.0.0", "stable", "", bytes(100, 2), &[])
        .await
        .expect(201);
    let r = s
        .api(Method::GET, &latest_path(&regnum, "TEL", "beta", ""), None)
        .await
        .expect(200);
    assert_eq!(r["version"], "2.0.0");
    assert_eq!(r["channel"], "stable");
    // A yanked release is hidden from the check.
    let id = r["id"].as_u64().expect("id");
    s.admin(
        Method::PATCH,
        &format!("/releases/{id}"),
        Some(json!({"yanked": true})),
    )
    .await
    .expect(200);
    let r = s
        .api(Method::GET, &latest_path(&regnum, "TEL", "beta", ""), None)
        .await
        .expect(200);
    assert_eq!(r["version"], "2.0.0-beta.10");
    // The nonce is echoed in the signed body; errors are in the asked language.
    let r = s
        .send(
            Method::GET,
            &format!("/api/v1{}", latest_path(&regnum, "TEL", "", "")),
            None,
            &[("Licd-Nonce", "n-42")],
        )
        .await;
    assert_eq!(r.body["nonce"], "n-42");
    let r = s
        .send(
            Method::GET,
            &format!("/api/v1{}", latest_path(&regnum, "TEL", "weekly", "")),
            None,
            &[("Accept-Language", "ru")],
        )
        .await;
    r.expect_error(400, 1001);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.chars().any(|c| ('а'..='я').contains(&c)))
    );
    // A key without the product: 1071; an unknown key: 1020; unknown product: 404.
    let crm_key = key(&s, "CRM", 7, 1).await;
    s.api(Method::GET, &latest_path(&crm_key, "TEL", "", ""), None)
        .await
        .expect_error(403, 1071);
    s.api(
        Method::GET,
        &latest_path("LIC-AAAAA-BBBBB-CCCCC-DDDDD", "TEL", "", ""),
        None,
    )
    .await
    .expect_error(404, 1020);
    s.api(Method::GET, &latest_path(&regnum, "NOPE", "", ""), None)
        .await
        .expect_error(404, 1050);
    s.stop().await;
}

async fn download(
    s: &TestServer,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut rb = s.http.get(format!("{}{path}", s.url));
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().await.expect("download");
    let status = r.status().as_u16();
    let h = r.headers().clone();
    (status, h, r.bytes().await.expect("bytes").to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_need_a_live_grant_and_resume_with_range() {
    let s = TestServer::start().await;
    s.product("TEL", &[(42, "user"), (43, "user")]).await;
    s.product("CRM", &[(7, "user")]).await;
    let file = bytes(1_500_000, 9);
    let r = publish(&s, "TEL", "2.1.0", "", "", file.clone(), &[])
        .await
        .expect(201);
    let id = r["id"].as_u64().expect("id");
    let holder = key(&s, "TEL", 42, 2).await;
    let url = format!("/api/v1/releases/{id}/file?regnum={holder}");

    // The whole file, with its headers.
    let (status, h, body) = download(&s, &url, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body, file);
    assert_eq!(h["content-length"], "1500000");
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["content-type"], "application/octet-stream");
    assert!(
        h["content-disposition"]
            .to_str()
            .is_ok_and(|d| d.starts_with("attachment") && d.contains("TEL-2.1.0.zip")),
        "{:?}",
        h["content-disposition"]
    );
    assert!(h.get("licd-signature").is_none(), "the file is not signed");
    let etag = h["etag"].to_str().expect("etag").to_owned();
    assert!(etag.starts_with('"'), "a strong ETag: {etag}");
    assert!(
        h["repr-digest"]
            .to_str()
            .is_ok_and(|d| d.starts_with("sha-256=:"))
    );

    // Resume: the rest from byte 1,000,000 (206), and If-Range with the ETag.
    let (status, h, rest) = download(
        &s,
        &url,
        &[("Range", "bytes=1000000-"), ("If-Range", etag.as_str())],
    )
    .await;
    assert_eq!(status, 206);
    assert_eq!(h["content-range"], "bytes 1000000-1499999/1500000");
    assert_eq!(rest, file[1_000_000..]);
    let (status, _, mid) = download(&s, &url, &[("Range", "bytes=10-19")]).await;
    assert_eq!((status, mid.as_slice()), (206, &file[10..20]));
    let (status, h, _) = download(&s, &url, &[("Range", "bytes=2000000-")]).await;
    assert_eq!(status, 416);
    assert_eq!(h["content-range"], "bytes */1500000");
    // A stale If-Range gets the whole file again.
    let (status, _, all) = download(
        &s,
        &url,
        &[("Range", "bytes=1000000-"), ("If-Range", "\"stale\"")],
    )
    .await;
    assert_eq!((status, all.len()), (200, file.len()));
    // If-None-Match with the ETag: 304 without a body.
    let (status, _, none) = download(&s, &url, &[("If-None-Match", etag.as_str())]).await;
    assert_eq!((status, none.len()), (304, 0));

    // Counted per download: the two whole files; not the resumed pieces, the 416 or
    // the 304.
    let one = s
        .admin(Method::GET, &format!("/releases/{id}"), None)
        .await
        .expect(200);
    assert_eq!(one["downloads"], 2, "{one}");
    assert_eq!(one["downloads_by_client"].as_array().map(Vec::len), Some(1));

    // Who may not: a key without the product, a key whose grant expired, an unknown key.
    let other = key(&s, "CRM", 7, 1).await;
    let r = s
        .api(
            Method::GET,
            &format!("/releases/{id}/file?regnum={other}"),
            None,
        )
        .await;
    r.expect_error(403, 1071);
    assert_eq!(r.body["error"]["details"]["product"], "TEL", "{}", r.body);
    let soon = key(&s, "CRM", 7, 1).await;
    let until = licd::clock::rfc3339(s.clock.now() + time::Duration::days(1));
    s.admin(
        Method::POST,
        &format!("/keys/{soon}/items"),
        Some(json!({"product": "TEL", "feature": 42, "seats": 1, "expires_at": until})),
    )
    .await
    .expect(201);
    let path = format!("/releases/{id}/file?regnum={soon}");
    let (status, _, _) = download(&s, &format!("/api/v1{path}"), &[]).await;
    assert_eq!(status, 200, "live until tomorrow");
    s.clock.advance(time::Duration::days(2));
    s.api(Method::GET, &path, None)
        .await
        .expect_error(403, 1071);
    s.api(
        Method::GET,
        &format!("/releases/{id}/file?regnum=LIC-AAAAA-BBBBB-CCCCC-DDDDD"),
        None,
    )
    .await
    .expect_error(404, 1020);
    s.api(
        Method::GET,
        &format!("/releases/999/file?regnum={holder}"),
        None,
    )
    .await
    .expect_error(404, 2004);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_can_require_a_feature_or_seats_and_mails_the_holders() {
    let s = TestServer::start().await;
    s.product("TEL", &[(42, "user"), (43, "user")]).await;
    let plain = key(&s, "TEL", 42, 2).await;
    let updates = key(&s, "TEL", 42, 5).await;
    s.admin(
        Method::POST,
        &format!("/keys/{updates}/items"),
        Some(json!({"product": "TEL", "feature": 43, "seats": 1})),
    )
    .await
    .expect(201);
    // Mail of each key's new client goes to its e-mail; give them addresses.
    for (regnum, email) in [(&plain, "plain@client.test"), (&updates, "upd@client.test")] {
        let k = s
            .admin(Method::GET, &format!("/keys/{regnum}"), None)
            .await
            .expect(200);
        let cid = k["client"]["id"].as_u64().expect("client id");
        s.admin(
            Method::PATCH,
            &format!("/clients/{cid}"),
            Some(json!({"email": email})),
        )
        .await
        .expect(200);
    }
    let r = publish(
        &s,
        "TEL",
        "3.0.0",
        "",
        "Telephony update",
        bytes(1000, 4),
        &[("requires_feature", "43"), ("min_seats", "3")],
    )
    .await
    .expect(201);
    let id = r["id"].as_u64().expect("id");
    // The check answers both, saying who may download.
    let a = s
        .api(Method::GET, &latest_path(&plain, "TEL", "", ""), None)
        .await
        .expect(200);
    assert_eq!(a["allowed"], false, "{a}");
    let b = s
        .api(Method::GET, &latest_path(&updates, "TEL", "", ""), None)
        .await
        .expect(200);
    assert_eq!(b["allowed"], true, "{b}");
    let r = s
        .api(
            Method::GET,
            &format!("/releases/{id}/file?regnum={plain}"),
            None,
        )
        .await;
    r.expect_error(403, 1071);
    assert_eq!(r.body["error"]["details"]["feature"], 43, "{}", r.body);
    let (status, _, _) = download(
        &s,
        &format!("/api/v1/releases/{id}/file?regnum={updates}"),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    // Seats: the feature alone is not enough when the key holds too few seats.
    s.admin(
        Method::PATCH,
        &format!("/releases/{id}"),
        Some(json!({"requires_feature": 0, "min_seats": 7})),
    )
    .await
    .expect(200);
    let r = s
        .api(
            Method::GET,
            &format!("/releases/{id}/file?regnum={updates}"),
            None,
        )
        .await;
    r.expect_error(403, 1071);
    assert_eq!(r.body["error"]["details"]["min_seats"], 7, "{}", r.body);

    // Each holder's alert e-mail got the new-release mail, once.
    for to in ["plain@client.test", "upd@client.test"] {
        let got = s
            .smtp
            .wait_where(10, |m| {
                m.to.iter().any(|t| t == to) && m.subject().contains("3.0.0")
            })
            .await
            .unwrap_or_else(|| panic!("release mail to {to}"));
        assert!(got.text().contains("3.0.0"), "{}", got.text());
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licd_check_finds_a_release_file_that_was_not_copied() {
    let s = TestServer::start().await;
    s.product("TEL", &[(42, "user")]).await;
    publish(&s, "TEL", "1.0.0", "", "", bytes(5000, 1), &[])
        .await
        .expect(201);
    let dir = s.stop_keep().await;
    let db = dir.path().join("licd.redb");
    let report = licd::ops::check::check(&db).expect("check");
    assert!(report.sound(), "{}", report.render());
    let releases = dir.path().join("releases");
    for f in files_in(&releases) {
        std::fs::remove_file(releases.join(f)).expect("remove");
    }
    let report = licd::ops::check::check(&db).expect("check");
    assert!(!report.sound());
    assert!(
        report.render().contains("release file(s) missing"),
        "{}",
        report.render()
    );
}
