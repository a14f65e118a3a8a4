//! The client cabinet's use cases (API.md "Client cabinet", seed 000): sign-in with a
//! registration number and the key's password or a mailed one-time code, or with an
//! activated coupon alone; the mailed link that sets a password; sessions; the client's
//! preferences; and self-service on the session monitor within the vendor's limit.
//!
//! Blocked keys may still sign in: the client needs to see why its apps are refused.
//! Codes and links only ever go to the client's own e-mail, never a distributor's.
//! Argon2 runs on the blocking pool, never on the executor or in the writer.
use crate::domain::cabinet::{
    Allowance, CabinetPassword, CabinetSession, ClientPrefs, DEFAULT_UNBIND_LIMIT, OneTimeCode,
    PasswordLink, ProductOptions, UNBIND_WINDOW,
};
use crate::domain::{Client, LoginFailures, normalize_number, number::looks_like_coupon};
use crate::error::{AppError, AppResult};
use crate::service::limits::Guess;
// Failures of one login are limited as the staff's are (after five, waits of 30 s
// doubling up to 15 min).
use crate::service::sessions::{lock_for, random_secret, same, secret_hash};
use crate::service::{App, audit, auth, clients, coupons, keys, leases, mail};
use crate::store::{Snapshot, StoreError, tables};
use redb::{ReadableTable, WriteTransaction};
use std::net::IpAddr;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

pub use crate::domain::cabinet::{ABSOLUTE_LIFE, IDLE_LIFE};

/// How long a mailed one-time code works.
pub const CODE_LIFE: Duration = Duration::minutes(15);
/// How long a mailed password link works.
pub const LINK_LIFE: Duration = Duration::hours(24);
/// A key is mailed at most one code or link this often (no mail bombing).
pub const MAIL_GAP: Duration = Duration::seconds(60);
/// The shortest cabinet password.
pub const MIN_PASSWORD: usize = 10;
/// `last_seen` is written at most this often per session.
const TOUCH_EVERY: Duration = Duration::seconds(60);

const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$wlc2hGEZaMfZRH4UiE2Z/2JTUYIDLcJtOaBgkRb6Z2o";

/// Why a sign-in was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SignInError {
    /// Wrong number, password, code or coupon (not said which).
    Wrong,
    /// Too many tries from this address or on this login: wait this many seconds.
    Wait(u64),
}

fn failures_of(tx: &impl Snapshot, login: &str) -> Result<LoginFailures, StoreError> {
    crate::service::sessions::failures_in(tx, &tables::CABINET_FAILURES, login)
}

fn code_hash(regnum: &str, code: &str) -> String {
    secret_hash(&format!("{regnum}\u{1f}{}", code.trim()))
}

async fn verify_blocking(hash: String, password: String) -> AppResult<bool> {
    tokio::task::spawn_blocking(move || auth::verify_password(&hash, &password))
        .await
        .map_err(AppError::internal)
}

async fn hash_blocking(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(AppError::internal)?
}

/// What a login names: a key directly, or the key a coupon was activated on.
fn key_of_login(tx: &impl Snapshot, login: &str) -> Result<Option<(String, bool)>, StoreError> {
    let Some(n) = normalize_number(login) else {
        return Ok(None);
    };
    if let Some(k) = keys::load(tx, &n)? {
        return Ok(Some((k.regnum, false)));
    }
    if looks_like_coupon(&n)
        && let Some(c) = coupons::load(tx, &n)?
        && let Some(a) = c.activated
    {
        return Ok(Some((a.regnum, true)));
    }
    Ok(None)
}

/// Checks a login and password (see the module); on success opens a session and returns
/// the cookie's secret with it.
pub async fn sign_in(
    app: &App,
    ip: IpAddr,
    login: &str,
    password: &str,
) -> AppResult<Result<(String, CabinetSession), SignInError>> {
    if let Err(wait) = app.limits.check(ip, Guess::CabinetLogin) {
        return Ok(Err(SignInError::Wait(wait)));
    }
    let login = normalize_number(login).unwrap_or_else(|| login.trim().to_ascii_uppercase());
    let now = app.now();
    let (target, failures, stored, code) = {
        let tx = app.store.read()?;
        let target = key_of_login(&tx, &login)?;
        let failures = failures_of(&tx, &login)?;
        let (stored, code) = match &target {
            Some((r, false)) => (
                tables::CABINET_PASSWORDS
                    .get(&tx.table(tables::CABINET_PASSWORDS.def)?, r.as_str())?,
                tables::CABINET_CODES.get(&tx.table(tables::CABINET_CODES.def)?, r.as_str())?,
            ),
            _ => (None, None),
        };
        (target, failures, stored, code)
    };
    if let Some(last) = failures.last_at {
        let until = last + lock_for(&failures);
        if until > now {
            return Ok(Err(SignInError::Wait(
                (until - now).whole_seconds().max(1) as u64
            )));
        }
    }
    let password = password.to_owned();
    // Which proof is offered: a coupon alone, a live one-time code, or the password.
    let ok_regnum: Option<(String, bool)> = match &target {
        Some((r, true)) if password.trim().is_empty() => Some((r.clone(), false)),
        Some((r, false)) => {
            let by_code = password.trim().len() == 8
                && password.trim().bytes().all(|b| b.is_ascii_digit())
                && code
                    .as_ref()
                    .is_some_and(|c| c.expires_at > now && same(&c.hash, &code_hash(r, &password)));
            if by_code {
                Some((r.clone(), true))
            } else {
                let hash = stored.map_or_else(|| DUMMY_HASH.to_owned(), |p| p.hash);
                let has_password = hash != DUMMY_HASH;
                let good = verify_blocking(hash, password.clone()).await? && has_password;
                good.then(|| (r.clone(), false))
            }
        }
        _ => {
            // Same work for an unknown login, so timing does not tell.
            let _ = verify_blocking(DUMMY_HASH.to_owned(), password.clone()).await?;
            None
        }
    };
    let Some((regnum, spend_code)) = ok_regnum else {
        app.limits.charge(ip, Guess::CabinetLogin);
        if target.is_some() {
            crate::service::sessions::count_failure(
                app,
                tables::CABINET_FAILURES,
                login.clone(),
                now,
            )
            .await?;
        }
        return Ok(Err(SignInError::Wrong));
    };
    let secret = random_secret();
    let session = CabinetSession {
        regnum: regnum.clone(),
        csrf: random_secret(),
        created_at: now,
        last_seen: now,
    };
    let hash = secret_hash(&secret);
    let s2 = session.clone();
    let l = login.clone();
    let pw = password.clone();
    let spent = app
        .store
        .write(move |tx| {
            if spend_code {
                // Spent once: a racing second sign-in with the same code finds it gone.
                let mut codes = tx.open_table(tables::CABINET_CODES.def)?;
                let c = tables::CABINET_CODES.get(&codes, s2.regnum.as_str())?;
                let live = c.is_some_and(|c| {
                    c.expires_at > now && same(&c.hash, &code_hash(&s2.regnum, &pw))
                });
                if !live {
                    return Ok(false);
                }
                codes.remove(s2.regnum.as_str())?;
            }
            let mut t = tx.open_table(tables::CABINET_SESSIONS.def)?;
            tables::CABINET_SESSIONS.put(&mut t, hash.as_str(), &s2)?;
            tx.open_table(tables::CABINET_FAILURES.def)?
                .remove(l.as_str())?;
            audit::append(
                tx,
                &audit::entry(
                    &format!("client:{}", s2.regnum),
                    now,
                    "cabinet_sign_in",
                    &s2.regnum,
                    "",
                ),
            )?;
            Ok(true)
        })
        .await?;
    if !spent {
        return Ok(Err(SignInError::Wrong));
    }
    Ok(Ok((secret, session)))
}

/// The live session of a cookie's secret and the client its key belongs to now. Notes
/// the visit (at most once a minute, in the background: a lost note only shortens the
/// idle time).
pub fn session_of(app: &Arc<App>, secret: &str) -> AppResult<Option<(CabinetSession, Client)>> {
    let hash = secret_hash(secret);
    let now = app.now();
    let tx = app.store.read()?;
    let t = tx.table(tables::CABINET_SESSIONS.def)?;
    let Some(s) = tables::CABINET_SESSIONS.get(&t, hash.as_str())? else {
        return Ok(None);
    };
    if !s.live(now) {
        return Ok(None);
    }
    let Some(key) = keys::load(&tx, &s.regnum)? else {
        return Ok(None);
    };
    let Some(client) = clients::load(&tx, key.client_id)? else {
        return Ok(None);
    };
    if now - s.last_seen >= TOUCH_EVERY
        && let Ok(handle) = tokio::runtime::Handle::try_current()
    {
        let a = app.clone();
        handle.spawn(async move {
            let _ = a
                .store
                .write(move |tx| {
                    let mut t = tx.open_table(tables::CABINET_SESSIONS.def)?;
                    if let Some(mut s) = tables::CABINET_SESSIONS.get(&t, hash.as_str())? {
                        s.last_seen = s.last_seen.max(now);
                        tables::CABINET_SESSIONS.put(&mut t, hash.as_str(), &s)?;
                    }
                    Ok(())
                })
                .await;
        });
    }
    Ok(Some((s, client)))
}

pub async fn sign_out(app: &App, secret: &str) -> AppResult<()> {
    let hash = secret_hash(secret);
    app.store
        .write(move |tx| {
            tx.open_table(tables::CABINET_SESSIONS.def)?
                .remove(hash.as_str())?;
            Ok(())
        })
        .await
}

/// The key's client and its e-mail, when the key exists and the e-mail is set.
fn mail_target(tx: &impl Snapshot, regnum: &str) -> Result<Option<Client>, StoreError> {
    let Some(k) = keys::load(tx, regnum)? else {
        return Ok(None);
    };
    Ok(clients::load(tx, k.client_id)?.filter(|c| !c.email.trim().is_empty()))
}

/// The common part of mailing a client a code or a link: the per-address limit (the
/// only thing the answer tells), then — when the number is a key whose client has an
/// e-mail — `make` writes its record in the same transaction and gives the mail's
/// event and idempotency key (or `None`: nothing to send now).
async fn mail_key_client<F>(
    app: &App,
    ip: IpAddr,
    login: &str,
    mut make: F,
) -> AppResult<Result<(), u64>>
where
    F: FnMut(&WriteTransaction, &str) -> AppResult<Option<(crate::mail::Event, String)>>
        + Send
        + 'static,
{
    if let Err(wait) = app.limits.check(ip, Guess::CabinetMail) {
        return Ok(Err(wait));
    }
    app.limits.charge(ip, Guess::CabinetMail);
    let Some(regnum) = normalize_number(login) else {
        return Ok(Ok(()));
    };
    let now = app.now();
    let env = app.mail_env();
    app.store
        .write(move |tx| {
            let Some(client) = mail_target(tx, &regnum)? else {
                return Ok(());
            };
            if let Some((event, key)) = make(tx, &regnum)? {
                mail::to_client(tx, &env, now, &client, &event, &key)?;
            }
            Ok(())
        })
        .await?;
    app.mail_queued.notify_one();
    Ok(Ok(()))
}

/// Mails a one-time code for a registration number to its client's e-mail (a newer
/// code replaces the older; at most one a minute). The answer is the same whether the
/// number exists or not; `Err(wait)` only for too many asks from this address.
pub async fn request_code(app: &App, ip: IpAddr, login: &str) -> AppResult<Result<(), u64>> {
    let now = app.now();
    let code = {
        use rand::Rng;
        format!("{:08}", rand::rngs::OsRng.gen_range(0..100_000_000u32))
    };
    mail_key_client(app, ip, login, move |tx, regnum| {
        let mut t = tx.open_table(tables::CABINET_CODES.def)?;
        if let Some(old) = tables::CABINET_CODES.get(&t, regnum)?
            && now - old.created_at < MAIL_GAP
        {
            return Ok(None);
        }
        tables::CABINET_CODES.put(
            &mut t,
            regnum,
            &OneTimeCode {
                hash: code_hash(regnum, &code),
                created_at: now,
                expires_at: now + CODE_LIFE,
            },
        )?;
        Ok(Some((
            crate::mail::Event::CabinetCode {
                regnum: regnum.to_owned(),
                code: code.clone(),
            },
            format!("cabinet_code:{regnum}:{}", now.unix_timestamp()),
        )))
    })
    .await
}

/// Mails a link that sets the key's cabinet password (first one, or forgotten), to the
/// client's e-mail; one live link per key, at most one a minute; same answer whether
/// the number exists or not.
pub async fn request_password_link(
    app: &App,
    ip: IpAddr,
    login: &str,
) -> AppResult<Result<(), u64>> {
    let now = app.now();
    let token = random_secret();
    let url = format!(
        "{}/cabinet/password/{token}",
        app.config.public_url.trim_end_matches('/')
    );
    let hash = secret_hash(&token);
    mail_key_client(app, ip, login, move |tx, regnum| {
        let mut t = tx.open_table(tables::CABINET_LINKS.def)?;
        let mut old = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            let l: PasswordLink = crate::store::codec::decode(v.value())?;
            if l.regnum == regnum {
                if now - l.created_at < MAIL_GAP {
                    return Ok(None);
                }
                old.push(k.value().to_owned());
            }
        }
        for k in old {
            t.remove(k.as_str())?;
        }
        tables::CABINET_LINKS.put(
            &mut t,
            hash.as_str(),
            &PasswordLink {
                regnum: regnum.to_owned(),
                created_at: now,
                expires_at: now + LINK_LIFE,
            },
        )?;
        Ok(Some((
            crate::mail::Event::CabinetLink {
                regnum: regnum.to_owned(),
                url: url.clone(),
            },
            format!("cabinet_link:{hash}"),
        )))
    })
    .await
}

fn live_link(
    tx: &impl Snapshot,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<PasswordLink>, StoreError> {
    let t = tx.table(tables::CABINET_LINKS.def)?;
    Ok(tables::CABINET_LINKS
        .get(&t, secret_hash(token).as_str())?
        .filter(|l| l.expires_at > now))
}

/// Whether a password link's token is live.
pub fn password_link_valid(app: &App, tx: &impl Snapshot, token: &str) -> Result<bool, StoreError> {
    Ok(live_link(tx, token, app.now())?.is_some())
}

fn check_new_password(field: &'static str, pw: &str) -> AppResult<()> {
    if pw.chars().count() < MIN_PASSWORD {
        return Err(AppError::malformed(field, "at least 10 characters"));
    }
    Ok(())
}

fn end_sessions_of(
    tx: &WriteTransaction,
    regnum: &str,
    keep: Option<&str>,
) -> Result<(), StoreError> {
    let mut t = tx.open_table(tables::CABINET_SESSIONS.def)?;
    let mut gone = Vec::new();
    for row in t.iter()? {
        let (k, v) = row?;
        let s: CabinetSession = crate::store::codec::decode(v.value())?;
        if s.regnum == regnum && keep != Some(k.value()) {
            gone.push(k.value().to_owned());
        }
    }
    for k in gone {
        t.remove(k.as_str())?;
    }
    Ok(())
}

/// Sets the key's password through a mailed link, spending it; ends that key's other
/// cabinet sessions. `NotFound` when the link is unknown, used or expired.
pub async fn set_password_with_link(app: &App, token: &str, password: &str) -> AppResult<()> {
    check_new_password("password", password)?;
    let hash = hash_blocking(password.to_owned()).await?;
    let token = token.to_owned();
    let now = app.now();
    app.store
        .write(move |tx| {
            let link = live_link(tx, &token, now)?.ok_or(AppError::NotFound {
                what: "password link",
            })?;
            tx.open_table(tables::CABINET_LINKS.def)?
                .remove(secret_hash(&token).as_str())?;
            let mut t = tx.open_table(tables::CABINET_PASSWORDS.def)?;
            tables::CABINET_PASSWORDS.put(
                &mut t,
                link.regnum.as_str(),
                &CabinetPassword {
                    hash: hash.clone(),
                    set_at: now,
                },
            )?;
            drop(t);
            end_sessions_of(tx, &link.regnum, None)?;
            audit::append(
                tx,
                &audit::entry(
                    &format!("client:{}", link.regnum),
                    now,
                    "cabinet_password",
                    &link.regnum,
                    "link",
                ),
            )?;
            Ok(())
        })
        .await
}

/// Changes the signed-in key's password (the current one is asked for when it has one);
/// the key's other sessions end.
pub async fn change_password(
    app: &App,
    session: &CabinetSession,
    current: &str,
    new: &str,
) -> AppResult<()> {
    check_new_password("new", new)?;
    let stored = {
        let tx = app.store.read()?;
        let t = tx.table(tables::CABINET_PASSWORDS.def)?;
        tables::CABINET_PASSWORDS.get(&t, session.regnum.as_str())?
    };
    if let Some(p) = stored
        && !verify_blocking(p.hash, current.to_owned()).await?
    {
        return Err(AppError::malformed("current", "the current password"));
    }
    let hash = hash_blocking(new.to_owned()).await?;
    let regnum = session.regnum.clone();
    let now = app.now();
    let csrf = session.csrf.clone();
    app.store
        .write(move |tx| {
            let mut t = tx.open_table(tables::CABINET_PASSWORDS.def)?;
            tables::CABINET_PASSWORDS.put(
                &mut t,
                regnum.as_str(),
                &CabinetPassword {
                    hash: hash.clone(),
                    set_at: now,
                },
            )?;
            drop(t);
            // Keep the session that made the change (found by its CSRF token).
            let keep = {
                let t = tx.open_table(tables::CABINET_SESSIONS.def)?;
                let mut keep = None;
                for row in t.iter()? {
                    let (k, v) = row?;
                    let s: CabinetSession = crate::store::codec::decode(v.value())?;
                    if s.csrf == csrf {
                        keep = Some(k.value().to_owned());
                    }
                }
                keep
            };
            end_sessions_of(tx, &regnum, keep.as_deref())?;
            audit::append(
                tx,
                &audit::entry(
                    &format!("client:{regnum}"),
                    now,
                    "cabinet_password",
                    &regnum,
                    "changed",
                ),
            )?;
            Ok(())
        })
        .await
}

mod prefs;
mod self_service;
pub use prefs::*;
pub use self_service::*;

/// Drops what the cabinet no longer needs: sessions past their life, spent-out codes and
/// links, failures a day old, self-service actions out of the 30-day window. Returns the
/// rows removed. Run now and then by the reaper.
pub async fn prune(app: &App) -> AppResult<usize> {
    let now = app.now();
    app.store
        .write(move |tx| {
            fn sweep<K: redb::Key + 'static, V: serde::Serialize + serde::de::DeserializeOwned>(
                tx: &WriteTransaction,
                table: tables::RecTable<K, V>,
                dead: impl Fn(&V) -> bool,
            ) -> Result<usize, StoreError> {
                let mut t = tx.open_table(table.def)?;
                let n = t
                    .extract_if(|_, v| crate::store::codec::decode::<V>(v).is_ok_and(|r| dead(&r)))?
                    .count();
                Ok(n)
            }
            let mut n = 0;
            n += sweep(tx, tables::CABINET_SESSIONS, |s| !s.live(now))?;
            n += sweep(tx, tables::CABINET_CODES, |c| c.expires_at <= now)?;
            n += sweep(tx, tables::CABINET_LINKS, |l| l.expires_at <= now)?;
            n += sweep(tx, tables::CABINET_FAILURES, |f| {
                f.last_at.is_none_or(|t| now - t > Duration::days(1))
            })?;
            let cutoff = ((now - UNBIND_WINDOW).unix_timestamp_nanos() / 1_000_000) as i64;
            n += tx
                .open_table(tables::SELF_SERVICE)?
                .extract_if(|k, _| k.2 < cutoff)?
                .count();
            Ok(n)
        })
        .await
}
