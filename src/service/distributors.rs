//! Distributors: partners a client can be assigned to, and whom distributor users act for.
use crate::domain::Distributor;
use crate::error::{AppError, AppResult};
use crate::service::{App, audit};
use crate::store::{Snapshot, StoreError, tables};
use redb::{ReadableMultimapTable, ReadableTable};

pub fn list(tx: &impl Snapshot) -> Result<Vec<Distributor>, StoreError> {
    let t = tx.table(tables::DISTRIBUTORS.def)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        out.push(crate::store::codec::decode(row?.1.value())?);
    }
    Ok(out)
}

pub fn valid_code(code: &str) -> bool {
    (1..=40).contains(&code.chars().count())
        && code
            .chars()
            .all(|c| c.is_alphanumeric() || "._-".contains(c))
}

pub fn get(tx: &impl Snapshot, code: &str) -> Result<Option<Distributor>, StoreError> {
    let t = tx.table(tables::DISTRIBUTORS.def)?;
    tables::DISTRIBUTORS.get(&t, code.trim().to_lowercase().as_str())
}

fn check_details(name: &str, email: &str) -> AppResult<()> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(AppError::malformed("name", "1 to 200 characters"));
    }
    if !crate::service::clients::valid_email(email) {
        return Err(AppError::malformed("email", "not an e-mail address"));
    }
    Ok(())
}

pub async fn create(app: &App, code: &str, name: &str, email: &str) -> AppResult<Distributor> {
    let code = code.trim().to_lowercase();
    if !valid_code(&code) {
        return Err(AppError::malformed(
            "code",
            "1 to 40 letters, digits, . _ -",
        ));
    }
    check_details(name, email)?;
    let d = Distributor {
        code: code.clone(),
        name: name.trim().to_owned(),
        email: email.trim().to_owned(),
        created_at: app.now(),
    };
    app.store
        .write(move |tx| {
            let mut t = tx.open_table(tables::DISTRIBUTORS.def)?;
            if t.get(d.code.as_str())?.is_some() {
                return Err(AppError::Conflict {
                    reason: "distributor_code_taken",
                    details: serde_json::json!({ "code": d.code }),
                });
            }
            tables::DISTRIBUTORS.put(&mut t, d.code.as_str(), &d)?;
            Ok(d.clone())
        })
        .await
}

/// Renames a distributor and changes its e-mail (its code, which clients and users
/// refer to, stays), audited as `actor` in the same commit.
pub async fn update(
    app: &App,
    code: &str,
    name: &str,
    email: &str,
    actor: &str,
) -> AppResult<Distributor> {
    check_details(name, email)?;
    let code = code.trim().to_lowercase();
    let (name, email, actor) = (
        name.trim().to_owned(),
        email.trim().to_owned(),
        actor.to_owned(),
    );
    let now = app.now();
    app.store
        .write(move |tx| {
            let mut d = get(tx, &code)?.ok_or(AppError::NotFound {
                what: "distributor",
            })?;
            let mut changes = Vec::new();
            if d.name != name {
                changes.push(format!("name \"{}\" -> \"{name}\"", d.name));
                d.name = name.clone();
            }
            if d.email != email {
                changes.push(format!("e-mail {} -> {email}", d.email));
                d.email = email.clone();
            }
            if changes.is_empty() {
                return Ok(d);
            }
            let mut t = tx.open_table(tables::DISTRIBUTORS.def)?;
            tables::DISTRIBUTORS.put(&mut t, d.code.as_str(), &d)?;
            drop(t);
            let e = audit::entry(
                &actor,
                now,
                "distributor_update",
                &d.code,
                &changes.join("; "),
            );
            audit::append(tx, &e)?;
            Ok(d)
        })
        .await
}

/// Deletes a distributor no client is assigned to and no staff user acts for,
/// audited as `actor` in the same commit.
pub async fn delete(app: &App, code: &str, actor: &str) -> AppResult<Distributor> {
    let code = code.trim().to_lowercase();
    let actor = actor.to_owned();
    let now = app.now();
    app.store
        .write(move |tx| {
            let d = get(tx, &code)?.ok_or(AppError::NotFound {
                what: "distributor",
            })?;
            let clients = tx
                .multi(tables::CLIENT_DISTRIBUTORS)?
                .get(d.code.as_str())?
                .count();
            if clients > 0 {
                return Err(AppError::Conflict {
                    reason: "distributor_has_clients",
                    details: serde_json::json!({ "code": d.code, "clients": clients }),
                });
            }
            let users: Vec<String> = crate::service::users::list(tx)?
                .into_iter()
                .filter(|u| u.distributor == d.code)
                .map(|u| u.login)
                .collect();
            if !users.is_empty() {
                return Err(AppError::Conflict {
                    reason: "distributor_has_users",
                    details: serde_json::json!({ "code": d.code, "users": users }),
                });
            }
            tx.open_table(tables::DISTRIBUTORS.def)?
                .remove(d.code.as_str())?;
            let e = audit::entry(&actor, now, "distributor_delete", &d.code, &d.name);
            audit::append(tx, &e)?;
            Ok(d)
        })
        .await
}
