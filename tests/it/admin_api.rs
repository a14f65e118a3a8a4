//! The admin API core of API.md, end to end over HTTPS.
use crate::kit::TestServer;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_required_checked_and_revocable() {
    let s = TestServer::start().await;
    // No token, a wrong token, a malformed header: 401 with the contract's body.
    let r = s
        .send(Method::GET, "/api/admin/v1/clients", None, &[])
        .await;
    r.expect_error(401, 2001);
    assert_eq!(
        r.headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    s.send(
        Method::GET,
        "/api/admin/v1/clients",
        None,
        &[("Authorization", "Bearer licd_nope")],
    )
    .await
    .expect_error(401, 2001);
    s.send(
        Method::GET,
        "/api/admin/v1/clients",
        None,
        &[("Authorization", "Basic Zm9vOmJhcg==")],
    )
    .await
    .expect_error(401, 2001);

    // A manager token works for clients but not for products or tokens.
    let t = s
        .admin(
            Method::POST,
            "/tokens",
            Some(json!({"name": "crm", "role": "manager"})),
        )
        .await
        .expect(201);
    let secret = t["token"].as_str().expect("token").to_owned();
    assert!(secret.starts_with("licd_"));
    let auth = format!("Bearer {secret}");
    let h = [("Authorization", auth.as_str())];
    s.send(Method::GET, "/api/admin/v1/clients", None, &h)
        .await
        .expect(200);
    s.send(
        Method::POST,
        "/api/admin/v1/products",
        Some(json!({"code": "X", "name": "X", "features": []})),
        &h,
    )
    .await
    .expect_error(403, 2003);
    s.send(Method::GET, "/api/admin/v1/tokens", None, &h)
        .await
        .expect_error(403, 2003);

    // The token list never shows secrets; revoking takes effect at once.
    let list = s.admin(Method::GET, "/tokens", None).await.expect(200);
    assert!(!list.to_string().contains(&secret));
    let id = t["id"].as_u64().expect("id");
    let revoked = s
        .admin(Method::DELETE, &format!("/tokens/{id}"), None)
        .await
        .expect(200);
    assert!(revoked["revoked_at"].is_string());
    s.send(Method::GET, "/api/admin/v1/clients", None, &h)
        .await
        .expect_error(401, 2001);
    // Only the hash is stored: the secret is nowhere in the database file.
    let db = std::fs::read(s.data_dir().join("licd.redb")).expect("db");
    assert!(!db.windows(secret.len()).any(|w| w == secret.as_bytes()));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_with_features_and_trials() {
    let s = TestServer::start().await;
    let p = s
        .admin(
            Method::POST,
            "/products",
            Some(
                json!({"code": "telephony", "name": "Интеграция 1С и телефонии",
                "features": [{"number": 31, "name": "Журнал звонков", "unit": "host"},
                             {"number": 48, "name": "ПРОФ сеанс в 1С", "unit": "user"}],
                "trial": {"days": 30, "items": [{"feature": 48, "seats": 2}]}}),
            ),
        )
        .await
        .expect(201);
    assert_eq!(p["code"], "telephony");
    assert_eq!(p["heartbeat_s"], 60, "default heartbeat");
    assert_eq!(p["features"][1]["name"], "ПРОФ сеанс в 1С");
    assert_eq!(p["features"][0]["unit"], "host");
    assert_eq!(p["trial"]["days"], 30);

    let list = s.admin(Method::GET, "/products", None).await.expect(200);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    s.admin(Method::GET, "/products/TELEPHONY", None)
        .await
        .expect(200);

    // Same code (any case) or a feature number already used: 409.
    s.admin(
        Method::POST,
        "/products",
        Some(json!({"code": "Telephony", "name": "x", "features": []})),
    )
    .await
    .expect_error(409, 2009);
    let r = s
        .admin(
            Method::POST,
            "/products",
            Some(json!({"code": "chats", "name": "x",
            "features": [{"number": 48, "name": "dup", "unit": "user"}]})),
        )
        .await;
    r.expect_error(409, 2009);
    assert_eq!(r.body["error"]["details"]["feature"], 48);
    // Bad unit, bad trial feature, missing name: 400 naming the field.
    let r = s
        .admin(
            Method::POST,
            "/products",
            Some(json!({"code": "c", "name": "x",
            "features": [{"number": 1, "name": "f", "unit": "seat"}]})),
        )
        .await;
    r.expect_error(400, 1001);
    assert!(
        r.body["error"]["details"].get("features[0].unit").is_some(),
        "{}",
        r.body
    );
    let r = s
        .admin(Method::POST, "/products", Some(json!({"code": "c", "name": "x",
            "features": [{"number": 1, "name": "f", "unit": "user"}], "trial": {"days": 3, "items": [{"feature": 2, "seats": 1}]}})))
        .await;
    r.expect_error(400, 1001);
    assert!(
        r.body["error"]["details"]
            .get("trial.items[0].feature")
            .is_some(),
        "{}",
        r.body
    );
    let r = s
        .admin(
            Method::POST,
            "/products",
            Some(json!({"code": "c", "features": []})),
        )
        .await;
    r.expect_error(400, 1001);
    assert!(
        r.body["error"]["details"].get("name").is_some(),
        "{}",
        r.body
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_crud_unicode_search_and_crm_lookup() {
    let s = TestServer::start().await;
    let c = s
        .admin(
            Method::POST,
            "/clients",
            Some(json!({"company": "ООО «Ромашка»", "contact": "Пётр Иванов", "phone": "+7 (495) 123-45-67",
                "email": "Petr@Romashka.RU", "crm_id1": "7701234567", "crm_id2": "a1b2-c3",
                "comment": "Звонить после обеда", "extra": {"Отрасль": "Ритейл"}})),
        )
        .await
        .expect(201);
    let id = c["id"].as_u64().expect("id");
    assert_eq!(c["company"], "ООО «Ромашка»");
    assert_eq!(c["extra"]["Отрасль"], "Ритейл");
    let other = s
        .admin(Method::POST, "/clients", Some(json!({"company": "Acme Ltd", "contact": "John", "phone": "555", "email": "john@acme.test"})))
        .await
        .expect(201);

    // Round trip.
    let got = s
        .admin(Method::GET, &format!("/clients/{id}"), None)
        .await
        .expect(200);
    assert_eq!(got["contact"], "Пётр Иванов");
    assert_eq!(got["keys"], json!([]));

    // Quick search: Cyrillic in any case, ё as е, phone digits, e-mail, comment.
    for q in [
        "ромашка",
        "РОМАШКА",
        "петр",
        "ПЁТР ИВАНОВ",
        "4951234567",
        "romashka.ru",
        "после обеда",
    ] {
        let r = s
            .send(
                Method::GET,
                &format!("/api/admin/v1/clients?q={}", urlencode(q)),
                None,
                &[("Authorization", &format!("Bearer {}", s.token))],
            )
            .await;
        assert_eq!(
            r.headers.get("x-total-count").and_then(|v| v.to_str().ok()),
            Some("1"),
            "{q}"
        );
        let body = r.expect(200);
        assert_eq!(body[0]["id"].as_u64(), Some(id), "search {q}: {body}");
    }
    let none = s
        .admin(
            Method::GET,
            &format!("/clients?q={}", urlencode("лютик")),
            None,
        )
        .await
        .expect(200);
    assert_eq!(none, json!([]));
    let all = s.admin(Method::GET, "/clients", None).await.expect(200);
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    assert_eq!(all[0]["id"], other["id"], "newest first");
    let page = s
        .admin(Method::GET, "/clients?limit=1&offset=1", None)
        .await
        .expect(200);
    assert_eq!(page[0]["id"].as_u64(), Some(id));

    // CRM lookups.
    let by1 = s
        .admin(Method::GET, "/clients?crm_id1=7701234567", None)
        .await
        .expect(200);
    assert_eq!(by1[0]["id"].as_u64(), Some(id));
    let by2 = s
        .admin(Method::GET, "/clients?crm_id2=a1b2-c3", None)
        .await
        .expect(200);
    assert_eq!(by2.as_array().map(Vec::len), Some(1));
    assert_eq!(
        s.admin(Method::GET, "/clients?crm_id1=000", None)
            .await
            .expect(200),
        json!([])
    );

    // Bad paging and bad fields.
    s.admin(Method::GET, "/clients?limit=1001", None)
        .await
        .expect_error(400, 1001);
    s.admin(Method::GET, "/clients?limit=x", None)
        .await
        .expect_error(400, 1001);
    let r = s
        .admin(
            Method::POST,
            "/clients",
            Some(json!({"company": "X", "email": "not-an-email"})),
        )
        .await;
    r.expect_error(400, 1001);
    assert!(r.body["error"]["details"].get("email").is_some());
    s.admin(
        Method::POST,
        "/clients",
        Some(json!({"contact": "no company"})),
    )
    .await
    .expect_error(400, 1001);

    // Change: only the fields sent; the index follows.
    let changed = s
        .admin(
            Method::PATCH,
            &format!("/clients/{id}"),
            Some(json!({"company": "ООО Лютик", "crm_id1": "7709999999"})),
        )
        .await
        .expect(200);
    assert_eq!(changed["company"], "ООО Лютик");
    assert_eq!(changed["contact"], "Пётр Иванов");
    let found = s
        .admin(
            Method::GET,
            &format!("/clients?q={}", urlencode("лютик")),
            None,
        )
        .await
        .expect(200);
    assert_eq!(found[0]["id"].as_u64(), Some(id));
    assert_eq!(
        s.admin(Method::GET, "/clients?crm_id1=7701234567", None)
            .await
            .expect(200),
        json!([])
    );
    s.admin(Method::GET, "/clients/999999", None)
        .await
        .expect_error(404, 2004);
    s.admin(
        Method::PATCH,
        "/clients/999999",
        Some(json!({"company": "x"})),
    )
    .await
    .expect_error(404, 2004);

    // Russian errors by Accept-Language.
    let r = s
        .send(
            Method::GET,
            "/api/admin/v1/clients/999999",
            None,
            &[
                ("Authorization", &format!("Bearer {}", s.token)),
                ("Accept-Language", "ru-RU,ru;q=0.9"),
            ],
        )
        .await;
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Не найдено")),
        "{}",
        r.body
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_items_block_and_delete_rules() {
    let s = TestServer::start().await;
    s.product("crm", &[(31, "host"), (48, "user")]).await;
    let c = s
        .admin(
            Method::POST,
            "/clients",
            Some(json!({"company": "Keys Inc", "contact": "K", "phone": "1", "email": "k@k.test"})),
        )
        .await
        .expect(201);
    let id = c["id"].as_u64().expect("id");
    let k = s
        .admin(Method::POST, &format!("/clients/{id}/keys"), None)
        .await
        .expect(201);
    let regnum = k["regnum"].as_str().expect("regnum").to_owned();
    assert!(regnum.starts_with("LIC-") && regnum.len() == 27, "{regnum}");

    // An empty key: the client can still be deleted later; first add items.
    let key = s
        .admin(
            Method::GET,
            &format!("/keys/{}", regnum.to_lowercase()),
            None,
        )
        .await
        .expect(200);
    assert_eq!(key["items"], json!([]));
    assert_eq!(key["client"]["id"].as_u64(), Some(id));
    let key = s
        .admin(Method::POST, &format!("/keys/{regnum}/items"), Some(json!({"product": "crm", "feature": 48, "seats": 5, "expires_at": "2099-01-01T00:00:00Z"})))
        .await
        .expect(201);
    assert_eq!(key["items"][0]["seats"], 5);
    assert_eq!(key["items"][0]["expires_at"], "2099-01-01T00:00:00Z");
    let key = s
        .admin(
            Method::POST,
            &format!("/keys/{regnum}/items"),
            Some(json!({"product": "crm", "feature": 48, "seats": 2})),
        )
        .await
        .expect(201);
    assert_eq!(key["items"][0]["seats"], 7, "grants of one feature add up");
    assert_eq!(
        key["items"][0]["expires_at"],
        serde_json::Value::Null,
        "one grant never expires"
    );
    s.admin(
        Method::POST,
        &format!("/keys/{regnum}/items"),
        Some(json!({"product": "nope", "feature": 48, "seats": 2})),
    )
    .await
    .expect_error(404, 1050);
    s.admin(
        Method::POST,
        &format!("/keys/{regnum}/items"),
        Some(json!({"product": "crm", "feature": 99, "seats": 2})),
    )
    .await
    .expect_error(400, 1001);
    s.admin(
        Method::POST,
        &format!("/keys/{regnum}/items"),
        Some(json!({"product": "crm", "feature": 48, "seats": 1, "expires_at": "tomorrow"})),
    )
    .await
    .expect_error(400, 1001);
    s.admin(Method::GET, "/keys/LIC-22222-22222-22222-22222", None)
        .await
        .expect_error(404, 1020);
    s.admin(Method::GET, "/keys/garbage", None)
        .await
        .expect_error(400, 1003);

    // Block and unblock.
    let b = s
        .admin(
            Method::PATCH,
            &format!("/keys/{regnum}"),
            Some(json!({"blocked": true})),
        )
        .await
        .expect(200);
    assert_eq!(b["blocked"], true);
    let pubkey = s
        .api(Method::GET, &format!("/keys/{regnum}"), None)
        .await
        .expect(200);
    assert_eq!(pubkey["blocked"], true);
    assert_eq!(pubkey["company"], "Keys Inc");
    s.admin(
        Method::PATCH,
        &format!("/keys/{regnum}"),
        Some(json!({"blocked": false})),
    )
    .await
    .expect(200);

    // Change and remove a grant.
    let grant = key["grants"][1]["id"].as_u64().expect("grant id");
    let k2 = s
        .admin(
            Method::PATCH,
            &format!("/keys/{regnum}/items/{grant}"),
            Some(json!({"seats": 4})),
        )
        .await
        .expect(200);
    assert_eq!(k2["items"][0]["seats"], 9);

    // Delete refused while a key has items; fine once emptied.
    let r = s
        .admin(Method::DELETE, &format!("/clients/{id}"), None)
        .await;
    r.expect_error(409, 2009);
    assert_eq!(r.body["error"]["details"]["keys"][0], regnum.as_str());
    s.admin(Method::GET, &format!("/clients/{id}"), None)
        .await
        .expect(200);
    let first = key["grants"][0]["id"].as_u64().expect("id");
    s.admin(
        Method::DELETE,
        &format!("/keys/{regnum}/items/{first}"),
        None,
    )
    .await
    .expect(200);
    s.admin(
        Method::DELETE,
        &format!("/keys/{regnum}/items/{grant}"),
        None,
    )
    .await
    .expect(200);
    s.admin(Method::DELETE, &format!("/clients/{id}"), None)
        .await
        .expect(200);
    s.admin(Method::GET, &format!("/clients/{id}"), None)
        .await
        .expect_error(404, 2004);
    s.admin(Method::GET, &format!("/keys/{regnum}"), None)
        .await
        .expect_error(404, 1020);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_three_clients() {
    let s = TestServer::start().await;
    s.product("crm", &[(48, "user")]).await;
    let mut ids = Vec::new();
    let mut regnums = Vec::new();
    for name in ["Главный клиент", "Дубль один", "Дубль два"] {
        let c = s
            .admin(
                Method::POST,
                "/clients",
                Some(json!({"company": name, "contact": "c", "phone": "1", "email": ""})),
            )
            .await
            .expect(201);
        let id = c["id"].as_u64().expect("id");
        let k = s
            .admin(Method::POST, &format!("/clients/{id}/keys"), None)
            .await
            .expect(201);
        let r = k["regnum"].as_str().expect("regnum").to_owned();
        s.admin(
            Method::POST,
            &format!("/keys/{r}/items"),
            Some(json!({"product": "crm", "feature": 48, "seats": 1})),
        )
        .await
        .expect(201);
        ids.push(id);
        regnums.push(r);
    }
    // The third client has two keys.
    let extra = s
        .admin(Method::POST, &format!("/clients/{}/keys", ids[2]), None)
        .await
        .expect(201);
    regnums.push(extra["regnum"].as_str().expect("regnum").to_owned());

    s.admin(
        Method::POST,
        "/clients/merge",
        Some(json!({"into": ids[0], "from": [ids[0]]})),
    )
    .await
    .expect_error(409, 2009);
    s.admin(
        Method::POST,
        "/clients/merge",
        Some(json!({"into": ids[0], "from": [999]})),
    )
    .await
    .expect_error(404, 2004);
    s.admin(
        Method::POST,
        "/clients/merge",
        Some(json!({"into": ids[0], "from": []})),
    )
    .await
    .expect_error(400, 1001);

    let survivor = s
        .admin(
            Method::POST,
            "/clients/merge",
            Some(json!({"into": ids[0], "from": [ids[1], ids[2]]})),
        )
        .await
        .expect(200);
    assert_eq!(survivor["id"].as_u64(), Some(ids[0]));
    assert_eq!(
        survivor["company"], "Главный клиент",
        "the survivor keeps its card"
    );
    let mut keys: Vec<String> = survivor["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k.as_str().unwrap_or("").to_owned())
        .collect();
    keys.sort();
    let mut expected = regnums.clone();
    expected.sort();
    assert_eq!(keys, expected, "every key moved to the survivor");
    for r in &regnums {
        let k = s
            .admin(Method::GET, &format!("/keys/{r}"), None)
            .await
            .expect(200);
        assert_eq!(k["client"]["id"].as_u64(), Some(ids[0]));
    }
    for id in &ids[1..] {
        s.admin(Method::GET, &format!("/clients/{id}"), None)
            .await
            .expect_error(404, 2004);
    }
    let found = s
        .admin(
            Method::GET,
            &format!("/clients?q={}", urlencode("дубль")),
            None,
        )
        .await
        .expect(200);
    assert_eq!(found, json!([]), "merged clients leave the search index");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_clear_errors() {
    let s = TestServer::start_with(|a| a.body_limit = Some(4096)).await;
    let auth = format!("Bearer {}", s.token);
    // Not JSON at all.
    let r = s
        .http
        .post(format!("{}/api/admin/v1/clients", s.url))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    let b: serde_json::Value = r.json().await.expect("json");
    assert_eq!(b["error"]["code"], 1001);
    // Wrong type names the field.
    let r = s
        .admin(Method::POST, "/clients", Some(json!({"company": 5})))
        .await;
    r.expect_error(400, 1001);
    assert!(
        r.body["error"]["details"].get("company").is_some(),
        "{}",
        r.body
    );
    // Too large: 413.
    let big = "x".repeat(10_000);
    let r = s
        .admin(Method::POST, "/clients", Some(json!({"company": big})))
        .await;
    r.expect_error(413, 1004);
    let r = s
        .api(Method::POST, "/trial", Some(json!({"product": big})))
        .await;
    r.expect_error(413, 1004);
    // Unknown routes answer JSON 404.
    s.admin(Method::GET, "/nothing-here", None)
        .await
        .expect_error(404, 2004);
    // Nothing was written by the failed calls.
    assert_eq!(
        s.admin(Method::GET, "/clients", None).await.expect(200),
        json!([])
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_health_and_headers() {
    let s = TestServer::start().await;
    let h = s.send(Method::GET, "/healthz", None, &[]).await;
    assert_eq!(h.body["status"], "ok");
    assert_eq!(
        h.headers
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    assert!(h.headers.get("strict-transport-security").is_some());
    let doc = s
        .send(Method::GET, "/api/openapi.json", None, &[])
        .await
        .expect(200);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = doc["paths"].as_object().expect("paths");
    for (p, m) in [
        ("/api/v1/trial", "post"),
        ("/api/v1/activate", "post"),
        ("/api/v1/leases", "post"),
        ("/api/v1/leases/{lease}/heartbeat", "post"),
        ("/api/v1/leases/{lease}", "delete"),
        ("/api/v1/keys/{regnum}", "get"),
        ("/api/v1/keys/{regnum}/diag", "get"),
        ("/api/v1/keys/{regnum}/license", "get"),
        ("/api/v1/signing-key", "get"),
        ("/api/admin/v1/products", "post"),
        ("/api/admin/v1/products", "get"),
        ("/api/admin/v1/products/{code}", "patch"),
        ("/api/admin/v1/clients", "post"),
        ("/api/admin/v1/clients", "get"),
        ("/api/admin/v1/clients/{id}", "get"),
        ("/api/admin/v1/clients/{id}", "patch"),
        ("/api/admin/v1/clients/{id}", "delete"),
        ("/api/admin/v1/clients/merge", "post"),
        ("/api/admin/v1/clients/{id}/keys", "post"),
        ("/api/admin/v1/keys/{regnum}", "get"),
        ("/api/admin/v1/keys/{regnum}/items", "post"),
        ("/api/admin/v1/keys/{regnum}", "patch"),
        ("/api/admin/v1/coupons", "post"),
        ("/api/admin/v1/leases", "get"),
        ("/api/admin/v1/leases/{lease}", "delete"),
        ("/api/admin/v1/keys/{regnum}/unbind", "post"),
    ] {
        assert!(
            paths.get(p).and_then(|x| x.get(m)).is_some(),
            "{m} {p} missing from OpenAPI"
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coupon_batches() {
    let s = TestServer::start().await;
    s.product("crm", &[(42, "host")]).await;
    s.admin(
        Method::PATCH,
        "/settings",
        Some(json!({"regnum_prefix": "miko"})),
    )
    .await
    .expect(200);
    let b = s
        .admin(Method::POST, "/coupons", Some(json!({"count": 3, "items": [{"product": "crm", "feature": 42, "seats": 2, "days": 365}]})))
        .await
        .expect(201);
    let codes = b["codes"].as_array().expect("codes");
    assert_eq!(codes.len(), 3);
    for c in codes {
        let c = c.as_str().expect("code");
        assert!(c.starts_with("MIKOUPD-") && c.len() == 31, "{c}");
    }
    let list = s
        .admin(Method::GET, &format!("/coupons?batch={}", b["batch"]), None)
        .await
        .expect(200);
    assert_eq!(list.as_array().map(Vec::len), Some(3));
    assert_eq!(list[0]["state"], "new");
    s.admin(
        Method::POST,
        "/coupons",
        Some(json!({"count": 0, "items": [{"product": "crm", "feature": 42, "seats": 1}]})),
    )
    .await
    .expect_error(400, 1001);
    s.admin(
        Method::POST,
        "/coupons",
        Some(json!({"count": 1, "items": [{"product": "zzz", "feature": 42, "seats": 1}]})),
    )
    .await
    .expect_error(404, 1050);
    s.admin(
        Method::PATCH,
        "/settings",
        Some(json!({"regnum_prefix": "MI-KO"})),
    )
    .await
    .expect_error(400, 1001);
    let c = s
        .admin(Method::POST, "/clients", Some(json!({"company": "P"})))
        .await
        .expect(201);
    let k = s
        .admin(Method::POST, &format!("/clients/{}/keys", c["id"]), None)
        .await
        .expect(201);
    assert!(k["regnum"].as_str().is_some_and(|r| r.starts_with("MIKO-")));
    s.stop().await;
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_change_by_patch() {
    let s = TestServer::start().await;
    s.product("crm", &[(31, "host"), (48, "user")]).await;
    s.product("chat", &[(60, "user")]).await;

    // Name, heartbeat, a renamed feature, a recounted one (no key holds it), a new one,
    // new trial terms: only what is sent changes.
    let p = s
        .admin(
            Method::PATCH,
            "/products/CRM",
            Some(json!({"name": "Интеграция 2", "heartbeat_s": 45,
                "features": [{"number": 48, "name": "ПРОФ сеанс"},
                             {"number": 31, "unit": "database"},
                             {"number": 50, "name": "Новая", "unit": "session"}],
                "trial": {"days": 7, "items": [{"feature": 50, "seats": 1}]}})),
        )
        .await
        .expect(200);
    assert_eq!(p["name"], "Интеграция 2");
    assert_eq!(p["heartbeat_s"], 45);
    assert_eq!(p["features"][0]["unit"], "database");
    assert_eq!(
        p["features"][0]["name"], "Feature 31",
        "a name not sent stays"
    );
    assert_eq!(p["features"][1]["name"], "ПРОФ сеанс");
    assert_eq!(p["features"][1]["unit"], "user", "a unit not sent stays");
    assert_eq!(p["features"][2]["number"], 50);
    assert_eq!(p["trial"]["days"], 7);
    assert_eq!(p["trial"]["items"], json!([{"feature": 50, "seats": 1}]));
    let got = s
        .admin(Method::GET, "/products/crm", None)
        .await
        .expect(200);
    assert_eq!(got, p);

    // The in-memory catalog follows at once: the new feature can be held and captured,
    // with the new heartbeat and unit.
    let regnum = s.key_with("crm", 50, 1).await;
    let lease = s
        .api(
            Method::POST,
            "/leases",
            Some(json!({"regnum": regnum, "feature": 50, "host": "pc1", "session": "s1"})),
        )
        .await
        .expect(201);
    assert_eq!(lease["heartbeat_s"], 45);
    s.api(
        Method::POST,
        "/leases",
        Some(json!({"regnum": regnum, "feature": 50, "host": "pc1", "session": "s2"})),
    )
    .await
    .expect_error(409, 1030);

    // A held feature's unit stays: 409 with the reason and the key; nothing changes,
    // not even the rest of that request.
    let r = s
        .admin(
            Method::PATCH,
            "/products/crm",
            Some(json!({"name": "Другое", "features": [{"number": 50, "unit": "user"}]})),
        )
        .await;
    r.expect_error(409, 2009);
    assert_eq!(r.body["error"]["details"]["reason"], "feature_in_use");
    assert_eq!(r.body["error"]["details"]["feature"], 50);
    assert_eq!(r.body["error"]["details"]["regnum"], regnum.as_str());
    let got = s
        .admin(Method::GET, "/products/crm", None)
        .await
        .expect(200);
    assert_eq!(got["name"], "Интеграция 2");
    assert_eq!(got["features"][2]["unit"], "session");
    // Renaming it is fine; so is the same unit again.
    s.admin(
        Method::PATCH,
        "/products/crm",
        Some(json!({"features": [{"number": 50, "name": "Сеанс", "unit": "session"}]})),
    )
    .await
    .expect(200);
    // A number another product uses: 409.
    let r = s
        .admin(
            Method::PATCH,
            "/products/crm",
            Some(json!({"features": [{"number": 60, "name": "x", "unit": "user"}]})),
        )
        .await;
    r.expect_error(409, 2009);
    assert_eq!(r.body["error"]["details"]["reason"], "feature_number_taken");

    // Unknown product: 404.
    s.admin(Method::PATCH, "/products/nope", Some(json!({"name": "x"})))
        .await
        .expect_error(404, 2004);
    // Malformed: 1001 naming the field.
    for (body, field) in [
        (json!({"heartbeat_s": 1}), "heartbeat_s"),
        (json!({"name": "  "}), "name"),
        (
            json!({"features": [{"number": 31, "unit": "seat"}]}),
            "features[0].unit",
        ),
        (
            json!({"features": [{"number": 77, "name": "no unit"}]}),
            "features[0].unit",
        ),
        (
            json!({"trial": {"days": 5, "items": [{"feature": 99, "seats": 1}]}}),
            "trial.items[0].feature",
        ),
        (json!({"trial": {"days": 0, "items": []}}), "trial.days"),
        (json!({"code": "other"}), "code"),
    ] {
        let r = s
            .admin(Method::PATCH, "/products/crm", Some(body.clone()))
            .await;
        r.expect_error(400, 1001);
        assert!(
            r.body["error"]["details"].get(field).is_some(),
            "{body} should name {field}: {}",
            r.body
        );
    }
    // null ends the trial terms.
    let p = s
        .admin(Method::PATCH, "/products/crm", Some(json!({"trial": null})))
        .await
        .expect(200);
    assert!(p["trial"].is_null());

    // Admin only; and every change is in the audit log under the token's name.
    let t = s
        .admin(
            Method::POST,
            "/tokens",
            Some(json!({"name": "crm-sync", "role": "manager"})),
        )
        .await
        .expect(201);
    let auth = format!("Bearer {}", t["token"].as_str().expect("token"));
    s.send(
        Method::PATCH,
        "/api/admin/v1/products/crm",
        Some(json!({"name": "x"})),
        &[("Authorization", &auth)],
    )
    .await
    .expect_error(403, 2003);
    let tx = s.app().store.read().expect("read");
    let (entries, _) = licd::service::audit::page(&tx, "product_update", 0, 10).expect("audit");
    assert_eq!(entries.len(), 3, "three changes made: {entries:?}");
    assert!(
        entries
            .iter()
            .all(|e| e.actor == "api:test" && e.target == "crm")
    );
    assert!(
        entries[2]
            .detail
            .contains("feature 31 unit host -> database"),
        "{}",
        entries[2].detail
    );
    drop(tx);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_usage_counts_captures_denials_and_peaks_per_day() {
    use licd::domain::days::{Day, DayRange};
    use licd::service::stats;
    let s = TestServer::start().await;
    s.product("stat", &[(48, "user")]).await;
    let regnum = s.key_with("stat", 48, 1).await;
    let capture = |user: &str, feature: u32| {
        let body = json!({"regnum": regnum, "feature": feature, "host": "pc", "user": user});
        s.api(Method::POST, "/leases", Some(body))
    };
    capture("ivan", 48).await.expect(201);
    capture("ivan", 48).await.expect(201);
    capture("petr", 48).await.expect_error(409, 1030);
    capture("petr", 99).await.expect_error(404, 1031);
    licd::service::usage::flush(s.app()).await.expect("flush");

    let today = Day::of(s.app().now()).to_string();
    let want = json!([
        {"day": today, "feature": 48, "captures": 2, "denials": 1, "peak": 1},
        {"day": today, "feature": 99, "captures": 0, "denials": 1, "peak": 0},
    ]);
    // The flush job may have taken the counts a moment before this test's flush: wait
    // for its commit.
    let mut rows = json!(null);
    for _ in 0..50 {
        rows = s
            .admin(
                Method::GET,
                &format!("/keys/{}/usage", regnum.to_lowercase()),
                None,
            )
            .await
            .expect(200);
        if rows == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(rows, want);
    let rows = s
        .admin(
            Method::GET,
            &format!("/keys/{regnum}/usage?from={today}&to={today}"),
            None,
        )
        .await
        .expect(200);
    assert_eq!(rows, want);
    let rows = s
        .admin(
            Method::GET,
            &format!("/keys/{regnum}/usage?from=2020-01-01&to=2020-01-31"),
            None,
        )
        .await
        .expect(200);
    assert_eq!(rows, json!([]));
    for bad in [
        "from=2026-02-30",
        "to=yesterday",
        "from=2026-02-01&to=2026-01-01",
    ] {
        s.admin(Method::GET, &format!("/keys/{regnum}/usage?{bad}"), None)
            .await
            .expect_error(400, 1001);
    }
    s.admin(Method::GET, "/keys/LIC-22222-22222-22222-22222/usage", None)
        .await
        .expect_error(404, 1020);

    // The staff views see the same numbers through the rollups and the time index.
    let app = s.app();
    let tx = app.store.read().expect("read");
    let range = DayRange::last(7, Day::of(app.now()));
    let all = stats::global_series(&tx, range, &stats::SeriesFilter::default()).expect("series");
    let last: Vec<_> = all.rows.iter().filter(|r| r.day == range.to).collect();
    assert_eq!(last.len(), 2);
    assert_eq!((last[0].captures, last[0].denials, last[0].peak), (2, 1, 1));
    assert_eq!(all.features[0].product, "stat");
    let mine = stats::key_series(&tx, std::slice::from_ref(&regnum), range).expect("series");
    assert_eq!(
        mine.rows
            .iter()
            .find(|r| r.day == range.to)
            .and_then(|r| r.seats_owned),
        Some(1)
    );
    let top = stats::top_clients(&tx, range, 20).expect("top");
    assert_eq!(top.len(), 1);
    assert_eq!(top[0].denials, 2);
    let page = stats::all_denials(&tx, &stats::DenialFilter::default(), stats::Page::default())
        .expect("denials");
    assert_eq!(page.rows.len(), 2);
    assert_eq!((page.rows[0].code, page.rows[0].feature), (1031, 99));
    assert_eq!(
        (page.rows[1].code, page.rows[1].user.as_str()),
        (1030, "petr")
    );
    assert_eq!(page.rows[1].client_id, top[0].client_id);
    let only = stats::all_denials(
        &tx,
        &stats::DenialFilter {
            feature: Some(48),
            ..Default::default()
        },
        stats::Page::default(),
    )
    .expect("denials");
    assert_eq!(only.rows.len(), 1);
    assert_eq!(only.rows[0].feature_name, "Feature 48");
    drop(tx);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_carry_the_mail_reminder_days_and_language() {
    let s = TestServer::start().await;
    let v = s.admin(Method::GET, "/settings", None).await.expect(200);
    assert_eq!(v["expiry_days"], json!([30, 7, 1]));
    assert_eq!(v["mail_lang"], "ru");
    assert_eq!(v["vendor_name"], "licd", "what it returned before stays");
    let v = s
        .admin(
            Method::PATCH,
            "/settings",
            Some(json!({"expiry_days": [1, 60, 14, 14], "mail_lang": "en"})),
        )
        .await
        .expect(200);
    assert_eq!(v["expiry_days"], json!([60, 14, 1]), "largest first, once");
    assert_eq!(v["mail_lang"], "en");
    for bad in [
        json!({"expiry_days": []}),
        json!({"expiry_days": [0]}),
        json!({"expiry_days": [400]}),
        json!({"expiry_days": [1, 2, 3, 4, 5, 6]}),
        json!({"mail_lang": "de"}),
    ] {
        s.admin(Method::PATCH, "/settings", Some(bad))
            .await
            .expect_error(400, 1001);
    }
    let v = s.admin(Method::GET, "/settings", None).await.expect(200);
    assert_eq!(
        (v["expiry_days"].clone(), v["mail_lang"].clone()),
        (json!([60, 14, 1]), json!("en"))
    );
    s.stop().await;
}

/// The OpenAPI document says what the server checks (issue 15): the shapes of numbers,
/// the ranges of unsigned integers, an error body on every error answer, unique
/// operation ids, the signature headers and the nonce; and the server holds to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_is_exact_and_the_server_holds_to_it() {
    let s = TestServer::start().await;
    let doc = s
        .send(Method::GET, "/api/openapi.json", None, &[])
        .await
        .expect(200);
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["CaptureInput"]["properties"]["regnum"]["pattern"],
        licd::http::openapi_rules::NUMBER_PATTERN
    );
    assert_eq!(
        schemas["CaptureInput"]["properties"]["feature"]["maximum"],
        u64::from(u32::MAX)
    );
    assert_eq!(
        schemas["NewCoupons"]["properties"]["count"]["maximum"],
        10_000
    );
    assert!(schemas["TrialInput"]["anyOf"].is_array());
    let mut ids = std::collections::BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            let id = op["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_owned()), "operationId {id} repeats");
            for (code, r) in op["responses"].as_object().expect("responses") {
                if code.starts_with('4') && code != "416" {
                    assert_eq!(
                        r["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {code}"
                    );
                }
                let file = path.ends_with("/file")
                    && ["200", "206", "304", "416"].contains(&code.as_str());
                if path.starts_with("/api/v1/") && !file {
                    assert!(
                        r["headers"]["Licd-Signature"].is_object(),
                        "{method} {path} {code} without Licd-Signature"
                    );
                }
            }
            if path.starts_with("/api/admin/") {
                assert!(
                    op["security"].is_array(),
                    "{method} {path} without security"
                );
                assert!(op["responses"]["401"].is_object(), "{method} {path}");
            }
            if path.contains("{regnum}") {
                let p = op["parameters"]
                    .as_array()
                    .and_then(|l| l.iter().find(|p| p["name"] == "regnum"))
                    .expect("regnum parameter");
                assert_eq!(
                    p["schema"]["pattern"],
                    licd::http::openapi_rules::NUMBER_PATTERN
                );
            }
        }
    }
    // A number JSON writes as 30.0 is the integer 30.
    let r = s
        .admin(
            Method::POST,
            "/signing-key/rotate",
            Some(json!({ "overlap_days": 30.0 })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.admin(
        Method::POST,
        "/signing-key/rotate",
        Some(json!({ "overlap_days": 30.5 })),
    )
    .await
    .expect_error(400, 1001);
    // Another method on /clients/merge is 405 with Allow, not "no client merge".
    let r = s
        .admin(Method::PATCH, "/clients/merge", Some(json!({})))
        .await;
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(
        r.headers.get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    // A query the typed query cannot read gets the contract's error body.
    let r = s.admin(Method::GET, "/keys?offset=1&offset=2", None).await;
    r.expect_error(400, 1001);
    assert!(r.body["error"]["details"]["offset"].is_string());
    // Limits are ranges, not clamps; a malformed number is refused, not "no leases".
    s.admin(Method::GET, "/leases?limit=0", None)
        .await
        .expect_error(400, 1001);
    s.admin(Method::GET, "/leases?regnum=nope", None)
        .await
        .expect_error(400, 1003);
    // A distributor user naming no distributor: that distributor is not found.
    s.admin(
        Method::POST,
        "/users",
        Some(json!({ "login": "d1", "role": "distributor", "distributor": "nobody", "password": "long enough" })),
    )
    .await
    .expect_error(404, 2004);
    s.stop().await;
}
