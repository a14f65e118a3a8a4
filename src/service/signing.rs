//! The server's Ed25519 signing key: made on first start, kept in the data directory
//! (mode 0600), used to sign every `/api/v1` body.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey};
use rand::RngCore;
use std::path::Path;

pub const KEY_FILE: &str = "signing.key";

pub struct Signer {
    key: SigningKey,
    public_b64: String,
}

impl Signer {
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Signer> {
        let path = data_dir.join(KEY_FILE);
        let seed: [u8; 32] = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = B64.decode(text.trim()).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: {e}", path.display()),
                    )
                })?;
                bytes.try_into().map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: not a 32-byte Ed25519 seed", path.display()),
                    )
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut seed);
                write_private(&path, format!("{}\n", B64.encode(seed)).as_bytes())?;
                seed
            }
            Err(e) => return Err(e),
        };
        let key = SigningKey::from_bytes(&seed);
        let public_b64 = B64.encode(key.verifying_key().as_bytes());
        Ok(Signer { key, public_b64 })
    }

    /// Base64 of the Ed25519 signature of `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        B64.encode(self.key.sign(body).to_bytes())
    }

    pub fn public_key_b64(&self) -> &str {
        &self.public_b64
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};

    #[test]
    fn key_persists_and_signatures_verify() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Signer::load_or_create(dir.path()).expect("create");
        let b = Signer::load_or_create(dir.path()).expect("load");
        assert_eq!(a.public_key_b64(), b.public_key_b64());
        let sig = B64.decode(a.sign(b"{\"x\":1}")).expect("b64");
        let pk: [u8; 32] = B64
            .decode(b.public_key_b64())
            .expect("b64")
            .try_into()
            .expect("32");
        let vk = VerifyingKey::from_bytes(&pk).expect("key");
        let sig = Signature::from_slice(&sig).expect("sig");
        assert!(vk.verify(b"{\"x\":1}", &sig).is_ok());
        assert!(vk.verify(b"{\"x\":2}", &sig).is_err());
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
}
