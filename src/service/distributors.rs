//! Distributors: partners a client can be assigned to, and whom distributor users act for.
use crate::domain::Distributor;
use crate::error::{AppError, AppResult};
use crate::service::App;
use crate::store::{Snapshot, StoreError, tables};
use redb::ReadableTable;

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

pub async fn create(app: &App, code: &str, name: &str, email: &str) -> AppResult<Distributor> {
    let code = code.trim().to_lowercase();
    if !valid_code(&code) {
        return Err(AppError::malformed(
            "code",
            "1 to 40 letters, digits, . _ -",
        ));
    }
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(AppError::malformed("name", "1 to 200 characters"));
    }
    if !crate::service::clients::valid_email(email) {
        return Err(AppError::malformed("email", "not an e-mail address"));
    }
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
