//! Backup files on disk: plain redb, gzip or zstd, told apart by their first bytes.
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

/// How a backup file is compressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn parse(s: &str) -> Option<Compression> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "none" | "off" => Some(Compression::None),
            "gzip" | "gz" => Some(Compression::Gzip),
            "zstd" | "zst" => Some(Compression::Zstd),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// The file name ending of a backup compressed so.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::None => "redb",
            Compression::Gzip => "redb.gz",
            Compression::Zstd => "redb.zst",
        }
    }

    /// What the first bytes of a file say it is.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Writes `src` to `dst` compressed as `how`, synced.
pub fn compress(src: &Path, dst: &Path, how: Compression) -> std::io::Result<()> {
    let mut input = BufReader::new(File::open(src)?);
    let out = File::create(dst)?;
    let out = match how {
        Compression::None => {
            let mut w = BufWriter::new(out);
            std::io::copy(&mut input, &mut w)?;
            w.into_inner().map_err(|e| e.into_error())?
        }
        Compression::Gzip => {
            let mut w =
                flate2::write::GzEncoder::new(BufWriter::new(out), flate2::Compression::default());
            std::io::copy(&mut input, &mut w)?;
            w.finish()?.into_inner().map_err(|e| e.into_error())?
        }
        Compression::Zstd => {
            let mut w = zstd::stream::write::Encoder::new(BufWriter::new(out), 3)?;
            std::io::copy(&mut input, &mut w)?;
            w.finish()?.into_inner().map_err(|e| e.into_error())?
        }
    };
    out.sync_all()
}

/// Copies the backup `src` (any compression) to `dst` as a plain redb file, synced;
/// `progress` gets the bytes of `src` read so far.
pub fn unpack(src: &Path, dst: &Path, progress: &mut dyn FnMut(u64)) -> std::io::Result<()> {
    let mut f = File::open(src)?;
    let mut head = [0u8; 4];
    let n = f.read(&mut head)?;
    drop(f);
    let counted = Counted {
        inner: File::open(src)?,
        read: 0,
        progress,
    };
    let mut input: Box<dyn Read + '_> = match Compression::sniff(&head[..n]) {
        Compression::None => Box::new(counted),
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(BufReader::new(counted))),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(counted)?),
    };
    let mut out = BufWriter::new(File::create(dst)?);
    std::io::copy(&mut input, &mut out)?;
    out.flush()?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()
}

struct Counted<'a, R> {
    inner: R,
    read: u64,
    progress: &'a mut dyn FnMut(u64),
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        (self.progress)(self.read);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_compression_comes_back_byte_for_byte() {
        let dir = tempfile::tempdir().expect("dir");
        let src = dir.path().join("a.redb");
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        std::fs::write(&src, &data).expect("write");
        for how in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let packed = dir.path().join(format!("b.{}", how.extension()));
            compress(&src, &packed, how).expect("compress");
            let head = std::fs::read(&packed).expect("read");
            assert_eq!(Compression::sniff(&head), how);
            let back = dir.path().join("c.redb");
            let mut seen = 0;
            unpack(&packed, &back, &mut |n| seen = n).expect("unpack");
            assert_eq!(std::fs::read(&back).expect("read"), data, "{how:?}");
            assert_eq!(seen, head.len() as u64);
        }
    }
}
