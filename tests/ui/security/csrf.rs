//! CSRF on every form the router serves: a signed-in session's cookie without the
//! form's token, or with a wrong one (another session's), is refused and changes nothing.
use super::World;
use crate::kit::{Http, Page};
use licd::http::ui::{Access, routes};

fn expired(p: &Page, what: &str) {
    assert_eq!(p.status, 403, "{what}: {}", p.body);
    assert!(
        p.body.contains("Форма устарела") || p.body.contains("The form has expired"),
        "{what}: {}",
        p.body
    );
}

/// A release upload as the product page sends it, with `csrf` when given.
fn upload(csrf: Option<&str>) -> reqwest::multipart::Form {
    let mut f = reqwest::multipart::Form::new();
    if let Some(c) = csrf {
        f = f.text("csrf", c.to_owned());
    }
    f.text("product", "CRM")
        .text("version", "9.9.9")
        .text("channel", "stable")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"evil".to_vec()).file_name("CRM-9.9.9.zip"),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_needs_its_sessions_csrf_token() {
    let w = World::make().await;
    let (mut admin, _) = w.staff("root").await;
    let (_, other_staff_csrf) = w.staff("mgr").await;
    let (mut client, client_csrf) = w.client().await;
    let (_, other_client_csrf) = w.client().await;
    assert_ne!(client_csrf, other_client_csrf);
    let before = w.audit_count();
    let releases = licd::service::releases::all(&w.s.app().store.read().expect("read"))
        .expect("releases")
        .len();
    let mut checked = 0;
    for r in routes().filter(|r| r.method == "POST") {
        let path = w.fill(r.path);
        let what = format!("POST {path}");
        // Forms that change things: staff, and a cabinet client; the pre-sign-in forms
        // use a double-submit cookie, so here the caller holds that cookie.
        let (h, wrong): (&mut Http, &str) = match r.access {
            Access::Cabinet => (&mut client, &other_client_csrf),
            Access::Public => {
                let mut fresh = Http::new(&w.s);
                let pre = fresh.get("/login").await.csrf();
                for form in [vec![], vec![("csrf", "f".repeat(64))]] {
                    let form: Vec<(&str, &str)> =
                        form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    expired(&fresh.post(&path, &form).await, &what);
                }
                // The token without its cookie is no better.
                let mut bare = Http::new(&w.s);
                expired(&bare.post(&path, &[("csrf", &pre)]).await, &what);
                checked += 1;
                continue;
            }
            _ => (&mut admin, &other_staff_csrf),
        };
        if r.path == "/releases" {
            for csrf in [None, Some(wrong)] {
                expired(&h.post_multipart(&path, upload(csrf)).await, &what);
            }
        } else {
            expired(&h.post(&path, &[]).await, &what);
            expired(&h.post(&path, &[("csrf", wrong)]).await, &what);
            expired(&h.post(&path, &[("csrf", "")]).await, &what);
        }
        checked += 1;
    }
    assert!(checked > 50, "{checked} forms");
    // Nothing changed: no audit entry, both sessions alive (sign-out was refused too),
    // the client, key, release and tokens as they were.
    assert_eq!(w.audit_count(), before, "a refused form changed nothing");
    assert_eq!(admin.get("/clients").await.status, 200);
    assert_eq!(client.get("/cabinet/keys").await.status, 200);
    let tx = w.s.app().store.read().expect("read");
    let c = licd::service::clients::load(&tx, w.f.client)
        .expect("load")
        .expect("client");
    assert_eq!(c.company, "ООО Проверка");
    let k = licd::service::keys::load(&tx, &w.f.regnum)
        .expect("key")
        .expect("key");
    assert!(!k.blocked);
    assert_eq!(
        licd::service::releases::all(&tx).expect("releases").len(),
        releases
    );
    drop(tx);
    let tokens = admin.get("/tokens").await;
    assert!(tokens.body.contains("crm-mgr"), "the token is not revoked");
    assert!(!tokens.body.contains("отозван"), "{}", tokens.body);
    w.s.stop().await;
}
