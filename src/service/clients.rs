//! Clients: create, change, find, merge, delete.
use crate::domain::{Client, Key, fold};
use crate::error::{AppError, AppResult};
use crate::service::App;
use crate::service::views::ClientView;
use crate::store::{Snapshot, StoreError, tables};
use redb::{ReadableMultimapTable, ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Fields of a client card; on create `company` is required, on change every field is
/// optional and only those sent change.
#[derive(Deserialize, Debug, Clone, Default, utoipa::ToSchema)]
pub struct ClientInput {
    pub company: Option<String>,
    pub contact: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub alert_email: Option<String>,
    pub crm_id1: Option<String>,
    pub crm_id2: Option<String>,
    pub manager: Option<String>,
    pub distributor: Option<String>,
    pub comment: Option<String>,
    pub extra: Option<BTreeMap<String, String>>,
}

const MAX_FIELD: usize = 1000;

/// Checks an e-mail address's shape (empty is allowed where the field is optional).
pub fn valid_email(raw: &str) -> bool {
    // As typed, spaces around included: at most 254 characters.
    if raw.chars().count() > 254 {
        return false;
    }
    let s = raw.trim();
    if s.is_empty() {
        return true;
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.len() <= 254
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl ClientInput {
    fn check(&self) -> AppResult<()> {
        let mut bad = BTreeMap::new();
        let fields = [
            ("company", &self.company),
            ("contact", &self.contact),
            ("phone", &self.phone),
            ("email", &self.email),
            ("alert_email", &self.alert_email),
            ("crm_id1", &self.crm_id1),
            ("crm_id2", &self.crm_id2),
            ("manager", &self.manager),
            ("distributor", &self.distributor),
        ];
        for (name, v) in fields {
            if v.as_ref().is_some_and(|v| v.chars().count() > MAX_FIELD) {
                bad.insert(name.to_owned(), format!("at most {MAX_FIELD} characters"));
            }
        }
        if self
            .comment
            .as_ref()
            .is_some_and(|v| v.chars().count() > 20 * MAX_FIELD)
        {
            bad.insert("comment".into(), "too long".into());
        }
        for (name, v) in [("email", &self.email), ("alert_email", &self.alert_email)] {
            if v.as_ref().is_some_and(|v| !valid_email(v)) {
                bad.insert(name.to_owned(), "not an e-mail address".into());
            }
        }
        if let Some(extra) = &self.extra {
            for (k, v) in extra {
                if k.trim().is_empty() || k.chars().count() > 100 || v.chars().count() > MAX_FIELD {
                    bad.insert(
                        format!("extra.{k}"),
                        "name 1–100, value up to 1000 characters".into(),
                    );
                }
            }
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(AppError::Malformed(bad))
        }
    }

    /// Applies the fields sent onto `c`.
    fn apply(&self, c: &mut Client) {
        let set = |dst: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                *dst = v.trim().to_owned();
            }
        };
        set(&mut c.company, &self.company);
        set(&mut c.contact, &self.contact);
        set(&mut c.phone, &self.phone);
        set(&mut c.email, &self.email);
        set(&mut c.alert_email, &self.alert_email);
        set(&mut c.crm_id1, &self.crm_id1);
        set(&mut c.crm_id2, &self.crm_id2);
        set(&mut c.manager, &self.manager);
        set(&mut c.distributor, &self.distributor);
        set(&mut c.comment, &self.comment);
        if let Some(extra) = &self.extra {
            for (k, v) in extra {
                if v.is_empty() {
                    c.extra.remove(k.trim());
                } else {
                    c.extra.insert(k.trim().to_owned(), v.clone());
                }
            }
        }
    }
}

pub(crate) fn index_keys(
    c: &Client,
) -> [(
    redb::MultimapTableDefinition<'static, &'static str, u64>,
    String,
); 5] {
    [
        (tables::CLIENT_EMAILS, c.email.trim().to_lowercase()),
        (tables::CLIENT_CRM1, c.crm_id1.trim().to_owned()),
        (tables::CLIENT_MANAGERS, c.manager.trim().to_owned()),
        (tables::CLIENT_DISTRIBUTORS, c.distributor.trim().to_owned()),
        (tables::CLIENT_CRM2, c.crm_id2.trim().to_owned()),
    ]
}

fn unindex(tx: &WriteTransaction, c: &Client) -> Result<(), StoreError> {
    for (def, k) in index_keys(c) {
        if !k.is_empty() {
            tx.open_multimap_table(def)?.remove(k.as_str(), c.id)?;
        }
    }
    Ok(())
}

/// Writes a client record and its lookup indexes (after `unindex` of its old self).
/// Adds a client's lookup entries (used by `save` and by the schema-2 migration).
pub fn index(tx: &WriteTransaction, c: &Client) -> Result<(), StoreError> {
    for (def, k) in index_keys(c) {
        if !k.is_empty() {
            tx.open_multimap_table(def)?.insert(k.as_str(), c.id)?;
        }
    }
    Ok(())
}

pub fn save(tx: &WriteTransaction, c: &Client) -> Result<(), StoreError> {
    let mut t = tx.open_table(tables::CLIENTS.def)?;
    tables::CLIENTS.put(&mut t, c.id, c)?;
    drop(t);
    index(tx, c)
}

pub fn load(tx: &impl Snapshot, id: u64) -> Result<Option<Client>, StoreError> {
    let t = tx.table(tables::CLIENTS.def)?;
    tables::CLIENTS.get(&t, id)
}

pub fn keys_of(tx: &impl Snapshot, id: u64) -> Result<Vec<String>, StoreError> {
    let t = tx.multi(tables::CLIENT_KEYS)?;
    let mut out = Vec::new();
    for v in t.get(id)? {
        out.push(v?.value().to_owned());
    }
    Ok(out)
}

/// Ids of clients whose e-mail is `email` (case-insensitive).
/// Ids of the clients of a responsible manager, ascending.
pub fn ids_by_manager(tx: &impl Snapshot, login: &str) -> Result<Vec<u64>, StoreError> {
    ids_by(tx, tables::CLIENT_MANAGERS, login.trim())
}

/// Ids of the clients assigned to a distributor, ascending.
pub fn ids_by_distributor(tx: &impl Snapshot, distributor: &str) -> Result<Vec<u64>, StoreError> {
    ids_by(tx, tables::CLIENT_DISTRIBUTORS, distributor.trim())
}

pub fn ids_by_email(tx: &impl Snapshot, email: &str) -> Result<Vec<u64>, StoreError> {
    ids_by(tx, tables::CLIENT_EMAILS, &email.trim().to_lowercase())
}

fn ids_by(
    tx: &impl Snapshot,
    def: redb::MultimapTableDefinition<'static, &'static str, u64>,
    k: &str,
) -> Result<Vec<u64>, StoreError> {
    let t = tx.multi(def)?;
    let mut out = Vec::new();
    for v in t.get(k)? {
        out.push(v?.value());
    }
    Ok(out)
}

/// A new client record, id assigned, saved in `tx`.
pub fn insert(tx: &WriteTransaction, mut c: Client) -> Result<Client, StoreError> {
    c.id = crate::store::meta::next_id(tx, "client")?;
    save(tx, &c)?;
    Ok(c)
}

pub fn view(tx: &impl Snapshot, c: &Client) -> Result<ClientView, StoreError> {
    Ok(ClientView::new(c, keys_of(tx, c.id)?))
}

pub async fn create(app: &App, input: ClientInput) -> AppResult<ClientView> {
    input.check()?;
    if input.company.as_deref().is_none_or(|c| c.trim().is_empty()) {
        return Err(AppError::malformed("company", "required"));
    }
    let now = app.now();
    let c = app
        .store
        .write(move |tx| {
            let mut c = Client {
                origin: "manual".into(),
                created_at: Some(now),
                updated_at: Some(now),
                ..Default::default()
            };
            input.apply(&mut c);
            Ok(insert(tx, c)?)
        })
        .await?;
    app.search.put(&c);
    Ok(ClientView::new(&c, Vec::new()))
}

pub fn get(app: &App, id: u64) -> AppResult<ClientView> {
    let tx = app.store.read()?;
    let c = load(&tx, id)?.ok_or(AppError::NotFound { what: "client" })?;
    Ok(view(&tx, &c)?)
}

pub struct ListQuery {
    pub q: Option<String>,
    pub crm_id1: Option<String>,
    pub crm_id2: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

/// Clients by quick search and/or CRM ids, newest first.
pub fn list(app: &App, query: &ListQuery) -> AppResult<(Vec<ClientView>, usize)> {
    let tx = app.store.read()?;
    let mut ids: Option<Vec<u64>> = None;
    for (def, v) in [
        (tables::CLIENT_CRM1, &query.crm_id1),
        (tables::CLIENT_CRM2, &query.crm_id2),
    ] {
        if let Some(v) = v {
            let found = ids_by(&tx, def, v.trim())?;
            ids = Some(match ids {
                None => found,
                Some(prev) => prev.into_iter().filter(|i| found.contains(i)).collect(),
            });
        }
    }
    let (page, total): (Vec<u64>, usize) = match (ids, &query.q) {
        (Some(mut ids), q) => {
            ids.sort_unstable_by(|a, b| b.cmp(a));
            if let Some(q) = q.as_deref().filter(|q| !q.trim().is_empty()) {
                let words: Vec<String> = fold(q).split_whitespace().map(str::to_owned).collect();
                let t = tx.table(tables::CLIENTS.def)?;
                let mut kept = Vec::new();
                for id in ids {
                    if let Some(c) = tables::CLIENTS.get(&t, id)? {
                        let text = c.search_text();
                        if words.iter().all(|w| text.contains(w.as_str())) {
                            kept.push(id);
                        }
                    }
                }
                ids = kept;
            }
            let total = ids.len();
            (
                ids.into_iter()
                    .skip(query.offset)
                    .take(query.limit)
                    .collect(),
                total,
            )
        }
        (None, Some(q)) => app.search.find(q, query.offset, query.limit),
        (None, None) => {
            let t = tx.table(tables::CLIENTS.def)?;
            let total = t.len()? as usize;
            let mut page = Vec::new();
            for row in t.iter()?.rev().skip(query.offset).take(query.limit) {
                page.push(row?.0.value());
            }
            (page, total)
        }
    };
    let mut out = Vec::with_capacity(page.len());
    for id in page {
        if let Some(c) = load(&tx, id)? {
            out.push(view(&tx, &c)?);
        }
    }
    Ok((out, total))
}

pub async fn update(app: &App, id: u64, input: ClientInput) -> AppResult<ClientView> {
    input.check()?;
    if input
        .company
        .as_deref()
        .is_some_and(|c| c.trim().is_empty())
    {
        return Err(AppError::malformed("company", "must not be empty"));
    }
    let now = app.now();
    let (c, keys) = app
        .store
        .write(move |tx| {
            let mut c = load(tx, id)?.ok_or(AppError::NotFound { what: "client" })?;
            unindex(tx, &c)?;
            input.apply(&mut c);
            c.updated_at = Some(now);
            save(tx, &c)?;
            Ok((c.clone(), keys_of(tx, id)?))
        })
        .await?;
    app.search.put(&c);
    Ok(ClientView::new(&c, keys))
}

fn load_key(tx: &impl Snapshot, regnum: &str) -> Result<Option<Key>, StoreError> {
    let t = tx.table(tables::KEYS.def)?;
    tables::KEYS.get(&t, regnum)
}

/// Deletes a client and its empty keys; refused while any key holds items.
pub async fn delete(app: &App, id: u64) -> AppResult<ClientView> {
    let (c, gone) = app
        .store
        .write(move |tx| {
            let c = load(tx, id)?.ok_or(AppError::NotFound { what: "client" })?;
            let regnums = keys_of(tx, id)?;
            let mut with_items = Vec::new();
            for r in &regnums {
                if load_key(tx, r)?.is_some_and(|k| k.has_items()) {
                    with_items.push(r.clone());
                }
            }
            if !with_items.is_empty() {
                return Err(AppError::Conflict {
                    reason: "client_has_keys",
                    details: serde_json::json!({ "keys": with_items }),
                });
            }
            let mut gone = Vec::new();
            for r in &regnums {
                gone.extend(crate::service::keys::delete_empty_key(tx, r)?);
            }
            tx.open_multimap_table(tables::CLIENT_KEYS)?
                .remove_all(id)?;
            unindex(tx, &c)?;
            tx.open_table(tables::CLIENTS.def)?.remove(id)?;
            Ok((c, gone))
        })
        .await?;
    for l in &gone {
        app.leases.forget(l);
    }
    app.search.remove(id);
    Ok(ClientView::new(&c, Vec::new()))
}

/// Merges `from` into `into`: the survivor keeps its card, every key of the others
/// moves to it, and the others are deleted.
pub async fn merge(app: &App, into: u64, from: Vec<u64>) -> AppResult<ClientView> {
    let mut from = from;
    from.sort_unstable();
    from.dedup();
    if from.is_empty() {
        return Err(AppError::malformed("from", "list the clients to merge"));
    }
    if from.contains(&into) {
        return Err(AppError::Conflict {
            reason: "merge_into_itself",
            details: serde_json::json!({ "id": into }),
        });
    }
    let now = app.now();
    let from2 = from.clone();
    let (survivor, keys) = app
        .store
        .write(move |tx| {
            let mut survivor = load(tx, into)?.ok_or(AppError::NotFound { what: "client" })?;
            let mut others = Vec::new();
            for id in &from2 {
                others.push(load(tx, *id)?.ok_or(AppError::NotFound { what: "client" })?);
            }
            for other in &others {
                for r in keys_of(tx, other.id)? {
                    let mut keys = tx.open_table(tables::KEYS.def)?;
                    if let Some(mut k) = tables::KEYS.get(&keys, r.as_str())? {
                        k.client_id = into;
                        tables::KEYS.put(&mut keys, r.as_str(), &k)?;
                    }
                    drop(keys);
                    tx.open_multimap_table(tables::CLIENT_KEYS)?
                        .insert(into, r.as_str())?;
                }
                tx.open_multimap_table(tables::CLIENT_KEYS)?
                    .remove_all(other.id)?;
                unindex(tx, other)?;
                tx.open_table(tables::CLIENTS.def)?.remove(other.id)?;
            }
            survivor.updated_at = Some(now);
            tables::CLIENTS.put(&mut tx.open_table(tables::CLIENTS.def)?, into, &survivor)?;
            Ok((survivor, keys_of(tx, into)?))
        })
        .await?;
    for id in from {
        app.search.remove(id);
    }
    Ok(ClientView::new(&survivor, keys))
}

/// What a page of the client list asks for (the back office's filters).
#[derive(Default, Clone, Debug)]
pub struct Browse {
    pub q: String,
    pub manager: String,
    pub distributor: String,
    pub old_first: bool,
    /// By company name, A to Z (then by id).
    pub by_company: bool,
    pub offset: usize,
}

/// One page of clients: rows, the total when known, and whether more follow. The
/// common case (newest first, maybe a quick search) pages through the in-memory search
/// index or the table's id order without reading other rows; filters scan lazily and
/// stop after the page.
pub fn browse(app: &App, f: &Browse, limit: usize) -> AppResult<ClientPage> {
    if f.by_company {
        return by_company(app, f, limit);
    }
    if f.manager.is_empty() && f.distributor.is_empty() && f.q.is_empty() {
        // Every client: a slice of the table in id order; the count comes from the
        // in-memory search index (counting the table would walk all of it).
        let tx = app.store.read()?;
        let t = tx.table(tables::CLIENTS.def)?;
        let total = app.search.len();
        let iter = t.iter()?;
        let iter: Box<dyn Iterator<Item = _>> = if f.old_first {
            Box::new(iter)
        } else {
            Box::new(iter.rev())
        };
        let mut rows = Vec::with_capacity(limit);
        for row in iter.skip(f.offset).take(limit) {
            let (_, v) = row?;
            let c: Client = crate::store::codec::decode(v.value())?;
            rows.push(view(&tx, &c)?);
        }
        let more = f.offset + rows.len() < total;
        return Ok((rows, Some(total), more));
    }
    if f.manager.is_empty() && f.distributor.is_empty() && !f.old_first {
        let (rows, total) = list(
            app,
            &ListQuery {
                q: (!f.q.is_empty()).then(|| f.q.clone()),
                crm_id1: None,
                crm_id2: None,
                limit,
                offset: f.offset,
            },
        )?;
        let more = f.offset + rows.len() < total;
        return Ok((rows, Some(total), more));
    }
    let tx = app.store.read()?;
    if f.q.is_empty() {
        // Manager and/or distributor alone: straight from their indexes.
        let mut ids: Option<Vec<u64>> = None;
        for (v, by) in [
            (&f.manager, ids_by_manager as fn(&_, &str) -> _),
            (&f.distributor, ids_by_distributor),
        ] {
            if !v.is_empty() {
                let found: Vec<u64> = by(&tx, v)?;
                ids = Some(match ids {
                    None => found,
                    Some(prev) => prev
                        .into_iter()
                        .filter(|i| found.binary_search(i).is_ok())
                        .collect(),
                });
            }
        }
        let mut ids = ids.unwrap_or_default();
        if !f.old_first {
            ids.reverse();
        }
        let total = ids.len();
        let mut rows = Vec::with_capacity(limit);
        for id in ids.iter().skip(f.offset).take(limit) {
            if let Some(c) = load(&tx, *id)? {
                rows.push(view(&tx, &c)?);
            }
        }
        let more = f.offset + rows.len() < total;
        return Ok((rows, Some(total), more));
    }
    let t = tx.table(tables::CLIENTS.def)?;
    let keep = |c: &Client| {
        (f.manager.is_empty() || c.manager == f.manager)
            && (f.distributor.is_empty() || c.distributor == f.distributor)
    };
    let mut rows = Vec::new();
    let mut skipped = 0;
    let mut more = false;
    let mut consider = |c: Client| -> AppResult<bool> {
        if !keep(&c) {
            return Ok(true);
        }
        if skipped < f.offset {
            skipped += 1;
            return Ok(true);
        }
        if rows.len() == limit {
            more = true;
            return Ok(false);
        }
        rows.push(view(&tx, &c)?);
        Ok(true)
    };
    if f.q.is_empty() {
        let iter = t.iter()?;
        let iter: Box<dyn Iterator<Item = _>> = if f.old_first {
            Box::new(iter)
        } else {
            Box::new(iter.rev())
        };
        for row in iter {
            let (_, v) = row?;
            let c: Client = crate::store::codec::decode(v.value())?;
            if !consider(c)? {
                break;
            }
        }
    } else {
        let (mut ids, _) = app.search.find(&f.q, 0, usize::MAX);
        if f.old_first {
            ids.reverse();
        }
        for id in ids {
            if let Some(c) = tables::CLIENTS.get(&t, id)?
                && !consider(c)?
            {
                break;
            }
        }
    }
    Ok((rows, None, more))
}

/// A page of clients: rows, the total when known, whether more follow.
pub type ClientPage = (Vec<ClientView>, Option<usize>, bool);

/// The page sorted by company name (A–Z, then id), every match counted: a slice of
/// the search index's company order, or one pass along it for the matches of a quick
/// search and/or the clients of a manager or distributor.
fn by_company(app: &App, f: &Browse, limit: usize) -> AppResult<ClientPage> {
    let tx = app.store.read()?;
    let mut only: Option<Vec<u64>> = None;
    for (v, by) in [
        (&f.manager, ids_by_manager as fn(&_, &str) -> _),
        (&f.distributor, ids_by_distributor),
    ] {
        if !v.is_empty() {
            let found: Vec<u64> = by(&tx, v)?;
            only = Some(match only {
                None => found,
                Some(prev) => prev
                    .into_iter()
                    .filter(|i| found.binary_search(i).is_ok())
                    .collect(),
            });
        }
    }
    let q = (!f.q.is_empty()).then_some(f.q.as_str());
    let (ids, total) = app.search.by_company(q, only.as_deref(), f.offset, limit);
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(c) = load(&tx, id)? {
            rows.push(view(&tx, &c)?);
        }
    }
    let more = f.offset + rows.len() < total;
    Ok((rows, Some(total), more))
}
