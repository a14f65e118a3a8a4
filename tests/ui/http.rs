//! Browser-less checks over HTTPS: cookies, CSRF, headers, lockout, roles, CSV.
use crate::kit::{Http, Server};
use licd::domain::Role;
use licd::service::clients::{self, ClientInput};

#[tokio::test]
async fn sign_in_sets_strict_cookies_and_every_form_needs_its_csrf_token() {
    let s = Server::start().await;
    s.user("admin", Role::Admin, "").await;
    let mut h = Http::new(&s);

    let root = h.get("/").await;
    assert_eq!((root.status, root.location()), (303, "/login"));
    let clients = h.get("/clients").await;
    assert_eq!((clients.status, clients.location()), (303, "/login"));

    let form = h.get("/login").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("Вход"), "Russian from Accept-Language");
    let csp = form
        .headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert_eq!(csp, licd::http::ui::UI_CSP);
    assert!(!csp.contains("unsafe-inline"));
    let pre = form
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    for flag in ["Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(pre.contains(flag), "{pre}");
    }

    // No token, a wrong token: refused with a page that says why.
    let p = h
        .post("/login", &[("login", "admin"), ("password", "password123")])
        .await;
    assert_eq!(p.status, 403);
    assert!(p.body.contains("Форма устарела"), "{}", p.body);
    let p = h
        .post(
            "/login",
            &[
                ("csrf", "nope"),
                ("login", "admin"),
                ("password", "password123"),
            ],
        )
        .await;
    assert_eq!(p.status, 403);

    let p = h.login("admin", "password123").await;
    let cookie = p
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("licd_session="))
        .expect("session cookie")
        .to_owned();
    for flag in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }

    let list = h.get("/clients").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("Клиенты"));
    let csrf = list.csrf();
    let bad = h.post("/clients/new", &[("company", "Без токена")]).await;
    assert_eq!(bad.status, 403);
    let bad = h
        .post("/clients/new", &[("csrf", "x"), ("company", "Чужой токен")])
        .await;
    assert_eq!(bad.status, 403);
    assert!(
        clients::list(
            s.app(),
            &clients::ListQuery {
                q: None,
                crm_id1: None,
                crm_id2: None,
                limit: 10,
                offset: 0
            }
        )
        .expect("list")
        .0
        .is_empty()
    );
    let ok = h
        .post("/clients/new", &[("csrf", &csrf), ("company", "С токеном")])
        .await;
    assert_eq!(ok.status, 303);
    assert!(ok.location().starts_with("/clients/"));

    // User data is escaped.
    let evil = h
        .post(
            "/clients/new",
            &[("csrf", &csrf), ("company", "<script>alert(1)</script>")],
        )
        .await;
    let card = h.get(evil.location()).await;
    assert!(card.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!card.body.contains("<script>"));

    // Sign out ends the session on the server.
    let out = h.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!((out.status, out.location()), (303, "/login"));
    let after = h.get("/clients").await;
    assert_eq!((after.status, after.location()), (303, "/login"));
    s.stop().await;
}

#[tokio::test]
async fn repeated_failures_lock_the_login_out() {
    let s = Server::start().await;
    s.user("admin", Role::Admin, "").await;
    let mut h = Http::new(&s);
    let csrf = h.get("/login").await.csrf();
    for _ in 0..licd::service::sessions::FREE_FAILURES {
        let p = h
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("login", "admin"),
                    ("password", "wrong-password"),
                ],
            )
            .await;
        assert_eq!(p.status, 401);
        assert!(p.body.contains("Неверный логин или пароль."));
    }
    // Now even the right password waits.
    let csrf = h.get("/login").await.csrf();
    let p = h
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("login", "admin"),
                ("password", "password123"),
            ],
        )
        .await;
    assert_eq!(p.status, 429, "{}", p.body);
    assert!(p.body.contains("Слишком много неудачных попыток"));
    s.stop().await;
}

#[tokio::test]
async fn roles_are_enforced_on_every_page_and_action() {
    let s = Server::start().await;
    s.user("admin", Role::Admin, "").await;
    s.user("man", Role::Manager, "").await;
    s.user("dist", Role::Distributor, "south").await;
    let mine = clients::create(
        s.app(),
        ClientInput {
            company: Some("Свой".into()),
            distributor: Some("south".into()),
            ..Default::default()
        },
    )
    .await
    .expect("client")
    .id;
    let other = clients::create(
        s.app(),
        ClientInput {
            company: Some("Чужой".into()),
            ..Default::default()
        },
    )
    .await
    .expect("client")
    .id;

    let mut m = Http::new(&s);
    m.login("man", "password123").await;
    let csrf = m.get("/clients").await.csrf();
    for page in [
        "/users",
        "/tokens",
        "/settings",
        "/audit",
        "/distributors",
        "/distributors/south",
        "/products/P",
    ] {
        let p = m.get(page).await;
        assert_eq!(p.status, 403, "manager on {page}");
        assert!(p.body.contains("Доступ запрещён"), "{page}");
    }
    for (action, form) in [
        (
            "/users",
            vec![
                ("login", "x1"),
                ("role", "admin"),
                ("password", "password123"),
            ],
        ),
        ("/tokens", vec![("name", "t"), ("role", "admin")]),
        (
            "/settings",
            vec![
                ("vendor_name", "X"),
                ("regnum_prefix", "X"),
                ("offline_license_days", "7"),
                ("mail_from", "a@b.c"),
            ],
        ),
        (
            "/products",
            vec![("code", "P"), ("name", "P"), ("features", "1; a; user")],
        ),
        ("/products/P", vec![("name", "P")]),
        ("/products/P/delete", vec![]),
        (
            "/distributors/south",
            vec![("name", "S"), ("email", "s@s.test")],
        ),
        ("/distributors/south/delete", vec![]),
    ] {
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend(form);
        let p = m.post(action, &f).await;
        assert_eq!(p.status, 403, "manager posting {action}");
    }
    assert!(m.get("/coupons").await.status == 200);
    assert!(m.get(&format!("/clients/{other}")).await.status == 200);

    let mut d = Http::new(&s);
    d.login("dist", "password123").await;
    let list = d.get("/clients").await;
    assert!(list.body.contains("Свой") && !list.body.contains("Чужой"));
    let csrf = list.csrf();
    assert_eq!(d.get(&format!("/clients/{mine}")).await.status, 200);
    assert_eq!(d.get(&format!("/clients/{other}")).await.status, 403);
    let p = d
        .post(
            &format!("/clients/{other}"),
            &[("csrf", &csrf), ("company", "Захвачен")],
        )
        .await;
    assert_eq!(p.status, 403);
    let p = d
        .post(&format!("/clients/{other}/keys"), &[("csrf", &csrf)])
        .await;
    assert_eq!(p.status, 403);
    // A distributor cannot move its client to someone else.
    let p = d
        .post(
            &format!("/clients/{mine}"),
            &[
                ("csrf", &csrf),
                ("company", "Свой"),
                ("distributor", "north"),
                ("manager", "man"),
            ],
        )
        .await;
    assert_eq!(p.status, 303);
    let tx = s.app().store.read().expect("read");
    let c = clients::load(&tx, mine).expect("load").expect("client");
    assert_eq!((c.distributor.as_str(), c.manager.as_str()), ("south", ""));
    drop(tx);
    for page in ["/coupons", "/products", "/users", "/coupons.csv"] {
        assert_eq!(d.get(page).await.status, 403, "distributor on {page}");
    }
    assert_eq!(
        d.post(
            "/clients/merge",
            &[
                ("csrf", &csrf),
                ("into", &mine.to_string()),
                ("from", &other.to_string())
            ]
        )
        .await
        .status,
        403
    );
    assert_eq!(
        d.post(&format!("/clients/{mine}/delete"), &[("csrf", &csrf)])
            .await
            .status,
        403
    );
    s.stop().await;
}

#[tokio::test]
async fn the_setup_link_works_once_and_only_before_staff_exist() {
    let s = Server::start().await;
    let mut h = Http::new(&s);
    let token = licd::service::sessions::issue_setup_token(s.app())
        .await
        .expect("token");
    assert_eq!(h.get("/setup/not-the-token").await.status, 404);
    let form = h.get(&format!("/setup/{token}")).await;
    assert_eq!(form.status, 200);
    let csrf = form.csrf();
    let short = h
        .post(
            &format!("/setup/{token}"),
            &[
                ("csrf", &csrf),
                ("login", "root"),
                ("password", "short"),
                ("password2", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, 400);
    assert!(short.body.contains("Не короче 8 символов"));
    assert!(
        short.body.contains("value=\"root\""),
        "the login typed is kept"
    );
    let ok = h
        .post(
            &format!("/setup/{token}"),
            &[
                ("csrf", &csrf),
                ("login", "root"),
                ("password", "long enough"),
                ("password2", "long enough"),
            ],
        )
        .await;
    assert_eq!((ok.status, ok.location()), (303, "/login"));
    assert_eq!(h.get(&format!("/setup/{token}")).await.status, 404);
    assert!(
        licd::service::sessions::issue_setup_token(s.app())
            .await
            .is_err()
    );
    h.login("root", "long enough").await;
    assert!(h.get("/users").await.body.contains("root"));
    s.stop().await;
}

#[tokio::test]
async fn coupons_export_as_csv() {
    let s = Server::start().await;
    s.user("admin", Role::Admin, "").await;
    licd::service::products::create(
        s.app(),
        serde_json::from_value(serde_json::json!({"code": "P", "name": "P", "features": [{"number": 7, "name": "F", "unit": "user"}]})).expect("product"),
    )
    .await
    .expect("product");
    let batch = licd::service::coupons::create_batch(
        s.app(),
        serde_json::from_value(serde_json::json!({"count": 3, "items": [{"product": "P", "feature": 7, "seats": 2, "days": 30}]})).expect("batch"),
    )
    .await
    .expect("batch");
    let mut h = Http::new(&s);
    h.login("admin", "password123").await;
    // A batch with no feature chosen is refused; what was typed stays.
    let csrf = h.get("/coupons").await.csrf();
    let bad = h
        .post(
            "/coupons",
            &[
                ("csrf", &csrf),
                ("seats:P:7", "3"),
                ("days", "45"),
                ("count", "12"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("Выберите хотя бы одну функцию"));
    assert!(
        bad.body.contains("value=\"45\"")
            && bad.body.contains("value=\"12\"")
            && bad.body.contains("value=\"3\"")
    );
    let bad = h
        .post(
            "/coupons",
            &[
                ("csrf", &csrf),
                ("feature", "P:7"),
                ("seats:P:7", "0"),
                ("days", ""),
                ("count", "2"),
            ],
        )
        .await;
    assert!(
        bad.body
            .contains("Мест — не меньше 1 для каждой выбранной функции")
    );
    let csv = h.get(&format!("/coupons.csv?batch={}", batch.batch)).await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .starts_with("text/csv")
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "coupon,batch,state,regnum,activated_at,created_at,items"
    );
    assert_eq!(lines.len(), 4);
    for code in &batch.codes {
        assert!(csv.body.contains(code.as_str()));
    }
    assert!(lines[1].contains(",new,") && lines[1].contains("P/7x2/30d"));
    s.stop().await;
}

#[tokio::test]
async fn changing_the_own_password_ends_other_sessions() {
    let s = Server::start().await;
    s.user("man", Role::Manager, "").await;
    let mut a = Http::new(&s);
    let mut b = Http::new(&s);
    a.login("man", "password123").await;
    b.login("man", "password123").await;
    let csrf = a.get("/account").await.csrf();
    let wrong = a
        .post(
            "/account/password",
            &[
                ("csrf", &csrf),
                ("current", "nope"),
                ("new", "new password 1"),
                ("new2", "new password 1"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("Неверный пароль"));
    let differ = a
        .post(
            "/account/password",
            &[
                ("csrf", &csrf),
                ("current", "password123"),
                ("new", "new password 1"),
                ("new2", "other"),
            ],
        )
        .await;
    assert!(differ.body.contains("Пароли не совпадают"));
    let ok = a
        .post(
            "/account/password",
            &[
                ("csrf", &csrf),
                ("current", "password123"),
                ("new", "new password 1"),
                ("new2", "new password 1"),
            ],
        )
        .await;
    assert_eq!((ok.status, ok.location()), (303, "/account?done=password"));
    assert_eq!(a.get("/clients").await.status, 200, "this session stays");
    assert_eq!(
        b.get("/clients").await.location(),
        "/login",
        "the other session ended"
    );
    let mut c = Http::new(&s);
    c.login("man", "new password 1").await;
    s.stop().await;
}

#[tokio::test]
async fn the_session_monitor_pages_and_filters_every_lease() {
    use serde_json::json;
    let s = Server::start().await;
    s.user("admin", Role::Admin, "").await;
    s.user("dist", Role::Distributor, "Other").await;
    let app = s.app();
    licd::service::products::create(
        app,
        serde_json::from_value(json!({"code": "P", "name": "P", "heartbeat_s": 600,
            "features": [{"number": 9, "name": "F", "unit": "session"}]}))
        .expect("product"),
    )
    .await
    .expect("product");
    let c = licd::service::clients::create(
        app,
        serde_json::from_value(json!({"company": "Сеансы"})).expect("client"),
    )
    .await
    .expect("client");
    let regnum = licd::service::keys::create_for_client(app, c.id)
        .await
        .expect("key");
    licd::service::keys::add_grant(
        app,
        &regnum,
        serde_json::from_value(json!({"product": "P", "feature": 9, "seats": 300})).expect("grant"),
    )
    .await
    .expect("grant");
    // 230 leases, on hosts h0, h1, h2 in turn.
    for i in 0..230 {
        licd::service::leases::capture(
            app,
            serde_json::from_value(json!({"regnum": regnum, "feature": 9,
                "host": format!("h{}", i % 3), "session": format!("s{i}")}))
            .expect("capture"),
        )
        .await
        .expect("captured");
    }
    let mut h = Http::new(&s);
    h.login("admin", "password123").await;
    let rows = |body: &str| body.matches("name=\"lease\" value=\"").count();
    let first = h.get("/sessions").await;
    assert_eq!(first.status, 200);
    assert_eq!(rows(&first.body), 200, "a page holds 200 rows");
    assert!(first.body.contains("1–200"));
    assert!(first.body.contains("/sessions?offset=200"), "a next link");
    let second = h.get("/sessions?offset=200").await;
    assert_eq!(rows(&second.body), 30, "the rest on the next page");
    assert!(second.body.contains("201–230"));
    assert!(
        second.body.contains("/sessions?offset=0"),
        "a previous link"
    );
    // Filters look at every lease, not only at a first batch.
    let by_host = h.get("/sessions?host=h1").await;
    assert_eq!(rows(&by_host.body), 77);
    let by_client = h.get(&format!("/sessions?client={}", c.id)).await;
    assert_eq!(rows(&by_client.body), 200);
    let by_name = h
        .get("/sessions?client=%D1%81%D0%B5%D0%B0%D0%BD%D1%81%D1%8B&host=h2")
        .await;
    assert_eq!(
        rows(&by_name.body),
        76,
        "by client name (any case) and host"
    );
    let nobody = h.get("/sessions?client=999999").await;
    assert_eq!(rows(&nobody.body), 0);
    // A distributor sees only its own clients' sessions.
    let mut d = Http::new(&s);
    d.login("dist", "password123").await;
    let theirs = d.get("/sessions").await;
    assert_eq!(theirs.status, 200);
    assert_eq!(rows(&theirs.body), 0);
    s.stop().await;
}
