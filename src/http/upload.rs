//! Multipart uploads of release files: the text fields are kept (each small, bounded),
//! the file streams to a `.part` file in the releases folder with its SHA-256 and size
//! computed on the way, never held in memory; it is synced before it is handed over.
//! A cut-off or refused upload leaves nothing behind (the `.part` file goes when its
//! `Received` is dropped).
use crate::domain::release::Channel;
use crate::error::{AppError, AppResult};
use crate::service::releases::{MAX_CHANGELOG, Upload};
use actix_multipart::Multipart;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// The largest text field (the changelog is the largest).
const MAX_FIELD: usize = MAX_CHANGELOG + 1024;
/// At most this many text fields.
const MAX_FIELDS: usize = 32;
/// The text fields a release form has; any other is refused, as unknown JSON fields are.
const FIELDS: [&str; 7] = [
    "csrf",
    "product",
    "version",
    "channel",
    "changelog",
    "requires_feature",
    "min_seats",
];
/// Writes are gathered to this size before they go to the file.
const WRITE_CHUNK: usize = 1024 * 1024;

/// A file received into the releases folder; removed when dropped unless taken.
#[derive(Debug)]
pub struct Received {
    path: Option<PathBuf>,
    pub filename: String,
    pub size: u64,
    pub sha256: String,
}

impl Received {
    /// The file's path, now the caller's to keep or remove.
    fn take(mut self) -> PathBuf {
        self.path.take().unwrap_or_default()
    }
}

impl Drop for Received {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A multipart form as received: its text fields and at most one file.
#[derive(Debug, Default)]
pub struct Form {
    pub fields: HashMap<String, String>,
    pub file: Option<Received>,
}

/// Reads a multipart form whose file field is named `file`, streaming the file into
/// `dir` (made when missing) and refusing one over `limit` bytes (413). With `csrf` (a
/// browser's form), its `csrf` field must come before the file and match, else the form
/// is refused (403) before a byte of the file is stored.
pub async fn receive(
    mut payload: Multipart,
    dir: &Path,
    limit: u64,
    csrf: Option<&str>,
) -> AppResult<Form> {
    let mut form = Form::default();
    let guarded = |form: &Form| {
        csrf.is_none_or(|want| crate::service::sessions::same(form.text("csrf"), want))
    };
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(bad_form)?;
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .map(str::to_owned);
        if name == "file" {
            if !guarded(&form) {
                return Err(AppError::Forbidden);
            }
            if form.file.is_some() {
                return Err(AppError::malformed("file", "one file per upload"));
            }
            let filename = filename.unwrap_or_default();
            form.file = Some(store_file(&mut field, dir, limit, filename).await?);
            continue;
        }
        if !FIELDS.contains(&name.as_str())
            || form.fields.len() >= MAX_FIELDS
            || form.fields.contains_key(&name)
        {
            return Err(AppError::malformed(&name, "unexpected or repeated field"));
        }
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(bad_form)?;
            if value.len() + chunk.len() > MAX_FIELD {
                return Err(AppError::malformed(&name, "too long"));
            }
            value.extend_from_slice(&chunk);
        }
        let value =
            String::from_utf8(value).map_err(|_| AppError::malformed(&name, "not UTF-8 text"))?;
        form.fields.insert(name, value);
    }
    if !guarded(&form) {
        return Err(AppError::Forbidden);
    }
    Ok(form)
}

async fn store_file(
    field: &mut actix_multipart::Field,
    dir: &Path,
    limit: u64,
    filename: String,
) -> AppResult<Received> {
    let io = |e: std::io::Error| AppError::internal(format!("release upload: {e}"));
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let path = dir.join(format!(".upload-{}.part", uuid::Uuid::new_v4().simple()));
    let mut opts = tokio::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let file = opts.open(&path).await.map_err(io)?;
    // From here on the file is removed on every way out but success.
    let mut got = Received {
        path: Some(path),
        filename,
        size: 0,
        sha256: String::new(),
    };
    let mut out = tokio::io::BufWriter::with_capacity(WRITE_CHUNK, file);
    let mut hash = Sha256::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(bad_form)?;
        got.size += chunk.len() as u64;
        if got.size > limit {
            return Err(AppError::TooLarge {
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
            });
        }
        hash.update(&chunk);
        out.write_all(&chunk).await.map_err(io)?;
    }
    out.flush().await.map_err(io)?;
    let file = out.into_inner();
    file.sync_all().await.map_err(io)?;
    got.sha256 = hex::encode(hash.finalize());
    Ok(got)
}

fn bad_form(e: actix_multipart::MultipartError) -> AppError {
    AppError::malformed("multipart", &format!("not a complete multipart form: {e}"))
}

impl Form {
    fn text(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", |s| s.as_str())
    }

    /// The release this form describes (product, version, channel, changelog, file,
    /// requires_feature, min_seats), its file now the upload's.
    pub fn into_upload(mut self) -> AppResult<Upload> {
        let mut problems = Vec::new();
        let product = self.text("product").trim().to_owned();
        if product.is_empty() {
            problems.push(("product", "required"));
        }
        let version = self.text("version").trim().to_owned();
        if !crate::domain::release::valid_version(&version) {
            problems.push(("version", "1 to 64 letters, digits, . + - _"));
        }
        let channel = match self.text("channel").trim() {
            "" => Some(Channel::Stable),
            c => Channel::parse(c),
        };
        if channel.is_none() {
            problems.push(("channel", "one of stable, rc, beta, alpha, dev"));
        }
        let changelog = self.text("changelog").replace("\r\n", "\n");
        if changelog.len() > MAX_CHANGELOG {
            problems.push(("changelog", "at most 256 KiB"));
        }
        let requires_feature = match self.text("requires_feature").trim() {
            "" | "0" => None,
            f => match f.parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    problems.push(("requires_feature", "a feature number"));
                    None
                }
            },
        };
        let min_seats = match self.text("min_seats").trim() {
            "" => 0,
            m => m.parse::<u32>().unwrap_or_else(|_| {
                problems.push(("min_seats", "a whole number of seats"));
                0
            }),
        };
        if self.file.as_ref().is_none_or(|f| f.size == 0) {
            problems.push(("file", "a file of at least one byte"));
        }
        if let Some((field, why)) = problems.first() {
            return Err(AppError::malformed(field, why));
        }
        let file = self.file.take().expect("checked above");
        let filename = if file.filename.trim().is_empty() {
            format!("{product}-{version}.bin")
        } else {
            file.filename.clone()
        };
        let (size, sha256) = (file.size, file.sha256.clone());
        Ok(Upload {
            product,
            version,
            channel: channel.unwrap_or(Channel::Stable),
            changelog,
            filename,
            path: file.take(),
            size,
            sha256,
            requires_feature,
            min_seats,
        })
    }
}
