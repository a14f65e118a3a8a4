//! Backups, restore and `licd check`: the real binary against a real server and real
//! data directories.
use crate::kit::TestServer;
use redb::{ReadableDatabase, ReadableTable};
use reqwest::Method;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_licd");

fn licd(args: &[&str], paths: &[&Path]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args);
    for p in paths {
        c.arg(p);
    }
    c.env("LICD_LOG", "warn").output().expect("run licd")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Lease ids in a database's lease index (read directly from a stopped server's file).
fn leases_in(db: &Path) -> std::collections::BTreeSet<String> {
    let db = redb::ReadOnlyDatabase::open(db).expect("open");
    let tx = db.begin_read().expect("read");
    let t = tx
        .open_table(licd::store::tables::LEASE_INDEX)
        .expect("lease index");
    t.iter()
        .expect("iter")
        .map(|r| r.expect("row").0.value().to_owned())
        .collect()
}

async fn capture(s: &TestServer, regnum: &str, user: &str) -> Option<String> {
    let r = s
        .api(
            Method::POST,
            "/leases",
            Some(json!({"regnum": regnum, "feature": 1, "host": "h", "user": user})),
        )
        .await;
    assert!(
        r.status == 200 || r.status == 201,
        "capture: {} {}",
        r.status,
        r.body
    );
    r.body["lease"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn online_backup_under_captures_restores_every_acknowledged_capture() {
    let s = TestServer::start().await;
    s.product("p", &[(1, "user")]).await;
    let regnum = s.key_with("p", 1, 100_000).await;
    let original_key = s.app().signer.public_key_b64().to_owned();

    // Captures keep coming while the backup is taken; each acknowledged one is noted
    // with the moment its answer arrived.
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..6 {
        let (http, url, regnum, stop) = (
            s.http.clone(),
            format!("{}/api/v1/leases", s.url),
            regnum.clone(),
            stop.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let body = json!({"regnum": regnum, "feature": 1, "host": "h", "user": format!("u{w}-{i}")});
                if let Ok(r) = http.post(&url).json(&body).send().await
                    && r.status().is_success()
                {
                    let v: serde_json::Value = r.json().await.expect("json");
                    acked.push((Instant::now(), v["lease"].as_str().expect("lease").to_owned()));
                }
                i += 1;
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let out_dir = tempfile::tempdir().expect("dir");
    let file = out_dir.path().join("online.redb");
    let began = Instant::now();
    let (url, token, cert) = (
        s.url.clone(),
        s.token.clone(),
        s.running.as_ref().expect("running").cert_path.clone(),
    );
    let f2 = file.clone();
    let out = tokio::task::spawn_blocking(move || {
        licd(
            &["backup", "--server", &url, "--token", &token, "--out"],
            &[&f2, Path::new("--ca"), &cert],
        )
    })
    .await
    .expect("backup");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("verified"), "{}", text(&out));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut before = Vec::new();
    let mut total = 0;
    for w in workers {
        for (at, lease) in w.await.expect("worker") {
            total += 1;
            if at < began {
                before.push(lease);
            }
        }
    }
    assert!(
        before.len() > 20,
        "captures ran before the backup: {}",
        before.len()
    );
    assert!(total > before.len(), "captures went on during the backup");

    s.stop().await;

    // Restore into a fresh directory: every capture acknowledged before the backup began
    // is there, the check passes, and the server answers with the same signing key.
    let fresh = tempfile::tempdir().expect("dir");
    let target = fresh.path().join("data");
    let out = licd(&["restore", "--data"], &[&target, &file]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("sound"), "{}", text(&out));
    let restored = leases_in(&target.join("licd.redb"));
    let missing: Vec<_> = before.iter().filter(|l| !restored.contains(*l)).collect();
    assert!(
        missing.is_empty(),
        "lost {} acknowledged captures",
        missing.len()
    );
    let out = licd(&["check", "--data"], &[&target]);
    assert!(out.status.success(), "{}", text(&out));

    let dir = tempfile::TempDir::new_in(fresh.path()).expect("dir");
    std::fs::remove_dir(dir.path()).expect("rm");
    std::fs::rename(&target, dir.path()).expect("move");
    let s = TestServer::start_in(dir, |_| {}).await;
    assert_eq!(s.app().signer.public_key_b64(), original_key);
    let key = s
        .admin(Method::GET, &format!("/keys/{regnum}"), None)
        .await
        .expect(200);
    assert_eq!(key["regnum"], regnum.as_str());
    let r = s
        .api(
            Method::POST,
            &format!("/leases/{}/heartbeat", before[0]),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "a restored lease heartbeats: {}", r.body);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_needs_an_admin_token() {
    let s = TestServer::start().await;
    s.send(Method::GET, "/api/admin/v1/backup", None, &[])
        .await
        .expect_error(401, 2001);
    let (manager, _) = licd::service::auth::create_token(
        &s.app().store,
        "crm",
        licd::domain::Role::Manager,
        s.clock.now(),
        "test",
    )
    .await
    .expect("token");
    let auth = format!("Bearer {manager}");
    let r = s
        .send(
            Method::GET,
            "/api/admin/v1/backup",
            None,
            &[("Authorization", &auth)],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = s.admin(Method::GET, "/backup", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.headers["licd-backup-sha256"].to_str().expect("hex"),
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&r.raw))
    );
    // The temporary copy is gone once sent.
    let tmp: Vec<_> = std::fs::read_dir(s.data_dir().join("backups"))
        .expect("dir")
        .filter_map(Result::ok)
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_running_server_a_newer_schema_and_a_stranger() {
    let s = TestServer::start().await;
    s.product("p", &[(1, "user")]).await;
    let regnum = s.key_with("p", 1, 5).await;
    capture(&s, &regnum, "a").await.expect("captured");
    let work = tempfile::tempdir().expect("dir");
    let file = work.path().join("b.redb");

    // Offline backup and restore refuse the directory a server holds.
    let out = licd(
        &["backup", "--out"],
        &[&file, Path::new("--data"), &s.data_dir()],
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("stop it first"), "{}", text(&out));
    let r = s.admin(Method::GET, "/backup", None).await;
    assert_eq!(r.status, 200);
    std::fs::write(&file, &r.raw).expect("write");
    let out = licd(&["restore", "--data"], &[&s.data_dir(), &file]);
    assert!(!out.status.success());
    assert!(text(&out).contains("is running on"), "{}", text(&out));
    let dir = s.stop_keep().await;

    // A file that is no licd backup.
    let junk = work.path().join("junk.redb");
    std::fs::write(&junk, b"not a database at all, just some bytes").expect("write");
    let out = licd(&["restore", "--data"], &[dir.path(), &junk]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("is not a licd backup"),
        "{}",
        text(&out)
    );

    // A backup from a newer licd.
    let newer = work.path().join("newer.redb");
    std::fs::copy(&file, &newer).expect("copy");
    {
        let db = redb::Database::open(&newer).expect("open");
        let tx = db.begin_write().expect("write");
        {
            let mut m = tx.open_table(licd::store::tables::META).expect("meta");
            let v = (licd::store::migrate::CURRENT + 1).to_le_bytes();
            m.insert("schema_version", v.as_slice()).expect("insert");
        }
        tx.commit().expect("commit");
    }
    let out = licd(&["restore", "--data"], &[dir.path(), &newer]);
    assert!(!out.status.success());
    assert!(text(&out).contains("newer licd"), "{}", text(&out));
    // Nothing was replaced by the refusals.
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("restor"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The stopped directory backs up offline; restoring over it keeps the old aside.
    let offline = work.path().join("offline.redb");
    let out = licd(
        &["backup", "--out"],
        &[&offline, Path::new("--data"), dir.path()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = licd(
        &["backup", "--out"],
        &[&offline, Path::new("--data"), dir.path()],
    );
    assert!(!out.status.success(), "an existing file is not overwritten");
    let out = licd(&["restore", "--data"], &[dir.path(), &offline]);
    assert!(out.status.success(), "{}", text(&out));
    let aside = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("licd.redb.before-restore-")
        });
    assert!(aside, "the replaced database is kept aside");
    assert_eq!(leases_in(&dir.path().join("licd.redb")).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_finds_a_seat_count_that_disagrees_with_its_holders() {
    let s = TestServer::start().await;
    s.product("p", &[(1, "user")]).await;
    let regnum = s.key_with("p", 1, 5).await;
    capture(&s, &regnum, "a").await.expect("captured");
    capture(&s, &regnum, "b").await.expect("captured");
    let out = licd(&["check", "--data"], &[&s.data_dir()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a running server's database: {}",
        text(&out)
    );
    let dir = s.stop_keep().await;
    let out = licd(&["check", "--data"], &[dir.path()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("sound"), "{}", text(&out));
    {
        let db = redb::Database::open(dir.path().join("licd.redb")).expect("open");
        let tx = db.begin_write().expect("write");
        {
            let mut t = tx
                .open_table(licd::store::tables::SEAT_COUNTS)
                .expect("counts");
            t.insert((regnum.as_str(), 1u32), 5u32).expect("plant");
        }
        tx.commit().expect("commit");
    }
    let out = licd(&["check", "--data"], &[dir.path()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "seat count of key {regnum} feature 1 is 5, but it has 2 holder row(s)"
        )),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_run_once_a_day_in_their_window_and_keep_the_newest() {
    // A window two hours from now (UTC), reached by moving the server's clock.
    let now = time::OffsetDateTime::now_utc();
    let start = (now + time::Duration::hours(2)).time();
    let end = (now + time::Duration::hours(3)).time();
    let window = format!(
        "{:02}:{:02}-{:02}:{:02}",
        start.hour(),
        start.minute(),
        end.hour(),
        end.minute()
    );
    let s = TestServer::start_with(|a| {
        a.backup_window = Some(window.clone());
        a.backup_timezone = Some("UTC".into());
        a.backup_keep = Some(2);
        a.backup_compression = Some("zstd".into());
    })
    .await;
    s.product("p", &[(1, "user")]).await;
    let regnum = s.key_with("p", 1, 5).await;
    capture(&s, &regnum, "a").await.expect("captured");
    let dir = s.data_dir().join("backups");
    let names = || {
        licd::service::backups::list(&dir)
            .into_iter()
            .map(|b| b.name)
            .collect::<Vec<_>>()
    };
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        names().is_empty(),
        "nothing outside the window: {:?}",
        names()
    );

    let mut seen = Vec::new();
    for day in 0..3 {
        s.clock.advance(if day == 0 {
            time::Duration::minutes(121)
        } else {
            time::Duration::days(1)
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let n = names();
            if let Some(newest) = n.first()
                && !seen.contains(newest)
            {
                seen.push(newest.clone());
                break;
            }
            assert!(Instant::now() < deadline, "no backup on day {day}: {n:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Once a day: a few more seconds in the window make no second one.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(names().first(), seen.last(), "one backup a day");
    }
    let kept = names();
    assert_eq!(kept.len(), 2, "the newest two are kept: {kept:?}");
    assert_eq!(kept, vec![seen[2].clone(), seen[1].clone()]);
    assert!(kept.iter().all(|n| n.ends_with(".redb.zst")));
    let status =
        licd::service::backups::status(&s.app().store.read().expect("read")).expect("status");
    assert_eq!(status.last_file, seen[2]);
    assert!(status.last_error.is_empty());

    // The compressed backup restores and checks sound.
    let file = dir.join(&kept[0]);
    let fresh = tempfile::tempdir().expect("dir");
    let out = licd(&["restore", "--data"], &[fresh.path(), &file]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(leases_in(&fresh.path().join("licd.redb")).len(), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_test_command_says_what_the_smtp_server_answered() {
    let sink = crate::kit::SmtpSink::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let d = dir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        licd(
            &[
                "mail",
                "test",
                "--to",
                "ops@vendor.test",
                "--smtp",
                &smtp,
                "--data",
            ],
            &[&d],
        )
    })
    .await
    .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("answered: 250"), "{}", text(&out));
    let mail = sink.wait_for("ops@vendor.test", 10).await.expect("mail");
    assert!(mail.text().contains("test mail from licd"));
    // No SMTP server: a clear failure.
    let d = dir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        licd(
            &["mail", "test", "--to", "ops@vendor.test", "--data"],
            &[&d],
        )
    })
    .await
    .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("no SMTP server is configured"),
        "{}",
        text(&out)
    );
}

#[test]
fn restore_of_an_older_backup_migrates_it() {
    // The schema-3 database of the upgrade test, restored as a backup.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema3.redb");
    let dir = tempfile::tempdir().expect("dir");
    let out = licd(&["restore", "--data"], &[dir.path(), &fixture]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "schema {}, migrated from 3",
            licd::store::migrate::CURRENT
        )),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("sound"), "{}", text(&out));
    let out = licd(&["check", "--data"], &[dir.path()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(leases_in(&dir.path().join("licd.redb")).len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_backup_after_kill_9_applies_the_redo_log() {
    let dir = tempfile::tempdir().expect("dir");
    let token = crate::process::token(dir.path());
    let (mut child, url, _) = crate::process::serve(dir.path());
    let r = crate::process::Remote::new(dir.path(), url, token);
    let (st, _) = r
        .call(
            Method::POST,
            "/api/admin/v1/products",
            Some(json!({"code": "p", "name": "P", "heartbeat_s": 60,
            "features": [{"number": 1, "name": "f", "unit": "user"}]})),
        )
        .await;
    assert_eq!(st, 201);
    let (_, c) = r
        .call(
            Method::POST,
            "/api/admin/v1/clients",
            Some(json!({"company": "K"})),
        )
        .await;
    let (_, k) = r
        .call(
            Method::POST,
            &format!("/api/admin/v1/clients/{}/keys", c["id"]),
            None,
        )
        .await;
    let regnum = k["regnum"].as_str().expect("regnum").to_owned();
    let (st, _) = r
        .call(
            Method::POST,
            &format!("/api/admin/v1/keys/{regnum}/items"),
            Some(json!({"product": "p", "feature": 1, "seats": 50})),
        )
        .await;
    assert_eq!(st, 201);
    let mut leases = Vec::new();
    for i in 0..10 {
        let (st, l) = r
            .call(
                Method::POST,
                "/api/v1/leases",
                Some(json!({"regnum": regnum, "feature": 1, "host": "h", "user": format!("u{i}")})),
            )
            .await;
        assert_eq!(st, 201);
        leases.push(l["lease"].as_str().expect("lease").to_owned());
    }
    // Killed before a checkpoint: the captures are only in the redo log.
    let st = Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    let _ = child.wait();
    let file = dir.path().join("offline.redb");
    let out = licd(
        &["backup", "--out"],
        &[&file, Path::new("--data"), dir.path()],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("redo-log changes applied"),
        "{}",
        text(&out)
    );
    let inside = leases_in(&file);
    assert!(
        leases.iter().all(|l| inside.contains(l)),
        "every capture is in the copy"
    );
    // The stopped directory itself was not changed by the backup.
    let wal = std::fs::metadata(dir.path().join("licd.wal"))
        .expect("wal")
        .len();
    assert!(wal > 0);
}
