//! Staff credentials: admin-API tokens (kept only as SHA-256 hashes) and staff users
//! (argon2id password hashes).
use crate::domain::{Role, Token, User};
use crate::error::{AppError, AppResult};
use crate::service::{audit, users};
use crate::store::{Snapshot, Store, StoreError, meta, tables};
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use redb::{ReadableTable, ReadableTableMetadata};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub const TOKEN_PREFIX: &str = "licd_";

fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.trim().as_bytes()))
}

/// A new token: returns the secret (shown once) and the record. Audited as `actor` in
/// the same commit.
pub async fn create_token(
    store: &Store,
    name: &str,
    role: Role,
    now: OffsetDateTime,
    actor: &str,
) -> AppResult<(String, Token)> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(AppError::malformed("name", "1 to 100 characters"));
    }
    if role == Role::Distributor {
        return Err(AppError::malformed("role", "admin or manager"));
    }
    let mut raw = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
    let secret = format!("{TOKEN_PREFIX}{}", hex::encode(raw));
    let hash = token_hash(&secret);
    let name = name.trim().to_owned();
    let actor = actor.to_owned();
    let token = store
        .write(move |tx| {
            let id = meta::next_id(tx, "token")?;
            let t = Token {
                id,
                name: name.clone(),
                role,
                created_at: now,
                revoked_at: None,
            };
            let mut table = tx.open_table(tables::TOKENS.def)?;
            tables::TOKENS.put(&mut table, hash.as_str(), &t)?;
            drop(table);
            let detail = format!("{} ({})", t.name, t.role.as_str());
            let e = audit::entry(&actor, now, "token_create", &format!("token {id}"), &detail);
            audit::append(tx, &e)?;
            Ok(t)
        })
        .await?;
    Ok((secret, token))
}

/// The live token a bearer secret names, if any.
pub fn check_token(tx: &impl Snapshot, secret: &str) -> Result<Option<Token>, StoreError> {
    let t = tx.table(tables::TOKENS.def)?;
    Ok(tables::TOKENS
        .get(&t, token_hash(secret).as_str())?
        .filter(|t| t.revoked_at.is_none()))
}

pub fn list_tokens(tx: &impl Snapshot) -> Result<Vec<Token>, StoreError> {
    let t = tx.table(tables::TOKENS.def)?;
    let mut out: Vec<Token> = Vec::new();
    for row in t.iter()? {
        out.push(crate::store::codec::decode(row?.1.value())?);
    }
    out.sort_by_key(|t| t.id);
    Ok(out)
}

/// Revokes a token (again: no change), audited as `actor` in the same commit.
pub async fn revoke_token(
    store: &Store,
    id: u64,
    now: OffsetDateTime,
    actor: &str,
) -> AppResult<Token> {
    let actor = actor.to_owned();
    store
        .write(move |tx| {
            let mut table = tx.open_table(tables::TOKENS.def)?;
            let mut found = None;
            for row in table.iter()? {
                let (k, v) = row?;
                let t: Token = crate::store::codec::decode(v.value())?;
                if t.id == id {
                    found = Some((k.value().to_owned(), t));
                    break;
                }
            }
            let (hash, mut t) = found.ok_or(AppError::NotFound { what: "token" })?;
            if t.revoked_at.is_some() {
                return Ok(t);
            }
            t.revoked_at = Some(now);
            tables::TOKENS.put(&mut table, hash.as_str(), &t)?;
            drop(table);
            let e = audit::entry(&actor, now, "token_revoke", &format!("token {id}"), &t.name);
            audit::append(tx, &e)?;
            Ok(t)
        })
        .await
}

pub fn hash_password(password: &str) -> AppResult<String> {
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(AppError::internal)
}

pub fn verify_password(hash: &str, password: &str) -> bool {
    argon2::password_hash::phc::PasswordHash::new(hash)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks a login name: 1–64 letters, digits, `.`, `_`, `-`, `@`.
pub fn valid_login(login: &str) -> bool {
    (1..=64).contains(&login.chars().count())
        && login
            .chars()
            .all(|c| c.is_alphanumeric() || "._-@".contains(c))
}

/// Adds a staff user with a password (the command line's `licd user add`), audited as
/// `actor` in the same commit; `email` may be empty. The admin API and the Users page
/// use `users::create`, which can mail a link instead.
#[allow(clippy::too_many_arguments)]
pub async fn add_user(
    store: &Store,
    login: &str,
    role: Role,
    password: &str,
    distributor: &str,
    email: &str,
    now: OffsetDateTime,
    actor: &str,
) -> AppResult<User> {
    let mut errors = std::collections::BTreeMap::new();
    let login = users::check_new(
        &mut errors,
        login,
        Some(role),
        Some(password),
        distributor,
        email,
    );
    if !errors.is_empty() {
        return Err(AppError::Malformed(errors));
    }
    let user = User {
        login,
        role,
        password_hash: hash_password(password)?,
        distributor: distributor.trim().to_owned(),
        created_at: now,
        disabled: false,
        email: email.trim().to_owned(),
    };
    let actor = actor.to_owned();
    store
        .write(move |tx| users::insert(tx, user.clone(), &actor, false))
        .await
}

pub fn has_users(tx: &impl Snapshot) -> Result<bool, StoreError> {
    Ok(!tx.table(tables::USERS.def)?.is_empty()?)
}
