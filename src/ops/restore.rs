//! `licd restore`: puts a backup into a stopped server's data directory.
//!
//! The file is unpacked beside the database, opened and checked (a licd database of a
//! schema this build reads) before anything is replaced; a data directory whose
//! database a running server holds is refused. The replaced database, its redo log and
//! the carried files it had are kept aside with a `.before-restore-<time>` suffix. The
//! restored database is then opened once as a start would, which migrates an older
//! schema, and checked.
use super::archive;
use super::check;
use crate::store::{Store, StoreError, backup, meta, migrate};
use redb::{ReadableDatabase, ReadableTable};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(
        "a licd server is running on {0} (its database is locked); stop it first, or restore into another directory"
    )]
    Running(PathBuf),
    #[error("{0} is not a licd backup: {1}")]
    NotABackup(PathBuf, String),
    #[error(
        "{file} was written by a newer licd (schema {found}); this licd reads up to schema {supported}: restore it with that version"
    )]
    TooNew {
        file: PathBuf,
        found: u64,
        supported: u64,
    },
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub rows: u64,
    pub schema_before: u64,
    pub schema_after: u64,
    /// Files kept aside (the replaced database, log and carried files).
    pub kept_aside: Vec<PathBuf>,
    /// Carried files written back.
    pub carried: Vec<String>,
    pub check: check::Report,
}

/// Restores `file` into `data_dir` (created if missing).
pub fn restore(
    data_dir: &Path,
    file: &Path,
    progress: &mut dyn FnMut(u64),
    now: time::OffsetDateTime,
) -> Result<Restored, RestoreError> {
    let io = |p: &Path| {
        let p = p.to_owned();
        move |e| RestoreError::Io(p, e)
    };
    if !file.is_file() {
        return Err(RestoreError::NotABackup(
            file.to_owned(),
            "no such file".into(),
        ));
    }
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let db_path = data_dir.join("licd.redb");
    if db_path.exists() {
        match backup::open_exclusive(&db_path) {
            Ok(db) => drop(db),
            Err(StoreError::Locked(_)) => return Err(RestoreError::Running(data_dir.to_owned())),
            // A damaged database is exactly what a restore replaces.
            Err(_) => {}
        }
    }
    let incoming = data_dir.join("licd.redb.restoring");
    let _ = std::fs::remove_file(&incoming);
    let result = (|| {
        archive::unpack(file, &incoming, progress).map_err(io(file))?;
        let (schema, rows, carried) = inspect(&incoming, file)?;
        Ok::<_, RestoreError>((schema, rows, carried))
    })();
    let (schema_before, rows, carried) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&incoming);
            return Err(e);
        }
    };
    // Keep what is replaced.
    let stamp = now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]"
        ))
        .unwrap_or_default();
    let suffix = format!("before-restore-{stamp}");
    let mut kept_aside = Vec::new();
    let aside = |p: &Path, kept: &mut Vec<PathBuf>| -> Result<(), RestoreError> {
        if p.exists() {
            let mut name = p.file_name().unwrap_or_default().to_os_string();
            name.push(format!(".{suffix}"));
            let to = p.with_file_name(name);
            std::fs::rename(p, &to).map_err(io(p))?;
            kept.push(to);
        }
        Ok(())
    };
    aside(&db_path, &mut kept_aside)?;
    // The old log belongs to the old database: it must never be replayed onto this one.
    aside(&db_path.with_extension("wal"), &mut kept_aside)?;
    let mut written = Vec::new();
    for (name, bytes) in &carried {
        let Some(rel) = backup::CARRIED_FILES.iter().find(|f| *f == name) else {
            continue;
        };
        let path = data_dir.join(rel);
        if std::fs::read(&path).ok().as_deref() == Some(bytes.as_slice()) {
            continue;
        }
        aside(&path, &mut kept_aside)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        write_private(&path, bytes).map_err(io(&path))?;
        written.push(name.clone());
    }
    std::fs::rename(&incoming, &db_path).map_err(io(&db_path))?;
    backup::sync_dir(&db_path);
    // Open once as a start would: migrates an older schema, starts a fresh redo log.
    let store = Store::open(&db_path)?;
    // The carried files are back in the directory; the database keeps no copy of them.
    let schema_after = store
        .write_blocking(|tx| {
            let mut m = tx.open_table(crate::store::tables::META)?;
            let names: Vec<String> = m
                .range(backup::CARRIED..)?
                .filter_map(Result::ok)
                .map(|(k, _)| k.value().to_owned())
                .take_while(|k| k.starts_with(backup::CARRIED))
                .collect();
            for n in names {
                m.remove(n.as_str())?;
            }
            drop(m);
            Ok(meta::get_u64(tx, "schema_version")?)
        })
        .map_err(|e| StoreError::Codec(e.message(crate::i18n::Lang::En)))?;
    store.close();
    drop(store);
    let report = check::check(&db_path)?;
    Ok(Restored {
        rows,
        schema_before,
        schema_after: schema_after.unwrap_or(0),
        kept_aside,
        carried: written,
        check: report,
    })
}

/// Schema, rows and carried files of an unpacked backup; refuses what is not one.
/// Schema version, rows, and the carried files of a backup.
type Inspected = (u64, u64, Vec<(String, Vec<u8>)>);

fn inspect(path: &Path, file: &Path) -> Result<Inspected, RestoreError> {
    let not = |e: String| RestoreError::NotABackup(file.to_owned(), e);
    let db = crate::store::backup::open_read_only(path).map_err(|e| not(e.to_string()))?;
    let tx = db.begin_read().map_err(|e| not(e.to_string()))?;
    let schema = meta::read_u64(&tx, "schema_version")
        .map_err(|e| not(e.to_string()))?
        .ok_or_else(|| not("it holds no licd schema version".into()))?;
    if schema > migrate::CURRENT {
        return Err(RestoreError::TooNew {
            file: file.to_owned(),
            found: schema,
            supported: migrate::CURRENT,
        });
    }
    let rows = backup::count_rows(&tx).map_err(|e| not(e.to_string()))?;
    let carried = backup::carried_in(&tx)?;
    Ok((schema, rows, carried))
}

/// Writes a secret file readable by its owner only (where the platform has modes).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
