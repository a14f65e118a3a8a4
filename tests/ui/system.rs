//! The System page: in a browser (backups, test mail, settings), and over HTTPS (roles,
//! certificate replacement without a restart, the configuration winning).
use crate::kit::{Http, Server, SmtpSink};
use crate::webdriver::Driver;
use licd::domain::Role;
use redb::ReadableDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_page_in_a_browser() {
    let sink = SmtpSink::start().await;
    let s = Server::start_mailing(&sink).await;
    s.user("root", Role::Admin, "").await;
    let driver = Driver::start().await;
    let b = driver.browser("ru-RU").await;
    crate::login(&b, &s.url, "root", "password123").await;
    b.go(&format!("{}/system", s.url)).await;
    b.see("Система").await;
    b.see(&format!("licd {}", env!("CARGO_PKG_VERSION"))).await;
    b.see("Свободно на диске").await;
    b.see("пока нет").await;
    b.screenshot("30-system").await;

    // Back up now: the copy is listed with its size.
    b.click("form[action='/system/backup'] button[type=submit]")
        .await;
    b.see("Копия создана и проверена").await;
    assert_eq!(b.count("#backups tbody tr").await, 1);
    let folder = s.dir.path().join("backups");
    let name = licd::service::backups::list(&folder)[0].name.clone();
    b.see(&name).await;
    assert!(
        name.starts_with("licd-") && name.ends_with("-manual.redb"),
        "{name}"
    );

    // A test mail reaches the SMTP server, and the page says what it answered.
    b.type_in(
        "form[action='/system/test-mail'] input[name=to]",
        "ops@vendor.test",
    )
    .await;
    b.click("form[action='/system/test-mail'] button[type=submit]")
        .await;
    b.see("Ответ SMTP-сервера").await;
    let mail = sink
        .wait_for("ops@vendor.test", 10)
        .await
        .expect("test mail");
    assert!(
        mail.text().contains("test mail from licd"),
        "{}",
        mail.text()
    );

    // Backup settings: a bad window is refused with what was typed kept, then saved.
    let form = "form[action='/system/backup-settings']";
    b.type_in(&format!("{form} input[name=window]"), "25:00-26:00")
        .await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.see("is not a time of day").await;
    assert_eq!(
        b.value(&format!("{form} input[name=window]")).await,
        "25:00-26:00"
    );
    // A window far from now: the scheduled copy must not run in the middle of the test
    // (a fixed 01:30-02:30 made a third copy when the test ran at 02:04).
    let zone = licd::service::backups::policy(s.app())
        .expect("policy")
        .timezone;
    let zone = licd::service::backups::zone(&zone).expect("zone");
    let hour = licd::service::backups::local(s.clock.now(), &zone).1 / 60;
    let start = if hour < 12 { hour + 11 } else { hour - 12 };
    let window = format!("{start:02}:30-{:02}:30", start + 1);
    b.type_in(&format!("{form} input[name=window]"), &window)
        .await;
    b.type_in(&format!("{form} input[name=keep]"), "3").await;
    b.click(&format!(
        "{form} select[name=compression] option[value=gzip]"
    ))
    .await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.see("Сохранено.").await;
    assert_eq!(b.value(&format!("{form} input[name=window]")).await, window);
    let policy = licd::service::backups::policy(s.app()).expect("policy");
    assert_eq!(policy.keep, 3);
    assert_eq!(policy.compression, licd::ops::archive::Compression::Gzip);
    b.screenshot("31-system-saved").await;

    // The next copy is compressed; both are listed, newest first.
    b.click("form[action='/system/backup'] button[type=submit]")
        .await;
    b.see("Копия создана и проверена").await;
    assert_eq!(b.count("#backups tbody tr").await, 2);
    let newest = licd::service::backups::list(&folder)[0].name.clone();
    assert!(newest.ends_with(".redb.gz"), "{newest}");
    b.see(&newest).await;
    b.close().await;
    drop(driver);

    // The download is the verified copy: it opens as a licd database.
    let mut h = Http::new(&s);
    h.login("root", "password123").await;
    let r = h
        .client
        .get(format!("{}/system/backups/{name}", s.url))
        .header(
            "Cookie",
            h.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
        .send()
        .await
        .expect("download");
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.expect("body");
    let tmp = tempfile::tempdir().expect("dir");
    let path = tmp.path().join("copy.redb");
    std::fs::write(&path, &bytes).expect("write");
    let db = redb::ReadOnlyDatabase::open(&path).expect("a redb file");
    let tx = db.begin_read().expect("read");
    assert!(licd::store::backup::count_rows(&tx).expect("rows") > 0);
    // Names outside the folder are not served.
    let p = h.get("/system/backups/..%2Flicd.redb").await;
    assert_eq!(p.status, 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificate_is_replaced_without_a_restart_and_only_by_an_admin() {
    let s = Server::start_with(|a| a.backup_keep = Some(4)).await;
    s.user("root", Role::Admin, "").await;
    s.user("mgr", Role::Manager, "").await;
    let mut m = Http::new(&s);
    m.login("mgr", "password123").await;
    assert_eq!(m.get("/system").await.status, 403);

    let mut h = Http::new(&s);
    h.login("root", "password123").await;
    let page = h.get("/system").await;
    assert_eq!(page.status, 200);
    // The configuration's keep wins: shown locked, and a posted value does not change it.
    assert!(page.body.contains("задано в конфигурации"), "locked field");
    let csrf = page.csrf();
    let p = h
        .post(
            "/system/backup-settings",
            &[
                ("csrf", &csrf),
                ("window", "off"),
                ("keep", "9"),
                ("timezone", ""),
                ("dir", ""),
                ("compression", "none"),
                ("ops_email", ""),
                ("mail_daily_quota", "500"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let policy = licd::service::backups::policy(s.app()).expect("policy");
    assert_eq!(
        (policy.keep, policy.window, policy.mail_daily_quota),
        (4, None, 500)
    );

    // A new certificate for 127.0.0.1, and a key that does not match it.
    let fresh = rcgen::generate_simple_self_signed(vec![
        "127.0.0.1".to_owned(),
        "replaced.test".to_owned(),
    ])
    .expect("cert");
    let other = rcgen::generate_simple_self_signed(vec!["other.test".to_owned()]).expect("cert");
    let p = h
        .post(
            "/system/tls",
            &[
                ("csrf", &csrf),
                ("cert", &fresh.cert.pem()),
                ("key", &other.signing_key.serialize_pem()),
            ],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("подходящим закрытым ключом"), "{}", p.body);
    let p = h
        .post(
            "/system/tls",
            &[
                ("csrf", &csrf),
                ("cert", &fresh.cert.pem()),
                ("key", &fresh.signing_key.serialize_pem()),
            ],
        )
        .await;
    assert_eq!(
        (p.status, p.location()),
        (303, "/system?done=saved#tls"),
        "{}",
        p.body
    );

    // A client that trusts only the new certificate connects: it is served now.
    let tmp = tempfile::tempdir().expect("dir");
    let ca = tmp.path().join("new.pem");
    std::fs::write(&ca, fresh.cert.pem()).expect("write");
    let tls = licd::http::tls::client_config(Some(&ca), false).expect("tls");
    let c = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .expect("client");
    let r = c
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .expect("new certificate served");
    assert_eq!(r.status(), 200);
    let page = h.get("/system").await;
    assert!(
        page.body.contains("replaced.test"),
        "the page shows the new certificate"
    );
    // And it is kept for the next start.
    let kept = std::fs::read_to_string(s.dir.path().join("tls/cert.pem")).expect("cert");
    assert_eq!(kept, fresh.cert.pem());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signing_key_is_rotated_from_the_system_page() {
    let s = Server::start().await;
    s.user("root", Role::Admin, "").await;
    let old = s.app().signer.public_key_b64();
    let driver = Driver::start().await;
    let b = driver.browser("en-US").await;
    crate::login(&b, &s.url, "root", "password123").await;
    b.go(&format!("{}/system", s.url)).await;
    b.see("Signing key").await;
    b.see(&old).await;
    assert_eq!(b.count("#signing tbody tr").await, 1);
    // The box must be ticked (the browser enforces it; the server too).
    b.click("#signing input[name=confirm]").await;
    b.click("form[action='/system/signing-rotate'] button[type=submit]")
        .await;
    b.see("Saved.").await;
    assert_eq!(b.count("#signing tbody tr").await, 2);
    let new = s.app().signer.public_key_b64();
    assert_ne!(new, old);
    b.see(&new).await;
    b.see("previous").await;
    b.screenshot("50-system-signing").await;
    b.close().await;
    drop(driver);
    s.stop().await;
}
