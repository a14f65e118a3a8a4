//! The server's Ed25519 signing keys: the current one, made on first start and kept in
//! the data directory (`signing.key`, mode 0600), signs every `/api/v1` body in
//! `Licd-Signature`. `licd signing rotate` (or the System page, or the admin API) makes
//! a new current key; the one it replaces is kept in `signing.previous` for an overlap
//! period, during which every answer also carries its signature in
//! `Licd-Signature-Previous`, and `GET /api/v1/signing-key` lists both with their
//! validity — so an app that pinned the old public key keeps verifying until it
//! updates its pin.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use ed25519_dalek::hazmat::{ExpandedSecretKey, raw_sign};
use rand::RngCore;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;

pub const KEY_FILE: &str = "signing.key";
/// The previous key and its times: `SEED_B64 RETIRED_AT_UNIX VALID_UNTIL_UNIX`.
pub const PREVIOUS_FILE: &str = "signing.previous";
/// How long a replaced key still signs beside the new one, by default.
pub const DEFAULT_OVERLAP: time::Duration = time::Duration::days(90);

/// One key of the ring.
struct Entry {
    key: SigningKey,
    /// The key's SHA-512 expansion, made once: `SigningKey::sign` would redo it for
    /// every answer (issue 16). Signatures are the same bytes (RFC 8032 is deterministic).
    expanded: ExpandedSecretKey,
    public: ed25519_dalek::VerifyingKey,
    public_b64: String,
    id: String,
}

impl Entry {
    fn new(seed: [u8; 32]) -> Entry {
        let key = SigningKey::from_bytes(&seed);
        let public = key.verifying_key();
        Entry {
            public_b64: B64.encode(public.as_bytes()),
            id: key_id(public.as_bytes()),
            expanded: ExpandedSecretKey::from(&seed),
            public,
            key,
        }
    }

    /// Base64 of this key's Ed25519 signature of `body`.
    fn sign(&self, body: &[u8]) -> String {
        let sig = raw_sign::<ed25519_dalek::Sha512>(&self.expanded, body, &self.public);
        B64.encode(sig.to_bytes())
    }
}

/// The short id of a public key: the first 8 bytes of its SHA-256, in hex.
pub fn key_id(public: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(public)[..8])
}

struct Previous {
    entry: Entry,
    retired_at: OffsetDateTime,
    valid_until: OffsetDateTime,
}

struct Ring {
    current: Entry,
    /// Since when the current key signs (unknown for the first key ever made).
    current_since: Option<OffsetDateTime>,
    previous: Option<Previous>,
}

/// The signing keys, swapped as a whole on rotation.
pub struct Signer {
    ring: RwLock<Arc<Ring>>,
    dir: PathBuf,
}

/// The signatures of one body.
pub struct Signatures {
    /// By the current key (`Licd-Signature`).
    pub current: String,
    /// By the previous key while it is within its overlap (`Licd-Signature-Previous`).
    pub previous: Option<String>,
    /// The current key's id (`Licd-Key-Id`).
    pub key_id: String,
}

/// A key as `GET /api/v1/signing-key` lists it.
#[derive(Serialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct PublicKeyInfo {
    /// Always "ed25519".
    pub algorithm: String,
    /// The 32-byte public key, base64.
    pub public_key: String,
    /// First 8 bytes of the key's SHA-256, hex; answers name theirs in `Licd-Key-Id`.
    pub key_id: String,
    /// "current" (signs `Licd-Signature`) or "previous" (signs
    /// `Licd-Signature-Previous` until `valid_until`).
    pub status: String,
    /// Since when it signs (RFC 3339; absent for the first key).
    pub valid_from: Option<String>,
    /// Until when it signs (RFC 3339; absent for the current key).
    pub valid_until: Option<String>,
}

fn bad(path: &Path, why: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{}: {why}", path.display()),
    )
}

fn read_seed(path: &Path, text: &str) -> std::io::Result<[u8; 32]> {
    let bytes = B64.decode(text.trim()).map_err(|e| bad(path, e))?;
    bytes
        .try_into()
        .map_err(|_| bad(path, "not a 32-byte Ed25519 seed"))
}

fn new_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    seed
}

fn unix(path: &Path, s: Option<&str>) -> std::io::Result<OffsetDateTime> {
    s.and_then(|s| s.parse::<i64>().ok())
        .and_then(|n| OffsetDateTime::from_unix_timestamp(n).ok())
        .ok_or_else(|| bad(path, "expected SEED RETIRED_AT VALID_UNTIL"))
}

fn load_ring(dir: &Path) -> std::io::Result<Ring> {
    let path = dir.join(KEY_FILE);
    let seed = match std::fs::read_to_string(&path) {
        Ok(text) => read_seed(&path, &text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let seed = new_seed();
            write_private(&path, format!("{}\n", B64.encode(seed)).as_bytes())?;
            seed
        }
        Err(e) => return Err(e),
    };
    let ppath = dir.join(PREVIOUS_FILE);
    let previous = match std::fs::read_to_string(&ppath) {
        Ok(text) => {
            let mut parts = text.split_whitespace();
            let seed = read_seed(&ppath, parts.next().unwrap_or(""))?;
            let retired_at = unix(&ppath, parts.next())?;
            let valid_until = unix(&ppath, parts.next())?;
            Some(Previous {
                entry: Entry::new(seed),
                retired_at,
                valid_until,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    Ok(Ring {
        current: Entry::new(seed),
        current_since: previous.as_ref().map(|p| p.retired_at),
        previous,
    })
}

impl Signer {
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Signer> {
        Ok(Signer {
            ring: RwLock::new(Arc::new(load_ring(data_dir)?)),
            dir: data_dir.to_owned(),
        })
    }

    fn ring(&self) -> Arc<Ring> {
        self.ring.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Base64 of the current key's Ed25519 signature of `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        self.ring().current.sign(body)
    }

    /// Every signature `body` carries at `now`.
    pub fn sign_all(&self, body: &[u8], now: OffsetDateTime) -> Signatures {
        // Signed under the read lock, without touching the ring's reference count: a
        // rotation waits for the signatures in progress (issue 16).
        let ring = self.ring.read().unwrap_or_else(|e| e.into_inner());
        Signatures {
            current: ring.current.sign(body),
            previous: ring
                .previous
                .as_ref()
                .filter(|p| now < p.valid_until)
                .map(|p| p.entry.sign(body)),
            key_id: ring.current.id.clone(),
        }
    }

    /// The current public key, base64.
    pub fn public_key_b64(&self) -> String {
        self.ring().current.public_b64.clone()
    }

    /// The current key and, within its overlap, the previous one.
    pub fn keys(&self, now: OffsetDateTime) -> Vec<PublicKeyInfo> {
        let ring = self.ring();
        let mut out = vec![PublicKeyInfo {
            algorithm: "ed25519".into(),
            public_key: ring.current.public_b64.clone(),
            key_id: ring.current.id.clone(),
            status: "current".into(),
            valid_from: ring.current_since.map(crate::clock::rfc3339),
            valid_until: None,
        }];
        if let Some(p) = ring.previous.as_ref().filter(|p| now < p.valid_until) {
            out.push(PublicKeyInfo {
                algorithm: "ed25519".into(),
                public_key: p.entry.public_b64.clone(),
                key_id: p.entry.id.clone(),
                status: "previous".into(),
                valid_from: None,
                valid_until: Some(crate::clock::rfc3339(p.valid_until)),
            });
        }
        out
    }

    /// Makes a new current key; the current one becomes the previous one, signing
    /// beside it until `now + overlap` (a key older than that is forgotten). Both files
    /// are replaced atomically and synced before the new key signs anything.
    pub fn rotate(
        &self,
        now: OffsetDateTime,
        overlap: time::Duration,
    ) -> std::io::Result<PublicKeyInfo> {
        let mut guard = self.ring.write().unwrap_or_else(|e| e.into_inner());
        let old = guard.current.key.to_bytes();
        let seed = new_seed();
        let valid_until = now + overlap;
        replace_private(
            &self.dir.join(PREVIOUS_FILE),
            format!(
                "{} {} {}\n",
                B64.encode(old),
                now.unix_timestamp(),
                valid_until.unix_timestamp()
            )
            .as_bytes(),
        )?;
        replace_private(
            &self.dir.join(KEY_FILE),
            format!("{}\n", B64.encode(seed)).as_bytes(),
        )?;
        crate::store::backup::sync_dir(&self.dir.join(KEY_FILE));
        *guard = Arc::new(Ring {
            current: Entry::new(seed),
            current_since: Some(now),
            previous: Some(Previous {
                entry: Entry::new(old),
                retired_at: now,
                valid_until,
            }),
        });
        drop(guard);
        Ok(self.keys(now).remove(0))
    }
}

/// Rotates the keys of a stopped server's data directory (the server would not see
/// the change otherwise: it holds its keys in memory).
pub fn rotate_stopped(
    data_dir: &Path,
    now: OffsetDateTime,
    overlap: time::Duration,
) -> std::io::Result<PublicKeyInfo> {
    Signer::load_or_create(data_dir)?.rotate(now, overlap)
}

/// Writes a secret file readable only by its owner (on unix; Windows ACLs of the data
/// directory apply there).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Replaces a secret file atomically: written and synced beside it, then renamed.
pub fn replace_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Rotates the server's keys (`overlap`: how long the replaced key keeps signing
/// beside the new one), audited as `actor`.
pub async fn rotate_audited(
    app: &crate::service::App,
    actor: &str,
    overlap: time::Duration,
) -> crate::error::AppResult<PublicKeyInfo> {
    let now = app.now();
    let info = app
        .signer
        .rotate(now, overlap)
        .map_err(|e| crate::error::AppError::internal(format!("signing key rotation: {e}")))?;
    let previous = app
        .signer
        .keys(now)
        .get(1)
        .map(|k| k.key_id.clone())
        .unwrap_or_default();
    crate::service::audit::record(
        app,
        actor,
        "signing_rotate",
        &info.key_id,
        &format!(
            "new key {} replaces {previous}, which signs beside it for {} days",
            info.key_id,
            overlap.whole_days()
        ),
    )
    .await?;
    tracing::info!(key_id = %info.key_id, "signing key rotated");
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};

    fn verifies(public_b64: &str, body: &[u8], sig_b64: &str) -> bool {
        let pk: [u8; 32] = B64.decode(public_b64).expect("b64").try_into().expect("32");
        let vk = VerifyingKey::from_bytes(&pk).expect("key");
        let sig = Signature::from_slice(&B64.decode(sig_b64).expect("b64")).expect("sig");
        vk.verify(body, &sig).is_ok()
    }

    #[test]
    fn key_persists_and_signatures_verify() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Signer::load_or_create(dir.path()).expect("create");
        let b = Signer::load_or_create(dir.path()).expect("load");
        assert_eq!(a.public_key_b64(), b.public_key_b64());
        let sig = a.sign(b"{\"x\":1}");
        assert!(verifies(&b.public_key_b64(), b"{\"x\":1}", &sig));
        assert!(!verifies(&b.public_key_b64(), b"{\"x\":2}", &sig));
        // The kept expansion signs the same bytes as the library's own `sign`.
        use ed25519_dalek::Signer as _;
        let text = std::fs::read_to_string(dir.path().join(KEY_FILE)).expect("key");
        let seed = read_seed(dir.path(), &text).expect("seed");
        let plain = SigningKey::from_bytes(&seed).sign(b"{\"x\":1}");
        assert_eq!(sig, B64.encode(plain.to_bytes()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn rotation_signs_with_both_keys_for_the_overlap_and_survives_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Signer::load_or_create(dir.path()).expect("create");
        let now = OffsetDateTime::now_utc();
        let old = s.public_key_b64();
        assert_eq!(s.keys(now).len(), 1);
        assert!(s.sign_all(b"x", now).previous.is_none());
        let new = s.rotate(now, time::Duration::days(30)).expect("rotate");
        assert_ne!(new.public_key, old);
        assert_eq!(new.status, "current");
        let sigs = s.sign_all(b"body", now);
        assert!(verifies(&new.public_key, b"body", &sigs.current));
        assert!(verifies(
            &old,
            b"body",
            sigs.previous.as_deref().expect("previous")
        ));
        assert_eq!(sigs.key_id, new.key_id);
        // A restart reads the same ring.
        let again = Signer::load_or_create(dir.path()).expect("load");
        assert_eq!(again.keys(now), s.keys(now));
        let keys = again.keys(now);
        assert_eq!(keys[1].public_key, old);
        assert_eq!(keys[1].status, "previous");
        assert!(keys[0].valid_from.is_some() && keys[1].valid_until.is_some());
        // After the overlap only the current key signs and is listed.
        let later = now + time::Duration::days(31);
        assert!(again.sign_all(b"body", later).previous.is_none());
        assert_eq!(again.keys(later).len(), 1);
        // A second rotation forgets the oldest key.
        let third = again.rotate(now, time::Duration::days(30)).expect("rotate");
        let keys = again.keys(now);
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].public_key, third.public_key);
        assert_eq!(keys[1].public_key, new.public_key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [KEY_FILE, PREVIOUS_FILE] {
                let mode = std::fs::metadata(dir.path().join(f))
                    .expect("meta")
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{f}");
            }
        }
    }
}
