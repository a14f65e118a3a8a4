//! The mail catalogue end to end: events queued by real calls, rendered in the client's
//! language, addressed to the right people (alert e-mail, manager's copy, distributor
//! instead of the client, codes only to the client), sent through a real SMTP sink that
//! also fails on demand, with the clock moved instead of waiting.
use crate::kit::{SentMail, Step, TestServer};
use licd::store::tables;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

async fn client(s: &TestServer, email: &str, extra: Value) -> (u64, String) {
    let mut body =
        json!({"company": "Acme & <Sons>", "contact": "Ann", "phone": "1", "email": email});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let c = s
        .admin(Method::POST, "/clients", Some(body))
        .await
        .expect(201);
    let id = c["id"].as_u64().expect("id");
    let k = s
        .admin(Method::POST, &format!("/clients/{id}/keys"), None)
        .await
        .expect(201);
    (id, k["regnum"].as_str().expect("regnum").to_owned())
}

/// Sets a client's mail language as its cabinet setting would.
async fn set_lang(s: &TestServer, client_id: u64, lang: &'static str) {
    s.app()
        .store
        .write(move |tx| {
            let mut t = tx.open_table(tables::CLIENT_PREFS.def)?;
            let mut p = tables::CLIENT_PREFS.get(&t, client_id)?.unwrap_or_default();
            p.lang = lang.into();
            tables::CLIENT_PREFS.put(&mut t, client_id, &p)?;
            Ok(())
        })
        .await
        .expect("prefs");
}

/// A staff user with an e-mail (the manager who gets copies).
async fn manager(s: &TestServer, login: &'static str, email: &'static str) {
    let now = s.clock.now();
    s.app()
        .store
        .write(move |tx| {
            let mut t = tx.open_table(tables::USERS.def)?;
            tables::USERS.put(
                &mut t,
                login,
                &licd::domain::User {
                    login: login.into(),
                    role: licd::domain::Role::Manager,
                    password_hash: String::new(),
                    distributor: String::new(),
                    created_at: now,
                    disabled: false,
                    email: email.into(),
                },
            )?;
            Ok(())
        })
        .await
        .expect("user");
}

async fn add_grant(
    s: &TestServer,
    regnum: &str,
    feature: u32,
    seats: u32,
    expires: Option<String>,
) {
    let mut body = json!({"product": "crm", "feature": feature, "seats": seats});
    if let Some(e) = expires {
        body["expires_at"] = json!(e);
    }
    s.admin(Method::POST, &format!("/keys/{regnum}/items"), Some(body))
        .await
        .expect(201);
}

fn in_days(s: &TestServer, days: i64) -> String {
    licd::clock::rfc3339(s.clock.now() + time::Duration::days(days))
}

async fn capture(s: &TestServer, regnum: &str, feature: u32, host: &str) -> u16 {
    s.api(
        Method::POST,
        "/leases",
        Some(json!({"regnum": regnum, "feature": feature, "host": host, "user": host})),
    )
    .await
    .status
}

/// Mails to `to` whose subject contains `needle`.
fn with_subject(s: &TestServer, to: &str, needle: &str) -> Vec<SentMail> {
    s.smtp
        .sent_to(to)
        .into_iter()
        .filter(|m| m.subject().contains(needle))
        .collect()
}

async fn wait_subject(s: &TestServer, to: &str, needle: &str) -> SentMail {
    s.smtp
        .wait_where(20, |m| {
            m.to.iter().any(|t| t.eq_ignore_ascii_case(to)) && m.subject().contains(needle)
        })
        .await
        .unwrap_or_else(|| {
            let got: Vec<String> = s
                .smtp
                .sent()
                .iter()
                .map(|m| format!("{:?} {}", m.to, m.subject()))
                .collect();
            panic!("no mail to {to} with {needle:?}; sent: {got:?}")
        })
}

/// Lets the jobs run a round (the alert job ticks every 2 s, the sender every 5 s).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(2500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_and_coupons_are_mailed_in_the_clients_language_with_the_managers_copy() {
    let s = TestServer::start().await;
    s.product("crm", &[(42, "user"), (31, "host")]).await;
    manager(&s, "olga", "olga@vendor.test").await;
    let (ru_id, ru_key) = client(&s, "buyer-ru@client.test", json!({"manager": "olga"})).await;
    let (en_id, en_key) = client(&s, "buyer-en@client.test", json!({})).await;
    set_lang(&s, ru_id, "ru").await;
    set_lang(&s, en_id, "en").await;

    add_grant(&s, &ru_key, 42, 5, None).await;
    let m = wait_subject(&s, "buyer-ru@client.test", "добавлены лицензии").await;
    assert!(m.subject().contains(&ru_key), "{}", m.subject());
    assert!(m.text().contains("Feature 42"), "{}", m.text());
    // The manager gets a copy (Cc), in the same message.
    assert!(m.to.iter().any(|t| t == "olga@vendor.test"), "{:?}", m.to);
    assert_eq!(m.header_addresses("cc"), ["olga@vendor.test"]);
    assert_eq!(m.header_addresses("to"), ["buyer-ru@client.test"]);
    // HTML alternative with the vendor's name and the cabinet link, values escaped.
    let html = m.html();
    assert!(html.contains("/cabinet\""), "{html}");
    assert!(m.header("Auto-Submitted").contains("auto-generated"));

    add_grant(&s, &en_key, 42, 1, None).await;
    let m = wait_subject(&s, "buyer-en@client.test", "Licenses added to key").await;
    assert!(m.subject().contains(&en_key));
    assert!(m.header_addresses("cc").is_empty(), "no manager, no copy");

    // Coupon activated (English), once.
    let b = s
        .admin(Method::POST, "/coupons", Some(json!({"count": 1, "items": [{"product": "crm", "feature": 31, "seats": 2, "days": 30}]})))
        .await
        .expect(201);
    let code = b["codes"][0].as_str().expect("code").to_owned();
    s.api(
        Method::POST,
        "/activate",
        Some(json!({"regnum": en_key, "coupon": code})),
    )
    .await
    .expect(200);
    let m = wait_subject(&s, "buyer-en@client.test", "activated on key").await;
    assert_eq!(
        m.subject(),
        format!("Coupon {code} activated on key {en_key}")
    );
    assert!(m.text().contains("31 Feature 31"), "{}", m.text());
    // And in Russian for the other client.
    let b = s
        .admin(
            Method::POST,
            "/coupons",
            Some(json!({"count": 1, "items": [{"product": "crm", "feature": 31, "seats": 1}]})),
        )
        .await
        .expect(201);
    let code2 = b["codes"][0].as_str().expect("code").to_owned();
    s.api(
        Method::POST,
        "/activate",
        Some(json!({"regnum": ru_key, "coupon": code2})),
    )
    .await
    .expect(200);
    let m = wait_subject(&s, "buyer-ru@client.test", "активирован на ключе").await;
    assert!(m.text().contains("бессрочно"), "{}", m.text());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributors_clients_mail_goes_to_the_distributor_but_codes_go_to_the_client() {
    let s = TestServer::start().await;
    s.product("crm", &[(42, "user")]).await;
    licd::service::distributors::create(s.app(), "north", "North Ltd", "sales@north.test")
        .await
        .expect("distributor");
    let (_, regnum) = client(
        &s,
        "owner@client.test",
        json!({"distributor": "north", "alert_email": "admin@client.test"}),
    )
    .await;
    add_grant(&s, &regnum, 42, 3, None).await;
    let m = wait_subject(&s, "sales@north.test", &regnum).await;
    assert_eq!(m.header_addresses("to"), ["sales@north.test"]);
    // The cabinet's one-time code goes to the client only.
    let ip: std::net::IpAddr = "127.0.0.9".parse().expect("ip");
    licd::service::cabinet::request_code(s.app(), ip, &regnum)
        .await
        .expect("code")
        .expect("not limited");
    let code = s
        .smtp
        .wait_for("owner@client.test", 20)
        .await
        .expect("code mail");
    assert!(
        !code.to.iter().any(|t| t.contains("north")),
        "{:?}",
        code.to
    );
    assert!(code.text().contains(&regnum));
    settle().await;
    assert!(
        s.smtp
            .sent_to("sales@north.test")
            .iter()
            .all(|m| !m.subject().contains("code")),
        "the code was not redirected"
    );
    assert!(s.smtp.sent_to("admin@client.test").is_empty());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denials_mail_the_first_at_once_then_one_summary_an_hour() {
    let s = TestServer::start().await;
    s.product("crm", &[(42, "user"), (43, "user")]).await;
    let (id, regnum) = client(
        &s,
        "buyer@client.test",
        json!({"alert_email": "ops@client.test"}),
    )
    .await;
    set_lang(&s, id, "en").await;
    add_grant(&s, &regnum, 42, 1, None).await;
    add_grant(&s, &regnum, 43, 1, Some(in_days(&s, 1))).await;
    // Let the alert job take its first look (it starts from "now").
    settle().await;
    assert_eq!(capture(&s, &regnum, 42, "pc1").await, 201);
    for i in 0..4 {
        assert_eq!(capture(&s, &regnum, 42, &format!("pc-x{i}")).await, 409);
    }
    let m = wait_subject(&s, "ops@client.test", "License refused on key").await;
    assert!(
        m.subject().contains(&regnum) && m.subject().contains("42"),
        "{}",
        m.subject()
    );
    assert!(m.text().contains("1030"), "{}", m.text());
    assert!(m.text().contains("/cabinet/problems"));
    // Alerts go to the alert e-mail, not the buyer's.
    settle().await;
    assert_eq!(
        with_subject(&s, "ops@client.test", "refused").len(),
        1,
        "one at once"
    );
    assert!(with_subject(&s, "buyer@client.test", "refused").is_empty());
    // The hour ends: one summary of the rest (3 more of feature 42 that hour).
    s.clock.advance(time::Duration::hours(1));
    let summary = wait_subject(&s, "ops@client.test", "refusals on key").await;
    assert!(
        summary.subject().starts_with("3 license refusals"),
        "{}",
        summary.subject()
    );
    assert!(summary.text().contains("1030"), "{}", summary.text());
    // No second summary for the same hour.
    s.clock.advance(time::Duration::hours(1));
    settle().await;
    settle().await;
    assert_eq!(
        with_subject(&s, "ops@client.test", "refusals on key").len(),
        1
    );
    // Feature 43: its first denial also goes at once (a different feature).
    s.clock.advance(time::Duration::days(2));
    assert_eq!(capture(&s, &regnum, 43, "pc1").await, 403);
    wait_subject(&s, "ops@client.test", "feature 43").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_thresholds_are_mailed_once_across_a_restart() {
    let s = TestServer::start().await;
    s.product("crm", &[(42, "user"), (43, "user")]).await;
    let (id, regnum) = client(&s, "buyer@client.test", json!({})).await;
    set_lang(&s, id, "ru").await;
    // Two features bought together, ending together in 40 days: one mail per threshold.
    add_grant(&s, &regnum, 42, 5, Some(in_days(&s, 40))).await;
    add_grant(&s, &regnum, 43, 2, Some(in_days(&s, 40))).await;
    wait_subject(&s, "buyer@client.test", "добавлены").await;
    let clock = s.clock.clone();
    let smtp_port = s.smtp.port;
    let dir = s.stop_keep().await;
    // 11 days later: 29 days left — the 30-day reminder, at start.
    clock.advance(time::Duration::days(11));
    let s = crate::kit::TestServer::start_on(dir, clock.clone(), |_| {}).await;
    let m = wait_subject(&s, "buyer@client.test", "истекают через 29 дней").await;
    assert!(
        m.text().contains("Feature 42") && m.text().contains("Feature 43"),
        "{}",
        m.text()
    );
    let _ = smtp_port;
    // A restart does not mail it again.
    let clock = s.clock.clone();
    let dir = s.stop_keep().await;
    let s = crate::kit::TestServer::start_on(dir, clock.clone(), |_| {}).await;
    settle().await;
    settle().await;
    assert!(
        with_subject(&s, "buyer@client.test", "истекают").is_empty(),
        "not again after a restart"
    );
    // 25 days later (4 left): the 7-day one; then 1 day, then expired.
    s.clock.advance(time::Duration::days(25));
    s.clock.advance(time::Duration::hours(1));
    wait_subject(&s, "buyer@client.test", "через 4 дня").await;
    s.clock
        .advance(time::Duration::days(3) + time::Duration::hours(12));
    s.clock.advance(time::Duration::hours(1));
    wait_subject(&s, "buyer@client.test", "через 1 день").await;
    s.clock.advance(time::Duration::days(1));
    wait_subject(&s, "buyer@client.test", "истекли").await;
    // The clock moved back does not bring the 30-day reminder back.
    s.clock.advance(-time::Duration::days(20));
    s.clock.advance(time::Duration::hours(1));
    settle().await;
    settle().await;
    // This server's sink saw the 7- and 1-day reminders (the 30-day one went before).
    assert_eq!(with_subject(&s, "buyer@client.test", "истекают").len(), 2);
    assert_eq!(with_subject(&s, "buyer@client.test", "истекли").len(), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_retries_after_smtp_failures_and_gives_up_on_a_permanent_refusal() {
    let s = TestServer::start().await;
    s.product("crm", &[(42, "user")]).await;
    let (_, regnum) = client(&s, "buyer@client.test", json!({})).await;
    s.smtp.fail_next(Step::Mail, "451 4.3.0 try again later");
    s.smtp.fail_next(Step::Body, "452 4.3.1 out of memory");
    add_grant(&s, &regnum, 42, 1, None).await;
    settle().await;
    assert!(s.smtp.sent_to("buyer@client.test").is_empty());
    // The outbox keeps it with the last error and a later attempt.
    let read = |s: &TestServer| -> Vec<licd::domain::Mail> {
        let tx = s.app().store.read().expect("read");
        let t = tx.open_table(tables::OUTBOX.def).expect("outbox");
        use redb::ReadableTable;
        t.iter()
            .expect("iter")
            .map(|r| licd::store::codec::decode(r.expect("row").1.value()).expect("mail"))
            .collect()
    };
    let m = read(&s).pop().expect("mail");
    assert_eq!(m.state, licd::domain::MailState::Queued);
    assert!(m.attempts >= 1 && m.last_error.contains("451"), "{m:?}");
    // Backoff: 60 s after the first failure, then 120 s.
    s.clock.advance(time::Duration::seconds(61));
    s.app().mail_queued.notify_one();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        s.smtp.sent_to("buyer@client.test").is_empty(),
        "the body was refused"
    );
    s.clock.advance(time::Duration::seconds(121));
    s.app().mail_queued.notify_one();
    let got = s
        .smtp
        .wait_for("buyer@client.test", 20)
        .await
        .expect("sent in the end");
    assert!(got.subject().contains(&regnum));
    let m = read(&s).pop().expect("mail");
    assert!(matches!(m.state, licd::domain::MailState::Sent(_)), "{m:?}");
    assert_eq!(m.attempts, 2);
    assert!(m.last_error.contains("250"), "{m:?}");
    // A 5xx is not retried.
    let (_, other) = client(&s, "nobody@client.test", json!({})).await;
    s.smtp.refuse("nobody@client.test");
    add_grant(&s, &other, 42, 1, None).await;
    settle().await;
    s.app().mail_queued.notify_one();
    settle().await;
    let failed = read(&s)
        .into_iter()
        .find(|m| m.to == ["nobody@client.test"])
        .expect("kept");
    assert!(
        matches!(failed.state, licd::domain::MailState::Failed(_)),
        "{failed:?}"
    );
    assert!(failed.last_error.contains("550"), "{failed:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_beyond_the_daily_quota_waits() {
    let s = TestServer::start_with(|a| a.mail_daily_quota = Some(2)).await;
    s.product("crm", &[(42, "user")]).await;
    manager(&s, "olga", "olga@vendor.test").await;
    // Two addressees (client + the manager's copy) fill the quota.
    let (_, a) = client(&s, "a@client.test", json!({"manager": "olga"})).await;
    add_grant(&s, &a, 42, 1, None).await;
    s.smtp.wait_for("a@client.test", 20).await.expect("first");
    let (_, b) = client(&s, "b@client.test", json!({})).await;
    add_grant(&s, &b, 42, 1, None).await;
    settle().await;
    s.app().mail_queued.notify_one();
    settle().await;
    assert!(
        s.smtp.sent_to("b@client.test").is_empty(),
        "waits beyond the quota"
    );
    // A day later the quota has room again.
    s.clock.advance(time::Duration::hours(25));
    s.app().mail_queued.notify_one();
    s.smtp
        .wait_for("b@client.test", 20)
        .await
        .expect("sent a day later");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_nearly_exhausted_is_mailed_once_a_day() {
    let s = TestServer::start().await;
    s.product("crm", &[(42, "user")]).await;
    let (id, regnum) = client(&s, "buyer@client.test", json!({})).await;
    set_lang(&s, id, "en").await;
    add_grant(&s, &regnum, 42, 10, None).await;
    for i in 0..9 {
        assert_eq!(capture(&s, &regnum, 42, &format!("u{i}")).await, 201);
    }
    let m = wait_subject(&s, "buyer@client.test", "9 of 10 seats").await;
    assert!(m.subject().contains(&regnum));
    assert_eq!(capture(&s, &regnum, 42, "u9").await, 201);
    settle().await;
    assert_eq!(
        with_subject(&s, "buyer@client.test", "seats of feature").len(),
        1
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_outs_and_the_staff_mute_stop_reminders_and_alerts_but_not_codes() {
    let s = TestServer::start().await;
    s.product("crm", &[(42, "user")]).await;
    let (id, regnum) = client(&s, "buyer@client.test", json!({})).await;
    s.app()
        .store
        .write(move |tx| {
            let mut t = tx.open_table(tables::CLIENT_PREFS.def)?;
            let mut p = tables::CLIENT_PREFS.get(&t, id)?.unwrap_or_default();
            p.no_expiry_mail = true;
            p.alerts_muted = true;
            tables::CLIENT_PREFS.put(&mut t, id, &p)?;
            Ok(())
        })
        .await
        .expect("prefs");
    add_grant(&s, &regnum, 42, 1, Some(in_days(&s, 3))).await;
    s.smtp
        .wait_for("buyer@client.test", 20)
        .await
        .expect("grant mail");
    settle().await;
    assert_eq!(capture(&s, &regnum, 42, "a").await, 201);
    assert_eq!(capture(&s, &regnum, 42, "b").await, 409);
    s.clock.advance(time::Duration::hours(2));
    settle().await;
    settle().await;
    let ip: std::net::IpAddr = "127.0.0.8".parse().expect("ip");
    licd::service::cabinet::request_code(s.app(), ip, &regnum)
        .await
        .expect("code")
        .expect("not limited");
    s.smtp
        .wait_where(20, |m| {
            m.subject().contains("one-time code") || m.subject().contains("одноразовый")
        })
        .await
        .expect("codes always go");
    let subjects: Vec<String> = s.smtp.sent().iter().map(SentMail::subject).collect();
    assert_eq!(subjects.len(), 2, "grant + code only: {subjects:?}");
    s.stop().await;
}

/// kill -9 while the SMTP server has the message but has not answered: after the
/// restart the mail is not sent again. kill -9 before the message was handed over:
/// after the restart it is sent (not lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_between_send_and_mark_never_sends_twice_and_never_loses() {
    use crate::process::{Remote, serve_with, token};
    let sink = crate::kit::SmtpSink::start().await;
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let dir = tempfile::tempdir().expect("dir");
    let t = token(dir.path());
    let (mut child, url, _) = serve_with(dir.path(), &["--smtp", &smtp]);
    let r = Remote::new(dir.path(), url, t.clone());
    let (st, _) = r
        .call(Method::POST, "/api/admin/v1/products", Some(json!({"code": "crm", "name": "CRM", "features": [{"number": 42, "name": "Seats", "unit": "user"}]})))
        .await;
    assert_eq!(st, 201);
    let key_of = |email: &'static str| {
        let r = &r;
        async move {
            let (_, c) = r
                .call(
                    Method::POST,
                    "/api/admin/v1/clients",
                    Some(json!({"company": "A", "contact": "B", "phone": "1", "email": email})),
                )
                .await;
            let id = c["id"].as_u64().expect("id");
            let (_, k) = r
                .call(
                    Method::POST,
                    &format!("/api/admin/v1/clients/{id}/keys"),
                    None,
                )
                .await;
            k["regnum"].as_str().expect("regnum").to_owned()
        }
    };
    let grant = |regnum: String| {
        let r = &r;
        async move {
            let (st, _) = r
                .call(
                    Method::POST,
                    &format!("/api/admin/v1/keys/{regnum}/items"),
                    Some(json!({"product": "crm", "feature": 42, "seats": 1})),
                )
                .await;
            assert_eq!(st, 201);
        }
    };
    // 1. The sink keeps the message and never answers; kill -9 while the sender waits.
    sink.hold(Some(Step::Body));
    let a = key_of("first@client.test").await;
    grant(a.clone()).await;
    sink.wait_for("first@client.test", 20)
        .await
        .expect("handed over");
    child.kill().expect("kill -9");
    let _ = child.wait();
    sink.hold(None);
    // 2. Restart: the mail is not sent again.
    let (mut child, url, _) = serve_with(dir.path(), &["--smtp", &smtp]);
    let r = Remote::new(dir.path(), url, t.clone());
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(sink.sent_to("first@client.test").len(), 1, "not sent twice");
    // 3. Now the sink goes silent before the message (at MAIL FROM): kill -9 there.
    sink.hold(Some(Step::Mail));
    let sessions = sink.sessions.load(std::sync::atomic::Ordering::SeqCst);
    let (_, c) = r
        .call(Method::POST, "/api/admin/v1/clients", Some(json!({"company": "A", "contact": "B", "phone": "1", "email": "second@client.test"})))
        .await;
    let id = c["id"].as_u64().expect("id");
    let (_, k) = r
        .call(
            Method::POST,
            &format!("/api/admin/v1/clients/{id}/keys"),
            None,
        )
        .await;
    let b = k["regnum"].as_str().expect("regnum").to_owned();
    let (st, _) = r
        .call(
            Method::POST,
            &format!("/api/admin/v1/keys/{b}/items"),
            Some(json!({"product": "crm", "feature": 42, "seats": 1})),
        )
        .await;
    assert_eq!(st, 201);
    for _ in 0..100 {
        if sink.sessions.load(std::sync::atomic::Ordering::SeqCst) > sessions {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().expect("kill -9");
    let _ = child.wait();
    sink.hold(None);
    assert!(sink.sent_to("second@client.test").is_empty());
    let (mut child, _url, _) = serve_with(dir.path(), &["--smtp", &smtp]);
    let m = sink.wait_for("second@client.test", 30).await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        m.is_some(),
        "a mail not handed over is sent after the restart"
    );
    assert_eq!(sink.sent_to("second@client.test").len(), 1);
    assert_eq!(sink.sent_to("first@client.test").len(), 1);
}

/// Sets the vendor's default mail language (Settings), as the settings page would.
async fn vendor_lang(s: &TestServer, lang: &'static str) {
    s.app()
        .store
        .write(move |tx| {
            let mut st = licd::service::settings::read(tx)?;
            st.mail_lang = lang.into();
            licd::service::settings::write(tx, &st)?;
            Ok(())
        })
        .await
        .expect("settings");
}

/// Every event a client gets, in English and in Russian, from real calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_event_is_mailed_in_both_languages() {
    // (event, the subject's words in en, in ru)
    let expect: [(&str, &str, &str); 11] = [
        (
            "trial",
            "your registration number",
            "ваш регистрационный номер",
        ),
        ("email_taken", "already registered", "уже зарегистрирован"),
        ("coupon", "activated on key", "активирован на ключе"),
        ("grant", "Licenses added to key", "добавлены лицензии"),
        ("expiring", "expire in 5 days", "истекают через 5 дней"),
        ("expired", "have expired", "истекли"),
        (
            "denial",
            "License refused on key",
            "Отказ в лицензии по ключу",
        ),
        (
            "denials",
            "license refusals on key",
            "Отказов в лицензии по ключу",
        ),
        ("seats", "2 of 2 seats", "занято 2 из 2 мест"),
        ("cabinet_code", "your one-time code", "одноразовый код"),
        (
            "cabinet_link",
            "set your cabinet password",
            "пароль личного кабинета",
        ),
    ];
    for (i, lang) in ["en", "ru"].into_iter().enumerate() {
        let s = TestServer::start().await;
        vendor_lang(&s, lang).await;
        s.product("telephony", &[(48, "user")]).await;
        s.product("crm", &[(42, "user"), (43, "user")]).await;
        let email = format!("client-{lang}@client.test");
        // Trial, then 1058.
        let r = s
            .api(Method::POST, "/trial", Some(json!({"product": "telephony", "company": "Romashka", "contact": "Ivan", "phone": "1", "email": email, "host": format!("h{lang}")})))
            .await
            .expect(201);
        let regnum = r["regnum"].as_str().expect("regnum").to_owned();
        s.api(Method::POST, "/trial", Some(json!({"product": "telephony", "company": "Romashka", "contact": "Ivan", "phone": "1", "email": email, "host": "another"})))
            .await
            .expect_error(409, 1058);
        // A coupon, and a grant that ends in 10 days.
        let b = s
            .admin(
                Method::POST,
                "/coupons",
                Some(json!({"count": 1, "items": [{"product": "crm", "feature": 42, "seats": 2}]})),
            )
            .await
            .expect(201);
        s.api(
            Method::POST,
            "/activate",
            Some(json!({"regnum": regnum, "coupon": b["codes"][0]})),
        )
        .await
        .expect(200);
        add_grant(&s, &regnum, 43, 1, Some(in_days(&s, 10))).await;
        // Seats: both of the coupon's 2 seats in use; then refusals.
        settle().await;
        assert_eq!(capture(&s, &regnum, 42, "u1").await, 201);
        assert_eq!(capture(&s, &regnum, 42, "u2").await, 201);
        assert_eq!(capture(&s, &regnum, 42, "u3").await, 409);
        assert_eq!(capture(&s, &regnum, 42, "u4").await, 409);
        // Cabinet code and link.
        let ip: std::net::IpAddr = format!("127.0.1.{i}").parse().expect("ip");
        licd::service::cabinet::request_code(s.app(), ip, &regnum)
            .await
            .expect("code")
            .expect("not limited");
        licd::service::cabinet::request_password_link(s.app(), ip, &regnum)
            .await
            .expect("link")
            .expect("not limited");
        // An hour on: the summary; 5 days on: the 7-day reminder; 6 more: expired.
        settle().await;
        s.clock.advance(time::Duration::hours(1));
        wait_subject(
            &s,
            &email,
            if lang == "en" {
                "license refusals"
            } else {
                "Отказов"
            },
        )
        .await;
        s.clock.advance(time::Duration::days(5));
        wait_subject(
            &s,
            &email,
            if lang == "en" {
                "expire in 5 days"
            } else {
                "через 5 дней"
            },
        )
        .await;
        s.clock.advance(time::Duration::days(6));
        wait_subject(
            &s,
            &email,
            if lang == "en" {
                "have expired"
            } else {
                "истекли"
            },
        )
        .await;
        for (event, en, ru) in expect {
            let words = if lang == "en" { en } else { ru };
            let got = with_subject(&s, &email, words);
            assert_eq!(got.len(), 1, "{lang} {event}: one mail with {words:?}");
            let m = &got[0];
            let text = m.text();
            let cyrillic = text.chars().filter(|c| ('а'..='я').contains(c)).count();
            if lang == "en" {
                assert_eq!(cyrillic, 0, "{event}: English text: {text}");
            } else {
                assert!(cyrillic > 10, "{event}: Russian text: {text}");
            }
            assert!(
                m.html().contains(&format!("lang=\"{lang}\"")),
                "{event}: HTML alternative"
            );
            if event != "email_taken" {
                assert!(
                    m.subject().contains(&regnum) || event == "cabinet_code",
                    "{event}: {}",
                    m.subject()
                );
            }
        }
        s.stop().await;
    }
}

/// Each manager and distributor with an e-mail gets one digest a week of their clients'
/// grants ending within 30 days; nobody else's clients, and not twice in a week.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_and_distributors_get_a_weekly_expiry_digest() {
    let s = TestServer::start().await;
    // The digest waits for Monday 09:00 (UTC here): step past it when it is Monday morning.
    let now = s.clock.now();
    if now.weekday() == time::Weekday::Monday && now.hour() < 9 {
        s.clock.advance(time::Duration::hours(9));
    }
    s.product("crm", &[(42, "user")]).await;
    manager(&s, "olga", "olga@vendor.test").await;
    manager(&s, "ivan", "ivan@vendor.test").await;
    licd::service::distributors::create(s.app(), "north", "North Ltd", "sales@north.test")
        .await
        .expect("distributor");
    let (_, olgas) = client(&s, "o@client.test", json!({"manager": "olga"})).await;
    let (_, norths) = client(&s, "n@client.test", json!({"distributor": "north"})).await;
    let (_, later) = client(&s, "l@client.test", json!({"manager": "olga"})).await;
    add_grant(&s, &olgas, 42, 3, Some(in_days(&s, 20))).await;
    add_grant(&s, &norths, 42, 1, Some(in_days(&s, 25))).await;
    add_grant(&s, &later, 42, 1, Some(in_days(&s, 90))).await;
    // The digest goes at the job's next hourly look.
    s.clock.advance(time::Duration::hours(1));
    let d = wait_subject(&s, "olga@vendor.test", "Еженедельная сводка").await;
    let text = d.text();
    assert!(text.contains(&olgas), "{text}");
    assert!(!text.contains(&later) && !text.contains(&norths), "{text}");
    let n = wait_subject(&s, "sales@north.test", "Еженедельная сводка").await;
    assert!(n.text().contains(&norths));
    settle().await;
    assert!(
        with_subject(&s, "ivan@vendor.test", "сводка").is_empty(),
        "no clients, no digest"
    );
    // Not again this week; again next week.
    s.clock.advance(time::Duration::hours(1));
    settle().await;
    assert_eq!(
        with_subject(&s, "olga@vendor.test", "Еженедельная сводка").len(),
        1
    );
    s.clock.advance(time::Duration::days(7));
    s.smtp
        .wait_where(20, |m| {
            m.to.iter().any(|t| t == "olga@vendor.test")
                && m.subject().contains("Еженедельная сводка")
                && m.text().contains(&olgas)
                && m.data != d.data
        })
        .await
        .expect("next week's digest");
    s.stop().await;
}
