//! Session fixation and sign-out (staff and cabinet), and the staff lockout after
//! repeated failed sign-ins.
use super::{PASSWORD, World, set_cookie};
use crate::kit::{Http, Page, Server};
use licd::domain::Role;

/// A client that holds only `cookie=value`.
fn holding(s: &Server, cookie: &str, value: &str) -> Http {
    let mut h = Http::new(s);
    h.cookies.push((cookie.into(), value.into()));
    h
}

const PLANTED: &str = "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_or_pre_sign_in_cookie_never_becomes_the_session_and_sign_out_kills_it() {
    let w = World::make().await;
    let s = &w.s;

    // Staff. The sign-in form sets only the double-submit cookie.
    let mut h = Http::new(s);
    let form = h.get("/login").await;
    let pre = set_cookie(&form, "licd_presign").expect("a pre-sign-in cookie");
    assert!(set_cookie(&form, "licd_session").is_none());
    // An attacker planted a session cookie of their choosing before the sign-in.
    h.cookies.push(("licd_session".into(), PLANTED.into()));
    let p = h
        .post(
            "/login",
            &[("csrf", &pre), ("login", "root"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/clients"));
    let session = set_cookie(&p, "licd_session").expect("a new session cookie");
    assert_ne!(session, PLANTED, "the planted value is replaced");
    assert_ne!(session, pre, "the pre-sign-in value is not promoted");
    assert_eq!(
        set_cookie(&p, "licd_presign").as_deref(),
        Some(""),
        "removed"
    );
    for value in [PLANTED, pre.as_str()] {
        let p = holding(s, "licd_session", value).get("/clients").await;
        assert_eq!((p.status, p.location()), (303, "/login"), "{value}");
    }
    let mut mine = holding(s, "licd_session", &session);
    assert_eq!(mine.get("/clients").await.status, 200);
    // A second sign-in gets a session of its own.
    let (other, _) = w.staff("root").await;
    let other_secret = other
        .cookies
        .iter()
        .find(|(k, _)| k == "licd_session")
        .map(|(_, v)| v.clone());
    assert_ne!(other_secret.as_deref(), Some(session.as_str()));
    // Sign-out ends the session on the server: the old cookie, sent again, is nothing.
    let csrf = mine.get("/account").await.csrf();
    let out = h.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!((out.status, out.location()), (303, "/login"));
    let replay = holding(s, "licd_session", &session).get("/clients").await;
    assert_eq!((replay.status, replay.location()), (303, "/login"));
    let replay = holding(s, "licd_session", &session)
        .post(
            "/clients/new",
            &[("csrf", &csrf), ("company", "После выхода")],
        )
        .await;
    assert_eq!((replay.status, replay.location()), (303, "/login"));

    // The cabinet, the same way.
    let mut c = Http::new(s);
    let form = c.get("/cabinet/login").await;
    let pre = set_cookie(&form, "licd_presign").expect("a pre-sign-in cookie");
    assert!(set_cookie(&form, "licd_cabinet").is_none());
    c.cookies.push(("licd_cabinet".into(), PLANTED.into()));
    let p = c
        .post(
            "/cabinet/login",
            &[("csrf", &pre), ("login", &w.coupon), ("password", "")],
        )
        .await;
    assert_eq!(p.location(), "/cabinet/statistics", "{}", p.body);
    let session = set_cookie(&p, "licd_cabinet").expect("a new cabinet cookie");
    assert_ne!(session, PLANTED);
    assert_ne!(session, pre);
    for value in [PLANTED, pre.as_str()] {
        let p = holding(s, "licd_cabinet", value).get("/cabinet/keys").await;
        assert_eq!((p.status, p.location()), (303, "/cabinet/login"), "{value}");
    }
    let mut mine = holding(s, "licd_cabinet", &session);
    let page = mine.get("/cabinet/keys").await;
    assert_eq!(page.status, 200);
    let out = mine
        .post("/cabinet/logout", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(out.location(), "/cabinet/login?done=out");
    let replay = holding(s, "licd_cabinet", &session)
        .get("/cabinet/keys")
        .await;
    assert_eq!((replay.status, replay.location()), (303, "/cabinet/login"));
    w.s.stop().await;
}

/// One sign-in try from a fresh browser-less client (so no session from a previous one).
async fn try_login(s: &Server, lang: &'static str, login: &str, password: &str) -> Page {
    let mut h = Http::new(s);
    h.lang = lang;
    let csrf = h.get("/login").await.csrf();
    h.post(
        "/login",
        &[("csrf", &csrf), ("login", login), ("password", password)],
    )
    .await
}

/// The Retry-After of a 429, checked to be a sensible number of seconds.
fn retry_after(p: &Page) -> u64 {
    assert_eq!(p.status, 429, "{}", p.body);
    let s: u64 = p
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=60).contains(&s), "{s}");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_locks_per_login_and_per_address_with_retry_after() {
    let s = Server::start().await;
    s.user("admin", Role::Admin, "").await;
    s.user("man", Role::Manager, "").await;
    let mut lang = "ru-RU,ru;q=0.9";
    let free = licd::service::sessions::FREE_FAILURES;

    // Failures short of the limit, then a success: the count starts again.
    for _ in 0..free - 1 {
        assert_eq!(try_login(&s, lang, "admin", "wrong one").await.status, 401);
    }
    assert_eq!(try_login(&s, lang, "admin", PASSWORD).await.status, 303);
    for _ in 0..free {
        assert_eq!(try_login(&s, lang, "Admin", "wrong one").await.status, 401);
    }
    // Now the login waits, even with the right password, and is told how long.
    let p = try_login(&s, lang, "admin", PASSWORD).await;
    let wait = retry_after(&p);
    assert!(
        p.body.contains(&format!(
            "Слишком много неудачных попыток. Повторите через {wait} с."
        )),
        "{}",
        p.body
    );
    assert!(p.body.contains("<form"), "the page keeps the form");
    lang = "en-US,en;q=0.9";
    let p = try_login(&s, lang, "admin", PASSWORD).await;
    let wait = retry_after(&p);
    assert!(
        p.body
            .contains(&format!("Too many failed attempts. Try again in {wait} s.")),
        "{}",
        p.body
    );
    // Another login from the same address is not locked by it.
    assert_eq!(try_login(&s, lang, "man", PASSWORD).await.status, 303);
    // Once the wait is over the right password works, and the count is reset.
    s.clock.advance(time::Duration::seconds(wait as i64 + 1));
    assert_eq!(try_login(&s, lang, "admin", PASSWORD).await.status, 303);
    assert_eq!(try_login(&s, lang, "admin", "wrong one").await.status, 401);
    assert_eq!(try_login(&s, lang, "admin", PASSWORD).await.status, 303);
    s.stop().await;

    // Per address: failures on logins that do not even exist fill the address's
    // allowance, and then no login from there is tried.
    let s = Server::start_with(|a| a.abuse_per_minute = Some(4)).await;
    s.user("admin", Role::Admin, "").await;
    let lang = "ru-RU,ru;q=0.9";
    for i in 0..4 {
        let p = try_login(&s, lang, &format!("ghost{i}"), "guess").await;
        assert_eq!(p.status, 401);
    }
    let p = try_login(&s, lang, "admin", PASSWORD).await;
    retry_after(&p);
    assert!(p.body.contains("Слишком много неудачных попыток"));
    s.stop().await;
}
