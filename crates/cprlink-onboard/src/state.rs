//! The case file on disk (`onboarding.toml`): its shape, versions, lock and writing.
//!
//! Owns reading (with the line and column of what is wrong), migrating older versions
//! in memory, refusing a file from a newer cprlink, the `.lock` file that keeps two runs
//! from interleaving, and writing atomically (temp file, fsync, rename) so a crash or
//! Ctrl-C leaves the old file or the new one, never half of one. A file it cannot read
//! is never overwritten. It holds no secrets and no CPR numbers: nothing here asks for
//! them, and the fields are facts about the process.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::steps::{Route, TargetEnvironment};

/// The state version this cprlink writes.
pub const CURRENT_VERSION: u32 = 1;

/// A step's stored progress ("waiting" is derived, never stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    NotStarted,
    InProgress,
    Done,
}

/// What is recorded for one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRecord {
    pub id: String,
    pub progress: Progress,
    /// The day the first fact was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_on: Option<NaiveDate>,
    /// Fact key -> value; dates as YYYY-MM-DD.
    #[serde(default)]
    pub facts: BTreeMap<String, String>,
}

impl StepRecord {
    pub fn new(id: &str) -> Self {
        StepRecord {
            id: id.to_owned(),
            progress: Progress::NotStarted,
            started_on: None,
            done_on: None,
            facts: BTreeMap::new(),
        }
    }
}

/// One change: who (OS user), when, what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub who: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub what: String,
}

/// The whole case file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub version: u32,
    pub authority: String,
    pub cvr: String,
    pub route: Route,
    pub environment: TargetEnvironment,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    pub created_on: NaiveDate,
    /// One entry per step of the route, in route order.
    #[serde(default, rename = "step")]
    pub steps: Vec<StepRecord>,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

impl State {
    pub fn step(&self, id: &str) -> Option<&StepRecord> {
        self.steps.iter().find(|s| s.id == id)
    }

    pub fn step_mut(&mut self, id: &str) -> Option<&mut StepRecord> {
        self.steps.iter_mut().find(|s| s.id == id)
    }

    /// A recorded fact.
    pub fn fact(&self, step: &str, key: &str) -> Option<&str> {
        self.step(step)
            .and_then(|s| s.facts.get(key))
            .map(String::as_str)
    }

    /// A recorded date fact (`YYYY-MM-DD`).
    pub fn fact_date(&self, step: &str, key: &str) -> Option<NaiveDate> {
        self.fact(step, key)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    }

    /// The file's text.
    pub fn to_toml(&self) -> Result<String, String> {
        let body = toml::to_string(self).map_err(|e| e.to_string())?;
        Ok(format!(
            "# cprlink onboarding case file: written by `cprlink onboard`; read it with\n\
             # `cprlink onboard status` or `report`. It holds no passwords and no CPR numbers.\n\n{body}"
        ))
    }
}

/// A step from one version to the next, on the raw TOML table.
pub type Migration = fn(&mut toml::Table) -> Result<(), String>;

/// `MIGRATIONS[i]` turns version `i + 1` into version `i + 2`. Empty while only
/// version 1 exists; a v2 adds its `migrate_v1_to_v2` here and bumps [`CURRENT_VERSION`].
pub const MIGRATIONS: &[Migration] = &[];

/// Parses a case file's text: checks the version, migrates, and checks the steps
/// against the route. `path` is for messages.
pub fn parse(path: &Path, text: &str) -> Result<State, Error> {
    parse_with(path, text, MIGRATIONS)
}

/// [`parse`] with a given migration chain (the target version is `migrations.len() + 1`).
pub fn parse_with(path: &Path, text: &str, migrations: &[Migration]) -> Result<State, Error> {
    let target = migrations.len() as u32 + 1;
    let corrupt_at = |offset: Option<usize>, message: String| {
        let (line, column) = offset.map_or((1, 1), |o| line_column(text, o));
        Error::Corrupt {
            path: path.to_path_buf(),
            line,
            column,
            message,
        }
    };
    let mut table: toml::Table = toml::from_str(text)
        .map_err(|e| corrupt_at(e.span().map(|s| s.start), e.message().trim().to_owned()))?;
    let version = match table.get("version") {
        Some(toml::Value::Integer(v)) => *v,
        Some(_) => {
            return Err(corrupt_at(
                find_key(text, "version"),
                "`version` must be a whole number".to_owned(),
            ));
        }
        None => {
            return Err(corrupt_at(
                None,
                "no `version` field: not a cprlink onboarding file".to_owned(),
            ));
        }
    };
    if version > i64::from(target) {
        return Err(Error::NewerVersion {
            path: path.to_path_buf(),
            found: version,
            supported: target,
        });
    }
    if version < 1 {
        return Err(corrupt_at(
            find_key(text, "version"),
            format!("unknown version {version}"),
        ));
    }
    let state: State = if version == i64::from(target) {
        // Deserialise from the text itself so that errors keep their position.
        toml::from_str(text)
            .map_err(|e| corrupt_at(e.span().map(|s| s.start), e.message().trim().to_owned()))?
    } else {
        for (i, migrate) in migrations.iter().enumerate().skip(version as usize - 1) {
            migrate(&mut table)
                .map_err(|m| corrupt_at(None, format!("migrating from version {}: {m}", i + 1)))?;
            table.insert("version".to_owned(), toml::Value::Integer(i as i64 + 2));
        }
        State::deserialize(toml::Value::Table(table))
            .map_err(|e| corrupt_at(None, format!("after migration: {}", e.message().trim())))?
    };
    check_steps(path, text, state)
}

/// The steps must be the route's, in its order; missing ones are added (a file from
/// before a step existed), unknown ones are an error.
fn check_steps(path: &Path, text: &str, mut state: State) -> Result<State, Error> {
    let defs = state.route.steps();
    for rec in &state.steps {
        if !defs.iter().any(|d| d.id == rec.id) {
            let (line, column) = find_value(text, &rec.id).map_or((1, 1), |o| line_column(text, o));
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                line,
                column,
                message: format!("step `{}` is not a step of route {}", rec.id, state.route),
            });
        }
    }
    let mut ordered = Vec::with_capacity(defs.len());
    for def in defs {
        let mut found = state.steps.iter().filter(|r| r.id == def.id);
        let rec = found
            .next()
            .cloned()
            .unwrap_or_else(|| StepRecord::new(def.id));
        if found.next().is_some() {
            let (line, column) = find_value(text, def.id).map_or((1, 1), |o| line_column(text, o));
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                line,
                column,
                message: format!("step `{}` appears twice", def.id),
            });
        }
        ordered.push(rec);
    }
    state.steps = ordered;
    state.version = CURRENT_VERSION.max(state.version);
    Ok(state)
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn find_key(text: &str, key: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with(key) {
            return Some(offset + line.len() - line.trim_start().len());
        }
        offset += line.len();
    }
    None
}

fn find_value(text: &str, value: &str) -> Option<usize> {
    text.find(&format!("\"{value}\""))
}

/// Reads and parses the case file at `path`.
pub fn read(path: &Path) -> Result<State, Error> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::StateMissing {
                path: path.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(Error::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(e.as_bytes());
        let (line, column) = line_column(&text, offset);
        Error::Corrupt {
            path: path.to_path_buf(),
            line,
            column,
            message: "the file is not UTF-8 text".to_owned(),
        }
    })?;
    parse(path, &text)
}

/// Writes the case file atomically (mode 0644: it holds no secrets).
pub fn write(path: &Path, state: &State) -> Result<(), Error> {
    let text = state.to_toml().map_err(|reason| Error::Write {
        path: path.to_path_buf(),
        reason,
    })?;
    cprlink_cert::files::write_atomic(
        path,
        text.as_bytes(),
        0o644,
        cprlink_cert::files::Overwrite::Replace,
    )
    .map_err(|e| Error::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The `.lock` file beside a case file (`onboarding.toml` -> `onboarding.toml.lock`).
pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lock");
    path.with_file_name(name)
}

/// An exclusive lock on a case file, held until dropped. The lock file itself stays
/// (removing it would race with a run that just opened it); it is empty.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Takes the lock for `path` without waiting: a second run gets [`Error::Locked`].
pub fn lock(path: &Path) -> Result<Lock, Error> {
    let lp = lock_path(path);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lp)
        .map_err(|source| Error::Read {
            path: lp.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Lock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked {
            path: path.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(Error::Read { path: lp, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_have_line_and_column() {
        let text = "version = 1\nauthority = \"A\"\ncvr = \n";
        match parse(Path::new("x.toml"), text) {
            Err(Error::Corrupt { line, column, .. }) => {
                assert_eq!(line, 3);
                assert!(column >= 6, "column {column}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn newer_versions_are_refused() {
        let text = "version = 7\nwhatever = true\n";
        assert!(matches!(
            parse(Path::new("x.toml"), text),
            Err(Error::NewerVersion {
                found: 7,
                supported: 1,
                ..
            })
        ));
    }

    #[test]
    fn lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("onboarding.toml");
        let first = lock(&path).unwrap();
        assert!(matches!(lock(&path), Err(Error::Locked { .. })));
        drop(first);
        assert!(lock(&path).is_ok());
    }
}
