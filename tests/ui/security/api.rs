//! The admin API, every call of its OpenAPI document: a manager's token is refused
//! (403, code 2003) on each call only an admin may make and reaches the others; no
//! token, a staff session cookie or a cabinet cookie gets 401 (code 2001) everywhere.
use super::World;
use serde_json::{Value, json};

/// The admin-only calls (`staff.require(Role::Admin)` in the handler), with a body
/// that would be accepted from an admin, so only the role can stop them.
fn admin_only(w: &World, method: &str, path: &str) -> Option<Option<Value>> {
    let body = match (method, path) {
        ("post", "/api/admin/v1/products") => {
            Some(json!({"code": "NEW", "name": "New", "features": []}))
        }
        ("patch", "/api/admin/v1/products/{code}") => Some(json!({"name": "Renamed"})),
        ("delete", "/api/admin/v1/products/{code}") => None,
        ("post", "/api/admin/v1/distributors") => {
            Some(json!({"code": "north", "name": "North", "email": "n@north.test"}))
        }
        ("get", "/api/admin/v1/distributors") => None,
        ("post", "/api/admin/v1/users") => Some(
            json!({"login": "intruder", "role": "admin", "email": "", "password": "long enough"}),
        ),
        ("get", "/api/admin/v1/users") => None,
        ("get", "/api/admin/v1/tokens") => None,
        ("post", "/api/admin/v1/tokens") => Some(json!({"name": "mine", "role": "admin"})),
        ("delete", "/api/admin/v1/tokens/{id}") => None,
        ("patch", "/api/admin/v1/settings") => Some(json!({"vendor_name": "Taken over"})),
        ("get", "/api/admin/v1/backup") => None,
        ("post", "/api/admin/v1/signing-key/rotate") => Some(json!({})),
        ("get", "/api/admin/v1/metrics") => None,
        ("post", "/api/admin/v1/releases") => None,
        ("patch", "/api/admin/v1/releases/{id}") => Some(json!({"changelog": "rewritten"})),
        ("delete", "/api/admin/v1/releases/{id}") => None,
        _ => return None,
    };
    let _ = w;
    Some(body)
}

/// Calls a manager's token may make (`Role::Manager` or none in the handler).
const MANAGER_MAY: &[(&str, &str)] = &[
    ("get", "/api/admin/v1/products"),
    ("get", "/api/admin/v1/products/{code}"),
    ("post", "/api/admin/v1/clients"),
    ("get", "/api/admin/v1/clients"),
    ("post", "/api/admin/v1/clients/merge"),
    ("get", "/api/admin/v1/clients/{id}"),
    ("patch", "/api/admin/v1/clients/{id}"),
    ("delete", "/api/admin/v1/clients/{id}"),
    ("post", "/api/admin/v1/clients/{id}/keys"),
    ("get", "/api/admin/v1/keys"),
    ("get", "/api/admin/v1/keys/{regnum}"),
    ("patch", "/api/admin/v1/keys/{regnum}"),
    ("post", "/api/admin/v1/keys/{regnum}/items"),
    ("patch", "/api/admin/v1/keys/{regnum}/items/{id}"),
    ("delete", "/api/admin/v1/keys/{regnum}/items/{id}"),
    ("post", "/api/admin/v1/keys/{regnum}/unbind"),
    ("get", "/api/admin/v1/keys/{regnum}/denials"),
    ("get", "/api/admin/v1/keys/{regnum}/usage"),
    ("post", "/api/admin/v1/coupons"),
    ("get", "/api/admin/v1/coupons"),
    ("get", "/api/admin/v1/leases"),
    ("delete", "/api/admin/v1/leases/{lease}"),
    ("get", "/api/admin/v1/settings"),
    ("get", "/api/admin/v1/releases"),
    ("get", "/api/admin/v1/releases/{id}"),
    ("get", "/api/admin/v1/releases/{id}/file"),
];

async fn call(
    w: &World,
    method: &str,
    path: &str,
    auth: &[(&str, String)],
    body: Option<&Value>,
) -> (u16, Value) {
    let h = crate::kit::Http::new(&w.s);
    let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
    let mut rb = h.client.request(m, format!("{}{path}", w.s.url));
    for (k, v) in auth {
        rb = rb.header(*k, v);
    }
    if let Some(b) = body {
        rb = rb.json(b);
    }
    let r = rb.send().await.expect("api call");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_api_call_checks_the_token_and_its_role() {
    let w = World::make().await;
    let (staff, _) = w.staff("root").await;
    let (client, _) = w.client().await;
    let cookies = |h: &crate::kit::Http| {
        h.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let (staff_cookie, client_cookie) = (cookies(&staff), cookies(&client));
    let (status, doc) = call(&w, "get", "/api/openapi.json", &[], None).await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().expect("paths");
    let before = w.audit_count();
    let manager = [("Authorization", format!("Bearer {}", w.manager_token))];
    let (mut calls, mut admin_calls) = (0, 0);
    for (pattern, ops) in paths {
        if !pattern.starts_with("/api/admin/") {
            continue;
        }
        let path = w.fill(pattern);
        for method in ops.as_object().expect("operations").keys() {
            calls += 1;
            let what = format!("{method} {path}");
            for auth in [
                vec![],
                vec![("Cookie", staff_cookie.clone())],
                vec![("Cookie", client_cookie.clone())],
                vec![("Authorization", "Bearer licd_not-a-token".to_owned())],
            ] {
                let (status, body) = call(&w, method, &path, &auth, None).await;
                assert_eq!(status, 401, "{what} with {auth:?}: {body}");
                assert_eq!(body["error"]["code"], 2001, "{what}: {body}");
            }
            if let Some(body) = admin_only(&w, method, pattern) {
                admin_calls += 1;
                let (status, answer) = call(&w, method, &path, &manager, body.as_ref()).await;
                assert_eq!(status, 403, "manager token on {what}: {answer}");
                assert_eq!(answer["error"]["code"], 2003, "{what}: {answer}");
            } else {
                assert!(
                    MANAGER_MAY.contains(&(method.as_str(), pattern.as_str())),
                    "{what}: a new admin-API call; say here who may make it"
                );
                if method == "get" {
                    let (status, answer) = call(&w, method, &path, &manager, None).await;
                    assert_eq!(status, 200, "manager token on {what}: {answer}");
                }
            }
        }
    }
    assert!(
        calls >= 43 && admin_calls == 17,
        "{calls} calls, {admin_calls} admin"
    );
    assert_eq!(w.audit_count(), before, "a refused call changed nothing");
    // A distributor may not hold a token at all.
    let admin = [("Authorization", format!("Bearer {}", w.admin_token))];
    let (status, _) = call(
        &w,
        "post",
        "/api/admin/v1/tokens",
        &admin,
        Some(&json!({"name": "d", "role": "distributor"})),
    )
    .await;
    assert_eq!(status, 400);
    w.s.stop().await;
}
