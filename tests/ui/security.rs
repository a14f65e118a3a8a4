//! Web security (issue 15, part 4): every UI route from the router's own table
//! (`licd::http::ui::routes()`) and every admin-API call from the OpenAPI document, tried
//! by each kind of caller; CSRF on every form; session fixation and sign-out; the staff
//! lockout; stored XSS in a real browser. The world every check runs against is made
//! here: real ids for every path parameter, so a request reaches its handler.
mod api;
mod csrf;
mod roles;
mod sessions;
mod xss;

use crate::cabinet::{Fixture, capture, fixture};
use crate::kit::{Http, Page, Server};
use licd::domain::Role;
use licd::domain::release::Channel;
use licd::service::coupons::{ActivateInput, NewCouponItem, NewCoupons};
use licd::service::{audit, auth, backups, cabinet, clients, coupons, keys, outbox};

/// The password `Server::user` gives every staff member.
pub const PASSWORD: &str = "password123";

/// Real objects for every path parameter of the UI and the admin API.
pub struct World {
    pub s: Server,
    pub f: Fixture,
    /// A grant on the key (`/keys/{regnum}/items/{id}`).
    pub grant: u64,
    pub release: u64,
    pub admin_token: String,
    pub manager_token: String,
    pub token_id: u64,
    pub mail: u64,
    pub backup: String,
    pub lease: String,
    /// A coupon activated on the key: the client's cabinet login (no password).
    pub coupon: String,
}

impl World {
    /// Admin `root`, manager `mgr`, distributor `dist` (of distributor `south`), and a
    /// client of `south` with a key of product CRM, a release, tokens, a queued mail,
    /// a backup and a live lease.
    pub async fn make() -> World {
        let s = Server::start().await;
        s.user("root", Role::Admin, "").await;
        s.user("mgr", Role::Manager, "").await;
        s.user("dist", Role::Distributor, "south").await;
        let f = fixture(&s, "ООО Проверка", "buyer@check.test").await;
        clients::update(
            s.app(),
            f.client,
            clients::ClientInput {
                distributor: Some("south".into()),
                manager: Some("mgr".into()),
                ..Default::default()
            },
        )
        .await
        .expect("assign the client");
        let grant = {
            let tx = s.app().store.read().expect("read");
            keys::load(&tx, &f.regnum)
                .expect("key")
                .expect("key")
                .grants[0]
                .id
        };
        let release = crate::releases::publish(
            &s,
            "CRM",
            "1.0.0",
            Channel::Stable,
            "* first",
            b"release bytes",
        )
        .await;
        let now = s.app().now();
        let (admin_token, t) = auth::create_token(&s.app().store, "crm", Role::Admin, now, "test")
            .await
            .expect("admin token");
        let (manager_token, _) =
            auth::create_token(&s.app().store, "crm-mgr", Role::Manager, now, "test")
                .await
                .expect("manager token");
        cabinet::request_code(s.app(), [127, 0, 0, 9].into(), &f.regnum)
            .await
            .expect("code")
            .expect("not limited");
        let mail = {
            let tx = s.app().store.read().expect("read");
            outbox::list(&tx, &outbox::Filter::default(), None, 10)
                .expect("outbox")
                .mails
                .into_iter()
                .next()
                .expect("a queued mail")
                .id
        };
        let backup = backups::take(s.app(), backups::Why::Manual)
            .await
            .expect("backup")
            .name;
        let lease = capture(&s, &f.regnum, 31, "HOST-1", "buh").await;
        let batch = coupons::create_batch(
            s.app(),
            NewCoupons {
                count: 1,
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
        World {
            s,
            f,
            grant,
            release,
            admin_token,
            manager_token,
            token_id: t.id,
            mail,
            backup,
            lease,
            coupon: batch.codes[0].clone(),
        }
    }

    /// A route's path with every `{parameter}` filled with a real id.
    pub fn fill(&self, pattern: &str) -> String {
        let p = pattern
            .replace(
                "/keys/{regnum}/items/{id}",
                &format!("/keys/{{regnum}}/items/{}", self.grant),
            )
            .replace("{regnum}", &self.f.regnum)
            .replace("/clients/{id}", &format!("/clients/{}", self.f.client))
            .replace("/releases/{id}", &format!("/releases/{}", self.release))
            .replace(
                "/distributions/{id}",
                &format!("/distributions/{}", self.release),
            )
            .replace("/tokens/{id}", &format!("/tokens/{}", self.token_id))
            .replace("/outbox/{id}", &format!("/outbox/{}", self.mail))
            .replace("/products/{code}", "/products/CRM")
            .replace("/distributors/{code}", "/distributors/south")
            .replace("/users/{login}", "/users/mgr")
            .replace("/backups/{name}", &format!("/backups/{}", self.backup))
            .replace("/leases/{lease}", &format!("/leases/{}", self.lease))
            // Setup and password links: a made-up secret (those pages are public).
            .replace("{token}", "0123456789abcdef");
        assert!(!p.contains('{'), "no id made for a parameter of {pattern}");
        p
    }

    /// A staff member signed in over HTTPS, with the session's CSRF token.
    pub async fn staff(&self, login: &str) -> (Http, String) {
        let mut h = Http::new(&self.s);
        h.login(login, PASSWORD).await;
        let csrf = h.get("/account").await.csrf();
        (h, csrf)
    }

    /// The client signed in to the cabinet (by its activated coupon), with its CSRF token.
    pub async fn client(&self) -> (Http, String) {
        let mut h = Http::new(&self.s);
        let p = crate::cabinet::sign_in(&mut h, &self.coupon, "").await;
        assert_eq!(p.location(), "/cabinet/statistics", "{}", p.body);
        let csrf = h.get("/cabinet/settings").await.csrf();
        (h, csrf)
    }

    /// How many audit entries there are (every staff change writes one).
    pub fn audit_count(&self) -> usize {
        let tx = self.s.app().store.read().expect("read");
        audit::page(&tx, "", 0, 1).expect("audit").1
    }

    /// The actions recorded in the audit log since it held `before` entries.
    pub fn audited_since(&self, before: usize) -> Vec<String> {
        let tx = self.s.app().store.read().expect("read");
        let (_, total) = audit::page(&tx, "", 0, 1).expect("audit");
        let (new, _) = audit::page(&tx, "", 0, total - before).expect("audit");
        new.into_iter().map(|e| e.action).collect()
    }
}

/// The value of cookie `name` among a response's Set-Cookie headers.
pub fn set_cookie(p: &Page, name: &str) -> Option<String> {
    p.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}
