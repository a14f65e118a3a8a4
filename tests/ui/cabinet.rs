//! The client cabinet over plain HTTPS (no browser): sign-in by code, password link and
//! coupon, the limits on guessing, the cookie, CSRF, a client kept to its own keys, and
//! the self-service limit. The browser tests in `main.rs` walk the same screens.
use crate::kit::{Http, Page, Server, SmtpSink};
use licd::domain::Unit;
use licd::service::clients::ClientInput;
use licd::service::coupons::{ActivateInput, NewCouponItem, NewCoupons};
use licd::service::keys::NewGrant;
use licd::service::products::{NewFeature, NewProduct};
use licd::service::{cabinet, clients, coupons, keys, leases, products};

/// A client with a key of product CRM (feature 31 per host, 48 per user).
pub struct Fixture {
    pub client: u64,
    pub regnum: String,
    pub email: String,
}

pub async fn fixture(s: &Server, company: &str, email: &str) -> Fixture {
    if products::by_code(&s.app().store.read().expect("read"), "CRM")
        .expect("product")
        .is_none()
    {
        products::create(
            s.app(),
            NewProduct {
                code: "CRM".into(),
                name: "Интеграция с 1С".into(),
                heartbeat_s: None,
                features: vec![
                    NewFeature {
                        number: 31,
                        name: "Журнал звонков".into(),
                        unit: Unit::Host,
                    },
                    NewFeature {
                        number: 48,
                        name: "Сеанс PROF в 1С".into(),
                        unit: Unit::User,
                    },
                ],
                trial: None,
            },
        )
        .await
        .expect("product");
    }
    let client = clients::create(
        s.app(),
        ClientInput {
            company: Some(company.into()),
            contact: Some("Иван".into()),
            email: Some(email.into()),
            ..Default::default()
        },
    )
    .await
    .expect("client")
    .id;
    let regnum = keys::create_for_client(s.app(), client).await.expect("key");
    for (feature, seats) in [(31, 2), (48, 5)] {
        keys::add_grant(
            s.app(),
            &regnum,
            NewGrant {
                product: "CRM".into(),
                feature,
                seats,
                expires_at: None,
            },
        )
        .await
        .expect("grant");
    }
    Fixture {
        client,
        regnum,
        email: email.into(),
    }
}

/// A capture as a protected app makes it (refused ones count as denials).
pub async fn try_capture(
    s: &Server,
    regnum: &str,
    feature: u32,
    host: &str,
    user: &str,
) -> licd::error::AppResult<leases::Captured> {
    leases::capture(
        s.app(),
        leases::CaptureInput {
            regnum: regnum.into(),
            feature,
            host: host.into(),
            database: Some("Бухгалтерия".into()),
            user: (!user.is_empty()).then(|| user.into()),
            session: None,
            app: Some("crm".into()),
            version: Some("1.2".into()),
        },
    )
    .await
}

pub async fn capture(s: &Server, regnum: &str, feature: u32, host: &str, user: &str) -> String {
    leases::capture(
        s.app(),
        leases::CaptureInput {
            regnum: regnum.into(),
            feature,
            host: host.into(),
            database: Some("Бухгалтерия".into()),
            user: Some(user.into()),
            session: None,
            app: Some("crm".into()),
            version: Some("1.2".into()),
        },
    )
    .await
    .expect("capture")
    .lease
}

/// The 8-digit code of the newest code mail to `to`.
pub async fn mailed_code(sink: &SmtpSink, to: &str, nth: usize) -> String {
    for _ in 0..100 {
        let mails: Vec<_> = sink
            .sent()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .filter(|m| {
                let t = m.text();
                t.contains("one-time code") || t.contains("одноразовый код")
            })
            .collect();
        if let Some(m) = mails.get(nth) {
            let text = m.text();
            let at = text.find("\n\n").expect("body");
            let digits: String = text[at..]
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take(8)
                .collect();
            assert_eq!(digits.len(), 8, "{text}");
            return digits;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no code mail {nth} to {to}");
}

/// The password link of the newest link mail to `to` (its path).
pub async fn mailed_link(sink: &SmtpSink, to: &str) -> String {
    for _ in 0..100 {
        if let Some(m) = sink
            .sent()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .find(|m| m.text().contains("/cabinet/password/"))
        {
            let text = m.text();
            let at = text.find("/cabinet/password/").expect("link");
            return text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/-_".contains(*c))
                .collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no link mail to {to}");
}

pub async fn sign_in(h: &mut Http, login: &str, password: &str) -> Page {
    let form = h.get("/cabinet/login").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form.csrf();
    h.post(
        "/cabinet/login",
        &[("csrf", &csrf), ("login", login), ("password", password)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_sign_in_is_single_use_and_the_cookie_is_the_cabinets_own() {
    let sink = SmtpSink::start().await;
    let s = Server::start_mailing(&sink).await;
    let f = fixture(&s, "ООО Ромашка", "buyer@romashka.test").await;
    let mut h = Http::new(&s);

    // Without a session every tab sends to the sign-in.
    let p = h.get("/cabinet/keys").await;
    assert_eq!((p.status, p.location()), (303, "/cabinet/login"));

    // Ask for a code (the number typed in lower case, with spaces).
    let form = h.get("/cabinet/login").await;
    let csrf = form.csrf();
    let typed = format!("  {}  ", f.regnum.to_lowercase());
    let p = h
        .post("/cabinet/code", &[("csrf", &csrf), ("login", &typed)])
        .await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("одноразовый код отправлен"), "{}", p.body);
    let code = mailed_code(&sink, &f.email, 0).await;
    // An unknown number gets the very same answer and no mail.
    let p = h
        .post(
            "/cabinet/code",
            &[("csrf", &csrf), ("login", "LIC-AAAAA-BBBBB-CCCCC-DDDDD")],
        )
        .await;
    assert!(p.body.contains("одноразовый код отправлен"));

    let p = sign_in(&mut h, &f.regnum, &code).await;
    assert_eq!((p.status, p.location()), (303, "/cabinet/statistics"));
    let cookie = p
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("licd_cabinet="))
        .expect("cabinet cookie")
        .to_owned();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/cabinet"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let keys_page = h.get("/cabinet/keys").await;
    assert_eq!(keys_page.status, 200);
    assert!(keys_page.body.contains(&f.regnum));
    assert!(keys_page.body.contains("Журнал звонков"));
    // The cabinet session is not a staff session.
    let staff = h.get("/clients").await;
    assert_eq!((staff.status, staff.location()), (303, "/login"));

    // The code was spent.
    let mut other = Http::new(&s);
    let p = sign_in(&mut other, &f.regnum, &code).await;
    assert_eq!(p.status, 401);
    assert!(
        p.body
            .contains("Неверный регистрационный номер, пароль или код")
    );

    // A form without the session's CSRF token is refused; with it, sign out works.
    let p = h.post("/cabinet/logout", &[("csrf", "nope")]).await;
    assert_eq!(p.status, 403);
    let page = h.get("/cabinet/settings").await;
    let p = h.post("/cabinet/logout", &[("csrf", &page.csrf())]).await;
    assert_eq!(p.location(), "/cabinet/login?done=out");
    let p = h.get("/cabinet/keys").await;
    assert_eq!(p.status, 303);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_link_coupon_and_lockout() {
    let sink = SmtpSink::start().await;
    let s = Server::start_mailing(&sink).await;
    let f = fixture(&s, "ООО Лютик", "it@lutik.test").await;
    let mut h = Http::new(&s);

    // No password yet: a wrong one is refused.
    let p = sign_in(&mut h, &f.regnum, "something long").await;
    assert_eq!(p.status, 401);

    // The mailed link sets it, once.
    let form = h.get("/cabinet/password").await;
    let p = h
        .post(
            "/cabinet/password",
            &[("csrf", &form.csrf()), ("login", &f.regnum)],
        )
        .await;
    assert_eq!(p.status, 200);
    let link = mailed_link(&sink, &f.email).await;
    let form = h.get(&link).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let short = h
        .post(
            &link,
            &[
                ("csrf", &form.csrf()),
                ("password", "short"),
                ("password2", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, 422);
    assert!(short.body.contains("Не короче 10 символов"));
    let p = h
        .post(
            &link,
            &[
                ("csrf", &form.csrf()),
                ("password", "correct horse battery"),
                ("password2", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(p.location(), "/cabinet/login?done=password");
    assert_eq!(h.get(&link).await.status, 404, "the link is spent");
    let p = sign_in(&mut h, &f.regnum, "correct horse battery").await;
    assert_eq!(p.location(), "/cabinet/statistics");
    assert_eq!(h.get("/cabinet/keys").await.status, 200);
    // Half an hour without a request ends the session.
    s.clock.advance(time::Duration::minutes(31));
    let p = h.get("/cabinet/keys").await;
    assert_eq!((p.status, p.location()), (303, "/cabinet/login"));
    // The reaper's pruning drops it (and the spent sign-in's leftovers), once.
    assert!(cabinet::prune(s.app()).await.expect("prune") >= 1);
    assert_eq!(cabinet::prune(s.app()).await.expect("prune"), 0);

    // A coupon activated on the key signs in alone.
    let batch = coupons::create_batch(
        s.app(),
        NewCoupons {
            count: 2,
            items: vec![NewCouponItem {
                product: "CRM".into(),
                feature: 48,
                seats: 1,
                days: Some(30),
            }],
        },
    )
    .await
    .expect("coupons");
    coupons::activate(
        s.app(),
        ActivateInput {
            regnum: f.regnum.clone(),
            coupon: batch.codes[0].clone(),
        },
    )
    .await
    .expect("activate");
    let mut c = Http::new(&s);
    let p = sign_in(&mut c, &batch.codes[0].to_lowercase(), "").await;
    assert_eq!(p.location(), "/cabinet/statistics", "{}", p.body);
    assert!(c.get("/cabinet/keys").await.body.contains(&f.regnum));
    // A coupon not activated does not.
    let mut d = Http::new(&s);
    assert_eq!(sign_in(&mut d, &batch.codes[1], "").await.status, 401);

    // Failed tries on one login: after five, a wait, shown as a page (not a bare 429).
    let mut e = Http::new(&s);
    for _ in 0..5 {
        assert_eq!(
            sign_in(&mut e, &f.regnum, "wrong wrong wrong").await.status,
            401
        );
    }
    let p = sign_in(&mut e, &f.regnum, "correct horse battery").await;
    assert_eq!(p.status, 429);
    assert!(p.body.contains("Слишком много попыток"), "{}", p.body);
    let wait: u64 = p.headers["retry-after"]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(
        p.body.contains(&format!("Повторите через {wait} с.")),
        "the page says the same wait"
    );
    assert!(p.body.contains("<form"), "the page keeps the sign-in form");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sees_and_unbinds_only_its_own_within_the_limit() {
    let sink = SmtpSink::start().await;
    let s = Server::start_mailing(&sink).await;
    let mine = fixture(&s, "ООО Свои", "me@own.test").await;
    let theirs = fixture(&s, "ООО Чужие", "them@other.test").await;
    cabinet::set_unbind_limit(s.app(), "CRM", 2, "test")
        .await
        .expect("limit");
    for host in ["PC-1", "PC-2", "PC-3"] {
        // Two seats of 31: the third host is refused (a denial to see under Problems).
        let _ = try_capture(&s, &mine.regnum, 31, host, "").await;
    }
    let their_lease = capture(&s, &theirs.regnum, 48, "THEIR-PC", "boss").await;

    let mut h = Http::new(&s);
    let form = h.get("/cabinet/login").await;
    h.post(
        "/cabinet/code",
        &[("csrf", &form.csrf()), ("login", &mine.regnum)],
    )
    .await;
    let code = mailed_code(&sink, &mine.email, 0).await;
    assert_eq!(
        sign_in(&mut h, &mine.regnum, &code).await.location(),
        "/cabinet/statistics"
    );

    let mon = h.get("/cabinet/sessions").await;
    assert!(mon.body.contains("PC-1") && mon.body.contains("PC-2"));
    assert!(
        !mon.body.contains("THEIR-PC"),
        "another client's session shows"
    );
    assert!(
        mon.body.contains("осталось 2 из 2 на 30 дней"),
        "{}",
        mon.body
    );
    let csrf = mon.csrf();
    let problems = h.get("/cabinet/problems").await;
    assert!(problems.body.contains("PC-3") && problems.body.contains("1030"));
    assert!(
        problems.body.contains("Купите дополнительные места"),
        "advice for 1030"
    );
    let summary = h.get("/cabinet/summary").await;
    assert!(summary.body.contains("/cabinet/sessions?feature=31"));

    // Another client's key and lease are refused as unknown, and nothing is spent.
    let p = h
        .post(
            "/cabinet/sessions/unbind",
            &[
                ("csrf", &csrf),
                ("regnum", &theirs.regnum),
                ("feature", "48"),
                ("host", "THEIR-PC"),
            ],
        )
        .await;
    assert_eq!(p.status, 404, "{}", p.body);
    let p = h
        .post(
            "/cabinet/sessions/end",
            &[("csrf", &csrf), ("lease", &their_lease)],
        )
        .await;
    assert_eq!(p.status, 404);
    assert_eq!(
        leases::list(s.app(), Some(&theirs.regnum), 10)
            .expect("list")
            .len(),
        1
    );

    // Two unbinds are allowed, the third is refused with the reason.
    for host in ["PC-1", "PC-2"] {
        let p = h
            .post(
                "/cabinet/sessions/unbind",
                &[
                    ("csrf", &csrf),
                    ("regnum", &mine.regnum),
                    ("feature", "31"),
                    ("host", host),
                ],
            )
            .await;
        assert_eq!(p.location(), "/cabinet/sessions?done=unbound", "{}", p.body);
    }
    capture(&s, &mine.regnum, 31, "PC-3", "x").await;
    let p = h
        .post(
            "/cabinet/sessions/unbind",
            &[
                ("csrf", &csrf),
                ("regnum", &mine.regnum),
                ("feature", "31"),
                ("host", "PC-3"),
            ],
        )
        .await;
    assert_eq!(p.status, 409);
    assert!(p.body.contains("Лимит отвязок"), "{}", p.body);
    let mon = h.get("/cabinet/sessions").await;
    assert!(mon.body.contains("осталось 0 из 2"), "{}", mon.body);
    assert!(mon.body.contains("PC-3"));
    // Audited as the client.
    let tx = s.app().store.read().expect("read");
    let (entries, _) = licd::service::audit::page(&tx, "client_unbind", 0, 50).expect("audit");
    assert_eq!(entries.len(), 2);
    assert!(
        entries
            .iter()
            .all(|e| e.actor == format!("client:{}", mine.regnum))
    );
    s.stop().await;
}

/// Two weeks of use of `f`'s key: a few users of 48 a day (one day over its 5 seats),
/// hosts of 31 (the third refused every day), each day's counts flushed as the server
/// does; ends with live sessions today.
async fn two_weeks_of_use(s: &Server, f: &Fixture) {
    for day in 0..14u32 {
        let users = 1 + (day * 7 % 5) + u32::from(day == 9);
        for u in 0..users {
            let _ = try_capture(s, &f.regnum, 48, &format!("WS-{u}"), &format!("user{u}")).await;
        }
        if day % 3 == 0 {
            for host in ["PC-1", "PC-2", "PC-3"] {
                let _ = try_capture(s, &f.regnum, 31, host, "").await;
            }
        }
        licd::service::usage::flush(s.app()).await.expect("flush");
        s.clock.advance(time::Duration::days(1));
    }
    capture(s, &f.regnum, 48, "BUH-PC", "buh").await;
    capture(s, &f.regnum, 31, "PC-1", "").await;
    licd::service::usage::flush(s.app()).await.expect("flush");
}

async fn cabinet_tour(b: &crate::webdriver::Browser, url: &str, lang: &str, titles: &[&str; 7]) {
    let tabs = [
        "statistics",
        "keys",
        "summary",
        "problems",
        "sessions",
        "distributions",
        "settings",
    ];
    for (tab, title) in tabs.iter().zip(titles) {
        b.go(&format!("{url}/cabinet/{tab}")).await;
        b.see(title).await;
        b.screenshot(&format!("cabinet-{lang}-{tab}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cabinet_in_a_browser() {
    let sink = SmtpSink::start().await;
    let s = Server::start_mailing(&sink).await;
    let url = s.url.clone();
    let f = fixture(&s, "ООО Ромашка", "buyer@romashka.test").await;
    let other = fixture(&s, "ООО Чужие", "them@other.test").await;
    cabinet::set_unbind_limit(s.app(), "CRM", 1, "test")
        .await
        .expect("limit");
    two_weeks_of_use(&s, &f).await;
    let batch = coupons::create_batch(
        s.app(),
        NewCoupons {
            count: 1,
            items: vec![NewCouponItem {
                product: "CRM".into(),
                feature: 48,
                seats: 1,
                days: Some(365),
            }],
        },
    )
    .await
    .expect("coupons");
    coupons::activate(
        s.app(),
        ActivateInput {
            regnum: f.regnum.clone(),
            coupon: batch.codes[0].clone(),
        },
    )
    .await
    .expect("activate");
    let driver = crate::webdriver::Driver::start().await;

    // Russian: the coupon alone signs in (seed 003).
    let b = driver.browser("ru-RU").await;
    b.go(&format!("{url}/cabinet")).await;
    b.see("Личный кабинет клиента").await;
    b.screenshot("cabinet-ru-login").await;
    b.type_in("input[name=login]", &batch.codes[0]).await;
    b.click("form[action='/cabinet/login'] button[type=submit]")
        .await;
    b.see("Статистика использования лицензий").await;
    assert!(
        b.count("svg.chart title").await >= 3,
        "three charts with titles"
    );
    assert!(b.count("svg.chart desc").await >= 3);
    b.see("Сколько раз в день захватывалась").await;
    b.see("48 Сеанс PROF в 1С").await;
    // Range presets: 7 days.
    b.click("nav.presets a[href$='range=7']").await;
    b.see("Сколько раз в день захватывалась").await;
    assert!(b.url().await.contains("range=7"));
    cabinet_tour(
        &b,
        &url,
        "ru",
        &[
            "Статистика использования лицензий",
            "Лицензионные ключи",
            "Сводка по лицензиям",
            "Проблемы",
            "Монитор сессий",
            "Дистрибутивы программ",
            "Настройки",
        ],
    )
    .await;
    b.go(&format!("{url}/cabinet/problems")).await;
    b.see("Нет свободного места").await;
    b.see("PC-3").await;
    b.see("Что делать").await;

    // The summary's "used" opens the monitor on that feature.
    b.go(&format!("{url}/cabinet/summary")).await;
    b.click("a.used[href='/cabinet/sessions?feature=48']").await;
    b.see("BUH-PC").await;
    assert!(b.url().await.ends_with("/cabinet/sessions?feature=48"));
    assert!(!b.text().await.contains("PC-2"), "only feature 48 is shown");

    // Unbind within the limit (1), then the other host's button is out of it.
    b.go(&format!("{url}/cabinet/sessions?feature=31")).await;
    b.see("осталось 1 из 1 на 30 дней").await;
    b.click("form[action='/cabinet/sessions/unbind']:has(input[value='PC-2']) button")
        .await;
    b.see("Хост отвязан, место свободно.").await;
    b.see("осталось 0 из 1 на 30 дней").await;
    assert!(!b.text().await.contains("PC-2"));
    assert!(
        b.count("form[action='/cabinet/sessions/unbind'] button[disabled]")
            .await
            >= 1
    );
    b.screenshot("cabinet-ru-sessions-after-unbind").await;

    // Another client's key by URL: not found.
    b.go(&format!("{url}/cabinet/keys/{}", other.regnum)).await;
    b.see("Такой страницы или записи нет.").await;
    b.go(&format!("{url}/cabinet/keys/{}", f.regnum)).await;
    b.see("Журнал звонков").await;

    // Settings: English for the cabinet (and the mail), an alert e-mail.
    b.go(&format!("{url}/cabinet/settings")).await;
    b.click("select[name=lang] option[value=en]").await;
    b.type_in("input[name=alert_email]", "admin@romashka.test")
        .await;
    b.click("form[action='/cabinet/settings'] button[type=submit]")
        .await;
    b.see("Saved.").await;
    cabinet_tour(
        &b,
        &url,
        "en",
        &[
            "License usage statistics",
            "License keys",
            "License summary",
            "Problems",
            "Session monitor",
            "Program distributions",
            "Settings",
        ],
    )
    .await;
    b.click("form[action='/cabinet/logout'] button").await;
    b.see("Вы вышли из кабинета.").await;
    b.close().await;

    // A one-time code, read from the mail.
    let b = driver.browser("en-US").await;
    b.go(&format!("{url}/cabinet/login")).await;
    b.click("details.more summary").await;
    b.type_in("form[action='/cabinet/code'] input[name=login]", &f.regnum)
        .await;
    b.click("form[action='/cabinet/code'] button").await;
    b.see("a one-time code was sent").await;
    let code = mailed_code(&sink, &f.email, 0).await;
    b.type_in("form[action='/cabinet/login'] input[name=password]", &code)
        .await;
    b.click("form[action='/cabinet/login'] button[type=submit]")
        .await;
    b.see("License usage statistics").await;
    b.close().await;

    // The first password, through the mailed link.
    let b = driver.browser("en-US").await;
    b.go(&format!("{url}/cabinet/login")).await;
    b.click("a[href='/cabinet/password']").await;
    b.type_in("input[name=login]", &f.regnum).await;
    b.click("form[action='/cabinet/password'] button").await;
    b.see("a link was sent").await;
    let link = mailed_link(&sink, &f.email).await;
    b.go(&format!("{url}{link}")).await;
    b.see("Choose a cabinet password").await;
    b.type_in("input[name=password]", "correct horse battery")
        .await;
    b.type_in("input[name=password2]", "correct horse battery")
        .await;
    b.click("form[action^='/cabinet/password/'] button").await;
    b.see("Your password is set.").await;
    b.type_in("input[name=login]", &f.regnum).await;
    b.type_in("input[name=password]", "correct horse battery")
        .await;
    b.click("form[action='/cabinet/login'] button[type=submit]")
        .await;
    b.see("License usage statistics").await;
    b.close().await;

    // Staff see the same views on the card, and the pages across clients.
    s.user("boss", licd::domain::Role::Admin, "").await;
    let b = driver.browser("ru-RU").await;
    b.go(&format!("{url}/login")).await;
    b.type_in("input[name=login]", "boss").await;
    b.type_in("input[name=password]", "password123").await;
    b.click("form[action='/login'] button[type=submit]").await;
    b.see("Клиенты").await;
    b.go(&format!("{url}/clients/{}", f.client)).await;
    b.click("nav.tabs a[href$='/summary']").await;
    b.see("сводка по лицензиям").await;
    b.screenshot("staff-client-summary").await;
    b.click("nav.tabs a[href$='/statistics']").await;
    b.see("Сколько раз в день захватывалась").await;
    b.screenshot("staff-client-statistics").await;
    b.click("nav.tabs a[href$='/problems']").await;
    b.see("PC-3").await;
    b.go(&format!("{url}/statistics")).await;
    b.see("Клиенты с наибольшим числом отказов").await;
    b.see("ООО Ромашка").await;
    b.screenshot("staff-statistics").await;
    b.go(&format!("{url}/problems")).await;
    b.see("PC-3").await;
    b.see("ООО Ромашка").await;
    b.screenshot("staff-problems").await;
    b.close().await;

    // The same numbers on both sides: the summary tables are identical.
    let mut h = Http::new(&s);
    let p = sign_in(&mut h, &f.regnum, "correct horse battery").await;
    assert_eq!(p.location(), "/cabinet/statistics");
    let theirs = h.get("/cabinet/summary").await.body;
    let mut staff = Http::new(&s);
    staff.login("boss", "password123").await;
    let ours = staff
        .get(&format!("/clients/{}/summary", f.client))
        .await
        .body;
    let tbody = |html: &str| -> String {
        let at = html
            .find("<table class=\"data summary\">")
            .expect("summary table");
        let rest = &html[at..];
        let body = &rest[rest.find("<tbody>").expect("tbody")..];
        // Links differ (the cabinet's monitor vs the staff's); the numbers must not.
        let mut out = String::new();
        let mut in_tag = false;
        for c in body[..body.find("</tbody>").expect("end")].chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    out.push('|');
                }
                _ if !in_tag => out.push(c),
                _ => {}
            }
        }
        out
    };
    assert_eq!(tbody(&theirs), tbody(&ours));
    assert!(tbody(&ours).contains("Сеанс PROF в 1С"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributor_sees_only_its_clients_statistics_and_problems() {
    let s = Server::start().await;
    licd::service::distributors::create(s.app(), "south", "South", "d@south.test")
        .await
        .expect("distributor");
    let ours = fixture(&s, "ООО Южная", "a@south-client.test").await;
    let theirs = fixture(&s, "ООО Северная", "b@north-client.test").await;
    clients::update(
        s.app(),
        ours.client,
        ClientInput {
            distributor: Some("south".into()),
            ..Default::default()
        },
    )
    .await
    .expect("assign");
    // Each key: three hosts on two seats of 31, so one denial each. The hosts are named so
    // that no regnum can contain them ("C-2" is in "LIC-2…").
    for f in [&ours, &theirs] {
        for host in ["A", "B", "C"] {
            let _ = try_capture(&s, &f.regnum, 31, &format!("{host}-host{}", f.client), "").await;
        }
    }
    licd::service::usage::flush(s.app()).await.expect("flush");
    s.user("partner", licd::domain::Role::Distributor, "south")
        .await;
    s.user("boss", licd::domain::Role::Admin, "").await;

    let mut d = Http::new(&s);
    d.login("partner", "password123").await;
    let p = d.get("/problems").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains(&format!("C-host{}", ours.client)));
    assert!(
        !p.body.contains(&format!("C-host{}", theirs.client)),
        "another distributor's"
    );
    // Even when asked for everything.
    let p = d.get("/problems?distributor=").await;
    assert!(!p.body.contains(&format!("C-host{}", theirs.client)));
    let st = d.get("/statistics").await;
    assert_eq!(st.status, 200);
    assert!(st.body.contains("ООО Южная") && !st.body.contains("ООО Северная"));
    assert_eq!(
        d.get(&format!("/clients/{}/problems", theirs.client))
            .await
            .status,
        403
    );
    assert_eq!(
        d.get(&format!("/clients/{}/statistics", theirs.client))
            .await
            .status,
        403
    );
    assert_eq!(
        d.get(&format!("/clients/{}/summary", ours.client))
            .await
            .status,
        200
    );

    // The admin sees both, and filters by client and by code.
    let mut a = Http::new(&s);
    a.login("boss", "password123").await;
    let p = a.get("/problems").await;
    assert!(p.body.contains(&format!("C-host{}", ours.client)));
    assert!(p.body.contains(&format!("C-host{}", theirs.client)));
    let p = a.get(&format!("/problems?client={}", theirs.client)).await;
    assert!(!p.body.contains(&format!("C-host{}", ours.client)));
    assert!(p.body.contains(&format!("C-host{}", theirs.client)));
    let p = a.get("/problems?code=1032").await;
    assert!(p.body.contains("Отказов нет"), "no 1032 denials");
    let csv = a
        .get(&format!("/clients/{}/statistics.csv", ours.client))
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/csv"))
    );
    let today = licd::domain::days::Day::of(s.app().now()).to_string();
    let line = csv
        .body
        .lines()
        .find(|l| l.starts_with(&format!("{today},31,")))
        .unwrap_or_else(|| panic!("no row of today for 31:\n{}", csv.body));
    // 2 granted, 1 refused, 2 at most in use, 2 owned.
    assert_eq!(line, format!("{today},31,2,1,2,2"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_for_codes_and_guessing_are_limited_per_address() {
    let s = Server::start_with(|a| a.abuse_per_minute = Some(3)).await;
    let f = fixture(&s, "ООО Василёк", "v@vasilek.test").await;
    let mut h = Http::new(&s);
    let form = h.get("/cabinet/login").await;
    let csrf = form.csrf();
    for _ in 0..3 {
        let p = h
            .post("/cabinet/code", &[("csrf", &csrf), ("login", &f.regnum)])
            .await;
        assert_eq!(p.status, 200);
    }
    let p = h
        .post("/cabinet/code", &[("csrf", &csrf), ("login", &f.regnum)])
        .await;
    assert_eq!(p.status, 429);
    assert!(p.body.contains("Слишком много попыток"), "{}", p.body);
    let wait: u64 = p.headers["retry-after"]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(
        p.body.contains(&format!("Повторите через {wait} с.")),
        "the page says the same wait"
    );
    // Guessing numbers from one address: three wrong, then a wait whatever the number.
    for i in 0..3 {
        let p = sign_in(&mut h, &format!("LIC-AAAAA-BBBBB-CCCCC-DDDD{i}"), "x").await;
        assert_eq!(p.status, 401);
    }
    let p = sign_in(&mut h, "LIC-AAAAA-BBBBB-CCCCC-EEEEE", "x").await;
    assert_eq!(p.status, 429);
    s.stop().await;
}
