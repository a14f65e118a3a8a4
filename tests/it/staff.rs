//! Distributors and staff users through the admin API: an admin token adds and lists
//! them; a user made without a password is mailed a single-use link that sets one, on
//! the staff UI's `/password/{token}` page; then the user signs in to the UI.
use crate::kit::TestServer;
use reqwest::Method;
use serde_json::{Value, json};

/// A manager token's `Authorization` header value.
async fn manager_auth(s: &TestServer) -> String {
    let t = s
        .admin(
            Method::POST,
            "/tokens",
            Some(json!({"name": "crm", "role": "manager"})),
        )
        .await
        .expect(201);
    format!("Bearer {}", t["token"].as_str().expect("token"))
}

/// A browser without JavaScript: keeps cookies, follows no redirects.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
}

struct Page {
    status: u16,
    location: String,
    body: String,
}

impl Page {
    /// The form's CSRF token (`<input type="hidden" name="csrf" value="…">`).
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field")
            + 19;
        let rest = &self.body[at..];
        rest[..rest.find('"').expect("end of value")].to_owned()
    }
}

impl Browser {
    fn new(s: &TestServer) -> Browser {
        let cert = s.running.as_ref().expect("running").cert_path.clone();
        let tls = licd::http::tls::client_config(Some(&cert), false).expect("tls");
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Browser {
            http,
            base: s.url.clone(),
            cookies: Vec::new(),
        }
    }

    async fn send(&mut self, rb: reqwest::RequestBuilder) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let r = rb
            .header("Cookie", cookie)
            .header("Accept-Language", "en")
            .send()
            .await
            .expect("request");
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap_or("");
            if let Some((k, val)) = v.split(';').next().unwrap_or("").split_once('=') {
                self.cookies.retain(|(n, _)| n != k);
                if !val.is_empty() && !v.contains("Max-Age=0") {
                    self.cookies.push((k.to_owned(), val.to_owned()));
                }
            }
        }
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Page {
            status,
            location,
            body: r.text().await.expect("body"),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let rb = self.http.get(format!("{}{path}", self.base));
        self.send(rb).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", licd::web::urlencode(k), licd::web::urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(rb).await
    }

    /// Signs in on the staff login form; answers where it went.
    async fn sign_in(&mut self, login: &str, password: &str) -> Page {
        let csrf = self.get("/login").await.csrf();
        self.post(
            "/login",
            &[("csrf", &csrf), ("login", login), ("password", password)],
        )
        .await
    }
}

/// The decoded text of every part of a mail (parts may be base64 or quoted-printable).
fn mail_text(data: &str) -> String {
    use base64::Engine;
    let data = data.replace("\r\n", "\n");
    let mut out = String::new();
    for part in data.split("\n--") {
        let (head, body) = part.split_once("\n\n").unwrap_or((part, ""));
        let head = head.to_ascii_lowercase();
        if head.contains("content-transfer-encoding: base64") {
            let clean: String = body
                .lines()
                .take_while(|l| !l.starts_with("--"))
                .flat_map(str::chars)
                .filter(|c| !c.is_whitespace())
                .collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(clean)
                .unwrap_or_default();
            out.push_str(&String::from_utf8_lossy(&bytes));
        } else {
            out.push_str(&body.replace("=\n", "").replace("=3D", "="));
        }
        out.push('\n');
    }
    out
}

/// The `/password/{token}` path in the newest link mail to `to`.
async fn mailed_link(s: &TestServer, to: &str) -> String {
    let mail = s.smtp.wait_for(to, 20).await.expect("a link mail");
    let text = mail_text(&mail.data);
    let at = text.find("/password/").unwrap_or_else(|| panic!("{text}"));
    let path: String = text[at..].chars().take(10 + 64).collect::<String>();
    assert!(
        path[10..].chars().all(|c| c.is_ascii_hexdigit()),
        "{path} in {text}"
    );
    path
}

fn has_no_hash(v: &Value) {
    let text = v.to_string();
    assert!(!text.contains("argon2"), "{text}");
    assert!(!text.contains("password"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributors_are_added_and_listed_with_an_admin_token() {
    let s = TestServer::start().await;
    let d = s
        .admin(
            Method::POST,
            "/distributors",
            Some(json!({"code": "South", "name": "Партнёр-Юг", "email": "south@partner.test"})),
        )
        .await
        .expect(201);
    assert_eq!(d["code"], "south", "codes are kept lower-cased");
    assert_eq!(d["name"], "Партнёр-Юг");
    assert_eq!(d["email"], "south@partner.test");
    assert!(d["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    let list = s
        .admin(Method::GET, "/distributors", None)
        .await
        .expect(200);
    assert_eq!(list, json!([d]));

    // The same code in any case: 409; bad fields: 400 naming them.
    s.admin(
        Method::POST,
        "/distributors",
        Some(json!({"code": "SOUTH", "name": "x", "email": ""})),
    )
    .await
    .expect_error(409, 2009);
    for (body, field) in [
        (
            json!({"code": "no spaces", "name": "x", "email": ""}),
            "code",
        ),
        (json!({"code": "n", "name": " ", "email": ""}), "name"),
        (json!({"code": "n", "name": "N", "email": "nope"}), "email"),
        (json!({"code": "n", "name": "N"}), "email"),
    ] {
        let r = s.admin(Method::POST, "/distributors", Some(body)).await;
        r.expect_error(400, 1001);
        assert!(r.body["error"]["details"][field].is_string(), "{}", r.body);
    }

    // Admin only.
    let auth = manager_auth(&s).await;
    let h = [("Authorization", auth.as_str())];
    s.send(
        Method::POST,
        "/api/admin/v1/distributors",
        Some(json!({"code": "north", "name": "N", "email": ""})),
        &h,
    )
    .await
    .expect_error(403, 2003);
    s.send(Method::GET, "/api/admin/v1/distributors", None, &h)
        .await
        .expect_error(403, 2003);
    let list = s
        .admin(Method::GET, "/distributors", None)
        .await
        .expect(200);
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    // Both calls are in the OpenAPI document.
    let doc = s.send(Method::GET, "/api/openapi.json", None, &[]).await;
    let paths = &doc.expect(200)["paths"];
    for p in ["/api/admin/v1/distributors", "/api/admin/v1/users"] {
        assert!(
            paths[p]["post"].is_object() && paths[p]["get"].is_object(),
            "{p}"
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_with_a_password_sign_in_and_never_show_a_hash() {
    let s = TestServer::start().await;
    let u = s
        .admin(
            Method::POST,
            "/users",
            Some(
                json!({"login": " Olga ", "role": "manager", "email": "olga@vendor.test",
                        "password": "long enough"}),
            ),
        )
        .await
        .expect(201);
    assert_eq!(
        (
            &u["login"],
            &u["role"],
            &u["email"],
            &u["distributor"],
            &u["disabled"]
        ),
        (
            &json!("olga"),
            &json!("manager"),
            &json!("olga@vendor.test"),
            &json!(""),
            &json!(false)
        )
    );
    has_no_hash(&u);
    let mut b = Browser::new(&s);
    let p = b.sign_in("olga", "long enough").await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (303, "/clients"),
        "{}",
        p.body
    );

    // A distributor user needs an existing distributor, and keeps its code.
    let r = s
        .admin(
            Method::POST,
            "/users",
            Some(
                json!({"login": "partner", "role": "distributor", "distributor": "south",
                        "password": "long enough"}),
            ),
        )
        .await;
    r.expect_error(404, 2004);
    assert_eq!(r.body["error"]["details"]["what"], "distributor");
    s.admin(
        Method::POST,
        "/distributors",
        Some(json!({"code": "south", "name": "South", "email": ""})),
    )
    .await
    .expect(201);
    let d = s
        .admin(
            Method::POST,
            "/users",
            Some(
                json!({"login": "partner", "role": "distributor", "distributor": "SOUTH",
                        "password": "long enough"}),
            ),
        )
        .await
        .expect(201);
    assert_eq!(
        (&d["distributor"], &d["email"]),
        (&json!("south"), &json!(""))
    );

    // A login taken (in any case): 409. Bad fields: 400, every one named.
    s.admin(
        Method::POST,
        "/users",
        Some(json!({"login": "OLGA", "role": "admin", "password": "long enough"})),
    )
    .await
    .expect_error(409, 2009);
    let r = s
        .admin(
            Method::POST,
            "/users",
            Some(json!({"login": "a b", "role": "boss", "email": "nope", "password": "short"})),
        )
        .await;
    r.expect_error(400, 1001);
    for field in ["login", "role", "email", "password"] {
        assert!(r.body["error"]["details"][field].is_string(), "{}", r.body);
    }
    let r = s
        .admin(
            Method::POST,
            "/users",
            Some(json!({"login": "nomail", "role": "manager"})),
        )
        .await;
    r.expect_error(400, 1001);
    assert!(
        r.body["error"]["details"]["email"].is_string(),
        "no password needs an e-mail: {}",
        r.body
    );
    s.admin(Method::POST, "/users", Some(json!({"role": "manager"})))
        .await
        .expect_error(400, 1001);

    let list = s.admin(Method::GET, "/users", None).await.expect(200);
    let logins: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|u| u["login"].as_str())
        .collect();
    assert_eq!(logins, ["olga", "partner"]);
    has_no_hash(&list);

    // Admin only.
    let auth = manager_auth(&s).await;
    let h = [("Authorization", auth.as_str())];
    s.send(
        Method::POST,
        "/api/admin/v1/users",
        Some(json!({"login": "sneaky", "role": "admin", "password": "long enough"})),
        &h,
    )
    .await
    .expect_error(403, 2003);
    s.send(Method::GET, "/api/admin/v1/users", None, &h)
        .await
        .expect_error(403, 2003);
    let list = s.admin(Method::GET, "/users", None).await.expect(200);
    assert_eq!(list.as_array().map(Vec::len), Some(2));

    // Audited as the token, in the change's commit.
    let tx = s.app().store.read().expect("read");
    let (entries, _) = licd::service::audit::page(&tx, "user_create", 0, 10).expect("audit");
    drop(tx);
    let seen: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.actor.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(seen, [("api:test", "partner"), ("api:test", "olga")]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_a_password_sets_one_through_a_single_use_mailed_link() {
    let s = TestServer::start().await;
    let u = s
        .admin(
            Method::POST,
            "/users",
            Some(json!({"login": "anna", "role": "manager", "email": "anna@vendor.test"})),
        )
        .await
        .expect(201);
    has_no_hash(&u);
    // No password works until the link sets one.
    let mut b = Browser::new(&s);
    assert_eq!(b.sign_in("anna", "").await.status, 401);
    assert_eq!(b.sign_in("anna", "anything at all").await.status, 401);

    let path = mailed_link(&s, "anna@vendor.test").await;
    let mail = s.smtp.wait_for("anna@vendor.test", 1).await.expect("mail");
    assert_eq!(mail.to, ["anna@vendor.test"]);
    assert!(mail_text(&mail.data).contains("anna"));

    let form = b.get(&path).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("anna"));
    let csrf = form.csrf();
    // Too short, or two different passwords: the form again, the link still live.
    for (pw, again) in [("short", "short"), ("long enough 1", "long enough 2")] {
        let p = b
            .post(
                &path,
                &[("csrf", &csrf), ("password", pw), ("password2", again)],
            )
            .await;
        assert_eq!(p.status, 422, "{}", p.body);
    }
    let p = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("password", "anna's own password"),
                ("password2", "anna's own password"),
            ],
        )
        .await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (303, "/login?done=password"),
        "{}",
        p.body
    );
    assert!(b.get(&p.location).await.body.contains("Password set"));

    // The link is spent: a clear page, for a view and for another post.
    let again = b.get(&path).await;
    assert_eq!(again.status, 410);
    assert!(
        again.body.contains("This link no longer works"),
        "{}",
        again.body
    );
    let csrf = b.get("/login").await.csrf();
    let p = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("password", "someone else's"),
                ("password2", "someone else's"),
            ],
        )
        .await;
    assert_eq!(p.status, 410);
    assert_eq!(
        b.get(&format!("/password/{}", "0".repeat(64))).await.status,
        410
    );

    let p = b.sign_in("anna", "anna's own password").await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (303, "/clients"),
        "{}",
        p.body
    );
    assert_eq!(
        Browser::new(&s)
            .sign_in("anna", "someone else's")
            .await
            .status,
        401,
        "the second post changed nothing"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_page_adds_and_changes_the_email() {
    let s = TestServer::start().await;
    s.admin(
        Method::POST,
        "/users",
        Some(json!({"login": "root", "role": "admin", "password": "long enough"})),
    )
    .await
    .expect(201);
    let mut b = Browser::new(&s);
    assert_eq!(b.sign_in("root", "long enough").await.status, 303);
    let csrf = b.get("/users").await.csrf();

    // A new user without a password needs an e-mail, and is mailed the link.
    let p = b
        .post(
            "/users",
            &[("csrf", &csrf), ("login", "mila"), ("role", "manager")],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("Required without a password"), "{}", p.body);
    let p = b
        .post(
            "/users",
            &[
                ("csrf", &csrf),
                ("login", "mila"),
                ("role", "manager"),
                ("email", "mila@vendor.test"),
                ("password", ""),
            ],
        )
        .await;
    assert_eq!((p.status, p.location.as_str()), (303, "/users?done=link"));
    mailed_link(&s, "mila@vendor.test").await;
    let page = b.get("/users?done=link").await;
    assert!(page.body.contains("mila@vendor.test") && page.body.contains("no password yet"));

    // The change form edits the e-mail (a bad one is refused), audited.
    let change = |email: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("role", "manager".to_owned()),
            ("distributor", String::new()),
            ("email", email.to_owned()),
        ]
    };
    let form = change("not an address");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(b.post("/users/mila", &form).await.status, 400);
    let form = change("mila@other.test");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = b.post("/users/mila", &form).await;
    assert_eq!((p.status, p.location.as_str()), (303, "/users?done=saved"));
    let list = s.admin(Method::GET, "/users", None).await.expect(200);
    assert_eq!(list[0]["login"], "mila");
    assert_eq!(list[0]["email"], "mila@other.test");
    let tx = s.app().store.read().expect("read");
    let (entries, _) = licd::service::audit::page(&tx, "user_change", 0, 10).expect("audit");
    drop(tx);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor, "root");
    assert!(
        entries[0].detail.contains("e-mail mila@other.test"),
        "{:?}",
        entries[0]
    );
    s.stop().await;
}
