//! Signing-key rotation: answers signed with the new key at once, the previous key
//! signing beside it (`Licd-Signature-Previous`) and listed until its overlap ends,
//! across a restart, from the admin API and from `licd signing rotate`.
use crate::kit::TestServer;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use reqwest::Method;
use serde_json::{Value, json};

fn verifies(public_b64: &str, body: &[u8], sig_b64: &str) -> bool {
    let Ok(pk) = B64.decode(public_b64) else {
        return false;
    };
    let Ok(pk): Result<[u8; 32], _> = pk.try_into() else {
        return false;
    };
    let (Ok(vk), Ok(sig)) = (
        VerifyingKey::from_bytes(&pk),
        B64.decode(sig_b64)
            .map_err(|_| ())
            .and_then(|s| Signature::from_slice(&s).map_err(|_| ())),
    ) else {
        return false;
    };
    vk.verify(body, &sig).is_ok()
}

/// A raw GET of a signed call: body bytes and the signature headers.
async fn raw(s: &TestServer, path: &str) -> (Vec<u8>, String, Option<String>, String) {
    let r = s
        .http
        .get(format!("{}/api/v1{path}", s.url))
        .send()
        .await
        .expect("get");
    let h = r.headers().clone();
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = r.bytes().await.expect("body").to_vec();
    (
        body,
        get("licd-signature").expect("signature"),
        get("licd-signature-previous"),
        get("licd-key-id").expect("key id"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_keeps_apps_that_pinned_the_old_key_verifying_for_the_overlap() {
    let s = TestServer::start().await;
    let before = s.api(Method::GET, "/signing-key", None).await.expect(200);
    let old = before["public_key"].as_str().expect("key").to_owned();
    assert_eq!(before["keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(before["keys"][0]["status"], "current");
    let (_, _, previous, id) = raw(&s, "/signing-key").await;
    assert!(previous.is_none(), "no previous key before a rotation");
    assert_eq!(before["key_id"], id.as_str());

    // Only an admin token may rotate; the overlap is checked.
    s.admin(
        Method::POST,
        "/signing-key/rotate",
        Some(json!({"overlap_days": 0})),
    )
    .await
    .expect_error(400, 1001);
    let new = s
        .admin(
            Method::POST,
            "/signing-key/rotate",
            Some(json!({"overlap_days": 30})),
        )
        .await
        .expect(200);
    let new_key = new["public_key"].as_str().expect("key").to_owned();
    assert_ne!(new_key, old);

    // Answers: Licd-Signature by the new key, Licd-Signature-Previous by the old one.
    let (body, sig, previous, id) = raw(&s, "/signing-key").await;
    assert!(verifies(&new_key, &body, &sig), "signed with the new key");
    assert!(!verifies(&old, &body, &sig));
    let previous = previous.expect("the previous key signs beside it");
    assert!(
        verifies(&old, &body, &previous),
        "a pinned old key verifies"
    );
    assert_eq!(id, new["key_id"].as_str().expect("id"));
    let list: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(list["public_key"], new_key.as_str());
    assert_eq!(list["keys"][0]["status"], "current");
    assert_eq!(list["keys"][1]["status"], "previous");
    assert_eq!(list["keys"][1]["public_key"], old.as_str());
    assert!(list["keys"][1]["valid_until"].as_str().is_some());
    // Errors are signed the same way.
    let (body, sig, previous, _) = raw(&s, "/keys/LIC-AAAAA-BBBBB-CCCCC-DDDDD").await;
    assert!(verifies(&new_key, &body, &sig));
    assert!(verifies(&old, &body, &previous.expect("previous")));

    // The rotation is audited; a restart keeps both keys.
    let (entries, _) =
        licd::service::audit::page(&s.app().store.read().expect("read"), "signing", 0, 50)
            .expect("audit");
    assert!(
        entries.iter().any(|e| e.action == "signing_rotate"),
        "audited"
    );
    let dir = s.stop_keep().await;
    let s = TestServer::start_in(dir, |_| {}).await;
    let (body, sig, previous, _) = raw(&s, "/signing-key").await;
    assert!(verifies(&new_key, &body, &sig));
    assert!(verifies(&old, &body, &previous.expect("previous")));

    // After the overlap the old key neither signs nor is listed.
    s.clock.advance(time::Duration::days(31));
    let (body, sig, previous, _) = raw(&s, "/signing-key").await;
    assert!(verifies(&new_key, &body, &sig));
    assert!(previous.is_none());
    let list: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(list["keys"].as_array().map(Vec::len), Some(1));

    // With the server stopped, `licd signing rotate` does the same.
    let dir = s.stop_keep().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_licd"))
        .args(["signing", "rotate", "--overlap-days", "5", "--data"])
        .arg(dir.path())
        .output()
        .expect("licd signing rotate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let third = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    assert_ne!(third, new_key);
    let s = TestServer::start_in(dir, |_| {}).await;
    let (body, sig, previous, _) = raw(&s, "/signing-key").await;
    assert!(verifies(&third, &body, &sig));
    assert!(verifies(&new_key, &body, &previous.expect("previous")));
    s.stop().await;
}
