//! Files sent as response bodies, read from disk in chunks (never whole in memory).
use actix_web::web::Bytes;
use futures_util::Stream;
use std::path::PathBuf;
use tokio::io::AsyncReadExt;

const CHUNK: usize = 256 * 1024;

/// Deletes its file when dropped: when the body is sent, or the client goes away.
struct Doomed(PathBuf);

impl Drop for Doomed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The body of a file on disk.
pub async fn body(
    path: PathBuf,
) -> std::io::Result<impl Stream<Item = Result<Bytes, std::io::Error>> + 'static> {
    let file = tokio::fs::File::open(&path).await?;
    Ok(chunks(file, None))
}

/// The body of a temporary file, deleted once sent (or abandoned).
pub async fn delete_after(
    path: PathBuf,
) -> std::io::Result<impl Stream<Item = Result<Bytes, std::io::Error>> + 'static> {
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => {
            drop(Doomed(path));
            return Err(e);
        }
    };
    Ok(chunks(file, Some(Doomed(path))))
}

fn chunks(
    file: tokio::fs::File,
    guard: Option<Doomed>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + 'static {
    futures_util::stream::unfold(Some((file, guard)), |state| async move {
        let (mut file, guard) = state?;
        let mut buf = vec![0u8; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => {
                // Close before the guard deletes (Windows will not delete an open file).
                drop(file);
                drop(guard);
                None
            }
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some((file, guard))))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}
