//! Stored XSS in a real browser: a hostile payload, unique per field, in every field a
//! person (staff, a client, a protected app) can fill; then every page of the router's
//! table that shows them is opened in headless Chromium, as an admin and as the client.
//! No dialog may open, no element or handler may come from a payload, and each payload
//! must be seen on some page as the text that was typed.
use super::{PASSWORD, World};
use crate::webdriver::{Browser, Driver};
use licd::http::ui::{Access, routes};
use licd::service::{clients, distributors, leases, products, releases};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The payload of field `tag`: markup that runs script if it is ever not escaped, and
/// both quotes (to break out of an attribute).
fn payload(tag: &str) -> String {
    format!("X{tag}X<script>alert(1)</script><img src=x onerror=alert(2)>\"'")
}

/// Fields whose payload is shown as text (escaped); the changelog is Markdown, shown
/// sanitised, so only its marker must be seen there.
const ESCAPED: &[&str] = &[
    "vendor",
    "extraname",
    "extraval",
    "company",
    "contact",
    "phone",
    "comment",
    "crm1",
    "crm2",
    "product",
    "feature",
    "dist",
    "host",
    "db",
    "user",
    "token",
    "uiclient",
];

const CHANGELOG: &str = "XchangelogX\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[click](javascript:alert(3))\n\n<a href=\"javascript:alert(4)\">a</a> <b onmouseover=alert(5)>b</b>\n";

/// Puts a payload into every field of the world's objects: the service for most (what
/// the forms and the admin API store too), the forms for a token and a client.
async fn poison(w: &World) {
    let app = w.s.app();
    let mut settings = {
        let tx = app.store.read().expect("read");
        licd::service::settings::read(&tx).expect("settings")
    };
    settings.vendor_name = payload("vendor");
    settings.extra_fields = vec![payload("extraname")];
    app.store
        .write(move |tx| Ok(licd::service::settings::write(tx, &settings)?))
        .await
        .expect("settings");
    let extra: BTreeMap<String, String> = [(payload("extraname"), payload("extraval"))].into();
    clients::update(
        app,
        w.f.client,
        clients::ClientInput {
            company: Some(payload("company")),
            contact: Some(payload("contact")),
            phone: Some(payload("phone")),
            comment: Some(payload("comment")),
            crm_id1: Some(payload("crm1")),
            crm_id2: Some(payload("crm2")),
            extra: Some(extra),
            ..Default::default()
        },
    )
    .await
    .expect("client fields");
    products::update(
        app,
        "CRM",
        serde_json::from_value(json!({"name": payload("product"),
            "features": [{"number": 31, "name": payload("feature")}]}))
        .expect("patch"),
        "test",
    )
    .await
    .expect("product names");
    distributors::update(app, "south", &payload("dist"), "", "test")
        .await
        .expect("distributor name");
    releases::update(
        app,
        w.release,
        releases::ReleasePatch {
            changelog: Some(CHANGELOG.into()),
            ..Default::default()
        },
        "test",
    )
    .await
    .expect("changelog");
    // What a protected app sends is typed by no one we trust either.
    leases::capture(
        app,
        leases::CaptureInput {
            regnum: w.f.regnum.clone(),
            feature: 48,
            host: payload("host"),
            database: Some(payload("db")),
            user: Some(payload("user")),
            session: None,
            app: Some("crm".into()),
            version: Some("1.0".into()),
        },
    )
    .await
    .expect("capture");
    // Through the forms: a token and a client (also in the audit log).
    let (mut h, csrf) = w.staff("root").await;
    let p = h
        .post(
            "/tokens",
            &[
                ("csrf", &csrf),
                ("name", &payload("token")),
                ("role", "manager"),
            ],
        )
        .await;
    assert!(p.status < 400, "{}", p.body);
    let p = h
        .post(
            "/clients/new",
            &[("csrf", &csrf), ("company", &payload("uiclient"))],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    // The client's own setting, through the cabinet's form.
    let (mut c, csrf) = w.client().await;
    let p = c
        .post(
            "/cabinet/settings",
            &[
                ("csrf", &csrf),
                ("alert_email", "alerts@check.test"),
                ("lang", "ru"),
            ],
        )
        .await;
    assert!(p.status < 400, "{}", p.body);
}

/// Where each field must be seen (besides the vendor's name, in every page's header).
const EXPECT: &[(&str, &[&str])] = &[
    (
        "/clients",
        &["company", "contact", "phone", "dist", "uiclient"],
    ),
    (
        "/clients/{id}",
        &[
            "company",
            "contact",
            "phone",
            "comment",
            "crm1",
            "crm2",
            "extraname",
            "extraval",
            "dist",
            "host",
            "user",
        ],
    ),
    ("/keys", &["company"]),
    (
        "/keys/{regnum}",
        &["company", "feature", "host", "db", "user"],
    ),
    ("/products", &["product", "feature"]),
    ("/products/{code}", &["product", "feature"]),
    ("/coupons", &["product", "feature"]),
    ("/sessions", &["company", "host", "db", "user"]),
    ("/releases/{id}", &["changelog"]),
    ("/audit", &["uiclient", "token", "product", "dist"]),
    ("/users", &["dist"]),
    ("/tokens", &["token"]),
    ("/distributors", &["dist"]),
    ("/distributors/{code}", &["dist"]),
    ("/settings", &["extraname"]),
    ("/statistics", &["product", "feature"]),
    ("/cabinet/keys", &["company", "feature"]),
    (
        "/cabinet/sessions",
        &["company", "feature", "host", "db", "user"],
    ),
    ("/cabinet/summary", &["company", "product", "feature"]),
    ("/cabinet/distributions", &["company", "changelog"]),
];

const PROBE: &str = r#"
const d = document;
const own = [...d.querySelectorAll('*')].filter(e =>
    [...e.attributes].some(a => a.name.toLowerCase().startsWith('on')));
return {
  scripts: d.querySelectorAll('script').length,
  imgx: d.querySelectorAll('img[src="x"]').length,
  handlers: own.map(e => e.outerHTML.slice(0, 200)),
  jslinks: [...d.querySelectorAll('[href], [src], [action], [formaction]')]
    .filter(e => ['href', 'src', 'action', 'formaction']
      .some(a => (e.getAttribute(a) || '').trim().toLowerCase().startsWith('javascript:'))).length,
  text: d.body ? d.body.innerText : '',
  values: [...d.querySelectorAll('input, textarea, option')]
    .map(e => e.value + '\n' + e.textContent).join('\n'),
  title: d.title,
};
"#;

/// Opens `url` and checks it; returns the payload tags seen on it as typed.
async fn check_page(b: &Browser, url: &str) -> BTreeSet<&'static str> {
    b.go(url).await;
    assert_eq!(b.alert().await, None, "a dialog opened on {url}");
    probe(b, url).await
}

/// Checks the document in focus; returns the payload tags seen in it as typed.
async fn probe(b: &Browser, url: &str) -> BTreeSet<&'static str> {
    let v: Value = b.script(PROBE).await;
    assert_eq!(v["scripts"], 0, "a <script> on {url}");
    assert_eq!(v["imgx"], 0, "an injected <img> on {url}");
    assert_eq!(
        v["handlers"],
        json!([]),
        "an event handler attribute on {url}"
    );
    assert_eq!(v["jslinks"], 0, "a javascript: URL on {url}");
    let shown = format!(
        "{}\n{}\n{}",
        v["title"].as_str().unwrap_or(""),
        v["text"].as_str().unwrap_or(""),
        v["values"].as_str().unwrap_or("")
    );
    let mut seen: BTreeSet<&'static str> = ESCAPED
        .iter()
        .copied()
        .filter(|t| shown.contains(&payload(t)))
        .collect();
    if shown.contains("XchangelogX") {
        seen.insert("changelog");
    }
    seen
}

/// Pages to open: every GET of the table for `access`, but downloads.
fn pages(w: &World, access: &[Access]) -> Vec<String> {
    routes()
        .filter(|r| r.method == "GET" && access.contains(&r.access))
        .filter(|r| !r.path.ends_with(".csv") && !r.path.ends_with("/file"))
        .filter(|r| !r.path.contains("/backups/") && !r.path.starts_with("/assets/"))
        .map(|r| w.fill(r.path))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_stored_payload_runs_or_becomes_markup_on_any_page() {
    let w = World::make().await;
    poison(&w).await;
    let url = w.s.url.clone();
    let driver = Driver::start().await;
    let mut seen: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();

    let b = driver.browser("ru-RU").await;
    crate::login(&b, &url, "root", PASSWORD).await;
    let staff = pages(&w, &[Access::Staff, Access::Manager, Access::Admin]);
    for p in &staff {
        seen.insert(p.clone(), check_page(&b, &format!("{url}{p}")).await);
    }
    b.close().await;

    let c = driver.browser("ru-RU").await;
    c.go(&format!("{url}/cabinet/login")).await;
    c.type_in("input[name=login]", &w.coupon).await;
    c.click("form[action='/cabinet/login'] button[type=submit]")
        .await;
    c.see("Статистика").await;
    for p in pages(&w, &[Access::Cabinet]) {
        let s = check_page(&c, &format!("{url}{p}")).await;
        seen.insert(p, s);
    }
    c.close().await;
    drop(driver);

    // The pages that list or show each thing show its fields as typed.
    for (pattern, tags) in EXPECT {
        let page = w.fill(pattern);
        let got = seen
            .get(&page)
            .unwrap_or_else(|| panic!("{page} not opened"));
        for tag in tags.iter().chain(&["vendor"]) {
            assert!(
                got.contains(tag),
                "{tag} not shown as typed on {page}: {got:?}"
            );
        }
    }
    // Every payload was shown somewhere, as the very text typed.
    let all: BTreeSet<&str> = seen.values().flatten().copied().collect();
    for tag in ESCAPED.iter().chain(&["changelog"]) {
        assert!(all.contains(tag), "payload {tag} shown on no page");
    }
    w.s.stop().await;
}
