//! The protected-app API of API.md: trials, coupons, seats, reads, limits. Every
//! `/api/v1` answer's signature is verified by the kit.
use crate::kit::TestServer;
use reqwest::Method;
use serde_json::{Value, json};

fn trial_body(email: &str, host: &str) -> Value {
    json!({"product": "telephony", "company": "ООО Ромашка", "contact": "Иван", "phone": "+7 900 000-00-00",
           "email": email, "host": host})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trial_registration_and_its_refusals() {
    let s = TestServer::start().await;
    s.product("telephony", &[(48, "user"), (49, "user")]).await;
    s.product("chats", &[(42, "host")]).await;

    let r = s
        .api(
            Method::POST,
            "/trial",
            Some(trial_body("ivan@romashka.test", "srv-1")),
        )
        .await
        .expect(201);
    let regnum = r["regnum"].as_str().expect("regnum").to_owned();
    assert!(regnum.starts_with("LIC-"));
    assert_eq!(r["new_client"], true);
    let items = r["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["seats"], 2);
    assert_eq!(items[0]["trial"], true);
    assert_eq!(items[0]["used"], 0);
    assert_eq!(items[0]["free"], 2);
    assert!(items[0]["expires_at"].is_string());
    // The registration number is mailed (through the outbox, to a real SMTP sink).
    let mail = s
        .smtp
        .wait_for("ivan@romashka.test", 20)
        .await
        .expect("welcome mail");
    assert!(mail.text().contains(&regnum), "{}", mail.text());
    // The client exists with the trial's card and is searchable.
    let found = s
        .admin(
            Method::GET,
            "/clients?q=%D1%80%D0%BE%D0%BC%D0%B0%D1%88%D0%BA%D0%B0",
            None,
        )
        .await
        .expect(200);
    assert_eq!(found[0]["keys"][0], regnum.as_str());
    assert_eq!(found[0]["origin"], "trial");

    // 1058: e-mail taken (any case); the number is mailed again.
    s.api(
        Method::POST,
        "/trial",
        Some(trial_body("IVAN@romashka.test", "srv-2")),
    )
    .await
    .expect_error(409, 1058);
    for _ in 0..200 {
        if s.smtp
            .sent()
            .iter()
            .filter(|m| {
                m.to.iter()
                    .any(|t| t == "IVAN@romashka.test" || t == "ivan@romashka.test")
            })
            .count()
            >= 2
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let again: Vec<_> = s
        .smtp
        .sent()
        .into_iter()
        .filter(|m| m.text().contains(&regnum))
        .collect();
    assert!(
        again.len() >= 2,
        "the registration number is mailed again on 1058"
    );
    // 1059: a new client from a host that already registered.
    s.api(
        Method::POST,
        "/trial",
        Some(trial_body("other@x.test", "SRV-1")),
    )
    .await
    .expect_error(409, 1059);
    // Another product's trial on the existing key, from the same host: fine.
    let r2 = s
        .api(Method::POST, "/trial", Some(json!({"product": "CHATS", "regnum": format!(" {} ", regnum.to_lowercase()), "host": "srv-1"})))
        .await
        .expect(201);
    assert_eq!(r2["new_client"], false);
    assert_eq!(r2["regnum"], regnum.as_str());
    assert_eq!(r2["items"].as_array().map(Vec::len), Some(3));
    // 1060: that product's trial again.
    s.api(
        Method::POST,
        "/trial",
        Some(json!({"product": "chats", "regnum": regnum, "host": "srv-9"})),
    )
    .await
    .expect_error(409, 1060);
    // 1050, 1020, 1003, 1001.
    s.api(
        Method::POST,
        "/trial",
        Some(json!({"product": "nope", "regnum": regnum, "host": "h"})),
    )
    .await
    .expect_error(404, 1050);
    s.api(
        Method::POST,
        "/trial",
        Some(json!({"product": "chats", "regnum": "LIC-22222-33333-44444-55555", "host": "h"})),
    )
    .await
    .expect_error(404, 1020);
    s.api(
        Method::POST,
        "/trial",
        Some(json!({"product": "chats", "regnum": "LIC-123", "host": "h"})),
    )
    .await
    .expect_error(400, 1003);
    let r = s
        .api(
            Method::POST,
            "/trial",
            Some(json!({"product": "chats", "host": "h", "company": "X"})),
        )
        .await;
    r.expect_error(400, 1001);
    for f in ["contact", "phone", "email"] {
        assert!(
            r.body["error"]["details"].get(f).is_some(),
            "{f} not named: {}",
            r.body
        );
    }
    // Russian message.
    let r = s
        .send(
            Method::POST,
            "/api/v1/trial",
            Some(trial_body("ivan@romashka.test", "srv-3")),
            &[("Accept-Language", "ru")],
        )
        .await;
    assert_eq!(r.code(), 1058);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("уже зарегистрирован"))
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coupon_activation_once() {
    let s = TestServer::start().await;
    s.product("crm", &[(42, "host"), (31, "host")]).await;
    let regnum = s.key_with("crm", 31, 1).await;
    let b = s
        .admin(Method::POST, "/coupons", Some(json!({"count": 2, "items": [{"product": "crm", "feature": 42, "seats": 3, "days": 30}, {"product": "crm", "feature": 31, "seats": 1}]})))
        .await
        .expect(201);
    let code = b["codes"][0].as_str().expect("code").to_owned();
    let r = s
        .api(Method::POST, "/activate", Some(json!({"regnum": regnum.to_lowercase(), "coupon": format!("  {}  ", code.to_lowercase())})))
        .await
        .expect(200);
    assert_eq!(r["regnum"], regnum.as_str());
    assert_eq!(r["added"].as_array().map(Vec::len), Some(2));
    let item42 = r["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["feature"] == 42)
        .cloned()
        .expect("42");
    assert_eq!(item42["seats"], 3);
    assert!(item42["expires_at"].is_string());
    let item31 = r["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["feature"] == 31)
        .cloned()
        .expect("31");
    assert_eq!(item31["seats"], 2, "coupon seats add to the purchase");

    let again = s
        .api(
            Method::POST,
            "/activate",
            Some(json!({"regnum": regnum, "coupon": code})),
        )
        .await;
    again.expect_error(409, 1041);
    assert!(again.body["error"]["details"]["activated_at"].is_string());
    s.api(
        Method::POST,
        "/activate",
        Some(json!({"regnum": regnum, "coupon": "LICUPD-22222-22222-22222-22222"})),
    )
    .await
    .expect_error(404, 1040);
    s.api(
        Method::POST,
        "/activate",
        Some(json!({"regnum": regnum, "coupon": "garbage"})),
    )
    .await
    .expect_error(400, 1003);
    let other = b["codes"][1].as_str().expect("code");
    s.api(
        Method::POST,
        "/activate",
        Some(json!({"regnum": "LIC-22222-22222-22222-22222", "coupon": other})),
    )
    .await
    .expect_error(404, 1020);
    s.api(Method::POST, "/activate", Some(json!({"regnum": regnum})))
        .await
        .expect_error(400, 1001);
    // The batch list shows where and when.
    let list = s
        .admin(Method::GET, &format!("/coupons?batch={}", b["batch"]), None)
        .await
        .expect(200);
    let used = list
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["code"] == code.as_str())
        .cloned()
        .expect("coupon");
    assert_eq!(used["state"], "activated");
    assert_eq!(used["regnum"], regnum.as_str());
    s.stop().await;
}

async fn capture(
    s: &TestServer,
    regnum: &str,
    feature: u32,
    host: &str,
    user: &str,
    extra: Value,
) -> crate::kit::Resp {
    let mut body = json!({"regnum": regnum, "feature": feature, "host": host, "user": user});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    s.api(Method::POST, "/leases", Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_per_user_and_session() {
    let s = TestServer::start().await;
    s.product("tel", &[(48, "user"), (50, "session"), (51, "database")])
        .await;
    let regnum = s.key_with("tel", 48, 1).await;
    let a = capture(
        &s,
        &regnum,
        48,
        "pc1",
        "ivan",
        json!({"session": "1", "app": "1c", "version": "8.3"}),
    )
    .await
    .expect(201);
    assert_eq!(a["feature"], 48);
    assert_eq!(a["heartbeat_s"], 30);
    assert_eq!(a["seats"], json!({"total": 1, "used": 1}));
    assert!(a["expires_at"].is_string());
    // The same user elsewhere shares the seat.
    let b = capture(&s, &regnum, 48, "pc2", "ivan", json!({"session": "2"}))
        .await
        .expect(201);
    assert_ne!(a["lease"], b["lease"]);
    assert_eq!(b["seats"]["used"], 1);
    // Another user: no free seat, with the holders.
    let r = capture(&s, &regnum, 48, "pc3", "petr", json!({})).await;
    r.expect_error(409, 1030);
    assert_eq!(r.body["error"]["details"]["total"], 1);
    assert_eq!(r.body["error"]["details"]["used"], 1);
    assert_eq!(r.body["error"]["details"]["holders"][0]["user"], "ivan");
    // A user feature without a user names the field.
    let r = s
        .api(
            Method::POST,
            "/leases",
            Some(json!({"regnum": regnum, "feature": 48, "host": "pc1"})),
        )
        .await;
    r.expect_error(400, 1001);
    assert!(r.body["error"]["details"].get("user").is_some());
    // Heartbeat, release (idempotent), the seat frees when both sessions end.
    let lease_a = a["lease"].as_str().expect("lease");
    let hb = s
        .api(Method::POST, &format!("/leases/{lease_a}/heartbeat"), None)
        .await
        .expect(200);
    assert_eq!(hb["lease"], lease_a);
    assert_eq!(
        s.api(Method::DELETE, &format!("/leases/{lease_a}"), None)
            .await
            .expect(200)["released"],
        true
    );
    assert_eq!(
        s.api(Method::DELETE, &format!("/leases/{lease_a}"), None)
            .await
            .expect(200)["released"],
        false
    );
    s.api(Method::POST, &format!("/leases/{lease_a}/heartbeat"), None)
        .await
        .expect_error(404, 1034);
    capture(&s, &regnum, 48, "pc3", "petr", json!({}))
        .await
        .expect_error(409, 1030);
    let lease_b = b["lease"].as_str().expect("lease");
    s.api(Method::DELETE, &format!("/leases/{lease_b}"), None)
        .await
        .expect(200);
    capture(&s, &regnum, 48, "pc3", "petr", json!({}))
        .await
        .expect(201);
    s.api(Method::POST, "/leases/not-a-lease/heartbeat", None)
        .await
        .expect_error(404, 1034);
    assert_eq!(
        s.api(Method::DELETE, "/leases/nope", None)
            .await
            .expect(200)["released"],
        false
    );

    // Session features: every session a seat.
    let reg2 = s.key_with("tel", 50, 2).await;
    capture(&s, &reg2, 50, "h", "u", json!({}))
        .await
        .expect(201);
    capture(&s, &reg2, 50, "h", "u", json!({}))
        .await
        .expect(201);
    capture(&s, &reg2, 50, "h", "u", json!({}))
        .await
        .expect_error(409, 1030);
    // Database features: one seat per database.
    let reg3 = s.key_with("tel", 51, 1).await;
    capture(&s, &reg3, 51, "h1", "u1", json!({"database": "buh"}))
        .await
        .expect(201);
    capture(&s, &reg3, 51, "h2", "u2", json!({"database": "buh"}))
        .await
        .expect(201);
    capture(&s, &reg3, 51, "h2", "u2", json!({"database": "zup"}))
        .await
        .expect_error(409, 1030);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_bindings_stay_until_unbound() {
    let s = TestServer::start().await;
    s.product("chats", &[(42, "host")]).await;
    let regnum = s.key_with("chats", 42, 1).await;
    let a = capture(&s, &regnum, 42, "srv-1", "", json!({}))
        .await
        .expect(201);
    s.api(
        Method::DELETE,
        &format!("/leases/{}", a["lease"].as_str().expect("lease")),
        None,
    )
    .await
    .expect(200);
    // Released, but the seat stays bound to srv-1.
    let key = s
        .api(Method::GET, &format!("/keys/{regnum}"), None)
        .await
        .expect(200);
    assert_eq!(key["items"][0]["used"], 1);
    capture(&s, &regnum, 42, "srv-2", "", json!({}))
        .await
        .expect_error(409, 1030);
    // srv-1 gets its seat back.
    let again = capture(&s, &regnum, 42, "srv-1", "", json!({}))
        .await
        .expect(201);
    let leases = s
        .admin(Method::GET, &format!("/leases?regnum={regnum}"), None)
        .await
        .expect(200);
    assert_eq!(leases.as_array().map(Vec::len), Some(1));
    assert_eq!(leases[0]["lease"], again["lease"]);
    assert_eq!(leases[0]["host"], "srv-1");
    // Unbinding frees it, ending the lease.
    let removed = s
        .admin(
            Method::POST,
            &format!("/keys/{regnum}/unbind"),
            Some(json!({"host": "srv-1"})),
        )
        .await
        .expect(200);
    assert_eq!(removed[0]["host"], "srv-1");
    assert_eq!(removed[0]["feature"], 42);
    s.api(
        Method::POST,
        &format!("/leases/{}/heartbeat", again["lease"].as_str().expect("l")),
        None,
    )
    .await
    .expect_error(404, 1034);
    let b = capture(&s, &regnum, 42, "srv-2", "", json!({}))
        .await
        .expect(201);
    // Staff end a lease through the admin API; the binding stays.
    s.admin(
        Method::DELETE,
        &format!("/leases/{}", b["lease"].as_str().expect("l")),
        None,
    )
    .await
    .expect(200);
    assert_eq!(
        s.admin(Method::GET, &format!("/leases?regnum={regnum}"), None)
            .await
            .expect(200),
        json!([])
    );
    capture(&s, &regnum, 42, "srv-1", "", json!({}))
        .await
        .expect_error(409, 1030);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lapse_expiry_block_and_denials() {
    let s = TestServer::start().await;
    s.product("tel", &[(48, "user"), (49, "user")]).await;
    let regnum = s.key_with("tel", 48, 1).await;
    let a = capture(&s, &regnum, 48, "pc1", "ivan", json!({}))
        .await
        .expect(201);
    capture(&s, &regnum, 48, "pc2", "petr", json!({}))
        .await
        .expect_error(409, 1030);
    // 3 × heartbeat_s (30 s) without a heartbeat: the lease lapses and its seat is free.
    s.clock.advance(time::Duration::seconds(91));
    s.api(
        Method::POST,
        &format!("/leases/{}/heartbeat", a["lease"].as_str().expect("l")),
        None,
    )
    .await
    .expect_error(404, 1034);
    capture(&s, &regnum, 48, "pc2", "petr", json!({}))
        .await
        .expect(201);

    // The key has no such feature.
    capture(&s, &regnum, 49, "pc2", "petr", json!({}))
        .await
        .expect_error(404, 1031);
    capture(&s, &regnum, 77, "pc2", "petr", json!({}))
        .await
        .expect_error(404, 1031);
    // Grants that all expired.
    s.admin(Method::POST, &format!("/keys/{regnum}/items"), Some(json!({"product": "tel", "feature": 49, "seats": 3, "expires_at": "2020-01-01T00:00:00Z"})))
        .await
        .expect(201);
    let r = capture(&s, &regnum, 49, "pc2", "petr", json!({})).await;
    r.expect_error(403, 1032);
    assert_eq!(
        r.body["error"]["details"]["expired_at"],
        "2020-01-01T00:00:00Z"
    );
    // Blocked.
    s.admin(
        Method::PATCH,
        &format!("/keys/{regnum}"),
        Some(json!({"blocked": true})),
    )
    .await
    .expect(200);
    capture(&s, &regnum, 48, "pc9", "sidor", json!({}))
        .await
        .expect_error(403, 1021);
    s.api(Method::GET, &format!("/keys/{regnum}/license"), None)
        .await
        .expect_error(403, 1021);
    // Unknown key and malformed number.
    capture(&s, "LIC-22222-22222-22222-22222", 48, "pc", "u", json!({}))
        .await
        .expect_error(404, 1020);
    capture(&s, "LIC-2", 48, "pc", "u", json!({}))
        .await
        .expect_error(400, 1003);

    // Every refusal on a known key is a denial with its details.
    let d = s
        .admin(Method::GET, &format!("/keys/{regnum}/denials"), None)
        .await
        .expect(200);
    let codes: Vec<u64> = d
        .as_array()
        .expect("denials")
        .iter()
        .filter_map(|x| x["code"].as_u64())
        .collect();
    for c in [1030, 1031, 1032, 1021] {
        assert!(codes.contains(&c), "denial {c} missing: {codes:?}");
    }
    assert_eq!(d[0]["code"], 1021, "newest first");
    assert_eq!(d[0]["user"], "sidor");
    assert_eq!(d[0]["host"], "pc9");

    // Per key, feature and day: captures, denials and the peak of seats in use.
    licd::service::usage::flush(s.app()).await.expect("flush");
    let tx = s.app().store.read().expect("read");
    let rows = licd::service::usage::usage_of(&tx, &regnum, 48).expect("usage");
    let (captures, denials, peak) = rows
        .iter()
        .fold((0, 0, 0), |a, r| (a.0 + r.1, a.1 + r.2, a.2.max(r.3)));
    assert_eq!((captures, denials, peak), (2, 2, 1), "{rows:?}");
    drop(tx);

    // Denials older than the retention are pruned; recent ones stay.
    assert_eq!(
        licd::service::usage::prune_denials(s.app())
            .await
            .expect("prune"),
        0
    );
    s.clock.advance(time::Duration::days(
        licd::service::usage::RETENTION_DAYS + 2,
    ));
    assert!(
        licd::service::usage::prune_denials(s.app())
            .await
            .expect("prune")
            >= 4
    );
    assert_eq!(
        s.admin(Method::GET, &format!("/keys/{regnum}/denials"), None)
            .await
            .expect(200),
        json!([])
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_captures_never_exceed_seats() {
    let s = TestServer::start().await;
    s.product("tel", &[(50, "session")]).await;
    let regnum = s.key_with("tel", 50, 5).await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let http = s.http.clone();
        let url = format!("{}/api/v1/leases", s.url);
        let body = json!({"regnum": regnum, "feature": 50, "host": format!("h{i}"), "session": format!("s{i}")});
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }));
    }
    let mut ok = 0;
    let mut full = 0;
    for t in tasks {
        match t.await.unwrap_or(0) {
            201 => ok += 1,
            409 => full += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, full), (5, 59));
    let key = s
        .api(Method::GET, &format!("/keys/{regnum}"), None)
        .await
        .expect(200);
    assert_eq!(key["items"][0]["used"], 5);
    assert_eq!(key["items"][0]["free"], 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_diag_license_signing_and_nonce() {
    let s = TestServer::start().await;
    s.product("tel", &[(48, "user")]).await;
    let regnum = s.key_with("tel", 48, 1).await;
    s.admin(Method::POST, &format!("/keys/{regnum}/items"), Some(json!({"product": "tel", "feature": 48, "seats": 1, "expires_at": "2099-06-01T00:00:00Z"})))
        .await
        .expect(201);
    let d = s
        .api(
            Method::GET,
            &format!("/keys/{regnum}/diag?feature=48"),
            None,
        )
        .await
        .expect(200);
    assert_eq!(
        (d["ok"].clone(), d["code"].clone()),
        (json!(true), json!(0))
    );
    capture(&s, &regnum, 48, "a", "u1", json!({}))
        .await
        .expect(201);
    capture(&s, &regnum, 48, "b", "u2", json!({}))
        .await
        .expect(201);
    let d = s
        .send(
            Method::GET,
            &format!("/api/v1/keys/{regnum}/diag?feature=48"),
            None,
            &[("Accept-Language", "ru")],
        )
        .await
        .expect(200);
    assert_eq!(d["ok"], false);
    assert_eq!(d["code"], 1030);
    assert!(
        d["message"]
            .as_str()
            .is_some_and(|m| m.contains("Нет свободной")),
        "{d}"
    );
    assert_eq!(d["holders"].as_array().map(Vec::len), Some(2));
    let d = s
        .api(
            Method::GET,
            &format!("/keys/{regnum}/diag?feature=99"),
            None,
        )
        .await
        .expect(200);
    assert_eq!(d["code"], 1031);
    s.api(Method::GET, &format!("/keys/{regnum}/diag"), None)
        .await
        .expect_error(400, 1001);
    s.api(Method::GET, &format!("/keys/{regnum}/diag?feature=x"), None)
        .await
        .expect_error(400, 1001);

    let key = s
        .api(
            Method::GET,
            &format!("/keys/{}", regnum.to_lowercase()),
            None,
        )
        .await
        .expect(200);
    assert_eq!(key["regnum"], regnum.as_str());
    assert_eq!(key["items"][0]["seats"], 2);
    assert_eq!(key["items"][0]["used"], 2);
    assert_eq!(key["items"][0]["name"], "Feature 48");
    assert_eq!(key["items"][0]["expires_at"], Value::Null);

    // Offline license: 7 days by default, never past an item's expiry.
    let lic = s
        .api(Method::GET, &format!("/keys/{regnum}/license"), None)
        .await
        .expect(200);
    let issued = time::OffsetDateTime::parse(
        lic["issued_at"].as_str().expect("t"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("time");
    let until = time::OffsetDateTime::parse(
        lic["valid_until"].as_str().expect("t"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("time");
    assert_eq!((until - issued).whole_days(), 7);
    let short = s.key_with("tel", 48, 1).await;
    let soon = s.clock.now() + time::Duration::days(2);
    let soon_s = licd::clock::rfc3339(soon);
    let short_key = s
        .admin(Method::GET, &format!("/keys/{short}"), None)
        .await
        .expect(200);
    let gid = short_key["grants"][0]["id"].as_u64().expect("grant");
    s.admin(
        Method::PATCH,
        &format!("/keys/{short}/items/{gid}"),
        Some(json!({"expires_at": soon_s})),
    )
    .await
    .expect(200);
    let lic = s
        .api(Method::GET, &format!("/keys/{short}/license"), None)
        .await
        .expect(200);
    assert_eq!(lic["valid_until"], soon_s.as_str());

    // Signing key; the nonce is echoed into signed bodies, errors included.
    let sk = s.api(Method::GET, "/signing-key", None).await.expect(200);
    assert_eq!(sk["algorithm"], "ed25519");
    let r = s
        .send(
            Method::GET,
            &format!("/api/v1/keys/{regnum}"),
            None,
            &[("Licd-Nonce", "n-123")],
        )
        .await
        .expect(200);
    assert_eq!(r["nonce"], "n-123");
    let r = s
        .send(
            Method::GET,
            "/api/v1/keys/LIC-22222-22222-22222-22222",
            None,
            &[("Licd-Nonce", "n-456")],
        )
        .await;
    assert_eq!(r.body["nonce"], "n-456");
    r.expect_error(404, 1020);
    let long = "x".repeat(65);
    s.send(
        Method::GET,
        "/api/v1/signing-key",
        None,
        &[("Licd-Nonce", &long)],
    )
    .await
    .expect_error(400, 1001);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_limits_hit_guessers_not_heartbeats() {
    let s = TestServer::start().await;
    s.product("tel", &[(48, "user")]).await;
    let regnum = s.key_with("tel", 48, 1).await;
    let lease = capture(&s, &regnum, 48, "pc", "ivan", json!({}))
        .await
        .expect(201);
    let mut limited = None;
    for i in 0..200 {
        let r = s
            .api(Method::POST, "/activate", Some(json!({"regnum": regnum, "coupon": format!("LICUPD-22222-22222-22222-{:05}", 22222 + i)})))
            .await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        r.expect_error(404, 1040);
    }
    let r = limited.expect("200 wrong coupons must hit the limit");
    r.expect_error(429, 1002);
    assert!(
        r.body["error"]["details"]["retry_after_s"]
            .as_u64()
            .is_some_and(|s| s >= 1)
    );
    assert!(r.headers.get("retry-after").is_some());
    // Unknown registration numbers are limited too.
    let mut hit = false;
    for i in 0..100 {
        let r = s
            .api(
                Method::GET,
                &format!("/keys/LIC-22222-22222-22222-{:05}", 30000 + i),
                None,
            )
            .await;
        if r.status == 429 {
            hit = true;
            break;
        }
    }
    assert!(hit);
    // A protected app's heartbeats are never limited.
    let l = lease["lease"].as_str().expect("lease");
    for _ in 0..300 {
        s.api(Method::POST, &format!("/leases/{l}/heartbeat"), None)
            .await
            .expect(200);
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_survives_restart() {
    // No SMTP configured: the mail waits in the outbox.
    let s = TestServer::start_with(|a| a.smtp = None).await;
    s.product("telephony", &[(48, "user")]).await;
    let r = s
        .api(
            Method::POST,
            "/trial",
            Some(trial_body("late@mail.test", "h1")),
        )
        .await
        .expect(201);
    let regnum = r["regnum"].as_str().expect("regnum").to_owned();
    let dir = s.stop_keep().await;
    // Restart with SMTP: it goes out.
    let s = TestServer::start_in(dir, |_| {}).await;
    let m = s
        .smtp
        .wait_for("late@mail.test", 20)
        .await
        .expect("mail sent after restart");
    assert!(m.text().contains(&regnum));
    // The data survived too.
    s.api(Method::GET, &format!("/keys/{regnum}"), None)
        .await
        .expect(200);
    s.stop().await;
}

#[tokio::test]
async fn leases_of_a_deleted_client_no_longer_heartbeat() {
    let s = TestServer::start().await;
    s.product("p", &[(77, "session")]).await;
    let c = s
        .admin(Method::POST, "/clients", Some(json!({"company": "Gone"})))
        .await
        .expect(201);
    let id = c["id"].as_u64().expect("id");
    let k = s
        .admin(Method::POST, &format!("/clients/{id}/keys"), None)
        .await
        .expect(201);
    let regnum = k["regnum"].as_str().expect("regnum").to_owned();
    s.admin(
        Method::POST,
        &format!("/keys/{regnum}/items"),
        Some(json!({"product": "p", "feature": 77, "seats": 2})),
    )
    .await
    .expect(201);
    let l = capture(&s, &regnum, 77, "h", "", json!({"session": "s1"}))
        .await
        .expect(201);
    let lease = l["lease"].as_str().expect("lease").to_owned();
    let beat = format!("/leases/{lease}/heartbeat");
    s.api(Method::POST, &beat, None).await.expect(200);
    // The item goes, then the client with its (now empty) key: the lease goes too.
    let key = s
        .admin(Method::GET, &format!("/keys/{regnum}"), None)
        .await
        .expect(200);
    let item = key["grants"][0]["id"].as_u64().expect("item id");
    s.admin(
        Method::DELETE,
        &format!("/keys/{regnum}/items/{item}"),
        None,
    )
    .await
    .expect(200);
    s.admin(Method::DELETE, &format!("/clients/{id}"), None)
        .await
        .expect(200);
    s.api(Method::POST, &beat, None)
        .await
        .expect_error(404, 1034);
}

#[tokio::test]
async fn reaping_one_lapsed_holder_frees_exactly_one_seat() {
    let s = TestServer::start().await;
    s.product("reap", &[(88, "session")]).await;
    let regnum = s.key_with("reap", 88, 2).await;
    let old = capture(&s, &regnum, 88, "h", "", json!({"session": "old"}))
        .await
        .expect(201);
    // Heartbeats keep the second lease alive; the first lapses.
    s.clock.advance(time::Duration::seconds(100));
    let live = capture(&s, &regnum, 88, "h", "", json!({"session": "live"}))
        .await
        .expect(201);
    s.clock.advance(time::Duration::seconds(60));
    s.api(
        Method::POST,
        &format!("/leases/{}/heartbeat", live["lease"].as_str().expect("l")),
        None,
    )
    .await
    .expect(200);
    s.clock.advance(time::Duration::seconds(60));
    let reaped = licd::service::leases::reap(s.app()).await.expect("reap");
    assert_eq!(reaped, 1);
    s.api(
        Method::POST,
        &format!("/leases/{}/heartbeat", old["lease"].as_str().expect("l")),
        None,
    )
    .await
    .expect_error(404, 1034);
    // One seat is held, one is free: one more capture fits, the next does not.
    capture(&s, &regnum, 88, "h", "", json!({"session": "new"}))
        .await
        .expect(201);
    capture(&s, &regnum, 88, "h", "", json!({"session": "over"}))
        .await
        .expect_error(409, 1030);
}

#[tokio::test]
async fn head_answers_as_get_and_wrong_methods_get_405_with_allow() {
    let s = TestServer::start().await;
    let raw = |m: Method, path: &str| {
        let (http, url) = (s.http.clone(), format!("{}{path}", s.url));
        async move {
            let r = http
                .request(m, url)
                .header("Accept-Language", "ru")
                .send()
                .await
                .expect("request");
            let status = r.status().as_u16();
            let headers = r.headers().clone();
            (status, headers, r.bytes().await.expect("body").to_vec())
        }
    };
    // HEAD: GET's status and length, no body.
    let (st, h, body) = raw(Method::GET, "/api/v1/signing-key").await;
    assert_eq!(st, 200);
    let (hst, hh, hbody) = raw(Method::HEAD, "/api/v1/signing-key").await;
    assert_eq!(hst, 200);
    assert!(hbody.is_empty());
    assert_eq!(hh.get("content-length"), h.get("content-length"));
    assert_eq!(
        h["content-length"].to_str().ok(),
        Some(body.len().to_string().as_str())
    );
    for path in ["/healthz", "/api/openapi.json", "/login"] {
        let (st, _, b) = raw(Method::HEAD, path).await;
        assert_eq!((st, b.len()), (200, 0), "HEAD {path}");
    }
    // A path that exists with other methods: 405, Allow, the contract's body in Russian.
    for (m, path, allow) in [
        (Method::TRACE, "/api/v1/signing-key", "GET, HEAD"),
        (Method::POST, "/api/v1/signing-key", "GET, HEAD"),
        (Method::GET, "/api/v1/trial", "POST"),
        (Method::PUT, "/api/v1/leases/abc/heartbeat", "POST"),
        (Method::PUT, "/api/admin/v1/products", "GET, HEAD, POST"),
        (
            Method::POST,
            "/api/admin/v1/keys/LIC-X/items/7",
            "PATCH, DELETE",
        ),
    ] {
        let (st, h, b) = raw(m.clone(), path).await;
        assert_eq!(st, 405, "{m} {path}");
        assert_eq!(h["allow"].to_str().ok(), Some(allow), "{m} {path}");
        let v: Value = serde_json::from_slice(&b).expect("json");
        assert_eq!(v["error"]["code"], 2005, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("допустимы"),
            "{v}"
        );
        if path.starts_with("/api/v1/") {
            assert!(
                h.contains_key("licd-signature"),
                "signed like every /api/v1 answer"
            );
        }
    }
    // No such path: 404 in the contract's body.
    for path in [
        "/api/nothing",
        "/api/v1/nothing",
        "/api/admin/v1/nothing/else",
    ] {
        let (st, _, b) = raw(Method::GET, path).await;
        let v: Value = serde_json::from_slice(&b).expect("json");
        assert_eq!(
            (st, v["error"]["code"].as_u64()),
            (404, Some(2004)),
            "{path}: {v}"
        );
    }
    s.stop().await;
}
