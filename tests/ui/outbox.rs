//! Mail from the back office: the Outbox page (list, filters, a mail's page, retry and
//! drop), SMTP set on the System page, the vendor's mail settings, the client's opt-outs
//! in its cabinet and the staff mute on the card — in a browser and over HTTPS.
use crate::cabinet::{fixture, mailed_code, sign_in};
use crate::kit::{Http, Server, SmtpSink};
use crate::webdriver::Driver;
use licd::domain::{MailState, Role};
use licd::service::{cabinet, outbox};
use std::net::IpAddr;

fn mails(s: &Server) -> Vec<licd::domain::Mail> {
    let tx = s.app().store.read().expect("read");
    outbox::list(&tx, &outbox::Filter::default(), None, 1000)
        .expect("list")
        .mails
}

/// The newest mail to `to` of `event`.
fn mail_of(s: &Server, event: &str, to: &str) -> licd::domain::Mail {
    mails(s)
        .into_iter()
        .find(|m| m.event == event && m.to.iter().any(|t| t == to))
        .unwrap_or_else(|| panic!("no {event} mail to {to}"))
}

/// The newest one-time code mail to `to`.
fn mail_to(s: &Server, to: &str) -> licd::domain::Mail {
    mail_of(s, "cabinet_code", to)
}

/// The mail the SMTP sink got for outbox mail `id` (its Message-ID names it).
async fn received(sink: &SmtpSink, id: u64) -> Option<crate::kit::SentMail> {
    let mark = format!("<licd.{id}.");
    for _ in 0..150 {
        if let Some(m) = sink.sent().into_iter().find(|m| m.data.contains(&mark)) {
            return Some(m);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    None
}

async fn wait_state(s: &Server, to: &str, sent: bool) -> licd::domain::Mail {
    for _ in 0..100 {
        let m = mail_to(s, to);
        if matches!(m.state, MailState::Sent(_)) == sent {
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("mail to {to} not sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_waits_for_smtp_set_on_the_system_page_in_a_browser() {
    let sink = SmtpSink::start().await;
    let s = Server::start().await;
    s.user("root", Role::Admin, "").await;
    let one = fixture(&s, "ООО Первая", "first@client.test").await;
    let two = fixture(&s, "ООО Вторая", "second@client.test").await;
    let url = s.url.clone();
    let driver = Driver::start().await;
    let b = driver.browser("en-US").await;

    // A client asks for a one-time code while no SMTP server is set: it is queued.
    b.go(&format!("{url}/cabinet/login")).await;
    b.click("details.more summary").await;
    b.type_in(
        "form[action='/cabinet/code'] input[name=login]",
        &one.regnum,
    )
    .await;
    b.click("form[action='/cabinet/code'] button").await;
    b.see("a one-time code was sent").await;
    let ip: IpAddr = [127, 0, 0, 2].into();
    cabinet::request_code(s.app(), ip, &two.regnum)
        .await
        .expect("code")
        .expect("not limited");
    assert_eq!(mail_to(&s, "first@client.test").state, MailState::Queued);

    // The Outbox lists both, queued, newest first; filters by recipient and state.
    crate::login(&b, &url, "root", "password123").await;
    b.click("nav.main a[href='/outbox']").await;
    b.see("Outbox").await;
    b.see("first@client.test").await;
    b.see("second@client.test").await;
    let all = mails(&s).len();
    assert!(all >= 2, "the codes and the mail of the keys' grants");
    assert_eq!(b.count("main tbody tr").await, all);
    assert!(
        b.text().await.find("second@client.test").expect("second")
            < b.text().await.find("first@client.test").expect("first"),
        "newest first"
    );
    b.screenshot("40-outbox-queued").await;
    b.type_in("form[role=search] input[name=to]", "FIRST@")
        .await;
    b.click("form[role=search] button[type=submit]").await;
    b.see("first@client.test").await;
    let to_first = mails(&s)
        .iter()
        .filter(|m| m.to.iter().any(|t| t == "first@client.test"))
        .count();
    assert_eq!(b.count("main tbody tr").await, to_first);
    assert!(!b.text().await.contains("second@client.test"));
    b.go(&format!("{url}/outbox?state=sent")).await;
    b.see("No mail matches.").await;

    // The first mail's page: its text, its HTML in a sandboxed frame. Retry now keeps it
    // queued (there is still no server).
    let first = mail_to(&s, "first@client.test");
    b.go(&format!("{url}/outbox/{}", first.id)).await;
    b.see("Ваш одноразовый код").await;
    assert_eq!(b.count("iframe.mail-html[sandbox='']").await, 1);
    b.enter_frame("iframe.mail-html").await;
    b.see("Ваш одноразовый код для входа в личный кабинет")
        .await;
    b.leave_frame().await;
    b.screenshot("41-outbox-mail").await;
    b.click(&format!(
        "form[action='/outbox/{}/retry'] button[type=submit]",
        first.id
    ))
    .await;
    b.see("Queued to go now.").await;

    // The second is dropped: never sent.
    let second = mail_to(&s, "second@client.test");
    b.go(&format!("{url}/outbox/{}", second.id)).await;
    b.click(&format!(
        "form[action='/outbox/{}/drop'] button[type=submit]",
        second.id
    ))
    .await;
    b.see("Dropped: it will not be sent.").await;
    assert!(matches!(
        mail_to(&s, "second@client.test").state,
        MailState::Dropped(_)
    ));
    assert_eq!(
        b.count(&format!("form[action='/outbox/{}/drop']", second.id))
            .await,
        0,
        "nothing to drop any more"
    );

    // SMTP set on the System page: the waiting mail goes out.
    b.go(&format!("{url}/system")).await;
    b.see("not configured: mail waits in the outbox").await;
    let form = "form[action='/system/smtp']";
    b.type_in(&format!("{form} input[name=host]"), "127.0.0.1")
        .await;
    b.type_in(&format!("{form} input[name=port]"), &sink.port.to_string())
        .await;
    b.click(&format!("{form} select[name=security] option[value=none]"))
        .await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.see("Saved.").await;
    b.see(&format!("smtp://127.0.0.1:{}", sink.port)).await;
    b.screenshot("42-system-smtp").await;
    let got = received(&sink, first.id)
        .await
        .expect("the queued mail is sent");
    assert_eq!(got.to, vec!["first@client.test".to_owned()]);
    assert!(got.text().contains("одноразовый код"), "{}", got.text());
    let first = wait_state(&s, "first@client.test", true).await;
    assert!(first.last_error.contains("250"), "{}", first.last_error);
    b.go(&format!("{url}/outbox?state=sent")).await;
    b.see("first@client.test").await;
    b.see("250 2.0.0 queued").await;
    // The code went to the client only: once sent, staff never read it again.
    let code = got
        .text()
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 8)
        .expect("an 8-digit code in the mail")
        .to_owned();
    assert!(!b.text().await.contains(&code), "the code is masked");
    b.go(&format!("{url}/outbox/{}", first.id)).await;
    assert!(!b.text().await.contains(&code), "the code is masked");
    let stored = mail_to(&s, "first@client.test");
    assert!(
        !stored.text.contains(&code) && !stored.subject.contains(&code),
        "the stored mail forgot the code: {}",
        stored.text
    );
    b.go(&format!("{url}/outbox?state=sent")).await;
    b.screenshot("43-outbox-sent").await;
    // The other client's grant mail went too, its dropped code did not.
    let grant = mail_of(&s, "grant", "second@client.test");
    assert!(received(&sink, grant.id).await.is_some());
    let mark = format!("<licd.{}.", second.id);
    assert!(
        sink.sent().iter().all(|m| !m.data.contains(&mark)),
        "a dropped mail is not sent"
    );

    // All of it is in the audit log.
    b.go(&format!("{url}/audit")).await;
    b.see("mail_retry").await;
    b.see("mail_drop").await;
    b.see("smtp_settings").await;
    b.close().await;
    drop(driver);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_and_smtp_forms_need_an_admin_and_the_token_and_hide_the_password() {
    let s = Server::start().await;
    s.user("root", Role::Admin, "").await;
    s.user("mgr", Role::Manager, "").await;
    let one = fixture(&s, "ООО Первая", "first@client.test").await;
    cabinet::request_code(s.app(), [127, 0, 0, 3].into(), &one.regnum)
        .await
        .expect("code")
        .expect("not limited");
    let id = mail_to(&s, "first@client.test").id;

    let mut m = Http::new(&s);
    m.login("mgr", "password123").await;
    let csrf = m.get("/clients").await.csrf();
    assert_eq!(m.get("/outbox").await.status, 403);
    assert_eq!(m.get(&format!("/outbox/{id}")).await.status, 403);
    for action in [
        format!("/outbox/{id}/retry"),
        format!("/outbox/{id}/drop"),
        "/system/smtp".to_owned(),
    ] {
        let p = m.post(&action, &[("csrf", &csrf), ("host", "x")]).await;
        assert_eq!(p.status, 403, "manager posting {action}");
    }

    let mut h = Http::new(&s);
    h.login("root", "password123").await;
    let page = h.get(&format!("/outbox/{id}")).await;
    assert_eq!(page.status, 200);
    // The HTML is only in the frame's srcdoc, escaped; the page's policy lets the frame
    // show the mail's inline styles and nothing more.
    assert!(page.body.contains("srcdoc=\"&lt;!DOCTYPE html&gt;"));
    assert!(!page.body.contains("<body style="));
    let csp = page.headers["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(
        csp.contains("style-src 'self' 'unsafe-inline'") && !csp.contains("script"),
        "{csp}"
    );
    assert!(
        !h.get("/outbox").await.headers["content-security-policy"]
            .to_str()
            .expect("csp")
            .contains("unsafe-inline"),
        "other pages keep the strict policy"
    );
    let csrf = page.csrf();
    // Without the token nothing changes.
    for action in [
        format!("/outbox/{id}/retry"),
        format!("/outbox/{id}/drop"),
        "/system/smtp".to_owned(),
    ] {
        let p = h.post(&action, &[("csrf", "nope"), ("host", "x")]).await;
        assert_eq!(p.status, 403, "{action} without the token");
    }
    assert_eq!(mail_to(&s, "first@client.test").state, MailState::Queued);
    let stored = || {
        licd::service::mail::smtp_settings(&s.app().store.read().expect("read"))
            .expect("smtp")
            .url
    };
    assert_eq!(stored(), "");
    // An unknown mail is not found; a dropped one cannot be retried.
    assert_eq!(
        h.post("/outbox/999/retry", &[("csrf", &csrf)]).await.status,
        404
    );
    let p = h
        .post(&format!("/outbox/{id}/drop"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        (p.status, p.location()),
        (303, format!("/outbox/{id}?done=dropped").as_str())
    );
    assert_eq!(
        h.post(&format!("/outbox/{id}/retry"), &[("csrf", &csrf)])
            .await
            .status,
        409
    );

    // SMTP with a password: saved, never shown back; editing the port keeps it; it can
    // be removed.
    let smtp = |host: &'static str, port: &'static str, password: &'static str| {
        vec![
            ("host", host),
            ("port", port),
            ("security", "starttls"),
            ("user", "licd@vendor.test"),
            ("password", password),
        ]
    };
    let mut f = smtp("smtp.vendor.test", "", "s3cret pass");
    f.insert(0, ("csrf", csrf.as_str()));
    let p = h.post("/system/smtp", &f).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        stored(),
        "smtp://licd%40vendor.test:s3cret%20pass@smtp.vendor.test?tls=required"
    );
    let page = h.get("/system").await;
    assert!(!page.body.contains("s3cret"), "the password is not shown");
    assert!(
        page.body
            .contains("smtp://licd%40vendor.test:***@smtp.vendor.test")
    );
    let mut f = smtp("smtp.vendor.test", "2525", "");
    f.insert(0, ("csrf", csrf.as_str()));
    assert_eq!(h.post("/system/smtp", &f).await.status, 303);
    assert_eq!(
        stored(),
        "smtp://licd%40vendor.test:s3cret%20pass@smtp.vendor.test:2525?tls=required",
        "an empty password keeps the stored one"
    );
    // A refused form keeps what was typed (not the password) and changes nothing.
    let mut f = smtp("smtp.other.test", "99999", "new one");
    f.insert(0, ("csrf", csrf.as_str()));
    let p = h.post("/system/smtp", &f).await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("От 1 до 65535") && p.body.contains("value=\"smtp.other.test\""));
    assert!(!p.body.contains("new one"));
    let mut f = smtp("bad host", "", "");
    f.insert(0, ("csrf", csrf.as_str()));
    assert_eq!(h.post("/system/smtp", &f).await.status, 400);
    assert!(stored().ends_with("@smtp.vendor.test:2525?tls=required"));
    let mut f = smtp("smtp.vendor.test", "2525", "");
    f.insert(0, ("csrf", csrf.as_str()));
    f.push(("forget_password", "1"));
    assert_eq!(h.post("/system/smtp", &f).await.status, 303);
    assert_eq!(
        stored(),
        "smtp://licd%40vendor.test@smtp.vendor.test:2525?tls=required"
    );
    // An empty host: no server.
    let mut f = smtp("", "", "");
    f.insert(0, ("csrf", csrf.as_str()));
    assert_eq!(h.post("/system/smtp", &f).await.status, 303);
    assert_eq!(stored(), "");
    s.stop().await;
}

fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Queues a denial alert about `client` (as the denial job will): `None` when the
/// client turned alerts off or staff muted them.
async fn queue_alert(s: &Server, client: u64, key: &str) -> Option<u64> {
    let app = s.app().clone();
    let env = app.mail_env();
    let now = app.now();
    let key = key.to_owned();
    app.store
        .write(move |tx| {
            let c = licd::service::clients::load(tx, client)?.expect("client");
            let event = licd::mail::Event::Denial {
                regnum: "LIC-X".into(),
                feature: 48,
                feature_name: "PROF".into(),
                code: 1051,
                host: "PC".into(),
                user: "u".into(),
                at: now,
            };
            Ok(licd::service::mail::to_client(
                tx, &env, now, &c, &event, &key,
            )?)
        })
        .await
        .expect("queue")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_mail_settings_client_opt_outs_and_the_staff_mute() {
    let sink = SmtpSink::start().await;
    let s = Server::start_mailing(&sink).await;
    s.user("root", Role::Admin, "").await;
    s.user("mgr1", Role::Manager, "").await;
    s.user("mgr2", Role::Manager, "").await;
    let f = fixture(&s, "ООО Тихая", "buyer@quiet.test").await;
    licd::service::clients::update(
        s.app(),
        f.client,
        licd::service::clients::ClientInput {
            manager: Some("mgr1".into()),
            ..Default::default()
        },
    )
    .await
    .expect("manager");
    let settings =
        || licd::service::settings::read(&s.app().store.read().expect("read")).expect("settings");
    let prefs = || cabinet::prefs(&s.app().store.read().expect("read"), f.client).expect("prefs");

    let mut h = Http::new(&s);
    h.login("root", "password123").await;
    // --smtp wins: the System page says so and its SMTP form is locked.
    let page = h.get("/system").await;
    assert!(page.body.contains("Задан флагом --smtp"), "config wins");
    assert!(
        page.body
            .contains("<fieldset class=\"fields wide\" disabled>")
    );
    let csrf = page.csrf();
    let p = h
        .post(
            "/system/smtp",
            &[("csrf", &csrf), ("host", "elsewhere.test")],
        )
        .await;
    assert_eq!(p.status, 409);

    // Vendor settings: reminder days (kept largest first) and the mail language.
    let settings_form = |csrf: &str, days: &str| -> Vec<(String, String)> {
        [
            ("csrf", csrf),
            ("vendor_name", "Вендор"),
            ("regnum_prefix", "LIC"),
            ("offline_license_days", "7"),
            ("mail_from", "lic@vendor.test"),
            ("expiry_days", days),
            ("mail_lang", "en"),
            ("extra_fields", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let bad = settings_form(&csrf, "0, 400");
    let p = h.post("/settings", &pairs(&bad)).await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("От 1 до 5 чисел дней") && p.body.contains("value=\"0, 400\""));
    assert_eq!(
        h.post("/settings", &pairs(&settings_form("nope", "1, 30,7")))
            .await
            .status,
        403
    );
    assert_eq!(settings().expiry_days, vec![30, 7, 1]);
    assert_eq!(settings().mail_lang, "ru");
    let ok = settings_form(&csrf, "1, 14 ,60");
    assert_eq!(h.post("/settings", &pairs(&ok)).await.status, 303);
    assert_eq!(
        (settings().expiry_days, settings().mail_lang),
        (vec![60, 14, 1], "en".to_owned())
    );
    let six = settings_form(&csrf, "1,2,3,4,5,6");
    assert_eq!(h.post("/settings", &pairs(&six)).await.status, 400);
    let page = h.get("/settings").await;
    assert!(page.body.contains("value=\"60, 14, 1\""));
    assert!(page.body.contains("<option value=\"en\" selected>"));

    // The client turns alerts and release news off in its cabinet.
    let mut c = Http::new(&s);
    let form = c.get("/cabinet/login").await;
    c.post(
        "/cabinet/code",
        &[("csrf", &form.csrf()), ("login", &f.regnum)],
    )
    .await;
    let code = mailed_code(&sink, &f.email, 0).await;
    for m in sink.sent() {
        eprintln!("MAIL {:?}\n{}", m.to, m.text());
    }
    assert_eq!(sign_in(&mut c, &f.regnum, &code).await.status, 303);
    let page = c.get("/cabinet/settings").await;
    assert!(
        page.body
            .contains("Одноразовые коды и ссылки для пароля приходят всегда")
    );
    let ccsrf = page.csrf();
    let choice = [
        ("lang", ""),
        ("alert_email", ""),
        ("mail_choices", "1"),
        ("no_alert_mail", "1"),
        ("no_release_mail", "1"),
    ];
    let mut f1 = vec![("csrf", "nope")];
    f1.extend(choice);
    assert_eq!(c.post("/cabinet/settings", &f1).await.status, 403);
    assert_eq!(prefs(), Default::default());
    assert!(queue_alert(&s, f.client, "a1").await.is_some(), "alerts on");
    let mut f1 = vec![("csrf", ccsrf.as_str())];
    f1.extend(choice);
    assert_eq!(c.post("/cabinet/settings", &f1).await.status, 303);
    let p = prefs();
    assert!(p.no_alert_mail && p.no_release_mail && !p.no_expiry_mail && !p.alerts_muted);
    assert!(
        queue_alert(&s, f.client, "a2").await.is_none(),
        "turned off"
    );
    // The header's language switch leaves them as they are.
    let back = c
        .post(
            "/cabinet/lang",
            &[
                ("csrf", &ccsrf),
                ("lang", "en"),
                ("back", "/cabinet/settings"),
            ],
        )
        .await;
    assert_eq!(back.status, 303);
    let p = prefs();
    assert!(p.no_alert_mail && p.no_release_mail && p.lang == "en");
    let page = c.get("/cabinet/settings").await;
    assert!(
        page.body
            .contains("name=\"no_alert_mail\" value=\"1\" checked")
    );
    assert!(
        !page
            .body
            .contains("name=\"no_expiry_mail\" value=\"1\" checked")
    );

    // The card shows the client's choices; only an admin or the client's own manager
    // mutes its alerts.
    let card = h.get(&format!("/clients/{}", f.client)).await;
    assert_eq!(card.body.matches("отключено клиентом").count(), 2);
    let mut m2 = Http::new(&s);
    m2.login("mgr2", "password123").await;
    let m2csrf = m2.get("/clients").await.csrf();
    let mute = format!("/clients/{}/mail", f.client);
    assert_eq!(
        m2.post(&mute, &[("csrf", &m2csrf), ("alerts_muted", "1")])
            .await
            .status,
        403
    );
    let mut m1 = Http::new(&s);
    m1.login("mgr1", "password123").await;
    let m1csrf = m1.get("/clients").await.csrf();
    assert_eq!(
        m1.post(&mute, &[("csrf", "nope"), ("alerts_muted", "1")])
            .await
            .status,
        403
    );
    assert!(!prefs().alerts_muted);
    let p = m1
        .post(&mute, &[("csrf", &m1csrf), ("alerts_muted", "1")])
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = prefs();
    assert!(
        p.alerts_muted && p.no_alert_mail,
        "the client's own choice stays"
    );
    let card = m1.get(&format!("/clients/{}", f.client)).await;
    assert!(
        card.body
            .contains("name=\"alerts_muted\" value=\"1\" checked")
    );
    // The client turns alerts on again: staff's mute still holds them back.
    let mut f1 = vec![("csrf", ccsrf.as_str())];
    f1.extend([("lang", "en"), ("alert_email", ""), ("mail_choices", "1")]);
    assert_eq!(c.post("/cabinet/settings", &f1).await.status, 303);
    assert!(!prefs().no_alert_mail && prefs().alerts_muted);
    assert!(queue_alert(&s, f.client, "a3").await.is_none(), "muted");
    assert_eq!(h.post(&mute, &[("csrf", &csrf)]).await.status, 303);
    assert!(!prefs().alerts_muted);
    assert!(queue_alert(&s, f.client, "a4").await.is_some(), "unmuted");

    let audit = h.get("/audit").await.body;
    assert!(audit.contains("client_mail_mute") && audit.contains("alerts muted"));
    assert!(audit.contains("cabinet_settings") && audit.contains("no_alert_mail=true"));
    s.stop().await;
}
