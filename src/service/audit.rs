//! The audit log: every staff change, who, what, when. Newest first when read.
use crate::domain::AuditEntry;
use crate::error::AppResult;
use crate::service::App;
use crate::store::{Snapshot, StoreError, meta, tables};
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};
use time::OffsetDateTime;

/// Appends an entry in `tx` (the same transaction as the change where the caller can).
pub fn append(tx: &WriteTransaction, e: &AuditEntry) -> Result<(), StoreError> {
    let id = meta::next_id(tx, "audit")?;
    let mut e = e.clone();
    e.id = id;
    let mut t = tx.open_table(tables::AUDIT.def)?;
    tables::AUDIT.put(&mut t, id, &e)
}

/// An entry for a change `actor` made at `at`, to `append` in the change's transaction.
pub fn entry(
    actor: &str,
    at: OffsetDateTime,
    action: &str,
    target: &str,
    detail: &str,
) -> AuditEntry {
    AuditEntry {
        id: 0,
        at,
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail: detail.chars().take(500).collect(),
    }
}

/// Records one staff change in its own commit.
pub async fn record(
    app: &App,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> AppResult<()> {
    let e = entry(actor, app.now(), action, target, detail);
    app.store.write(move |tx| Ok(append(tx, &e)?)).await
}

/// A page of entries, newest first, optionally only those whose actor, action or
/// target contains `q`; and the total count of entries.
pub fn page(
    tx: &impl Snapshot,
    q: &str,
    offset: usize,
    limit: usize,
) -> Result<(Vec<AuditEntry>, usize), StoreError> {
    let t = tx.table(tables::AUDIT.def)?;
    let total = t.len()? as usize;
    let q = crate::domain::fold(q.trim());
    let mut out = Vec::new();
    let mut skipped = 0;
    for row in t.iter()?.rev() {
        let (_, v) = row?;
        let e: AuditEntry = crate::store::codec::decode(v.value())?;
        if !q.is_empty() {
            let hay = crate::domain::fold(&format!(
                "{} {} {} {}",
                e.actor, e.action, e.target, e.detail
            ));
            if !hay.contains(&q) {
                continue;
            }
        }
        if skipped < offset {
            skipped += 1;
            continue;
        }
        out.push(e);
        if out.len() >= limit {
            break;
        }
    }
    Ok((out, total))
}
