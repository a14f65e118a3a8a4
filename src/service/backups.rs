//! Backups of the running server: taken on demand (admin API, System page) and daily in
//! a window of local time, kept to the newest N, each verified; their policy and the
//! outcome of the last ones.
//!
//! A copy is made by `store::backup` from one read snapshot while the server keeps
//! serving, paced to a share of one core so captures keep their throughput. One backup
//! runs at a time.
use super::App;
use crate::error::{AppError, AppResult};
use crate::ops::archive::{self, Compression};
use crate::store::backup::{self, Copied, CopyOptions};
use crate::store::{Snapshot, StoreError, meta, tables};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::OffsetDateTime;

/// Share of one core an online copy may use by default (`--backup-cpu`). On the 2-core
/// development box, during back-to-back backups of 1.65 M rows, captures kept 75 % of
/// their throughput at 0.5, 67–75 % at 0.3 and 83 % at 0.15 (BENCHMARKS.md): the copy
/// reads every page through the server's own cache and evicts the captures' hot pages,
/// so it costs more than its CPU share.
pub const ONLINE_BUSY: f64 = 0.15;

/// The share of one core online copies use.
pub fn busy(app: &App) -> f64 {
    app.config.ops.backup_cpu.unwrap_or(ONLINE_BUSY)
}
const POLICY: &str = "backup_policy";
const STATUS: &str = "backup_status";
pub const DEFAULT_WINDOW: &str = "03:00-05:00";
pub const DEFAULT_KEEP: u32 = 7;

/// A daily period of local time, minutes after midnight; `end` before `start` spans
/// midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: u16,
    pub end: u16,
}

impl Window {
    /// "HH:MM-HH:MM"; "off" is `Ok(None)`.
    pub fn parse(s: &str) -> Result<Option<Window>, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") || s.is_empty() {
            return Ok(None);
        }
        let hm = |t: &str| -> Result<u16, String> {
            let (h, m) = t
                .trim()
                .split_once(':')
                .ok_or_else(|| format!("{t:?} is not HH:MM"))?;
            let h: u16 = h.parse().map_err(|_| format!("{t:?} is not HH:MM"))?;
            let m: u16 = m.parse().map_err(|_| format!("{t:?} is not HH:MM"))?;
            if h > 23 || m > 59 {
                return Err(format!("{t:?} is not a time of day"));
            }
            Ok(h * 60 + m)
        };
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("{s:?} is not HH:MM-HH:MM or off"))?;
        let w = Window {
            start: hm(a)?,
            end: hm(b)?,
        };
        if w.start == w.end {
            return Err(format!("{s:?} is an empty period"));
        }
        Ok(Some(w))
    }

    pub fn contains(&self, minute: u16) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        }
    }

    pub fn text(&self) -> String {
        format!(
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

/// A time zone by IANA name ("" or "system": the machine's).
pub fn zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    let n = name.trim();
    if n.is_empty() || n.eq_ignore_ascii_case("system") || n.eq_ignore_ascii_case("local") {
        return Ok(jiff::tz::TimeZone::system());
    }
    jiff::tz::TimeZone::get(n).map_err(|e| format!("{n:?}: {e}"))
}

/// The policy as the System page keeps it (what the configuration does not set).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredPolicy {
    pub window: Option<String>,
    pub timezone: Option<String>,
    pub keep: Option<u32>,
    pub dir: Option<String>,
    pub compression: Option<Compression>,
    pub ops_email: Option<String>,
    pub mail_daily_quota: Option<u32>,
}

/// Where a setting's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Config,
    Page,
    Default,
}

/// The policy in force: the configuration over the page over the defaults.
#[derive(Clone, Debug)]
pub struct Policy {
    pub window: Option<Window>,
    pub timezone: String,
    pub keep: u32,
    pub dir: PathBuf,
    pub compression: Compression,
    pub ops_email: Vec<String>,
    pub mail_daily_quota: u32,
    /// Source of each: window, timezone, keep, dir, compression, ops_email, quota.
    pub sources: [Source; 7],
}

pub const DEFAULT_MAIL_QUOTA: u32 = 2000;

fn pick<T: Clone>(config: &Option<T>, page: &Option<T>, default: T) -> (T, Source) {
    match (config, page) {
        (Some(c), _) => (c.clone(), Source::Config),
        (None, Some(p)) => (p.clone(), Source::Page),
        (None, None) => (default, Source::Default),
    }
}

pub fn stored(tx: &impl Snapshot) -> Result<StoredPolicy, StoreError> {
    let t = tx.table(tables::META)?;
    Ok(meta::get_record(&t, POLICY)?.unwrap_or_default())
}

/// The policy in force now.
pub fn policy(app: &App) -> Result<Policy, StoreError> {
    let page = stored(&app.store.read()?)?;
    Ok(resolve(app, &page))
}

pub fn resolve(app: &App, page: &StoredPolicy) -> Policy {
    let ops = &app.config.ops;
    let (window, s0) = pick(&ops.backup_window, &page.window, DEFAULT_WINDOW.to_owned());
    let (timezone, s1) = pick(&ops.backup_timezone, &page.timezone, String::new());
    let (keep, s2) = pick(&ops.backup_keep, &page.keep, DEFAULT_KEEP);
    let default_dir = app.config.data_dir.join("backups");
    let page_dir = page.dir.as_ref().map(PathBuf::from);
    let (dir, s3) = pick(&ops.backup_dir, &page_dir, default_dir);
    let (compression, s4) = pick(
        &ops.backup_compression,
        &page.compression,
        Compression::None,
    );
    let (ops_email, s5) = pick(&ops.ops_email, &page.ops_email, String::new());
    let (quota, s6) = pick(
        &ops.mail_daily_quota,
        &page.mail_daily_quota,
        DEFAULT_MAIL_QUOTA,
    );
    Policy {
        window: Window::parse(&window).ok().flatten(),
        timezone,
        keep: keep.max(1),
        dir,
        compression,
        ops_email: ops_email
            .split([',', ';', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        mail_daily_quota: quota.max(1),
        sources: [s0, s1, s2, s3, s4, s5, s6],
    }
}

/// Saves what the System page sets (fields the configuration sets are ignored).
pub async fn save_policy(app: &App, page: StoredPolicy) -> AppResult<()> {
    if let Some(w) = &page.window {
        Window::parse(w).map_err(|e| AppError::malformed("window", &e))?;
    }
    if let Some(tz) = &page.timezone {
        zone(tz).map_err(|e| AppError::malformed("timezone", &e))?;
    }
    if page.keep == Some(0) {
        return Err(AppError::malformed("keep", "at least 1"));
    }
    if page.mail_daily_quota == Some(0) {
        return Err(AppError::malformed("mail_daily_quota", "at least 1"));
    }
    app.store
        .write(move |tx| Ok(meta::put_record(tx, POLICY, &page)?))
        .await
}

/// The outcome of the last backups (kept in the database, so it survives restarts).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub last_success_at: Option<OffsetDateTime>,
    pub last_file: String,
    pub last_bytes: u64,
    pub last_rows: u64,
    pub last_seconds: f64,
    pub last_failure_at: Option<OffsetDateTime>,
    pub last_error: String,
    /// Local date (YYYY-MM-DD) of the last scheduled run, so a day runs once.
    pub scheduled_day: String,
}

pub fn status(tx: &impl Snapshot) -> Result<Status, StoreError> {
    let t = tx.table(tables::META)?;
    Ok(meta::get_record(&t, STATUS)?.unwrap_or_default())
}

async fn update_status(app: &App, f: impl FnOnce(&mut Status) + Send + 'static) -> AppResult<()> {
    let f = parking_lot::Mutex::new(Some(f));
    app.store
        .write(move |tx| {
            let mut s: Status = {
                let t = tx.open_table(tables::META)?;
                meta::get_record(&t, STATUS)?.unwrap_or_default()
            };
            if let Some(f) = f.lock().take() {
                f(&mut s);
            }
            Ok(meta::put_record(tx, STATUS, &s)?)
        })
        .await
}

/// One backup at a time.
#[derive(Default)]
pub struct Gate(tokio::sync::Mutex<()>);

/// Copies the live database into `out` (paced), verified.
pub async fn snapshot_to(app: &Arc<App>, out: PathBuf, busy: f64) -> AppResult<Copied> {
    let _one = app.backups.0.lock().await;
    let app2 = app.clone();
    tokio::task::spawn_blocking(move || -> Result<Copied, StoreError> {
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Codec(format!("{}: {e}", parent.display())))?;
            remove_leftovers(parent);
        }
        let carried = backup::carried_files(&app2.config.data_dir)?;
        let tx = app2.store.read()?;
        backup::copy_snapshot(
            &tx,
            &[],
            &carried,
            &out,
            &mut CopyOptions {
                busy,
                progress: &mut |_| {},
            },
        )
    })
    .await
    .map_err(|_| AppError::internal("the backup task stopped"))?
    .map_err(AppError::from)
}

/// Deletes what a copy interrupted by a crash left in the folder (temporary and partial
/// files over an hour old; a younger one may belong to a copy still being sent).
fn remove_leftovers(dir: &Path) {
    let hour = std::time::Duration::from_secs(3600);
    for e in std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let temporary = name.starts_with(".licd-")
            || name.starts_with(".online-")
            || name.starts_with("licd-")
                && [".partial", ".verify"].iter().any(|x| name.ends_with(x));
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > hour);
        if temporary && old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// A backup file in the folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupFile {
    pub name: String,
    pub bytes: u64,
    pub modified: Option<OffsetDateTime>,
}

/// Is `name` one of ours (no path, our pattern)?
pub fn is_backup_name(name: &str) -> bool {
    name.starts_with("licd-")
        && !name.contains(['/', '\\'])
        && !name.starts_with('.')
        && (name.ends_with(".redb") || name.ends_with(".redb.gz") || name.ends_with(".redb.zst"))
}

/// The backups in the folder, newest first.
pub fn list(dir: &Path) -> Vec<BackupFile> {
    let mut out: Vec<BackupFile> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let m = e.metadata().ok()?;
            (m.is_file() && is_backup_name(&name)).then(|| BackupFile {
                name,
                bytes: m.len(),
                modified: m.modified().ok().map(OffsetDateTime::from),
            })
        })
        .collect();
    // Names carry the time they were taken: newest first.
    out.sort_by(|a, b| b.name.cmp(&a.name));
    out
}

/// Why a backup is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    Scheduled,
    Manual,
}

/// Takes a backup into the folder now: copy, verify, compress (and verify that), keep
/// the newest N; the outcome is recorded, and a failure logged and mailed.
pub async fn take(app: &Arc<App>, why: Why) -> AppResult<BackupFile> {
    let policy = policy(app)?;
    let now = app.now();
    let started = std::time::Instant::now();
    let stamp = now
        .format(time::macros::format_description!(
            "[year][month][day]-[hour][minute][second]"
        ))
        .unwrap_or_default();
    let kind = if why == Why::Scheduled { "" } else { "-manual" };
    let plain = policy.dir.join(format!(".licd-{stamp}{kind}.redb.tmp"));
    let name = format!("licd-{stamp}{kind}.{}", policy.compression.extension());
    let result = async {
        let copied = snapshot_to(app, plain.clone(), busy(app)).await?;
        let final_path = policy.dir.join(&name);
        let how = policy.compression;
        let plain2 = plain.clone();
        let fp = final_path.clone();
        let sha = copied.sha256.clone();
        tokio::task::spawn_blocking(move || finish_file(&plain2, &fp, how, &sha))
            .await
            .map_err(|_| AppError::internal("the backup task stopped"))??;
        let bytes = std::fs::metadata(&final_path).map(|m| m.len()).unwrap_or(0);
        prune(&policy.dir, policy.keep, &name);
        Ok::<_, AppError>((copied, bytes))
    }
    .await;
    let _ = std::fs::remove_file(&plain);
    match result {
        Ok((copied, bytes)) => {
            let seconds = started.elapsed().as_secs_f64();
            let file = name.clone();
            let rows = copied.rows;
            update_status(app, move |s| {
                s.last_success_at = Some(now);
                s.last_file = file;
                s.last_bytes = bytes;
                s.last_rows = rows;
                s.last_seconds = seconds;
            })
            .await?;
            app.metrics.backup_succeeded(now.unix_timestamp());
            tracing::info!(file = %name, bytes, rows, seconds, "backup taken and verified");
            Ok(BackupFile {
                name,
                bytes,
                modified: Some(now),
            })
        }
        Err(e) => {
            let msg = e.message(crate::i18n::Lang::En);
            tracing::error!(error = %msg, dir = %policy.dir.display(), "backup failed");
            let m2 = msg.clone();
            let _ = update_status(app, move |s| {
                s.last_failure_at = Some(now);
                s.last_error = m2;
            })
            .await;
            mail_failure(app, &policy, &msg).await;
            Err(e)
        }
    }
}

/// Moves the verified plain copy into place as `how`; a compressed file is verified by
/// decompressing it against the plain copy's digest.
fn finish_file(plain: &Path, out: &Path, how: Compression, sha256: &str) -> AppResult<()> {
    let io = |e: std::io::Error| AppError::internal(format!("{}: {e}", out.display()));
    let partial = out.with_extension("partial");
    if how == Compression::None {
        std::fs::rename(plain, &partial).map_err(io)?;
    } else {
        archive::compress(plain, &partial, how).map_err(io)?;
        let unpacked = out.with_extension("verify");
        let ok = archive::unpack(&partial, &unpacked, &mut |_| {})
            .map_err(io)
            .and_then(|()| backup::hash_file(&unpacked).map_err(AppError::from));
        let _ = std::fs::remove_file(&unpacked);
        let (_, digest) = ok?;
        if digest != sha256 {
            let _ = std::fs::remove_file(&partial);
            return Err(AppError::internal(
                "the compressed backup does not decompress to the copy",
            ));
        }
    }
    std::fs::rename(&partial, out).map_err(io)?;
    backup::sync_dir(out);
    Ok(())
}

/// Deletes all but the newest `keep` backups (never `just_made`).
fn prune(dir: &Path, keep: u32, just_made: &str) {
    for old in list(dir).into_iter().skip(keep as usize) {
        if old.name != just_made
            && let Err(e) = std::fs::remove_file(dir.join(&old.name))
        {
            tracing::warn!(file = %old.name, "cannot delete an old backup: {e}");
        }
    }
}

async fn mail_failure(app: &App, policy: &Policy, error: &str) {
    let to: Vec<String> = policy.ops_email.clone();
    if to.is_empty() {
        tracing::warn!(
            "no operations e-mail is set (System page or --ops-email): the backup failure is not mailed"
        );
        return;
    }
    let now = app.now();
    let env = app.mail_env();
    let event = crate::mail::Event::BackupFailed {
        at: now,
        error: error.to_owned(),
        dir: policy.dir.display().to_string(),
    };
    let r = app
        .store
        .write(move |tx| {
            let key = format!("backup_failed:{}", now.unix_timestamp());
            crate::service::mail::to_addresses(tx, &env, now, &to, None, &event, &key)?;
            Ok(())
        })
        .await;
    match r {
        Ok(()) => app.mail_queued.notify_one(),
        Err(e) => tracing::error!("cannot queue the backup failure mail: {e}"),
    }
}

/// Local date and minute of the day of `now` in `tz`.
pub fn local(now: OffsetDateTime, tz: &jiff::tz::TimeZone) -> (String, u16) {
    let ts =
        jiff::Timestamp::from_second(now.unix_timestamp()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let z = ts.to_zoned(tz.clone());
    (
        z.date().to_string(),
        (z.hour() as u16) * 60 + z.minute() as u16,
    )
}

/// Whether the schedule calls for a backup at `now`: inside the window, and not yet
/// today (local date).
pub fn due(policy: &Policy, status: &Status, now: OffsetDateTime) -> bool {
    let Some(w) = policy.window else {
        return false;
    };
    let tz = zone(&policy.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
    let (day, minute) = local(now, &tz);
    // A window across midnight belongs to the day it started on.
    let day = if w.start > w.end && minute < w.end {
        let ts = jiff::Timestamp::from_second(now.unix_timestamp() - 86_400)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        ts.to_zoned(tz).date().to_string()
    } else {
        day
    };
    w.contains(minute) && status.scheduled_day != day
}

/// The job: checks the schedule every few seconds of the server's clock.
pub async fn run(app: Arc<App>, mut stop: tokio::sync::watch::Receiver<bool>) {
    if let Ok(Some(at)) = app
        .store
        .read()
        .map_err(AppError::from)
        .and_then(|tx| Ok(status(&tx)?.last_success_at))
    {
        app.metrics.backup_succeeded(at.unix_timestamp());
    }
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
        let (policy, st) = match app
            .store
            .read()
            .map_err(AppError::from)
            .and_then(|tx| Ok((resolve(&app, &stored(&tx)?), status(&tx)?)))
        {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("backup schedule: {e}");
                continue;
            }
        };
        let now = app.now();
        if !due(&policy, &st, now) {
            continue;
        }
        let tz = zone(&policy.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
        let (day, _) = local(now, &tz);
        // Mark the day first: a failing backup is not retried every second.
        if let Err(e) = update_status(&app, move |s| s.scheduled_day = day).await {
            tracing::warn!("backup schedule: {e}");
            continue;
        }
        let _ = take(&app, Why::Scheduled).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_and_span_midnight() {
        let w = Window::parse("03:00-05:00").expect("ok").expect("some");
        assert!(w.contains(180) && w.contains(299) && !w.contains(300) && !w.contains(179));
        let n = Window::parse("23:30-00:30").expect("ok").expect("some");
        assert!(n.contains(23 * 60 + 45) && n.contains(10) && !n.contains(31) && !n.contains(600));
        assert_eq!(Window::parse("off").expect("ok"), None);
        for bad in ["3-5", "25:00-01:00", "03:00-03:00", "03:00"] {
            assert!(Window::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_outside_the_pattern_are_not_backups() {
        assert!(is_backup_name("licd-20261203-030000.redb"));
        assert!(is_backup_name("licd-20261203-030000-manual.redb.zst"));
        for bad in [
            "../licd-1.redb",
            "licd.redb",
            ".licd-1.redb.tmp",
            "licd-1.redb.partial",
            "x/licd-1.redb",
        ] {
            assert!(!is_backup_name(bad), "{bad}");
        }
    }
}
