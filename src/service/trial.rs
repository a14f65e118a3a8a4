//! Trial registration from inside a protected app.
use crate::domain::{Client, Grant, GrantSource, Product};
use crate::error::{AppError, AppResult};
use crate::mail::Event;
use crate::service::views::ItemView;
use crate::service::{App, clients, keys, mail, products};
use crate::store::tables;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

#[derive(Deserialize, Debug, Clone, Default, utoipa::ToSchema)]
pub struct TrialInput {
    pub product: String,
    pub host: String,
    /// An existing key taking a trial of another product.
    pub regnum: Option<String>,
    pub company: Option<String>,
    pub contact: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct TrialGranted {
    pub regnum: String,
    pub new_client: bool,
    pub items: Vec<ItemView>,
}

/// Mails the client of `key` its registration number and the trial it took.
fn mail_trial(
    tx: &redb::WriteTransaction,
    env: &mail::MailEnv,
    now: OffsetDateTime,
    key: &crate::domain::Key,
    product: &Product,
) -> Result<(), crate::store::StoreError> {
    let Some(c) = clients::load(tx, key.client_id)? else {
        return Ok(());
    };
    let event = Event::Trial {
        regnum: key.regnum.clone(),
        product: product.name.clone(),
        until: product
            .trial
            .as_ref()
            .map(|t| now + Duration::days(i64::from(t.days))),
    };
    let subject = format!("trial:{}:{}", key.regnum, product.code.to_lowercase());
    mail::to_client(tx, env, now, &c, &event, &subject)?;
    Ok(())
}

fn trial_grants(key: &mut crate::domain::Key, p: &Product, now: OffsetDateTime) {
    let Some(t) = &p.trial else { return };
    let expires_at = now + Duration::days(i64::from(t.days));
    for it in &t.items {
        key.add_grant(Grant {
            id: 0,
            product: p.code.clone(),
            feature: it.feature,
            seats: it.seats,
            expires_at: Some(expires_at),
            trial: true,
            source: GrantSource::Trial,
            added_at: now,
        });
    }
    key.trials.push(p.code.to_lowercase());
}

fn required(
    name: &str,
    v: &Option<String>,
    bad: &mut std::collections::BTreeMap<String, String>,
) -> String {
    let v = v.as_deref().unwrap_or("").trim().to_owned();
    if v.is_empty() {
        bad.insert(name.to_owned(), "required".into());
    } else if v.chars().count() > 1000 {
        bad.insert(name.to_owned(), "at most 1000 characters".into());
    }
    v
}

enum Outcome {
    Granted(String, bool),
    /// 1058: the registration numbers were mailed again; answered as an error after commit.
    EmailTaken,
}

pub async fn register(app: &App, input: TrialInput) -> AppResult<TrialGranted> {
    let mut bad = std::collections::BTreeMap::new();
    let product_code = required("product", &Some(input.product.clone()), &mut bad);
    let host = required("host", &Some(input.host.clone()), &mut bad);
    let regnum = match input
        .regnum
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        Some(r) => Some(keys::parse_regnum(r)?),
        None => None,
    };
    let (company, contact, phone, email) = if regnum.is_none() {
        let company = required("company", &input.company, &mut bad);
        let contact = required("contact", &input.contact, &mut bad);
        let phone = required("phone", &input.phone, &mut bad);
        let email = required("email", &input.email, &mut bad);
        if !email.is_empty() && !clients::valid_email(&email) {
            bad.insert("email".into(), "not an e-mail address".into());
        }
        (company, contact, phone, email)
    } else {
        Default::default()
    };
    if !bad.is_empty() {
        return Err(AppError::Malformed(bad));
    }
    let now = app.now();
    let env = app.mail_env();
    let outcome = app
        .store
        .write(move |tx| {
            let product =
                products::by_code(tx, &product_code)?.ok_or(AppError::UnknownProduct {
                    product: product_code.clone(),
                })?;
            if product.trial.is_none() {
                return Err(AppError::UnknownProduct {
                    product: product_code.clone(),
                });
            }
            if let Some(regnum) = &regnum {
                let mut key = keys::load(tx, regnum)?.ok_or(AppError::UnknownRegnum)?;
                if key.blocked {
                    return Err(AppError::Blocked);
                }
                if key.trials.contains(&product.code.to_lowercase()) {
                    return Err(AppError::TrialUsed);
                }
                trial_grants(&mut key, &product, now);
                keys::save(tx, &key)?;
                mail_trial(tx, &env, now, &key, &product)?;
                return Ok(Outcome::Granted(regnum.clone(), false));
            }
            let existing = clients::ids_by_email(tx, &email)?;
            if let Some(&id) = existing.first() {
                // 1058: mail the registration numbers to that address again (at most
                // once an hour, so the call cannot be used to flood the address).
                let regnums = clients::keys_of(tx, id)?;
                if let Some(c) = clients::load(tx, id)? {
                    mail::to_client(
                        tx,
                        &env,
                        now,
                        &c,
                        &Event::EmailTaken { regnums },
                        &format!("email_taken:{id}:{}", now.unix_timestamp() / 3600),
                    )?;
                }
                return Ok(Outcome::EmailTaken);
            }
            let host_key = host.to_lowercase();
            if tx
                .open_table(tables::TRIAL_HOSTS)?
                .get(host_key.as_str())?
                .is_some()
            {
                return Err(AppError::HostTrialUsed);
            }
            let client = clients::insert(
                tx,
                Client {
                    company: company.clone(),
                    contact: contact.clone(),
                    phone: phone.clone(),
                    email: email.clone(),
                    origin: "trial".into(),
                    created_at: Some(now),
                    updated_at: Some(now),
                    ..Default::default()
                },
            )?;
            let mut key = keys::insert_new(tx, client.id, now)?;
            trial_grants(&mut key, &product, now);
            keys::save(tx, &key)?;
            tx.open_table(tables::TRIAL_HOSTS)?
                .insert(host_key.as_str(), key.regnum.as_str())?;
            mail_trial(tx, &env, now, &key, &product)?;
            Ok(Outcome::Granted(key.regnum.clone(), true))
        })
        .await?;
    app.mail_queued.notify_one();
    let (regnum, new_client) = match outcome {
        Outcome::EmailTaken => return Err(AppError::EmailTaken),
        Outcome::Granted(r, n) => (r, n),
    };
    let tx = app.store.read()?;
    let key = keys::load(&tx, &regnum)?.ok_or(AppError::UnknownRegnum)?;
    if new_client && let Some(c) = clients::load(&tx, key.client_id)? {
        app.search.put(&c);
    }
    Ok(TrialGranted {
        items: keys::items(app, &tx, &key, app.now())?,
        regnum,
        new_client,
    })
}
