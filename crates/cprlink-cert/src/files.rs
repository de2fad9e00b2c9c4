//! Writing files that hold keys, passwords or records: atomically, with a chosen mode,
//! and never over an existing file unless asked.
//!
//! Owns the temp-file-fsync-rename dance so that a refused or interrupted write leaves
//! either the old file or no file, never half of one. Other crates use it too.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::Error;

/// What to do when the target already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Refuse with [`Error::AlreadyExists`].
    Refuse,
    /// Replace it atomically.
    Replace,
}

/// Writes `bytes` to `path` atomically with permission bits `mode` (e.g. `0o600`).
///
/// The data goes to a temporary file in the same directory, is flushed to disk, gets
/// its mode, and is then renamed (or hard-linked, when refusing to overwrite) into
/// place; the directory is synced afterwards.
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    overwrite: Overwrite,
) -> Result<(), Error> {
    let wrap = |source: std::io::Error| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    if overwrite == Overwrite::Refuse && fs::symlink_metadata(path).is_ok() {
        return Err(Error::AlreadyExists {
            path: path.to_path_buf(),
        });
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".cprlink-")
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(wrap)?;
    // The umask may have narrowed the mode at creation; set it exactly.
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(mode)).map_err(wrap)?;
    tmp.write_all(bytes).map_err(wrap)?;
    tmp.as_file().sync_all().map_err(wrap)?;
    match overwrite {
        Overwrite::Replace => tmp.persist(path).map_err(|e| wrap(e.error))?,
        Overwrite::Refuse => tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                Error::AlreadyExists {
                    path: path.to_path_buf(),
                }
            } else {
                wrap(e.error)
            }
        })?,
    };
    if let Ok(d) = File::open(dir) {
        // Best effort: some filesystems refuse to fsync a directory.
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes a file holding a private key or a password: mode 0600.
pub fn write_private(path: &Path, bytes: &[u8], overwrite: Overwrite) -> Result<(), Error> {
    write_atomic(path, bytes, 0o600, overwrite)
}

/// Writes a public file (a certificate): mode 0644.
pub fn write_public(path: &Path, bytes: &[u8], overwrite: Overwrite) -> Result<(), Error> {
    write_atomic(path, bytes, 0o644, overwrite)
}

/// Writes several files as one operation: either all of them end up in place, or
/// (short of a crash) none of them does.
///
/// Every target is checked before anything is written, so a refused operation leaves
/// no file behind (`pack` writes `OUT.p12` and `OUT.p12.password` this way). Each file
/// goes to a synced temporary file first; only when all are ready are they moved into
/// place, and a failure while moving removes the ones already moved (when they were new).
pub fn write_all_atomic(files: &[(&Path, &[u8], u32)], overwrite: Overwrite) -> Result<(), Error> {
    if overwrite == Overwrite::Refuse {
        for (path, _, _) in files {
            if fs::symlink_metadata(path).is_ok() {
                return Err(Error::AlreadyExists {
                    path: path.to_path_buf(),
                });
            }
        }
    }
    let mut staged = Vec::with_capacity(files.len());
    for (path, bytes, mode) in files {
        let wrap = |source: std::io::Error| Error::Write {
            path: path.to_path_buf(),
            source,
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".cprlink-")
            .suffix(".tmp")
            .permissions(fs::Permissions::from_mode(*mode))
            .tempfile_in(dir)
            .map_err(wrap)?;
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(*mode)).map_err(wrap)?;
        tmp.write_all(bytes).map_err(wrap)?;
        tmp.as_file().sync_all().map_err(wrap)?;
        staged.push((*path, tmp, dir));
    }
    let mut placed: Vec<&Path> = Vec::new();
    for (path, tmp, dir) in staged {
        let result = match overwrite {
            Overwrite::Replace => tmp.persist(path).map(|_| ()).map_err(|e| e.error),
            Overwrite::Refuse => tmp.persist_noclobber(path).map(|_| ()).map_err(|e| e.error),
        };
        if let Err(source) = result {
            if overwrite == Overwrite::Refuse {
                for done in &placed {
                    let _ = fs::remove_file(done);
                }
            }
            return Err(if source.kind() == std::io::ErrorKind::AlreadyExists {
                Error::AlreadyExists {
                    path: path.to_path_buf(),
                }
            } else {
                Error::Write {
                    path: path.to_path_buf(),
                    source,
                }
            });
        }
        placed.push(path);
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_overwrite_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.txt");
        write_private(&path, b"one", Overwrite::Refuse).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let err = write_private(&path, b"two", Overwrite::Refuse).unwrap_err();
        assert!(matches!(err, Error::AlreadyExists { .. }));
        assert_eq!(fs::read(&path).unwrap(), b"one");
        write_private(&path, b"three", Overwrite::Replace).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"three");
        // No temporary files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_set_is_refused_whole_when_one_target_exists() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("out.p12");
        let b = dir.path().join("out.p12.password");
        fs::write(&b, b"old").unwrap();
        let err = write_all_atomic(
            &[(&a, b"p12", 0o600), (&b, b"pw", 0o600)],
            Overwrite::Refuse,
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::AlreadyExists { ref path } if *path == b),
            "{err}"
        );
        assert!(!a.exists());
        assert_eq!(fs::read(&b).unwrap(), b"old");
        write_all_atomic(
            &[(&a, b"p12", 0o600), (&b, b"pw", 0o600)],
            Overwrite::Replace,
        )
        .unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"p12");
        assert_eq!(fs::read(&b).unwrap(), b"pw");
        assert_eq!(
            fs::metadata(&a).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
