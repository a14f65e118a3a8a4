//! Upgrades are safe: a database written by the last licd of schema 3
//! (`tests/fixtures/schema3.redb`, made by `scripts/make-upgrade-fixture.sh` with that
//! old binary; `schema3.json` says what it holds and what the old server answered) is
//! opened by this licd, migrated to the current schema, and keeps every client, key,
//! grant, coupon, lease, binding, denial, token, staff user, distributor and setting.
//!
//! The fixture's leases were live when it was made; the server here runs on a clock
//! set back to that moment (`made_at`), so grants, trials and the default usage window
//! are judged as they were then. The leases stay live after the restart as they would
//! after any restart: a lease's life counts from the server's start at the earliest.
use crate::kit::{Resp, TestServer};
use licd::clock::Clock;
use licd::domain::days::{Day, DayRange};
use licd::service::{clients, distributors, leases, sessions, stats, users};
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const DB: &[u8] = include_bytes!("../fixtures/schema3.redb");
const FACTS: &str = include_str!("../fixtures/schema3.json");

/// Where `old` (what the schema-3 server answered) and `new` first differ; `new` may
/// have fields `old` had not (later versions add some), never lose or change one.
fn difference(old: &Value, new: &Value, at: &str) -> Option<String> {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => o.iter().find_map(|(k, v)| match n.get(k) {
            Some(nv) => difference(v, nv, &format!("{at}.{k}")),
            None => Some(format!("{at}.{k}: gone (was {v})")),
        }),
        (Value::Array(o), Value::Array(n)) if o.len() == n.len() => o
            .iter()
            .zip(n)
            .enumerate()
            .find_map(|(i, (a, b))| difference(a, b, &format!("{at}[{i}]"))),
        _ if old == new => None,
        _ => Some(format!("{at}: was {old}, now {new}")),
    }
}

#[track_caller]
fn assert_kept(what: &str, old: &Value, new: &Value) {
    assert!(!old.is_null(), "{what}: the fixture has no answer");
    if let Some(d) = difference(old, new, what) {
        panic!("{d}");
    }
}

fn without_expiry(v: &Value) -> Value {
    let mut v = v.clone();
    for l in v.as_array_mut().expect("a list of leases") {
        l.as_object_mut().expect("a lease").remove("expires_at");
    }
    v
}

fn fact<'a>(f: &'a Value, path: &str) -> &'a str {
    f.pointer(path)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("schema3.json has no string at {path}"))
}

/// An admin-API call with one of the fixture's own tokens.
async fn as_token(srv: &TestServer, secret: &str, method: Method, path: &str) -> Resp {
    let auth = format!("Bearer {secret}");
    srv.send(
        method,
        &format!("/api/admin/v1{path}"),
        None,
        &[("Authorization", &auth)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_3_database_keeps_everything_through_the_migration() {
    let f: Value = serde_json::from_str(FACTS).expect("schema3.json");
    assert_eq!(f["schema"], 3);
    let old = &f["answers"];
    let made_at = OffsetDateTime::parse(fact(&f, "/made_at"), &Rfc3339).expect("made_at");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("licd.redb");
    std::fs::write(&path, DB).expect("copy the fixture");
    {
        // The file really is schema 3, so the start below really migrates.
        use redb::ReadableDatabase;
        let db = redb::Database::open(&path).expect("the fixture opens");
        let tx = db.begin_read().expect("read");
        let meta = tx.open_table(licd::store::tables::META).expect("meta");
        let v = meta.get("schema_version").expect("get").expect("a version");
        assert_eq!(v.value(), 3u64.to_le_bytes().as_slice());
    }
    let clock = Clock::system();
    clock.advance(made_at - clock.now());
    let srv = TestServer::start_on(dir, clock, |_| {}).await;
    let app = srv.app().clone();

    // Migrated to the current schema.
    let v = app
        .store
        .write(|tx| Ok(licd::store::meta::get_u64(tx, "schema_version")?))
        .await
        .expect("schema version");
    assert_eq!(v, Some(licd::store::migrate::CURRENT));

    // Everything the old server answered, answered the same.
    let get = |path: String| {
        let srv = &srv;
        async move { srv.admin(Method::GET, &path, None).await.expect(200) }
    };
    assert_kept("settings", &old["settings"], &get("/settings".into()).await);
    assert_kept("products", &old["products"], &get("/products".into()).await);
    for (name, id) in f["clients"].as_object().expect("clients") {
        let new = get(format!("/clients/{id}")).await;
        assert_kept(&format!("client {name}"), &old["clients"][name], &new);
    }
    for (name, regnum) in f["keys"].as_object().expect("keys") {
        let regnum = regnum.as_str().expect("regnum");
        let new = get(format!("/keys/{regnum}")).await;
        assert_kept(&format!("key {name}"), &old["keys"][name], &new);
    }
    for name in ["k1", "k2", "k3"] {
        let regnum = fact(&f, &format!("/keys/{name}"));
        let new = get(format!("/keys/{regnum}/denials")).await;
        assert_kept(&format!("denials of {name}"), &old["denials"][name], &new);
    }
    assert_kept("coupons", &old["coupons"], &get("/coupons".into()).await);
    let live = get("/leases".into()).await;
    assert_kept(
        "leases",
        &without_expiry(&old["leases"]),
        &without_expiry(&live),
    );
    let now = app.now();
    for l in live.as_array().expect("leases") {
        let exp = OffsetDateTime::parse(l["expires_at"].as_str().expect("expiry"), &Rfc3339)
            .expect("expiry");
        assert!(exp > now, "lease {} lapsed at {exp}", l["lease"]);
    }
    // The tokens, and the sequence: the kit's own token (made at start) is the fourth.
    let tokens = get("/tokens".into()).await;
    let tokens = tokens.as_array().expect("tokens");
    assert_eq!(tokens.len(), 4, "{tokens:?}");
    assert_eq!(
        (tokens[3]["id"].as_u64(), tokens[3]["name"].as_str()),
        (Some(4), Some("test"))
    );
    assert_kept("tokens", &old["tokens"], &json!(tokens[..3]));

    // The fixture's token secrets still authenticate, each with its role.
    let crm = fact(&f, "/tokens/crm/secret");
    as_token(&srv, crm, Method::GET, "/tokens")
        .await
        .expect(200);
    let reports = fact(&f, "/tokens/reports/secret");
    as_token(&srv, reports, Method::GET, "/keys")
        .await
        .expect(200);
    as_token(&srv, reports, Method::GET, "/tokens")
        .await
        .expect_error(403, 2003);
    as_token(
        &srv,
        "licd_0000000000000000000000000000000000000000000000",
        Method::GET,
        "/keys",
    )
    .await
    .expect_error(401, 2001);

    // Schema 4's rollups and time indexes were filled from the schema-3 rows: the
    // usage endpoint, the staff series, top clients and the denial list.
    let day = fact(&f, "/day");
    for (name, want) in f["usage"].as_object().expect("usage") {
        let regnum = fact(&f, &format!("/keys/{name}"));
        let mut want = want.clone();
        for row in want.as_array_mut().expect("rows") {
            row["day"] = json!(day);
        }
        let got = get(format!("/keys/{regnum}/usage")).await;
        assert_eq!(got, want, "usage of {name}");
    }
    let range = DayRange::last(7, Day::parse(day).expect("day"));
    {
        let tx = app.store.read().expect("read");
        let all =
            stats::global_series(&tx, range, &stats::SeriesFilter::default()).expect("series");
        let on_day: Vec<(u32, u64, u64, u64)> = all
            .rows
            .iter()
            .filter(|r| r.day == range.to)
            .map(|r| (r.feature, r.captures, r.denials, r.peak))
            .collect();
        let mut want: std::collections::BTreeMap<u32, (u64, u64, u64)> = Default::default();
        for rows in f["usage"].as_object().expect("usage").values() {
            for r in rows.as_array().expect("rows") {
                let e = want
                    .entry(r["feature"].as_u64().expect("feature") as u32)
                    .or_default();
                e.0 += r["captures"].as_u64().expect("captures");
                e.1 += r["denials"].as_u64().expect("denials");
                e.2 += r["peak"].as_u64().expect("peak");
            }
        }
        let want: Vec<_> = want
            .into_iter()
            .map(|(k, (c, d, p))| (k, c, d, p))
            .collect();
        assert_eq!(on_day, want, "usage_daily");
        let top = stats::top_clients(&tx, range, 20).expect("top clients");
        let top: Vec<(u64, u64)> = top.iter().map(|t| (t.client_id, t.denials)).collect();
        let (a, b) = (f["clients"]["a"].as_u64(), f["clients"]["b"].as_u64());
        assert_eq!(
            top,
            vec![(a.expect("a"), 2), (b.expect("b"), 1)],
            "denial_client_days"
        );
        let page = stats::all_denials(&tx, &stats::DenialFilter::default(), stats::Page::default())
            .expect("denials");
        let mut codes: Vec<(u32, u32)> = page.rows.iter().map(|r| (r.feature, r.code)).collect();
        codes.sort_unstable();
        assert_eq!(
            codes,
            vec![(103, 1030), (201, 1021), (999, 1031)],
            "denial_times"
        );
        let of_103 = stats::all_denials(
            &tx,
            &stats::DenialFilter {
                feature: Some(103),
                ..Default::default()
            },
            stats::Page::default(),
        )
        .expect("denials");
        assert_eq!(of_103.rows.len(), 1, "denial_feature_times");
        assert_eq!(of_103.rows[0].database, "hr");

        // Staff users (with their passwords' hashes), the distributor, the client
        // indexes, the audit log.
        let staff = users::list(&tx).expect("users");
        for u in f["users"].as_array().expect("users") {
            let login = u["login"].as_str().expect("login");
            let got = staff
                .iter()
                .find(|x| x.login == login)
                .unwrap_or_else(|| panic!("user {login} gone"));
            assert_eq!(got.role.as_str(), u["role"], "role of {login}");
            assert_eq!(got.distributor, u["distributor"], "distributor of {login}");
            assert!(!got.disabled);
        }
        let d = distributors::list(&tx).expect("distributors");
        assert_eq!(d.len(), 1);
        assert_eq!(
            json!({"code": d[0].code, "name": d[0].name, "email": d[0].email}),
            f["distributor"]
        );
        assert_eq!(
            clients::ids_by_manager(&tx, "anna").expect("index"),
            vec![1]
        );
        assert_eq!(
            clients::ids_by_manager(&tx, "olga").expect("index"),
            vec![2]
        );
        assert_eq!(
            clients::ids_by_distributor(&tx, fact(&f, "/distributor/code")).expect("index"),
            vec![1]
        );
        for (action, actor) in [
            ("distributor_create", "olga"),
            ("key_block", "api:crm"),
            ("sign_in", "olga"),
        ] {
            let (entries, _) = licd::service::audit::page(&tx, action, 0, 10).expect("audit");
            assert!(
                entries
                    .iter()
                    .any(|e| e.action == action && e.actor == actor),
                "audit {action} by {actor}: {entries:?}"
            );
        }
    }
    for u in f["users"].as_array().expect("users") {
        let login = u["login"].as_str().expect("login");
        let r = sessions::sign_in(
            &app,
            std::net::IpAddr::from([127, 0, 0, 1]),
            login,
            u["password"].as_str().expect("password"),
        )
        .await
        .expect("sign in");
        assert!(r.is_ok(), "{login} cannot sign in");
    }
    for (q, want) in [
        (
            "q=%D1%80%D0%BE%D0%BC%D0%B0%D1%88%D0%BA%D0%B0",
            &f["clients"]["a"],
        ), // ромашка
        ("q=hank%40globex.test", &f["clients"]["b"]),
        ("crm_id1=CRM-1002", &f["clients"]["b"]),
        ("crm_id2=B-77", &f["clients"]["a"]),
    ] {
        let found = get(format!("/clients?{q}")).await;
        let ids: Vec<&Value> = found
            .as_array()
            .expect("clients")
            .iter()
            .map(|c| &c["id"])
            .collect();
        assert_eq!(ids, vec![want], "clients?{q}");
    }

    // The host binding whose lease ended still holds its seat.
    let k1 = fact(&f, "/keys/k1");
    let rows = leases::monitor_rows(&app, Some(k1), 100).expect("monitor");
    let idle: Vec<_> = rows.iter().filter(|r| r.lease.is_empty()).collect();
    assert_eq!(idle.len(), 1, "{rows:?}");
    assert_eq!(
        (idle[0].feature, idle[0].host.as_str(), idle[0].bound),
        (102, fact(&f, "/binding/host"), true)
    );
    let capture = |regnum: &str, feature: u32, host: &str, user: &str| {
        let body = json!({"regnum": regnum, "feature": feature, "host": host, "user": user});
        srv.api(Method::POST, "/leases", Some(body))
    };
    capture(k1, 102, "render-3", "svc")
        .await
        .expect_error(409, 1030);

    // Every live lease answers its heartbeat; the released one is gone.
    for (name, id) in f["leases"].as_object().expect("leases") {
        let id = id.as_str().expect("lease id");
        let r = srv
            .api(Method::POST, &format!("/leases/{id}/heartbeat"), None)
            .await;
        assert_eq!(r.status, 200, "heartbeat of lease {name}: {}", r.body);
    }
    srv.api(
        Method::POST,
        &format!("/leases/{}/heartbeat", fact(&f, "/released")),
        None,
    )
    .await
    .expect_error(404, 1034);
    // A new capture counts the migrated holders: ivan and maria hold 2 of 7 seats.
    let c = capture(k1, 101, "pc-new", "newcomer").await.expect(201);
    assert_eq!(c["seats"], json!({"total": 7, "used": 3}));

    // Coupons: the activated one stays used, the other still activates.
    let activate = |coupon: &str, regnum: &str| {
        srv.api(
            Method::POST,
            "/activate",
            Some(json!({"regnum": regnum, "coupon": coupon})),
        )
    };
    activate(fact(&f, "/coupons/activated"), fact(&f, "/keys/k2"))
        .await
        .expect_error(409, 1041);
    activate(fact(&f, "/coupons/unused"), fact(&f, "/keys/k2"))
        .await
        .expect(200);
    // The trial host is remembered.
    srv.api(
        Method::POST,
        "/trial",
        Some(
            json!({"product": "cad", "host": fact(&f, "/trial_host"), "company": "Again",
                    "contact": "Al", "phone": "+1 555 0199", "email": "again@trial.test"}),
        ),
    )
    .await
    .expect_error(409, 1059);
    // The mail the old server queued (no SMTP there) leaves from the outbox now.
    let mail = srv
        .smtp
        .wait_for(fact(&f, "/outbox_to"), 20)
        .await
        .expect("the queued coupon mail is sent");
    assert!(
        mail.text().contains(fact(&f, "/coupons/activated")),
        "{}",
        mail.text()
    );
    srv.stop().await;
}
