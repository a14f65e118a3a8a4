//! Staff users as the web UI manages them: list, change role, disable, preferences.
use crate::domain::{Role, StaffPrefs, User};
use crate::error::{AppError, AppResult};
use crate::service::App;
use crate::store::{Snapshot, StoreError, tables};
use redb::ReadableTable;

pub fn list(tx: &impl Snapshot) -> Result<Vec<User>, StoreError> {
    let t = tx.table(tables::USERS.def)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        out.push(crate::store::codec::decode(row?.1.value())?);
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

/// Changes role, distributor and the disabled flag of a user. The last enabled admin
/// cannot be demoted or disabled, so the vendor never locks itself out.
pub async fn change(
    app: &App,
    login: &str,
    role: Role,
    distributor: &str,
    disabled: bool,
) -> AppResult<User> {
    if role == Role::Distributor && distributor.trim().is_empty() {
        return Err(AppError::malformed(
            "distributor",
            "required for the distributor role",
        ));
    }
    let login = login.to_owned();
    let distributor = distributor.trim().to_owned();
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
            u.role = role;
            u.distributor = if role == Role::Distributor {
                distributor.clone()
            } else {
                String::new()
            };
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
