//! Role isolation over every UI route of the router's table: each kind of caller is
//! refused exactly where the table says, and reaches the page where it says it may.
use super::World;
use crate::kit::Http;
use licd::http::ui::{Access, Route, routes};

/// What a caller who may not use a route gets.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Refused {
    /// 303 to the back office's sign-in (no staff session).
    StaffSignIn,
    /// 303 to the cabinet's sign-in (no cabinet session).
    CabinetSignIn,
    /// 403 "Доступ запрещён" (signed in, role too low).
    Forbidden,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Nobody,
    Client,
    Distributor,
    Manager,
    Admin,
}

/// The table's promise: may `who` use a route of `access`, and if not, what they get.
fn verdict(who: Who, access: Access) -> Result<(), Refused> {
    use Access as A;
    use Who as W;
    match (who, access) {
        (_, A::Public) => Ok(()),
        (W::Client, A::Cabinet) => Ok(()),
        (_, A::Cabinet) => Err(Refused::CabinetSignIn),
        (W::Nobody | W::Client, _) => Err(Refused::StaffSignIn),
        (W::Distributor, A::Manager | A::Admin) => Err(Refused::Forbidden),
        (W::Manager, A::Admin) => Err(Refused::Forbidden),
        _ => Ok(()),
    }
}

async fn request(h: &mut Http, r: &Route, path: &str, csrf: &str) -> crate::kit::Page {
    match r.method {
        "GET" => h.get(path).await,
        // The caller's own, valid token: what stops the request must be the role.
        _ => h.post(path, &[("csrf", csrf)]).await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ui_route_refuses_whom_its_table_entry_refuses() {
    let w = World::make().await;
    let (admin, admin_csrf) = w.staff("root").await;
    let (manager, manager_csrf) = w.staff("mgr").await;
    let (distributor, distributor_csrf) = w.staff("dist").await;
    let (client, client_csrf) = w.client().await;
    let mut callers = [
        (Who::Nobody, Http::new(&w.s), String::new()),
        (Who::Client, client, client_csrf),
        (Who::Distributor, distributor, distributor_csrf),
        (Who::Manager, manager, manager_csrf),
        (Who::Admin, admin, admin_csrf),
    ];
    let grants = |w: &World| {
        let tx = w.s.app().store.read().expect("read");
        let k = licd::service::keys::load(&tx, &w.f.regnum)
            .expect("key")
            .expect("key");
        (k.blocked, k.grants.len())
    };
    let key_before = grants(&w);
    let before = w.audit_count();
    let mut refusals = 0;
    let mut reached = 0;
    for r in routes() {
        let path = w.fill(r.path);
        for (who, h, csrf) in callers.iter_mut() {
            let want = verdict(*who, r.access);
            if want.is_ok() && (r.method == "POST" || r.access == Access::Public) {
                continue; // allowed changes are the feature tests' business
            }
            let p = request(h, r, &path, csrf).await;
            let what = format!("{who:?} {} {path} ({:?})", r.method, r.access);
            match want {
                Err(Refused::StaffSignIn) => {
                    assert_eq!((p.status, p.location()), (303, "/login"), "{what}")
                }
                Err(Refused::CabinetSignIn) => {
                    assert_eq!((p.status, p.location()), (303, "/cabinet/login"), "{what}")
                }
                Err(Refused::Forbidden) => {
                    assert_eq!(p.status, 403, "{what}: {}", p.body);
                    assert!(p.body.contains("Доступ запрещён"), "{what}: {}", p.body);
                }
                Ok(()) => {
                    assert_eq!(p.status, 200, "{what} is allowed: {}", p.body);
                    reached += 1;
                    continue;
                }
            }
            refusals += 1;
        }
    }
    assert!(
        refusals > 200 && reached > 60,
        "{refusals} refusals, {reached} pages"
    );
    // Nothing was recorded but the admin's own download of the backup.
    assert_eq!(
        w.audited_since(before),
        ["backup_download"],
        "a refused request changed nothing"
    );
    // Representative objects are as they were.
    let tx = w.s.app().store.read().expect("read");
    let c = licd::service::clients::load(&tx, w.f.client)
        .expect("load")
        .expect("the client is still there");
    assert_eq!(c.company, "ООО Проверка");
    drop(tx);
    assert_eq!(grants(&w), key_before, "the key is as it was");
    w.s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_of_one_realm_is_nothing_in_the_other() {
    let w = World::make().await;
    let (mut staff, _) = w.staff("root").await;
    let (mut client, _) = w.client().await;
    let staff_secret = staff
        .cookies
        .iter()
        .find(|(k, _)| k == "licd_session")
        .map(|(_, v)| v.clone())
        .expect("staff cookie");
    let cabinet_secret = client
        .cookies
        .iter()
        .find(|(k, _)| k == "licd_cabinet")
        .map(|(_, v)| v.clone())
        .expect("cabinet cookie");
    // The secret of one realm under the other realm's cookie name.
    let mut forged_staff = Http::new(&w.s);
    forged_staff
        .cookies
        .push(("licd_session".into(), cabinet_secret.clone()));
    let mut forged_client = Http::new(&w.s);
    forged_client
        .cookies
        .push(("licd_cabinet".into(), staff_secret.clone()));
    for r in routes().filter(|r| r.method == "GET") {
        let path = w.fill(r.path);
        match r.access {
            Access::Staff | Access::Manager | Access::Admin => {
                for h in [&mut client, &mut forged_staff] {
                    let p = h.get(&path).await;
                    assert_eq!((p.status, p.location()), (303, "/login"), "{path}");
                }
            }
            Access::Cabinet => {
                for h in [&mut staff, &mut forged_client] {
                    let p = h.get(&path).await;
                    assert_eq!((p.status, p.location()), (303, "/cabinet/login"), "{path}");
                }
            }
            Access::Public => {}
        }
    }
    // A path of neither table is a 404 page of its realm, with the UI's headers.
    for (h, path) in [
        (&mut staff, "/no-such-page"),
        (&mut client, "/cabinet/no-such-page"),
    ] {
        let p = h.get(path).await;
        assert_eq!(p.status, 404, "{path}");
        assert_eq!(
            p.headers["content-security-policy"],
            licd::http::ui::UI_CSP,
            "{path}"
        );
    }
    // Both sessions still work in their own realm.
    assert_eq!(staff.get("/clients").await.status, 200);
    assert_eq!(client.get("/cabinet/keys").await.status, 200);
    w.s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributor_reaches_nothing_of_another_distributors_clients() {
    let w = World::make().await;
    let s = &w.s;
    // A second distributor, with a client and a key of its own.
    s.user("dist2", licd::domain::Role::Distributor, "north")
        .await;
    let own = licd::service::clients::create(
        s.app(),
        licd::service::clients::ClientInput {
            company: Some("Свой у севера".into()),
            distributor: Some("north".into()),
            ..Default::default()
        },
    )
    .await
    .expect("client")
    .id;
    let own_key = licd::service::keys::create_for_client(s.app(), own)
        .await
        .expect("key");
    let (mut d, csrf) = w.staff("dist2").await;
    let before = w.audit_count();
    let mut tried = 0;
    // Every staff route about one client or key: the other distributor's are refused.
    for r in routes().filter(|r| r.access == Access::Staff) {
        if !(r.path.contains("{id}") || r.path.contains("{regnum}")) {
            continue;
        }
        let path = w.fill(r.path);
        let p = request(&mut d, r, &path, &csrf).await;
        assert_eq!(p.status, 403, "dist2 {} {path}: {}", r.method, p.body);
        assert!(p.body.contains("Доступ запрещён"), "{path}");
        tried += 1;
    }
    assert!(tried >= 8, "{tried}");
    // The session monitor's "end" names a key and a lease: neither may be another's.
    let live = |w: &World| {
        licd::service::leases::list(w.s.app(), Some(&w.f.regnum), 10)
            .expect("leases")
            .iter()
            .any(|l| l.lease == w.lease)
    };
    assert!(live(&w));
    for regnum in [w.f.regnum.as_str(), own_key.as_str()] {
        let p = d
            .post(
                "/sessions/end",
                &[
                    ("csrf", &csrf),
                    ("regnum", regnum),
                    ("host", "no-such-host"),
                    ("lease", &w.lease),
                ],
            )
            .await;
        assert_eq!(
            p.status, 403,
            "ending another's lease via {regnum}: {}",
            p.body
        );
    }
    assert!(
        live(&w),
        "the other distributor's client still holds its seat"
    );
    assert_eq!(w.audit_count(), before);
    w.s.stop().await;
}
