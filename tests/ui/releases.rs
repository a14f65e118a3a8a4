//! Program distributions in the browser: a client filters its releases, reads a
//! changelog whose hostile Markdown stays inert, and downloads a file whose bytes match
//! the SHA-256 shown; an admin publishes through the product page's upload form,
//! unpublishes and deletes. Over plain HTTPS: the upload form's CSRF check, roles, and a
//! client refused another product's release.
use crate::cabinet::fixture;
use crate::kit::{Http, Server, SmtpSink};
use crate::webdriver::Driver;
use licd::domain::Role;
use licd::domain::release::Channel;
use licd::service::coupons::{ActivateInput, NewCouponItem, NewCoupons};
use licd::service::releases::{self, Upload};
use licd::service::{coupons, products};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// A changelog that tries every trick.
const HOSTILE: &str = "## Fixed\n\n* **bold fix** for calls\n* [click me](javascript:window.__pwned=1)\n* [docs](https://example.com/docs)\n\n<script>window.__pwned=2</script>\n<img src=x onerror=\"window.__pwned=3\">\n<b onmouseover=\"window.__pwned=4\">hover</b>\n";

/// Publishes `bytes` as a release through the service (as the upload would).
pub async fn publish(
    s: &Server,
    product: &str,
    version: &str,
    channel: Channel,
    changelog: &str,
    bytes: &[u8],
) -> u64 {
    let dir = releases::dir(s.app());
    std::fs::create_dir_all(&dir).expect("releases dir");
    let path = dir.join(format!(".upload-test-{version}.part"));
    std::fs::write(&path, bytes).expect("write");
    let up = Upload {
        product: product.into(),
        version: version.into(),
        channel,
        changelog: changelog.into(),
        filename: format!("{product}-{version}.zip"),
        path,
        size: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(bytes)),
        requires_feature: None,
        min_seats: 0,
    };
    releases::publish(s.app(), up, "test")
        .await
        .expect("publish")
        .id
}

async fn other_product(s: &Server) {
    products::create(
        s.app(),
        serde_json::from_value(
            serde_json::json!({"code": "PBX", "name": "АТС", "features": [
            {"number": 70, "name": "Линия", "unit": "host"}]}),
        )
        .expect("product"),
    )
    .await
    .expect("product");
}

/// A coupon of CRM activated on `regnum`: it signs the client in.
async fn coupon(s: &Server, regnum: &str) -> String {
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
            regnum: regnum.into(),
            coupon: batch.codes[0].clone(),
        },
    )
    .await
    .expect("activate");
    batch.codes[0].clone()
}

fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn downloaded(dir: &std::path::Path, name: &str) -> Vec<u8> {
    for _ in 0..100 {
        let p = dir.join(name);
        if p.exists() && !dir.join(format!("{name}.crdownload")).exists() {
            let b = std::fs::read(&p).expect("read download");
            if !b.is_empty() {
                return b;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    panic!("{name} not downloaded into {}: {seen:?}", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_filters_reads_a_changelog_and_downloads_in_a_browser() {
    let sink = SmtpSink::start().await;
    let s = Server::start_mailing(&sink).await;
    let url = s.url.clone();
    let f = fixture(&s, "ООО Ромашка", "buyer@romashka.test").await;
    other_product(&s).await;
    let code = coupon(&s, &f.regnum).await;
    let old = payload(3000, 1);
    let file = payload(200_000, 7);
    let yanked = publish(&s, "CRM", "1.8.0", Channel::Stable, "old", &old).await;
    releases::update(
        s.app(),
        yanked,
        releases::ReleasePatch {
            yanked: Some(true),
            ..Default::default()
        },
        "test",
    )
    .await
    .expect("yank");
    let v19 = publish(&s, "CRM", "1.9.0", Channel::Stable, HOSTILE, &file).await;
    publish(&s, "CRM", "1.10.0", Channel::Stable, "* faster", &old).await;
    publish(&s, "PBX", "5.0.0", Channel::Stable, "not theirs", &old).await;
    publish(&s, "CRM", "2.0.0-beta.1", Channel::Beta, "* new UI", &old).await;

    let downloads = tempfile::tempdir().expect("downloads");
    let driver = Driver::start().await;
    let b = driver.browser_in("en-US", Some(downloads.path())).await;
    b.go(&format!("{url}/cabinet/login")).await;
    b.type_in("input[name=login]", &code).await;
    b.click("form[action='/cabinet/login'] button[type=submit]")
        .await;
    b.see("License usage").await;
    b.click("a[href='/cabinet/distributions']").await;
    b.see("Program distributions").await;
    // Their product's visible releases, newest first; not the yanked one, not PBX.
    assert_eq!(b.count("article.release").await, 3);
    let order = b
        .script("return [...document.querySelectorAll('article.release .version')].map(e => e.textContent)")
        .await;
    assert_eq!(
        order,
        serde_json::json!(["2.0.0-beta.1", "1.10.0", "1.9.0"])
    );
    let text = b.text().await;
    assert!(!text.contains("1.8.0") && !text.contains("5.0.0"), "{text}");
    b.screenshot("cabinet-en-distributions").await;

    // The changelog: formatting kept, every trick inert.
    // The newest release's changelog is open; the others open on a click.
    let open =
        |id: u64| format!("return document.querySelector('#release-{id} details.changelog').open");
    assert_eq!(b.script(&open(v19)).await, serde_json::json!(false));
    b.click(&format!("#release-{v19} details.changelog summary"))
        .await;
    assert_eq!(b.script(&open(v19)).await, serde_json::json!(true));
    b.see("bold fix for calls").await;
    b.see("hover").await;
    let sel = format!("#release-{v19} .markdown");
    assert_eq!(b.count(&format!("{sel} strong")).await, 1);
    assert_eq!(b.count(&format!("{sel} script")).await, 0);
    assert_eq!(b.count(&format!("{sel} img")).await, 0);
    assert_eq!(b.count(&format!("{sel} [onmouseover]")).await, 0);
    assert_eq!(b.count(&format!("{sel} a[href^='javascript']")).await, 0);
    assert_eq!(
        b.count(&format!(
            "{sel} a[href='https://example.com/docs'][rel~=noopener]"
        ))
        .await,
        1
    );
    // Clicking the defanged link does nothing to the page.
    b.click(&format!("{sel} li:nth-child(2) a")).await;
    let pwned = b.script("return typeof window.__pwned").await;
    assert_eq!(pwned, serde_json::json!("undefined"));
    b.screenshot("cabinet-en-changelog").await;

    // Filter by channel, then by version text and dates.
    b.click("select[name=channel] option[value=stable]").await;
    b.click("form[role=search] button[type=submit]").await;
    b.see("Releases shown: 2 / 3").await;
    assert!(b.url().await.contains("channel=stable"));
    b.type_in("input[name=version]", "1.9").await;
    b.click("form[role=search] button[type=submit]").await;
    b.see("Releases shown: 1 / 3").await;
    assert_eq!(b.count("article.release").await, 1);
    b.go(&format!(
        "{url}/cabinet/distributions?from=2000-01-01&to=2000-12-31"
    ))
    .await;
    b.see("No release matches the filters.").await;
    b.go(&format!(
        "{url}/cabinet/distributions?version=1.9&product=crm"
    ))
    .await;
    assert_eq!(b.count("article.release").await, 1);

    // Size and SHA-256 beside the button; the downloaded bytes match them.
    let shown_sha = b
        .script(&format!(
            "return document.querySelector('#release-{v19} code.sha256').textContent"
        ))
        .await;
    let sha = hex::encode(Sha256::digest(&file));
    assert_eq!(shown_sha, serde_json::json!(sha));
    b.see("195.3 KiB").await;
    b.click(&format!("#release-{v19} a.download")).await;
    let got = downloaded(downloads.path(), "CRM-1.9.0.zip").await;
    assert_eq!(got.len(), file.len());
    assert_eq!(hex::encode(Sha256::digest(&got)), sha);
    // Counted once, against the client.
    let tx = s.app().store.read().expect("read");
    assert_eq!(
        releases::get(&tx, v19).expect("get").expect("r").downloads,
        1
    );
    assert_eq!(
        releases::downloads_by_client(&tx, v19).expect("by client"),
        vec![(f.client, 1)]
    );
    drop(tx);

    // Russian labels, the same list.
    b.go(&format!("{url}/cabinet/distributions")).await;
    b.click("form[action='/cabinet/lang'] button").await;
    b.see("Дистрибутивы программ").await;
    b.see("Что нового").await;
    b.see("Скачать").await;
    b.close().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_publishes_unpublishes_and_deletes_in_a_browser() {
    let s = Server::start().await;
    let url = s.url.clone();
    s.user("admin", Role::Admin, "").await;
    let f = fixture(&s, "ООО Ромашка", "buyer@romashka.test").await;
    let work = tempfile::tempdir().expect("work");
    let bytes = payload(1_500_000, 3);
    let local = work.path().join("crm-setup.exe");
    std::fs::write(&local, &bytes).expect("write");

    let driver = Driver::start().await;
    let b = driver.browser("en-US").await;
    crate::login(&b, &url, "admin", "password123").await;
    b.go(&format!("{url}/products/CRM")).await;
    b.see("Releases").await;
    b.see("No releases.").await;
    b.click("#releases details.more summary").await;
    b.type_in("#releases input[name=version]", "3.1.0").await;
    b.click("#releases select[name=channel] option[value=rc]")
        .await;
    b.type_in(
        "#releases textarea[name=changelog]",
        "* **calls** are logged",
    )
    .await;
    b.type_in("#releases input[name=file]", &local.display().to_string())
        .await;
    b.click("#releases form.upload button[type=submit]").await;
    b.see("Saved.").await;
    b.see("crm-setup.exe").await;
    b.see("release candidate").await;
    let sha = hex::encode(Sha256::digest(&bytes));
    b.see(&sha).await;
    let id: u64 = b
        .url()
        .await
        .rsplit('/')
        .next()
        .and_then(|p| p.split('?').next())
        .and_then(|p| p.parse().ok())
        .expect("release id in the url");
    b.screenshot("staff-en-release").await;
    let stored = {
        let tx = s.app().store.read().expect("read");
        releases::get(&tx, id).expect("get").expect("release")
    };
    assert_eq!(stored.size, bytes.len() as u64);
    assert_eq!(stored.sha256, sha);
    assert_eq!(stored.published_by, "admin");
    assert_eq!(stored.channel, Channel::Rc);
    let file = releases::dir(s.app()).join(&stored.stored);
    assert_eq!(std::fs::read(&file).expect("stored file"), bytes);
    let visible = |s: &Server| {
        let tx = s.app().store.read().expect("read");
        releases::for_client(&tx, f.client, s.app().now())
            .expect("for client")
            .len()
    };
    assert_eq!(visible(&s), 1);

    // A second upload of the same version and channel: refused in the form.
    b.go(&format!("{url}/releases")).await;
    b.type_in("#publish input[name=version]", "3.1.0").await;
    b.click("#publish select[name=channel] option[value=rc]")
        .await;
    b.type_in("#publish input[name=file]", &local.display().to_string())
        .await;
    b.click("#publish form.upload button[type=submit]").await;
    b.see("This version is already published on this channel")
        .await;

    // Edit the requirements and changelog.
    b.go(&format!("{url}/releases/{id}")).await;
    b.type_in(
        "textarea[name=changelog]",
        "* **calls** and <script>x</script> chats",
    )
    .await;
    b.type_in("input[name=requires_feature]", "31").await;
    b.click(&format!(
        "form[action='/releases/{id}'] button[type=submit]"
    ))
    .await;
    b.see("Saved.").await;
    assert_eq!(b.count(".markdown script").await, 0);
    b.see("feature 31").await;

    // Unpublish: gone from the client's list; publish again: back.
    b.click(&format!("form[action='/releases/{id}/yank'] button"))
        .await;
    b.see("no, unpublished").await;
    assert_eq!(visible(&s), 0);
    b.click(&format!("form[action='/releases/{id}/yank'] button"))
        .await;
    b.see("Saved.").await;
    assert_eq!(visible(&s), 1);

    // Delete asks for the box first, then removes the row and the file.
    b.script(&format!(
        "document.querySelector(\"form[action='/releases/{id}/delete'] input[name=confirm]\").removeAttribute('required')"
    ))
    .await;
    b.click(&format!("form[action='/releases/{id}/delete'] button"))
        .await;
    b.see("Tick the box to confirm").await;
    b.click(&format!(
        "form[action='/releases/{id}/delete'] input[name=confirm]"
    ))
    .await;
    b.click(&format!("form[action='/releases/{id}/delete'] button"))
        .await;
    b.see("Deleted.").await;
    assert!(b.url().await.ends_with("/releases?done=deleted"));
    assert!(!file.exists(), "the file goes with the release");
    let tx = s.app().store.read().expect("read");
    assert!(releases::get(&tx, id).expect("get").is_none());
    drop(tx);
    b.close().await;
    s.stop().await;
}

#[tokio::test]
async fn uploads_need_the_token_and_the_role_and_clients_only_their_products() {
    let s = Server::start().await;
    s.user("admin", Role::Admin, "").await;
    s.user("mgr", Role::Manager, "").await;
    let f = fixture(&s, "ООО Ромашка", "buyer@romashka.test").await;
    other_product(&s).await;
    let code = coupon(&s, &f.regnum).await;
    let theirs = publish(&s, "CRM", "1.0.0", Channel::Stable, "", b"crm bytes").await;
    let not_theirs = publish(&s, "PBX", "1.0.0", Channel::Stable, "", b"pbx bytes").await;
    let parts = || {
        std::fs::read_dir(releases::dir(s.app()))
            .expect("dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
            .count()
    };
    let form = |csrf: &str| {
        reqwest::multipart::Form::new()
            .text("csrf", csrf.to_owned())
            .text("product", "CRM")
            .text("version", "9.9.9")
            .part(
                "file",
                reqwest::multipart::Part::bytes(vec![5u8; 100_000]).file_name("x.bin"),
            )
    };

    let mut admin = Http::new(&s);
    admin.login("admin", "password123").await;
    let csrf = admin.get("/releases").await.csrf();
    let p = admin.post_multipart("/releases", form("wrong")).await;
    assert_eq!(p.status, 403, "{}", p.body);
    assert_eq!(parts(), 0, "nothing of a refused upload is kept");
    // The token after the file is refused too: it must come first.
    let late = reqwest::multipart::Form::new()
        .text("product", "CRM")
        .text("version", "9.9.9")
        .part(
            "file",
            reqwest::multipart::Part::bytes(vec![5u8; 10]).file_name("x.bin"),
        )
        .text("csrf", csrf.clone());
    assert_eq!(admin.post_multipart("/releases", late).await.status, 403);
    // A bad version: the form again with the error, nothing kept.
    let bad = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("product", "CRM")
        .text("version", "no spaces allowed")
        .part(
            "file",
            reqwest::multipart::Part::bytes(vec![5u8; 10]).file_name("x.bin"),
        );
    let p = admin.post_multipart("/releases", bad).await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("1 to 64 letters"), "{}", p.body);
    assert!(
        p.body.contains("no spaces allowed"),
        "typed values are kept"
    );
    assert_eq!(parts(), 0);
    let p = admin.post_multipart("/releases", form(&csrf)).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(p.location().starts_with("/releases/"));

    // A manager reads and downloads, never publishes or changes.
    let mut mgr = Http::new(&s);
    mgr.login("mgr", "password123").await;
    let list = mgr.get("/releases").await;
    assert_eq!(list.status, 200);
    assert!(!list.body.contains("enctype=\"multipart/form-data\""));
    let mcsrf = list.csrf();
    assert_eq!(
        mgr.post_multipart("/releases", form(&mcsrf)).await.status,
        403
    );
    let p = mgr
        .post(
            &format!("/releases/{theirs}/yank"),
            &[("csrf", &mcsrf), ("yanked", "1")],
        )
        .await;
    assert_eq!(p.status, 403);
    let (st, h, body) = mgr.get_bytes(&format!("/releases/{not_theirs}/file")).await;
    assert_eq!((st, body.as_slice()), (200, b"pbx bytes".as_slice()));
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap_or("")
            .contains("PBX-1.0.0.zip")
    );

    // The client: its product's file, with Range; never another product's.
    let mut c = Http::new(&s);
    let p = crate::cabinet::sign_in(&mut c, &code, "").await;
    assert_eq!(p.status, 303, "{}", p.body);
    let (st, _, body) = c
        .get_bytes(&format!("/cabinet/distributions/{theirs}/file"))
        .await;
    assert_eq!((st, body.as_slice()), (200, b"crm bytes".as_slice()));
    let (st, _, body) = c
        .get_bytes(&format!("/cabinet/distributions/{not_theirs}/file"))
        .await;
    assert_eq!(st, 403, "{}", String::from_utf8_lossy(&body));
    let (st, _, _) = c.get_bytes("/cabinet/distributions/999999/file").await;
    assert_eq!(st, 404);
    let list = c.get("/cabinet/distributions").await;
    assert!(list.body.contains("CRM-1.0.0.zip") && !list.body.contains("PBX-1.0.0.zip"));
    s.stop().await;
}
