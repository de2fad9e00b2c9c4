//! The case file on disk (`onboarding.toml`): its shape, versions, checks, lock and
//! writing.
//!
//! Owns reading (with the line and column of what is wrong), checking every value it
//! loads by the rules of the flags that record it (so nothing typed by hand into the
//! file reaches a terminal or a letter raw), migrating older versions in memory,
//! refusing a file from a newer cprlink, keeping the old file as `FILE.v1.bak` when a
//! migrated case is first written, the `.lock` file that keeps two runs from
//! interleaving, and writing atomically (a temporary file named after the case file,
//! fsync, rename) so a crash or Ctrl-C leaves the old file or the new one, never half
//! of one; a temporary file left by a writer that was killed is removed by the next
//! one that holds the lock. A file it cannot read is never overwritten. It holds no
//! secrets and no CPR numbers: nothing here asks for them, and the fields are facts
//! about the process.
//!
//! Version 2 is built so that later additions need no version 3: every history entry
//! says who (the operator) and which facts it set and replaced; facts keep the dates
//! of the world (`applied_on`, `approved_on`, ...) apart from the days they were typed
//! in (`first_recorded_on`, `marked_done_on`, the history's `at`); and optional
//! sections with defaults hold a renewal in progress and the past renewals.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue};

use crate::error::Error;
use crate::steps::{FieldKind, Route, StepDef, TargetEnvironment};
use crate::validate;

/// The state version this cprlink writes.
pub const CURRENT_VERSION: u32 = 2;

/// The longest string any value of a case file may hold (a file path is the longest
/// thing cprlink itself writes); the fields have their own, smaller limits.
pub const MAX_VALUE: usize = 4096;

/// The first line of every case file; also how a stray temporary file of an older
/// cprlink is recognised as a case file.
const HEADER: &str = "# cprlink onboarding case file";

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
    /// The day something was first recorded for the step (typed in; the facts hold
    /// the dates of the world).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_recorded_on: Option<NaiveDate>,
    /// The day the step was marked done (typed in; see [`crate::StepDef::done_date`]
    /// for the fact that dates it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marked_done_on: Option<NaiveDate>,
    /// Fact key -> value; dates as YYYY-MM-DD.
    #[serde(default)]
    pub facts: BTreeMap<String, String>,
}

impl StepRecord {
    pub fn new(id: &str) -> Self {
        StepRecord {
            id: id.to_owned(),
            progress: Progress::NotStarted,
            first_recorded_on: None,
            marked_done_on: None,
            facts: BTreeMap::new(),
        }
    }
}

/// One change: who, when, what, and which facts it set and replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    /// The operator: `--by NAME`, else `CPRLINK_OPERATOR`, else the login name.
    pub who: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub what: String,
    /// The fact keys this change set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// The values this change replaced or removed: a rotated credential's old facts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub previous: BTreeMap<String, String>,
}

/// A renewal of the credential (a new certificate or shared secret), tracked like the
/// onboarding: its steps and facts, the credential it replaces and the new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Renewal {
    /// `certificate` or `shared-secret`.
    pub method: String,
    pub started_on: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_on: Option<NaiveDate>,
    /// The credential being replaced, as recorded at the credential step.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub old: BTreeMap<String, String>,
    /// The new credential's facts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub new: BTreeMap<String, String>,
    /// The renewal's steps (`register-new`, `install-dpg`, `confirm`, `retire-old`).
    #[serde(default, rename = "step", skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepRecord>,
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
    /// A renewal in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal: Option<Renewal>,
    /// Renewals done, oldest first.
    #[serde(
        default,
        rename = "past_renewal",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub past_renewals: Vec<Renewal>,
}

impl State {
    /// A step of the route, or of the renewal in progress (the ids never overlap).
    pub fn step(&self, id: &str) -> Option<&StepRecord> {
        self.steps
            .iter()
            .chain(self.renewal.iter().flat_map(|r| r.steps.iter()))
            .find(|s| s.id == id)
    }

    pub fn step_mut(&mut self, id: &str) -> Option<&mut StepRecord> {
        self.steps
            .iter_mut()
            .chain(self.renewal.iter_mut().flat_map(|r| r.steps.iter_mut()))
            .find(|s| s.id == id)
    }

    /// The credential method of the case (`certificate` or `shared-secret`; always
    /// `certificate` on selfservice), once recorded.
    pub fn credential_method(&self) -> Option<&str> {
        match self.route {
            Route::Selfservice => Some("certificate"),
            Route::Administration => self.fact("credential", "method"),
        }
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
            "{HEADER}: written by `cprlink onboard`; read it with\n\
             # `cprlink onboard status` or `report`. It holds no passwords and no CPR numbers.\n\n{body}"
        ))
    }
}

/// A step from one version to the next, on the raw TOML table.
pub type Migration = fn(&mut toml::Table) -> Result<(), String>;

/// `MIGRATIONS[i]` turns version `i + 1` into version `i + 2`.
pub const MIGRATIONS: &[Migration] = &[migrate_v1_to_v2];

/// Version 1 -> 2: the administration route's `oauth-certificate` became `credential`
/// (method `certificate`, its facts carried over); `data-access` is requested, then
/// granted (`added_on` becomes `requested_on`, and `granted_on` too when the step was
/// done); a handover recorded by version 1 went to DPG Service Center (`via`); the
/// steps' typed-in days are named as such (`started_on` -> `first_recorded_on`,
/// `done_on` -> `marked_done_on`).
pub fn migrate_v1_to_v2(table: &mut toml::Table) -> Result<(), String> {
    let administration = table.get("route").and_then(toml::Value::as_str) == Some("administration");
    if let Some(steps) = table.get_mut("step") {
        let steps = steps
            .as_array_mut()
            .ok_or("`step` must be a list of [[step]] tables")?;
        for step in steps {
            let step = step
                .as_table_mut()
                .ok_or("every [[step]] must be a table")?;
            for (old, new) in [
                ("started_on", "first_recorded_on"),
                ("done_on", "marked_done_on"),
            ] {
                if let Some(v) = step.remove(old) {
                    step.insert(new.to_owned(), v);
                }
            }
            let id = step
                .get("id")
                .and_then(toml::Value::as_str)
                .unwrap_or("")
                .to_owned();
            let done = step.get("progress").and_then(toml::Value::as_str) == Some("done");
            let facts = step
                .entry("facts")
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .ok_or("a step's `facts` must be a table")?;
            match id.as_str() {
                "oauth-certificate" if administration => {
                    if !facts.is_empty() {
                        facts.insert("method".to_owned(), "certificate".into());
                    }
                    step.insert("id".to_owned(), "credential".into());
                }
                "data-access" if administration => {
                    if let Some(added) = facts.remove("added_on") {
                        if done {
                            facts.insert("granted_on".to_owned(), added.clone());
                        }
                        facts.insert("requested_on".to_owned(), added);
                    }
                }
                "dpg-handover" if !facts.is_empty() && !facts.contains_key("via") => {
                    facts.insert("via".to_owned(), "service-center".into());
                }
                _ => {}
            }
        }
    }
    if administration && let Some(history) = table.get_mut("history").and_then(|h| h.as_array_mut())
    {
        for entry in history.iter_mut().filter_map(toml::Value::as_table_mut) {
            if entry.get("step").and_then(toml::Value::as_str) == Some("oauth-certificate") {
                entry.insert("step".to_owned(), "credential".into());
            }
        }
    }
    Ok(())
}

/// A case file as read: the state (migrated to [`CURRENT_VERSION`] in memory) and the
/// version the file itself has.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub state: State,
    pub file_version: u32,
}

/// Parses a case file's text: checks the version, migrates, checks the steps against
/// the route and every value by the rules of its flag. `path` is for messages.
pub fn parse(path: &Path, text: &str) -> Result<State, Error> {
    parse_with(path, text, MIGRATIONS).map(|l| l.state)
}

/// [`parse`] with a given migration chain (the target version is `migrations.len() + 1`).
pub fn parse_with(path: &Path, text: &str, migrations: &[Migration]) -> Result<Loaded, Error> {
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
    // Before anything reads a value: nothing with a control character or of absurd
    // length goes further, wherever it is in the file.
    let doc = DeTable::parse(text)
        .map_err(|e| corrupt_at(e.span().map(|s| s.start), e.message().trim().to_owned()))?;
    check_strings(doc.get_ref(), "")
        .map_err(|(offset, message)| corrupt_at(Some(offset), message))?;
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
    let state = check_steps(path, text, state)?;
    check_values(&state).map_err(|(spot, message)| {
        let offset = spot.locate(doc.get_ref());
        corrupt_at(offset, message)
    })?;
    Ok(Loaded {
        state,
        // Within 1..=target, checked above.
        file_version: version as u32,
    })
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
                message: format!(
                    "step {} is not a step of route {}",
                    crate::error::shown(&rec.id),
                    state.route
                ),
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

/// Every string in the document (keys too): no forbidden character, at most
/// [`MAX_VALUE`] characters. The value itself is never part of the message.
fn check_strings(table: &DeTable<'_>, at: &str) -> Result<(), (usize, String)> {
    for (key, value) in table.iter() {
        let name = if at.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{at}.{}", key.get_ref())
        };
        check_string(key.get_ref(), key.span().start, &name)?;
        check_value(value.get_ref(), value.span().start, &name)?;
    }
    Ok(())
}

fn check_value(value: &DeValue<'_>, offset: usize, name: &str) -> Result<(), (usize, String)> {
    match value {
        DeValue::String(s) => check_string(s, offset, name),
        DeValue::Array(items) => {
            for item in items.iter() {
                check_value(item.get_ref(), item.span().start, name)?;
            }
            Ok(())
        }
        DeValue::Table(t) => check_strings(t, name),
        _ => Ok(()),
    }
}

fn check_string(s: &str, offset: usize, name: &str) -> Result<(), (usize, String)> {
    if let Some(c) = s.chars().find(|c| validate::forbidden_char(*c)) {
        return Err((
            offset,
            format!(
                "`{name}` holds a control character (U+{:04X}); values are one line of plain text",
                u32::from(c)
            ),
        ));
    }
    let n = s.chars().count();
    if n > MAX_VALUE {
        return Err((
            offset,
            format!("`{name}` is {n} characters long; at most {MAX_VALUE} are allowed"),
        ));
    }
    Ok(())
}

/// Where a value is, to name its line.
#[derive(Debug, Clone)]
enum Spot {
    Key(&'static str),
    Fact {
        step: String,
        key: String,
    },
    History {
        index: usize,
        key: &'static str,
    },
    /// The renewal in progress (`None`) or a past one (its index).
    Renewal(Option<usize>),
}

impl Spot {
    fn locate(&self, doc: &DeTable<'_>) -> Option<usize> {
        match self {
            Spot::Key(k) => doc.get(*k).map(|v| v.span().start),
            Spot::Fact { step, key } => {
                let steps = match doc.get("step")?.get_ref() {
                    DeValue::Array(a) => a,
                    _ => return None,
                };
                // A migrated step may still carry its version-1 id in the file.
                let aliases: &[&str] = match step.as_str() {
                    "credential" => &["credential", "oauth-certificate"],
                    other => &[other][..],
                };
                let table = steps.iter().find_map(|s| match s.get_ref() {
                    DeValue::Table(t)
                        if t.get("id").is_some_and(|id| {
                            matches!(id.get_ref(), DeValue::String(v) if aliases.contains(&v.as_ref()))
                        }) =>
                    {
                        Some(t)
                    }
                    _ => None,
                })?;
                let in_facts = table.get("facts").and_then(|f| match f.get_ref() {
                    DeValue::Table(f) => f.get(key.as_str()).map(|v| v.span().start),
                    _ => None,
                });
                in_facts.or_else(|| table.get("id").map(|v| v.span().start))
            }
            Spot::Renewal(None) => doc.get("renewal").map(|v| v.span().start),
            Spot::Renewal(Some(index)) => match doc.get("past_renewal")?.get_ref() {
                DeValue::Array(a) => a.get(*index).map(|v| v.span().start),
                _ => None,
            },
            Spot::History { index, key } => {
                let entries = match doc.get("history")?.get_ref() {
                    DeValue::Array(a) => a,
                    _ => return None,
                };
                match entries.get(*index)?.get_ref() {
                    DeValue::Table(t) => t.get(*key).map(|v| v.span().start),
                    _ => None,
                }
            }
        }
    }
}

/// The values of a loaded case, held to the rules of the flags that record them.
fn check_values(state: &State) -> Result<(), (Spot, String)> {
    let bad =
        |spot: Spot, name: &str, reason: String| (spot, format!("`{name}` is not valid: {reason}"));
    validate::text(&state.authority).map_err(|r| bad(Spot::Key("authority"), "authority", r))?;
    match validate::cvr(&state.cvr) {
        Ok(c) if c == state.cvr => {}
        Ok(_) => {
            return Err(bad(
                Spot::Key("cvr"),
                "cvr",
                "8 digits, without spaces".to_owned(),
            ));
        }
        Err(r) => return Err(bad(Spot::Key("cvr"), "cvr", r)),
    }
    if let Some(n) = &state.contact_name {
        validate::text(n).map_err(|r| bad(Spot::Key("contact_name"), "contact_name", r))?;
    }
    if let Some(e) = &state.contact_email {
        validate::email(e).map_err(|r| bad(Spot::Key("contact_email"), "contact_email", r))?;
    }
    for def in state.route.steps() {
        let Some(rec) = state.step(def.id) else {
            continue;
        };
        for (key, value) in &rec.facts {
            let spot = || Spot::Fact {
                step: def.id.to_owned(),
                key: key.clone(),
            };
            let name = format!("{}.{key}", def.id);
            check_fact(def, key, value).map_err(|r| bad(spot(), &name, r))?;
        }
    }
    if let Some(r) = &state.renewal {
        check_renewal(state, r).map_err(|m| (Spot::Renewal(None), format!("[renewal]: {m}")))?;
    }
    for (index, r) in state.past_renewals.iter().enumerate() {
        check_renewal(state, r)
            .map_err(|m| (Spot::Renewal(Some(index)), format!("[[past_renewal]]: {m}")))?;
    }
    for (index, h) in state.history.iter().enumerate() {
        let spot = |key| Spot::History { index, key };
        validate::text(&h.who).map_err(|r| bad(spot("who"), "history.who", r))?;
        validate::text_up_to(&h.what, MAX_VALUE)
            .map_err(|r| bad(spot("what"), "history.what", r))?;
        if let Some(s) = &h.step {
            validate::text(s).map_err(|r| bad(spot("step"), "history.step", r))?;
        }
    }
    Ok(())
}

/// A renewal as the flags of `onboard renew` and its steps would have made it: a
/// method of the route, its four steps in order, and every fact held to its field's
/// rules (the old and new credential to those of the route's credential step).
fn check_renewal(state: &State, r: &Renewal) -> Result<(), String> {
    let methods: &[&str] = match state.route {
        Route::Administration => crate::steps::METHODS,
        Route::Selfservice => &["certificate"],
    };
    if !methods.contains(&r.method.as_str()) {
        return Err(format!(
            "`method` is not valid: one of {} on route {}",
            methods.join(", "),
            state.route
        ));
    }
    let defs = crate::steps::renewal_steps(state.route, &r.method);
    let ids: Vec<&str> = r.steps.iter().map(|s| s.id.as_str()).collect();
    let wanted: Vec<&str> = defs.iter().map(|d| d.id).collect();
    if ids != wanted {
        return Err(format!(
            "its steps must be {} in this order",
            wanted.join(", ")
        ));
    }
    for (def, rec) in defs.iter().zip(&r.steps) {
        for (key, value) in &rec.facts {
            check_fact(def, key, value)
                .map_err(|m| format!("`{}.{key}` is not valid: {m}", def.id))?;
        }
    }
    let cert_step = state.route.certificate_step();
    let cred = state
        .route
        .steps()
        .iter()
        .find(|d| d.id == cert_step)
        .ok_or("the route has no credential step")?;
    for (name, facts) in [("old", &r.old), ("new", &r.new)] {
        for (key, value) in facts {
            check_fact(cred, key, value)
                .map_err(|m| format!("`{name}.{key}` is not valid: {m}"))?;
        }
    }
    if let Some(done) = r.completed_on
        && done < r.started_on
    {
        return Err("`completed_on` is before `started_on`".to_owned());
    }
    Ok(())
}

/// One recorded fact of `def`: a field's own key, or one of the keys a certificate
/// or a handover is stored as.
fn check_fact(def: &StepDef, key: &str, value: &str) -> Result<(), String> {
    if let Some(field) = def.field(key) {
        return match field.kind {
            FieldKind::Text => validate::text(value).map(drop),
            FieldKind::Choice(words) if words.contains(&value) => Ok(()),
            FieldKind::Choice(words) => Err(format!("one of {}", words.join(", "))),
            FieldKind::Date | FieldKind::Expiry => validate::date_shape(value).map(drop),
            FieldKind::Ipv4 => validate::public_ipv4(value).map(drop),
            FieldKind::Certificate | FieldKind::Handover => {
                Err("a certificate is recorded as its facts, not as one value".to_owned())
            }
        };
    }
    let prefixed = |kind: FieldKind, prefix: &str| {
        def.fields.iter().any(|f| f.kind == kind) && key.starts_with(prefix)
    };
    let rest = if prefixed(FieldKind::Certificate, "certificate_") {
        &key["certificate_".len()..]
    } else if prefixed(FieldKind::Handover, "p12_") {
        &key["p12_".len()..]
    } else if def.id == "dpg-handover" && key == "secret_expires_on" {
        return validate::date_shape(value).map(drop);
    } else {
        return Err("not a fact of this step (a newer cprlink's, or a typo?)".to_owned());
    };
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
    };
    match rest {
        "file" => validate::text_up_to(value, MAX_VALUE).map(drop),
        "subject" => validate::text_up_to(value, 1000).map(drop),
        "sha1_thumbprint" if value.len() == 40 && hex(value) => Ok(()),
        "sha1_thumbprint" => Err("40 upper-case hex digits".to_owned()),
        "sha256_fingerprint"
            if value.len() <= 95 && value.split(':').all(|p| p.len() == 2 && hex(p)) =>
        {
            Ok(())
        }
        "sha256_fingerprint" => Err("upper-case hex pairs separated by colons".to_owned()),
        "not_after" => validate::date_shape(value).map(drop),
        "environment" if ["production", "test", "unknown"].contains(&value) => Ok(()),
        "environment" => Err("production, test or unknown".to_owned()),
        "cvr" if value.len() == 8 && value.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        "cvr" => Err("8 digits".to_owned()),
        "verdict" if ["pass", "warn", "fail"].contains(&value) => Ok(()),
        "verdict" => Err("pass, warn or fail".to_owned()),
        "warned_checks"
            if value.len() <= 1000
                && value
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b"_, ".contains(&b)) =>
        {
            Ok(())
        }
        "warned_checks" => Err("check ids separated by commas".to_owned()),
        _ => Err("not a fact of this step (a newer cprlink's, or a typo?)".to_owned()),
    }
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
    read_loaded(path).map(|(l, _)| l.state)
}

/// Reads the case file at `path`: what it holds, and its bytes (kept as the backup
/// when a migrated case is first written).
pub fn read_loaded(path: &Path) -> Result<(Loaded, Vec<u8>), Error> {
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
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let offset = e.valid_up_to();
        let text = String::from_utf8_lossy(&bytes);
        let (line, column) = line_column(&text, offset);
        Error::Corrupt {
            path: path.to_path_buf(),
            line,
            column,
            message: "the file is not UTF-8 text".to_owned(),
        }
    })?;
    let loaded = parse_with(path, text, MIGRATIONS)?;
    Ok((loaded, bytes))
}

/// Writes the case file atomically over the old one (mode 0644: it holds no secrets).
/// Call it holding the [`Lock`].
pub fn write(path: &Path, state: &State) -> Result<(), Error> {
    let text = state.to_toml().map_err(|reason| Error::Write {
        path: path.to_path_buf(),
        reason,
    })?;
    write_text(path, text.as_bytes(), true)
}

/// Writes a new case file; refuses when one appeared meanwhile. Call it holding the
/// [`Lock`].
pub fn create(path: &Path, state: &State) -> Result<(), Error> {
    let text = state.to_toml().map_err(|reason| Error::Write {
        path: path.to_path_buf(),
        reason,
    })?;
    write_text(path, text.as_bytes(), false)
}

/// The temporary file a write goes through: one name per case file, so a file left by
/// a writer that was killed is known for what it is (only the lock holder writes it).
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".cprlink-{name}.tmp"))
}

/// Temp file, fsync, then rename over `path` (or hard-link, which refuses an existing
/// file, when `replace` is false), then fsync the directory. Any failure removes the
/// temporary file, so a refused write leaves nothing behind.
fn write_text(path: &Path, bytes: &[u8], replace: bool) -> Result<(), Error> {
    let fail = |reason: String| Error::Write {
        path: path.to_path_buf(),
        reason,
    };
    let tmp = temp_path(path);
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(format!("cannot remove {}: {e}", tmp.display()))),
    }
    let result = (|| -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)?;
        // The umask may have narrowed the mode at creation; set it exactly.
        f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        if replace {
            std::fs::rename(&tmp, path)?;
        } else {
            std::fs::hard_link(&tmp, path)?;
            std::fs::remove_file(&tmp)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        if !replace && e.kind() == std::io::ErrorKind::AlreadyExists {
            return Err(Error::StateExists {
                path: path.to_path_buf(),
            });
        }
        return Err(fail(e.to_string()));
    }
    sync_dir(path);
    Ok(())
}

fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        // Best effort: some filesystems refuse to fsync a directory.
        let _ = d.sync_all();
    }
}

/// Keeps `original` (the bytes of a version-`from` case file) beside it before the
/// migrated case is first written: `FILE.v1.bak`, or when that name is taken by other
/// bytes, the first free `FILE.v1.2.bak`, `FILE.v1.3.bak`, ... An existing backup is
/// never overwritten; one that already holds these bytes is used as it is. Returns
/// the backup's path. Call it holding the [`Lock`].
pub fn keep_backup(path: &Path, original: &[u8], from: u32) -> Result<PathBuf, Error> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for n in 1..=100u32 {
        let candidate = if n == 1 {
            path.with_file_name(format!("{name}.v{from}.bak"))
        } else {
            path.with_file_name(format!("{name}.v{from}.{n}.bak"))
        };
        match std::fs::read(&candidate) {
            Ok(existing) if existing == original => return Ok(candidate),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => continue,
        }
        match write_text(&candidate, original, false) {
            Ok(()) => return Ok(candidate),
            Err(Error::StateExists { .. }) => continue,
            Err(e) => {
                return Err(Error::Write {
                    path: path.to_path_buf(),
                    reason: format!("cannot keep the version-{from} file as a backup: {e}"),
                });
            }
        }
    }
    Err(Error::Write {
        path: path.to_path_buf(),
        reason: format!(
            "cannot keep the version-{from} file as a backup: {name}.v{from}.bak to \
             {name}.v{from}.100.bak are all taken; move some away"
        ),
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
/// Holding it, removes what writers that were killed (`kill -9`, a power cut) left:
/// this case file's temporary file, and a temporary case file of an older cprlink
/// (random name) that nobody has touched for a while.
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
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(Error::Locked {
                path: path.to_path_buf(),
            });
        }
        Err(std::fs::TryLockError::Error(source)) => return Err(Error::Read { path: lp, source }),
    }
    remove_stale_temp_files(path);
    Ok(Lock { _file: file })
}

/// How old a stray temporary case file of an older cprlink must be before it is
/// removed: a live writer renames its file within milliseconds.
pub const STALE_AFTER: Duration = Duration::from_secs(300);

fn remove_stale_temp_files(path: &Path) {
    // Ours: only the lock holder writes it, and we hold the lock.
    let _ = std::fs::remove_file(temp_path(path));
    // Version 1 wrote `.cprlink-XXXXXX.tmp` (random) through the certificate crate.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let random = name
            .strip_prefix(".cprlink-")
            .and_then(|n| n.strip_suffix(".tmp"))
            .is_some_and(|n| n.len() == 6 && n.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !random {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age >= STALE_AFTER);
        if !meta.is_file() || !old {
            continue;
        }
        // Only case files: other commands (cert pack, lookup) write the same pattern.
        let mut head = [0u8; HEADER.len()];
        let is_case = File::open(entry.path())
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok()
            && head == HEADER.as_bytes();
        if is_case {
            let _ = std::fs::remove_file(entry.path());
        }
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
                supported: 2,
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

    #[test]
    fn a_control_character_anywhere_is_named_by_its_line() {
        let text = "version = 2\nauthority = \"A\"\n[x]\ny = [\"ok\", \"\\u001b[2J\"]\n";
        match parse(Path::new("x.toml"), text) {
            Err(Error::Corrupt { line, message, .. }) => {
                assert_eq!(line, 4, "{message}");
                assert!(
                    message.contains("x.y") && message.contains("U+001B"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
