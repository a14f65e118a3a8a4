//! Staff sign-in for the web UI: the one-time first-admin setup link, password sign-in
//! with lockout, sessions kept as hashes of their cookie secrets, sign-out.
use crate::domain::{LoginFailures, Role, StaffSession, User};
use crate::error::{AppError, AppResult};
use crate::service::{App, auth};
use crate::store::{Snapshot, StoreError, tables};
use redb::{ReadableTable, ReadableTableMetadata};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use time::Duration;

/// How long a session lasts from sign-in.
pub const SESSION_LIFE: Duration = Duration::hours(12);
/// Failures of one login allowed before waits begin (30 s, doubling, up to `MAX_LOCK`).
pub const FREE_FAILURES: u32 = 5;
/// The longest wait a login is locked for.
pub const MAX_LOCK: Duration = Duration::minutes(15);

const SETUP_HASH: &str = "ui_setup_token_sha256";

pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh random secret, hex.
pub fn random_secret() -> String {
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
    hex::encode(raw)
}

/// Compares two strings in time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// While there are no staff users: a new one-time secret for `/setup/{secret}` (only
/// its hash is kept; a newer one replaces the older). Refused once a user exists.
pub async fn issue_setup_token(app: &App) -> AppResult<String> {
    let secret = random_secret();
    let hash = secret_hash(&secret);
    app.store
        .write(move |tx| {
            if auth::has_users(tx)? {
                return Err(AppError::Conflict {
                    reason: "staff_exists",
                    details: serde_json::json!({}),
                });
            }
            let mut t = tx.open_table(tables::META)?;
            t.insert(SETUP_HASH, hash.as_bytes())?;
            Ok(())
        })
        .await?;
    Ok(secret)
}

/// Whether `secret` is the live setup secret (and nobody has signed up yet).
pub fn setup_token_valid(tx: &impl Snapshot, secret: &str) -> Result<bool, StoreError> {
    if auth::has_users(tx)? {
        return Ok(false);
    }
    let t = tx.table(tables::META)?;
    let stored = t
        .get(SETUP_HASH)?
        .map(|v| String::from_utf8_lossy(v.value()).into_owned());
    Ok(stored.is_some_and(|h| same(&h, &secret_hash(secret))))
}

/// Where the first-admin link is kept while no staff exist (0600), so `licd setup-link`
/// finds it while the server runs; removed once the first admin is made.
pub fn setup_link_file(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("setup-link.txt")
}

/// Makes a new one-time setup link (no staff may exist yet), keeps it in the data
/// directory and returns it.
pub async fn issue_setup_link(app: &App) -> AppResult<String> {
    let secret = issue_setup_token(app).await?;
    let link = format!("{}/setup/{secret}", app.config.public_url);
    crate::service::signing::replace_private(
        &setup_link_file(&app.config.data_dir),
        format!("{link}\n").as_bytes(),
    )
    .map_err(|e| AppError::internal(format!("setup link file: {e}")))?;
    Ok(link)
}

/// The first-admin link kept in the data directory while its secret still works (made
/// by an earlier start or by `licd setup-link`, e.g. in a package's postinst), with this
/// server's public URL; else a new one.
pub async fn setup_link(app: &App) -> AppResult<String> {
    let file = setup_link_file(&app.config.data_dir);
    let kept = std::fs::read_to_string(&file).ok().and_then(|t| {
        t.trim()
            .rsplit_once("/setup/")
            .map(|(_, secret)| secret.to_owned())
    });
    if let Some(secret) = kept
        && setup_token_valid(&app.store.read()?, &secret)?
    {
        let link = format!("{}/setup/{secret}", app.config.public_url);
        crate::service::signing::replace_private(&file, format!("{link}\n").as_bytes())
            .map_err(|e| AppError::internal(format!("setup link file: {e}")))?;
        return Ok(link);
    }
    issue_setup_link(app).await
}

/// Creates the first admin with the setup secret, spending it.
pub async fn complete_setup(
    app: &App,
    secret: &str,
    login: &str,
    password: &str,
) -> AppResult<User> {
    let login = login.trim().to_lowercase();
    if !auth::valid_login(&login) {
        return Err(AppError::malformed(
            "login",
            "1 to 64 letters, digits, . _ - @",
        ));
    }
    if password.chars().count() < 8 {
        return Err(AppError::malformed("password", "at least 8 characters"));
    }
    let user = User {
        login: login.clone(),
        role: Role::Admin,
        password_hash: auth::hash_password(password)?,
        distributor: String::new(),
        created_at: app.now(),
        disabled: false,
        email: String::new(),
    };
    let secret = secret.to_owned();
    app.store
        .write(move |tx| {
            if !setup_token_valid(tx, &secret)? {
                return Err(AppError::Forbidden);
            }
            let mut t = tx.open_table(tables::USERS.def)?;
            tables::USERS.put(&mut t, user.login.as_str(), &user)?;
            drop(t);
            tx.open_table(tables::META)?.remove(SETUP_HASH)?;
            Ok(user.clone())
        })
        .await
        .inspect(|_| {
            let _ = std::fs::remove_file(setup_link_file(&app.config.data_dir));
        })
}

/// Why a sign-in was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SignInError {
    /// Wrong login or password (not said which).
    Wrong,
    /// Too many tries: from this address or on this login; wait this many seconds.
    Wait(u64),
}

/// How long a login stays locked after its failures (none for the first few).
pub fn lock_for(f: &LoginFailures) -> Duration {
    if f.count < FREE_FAILURES {
        return Duration::ZERO;
    }
    let steps = (f.count - FREE_FAILURES).min(10);
    (Duration::seconds(30) * 2i32.pow(steps)).min(MAX_LOCK)
}

/// The failed sign-ins of `login` kept in `table` (staff or cabinet).
pub(crate) fn failures_in(
    tx: &impl Snapshot,
    table: &tables::RecTable<&'static str, LoginFailures>,
    login: &str,
) -> Result<LoginFailures, StoreError> {
    let t = tx.table(table.def)?;
    Ok(table.get(&t, login)?.unwrap_or_default())
}

fn failures_of(tx: &impl Snapshot, login: &str) -> Result<LoginFailures, StoreError> {
    failures_in(tx, &tables::LOGIN_FAILURES, login)
}

/// Counts one more failed sign-in of `login` in `table` (staff or cabinet), at `now`.
pub(crate) async fn count_failure(
    app: &App,
    table: tables::RecTable<&'static str, LoginFailures>,
    login: String,
    now: time::OffsetDateTime,
) -> AppResult<()> {
    app.store
        .write(move |tx| {
            let mut f = failures_in(tx, &table, &login)?;
            f.count = f.count.saturating_add(1);
            f.last_at = Some(now);
            let mut t = tx.open_table(table.def)?;
            table.put(&mut t, login.as_str(), &f)?;
            Ok(())
        })
        .await
}

/// A user by login.
pub fn user(tx: &impl Snapshot, login: &str) -> Result<Option<User>, StoreError> {
    let t = tx.table(tables::USERS.def)?;
    tables::USERS.get(&t, login)
}

/// Checks a login and password; on success opens a session and returns the cookie's
/// secret. Failures slow down per address (`Guess::Login`) and per login (lockout
/// with doubling waits after `FREE_FAILURES`).
pub async fn sign_in(
    app: &App,
    ip: IpAddr,
    login: &str,
    password: &str,
) -> AppResult<Result<(String, StaffSession), SignInError>> {
    use crate::service::limits::Guess;
    if let Err(wait) = app.limits.check(ip, Guess::Login) {
        return Ok(Err(SignInError::Wait(wait)));
    }
    let login = login.trim().to_lowercase();
    let now = app.now();
    let (found, failures) = {
        let tx = app.store.read()?;
        (user(&tx, &login)?, failures_of(&tx, &login)?)
    };
    if let Some(last) = failures.last_at {
        let until = last + lock_for(&failures);
        if until > now {
            return Ok(Err(SignInError::Wait(
                (until - now).whole_seconds().max(1) as u64
            )));
        }
    }
    // Verify against a real hash even for unknown logins, so timing does not tell.
    let ok = match &found {
        Some(u) => auth::verify_password(&u.password_hash, password) && !u.disabled,
        None => {
            let _ = auth::verify_password(DUMMY_HASH, password);
            false
        }
    };
    if !ok {
        app.limits.charge(ip, Guess::Login);
        if found.is_some() {
            count_failure(app, tables::LOGIN_FAILURES, login.clone(), now).await?;
        }
        return Ok(Err(SignInError::Wrong));
    }
    let secret = random_secret();
    let session = StaffSession {
        login: login.clone(),
        csrf: random_secret(),
        created_at: now,
        expires_at: now + SESSION_LIFE,
    };
    let hash = secret_hash(&secret);
    let s2 = session.clone();
    app.store
        .write(move |tx| {
            let mut t = tx.open_table(tables::STAFF_SESSIONS.def)?;
            tables::STAFF_SESSIONS.put(&mut t, hash.as_str(), &s2)?;
            drop(t);
            tx.open_table(tables::LOGIN_FAILURES.def)?
                .remove(s2.login.as_str())?;
            // Sweep sessions that have ended, now and then, in the same commit.
            let mut t = tx.open_table(tables::STAFF_SESSIONS.def)?;
            if t.len()? > 64 {
                let mut dead = Vec::new();
                for row in t.iter()? {
                    let (k, v) = row?;
                    let s: StaffSession = crate::store::codec::decode(v.value())?;
                    if s.expires_at <= now {
                        dead.push(k.value().to_owned());
                    }
                }
                for k in dead {
                    t.remove(k.as_str())?;
                }
            }
            Ok(())
        })
        .await?;
    Ok(Ok((secret, session)))
}

/// The live session a cookie secret names, with its user (not disabled).
pub fn session_of(app: &App, secret: &str) -> AppResult<Option<(StaffSession, User)>> {
    if secret.is_empty() || secret.len() > 128 {
        return Ok(None);
    }
    let tx = app.store.read()?;
    let t = tx.table(tables::STAFF_SESSIONS.def)?;
    let Some(s) = tables::STAFF_SESSIONS.get(&t, secret_hash(secret).as_str())? else {
        return Ok(None);
    };
    if s.expires_at <= app.now() {
        return Ok(None);
    }
    let Some(u) = user(&tx, &s.login)? else {
        return Ok(None);
    };
    if u.disabled {
        return Ok(None);
    }
    Ok(Some((s, u)))
}

pub async fn sign_out(app: &App, secret: &str) -> AppResult<()> {
    let hash = secret_hash(secret);
    app.store
        .write(move |tx| {
            tx.open_table(tables::STAFF_SESSIONS.def)?
                .remove(hash.as_str())?;
            Ok(())
        })
        .await
}

/// Ends every session of `login` except the one whose secret is `keep`.
pub async fn end_sessions_of(app: &App, login: &str, keep: Option<&str>) -> AppResult<()> {
    let login = login.to_owned();
    let keep = keep.map(secret_hash);
    app.store
        .write(move |tx| {
            let mut t = tx.open_table(tables::STAFF_SESSIONS.def)?;
            let mut dead = Vec::new();
            for row in t.iter()? {
                let (k, v) = row?;
                let s: StaffSession = crate::store::codec::decode(v.value())?;
                if s.login == login && keep.as_deref() != Some(k.value()) {
                    dead.push(k.value().to_owned());
                }
            }
            for k in dead {
                t.remove(k.as_str())?;
            }
            Ok(())
        })
        .await
}

/// Sets a user's password (hashing it); refuses one shorter than 8 characters.
pub async fn set_password(app: &App, login: &str, password: &str) -> AppResult<()> {
    if password.chars().count() < 8 {
        return Err(AppError::malformed("password", "at least 8 characters"));
    }
    let hash = auth::hash_password(password)?;
    let login = login.to_owned();
    app.store
        .write(move |tx| {
            let mut t = tx.open_table(tables::USERS.def)?;
            let mut u = tables::USERS
                .get(&t, login.as_str())?
                .ok_or(AppError::NotFound { what: "user" })?;
            u.password_hash = hash.clone();
            tables::USERS.put(&mut t, login.as_str(), &u)?;
            Ok(())
        })
        .await
}

/// A valid argon2id hash of a random password, to spend the same time on unknown logins.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$wlc2hGEZaMfZRH4UiE2Z/2JTUYIDLcJtOaBgkRb6Z2o";
