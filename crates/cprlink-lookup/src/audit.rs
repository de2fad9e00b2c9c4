//! The audit trail (`audit_log`): one JSON Lines entry per CPR number sent to
//! Datafordeler, with time, operator, purpose, the masked number, a keyed hash of the
//! number and the outcome; each entry sealed with a keyed MAC and carrying the MAC of
//! the one before, so that a changed, removed or reordered entry shows.
//!
//! Owns the format (version 2), the key (`audit_key_file`: 32 random bytes, hex, in a
//! 0600 file created on first use, refused in the log's own directory: whoever can
//! read the log must not thereby hold the key), appending under a lock shared with
//! every writer and with `prune`, and reading the trail back for `audit find`,
//! `audit verify` and `audit prune`. It must never write a name or an unmasked CPR
//! number, and never continues a trail of the old, salted format.
//!
//! An entry, in this field order (the MAC covers the line up to `mac`):
//!
//! ```json
//! {"v":2,"seq":7,"time":"2026-03-01T09:12:44.120Z","operator":"jdoe","purpose":"mailing",
//!  "cpr_masked":"071261-xxxx","cpr_hash":"<hex>","outcome":"found","api":"rest",
//!  "prev":"<mac of entry 6>","mac":"<hex>"}
//! ```
//!
//! - `cpr_hash` is HMAC-SHA-256(key, "cpr" 0x00 digits): the same number always gets
//!   the same hash under one key (`audit find`), and without the key the masked
//!   prefix plus the 10,000 possible sequence numbers cannot be tried against it.
//! - `mac` is HMAC-SHA-256(key, "entry" 0x00 line-without-mac); `prev` is the `mac` of
//!   the entry before, 64 zeros for the first; `seq` counts from 1.
//! - `audit prune` drops entries from the start and writes, as the first line, a
//!   sealed marker `{"v":2,"seq":N,"time":..,"event":"pruned","before":DATE,
//!   "dropped":K,"prev":"<mac of entry N>","mac":..}`: it stands in for the last
//!   dropped entry N, so the first kept entry links to its `prev`.
//!
//! Removing whole entries from the end leaves a valid chain; `verify` reports the last
//! entry's `seq` and `mac` (the head) so it can be compared with one recorded before.
//!
//! Writers and `prune` hold the lock (`flock`) of the file the trail's name points to
//! *now*: `prune` rewrites the trail to a temporary file and renames it into place
//! under the lock, so whoever waited on the old file takes the lock again on the new
//! one before appending (otherwise an entry could land in a file no name points to).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use serde::{Deserialize, Serialize};

use crate::cpr::Cpr;
use crate::error::Error;
use crate::record::Status;

/// The format of the entries this cprlink writes.
pub const FORMAT: u64 = 2;

/// `prev` of the first entry of a trail.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The length of the sealed end of a line: `,"mac":"` + 64 hex + `"}`.
const MAC_SUFFIX: usize = 8 + 64 + 2;

/// The key of a trail's keyed hashes and MACs.
pub struct AuditKey {
    key: PKey<Private>,
    path: PathBuf,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Where the key lives when `audit_key_file` is empty: `$XDG_DATA_HOME/cprlink/audit.key`
/// (`~/.local/share/cprlink/audit.key` when unset). `env` reads the environment.
pub fn default_key_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = env("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("share"))
        })?;
    Some(base.join("cprlink").join("audit.key"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The directory a path is in, as the file system names it (symlinks followed) when
/// it exists.
fn real_dir(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

impl AuditKey {
    /// Reads the key at `path`, creating it (0600, and its directory 0700) when
    /// `create` is set and there is none.
    pub fn open(path: &Path, create: bool) -> Result<AuditKey, Error> {
        let problem = |problem: String| Error::AuditKey {
            path: path.to_path_buf(),
            problem,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                Self::create(path).map_err(problem)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(problem(
                    "there is no key there: the trail's hashes cannot be checked or matched without it"
                        .to_owned(),
                ));
            }
            Err(e) => return Err(problem(format!("cannot read it: {e}"))),
        };
        let meta = std::fs::metadata(path).map_err(|e| problem(e.to_string()))?;
        if meta.permissions().mode() & 0o007 != 0 {
            return Err(problem(
                "other users can read or write it: `chmod 600` it (whoever holds the key can match numbers to the trail)"
                    .to_owned(),
            ));
        }
        let bytes = unhex(text.trim())
            .filter(|b| b.len() >= 32)
            .ok_or_else(|| problem("not a key cprlink wrote (64 hex digits)".to_owned()))?;
        let key = PKey::hmac(&bytes).map_err(|e| problem(e.to_string()))?;
        Ok(AuditKey {
            key,
            path: path.to_path_buf(),
        })
    }

    fn create(path: &Path) -> Result<String, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| format!("cannot create its directory {}: {e}", dir.display()))?;
        }
        let mut raw = [0u8; 32];
        openssl::rand::rand_bytes(&mut raw).map_err(|e| e.to_string())?;
        let text = format!("{}\n", hex(&raw));
        match cprlink_cert::files::write_private(
            path,
            text.as_bytes(),
            cprlink_cert::files::Overwrite::Refuse,
        ) {
            Ok(()) => Ok(text),
            // Another process made it first: use theirs.
            Err(cprlink_cert::Error::AlreadyExists { .. }) => {
                std::fs::read_to_string(path).map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn mac(&self, domain: &[u8], data: &[u8]) -> String {
        // HMAC over bytes we hold cannot fail short of OpenSSL being broken; an empty
        // MAC then never verifies, so nothing passes unnoticed.
        let sign = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
            let mut s = Signer::new(MessageDigest::sha256(), &self.key)?;
            s.update(domain)?;
            s.update(b"\0")?;
            s.update(data)?;
            s.sign_to_vec()
        };
        sign().map(|m| hex(&m)).unwrap_or_default()
    }

    /// The keyed hash of a CPR number, as entries carry it.
    pub fn cpr_hash(&self, cpr: &Cpr) -> String {
        self.mac(b"cpr", cpr.as_str().as_bytes())
    }

    /// Seals a line without its MAC (`{...}`): the line with `,"mac":"..."}` and `\n`.
    fn seal(&self, unsealed: &[u8]) -> (Vec<u8>, String) {
        let mac = self.mac(b"entry", unsealed);
        let mut line = unsealed[..unsealed.len().saturating_sub(1)].to_vec();
        line.extend_from_slice(b",\"mac\":\"");
        line.extend_from_slice(mac.as_bytes());
        line.extend_from_slice(b"\"}\n");
        (line, mac)
    }

    /// Whether a line (without its line ending) carries the MAC of its content.
    fn verify_line(&self, line: &str) -> Option<bool> {
        let cut = line.len().checked_sub(MAC_SUFFIX)?;
        let (body, suffix) = (line.get(..cut)?, line.get(cut..)?);
        let mac = suffix.strip_prefix(",\"mac\":\"")?.strip_suffix("\"}")?;
        let mut unsealed = body.as_bytes().to_vec();
        unsealed.push(b'}');
        Some(
            openssl::memcmp::eq(self.mac(b"entry", &unsealed).as_bytes(), mac.as_bytes())
                && mac.len() == 64,
        )
    }
}

/// Refuses a key in the log's own directory: whoever can read the log would find the
/// key beside it.
pub fn check_apart(log: &Path, key: &Path) -> Result<(), Error> {
    if real_dir(log) == real_dir(key) {
        return Err(Error::AuditKey {
            path: key.to_path_buf(),
            problem: format!(
                "it is in the directory of the trail {}: whoever can read the trail would hold the key to match numbers to it",
                log.display()
            ),
        });
    }
    Ok(())
}

#[derive(Serialize)]
struct NewEntry<'a> {
    v: u64,
    seq: u64,
    time: &'a str,
    operator: &'a str,
    purpose: Option<&'a str>,
    cpr_masked: &'a str,
    cpr_hash: &'a str,
    outcome: &'a str,
    api: &'a str,
    prev: &'a str,
}

#[derive(Serialize)]
struct NewMarker<'a> {
    v: u64,
    seq: u64,
    time: &'a str,
    event: &'a str,
    before: &'a str,
    dropped: u64,
    prev: &'a str,
}

/// A line of a trail as read back; every field optional so that any line parses far
/// enough to say what is wrong with it.
#[derive(Debug, Default, Deserialize)]
struct Line {
    v: Option<u64>,
    seq: Option<u64>,
    time: Option<String>,
    operator: Option<String>,
    purpose: Option<String>,
    cpr_hash: Option<String>,
    outcome: Option<String>,
    api: Option<String>,
    prev: Option<String>,
    mac: Option<String>,
    event: Option<String>,
    before: Option<String>,
    dropped: Option<u64>,
}

impl Line {
    fn is_marker(&self) -> bool {
        self.event.as_deref() == Some("pruned")
    }

    /// What an entry after this line must carry as `seq - 1` and `prev`: its own for an
    /// entry, the last dropped entry's for a prune marker.
    fn link(&self) -> Option<(u64, String)> {
        let seq = self.seq?;
        let mac = if self.is_marker() {
            self.prev.clone()?
        } else {
            self.mac.clone()?
        };
        Some((seq, mac))
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
    std::fs::metadata("/proc/self")
        .map(|m| format!("uid:{}", m.uid()))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The open file and where its chain ends.
struct Writer {
    file: File,
    /// The length we last saw; another writer changed the file when it differs.
    known_len: u64,
    seq: u64,
    prev: String,
}

/// An open audit trail.
pub struct AuditLog {
    path: PathBuf,
    key: AuditKey,
    writer: Mutex<Writer>,
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

/// How the end of a trail links on: the `seq` and `mac` an entry after it takes up,
/// and whether the file ends with a line break.
struct Tail {
    seq: u64,
    prev: String,
    ends_whole: bool,
}

/// Reads how `file` ends, refusing a trail of the old format or one whose last whole
/// line is not an entry.
fn read_tail(path: &Path, file: &mut File) -> Result<Tail, Error> {
    let io = |source: std::io::Error| Error::Audit {
        path: path.to_path_buf(),
        source,
    };
    let len = file.metadata().map_err(io)?.len();
    if len == 0 {
        return Ok(Tail {
            seq: 0,
            prev: GENESIS.to_owned(),
            ends_whole: true,
        });
    }
    // The first line says the format.
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut first = Vec::new();
    BufReader::new(&mut *file)
        .take(64 * 1024)
        .read_until(b'\n', &mut first)
        .map_err(io)?;
    let first: Line = serde_json::from_slice(&first).unwrap_or_default();
    if first.v.is_none() && first.cpr_hash.is_some() {
        return Err(Error::AuditOldFormat {
            path: path.to_path_buf(),
        });
    }
    // The last whole line says where the chain ends (entries are well under 4 KiB).
    let from = len.saturating_sub(64 * 1024);
    file.seek(SeekFrom::Start(from)).map_err(io)?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).map_err(io)?;
    let ends_whole = tail.last() == Some(&b'\n');
    let whole = match tail.iter().rposition(|&b| b == b'\n') {
        Some(end) => &tail[..end],
        None => &[][..],
    };
    let last = whole
        .rsplit(|&b| b == b'\n')
        .next()
        .filter(|l| !l.is_empty());
    let Some(last) = last else {
        if from == 0 {
            // Only a half-written line: nothing to chain on.
            return Ok(Tail {
                seq: 0,
                prev: GENESIS.to_owned(),
                ends_whole,
            });
        }
        return Err(Error::AuditFormat {
            path: path.to_path_buf(),
            line: 0,
            problem: "its end is not made of audit entries".to_owned(),
        });
    };
    let parsed: Line = serde_json::from_slice(last).unwrap_or_default();
    match (parsed.v, parsed.link()) {
        (Some(FORMAT), Some((seq, prev))) => Ok(Tail {
            seq,
            prev,
            ends_whole,
        }),
        (Some(v), _) if v > FORMAT => Err(Error::AuditFormat {
            path: path.to_path_buf(),
            line: 0,
            problem: format!(
                "its last entry is of format {v}, newer than this cprlink writes ({FORMAT})"
            ),
        }),
        _ => Err(Error::AuditFormat {
            path: path.to_path_buf(),
            line: 0,
            problem: "its last line is not an audit entry".to_owned(),
        }),
    }
}

fn open_for_append(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .mode(0o600)
        .open(path)?;
    Ok(file)
}

/// Takes the trail's lock on the file `path` names now, reopening `file` when it no
/// longer is that file. `audit prune` replaces the trail by a rename under the lock,
/// so a writer that waited on the old file would otherwise append to a file no name
/// points to, and its entry would be lost. Returns whether `file` was reopened.
fn lock_current(path: &Path, file: &mut File) -> std::io::Result<bool> {
    let mut reopened = false;
    loop {
        file.lock()?;
        let held = file.metadata()?;
        match std::fs::metadata(path) {
            Ok(named) if named.dev() == held.dev() && named.ino() == held.ino() => {
                return Ok(reopened);
            }
            // Replaced (or removed: then a new trail starts there).
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                let _ = file.unlock();
                return Err(e);
            }
        }
        let _ = file.unlock();
        *file = open_for_append(path)?;
        reopened = true;
    }
}

impl AuditLog {
    /// Opens (or creates) the trail at `path` with the key at `key_path` (created on
    /// first use). `purpose` is recorded on every entry.
    pub fn open(path: &Path, key_path: &Path, purpose: Option<String>) -> Result<AuditLog, Error> {
        check_apart(path, key_path)?;
        let key = AuditKey::open(key_path, true)?;
        let io = |source: std::io::Error| Error::Audit {
            path: path.to_path_buf(),
            source,
        };
        let mut file = open_for_append(path).map_err(io)?;
        lock_current(path, &mut file).map_err(io)?;
        let checked = read_tail(path, &mut file);
        let meta = file.metadata().map_err(io);
        let _ = file.unlock();
        let tail = checked?;
        let meta = meta?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            key,
            writer: Mutex::new(Writer {
                file,
                known_len: meta.len(),
                seq: tail.seq,
                prev: tail.prev,
            }),
            operator: operator(),
            purpose,
        })
    }

    /// The keyed hash of a CPR number.
    pub fn hash(&self, cpr: &Cpr) -> String {
        self.key.cpr_hash(cpr)
    }

    /// Appends one entry and hands it to the OS at once.
    pub fn record(&self, cpr: &Cpr, outcome: Status, api: &str) -> Result<(), Error> {
        self.record_all(&[(*cpr, outcome)], api)
    }

    /// Appends one entry per number, in order, in one write under the trail's lock.
    pub fn record_all(&self, entries: &[(Cpr, Status)], api: &str) -> Result<(), Error> {
        if entries.is_empty() {
            return Ok(());
        }
        let io = |source: std::io::Error| Error::Audit {
            path: self.path.clone(),
            source,
        };
        let mut w = self
            .writer
            .lock()
            .map_err(|_| io(std::io::Error::other("the trail's lock is poisoned")))?;
        if lock_current(&self.path, &mut w.file).map_err(io)? {
            // A new file (pruned, or removed): take up its end.
            w.known_len = u64::MAX;
        }
        let result = self.append_locked(&mut w, entries, api);
        let _ = w.file.unlock();
        result
    }

    fn append_locked(
        &self,
        w: &mut Writer,
        entries: &[(Cpr, Status)],
        api: &str,
    ) -> Result<(), Error> {
        let io = |source: std::io::Error| Error::Audit {
            path: self.path.clone(),
            source,
        };
        let len = w.file.metadata().map_err(io)?.len();
        let mut buf = Vec::with_capacity(entries.len() * 320);
        if len != w.known_len {
            // Another writer appended (or the trail was pruned): take up its end.
            let tail = read_tail(&self.path, &mut w.file)?;
            w.seq = tail.seq;
            w.prev = tail.prev;
            if !tail.ends_whole {
                // A write cut short (a crash): that line stays alone on its line.
                buf.push(b'\n');
            }
        }
        let time = now();
        let (mut seq, mut prev) = (w.seq, w.prev.clone());
        for (cpr, outcome) in entries {
            // The number comes from the file, which anyone with write access can edit.
            seq = seq.checked_add(1).ok_or_else(|| Error::AuditFormat {
                path: self.path.clone(),
                line: 0,
                problem: "its last entry number is the largest there is: no entry can follow it"
                    .to_owned(),
            })?;
            let masked = cpr.masked();
            let cpr_hash = self.key.cpr_hash(cpr);
            let unsealed = serde_json::to_vec(&NewEntry {
                v: FORMAT,
                seq,
                time: &time,
                operator: &self.operator,
                purpose: self.purpose.as_deref(),
                cpr_masked: &masked,
                cpr_hash: &cpr_hash,
                outcome: outcome.as_str(),
                api,
                prev: &prev,
            })
            .map_err(|e| io(e.into()))?;
            let (line, mac) = self.key.seal(&unsealed);
            buf.extend_from_slice(&line);
            prev = mac;
        }
        w.file.write_all(&buf).map_err(io)?;
        w.known_len = len + buf.len() as u64;
        w.seq = seq;
        w.prev = prev;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

// ---- reading back: find, verify, prune ----------------------------------------------

/// One lookup of a person, as `audit find` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    pub line: u64,
    pub seq: u64,
    pub time: String,
    pub operator: String,
    pub purpose: Option<String>,
    pub outcome: String,
    pub api: String,
    /// The entry's MAC matches its content.
    pub intact: bool,
}

/// The trail as it stood between two writes: the open file and its length then.
/// Writers append whole lines under the lock, so the length taken under it ends on
/// a line end; the open file stays that trail even if `prune` replaces it meanwhile.
/// Readers take the lock only for that moment, so they never hold up the writers.
struct Snapshot {
    file: File,
    len: u64,
}

impl Snapshot {
    fn take(path: &Path) -> Result<Snapshot, Error> {
        let io = |source: std::io::Error| Error::Audit {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        file.lock_shared().map_err(io)?;
        let len = file.metadata().map_err(io);
        let _ = file.unlock();
        Ok(Snapshot {
            file,
            len: len?.len(),
        })
    }

    /// The file whose lock the caller already holds.
    fn locked(path: &Path, file: &File) -> Result<Snapshot, Error> {
        let io = |source: std::io::Error| Error::Audit {
            path: path.to_path_buf(),
            source,
        };
        let file = file.try_clone().map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Ok(Snapshot { file, len })
    }

    /// The lines, numbered from 1, each without its line ending; a last line without
    /// one is marked.
    fn lines(
        &self,
        path: &Path,
    ) -> Result<impl Iterator<Item = Result<(u64, String, bool), Error>> + use<>, Error> {
        let io = |source: std::io::Error| Error::Audit {
            path: path.to_path_buf(),
            source,
        };
        let mut file = self.file.try_clone().map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut reader = BufReader::with_capacity(256 * 1024, file.take(self.len));
        let path = path.to_path_buf();
        let mut n = 0u64;
        Ok(std::iter::from_fn(move || {
            let mut buf = Vec::new();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => None,
                Ok(_) => {
                    n += 1;
                    let whole = buf.last() == Some(&b'\n');
                    let text = String::from_utf8_lossy(&buf);
                    let text = text.trim_end_matches(['\r', '\n']).to_owned();
                    Some(Ok((n, text, whole)))
                }
                Err(source) => Some(Err(Error::Audit {
                    path: path.clone(),
                    source,
                })),
            }
        }))
    }
}

/// What `audit find` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Findings {
    /// The entries for the number, in the trail's order.
    pub lookups: Vec<Found>,
    /// The trail was pruned: lookups from before the cut are no longer in it.
    pub pruned: Option<Cut>,
}

/// Every entry for `cpr` at or after `since`, in the trail's order, matched by the
/// keyed hash (so numbers with the same masked prefix are told apart).
pub fn find(
    path: &Path,
    key: &AuditKey,
    cpr: &Cpr,
    since: Option<DateTime<Utc>>,
) -> Result<Findings, Error> {
    let want = key.cpr_hash(cpr);
    let mut out = Vec::new();
    let mut pruned = None;
    for line in Snapshot::take(path)?.lines(path)? {
        let (n, text, _) = line?;
        let Ok(entry) = serde_json::from_str::<Line>(&text) else {
            continue;
        };
        if entry.v.is_none() && entry.cpr_hash.is_some() {
            return Err(Error::AuditOldFormat {
                path: path.to_path_buf(),
            });
        }
        if entry.is_marker() && n == 1 {
            pruned = Some(Cut {
                time: entry.time.clone().unwrap_or_default(),
                before: entry.before.clone().unwrap_or_default(),
                dropped: entry.dropped.unwrap_or(0),
                after_seq: entry.seq.unwrap_or(0),
            });
        }
        if entry.is_marker() || entry.cpr_hash.as_deref() != Some(want.as_str()) {
            continue;
        }
        let time = entry.time.clone().unwrap_or_default();
        if let Some(since) = since {
            match DateTime::parse_from_rfc3339(&time) {
                Ok(t) if t.with_timezone(&Utc) < since => continue,
                _ => {}
            }
        }
        out.push(Found {
            line: n,
            seq: entry.seq.unwrap_or(0),
            time,
            operator: entry.operator.unwrap_or_default(),
            purpose: entry.purpose,
            outcome: entry.outcome.unwrap_or_default(),
            api: entry.api.unwrap_or_default(),
            intact: key.verify_line(&text) == Some(true),
        });
    }
    Ok(Findings {
        lookups: out,
        pruned,
    })
}

/// What is wrong with a line of a trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Its content does not match its MAC, or it does not follow from the one before.
    Changed,
    /// Entries are missing before it.
    Removed,
    /// It stands before or after entries it should follow or precede.
    Reordered,
    /// A second copy of an entry that stands earlier.
    Duplicated,
    /// The trail does not start at its first entry and no prune marker says why.
    StartRemoved,
    /// An entry cut short: the end of the file, or a write that did not finish.
    Truncated,
    /// Not an audit entry at all (garbage, another format).
    NotAnEntry,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Changed => "changed",
            ProblemKind::Removed => "removed",
            ProblemKind::Reordered => "reordered",
            ProblemKind::Duplicated => "duplicated",
            ProblemKind::StartRemoved => "start_removed",
            ProblemKind::Truncated => "truncated",
            ProblemKind::NotAnEntry => "not_an_entry",
        }
    }
}

/// One finding of `audit verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub line: u64,
    pub kind: ProblemKind,
    pub detail: String,
}

/// Where a pruned trail starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cut {
    pub time: String,
    pub before: String,
    pub dropped: u64,
    /// The `seq` of the last dropped entry.
    pub after_seq: u64,
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// Entries read (prune markers not counted).
    pub entries: u64,
    pub problems: Vec<Problem>,
    /// The `seq` of the first entry kept (1 unless pruned).
    pub first_seq: Option<u64>,
    /// The last entry's `seq` and `mac`: record them to notice entries removed from
    /// the end later.
    pub last_seq: Option<u64>,
    pub head: Option<String>,
    /// The trail was pruned: where it was cut.
    pub cut: Option<Cut>,
}

impl Verified {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A line read as an entry of this format, with what `verify` needs of it.
fn parse_entry(text: &str) -> Option<Line> {
    serde_json::from_str::<Line>(text)
        .ok()
        .filter(|e| e.v == Some(FORMAT) && e.seq.is_some() && e.mac.is_some())
}

fn entries_word(n: u64) -> &'static str {
    if n == 1 { "entry" } else { "entries" }
}

/// `a` or `a..b`, for a run of sequence numbers.
fn span(from: u64, to: u64) -> String {
    if from == to {
        format!("{from}")
    } else {
        format!("{from}..{to}")
    }
}

/// Checks every entry of the trail at `path` against its MAC and the one before, and
/// says by line what is wrong.
///
/// The chain is followed from the highest entry seen so far: an entry that takes up
/// from it is fine; one that jumps ahead is `removed` (the entries in between are
/// nowhere) or `reordered` (they stand later in the file); one that goes back is
/// `reordered` or `duplicated`. So a swap of two lines reports those two lines, and
/// a removed line the line after the gap.
pub fn verify(path: &Path, key: &AuditKey) -> Result<Verified, Error> {
    verify_snapshot(path, &Snapshot::take(path)?, key)
}

fn verify_snapshot(path: &Path, snap: &Snapshot, key: &AuditKey) -> Result<Verified, Error> {
    // First pass: the line each entry first stands on, to tell a gap from a reorder.
    // Ordered, so that a gap is counted over the entries that exist rather than every
    // number in it: a forged `seq` near u64::MAX must not make this walk for ages.
    let mut at: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
    for line in snap.lines(path)? {
        let (n, text, _) = line?;
        if let Some(e) = parse_entry(&text).filter(|e| !e.is_marker()) {
            at.entry(e.seq.unwrap_or(0)).or_insert(n);
        }
    }
    let mut problems = Vec::new();
    let mut problem = |line: u64, kind: ProblemKind, detail: String| {
        problems.push(Problem { line, kind, detail });
    };
    // The highest entry so far: what the next one must take up.
    let (mut top_seq, mut top_mac) = (0u64, GENESIS.to_owned());
    let mut cut = None;
    let mut entries = 0u64;
    let mut first_seq = None;
    let mut head = None;
    for line in snap.lines(path)? {
        let (n, text, whole) = line?;
        if !whole {
            if text.starts_with("{\"v\":") {
                problem(
                    n,
                    ProblemKind::Truncated,
                    "the last line is cut short (a write that did not finish, or the file was cut)"
                        .to_owned(),
                );
            } else {
                problem(
                    n,
                    ProblemKind::NotAnEntry,
                    "not an audit entry: something was appended to the trail".to_owned(),
                );
            }
            break;
        }
        let Some(entry) = parse_entry(&text) else {
            if serde_json::from_str::<Line>(&text)
                .is_ok_and(|e| e.v.is_none() && e.cpr_hash.is_some())
            {
                return Err(Error::AuditOldFormat {
                    path: path.to_path_buf(),
                });
            }
            if text.starts_with("{\"v\":") {
                // A writer stopped halfway (a crash); the next one began a line of its own.
                problem(
                    n,
                    ProblemKind::Truncated,
                    "an entry cut short (a write that did not finish, e.g. a crash): what it recorded is lost"
                        .to_owned(),
                );
            } else {
                problem(
                    n,
                    ProblemKind::NotAnEntry,
                    "not an audit entry of this trail (garbage, or a line of another file)"
                        .to_owned(),
                );
            }
            continue;
        };
        if key.verify_line(&text) != Some(true) {
            problem(
                n,
                ProblemKind::Changed,
                "its content does not match its MAC: it was edited after it was written".to_owned(),
            );
        }
        let seq = entry.seq.unwrap_or(0);
        let mac = entry.mac.clone().unwrap_or_default();
        if entry.is_marker() {
            if n != 1 || entries > 0 {
                problem(
                    n,
                    ProblemKind::NotAnEntry,
                    "a prune marker belongs on the first line only".to_owned(),
                );
                continue;
            }
            cut = Some(Cut {
                time: entry.time.clone().unwrap_or_default(),
                before: entry.before.clone().unwrap_or_default(),
                dropped: entry.dropped.unwrap_or(0),
                after_seq: seq,
            });
            top_seq = seq;
            top_mac = entry.prev.clone().unwrap_or_default();
            continue;
        }
        entries += 1;
        if let Some(&first) = at.get(&seq)
            && first < n
        {
            problem(
                n,
                ProblemKind::Duplicated,
                format!("entry {seq} again: a copy of line {first}"),
            );
            continue;
        }
        if seq <= top_seq {
            problem(
                n,
                ProblemKind::Reordered,
                format!("entry {seq} comes after entry {top_seq}: the entries are out of order"),
            );
            continue;
        }
        if seq > top_seq + 1 {
            let (from, to) = (top_seq + 1, seq - 1);
            let later = at.range(from..=to).filter(|&(_, &l)| l > n).count() as u64;
            let gone = to - from + 1 - later;
            if entries == 1 && cut.is_none() && gone > 0 {
                problem(
                    n,
                    ProblemKind::StartRemoved,
                    format!(
                        "the trail starts at entry {seq}, not at entry 1, and no prune marker says why: {gone} {} {} removed from its start",
                        entries_word(gone),
                        if gone == 1 { "was" } else { "were" }
                    ),
                );
            } else if gone == 0 {
                problem(
                    n,
                    ProblemKind::Reordered,
                    format!(
                        "entry {seq} stands before {} {}, which come{} later: the entries are out of order",
                        entries_word(later),
                        span(from, to),
                        if later == 1 { "s" } else { "" }
                    ),
                );
            } else {
                problem(
                    n,
                    ProblemKind::Removed,
                    format!(
                        "{gone} {} {} missing before entry {seq} (expected entry {from} here): removed from the trail",
                        entries_word(gone),
                        if gone == 1 { "is" } else { "are" }
                    ),
                );
            }
        } else if entry.prev.as_deref() != Some(top_mac.as_str()) {
            problem(
                n,
                ProblemKind::Changed,
                format!(
                    "it does not follow from entry {top_seq}: one of the two was changed, or this one put in its place"
                ),
            );
        }
        first_seq.get_or_insert(seq);
        top_seq = seq;
        top_mac = mac.clone();
        head = Some((seq, mac));
    }
    Ok(Verified {
        entries,
        problems,
        first_seq,
        last_seq: head.as_ref().map(|h| h.0),
        head: head.map(|h| h.1),
        cut,
    })
}

/// What `audit prune` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub dropped: u64,
    pub kept: u64,
}

/// Drops the entries from before `before` (from the start of the trail up to the first
/// entry at or after it), writing a sealed marker in their place, so that the rest
/// still verifies. The trail must verify first. The file is rewritten atomically,
/// under the lock writers take.
pub fn prune(path: &Path, key: &AuditKey, before: DateTime<Utc>) -> Result<Pruned, Error> {
    let io = |source: std::io::Error| Error::Audit {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    lock_current(path, &mut file).map_err(io)?;
    let result = prune_locked(path, &file, key, before);
    let _ = file.unlock();
    result
}

fn prune_locked(
    path: &Path,
    file: &File,
    key: &AuditKey,
    before: DateTime<Utc>,
) -> Result<Pruned, Error> {
    let io = |source: std::io::Error| Error::Audit {
        path: path.to_path_buf(),
        source,
    };
    // (Not `verify`: its shared lock would wait for the one held here.)
    let snap = Snapshot::locked(path, file)?;
    let checked = verify_snapshot(path, &snap, key)?;
    if let Some(p) = checked.problems.first() {
        return Err(Error::AuditFormat {
            path: path.to_path_buf(),
            line: p.line,
            problem: format!(
                "{}; a trail that does not verify is not pruned (that would hide what is wrong)",
                p.detail
            ),
        });
    }
    let mut dropped = 0u64;
    let mut last: Option<(u64, String)> = None;
    let mut kept: Vec<String> = Vec::new();
    let mut earlier_drops = 0u64;
    for line in snap.lines(path)? {
        let (_, text, _) = line?;
        let entry: Line = serde_json::from_str(&text).unwrap_or_default();
        if !kept.is_empty() {
            kept.push(text);
            continue;
        }
        if entry.is_marker() {
            earlier_drops = checked.cut.as_ref().map_or(0, |c| c.dropped);
            last = entry.link();
            continue;
        }
        let older = entry
            .time
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| t.with_timezone(&Utc) < before);
        if older {
            dropped += 1;
            last = entry.link();
        } else {
            kept.push(text);
        }
    }
    if dropped == 0 {
        return Ok(Pruned {
            dropped: 0,
            kept: kept.len() as u64,
        });
    }
    let Some((seq, prev)) = last else {
        return Ok(Pruned {
            dropped: 0,
            kept: kept.len() as u64,
        });
    };
    let time = now();
    let before_text = before.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let unsealed = serde_json::to_vec(&NewMarker {
        v: FORMAT,
        seq,
        time: &time,
        event: "pruned",
        before: &before_text,
        dropped: dropped.saturating_add(earlier_drops),
        prev: &prev,
    })
    .map_err(|e| io(e.into()))?;
    let (marker, _) = key.seal(&unsealed);
    let mut bytes = marker;
    for line in &kept {
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
    }
    cprlink_cert::files::write_private(path, &bytes, cprlink_cert::files::Overwrite::Replace)
        .map_err(|e| io(std::io::Error::other(e.to_string())))?;
    Ok(Pruned {
        dropped,
        kept: kept.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("logs")).unwrap();
        let log = dir.path().join("logs").join("audit.jsonl");
        let key = dir.path().join("keys").join("audit.key");
        (dir, log, key)
    }

    #[test]
    fn entries_are_masked_keyed_chained_and_private() {
        let (_dir, log, key) = setup();
        let cpr = Cpr::parse("0101011234").unwrap();
        let a = AuditLog::open(&log, &key, Some("mailing 2025".to_owned())).unwrap();
        a.record(&cpr, Status::Found, "rest").unwrap();
        let h1 = a.hash(&cpr);
        drop(a);
        // Reopened: same key, same hash; appended, chained on.
        let a = AuditLog::open(&log, &key, None).unwrap();
        assert_eq!(a.hash(&cpr), h1);
        a.record_all(&[(cpr, Status::NotFound), (cpr, Status::Error)], "graphql")
            .unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(!text.contains("0101011234"), "{text}");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["cpr_masked"], "010101-xxxx");
        assert_eq!(lines[0]["purpose"], "mailing 2025");
        assert_eq!(lines[0]["prev"], GENESIS);
        assert_eq!(lines[1]["prev"], lines[0]["mac"]);
        assert_eq!(lines[2]["seq"], 3);
        for p in [&log, &key] {
            assert_eq!(
                std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
                0o600,
                "{}",
                p.display()
            );
        }
        let k = AuditKey::open(&key, false).unwrap();
        assert!(verify(&log, &k).unwrap().ok());
        assert_eq!(find(&log, &k, &cpr, None).unwrap().lookups.len(), 3);
        // Another key gives other hashes.
        let other = tempfile::tempdir().unwrap();
        let k2 = AuditKey::open(&other.path().join("k"), true).unwrap();
        assert_ne!(k2.cpr_hash(&cpr), h1);
        assert!(!verify(&log, &k2).unwrap().ok());
    }

    #[test]
    fn the_key_is_never_beside_the_log_nor_readable_by_others() {
        let (_dir, log, _) = setup();
        let beside = log.with_file_name("audit.key");
        let e = AuditLog::open(&log, &beside, None).unwrap_err();
        assert!(matches!(e, Error::AuditKey { .. }), "{e}");
        assert!(!beside.exists(), "the key was created beside the log");
        let (_d2, log2, key2) = setup();
        AuditLog::open(&log2, &key2, None).unwrap();
        std::fs::set_permissions(&key2, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(AuditLog::open(&log2, &key2, None).is_err());
        let env = |k: &str| match k {
            "HOME" => Some("/home/op".to_owned()),
            _ => None,
        };
        assert_eq!(
            default_key_path(&env).unwrap(),
            PathBuf::from("/home/op/.local/share/cprlink/audit.key")
        );
    }

    #[test]
    fn an_old_salted_trail_is_not_continued() {
        let (_dir, log, key) = setup();
        std::fs::write(
            &log,
            "{\"time\":\"2025-01-01T00:00:00Z\",\"cpr_masked\":\"010101-xxxx\",\"cpr_hash\":\"ab\",\"outcome\":\"found\"}\n",
        )
        .unwrap();
        let before = std::fs::read(&log).unwrap();
        let e = AuditLog::open(&log, &key, None).unwrap_err();
        assert!(matches!(e, Error::AuditOldFormat { .. }), "{e}");
        assert_eq!(std::fs::read(&log).unwrap(), before);
    }

    #[test]
    fn two_writers_and_a_crash_keep_one_chain() {
        let (_dir, log, key) = setup();
        let cpr = Cpr::parse("0202021234").unwrap();
        let a = AuditLog::open(&log, &key, Some("a".to_owned())).unwrap();
        let b = AuditLog::open(&log, &key, Some("b".to_owned())).unwrap();
        for i in 0..20 {
            let w = if i % 3 == 0 { &a } else { &b };
            w.record(&cpr, Status::Found, "rest").unwrap();
        }
        // A write cut short: the next entry starts on a line of its own.
        let mut f = OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(b"{\"v\":2,\"seq\":21,\"ti").unwrap();
        a.record(&cpr, Status::Found, "rest").unwrap();
        let k = AuditKey::open(&key, false).unwrap();
        let v = verify(&log, &k).unwrap();
        assert_eq!(v.entries, 21);
        assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
        assert_eq!(
            (v.problems[0].line, v.problems[0].kind),
            (21, ProblemKind::Truncated)
        );
        assert_eq!(v.last_seq, Some(21));
    }
}
