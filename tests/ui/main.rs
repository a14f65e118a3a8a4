//! Back-office tests: end-to-end flows in headless Chromium over WebDriver, and
//! browser-less checks of sessions, CSRF, headers and roles over plain HTTPS.
mod actions;
mod cabinet;
mod http;
mod kit;
mod outbox;
mod perf;
mod releases;
mod security;
mod system;
mod webdriver;

use kit::Server;
use licd::domain::Role;
use licd::service::clients::ClientInput;
use licd::service::{clients, keys, leases};
use webdriver::{Browser, Driver};

async fn login(b: &Browser, url: &str, login: &str, password: &str) {
    b.go(&format!("{url}/login")).await;
    b.type_in("input[name=login]", login).await;
    b.type_in("input[name=password]", password).await;
    b.click("form[action='/login'] button[type=submit]").await;
    // Wait for the sign-in to land (a page opened at once would race its redirect).
    for _ in 0..50 {
        if !b.url().await.ends_with("/login") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn client(s: &Server, company: &str) -> u64 {
    clients::create(
        s.app(),
        ClientInput {
            company: Some(company.into()),
            contact: Some("Контакт".into()),
            ..Default::default()
        },
    )
    .await
    .expect("client")
    .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_office_in_a_browser() {
    let s = Server::start().await;
    let driver = Driver::start().await;
    let url = s.url.clone();
    let b = driver.browser("en-US").await;

    // First start: the one-time setup link creates the first admin.
    let token = licd::service::sessions::issue_setup_token(s.app())
        .await
        .expect("setup token");
    b.go(&format!("{url}/setup/{token}")).await;
    b.see("Create the first administrator").await;
    b.screenshot("01-setup").await;
    b.type_in("input[name=login]", "boss").await;
    b.type_in("input[name=password]", "correct horse").await;
    b.type_in("input[name=password2]", "correct horse").await;
    b.click("form[action^='/setup/'] button[type=submit]").await;
    b.see("Sign in").await;
    assert!(b.url().await.ends_with("/login"));
    // The link is spent.
    b.go(&format!("{url}/setup/{token}")).await;
    b.see("Not found").await;

    // Sign in (English from the browser), then choose Russian for this user.
    login(&b, &url, "boss", "wrong password").await;
    b.see("Wrong login or password.").await;
    assert_eq!(
        b.value("input[name=login]").await,
        "boss",
        "the login typed is kept"
    );
    b.screenshot("02-login-error").await;
    login(&b, &url, "boss", "correct horse").await;
    b.see("No clients match.").await;
    assert!(b.url().await.ends_with("/clients"));
    // The header's switch changes the language and stays on the page.
    b.click("header form[action='/account/lang'] button[value=ru]")
        .await;
    b.see("Подходящих клиентов нет.").await;
    assert!(b.url().await.ends_with("/clients"));
    b.click("header form[action='/account/lang'] button[value=en]")
        .await;
    b.see("No clients match.").await;
    // And the account page saves it for this user, whatever the browser says.
    b.go(&format!("{url}/account")).await;
    b.click("select[name=lang] option[value=ru]").await;
    b.click("main form[action='/account/lang'] button[type=submit]")
        .await;
    b.see("Сохранено.").await;
    b.see("Клиенты").await;

    // A product with numbered features.
    b.go(&format!("{url}/products")).await;
    b.type_in("input[name=code]", "CRM").await;
    b.type_in("input[name=name]", "Интеграция с 1С").await;
    b.type_in("input[name=heartbeat_s]", "30").await;
    b.type_in("input[name=trial_days]", "14").await;
    b.type_in(
        "textarea[name=features]",
        "48; Сеанс PROF в 1С; user; 2\n49; Внешняя панель; host; 1",
    )
    .await;
    b.click("form[action='/products'] button[type=submit]")
        .await;
    b.see("Сеанс PROF в 1С").await;
    b.see("на компьютер").await;
    b.screenshot("03-products").await;

    // Create a client by hand with a Cyrillic name; a bad e-mail is refused and the
    // typed values stay.
    b.go(&format!("{url}/clients/new")).await;
    b.type_in("input[name=company]", "ООО «Ромашка»").await;
    b.type_in("input[name=contact]", "Иван Петров").await;
    b.type_in("input[name=phone]", "+7 495 123-45-67").await;
    b.type_in("input[name=email]", "ivan@").await;
    b.click("form[action='/clients/new'] button[type=submit]")
        .await;
    b.see("Это не адрес e-mail").await;
    assert_eq!(b.value("input[name=company]").await, "ООО «Ромашка»");
    b.screenshot("04-client-form-error").await;
    b.type_in("input[name=email]", "ivan@romashka.ru").await;
    b.click("form[action='/clients/new'] button[type=submit]")
        .await;
    b.see("Клиент создан.").await;
    let romashka: u64 = b
        .url()
        .await
        .rsplit('/')
        .next()
        .and_then(|t| t.split('?').next())
        .and_then(|t| t.parse().ok())
        .expect("client id in the url");
    for i in 0..3 {
        client(&s, &format!("Другая фирма {i}")).await;
    }

    // Quick search, case-insensitive in Cyrillic.
    b.go(&format!("{url}/clients")).await;
    b.type_in("input[name=q]", "ромашка").await;
    b.click("form[role=search] button[type=submit]").await;
    b.see("ООО «Ромашка»").await;
    assert_eq!(b.count("tbody tr").await, 1, "only the match is listed");
    b.screenshot("05-clients-search").await;

    // From the card: generate an empty key, then add an item.
    b.click("tbody td a").await;
    b.see("Лицензионные ключи").await;
    b.click("form[action$='/keys'] button[type=submit]").await;
    b.see("Ключ сгенерирован").await;
    let regnum = b
        .url()
        .await
        .rsplit('/')
        .next()
        .and_then(|t| t.split('?').next())
        .expect("regnum")
        .to_owned();
    assert!(regnum.starts_with("LIC-"), "{regnum}");
    b.see("Ключ пуст.").await;
    b.click("select[name=feature] option[value='CRM:48']").await;
    b.type_in("form[action$='/items'] input[name=seats]", "3")
        .await;
    b.click("form[action$='/items'] button[type=submit]").await;
    b.see("Сохранено.").await;
    b.see("Сеанс PROF в 1С").await;
    assert_eq!(
        b.value("form[action*='/items/'] input[name=seats]").await,
        "3"
    );
    b.screenshot("06-key-card").await;

    // Edit the product: the unit of a feature a key holds stays (with what was typed
    // kept and the reason shown); a new name and a new feature are saved.
    b.go(&format!("{url}/products")).await;
    b.click("a[href='/products/CRM']").await;
    b.see("Изменение продукта").await;
    let form = "form[action='/products/CRM']";
    b.type_in(
        &format!("{form} input[name=name]"),
        "Интеграция с 1С, версия 2",
    )
    .await;
    b.click("select[name=f48_unit] option[value=host]").await;
    b.type_in("input[name=new_number]", "50").await;
    b.type_in("input[name=new_name]", "Чаты").await;
    b.click("select[name=new_unit] option[value=session]").await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.see(&format!(
        "Эта функция есть в ключе {regnum}: способ учёта менять нельзя"
    ))
    .await;
    assert_eq!(
        b.value("input[name=name]").await,
        "Интеграция с 1С, версия 2"
    );
    assert_eq!(b.value("select[name=f48_unit]").await, "host");
    assert_eq!(b.value("input[name=new_name]").await, "Чаты");
    b.screenshot("06b-product-edit-refused").await;
    b.click("select[name=f48_unit] option[value=user]").await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.see("Сохранено.").await;
    assert_eq!(b.value("input[name=f50_name]").await, "Чаты");
    assert_eq!(b.value("select[name=f50_unit]").await, "session");
    // A product a key holds is not deleted.
    b.click("form[action='/products/CRM/delete'] button[type=submit]")
        .await;
    b.see(&format!("Этот продукт есть в ключах (например, {regnum})"))
        .await;
    b.go(&format!("{url}/products")).await;
    b.see("Интеграция с 1С, версия 2").await;
    b.see("Чаты").await;

    // Coupons: a batch of five for feature 49, 30 days.
    b.go(&format!("{url}/coupons")).await;
    b.click("input[name=feature][value='CRM:49']").await;
    b.type_in("input[name='seats:CRM:49']", "2").await;
    b.type_in("input[name=days]", "30").await;
    b.type_in("input[name=count]", "5").await;
    b.click("form[action='/coupons'] button[type=submit]").await;
    b.see("Партия 1 создана: купонов — 5.").await;
    assert_eq!(b.count("tbody tr").await, 5);
    b.see("новый").await;
    b.see("49 × 2 / 30 дн.").await;
    b.screenshot("07-coupons").await;

    // A capture shows in the session monitor; unbinding it frees the seat.
    leases::capture(
        s.app(),
        leases::CaptureInput {
            regnum: regnum.clone(),
            feature: 48,
            host: "BUH-PC".into(),
            database: Some("Бухгалтерия".into()),
            user: Some("buh".into()),
            session: None,
            app: Some("crm".into()),
            version: Some("1.2".into()),
        },
    )
    .await
    .expect("capture");
    b.go(&format!("{url}/sessions")).await;
    b.see("BUH-PC").await;
    b.see("Захватов и привязок: 1").await;
    b.type_in("input[name=host]", "buh").await;
    b.click("form[action='/sessions'] button[type=submit]")
        .await;
    b.see("BUH-PC").await;
    b.screenshot("08-sessions").await;
    b.click("form[action='/sessions/end'] button[type=submit]")
        .await;
    b.see("Привязка снята.").await;
    b.see("Захватов и привязок: 0").await;
    assert!(
        leases::list(s.app(), Some(&regnum), 10)
            .expect("leases")
            .is_empty()
    );

    // Merge: main client first, then the duplicate; keys move to the main one.
    let alpha = client(&s, "Дубль Альфа").await;
    let beta = client(&s, "Дубль Бета").await;
    let ka = keys::create_for_client(s.app(), alpha)
        .await
        .expect("key a");
    let kb = keys::create_for_client(s.app(), beta).await.expect("key b");
    b.go(&format!("{url}/clients?q=дубль")).await;
    assert_eq!(b.count("tbody tr").await, 2);
    b.click(&format!("input[name=into][value='{alpha}']")).await;
    b.click(&format!("input[name=from][value='{beta}']")).await;
    b.click("form[action='/clients/merge'] button[type=submit]")
        .await;
    b.see("Клиенты объединены.").await;
    b.see(&ka).await;
    b.see(&kb).await;
    b.go(&format!("{url}/clients?q=дубль")).await;
    assert_eq!(b.count("tbody tr").await, 1);
    b.see("Дубль Альфа").await;

    // Staff: a distributor, a manager and a distributor user.
    b.go(&format!("{url}/distributors")).await;
    b.type_in("input[name=code]", "partner").await;
    b.type_in("input[name=name]", "Партнёр-Юг").await;
    b.type_in("input[name=email]", "south@partner.test").await;
    b.click("form[action='/distributors'] button[type=submit]")
        .await;
    b.see("Партнёр-Юг").await;
    for (login, role, dist) in [
        ("manager1", "manager", ""),
        ("dist1", "distributor", "partner"),
    ] {
        b.go(&format!("{url}/users")).await;
        b.type_in("form[action='/users'] input[name=login]", login)
            .await;
        b.click(&format!(
            "form[action='/users'] select[name=role] option[value={role}]"
        ))
        .await;
        b.click(&format!(
            "form[action='/users'] select[name=distributor] option[value='{dist}']"
        ))
        .await;
        b.type_in("form[action='/users'] input[name=password]", "password123")
            .await;
        b.click("form[action='/users'] button[type=submit]").await;
        b.see(login).await;
    }
    b.screenshot("09-users").await;
    // Assign Romashka to the distributor on its card.
    b.go(&format!("{url}/clients/{romashka}")).await;
    b.click("select[name=distributor] option[value=partner]")
        .await;
    b.click("select[name=manager] option[value=manager1]").await;
    b.click(&format!(
        "form[action='/clients/{romashka}'] button[type=submit]"
    ))
    .await;
    b.see("Сохранено.").await;
    b.screenshot("10-client-card").await;

    // The distributor: renamed (a bad e-mail refused first, what was typed kept), but
    // not deleted while a client is assigned to it.
    b.go(&format!("{url}/distributors")).await;
    b.click("a.button[href='/distributors/partner']").await;
    let form = "form[action='/distributors/partner']";
    b.type_in(&format!("{form} input[name=name]"), "Партнёр-Юго-Запад")
        .await;
    b.type_in(&format!("{form} input[name=email]"), "south@")
        .await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.see("Это не адрес e-mail").await;
    assert_eq!(b.value("input[name=name]").await, "Партнёр-Юго-Запад");
    b.type_in(&format!("{form} input[name=email]"), "sw@partner.test")
        .await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.see("Сохранено.").await;
    b.click("form[action='/distributors/partner/delete'] button[type=submit]")
        .await;
    b.see("Удалить нельзя: за дистрибьютором закреплено клиентов — 1.")
        .await;
    b.screenshot("10b-distributor-delete-refused").await;
    b.click("p.alert a").await;
    b.see("ООО «Ромашка»").await;
    assert_eq!(b.count("tbody tr").await, 1);

    // A manager is refused an admin page, but works with clients ("my clients").
    let m = driver.browser("en-US").await;
    login(&m, &url, "manager1", "password123").await;
    m.see("Clients").await;
    m.go(&format!("{url}/users")).await;
    m.see("Access denied").await;
    m.see("Your role does not allow this page or action.").await;
    m.screenshot("11-manager-forbidden").await;
    m.go(&format!("{url}/clients?mine=1")).await;
    m.see("ООО «Ромашка»").await;
    assert_eq!(m.count("tbody tr").await, 1);
    m.close().await;

    // A distributor sees only its own clients.
    let d = driver.browser("ru-RU").await;
    login(&d, &url, "dist1", "password123").await;
    d.see("ООО «Ромашка»").await;
    assert_eq!(
        d.count("tbody tr").await,
        1,
        "only the distributor's client"
    );
    assert!(!d.text().await.contains("Дубль Альфа"));
    d.screenshot("12-distributor-clients").await;
    d.go(&format!("{url}/clients/{alpha}")).await;
    d.see("Доступ запрещён").await;
    d.go(&format!("{url}/keys/{ka}")).await;
    d.see("Доступ запрещён").await;
    d.go(&format!("{url}/settings")).await;
    d.see("Доступ запрещён").await;
    d.close().await;

    // The audit log shows who did what; a phone-sized screen still works.
    b.go(&format!("{url}/audit")).await;
    b.see("client_merge").await;
    b.see("key_add_item").await;
    b.see("coupons_create").await;
    b.see("product_update").await;
    b.see("distributor_update").await;
    b.screenshot("13-audit").await;
    b.window(390, 844).await;
    b.go(&format!("{url}/clients")).await;
    b.see("ООО «Ромашка»").await;
    b.screenshot("14-clients-phone").await;
    b.go(&format!("{url}/keys/{regnum}")).await;
    b.screenshot("15-key-phone").await;
    b.close().await;
    drop(driver);
    let _ = Role::Admin;
    s.stop().await;
}
