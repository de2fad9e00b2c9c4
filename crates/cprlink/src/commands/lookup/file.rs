//! The `--output` file of `cprlink lookup` and its rules: nothing in it is lost by a
//! mistake.
//!
//! Owns, for one output file: finding the real file behind the name (a symlink is
//! followed, so a rename replaces the file and not the link), refusing the input as
//! the output (the same file by device and inode: through a symlink, a hard link or
//! `< FILE` on stdin), the lock that refuses a second run at once (`FILE.lock` beside
//! it, kept like onboarding's), and how records reach the disk:
//!
//! - a new file, or `--force`: written to a temporary file beside it (mode 0600
//!   whatever the umask) that is renamed into place at the first record Datafordeler
//!   answered, or at the end of a run that asked nothing; a run that fails before
//!   that leaves the old file untouched and no temporary file behind;
//! - `--resume`: appended to, after cutting a half-written last line (done at the
//!   first write, so a run that fails before it changes nothing);
//! - `--retry-errors`: the whole file rewritten to a temporary file, renamed into place
//!   only when the run completes.
//!
//! A target that exists and is not a regular file (`/dev/null`, a pipe) is written
//! directly. It never renders records (see `output`) and never prints.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::exit::CliError;

/// The output file, resolved and locked for this run.
pub(super) struct Target {
    /// The real file: symlinks followed.
    pub path: PathBuf,
    /// What is there now.
    pub existing: Existing,
    /// Held until the run ends; `None` for a non-regular target.
    _lock: Option<File>,
}

/// What the output path holds before the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Existing {
    Nothing,
    /// A regular file of this many bytes.
    File(u64),
    /// A device, a pipe: written directly, never replaced.
    Special,
}

/// The lock file beside an output (`names.jsonl` -> `names.jsonl.lock`).
pub(super) fn lock_path(path: &Path) -> PathBuf {
    with_name(path, |n| format!("{n}.lock"))
}

/// The temporary file a run writes before it is renamed into place
/// (`names.jsonl` -> `.names.jsonl.cprlink.tmp`). One per output: only the lock holder
/// writes it, so one left by a killed run is removed by the next.
pub(super) fn temp_path(path: &Path) -> PathBuf {
    with_name(path, |n| format!(".{n}.cprlink.tmp"))
}

fn with_name(path: &Path, f: impl FnOnce(&str) -> String) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(f(&name))
}

/// The file behind `path`: itself when it does not exist yet (in its real directory),
/// else the end of its symlinks.
fn resolve(path: &Path) -> Result<PathBuf, CliError> {
    if std::fs::symlink_metadata(path).is_ok() {
        return std::fs::canonicalize(path).map_err(|e| {
            CliError::usage(format!("cannot use --output {}: {e}", path.display()))
                .with_hint("a symlink must point to a file in a directory that exists")
        });
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let real_dir = std::fs::canonicalize(dir).map_err(|e| {
        CliError::usage(format!(
            "cannot write --output {}: its directory {}: {e}",
            path.display(),
            dir.display()
        ))
        .with_hint("create the directory first, or name a file in one that exists")
    })?;
    let name = path
        .file_name()
        .ok_or_else(|| CliError::usage(format!("--output {} names no file", path.display())))?;
    Ok(real_dir.join(name))
}

/// Device and inode of a file, to tell whether two names are one file.
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

/// Resolves and locks `--output`. `input` is where the rows come from: a file, stdin
/// (`None`), or the command line (no check).
pub(super) fn open_target(
    output: &Path,
    input: Option<InputSource<'_>>,
) -> Result<Target, CliError> {
    let path = resolve(output)?;
    let meta = std::fs::metadata(&path).ok();
    if let (Some(meta), Some(source)) = (&meta, input) {
        let input_meta = match source {
            InputSource::File(p) => std::fs::metadata(p).ok(),
            // What stdin is: a pipe has its own inode and never matches a file.
            InputSource::Stdin => std::fs::metadata("/dev/stdin").ok(),
        };
        if input_meta.is_some_and(|m| m.is_file() && identity(&m) == identity(meta)) {
            let named = match source {
                InputSource::File(p) => format!("the input {}", p.display()),
                InputSource::Stdin => "the input (stdin is redirected from it)".to_owned(),
            };
            return Err(CliError::usage(format!(
                "--output {} is the input: {named} is the same file, and writing the records there would destroy it",
                output.display()
            ))
            .with_hint("write the records to another file, e.g. --output names.jsonl"));
        }
    }
    let existing = match &meta {
        None => Existing::Nothing,
        Some(m) if m.is_file() => Existing::File(m.len()),
        Some(_) => Existing::Special,
    };
    if existing == Existing::Special {
        return Ok(Target {
            path,
            existing,
            _lock: None,
        });
    }
    let lp = lock_path(&path);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lp)
        .map_err(|e| {
            CliError::usage(format!("cannot write {}: {e}", lp.display())).with_hint(
                "cprlink keeps a .lock file beside --output: the directory must be writable",
            )
        })?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(CliError::usage(format!(
                "another cprlink lookup is writing {} (it holds {})",
                output.display(),
                lp.display()
            ))
            .with_hint(
                "wait for it to finish (or stop it), then run again; two runs on one output would mix their records",
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(CliError::usage(format!(
                "cannot lock {}: {e}",
                lp.display()
            )));
        }
    }
    // Ours to remove: only the lock holder writes it, and a killed run left it.
    let _ = std::fs::remove_file(temp_path(&path));
    Ok(Target {
        path,
        existing,
        _lock: Some(lock),
    })
}

/// Where the input rows come from, for the same-file check.
#[derive(Debug, Clone, Copy)]
pub(super) enum InputSource<'a> {
    File(&'a Path),
    Stdin,
}

/// How records reach the output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Writing {
    /// A new file (or `--force`): staged, in place at the first answer.
    Replace,
    /// `--resume`: appended, after cutting `cut_to` bytes' worth of whole lines.
    Append { cut_to: u64 },
    /// `--retry-errors`: staged, in place when the run completes.
    Rewrite,
}

enum State {
    /// Records go to the temporary file until it is renamed over `target`.
    Staged {
        file: File,
        temp: PathBuf,
        target: PathBuf,
        at_first_answer: bool,
    },
    /// Appending; the half line is cut at the first write.
    Appending { file: File, cut_to: Option<u64> },
    /// The file in place (renamed, appended to, or a device).
    Direct(File),
    /// Given up: nothing more is written.
    Closed,
}

/// The output being written, shared by the sink (the writer thread) and the command,
/// which commits or discards it when the run ends.
#[derive(Clone)]
pub(super) struct Output {
    state: Arc<Mutex<State>>,
}

impl Output {
    /// Opens `target` for `writing`. Nothing existing is changed yet.
    pub(super) fn open(target: &Target, writing: Writing) -> Result<Output, CliError> {
        let wrap = |p: &Path, e: io::Error| {
            CliError::usage(format!("cannot write {}: {e}", p.display()))
                .with_hint("check that the directory is writable and the disk is not full")
        };
        let state = if target.existing == Existing::Special {
            let file = OpenOptions::new()
                .write(true)
                .open(&target.path)
                .map_err(|e| wrap(&target.path, e))?;
            State::Direct(file)
        } else {
            match writing {
                Writing::Append { cut_to } => {
                    let file = OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open(&target.path)
                        .map_err(|e| wrap(&target.path, e))?;
                    State::Appending {
                        file,
                        cut_to: Some(cut_to),
                    }
                }
                Writing::Replace | Writing::Rewrite => {
                    let temp = temp_path(&target.path);
                    let file = OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(&temp)
                        .map_err(|e| wrap(&temp, e))?;
                    // The umask may have narrowed the mode; records are personal data.
                    file.set_permissions(std::fs::Permissions::from_mode(0o600))
                        .map_err(|e| wrap(&temp, e))?;
                    State::Staged {
                        file,
                        temp,
                        target: target.path.clone(),
                        at_first_answer: writing == Writing::Replace,
                    }
                }
            }
        };
        Ok(Output {
            state: Arc::new(Mutex::new(state)),
        })
    }

    /// Writes whole lines; `answered` says that Datafordeler answered one of them.
    pub(super) fn write(&self, bytes: &[u8], answered: bool) -> io::Result<()> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| io::Error::other("the output's lock is poisoned"))?;
        let commit_now = match &mut *state {
            State::Staged {
                file,
                at_first_answer,
                ..
            } => {
                file.write_all(bytes)?;
                answered && *at_first_answer
            }
            State::Appending { file, cut_to } => {
                if let Some(len) = cut_to.take() {
                    file.set_len(len)?;
                    file.seek(SeekFrom::End(0))?;
                }
                file.write_all(bytes)?;
                false
            }
            State::Direct(file) => {
                file.write_all(bytes)?;
                false
            }
            State::Closed => return Err(io::Error::other("the output was closed")),
        };
        if commit_now {
            commit(&mut state)?;
        }
        Ok(())
    }

    /// The run completed (or stopped after answers were written): puts a staged file
    /// in place.
    pub(super) fn commit(&self) -> io::Result<()> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| io::Error::other("the output's lock is poisoned"))?;
        match &*state {
            State::Staged { .. } => commit(&mut state),
            State::Appending { .. } | State::Direct(_) | State::Closed => Ok(()),
        }
    }

    /// The run failed: a staged file is removed, the old file stays as it was. Returns
    /// whether the old file was left untouched.
    pub(super) fn discard(&self) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        match std::mem::replace(&mut *state, State::Closed) {
            State::Staged { temp, .. } => {
                let _ = std::fs::remove_file(temp);
                true
            }
            State::Appending { cut_to, .. } => cut_to.is_some(),
            State::Direct(_) | State::Closed => false,
        }
    }
}

/// Renames the staged file over its target, after it reached the disk.
fn commit(state: &mut State) -> io::Result<()> {
    let State::Staged {
        file, temp, target, ..
    } = std::mem::replace(state, State::Closed)
    else {
        return Ok(());
    };
    file.sync_all()?;
    std::fs::rename(&temp, &target)?;
    if let Some(dir) = target.parent()
        && let Ok(d) = File::open(dir)
    {
        // Best effort: some filesystems refuse to fsync a directory.
        let _ = d.sync_all();
    }
    *state = State::Direct(file);
    Ok(())
}
