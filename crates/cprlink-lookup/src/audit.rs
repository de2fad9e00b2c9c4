//! The audit trail (`audit_log`): one JSON Lines entry per CPR number sent to
//! Datafordeler, with time, purpose, operator, the masked number, a salted hash for
//! later matching, and the outcome.
//!
//! Owns the file (appended, 0600, one write per entry so entries are whole) and the salt
//! (random, in a 0600 file next to the log, created once and reused). It must never
//! write a name or an unmasked CPR number.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use openssl::sha::Sha256;
use serde::Serialize;

use crate::cpr::Cpr;
use crate::error::Error;
use crate::record::Status;

/// An open audit trail.
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
    salt: Vec<u8>,
    operator: String,
    purpose: Option<String>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Entry<'a> {
    time: String,
    purpose: Option<&'a str>,
    operator: &'a str,
    cpr_masked: String,
    cpr_hash: String,
    outcome: &'a str,
    api: &'a str,
}

/// Where the salt of `log` lives: `<log>.salt`.
pub fn salt_path(log: &Path) -> PathBuf {
    let mut name = log
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".salt");
    log.with_file_name(name)
}

impl AuditLog {
    /// Opens (or creates) the trail at `path` and its salt. `purpose` is recorded on
    /// every entry.
    pub fn open(path: &Path, purpose: Option<String>) -> Result<AuditLog, Error> {
        let err = |source: std::io::Error| Error::Audit {
            path: path.to_path_buf(),
            source,
        };
        let salt = load_or_create_salt(&salt_path(path)).map_err(err)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(err)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            salt,
            operator: operator(),
            purpose,
        })
    }

    /// The salted hash of a CPR number: SHA-256 over the salt and the ten digits, hex.
    /// The same number gives the same hash in the same trail, so entries can be
    /// matched later by whoever holds the salt.
    pub fn hash(&self, cpr: &Cpr) -> String {
        let mut h = Sha256::new();
        h.update(&self.salt);
        h.update(cpr.as_str().as_bytes());
        h.finish().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Appends one entry and hands it to the OS at once.
    pub fn record(&self, cpr: &Cpr, outcome: Status, api: &str) -> Result<(), Error> {
        let entry = Entry {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            purpose: self.purpose.as_deref(),
            operator: &self.operator,
            cpr_masked: cpr.masked(),
            cpr_hash: self.hash(cpr),
            outcome: outcome.as_str(),
            api,
        };
        let mut line = serde_json::to_vec(&entry).map_err(|e| Error::Audit {
            path: self.path.clone(),
            source: e.into(),
        })?;
        line.push(b'\n');
        let mut file = self.file.lock().map_err(|_| Error::Audit {
            path: self.path.clone(),
            source: std::io::Error::other("lock poisoned"),
        })?;
        file.write_all(&line).map_err(|source| Error::Audit {
            path: self.path.clone(),
            source,
        })?;
        file.flush().map_err(|source| Error::Audit {
            path: self.path.clone(),
            source,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn load_or_create_salt(path: &Path) -> std::io::Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.len() >= 16 => return Ok(bytes),
        Ok(_) => {
            return Err(std::io::Error::other(format!(
                "the salt file {} is too short",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut raw = [0u8; 32];
    openssl::rand::rand_bytes(&mut raw).map_err(std::io::Error::other)?;
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    match cprlink_cert::files::write_private(
        path,
        hex.as_bytes(),
        cprlink_cert::files::Overwrite::Refuse,
    ) {
        Ok(()) => Ok(hex.into_bytes()),
        // Another process made it first: use theirs.
        Err(cprlink_cert::Error::AlreadyExists { .. }) => std::fs::read(path),
        Err(e) => Err(std::io::Error::other(e.to_string())),
    }
}

/// The OS user running the lookup.
fn operator() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(v) = std::env::var(var)
            && !v.is_empty()
        {
            return v;
        }
    }
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| format!("uid:{}", m.uid()))
        .unwrap_or_else(|_| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn entries_are_masked_hashed_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.jsonl");
        let cpr = Cpr::parse("0101011234").unwrap();
        let a = AuditLog::open(&log, Some("mailing 2025".to_owned())).unwrap();
        a.record(&cpr, Status::Found, "rest").unwrap();
        let h1 = a.hash(&cpr);
        drop(a);
        // Reopened: same salt, same hash; appended, not replaced.
        let a = AuditLog::open(&log, None).unwrap();
        assert_eq!(a.hash(&cpr), h1);
        a.record(&cpr, Status::NotFound, "graphql").unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(!text.contains("0101011234"), "{text}");
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["cpr_masked"], "010101-xxxx");
        assert_eq!(first["purpose"], "mailing 2025");
        assert_eq!(first["outcome"], "found");
        assert_eq!(first["cpr_hash"].as_str().unwrap().len(), 64);
        for p in [&log, &salt_path(&log)] {
            assert_eq!(
                std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
                0o600,
                "{}",
                p.display()
            );
        }
        // A different trail has a different salt.
        let other = AuditLog::open(&dir.path().join("other.jsonl"), None).unwrap();
        assert_ne!(other.hash(&cpr), h1);
    }
}
