//! Who may read the data directory: on unix the process makes everything private
//! (umask 077: directories 0700, files 0600), and at start the data directory and every
//! file in it are tightened to that, so a database written by an older version (or
//! restored by hand) holding password and token hashes is not left world-readable.
//! On Windows the folder's access list is set by `licd service install`.
use std::path::Path;

/// New files and directories of this process: owner only.
pub fn private_by_default() {
    #[cfg(unix)]
    {
        use rustix::fs::Mode;
        rustix::process::umask(Mode::from_raw_mode(0o077));
    }
}

/// Creates `dir` when missing and takes group and other permissions off it and
/// everything under it (symbolic links are not followed). Returns how many entries were
/// tightened.
pub fn secure_dir(dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        tighten(dir)
    }
    #[cfg(not(unix))]
    {
        Ok(0)
    }
}

#[cfg(unix)]
fn tighten(path: &Path) -> std::io::Result<usize> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(0);
    }
    let mut n = 0;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        let want = if meta.is_dir() { 0o700 } else { mode & 0o700 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(want))?;
        n += 1;
    }
    if meta.is_dir() {
        for e in std::fs::read_dir(path)? {
            n += tighten(&e?.path())?;
        }
    }
    Ok(n)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_world_readable_tree_is_made_private() {
        let t = tempfile::tempdir().expect("tempdir");
        let d = t.path().join("data");
        std::fs::create_dir_all(d.join("tls")).expect("mkdir");
        std::fs::write(d.join("licd.redb"), b"x").expect("write");
        std::fs::write(d.join("tls/key.pem"), b"k").expect("write");
        for p in [&d, &d.join("tls")] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        for p in [d.join("licd.redb"), d.join("tls/key.pem")] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        assert_eq!(secure_dir(&d).expect("secure"), 4);
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&d.join("tls")), 0o700);
        assert_eq!(mode(&d.join("licd.redb")), 0o600);
        assert_eq!(mode(&d.join("tls/key.pem")), 0o600);
        assert_eq!(secure_dir(&d).expect("again"), 0, "nothing left to tighten");
    }
}
