//! Back-office actions checked over HTTPS without a browser: key items and blocking,
//! client delete, API tokens shown once, extra client fields from Settings, audit.
use crate::kit::{Http, Server};
use licd::domain::Role;
use licd::service::clients::{self, ClientInput};

async fn product(s: &Server) {
    licd::service::products::create(
        s.app(),
        serde_json::from_value(
            serde_json::json!({"code": "P", "name": "Продукт", "features": [
            {"number": 31, "name": "Журнал звонков", "unit": "user"}]}),
        )
        .expect("product"),
    )
    .await
    .expect("product");
}

#[tokio::test]
async fn key_items_change_and_block_and_client_delete() {
    let s = Server::start().await;
    s.user("admin", Role::Admin, "").await;
    product(&s).await;
    let id = clients::create(
        s.app(),
        ClientInput {
            company: Some("Удаляемый".into()),
            ..Default::default()
        },
    )
    .await
    .expect("client")
    .id;
    let mut h = Http::new(&s);
    h.login("admin", "password123").await;
    let card = h.get(&format!("/clients/{id}")).await;
    let csrf = card.csrf();
    let made = h
        .post(&format!("/clients/{id}/keys"), &[("csrf", &csrf)])
        .await;
    assert_eq!(made.status, 303);
    let regnum = made
        .location()
        .trim_start_matches("/keys/")
        .split('?')
        .next()
        .expect("regnum")
        .to_owned();

    let add = h
        .post(
            &format!("/keys/{regnum}/items"),
            &[
                ("csrf", &csrf),
                ("feature", "P:31"),
                ("seats", "0"),
                ("expires", ""),
            ],
        )
        .await;
    assert!(add.location().ends_with("error=seats"));
    let page = h.get(add.location()).await;
    assert!(page.body.contains("Количество мест — не меньше 1."));
    let add = h
        .post(
            &format!("/keys/{regnum}/items"),
            &[
                ("csrf", &csrf),
                ("feature", "P:31"),
                ("seats", "4"),
                ("expires", "2031-01-31"),
            ],
        )
        .await;
    assert_eq!(add.status, 303);
    let page = h.get(&format!("/keys/{regnum}")).await;
    assert!(page.body.contains("Журнал звонков"));
    assert!(page.body.contains("2031-01-31 23:59"));
    assert!(page.body.contains("value=\"4\""));

    let changed = h
        .post(
            &format!("/keys/{regnum}/items/1"),
            &[
                ("csrf", &csrf),
                ("seats", "7"),
                ("expires", ""),
                ("action", "change"),
            ],
        )
        .await;
    assert_eq!(changed.status, 303);
    let page = h.get(&format!("/keys/{regnum}")).await;
    assert!(page.body.contains("value=\"7\"") && page.body.contains("бессрочно"));

    // A client whose key holds items cannot be deleted.
    let refused = h
        .post(&format!("/clients/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, 409);
    assert!(refused.body.contains("У клиента есть ключи с позициями"));

    let blocked = h
        .post(
            &format!("/keys/{regnum}/block"),
            &[("csrf", &csrf), ("blocked", "1")],
        )
        .await;
    assert_eq!(blocked.status, 303);
    let page = h.get(&format!("/keys/{regnum}")).await;
    assert!(page.body.contains("заблокирован") && page.body.contains("Разблокировать"));
    let list = h.get("/keys").await;
    assert!(list.body.contains(&regnum) && list.body.contains("Удаляемый"));

    let removed = h
        .post(
            &format!("/keys/{regnum}/items/1"),
            &[("csrf", &csrf), ("action", "remove")],
        )
        .await;
    assert_eq!(removed.status, 303);
    assert!(
        h.get(&format!("/keys/{regnum}"))
            .await
            .body
            .contains("Ключ пуст.")
    );
    let deleted = h
        .post(&format!("/clients/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        (deleted.status, deleted.location()),
        (303, "/clients?done=deleted")
    );
    assert!(
        h.get("/clients?done=deleted")
            .await
            .body
            .contains("Клиент удалён.")
    );
    assert_eq!(h.get(&format!("/clients/{id}")).await.status, 404);

    let audit = h.get("/audit").await;
    for what in [
        "Сгенерирован ключ",
        "Изменена позиция",
        "Удалена позиция",
        "Ключ заблокирован",
        "Удалён клиент",
    ] {
        assert!(audit.body.contains(what), "audit shows {what}");
    }
    s.stop().await;
}

#[tokio::test]
async fn tokens_are_shown_once_and_extra_fields_come_from_settings() {
    let s = Server::start().await;
    s.user("admin", Role::Admin, "").await;
    let mut h = Http::new(&s);
    h.login("admin", "password123").await;
    let csrf = h.get("/tokens").await.csrf();
    let made = h
        .post(
            "/tokens",
            &[("csrf", &csrf), ("name", "1С обмен"), ("role", "manager")],
        )
        .await;
    assert_eq!(made.status, 200);
    assert!(made.body.contains("показывается только один раз"));
    let at = made.body.find("licd_").expect("the secret is shown");
    let secret: String = made.body[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let again = h.get("/tokens").await;
    assert!(
        again.body.contains("1С обмен") && !again.body.contains(&secret),
        "shown only once"
    );
    // The token works on the admin API, until revoked from the UI.
    let tls = licd::http::tls::client_config(Some(&s.cert), false).expect("tls");
    let api = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .expect("client");
    let call = || {
        api.get(format!("{}/api/admin/v1/clients", s.url))
            .bearer_auth(&secret)
            .send()
    };
    assert_eq!(call().await.expect("api").status().as_u16(), 200);
    let revoked = h.post("/tokens/1/revoke", &[("csrf", &csrf)]).await;
    assert_eq!(revoked.status, 303);
    assert!(h.get("/tokens").await.body.contains("отозван"));
    assert_eq!(call().await.expect("api").status().as_u16(), 401);

    // Settings: a bad prefix is refused with what was typed kept; extra fields appear on cards.
    let bad = h
        .post(
            "/settings",
            &[
                ("csrf", &csrf),
                ("vendor_name", "МИКО"),
                ("regnum_prefix", "МИКО"),
                ("offline_license_days", "7"),
                ("mail_from", "lic@miko.test"),
                ("extra_fields", "Отрасль"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("От 1 до 12 латинских букв или цифр")
            && bad.body.contains("value=\"МИКО\"")
    );
    let ok = h
        .post(
            "/settings",
            &[
                ("csrf", &csrf),
                ("vendor_name", "МИКО"),
                ("regnum_prefix", "miko"),
                ("offline_license_days", "7"),
                ("mail_from", "lic@miko.test"),
                ("extra_fields", "Отрасль\nКоличество сотрудников"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303);
    let id = clients::create(
        s.app(),
        ClientInput {
            company: Some("С полями".into()),
            ..Default::default()
        },
    )
    .await
    .expect("client")
    .id;
    let card = h.get(&format!("/clients/{id}")).await;
    assert!(
        card.body.contains("Количество сотрудников") && card.body.contains("МИКО"),
        "vendor name in the title"
    );
    let saved = h
        .post(
            &format!("/clients/{id}"),
            &[
                ("csrf", &csrf),
                ("company", "С полями"),
                ("extra:Отрасль", "Ритейл"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303);
    let tx = s.app().store.read().expect("read");
    let c = clients::load(&tx, id).expect("load").expect("client");
    assert_eq!(c.extra.get("Отрасль").map(String::as_str), Some("Ритейл"));
    drop(tx);
    let made = h
        .post(&format!("/clients/{id}/keys"), &[("csrf", &csrf)])
        .await;
    assert!(
        made.location().starts_with("/keys/MIKO-"),
        "{}",
        made.location()
    );
    s.stop().await;
}

#[tokio::test]
async fn a_host_binding_outlives_its_lease_in_the_monitor_until_unbound() {
    let s = Server::start().await;
    s.user("admin", Role::Admin, "").await;
    licd::service::products::create(
        s.app(),
        serde_json::from_value(
            serde_json::json!({"code": "P", "name": "P", "heartbeat_s": 30, "features": [
            {"number": 49, "name": "Панель", "unit": "host"}]}),
        )
        .expect("product"),
    )
    .await
    .expect("product");
    let id = clients::create(
        s.app(),
        ClientInput {
            company: Some("Хост".into()),
            ..Default::default()
        },
    )
    .await
    .expect("client")
    .id;
    let regnum = licd::service::keys::create_for_client(s.app(), id)
        .await
        .expect("key");
    licd::service::keys::add_grant(
        s.app(),
        &regnum,
        serde_json::from_value(serde_json::json!({"product": "P", "feature": 49, "seats": 1}))
            .expect("grant"),
    )
    .await
    .expect("grant");
    licd::service::leases::capture(
        s.app(),
        serde_json::from_value(
            serde_json::json!({"regnum": regnum, "feature": 49, "host": "KASSA-1"}),
        )
        .expect("capture"),
    )
    .await
    .expect("capture");
    s.clock.advance(time::Duration::hours(2));
    let mut h = Http::new(&s);
    h.login("admin", "password123").await;
    let page = h.get("/sessions").await;
    assert!(
        page.body.contains("KASSA-1") && page.body.contains("привязан, не используется"),
        "{}",
        page.body
    );
    let card = h.get(&format!("/clients/{id}")).await;
    assert!(
        card.body.contains("KASSA-1"),
        "the card lists current sessions"
    );
    let csrf = page.csrf();
    let done = h
        .post(
            "/sessions/end",
            &[
                ("csrf", &csrf),
                ("regnum", &regnum),
                ("host", "KASSA-1"),
                ("feature", "49"),
                ("lease", ""),
            ],
        )
        .await;
    assert_eq!(done.status, 303);
    let page = h.get("/sessions").await;
    assert!(!page.body.contains("KASSA-1"));
    assert!(page.body.contains("Захватов и привязок: 0"));
    s.stop().await;
}

#[tokio::test]
async fn clients_sort_by_company_and_filter_by_manager() {
    let s = Server::start().await;
    s.user("admin", Role::Admin, "").await;
    s.user("olga", Role::Manager, "").await;
    for (name, manager) in [
        ("Яблоко", "olga"),
        ("Абрикос", ""),
        ("малина", "olga"),
        ("Банан", ""),
    ] {
        clients::create(
            s.app(),
            ClientInput {
                company: Some(name.into()),
                manager: Some(manager.into()),
                ..Default::default()
            },
        )
        .await
        .expect("client");
    }
    let mut h = Http::new(&s);
    h.login("admin", "password123").await;
    let pos = |body: &str, what: &str| {
        body.find(&format!(">{what}<"))
            .unwrap_or_else(|| panic!("{what} listed"))
    };
    let newest = h.get("/clients").await.body;
    assert!(
        pos(&newest, "Банан") < pos(&newest, "Яблоко"),
        "newest first by default"
    );
    let sorted = h.get("/clients?sort=company").await.body;
    assert!(pos(&sorted, "Абрикос") < pos(&sorted, "Банан"));
    assert!(
        pos(&sorted, "Банан") < pos(&sorted, "малина"),
        "case does not matter"
    );
    assert!(pos(&sorted, "малина") < pos(&sorted, "Яблоко"));
    let olga = h.get("/clients?manager=olga&sort=company").await.body;
    assert!(pos(&olga, "малина") < pos(&olga, "Яблоко"));
    assert!(!olga.contains(">Абрикос<") && !olga.contains(">Банан<"));
    assert!(olga.contains("1–2 из 2"));
    let old = h.get("/clients?sort=old&q=%D0%BE").await.body;
    assert!(pos(&old, "Яблоко") < pos(&old, "Абрикос"), "oldest first");
    assert!(!old.contains(">Банан<"));
    s.stop().await;
}

#[tokio::test]
async fn products_and_distributors_are_edited_and_deleted_with_clear_refusals() {
    let s = Server::start().await;
    s.user("admin", Role::Admin, "").await;
    product(&s).await;
    let mut h = Http::new(&s);
    h.login("admin", "password123").await;
    let page = h.get("/products/P").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Изменение продукта"));
    let csrf = page.csrf();
    /// The product form as posted: renamed, new heartbeat and trial, feature 32 added.
    fn form(csrf: &str) -> Vec<(&str, &str)> {
        vec![
            ("csrf", csrf),
            ("name", "Продукт 2"),
            ("heartbeat_s", "90"),
            ("trial_days", "10"),
            ("f31_name", "Журнал"),
            ("f31_unit", "user"),
            ("f31_seats", "2"),
            ("new_number", "32"),
            ("new_name", "Чаты"),
            ("new_unit", "host"),
            ("new_seats", "1"),
        ]
    }
    let csrf = csrf.as_str();
    // Without the session's token: refused, nothing changes.
    let p = h.post("/products/P", &form("")[1..]).await;
    assert_eq!(p.status, 403);
    // Bad values: each field says what is wrong, in Russian; what was typed stays.
    let mut bad = form(csrf);
    for (k, v) in [
        ("name", " "),
        ("heartbeat_s", "2"),
        ("trial_days", ""),
        ("new_number", "abc"),
    ] {
        bad.retain(|(n, _)| *n != k);
        bad.push((k, v));
    }
    let bad = h.post("/products/P", &bad).await;
    assert_eq!(bad.status, 400);
    for msg in [
        "Обязательное поле",
        "От 5 до 86400 секунд",
        "Укажите дни триала или очистите места триала",
        "Номер функции",
    ] {
        assert!(bad.body.contains(msg), "{msg}: {}", bad.body);
    }
    assert!(bad.body.contains("value=\"abc\"") && bad.body.contains("value=\"Чаты\""));
    // Saved: trial terms, a new feature, and the catalog knows it at once.
    let ok = h.post("/products/P", &form(csrf)).await;
    assert_eq!((ok.status, ok.location()), (303, "/products/P?done=saved"));
    let tx = s.app().store.read().expect("read");
    let p = licd::service::products::by_code(&tx, "p")
        .expect("read")
        .expect("product");
    drop(tx);
    assert_eq!((p.name.as_str(), p.heartbeat_s), ("Продукт 2", 90));
    assert_eq!(p.features.len(), 2);
    let trial = p.trial.expect("trial");
    assert_eq!(trial.days, 10);
    assert_eq!(
        trial
            .items
            .iter()
            .map(|i| (i.feature, i.seats))
            .collect::<Vec<_>>(),
        [(31, 2), (32, 1)]
    );
    let hb = s.app().catalog.by_feature(32).map(|p| p.heartbeat_s);
    assert_eq!(hb, Some(90));
    // No key holds it: deleted, and gone from the catalog.
    let del = h.post("/products/P/delete", &[("csrf", csrf)]).await;
    assert_eq!(
        (del.status, del.location()),
        (303, "/products?done=deleted")
    );
    assert!(s.app().catalog.by_feature(31).is_none());
    assert_eq!(h.get("/products/P").await.status, 404);

    // Distributors: refused while a user acts for one; another renamed, then deleted.
    for code in ["south", "north"] {
        licd::service::distributors::create(s.app(), code, code, "d@partner.test")
            .await
            .expect("distributor");
    }
    s.user("d1", Role::Distributor, "south").await;
    let refused = h
        .post("/distributors/south/delete", &[("csrf", csrf)])
        .await;
    assert_eq!(refused.status, 409);
    assert!(
        refused
            .body
            .contains("от имени дистрибьютора работают пользователи (d1)"),
        "{}",
        refused.body
    );
    let bad = h
        .post(
            "/distributors/north",
            &[("csrf", csrf), ("name", ""), ("email", "n@partner.test")],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("От 1 до 200 символов"));
    let saved = h
        .post(
            "/distributors/north",
            &[
                ("csrf", csrf),
                ("name", "Север"),
                ("email", "n@partner.test"),
            ],
        )
        .await;
    assert_eq!(
        (saved.status, saved.location()),
        (303, "/distributors/north?done=saved")
    );
    assert!(h.get("/distributors").await.body.contains("Север"));
    let del = h
        .post("/distributors/north/delete", &[("csrf", csrf)])
        .await;
    assert_eq!(
        (del.status, del.location()),
        (303, "/distributors?done=deleted")
    );
    let list = h.get("/distributors?done=deleted").await.body;
    assert!(list.contains("Удалено.") && !list.contains("Север"));

    let audit = h.get("/audit").await.body;
    for what in [
        "Изменён продукт",
        "Удалён продукт",
        "Изменён дистрибьютор",
        "Удалён дистрибьютор",
    ] {
        assert!(audit.contains(what), "audit shows {what}");
    }
    s.stop().await;
}
