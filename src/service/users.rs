//! Staff users: a new user (with a password, or with a mailed single-use link to set
//! one), the list, changes of role, distributor, e-mail and the disabled flag, the
//! link's password, preferences.
use crate::domain::{Role, StaffLink, StaffPrefs, StaffSession, User};
use crate::error::{AppError, AppResult};
use crate::service::{App, audit, auth, distributors, mail, sessions};
use crate::store::{Snapshot, StoreError, codec, tables};
use redb::{ReadableTable, WriteTransaction};
use serde::Deserialize;
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

/// How long a mailed password link works.
pub const LINK_LIFE: Duration = Duration::hours(24);
/// The shortest staff password.
pub const MIN_PASSWORD: usize = 8;

/// A new staff user.
#[derive(Deserialize, Debug, Default, Clone, utoipa::ToSchema)]
pub struct NewUser {
    /// 1–64 letters, digits, `.`, `_`, `-`, `@`; kept lower-cased.
    pub login: String,
    /// admin, manager or distributor
    pub role: String,
    /// Where the user is mailed: required without `password` (the link to set one goes
    /// here); a manager's e-mail gets copies of their clients' mail.
    #[serde(default)]
    pub email: String,
    /// For the distributor role: the code of an existing distributor.
    #[serde(default)]
    pub distributor: String,
    /// At least 8 characters. Without it the user has no usable password and is mailed a
    /// single-use link (24 h) to set one.
    pub password: Option<String>,
}

pub fn list(tx: &impl Snapshot) -> Result<Vec<User>, StoreError> {
    let t = tx.table(tables::USERS.def)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        out.push(codec::decode(row?.1.value())?);
    }
    Ok(out)
}

/// Logins of enabled users of a role (e.g. managers for the "responsible" select).
pub fn logins_with(tx: &impl Snapshot, role: Role) -> Result<Vec<String>, StoreError> {
    Ok(list(tx)?
        .into_iter()
        .filter(|u| u.role == role && !u.disabled)
        .map(|u| u.login)
        .collect())
}

/// Checks a new user's fields, noting every refusal in `errors` by field; answers the
/// login as it is kept (trimmed, lower-cased).
pub(crate) fn check_new(
    errors: &mut BTreeMap<String, String>,
    login: &str,
    role: Option<Role>,
    password: Option<&str>,
    distributor: &str,
    email: &str,
) -> String {
    let mut no = |field: &str, why: &str| {
        errors.insert(field.to_owned(), why.to_owned());
    };
    let login = login.trim().to_lowercase();
    if !auth::valid_login(&login) {
        no("login", "1 to 64 letters, digits, . _ - @");
    }
    if role.is_none() {
        no("role", "admin, manager or distributor");
    }
    if role == Some(Role::Distributor) && distributor.trim().is_empty() {
        no("distributor", "required for the distributor role");
    }
    match password {
        Some(p) if p.chars().count() < MIN_PASSWORD => {
            no("password", "at least 8 characters");
        }
        None if email.trim().is_empty() => no(
            "email",
            "required without a password: the link to set one is mailed to it",
        ),
        _ => {}
    }
    if !crate::service::clients::valid_email(email) {
        no("email", "not an e-mail address");
    }
    login
}

/// Writes a new user in `tx`, audited as `actor`: refuses a taken login and, for the
/// distributor role, a code no distributor has (the user keeps that distributor's own
/// code, as clients do). `link` says the user was mailed a link to set a password.
pub(crate) fn insert(
    tx: &WriteTransaction,
    mut user: User,
    actor: &str,
    link: bool,
) -> AppResult<User> {
    user.distributor = if user.role == Role::Distributor {
        distributors::get(tx, &user.distributor)?
            .ok_or(AppError::NotFound {
                what: "distributor",
            })?
            .code
    } else {
        String::new()
    };
    let mut t = tx.open_table(tables::USERS.def)?;
    if t.get(user.login.as_str())?.is_some() {
        return Err(AppError::Conflict {
            reason: "login_taken",
            details: serde_json::json!({ "login": user.login }),
        });
    }
    tables::USERS.put(&mut t, user.login.as_str(), &user)?;
    drop(t);
    let mut detail = user.role.as_str().to_owned();
    if !user.distributor.is_empty() {
        detail = format!("{detail} {}", user.distributor);
    }
    if !user.email.is_empty() {
        detail = format!("{detail}, e-mail {}", user.email);
    }
    if link {
        detail.push_str(", password link mailed");
    }
    let e = audit::entry(actor, user.created_at, "user_create", &user.login, &detail);
    audit::append(tx, &e)?;
    Ok(user)
}

/// Argon2 on the blocking pool, never on the executor or in the writer.
async fn hash_blocking(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(AppError::internal)?
}

/// Adds a staff user, audited as `actor` in the same commit. Without a password the
/// user has none that works (an empty hash verifies nothing) and is mailed a
/// single-use link to set one, queued in that commit.
pub async fn create(app: &App, new: NewUser, actor: &str) -> AppResult<User> {
    let mut errors = BTreeMap::new();
    let role = Role::parse(new.role.trim());
    let password = new.password.as_deref();
    let login = check_new(
        &mut errors,
        &new.login,
        role,
        password,
        &new.distributor,
        &new.email,
    );
    let Some(role) = role.filter(|_| errors.is_empty()) else {
        return Err(AppError::Malformed(errors));
    };
    let password_hash = match password {
        Some(p) => hash_blocking(p.to_owned()).await?,
        None => String::new(),
    };
    let now = app.now();
    let user = User {
        login,
        role,
        password_hash,
        distributor: new.distributor.trim().to_owned(),
        created_at: now,
        disabled: false,
        email: new.email.trim().to_owned(),
    };
    let token = password.is_none().then(sessions::random_secret);
    let env = app.mail_env();
    let actor = actor.to_owned();
    let user = app
        .store
        .write(move |tx| {
            let user = insert(tx, user.clone(), &actor, token.is_some())?;
            if let Some(token) = &token {
                issue_link(tx, &env, now, &user, token)?;
            }
            Ok(user)
        })
        .await?;
    if user.password_hash.is_empty() {
        app.mail_queued.notify_one();
    }
    Ok(user)
}

/// Keeps a password link for `user` under the hash of `token` and queues the mail that
/// carries it to the user's e-mail, in the vendor's language.
fn issue_link(
    tx: &WriteTransaction,
    env: &mail::MailEnv,
    now: OffsetDateTime,
    user: &User,
    token: &str,
) -> Result<(), StoreError> {
    let hash = sessions::secret_hash(token);
    let mut t = tx.open_table(tables::STAFF_LINKS.def)?;
    // Dead links go whenever a new one is made, so the table stays about as small as
    // the staff.
    t.extract_if(|_, v| codec::decode::<StaffLink>(v).is_ok_and(|l| l.expires_at <= now))?
        .count();
    tables::STAFF_LINKS.put(
        &mut t,
        hash.as_str(),
        &StaffLink {
            login: user.login.clone(),
            created_at: now,
            expires_at: now + LINK_LIFE,
        },
    )?;
    drop(t);
    let event = crate::mail::Event::StaffLink {
        login: user.login.clone(),
        url: format!("{}/password/{token}", env.public_url),
    };
    let key = format!("staff_link:{hash}");
    mail::to_addresses(
        tx,
        env,
        now,
        std::slice::from_ref(&user.email),
        None,
        &event,
        &key,
    )?;
    Ok(())
}

fn live_link(
    tx: &impl Snapshot,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<StaffLink>, StoreError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let t = tx.table(tables::STAFF_LINKS.def)?;
    Ok(tables::STAFF_LINKS
        .get(&t, sessions::secret_hash(token).as_str())?
        .filter(|l| l.expires_at > now))
}

/// The login a password link is for, while it is live (not used, not expired).
pub fn link_login(
    app: &App,
    tx: &impl Snapshot,
    token: &str,
) -> Result<Option<String>, StoreError> {
    Ok(live_link(tx, token, app.now())?.map(|l| l.login))
}

/// Sets a user's password through a mailed link, spending it, and ends the user's
/// sessions, audited as the user. `NotFound` when the link is unknown, used or expired.
pub async fn set_password_with_link(app: &App, token: &str, password: &str) -> AppResult<User> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(AppError::malformed("password", "at least 8 characters"));
    }
    let hash = hash_blocking(password.to_owned()).await?;
    let token = token.to_owned();
    let now = app.now();
    app.store
        .write(move |tx| {
            let link = live_link(tx, &token, now)?.ok_or(AppError::NotFound {
                what: "password link",
            })?;
            tx.open_table(tables::STAFF_LINKS.def)?
                .remove(sessions::secret_hash(&token).as_str())?;
            let mut t = tx.open_table(tables::USERS.def)?;
            let mut u = tables::USERS
                .get(&t, link.login.as_str())?
                .ok_or(AppError::NotFound { what: "user" })?;
            u.password_hash = hash.clone();
            tables::USERS.put(&mut t, u.login.as_str(), &u)?;
            drop(t);
            tx.open_table(tables::STAFF_SESSIONS.def)?
                .extract_if(|_, v| {
                    codec::decode::<StaffSession>(v).is_ok_and(|s| s.login == u.login)
                })?
                .count();
            let e = audit::entry(&u.login, now, "user_password_link", &u.login, "");
            audit::append(tx, &e)?;
            Ok(u)
        })
        .await
}

/// Changes role, distributor, e-mail and the disabled flag of a user. The last enabled
/// admin cannot be demoted or disabled, so the vendor never locks itself out; a new
/// distributor must exist.
pub async fn change(
    app: &App,
    login: &str,
    role: Role,
    distributor: &str,
    email: &str,
    disabled: bool,
) -> AppResult<User> {
    if role == Role::Distributor && distributor.trim().is_empty() {
        return Err(AppError::malformed(
            "distributor",
            "required for the distributor role",
        ));
    }
    if !crate::service::clients::valid_email(email) {
        return Err(AppError::malformed("email", "not an e-mail address"));
    }
    let login = login.to_owned();
    let distributor = distributor.trim().to_owned();
    let email = email.trim().to_owned();
    app.store
        .write(move |tx| {
            let mut u = {
                let t = tx.open_table(tables::USERS.def)?;
                tables::USERS
                    .get(&t, login.as_str())?
                    .ok_or(AppError::NotFound { what: "user" })?
            };
            if u.role == Role::Admin && !u.disabled && (role != Role::Admin || disabled) {
                let admins = list(tx)?
                    .iter()
                    .filter(|x| x.role == Role::Admin && !x.disabled)
                    .count();
                if admins <= 1 {
                    return Err(AppError::Conflict {
                        reason: "last_admin",
                        details: serde_json::json!({ "login": login }),
                    });
                }
            }
            u.distributor = match role {
                // Kept as it is (even one whose record is gone) unless it changes.
                Role::Distributor if distributor == u.distributor => distributor.clone(),
                Role::Distributor => {
                    distributors::get(tx, &distributor)?
                        .ok_or(AppError::NotFound {
                            what: "distributor",
                        })?
                        .code
                }
                _ => String::new(),
            };
            u.role = role;
            u.email = email.clone();
            u.disabled = disabled;
            let mut t = tx.open_table(tables::USERS.def)?;
            tables::USERS.put(&mut t, login.as_str(), &u)?;
            Ok(u)
        })
        .await
}

pub fn prefs(tx: &impl Snapshot, login: &str) -> Result<StaffPrefs, StoreError> {
    let t = tx.table(tables::STAFF_PREFS.def)?;
    Ok(tables::STAFF_PREFS.get(&t, login)?.unwrap_or_default())
}

/// Saves the user's UI language: "en", "ru" or "" (from the browser).
pub async fn set_lang(app: &App, login: &str, lang: &str) -> AppResult<()> {
    let lang = match lang {
        "en" | "ru" => lang.to_owned(),
        _ => String::new(),
    };
    let login = login.to_owned();
    app.store
        .write(move |tx| {
            let mut p = prefs(tx, &login)?;
            p.lang = lang.clone();
            let mut t = tx.open_table(tables::STAFF_PREFS.def)?;
            tables::STAFF_PREFS.put(&mut t, login.as_str(), &p)?;
            Ok(())
        })
        .await
}
