//! Sending a release's file, for every surface that offers one (protected apps, the
//! admin API, the cabinet, the back office): streamed from disk with `Content-Length`,
//! a strong `ETag`, `Range` (206) and `If-Range` so an interrupted download resumes,
//! `If-None-Match` (304), `Content-Disposition` with the release's file name and
//! `Repr-Digest` with its SHA-256. The answer is marked [`Unsigned`]: the API envelope
//! passes it through instead of gathering it to sign.
use crate::domain::release::Release;
use crate::error::{AppError, AppResult};
use crate::service::App;
use crate::service::releases::{self, Downloader};
use actix_files::NamedFile;
use actix_web::http::header::{
    self, ContentDisposition, DispositionParam, DispositionType, ExtendedValue, HeaderValue,
};
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine;

/// Marks an answer the API envelope must not gather into memory or sign.
#[derive(Clone, Copy, Debug)]
pub struct Unsigned;

/// Whether an answer starts a download (counted) rather than resuming one, revalidating
/// a cached copy (304) or answering HEAD: a whole file, or a range from byte 0.
pub fn starts_a_download(req: &HttpRequest, res: &HttpResponse) -> bool {
    if req.method() != actix_web::http::Method::GET
        || actix_web::HttpMessage::extensions(req)
            .get::<crate::http::WasHead>()
            .is_some()
    {
        return false;
    }
    match res.status().as_u16() {
        200 => true,
        206 => res
            .headers()
            .get(header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|r| r.starts_with("bytes 0-")),
        _ => false,
    }
}

/// Checks `who` may have release `id`, sends the file, and counts the download.
pub async fn download(
    app: &App,
    req: &HttpRequest,
    id: u64,
    who: Downloader<'_>,
) -> AppResult<HttpResponse> {
    let (release, path, client_id) = releases::open(app, id, who)?;
    let res = send(req, &release, path).await?;
    if starts_a_download(req, &res) {
        releases::count_download(app, release.id, client_id).await?;
    }
    Ok(res)
}

/// Sends `path` as `release`'s file.
pub async fn send(
    req: &HttpRequest,
    release: &Release,
    path: std::path::PathBuf,
) -> AppResult<HttpResponse> {
    let file = actix_web::web::block(move || NamedFile::open(path))
        .await
        .map_err(|e| AppError::internal(format!("release file: {e}")))?
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => AppError::NotFound { what: "release" },
            _ => AppError::internal(format!("release file: {e}")),
        })?;
    let name = release.filename.clone();
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut parameters = vec![DispositionParam::Filename(ascii.clone())];
    if ascii != name {
        parameters.push(DispositionParam::FilenameExt(ExtendedValue {
            charset: header::Charset::Ext("UTF-8".into()),
            language_tag: None,
            value: name.into_bytes(),
        }));
    }
    let file = file
        .set_content_type(actix_web::mime::APPLICATION_OCTET_STREAM)
        .set_content_disposition(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters,
        })
        .use_last_modified(true)
        .use_etag(true);
    let mut res = file.into_response(req);
    res.extensions_mut().insert(Unsigned);
    if let Ok(bytes) = hex::decode(&release.sha256) {
        let digest = format!(
            "sha-256=:{}:",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        );
        if let Ok(v) = HeaderValue::from_str(&digest) {
            res.headers_mut()
                .insert(header::HeaderName::from_static("repr-digest"), v);
        }
    }
    // A release file may be cached by whoever fetched it (it never changes), but only
    // privately: downloads are gated.
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=0, must-revalidate"),
    );
    Ok(res)
}
