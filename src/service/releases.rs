//! Program distributions: publishing a release (its file already streamed to disk by
//! `http::upload`), listing, changing, yanking and deleting it, who may download it,
//! the update check, and download counts. Files live in `DATA/releases/`, named by a
//! random id; the row is committed only once the file is complete and synced.
use crate::domain::release::{self, Channel, Release};
use crate::domain::{Key, Role};
use crate::error::{AppError, AppResult};
use crate::mail::Event;
use crate::service::{App, audit, clients, keys, mail, products};
use crate::store::{Snapshot, StoreError, meta, tables};
use redb::ReadableTable;
use serde::Serialize;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// The folder of release files.
pub fn dir(app: &App) -> PathBuf {
    app.config.data_dir.join("releases")
}

/// A file received and synced, not yet a release.
#[derive(Debug)]
pub struct Upload {
    pub product: String,
    pub version: String,
    pub channel: Channel,
    pub changelog: String,
    pub filename: String,
    /// The received file (in `dir`, a `.part` name).
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub requires_feature: Option<u32>,
    pub min_seats: u32,
}

/// A release as the APIs show it.
#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct ReleaseView {
    pub id: u64,
    pub product: String,
    pub version: String,
    pub channel: Channel,
    pub published_at: String,
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    pub changelog: String,
    pub yanked: bool,
    /// A feature a key must hold to download it.
    pub requires_feature: Option<u32>,
    /// Seats of the product a key must hold to download it (0: any live grant).
    pub min_seats: u32,
    pub downloads: u64,
}

impl From<&Release> for ReleaseView {
    fn from(r: &Release) -> Self {
        ReleaseView {
            id: r.id,
            product: r.product.clone(),
            version: r.version.clone(),
            channel: r.channel,
            published_at: crate::clock::rfc3339(r.published_at),
            filename: r.filename.clone(),
            size: r.size,
            sha256: r.sha256.clone(),
            changelog: r.changelog.clone(),
            yanked: r.yanked_at.is_some(),
            requires_feature: r.requires_feature,
            min_seats: r.min_seats,
            downloads: r.downloads,
        }
    }
}

/// The update check's answer (`GET /api/v1/releases/latest`).
#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct Latest {
    pub id: u64,
    pub product: String,
    pub version: String,
    pub channel: Channel,
    pub published_at: String,
    pub changelog: String,
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    pub download_url: String,
    /// Whether it is newer than the `current` version asked about (true when none given).
    pub newer: bool,
    /// Whether this key may download it (false: it needs a feature or seats the key
    /// lacks; the download answers 1071 naming them).
    pub allowed: bool,
}

pub fn get(tx: &impl Snapshot, id: u64) -> Result<Option<Release>, StoreError> {
    let t = tx.table(tables::RELEASES.def)?;
    tables::RELEASES.get(&t, id)
}

/// Every release, newest first (by publication).
pub fn all(tx: &impl Snapshot) -> Result<Vec<Release>, StoreError> {
    let t = tx.table(tables::RELEASES.def)?;
    let mut out = Vec::new();
    for row in t.iter()?.rev() {
        out.push(crate::store::codec::decode(row?.1.value())?);
    }
    Ok(out)
}

/// Releases of a product (any case), optionally of one channel, newest version first.
pub fn of_product(
    tx: &impl Snapshot,
    product: &str,
    channel: Option<Channel>,
) -> Result<Vec<Release>, StoreError> {
    let p = product.trim().to_lowercase();
    let mut v: Vec<Release> = all(tx)?
        .into_iter()
        .filter(|r| r.product.to_lowercase() == p && channel.is_none_or(|c| r.channel == c))
        .collect();
    v.sort_by(|a, b| release::compare(b, a));
    Ok(v)
}

fn version_key(r: &Release) -> (String, &'static str, String) {
    (
        r.product.to_lowercase(),
        r.channel.as_str(),
        r.version.to_lowercase(),
    )
}

/// Whether `key` may download `r` at `now`: a live grant of its product, and the
/// release's own feature or seat requirement.
pub fn entitled(key: &Key, r: &Release, now: OffsetDateTime) -> AppResult<()> {
    if key.blocked {
        return Err(AppError::Blocked);
    }
    let product = r.product.to_lowercase();
    let seats: u64 = key
        .grants
        .iter()
        .filter(|g| g.product.to_lowercase() == product && g.live(now))
        .map(|g| u64::from(g.seats))
        .sum();
    let refuse = |feature: Option<u32>, min_seats: Option<u32>| AppError::NotEntitled {
        product: r.product.clone(),
        feature,
        min_seats,
    };
    if seats == 0 {
        return Err(refuse(None, None));
    }
    if let Some(f) = r.requires_feature
        && key.feature_grant(f, now).is_none_or(|g| g.seats == 0)
    {
        return Err(refuse(Some(f), None));
    }
    if r.min_seats > 0 && seats < u64::from(r.min_seats) {
        return Err(refuse(None, Some(r.min_seats)));
    }
    Ok(())
}

/// Client ids whose keys hold a live grant of `product`, each with one such key.
fn holders_of(
    tx: &impl Snapshot,
    product: &str,
    now: OffsetDateTime,
) -> Result<Vec<(u64, String)>, StoreError> {
    let p = product.to_lowercase();
    let t = tx.table(tables::KEYS.def)?;
    let mut seen = std::collections::BTreeMap::new();
    for row in t.iter()? {
        let (_, v) = row?;
        let k: Key = crate::store::codec::decode(v.value())?;
        if !k.blocked
            && k.grants
                .iter()
                .any(|g| g.product.to_lowercase() == p && g.live(now))
        {
            seen.entry(k.client_id).or_insert(k.regnum);
        }
    }
    Ok(seen.into_iter().collect())
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Publishes an uploaded file as a release (409 for the same product, version and
/// channel), mailing every client whose keys hold the product in the same commit. The
/// file is renamed into place first and removed again if the commit fails.
pub async fn publish(app: &App, up: Upload, actor: &str) -> AppResult<ReleaseView> {
    let remove = |p: &Path| {
        let _ = std::fs::remove_file(p);
    };
    if !release::valid_version(up.version.trim()) {
        remove(&up.path);
        return Err(AppError::malformed(
            "version",
            "1 to 64 letters, digits, . + - _",
        ));
    }
    let now = app.now();
    // The product's holders, read before the write so the writer is not held by a scan.
    let holders = {
        let tx = app.store.read()?;
        let Some(p) = products::by_code(&tx, up.product.trim())? else {
            remove(&up.path);
            return Err(AppError::UnknownProduct {
                product: up.product.clone(),
            });
        };
        if let Some(f) = up.requires_feature
            && products::by_feature(&tx, f)?.is_none()
        {
            remove(&up.path);
            return Err(AppError::NotFound { what: "feature" });
        }
        (p, holders_of(&tx, up.product.trim(), now)?)
    };
    let (product, holders) = holders;
    let stored = format!("{}.bin", uuid::Uuid::new_v4().simple());
    let target = dir(app).join(&stored);
    if let Err(e) = std::fs::rename(&up.path, &target) {
        remove(&up.path);
        return Err(AppError::internal(format!("release file: {e}")));
    }
    sync_dir(&dir(app));
    let env = app.mail_env();
    let actor = actor.to_owned();
    let rel = Release {
        id: 0,
        product: product.code.clone(),
        version: up.version.trim().to_owned(),
        channel: up.channel,
        changelog: up.changelog.clone(),
        filename: release::clean_filename(&up.filename),
        stored,
        size: up.size,
        sha256: up.sha256.clone(),
        published_at: now,
        published_by: actor.clone(),
        yanked_at: None,
        requires_feature: up.requires_feature,
        min_seats: up.min_seats,
        downloads: 0,
    };
    let product_name = product.name.clone();
    let result = app
        .store
        .write(move |tx| {
            let mut rel = rel.clone();
            let vk = version_key(&rel);
            let mut versions = tx.open_table(tables::RELEASE_VERSIONS)?;
            if versions
                .get((vk.0.as_str(), vk.1, vk.2.as_str()))?
                .is_some()
            {
                return Err(AppError::Conflict {
                    reason: "release_exists",
                    details: serde_json::json!({
                        "product": rel.product, "version": rel.version, "channel": rel.channel.as_str()
                    }),
                });
            }
            rel.id = meta::next_id(tx, "release")?;
            versions.insert((vk.0.as_str(), vk.1, vk.2.as_str()), rel.id)?;
            drop(versions);
            let mut t = tx.open_table(tables::RELEASES.def)?;
            tables::RELEASES.put(&mut t, rel.id, &rel)?;
            drop(t);
            audit::append(
                tx,
                &audit::entry(
                    &actor,
                    now,
                    "release_publish",
                    &rel.id.to_string(),
                    &format!("{} {} ({}) {}", rel.product, rel.version, rel.channel.as_str(), rel.filename),
                ),
            )?;
            for (client_id, regnum) in &holders {
                let Some(c) = clients::load(tx, *client_id)? else {
                    continue;
                };
                let event = Event::Release {
                    regnum: regnum.clone(),
                    product: product_name.clone(),
                    version: rel.version.clone(),
                    channel: rel.channel.as_str().to_owned(),
                };
                mail::to_client(tx, &env, now, &c, &event, &format!("release:{}:{client_id}", rel.id))?;
            }
            Ok(rel)
        })
        .await;
    match result {
        Ok(r) => {
            app.mail_queued.notify_one();
            Ok(ReleaseView::from(&r))
        }
        Err(e) => {
            remove(&target);
            Err(e)
        }
    }
}

/// What staff may change about a release.
#[derive(serde::Deserialize, Debug, Clone, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleasePatch {
    pub changelog: Option<String>,
    /// true: hidden from update checks and new downloads; false: shown again.
    pub yanked: Option<bool>,
    /// A feature number a key must hold, or 0 for none.
    pub requires_feature: Option<u32>,
    pub min_seats: Option<u32>,
}

pub async fn update(app: &App, id: u64, p: ReleasePatch, actor: &str) -> AppResult<ReleaseView> {
    if p.changelog
        .as_ref()
        .is_some_and(|c| c.len() > MAX_CHANGELOG)
    {
        return Err(AppError::malformed("changelog", "at most 256 KiB"));
    }
    let now = app.now();
    let actor = actor.to_owned();
    let r = app
        .store
        .write(move |tx| {
            let mut r = get(tx, id)?.ok_or(AppError::NotFound { what: "release" })?;
            let mut changes = Vec::new();
            if let Some(c) = &p.changelog {
                r.changelog = c.clone();
                changes.push("changelog".to_owned());
            }
            if let Some(y) = p.yanked {
                r.yanked_at = if y { r.yanked_at.or(Some(now)) } else { None };
                changes.push(format!("yanked={y}"));
            }
            if let Some(f) = p.requires_feature {
                if f != 0 && products::by_feature(tx, f)?.is_none() {
                    return Err(AppError::NotFound { what: "feature" });
                }
                r.requires_feature = (f != 0).then_some(f);
                changes.push(format!("requires_feature={f}"));
            }
            if let Some(n) = p.min_seats {
                r.min_seats = n;
                changes.push(format!("min_seats={n}"));
            }
            let mut t = tx.open_table(tables::RELEASES.def)?;
            tables::RELEASES.put(&mut t, id, &r)?;
            drop(t);
            audit::append(
                tx,
                &audit::entry(
                    &actor,
                    now,
                    "release_change",
                    &id.to_string(),
                    &changes.join(", "),
                ),
            )?;
            Ok(r)
        })
        .await?;
    Ok(ReleaseView::from(&r))
}

/// Deletes a release and its file (its download counts go with it).
pub async fn delete(app: &App, id: u64, actor: &str) -> AppResult<()> {
    let now = app.now();
    let actor = actor.to_owned();
    let r = app
        .store
        .write(move |tx| {
            let r = get(tx, id)?.ok_or(AppError::NotFound { what: "release" })?;
            tx.open_table(tables::RELEASES.def)?.remove(id)?;
            let vk = version_key(&r);
            tx.open_table(tables::RELEASE_VERSIONS)?.remove((
                vk.0.as_str(),
                vk.1,
                vk.2.as_str(),
            ))?;
            let mut counts = tx.open_table(tables::RELEASE_DOWNLOADS)?;
            let ks: Vec<(u64, u64)> = counts
                .range((id, 0)..=(id, u64::MAX))?
                .filter_map(Result::ok)
                .map(|(k, _)| k.value())
                .collect();
            for k in ks {
                counts.remove(k)?;
            }
            drop(counts);
            audit::append(
                tx,
                &audit::entry(
                    &actor,
                    now,
                    "release_delete",
                    &id.to_string(),
                    &format!("{} {} ({})", r.product, r.version, r.channel.as_str()),
                ),
            )?;
            Ok(r)
        })
        .await?;
    let _ = std::fs::remove_file(dir(app).join(&r.stored));
    Ok(())
}

/// The newest visible release of `product` on `channel` (nesting: a `beta` follower
/// also gets a newer `stable`) for a protected app's key.
pub fn latest(
    app: &App,
    regnum: &str,
    product: &str,
    channel: Option<&str>,
    current: Option<&str>,
) -> AppResult<Latest> {
    let regnum = keys::parse_regnum(regnum)?;
    let channel = match channel.map(str::trim).filter(|c| !c.is_empty()) {
        None => Channel::Stable,
        Some(c) => Channel::parse(c)
            .ok_or_else(|| AppError::malformed("channel", "stable, rc, beta, alpha or dev"))?,
    };
    let now = app.now();
    let tx = app.store.read()?;
    let key = keys::load(&tx, &regnum)?.ok_or(AppError::UnknownRegnum)?;
    let p = products::by_code(&tx, product.trim())?.ok_or(AppError::UnknownProduct {
        product: product.trim().to_owned(),
    })?;
    let newest = of_product(&tx, &p.code, None)?
        .into_iter()
        .filter(|r| r.visible() && channel.includes(r.channel))
        .max_by(release::compare);
    // Entitlement to the product at all (1071), before saying what exists.
    let probe = Release {
        requires_feature: None,
        min_seats: 0,
        ..newest.clone().unwrap_or_else(|| placeholder(&p.code))
    };
    entitled(&key, &probe, now)?;
    let r = newest.ok_or(AppError::NoRelease {
        product: p.code.clone(),
        channel: channel.as_str().to_owned(),
    })?;
    let newer = match current.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => release::compare_versions(&r.version, c).is_gt(),
        None => true,
    };
    Ok(Latest {
        id: r.id,
        product: r.product.clone(),
        version: r.version.clone(),
        channel: r.channel,
        published_at: crate::clock::rfc3339(r.published_at),
        changelog: r.changelog.clone(),
        filename: r.filename.clone(),
        size: r.size,
        sha256: r.sha256.clone(),
        download_url: format!(
            "{}/api/v1/releases/{}/file?regnum={}",
            app.config.public_url.trim_end_matches('/'),
            r.id,
            regnum
        ),
        newer,
        allowed: entitled(&key, &r, now).is_ok(),
    })
}

fn placeholder(product: &str) -> Release {
    Release {
        id: 0,
        product: product.to_owned(),
        version: String::new(),
        channel: Channel::Stable,
        changelog: String::new(),
        filename: String::new(),
        stored: String::new(),
        size: 0,
        sha256: String::new(),
        published_at: OffsetDateTime::UNIX_EPOCH,
        published_by: String::new(),
        yanked_at: None,
        requires_feature: None,
        min_seats: 0,
        downloads: 0,
    }
}

/// Who asks for a release's file.
pub enum Downloader<'a> {
    /// Staff in the back office or with an admin-API token: any release, yanked too.
    Staff,
    /// A protected app, by its key's registration number.
    Key(&'a str),
    /// A signed-in client: any of its keys may be entitled.
    Client(u64),
}

/// The release and its file for `who`, or why not, with the client to count a
/// download against (0: staff); nothing is counted yet.
pub fn open(app: &App, id: u64, who: Downloader<'_>) -> AppResult<(Release, PathBuf, u64)> {
    let now = app.now();
    let tx = app.store.read()?;
    let r = get(&tx, id)?.ok_or(AppError::NotFound { what: "release" })?;
    let client_id = match who {
        Downloader::Staff => 0,
        Downloader::Key(regnum) => {
            let regnum = keys::parse_regnum(regnum)?;
            let key = keys::load(&tx, &regnum)?.ok_or(AppError::UnknownRegnum)?;
            if !r.visible() {
                return Err(AppError::NotFound { what: "release" });
            }
            entitled(&key, &r, now)?;
            key.client_id
        }
        Downloader::Client(cid) => {
            if !r.visible() {
                return Err(AppError::NotFound { what: "release" });
            }
            let mut last = Err(AppError::NotEntitled {
                product: r.product.clone(),
                feature: None,
                min_seats: None,
            });
            for regnum in clients::keys_of(&tx, cid)? {
                if let Some(k) = keys::load(&tx, &regnum)? {
                    last = entitled(&k, &r, now);
                    if last.is_ok() {
                        break;
                    }
                }
            }
            last?;
            cid
        }
    };
    let path = dir(app).join(&r.stored);
    Ok((r, path, client_id))
}

/// Counts one download of release `rid` by `client_id` (0: staff).
pub async fn count_download(app: &App, rid: u64, client_id: u64) -> AppResult<()> {
    app.store
        .write(move |tx| {
            let mut t = tx.open_table(tables::RELEASES.def)?;
            if let Some(mut r) = tables::RELEASES.get(&t, rid)? {
                r.downloads += 1;
                tables::RELEASES.put(&mut t, rid, &r)?;
            }
            drop(t);
            let mut c = tx.open_table(tables::RELEASE_DOWNLOADS)?;
            let n = c.get((rid, client_id))?.map_or(0, |v| v.value());
            c.insert((rid, client_id), n + 1)?;
            Ok(())
        })
        .await?;
    Ok(())
}

/// Downloads of a release per client (client id 0: staff).
pub fn downloads_by_client(tx: &impl Snapshot, id: u64) -> Result<Vec<(u64, u64)>, StoreError> {
    let t = tx.table(tables::RELEASE_DOWNLOADS)?;
    let mut out = Vec::new();
    for row in t.range((id, 0)..=(id, u64::MAX))? {
        let (k, v) = row?;
        out.push((k.value().1, v.value()));
    }
    Ok(out)
}

/// The releases a client may see in its cabinet: visible releases of the products its
/// keys hold a live grant of, newest first.
pub fn for_client(
    tx: &impl Snapshot,
    client_id: u64,
    now: OffsetDateTime,
) -> Result<Vec<Release>, StoreError> {
    let mut held = std::collections::BTreeSet::new();
    for regnum in clients::keys_of(tx, client_id)? {
        if let Some(k) = keys::load(tx, &regnum)?
            && !k.blocked
        {
            for g in k.grants.iter().filter(|g| g.live(now)) {
                held.insert(g.product.to_lowercase());
            }
        }
    }
    Ok(all(tx)?
        .into_iter()
        .filter(|r| r.visible() && held.contains(&r.product.to_lowercase()))
        .collect())
}

/// The longest changelog kept.
pub const MAX_CHANGELOG: usize = 256 * 1024;

/// Removes files in the releases folder that no release names (an upload cut off, or a
/// crash between the file's rename and its commit). Run at start.
pub fn remove_orphans(app: &App) -> Result<usize, StoreError> {
    let d = dir(app);
    let Ok(entries) = std::fs::read_dir(&d) else {
        return Ok(0);
    };
    let tx = app.store.read()?;
    let named: std::collections::HashSet<String> =
        all(&tx)?.into_iter().map(|r| r.stored).collect();
    let mut n = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !named.contains(&name) && std::fs::remove_file(e.path()).is_ok() {
            n += 1;
        }
    }
    Ok(n)
}

/// Staff may publish and manage releases as admins; managers may read them.
pub fn may_manage(role: Role) -> bool {
    role == Role::Admin
}

/// The filters of a release list (the cabinet's Distributions tab, the back office).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReleaseFilter {
    /// A product code, any case.
    pub product: Option<String>,
    pub channel: Option<Channel>,
    /// Text the version contains, any case.
    pub version: Option<String>,
    /// Published on or after this day (UTC).
    pub from: Option<time::Date>,
    /// Published on or before this day (UTC).
    pub to: Option<time::Date>,
}

impl ReleaseFilter {
    pub fn matches(&self, r: &Release) -> bool {
        let day = r.published_at.to_offset(time::UtcOffset::UTC).date();
        self.product
            .as_ref()
            .is_none_or(|p| r.product.eq_ignore_ascii_case(p.trim()))
            && self.channel.is_none_or(|c| r.channel == c)
            && self
                .version
                .as_ref()
                .is_none_or(|v| r.version.to_lowercase().contains(&v.trim().to_lowercase()))
            && self.from.is_none_or(|f| day >= f)
            && self.to.is_none_or(|t| day <= t)
    }

    /// Whether any filter is set.
    pub fn any(&self) -> bool {
        *self != ReleaseFilter::default()
    }
}
