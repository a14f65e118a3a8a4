//! Mail is never sent from a request: a use case queues it in the outbox inside its own
//! transaction, and `jobs::outbox` sends it.
use crate::domain::Mail;
use crate::store::{StoreError, meta, tables};
use redb::WriteTransaction;
use time::OffsetDateTime;

pub fn queue(
    tx: &WriteTransaction,
    now: OffsetDateTime,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<u64, StoreError> {
    let id = meta::next_id(tx, "mail")?;
    let mut t = tx.open_table(tables::OUTBOX.def)?;
    tables::OUTBOX.put(
        &mut t,
        id,
        &Mail {
            id,
            to: to.to_owned(),
            subject: subject.to_owned(),
            body: body.to_owned(),
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
            last_error: String::new(),
        },
    )?;
    Ok(id)
}
