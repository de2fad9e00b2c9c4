//! One onboarding case: open it, record facts, mark steps done.
//!
//! Owns the rules that connect the steps' tables to the state: which values a step
//! takes and how each is checked, that a step is done only after the steps before it
//! and with its required facts, that dates are in order, and that a refused value
//! changes nothing (every change is made on a copy, checked whole, then written
//! atomically; the file on disk stays byte for byte the same on any refusal). Every
//! change lands in the history with the OS user and the time.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, NaiveDate, Utc};

use crate::error::Error;
use crate::evidence::{CertificateEvidence, HandoverEvidence};
use crate::state::{self, HistoryEntry, Lock, Progress, State, StepRecord};
use crate::steps::{FieldDef, FieldKind, Route, StepDef, TargetEnvironment, ValueSource};
use crate::validate;

/// Who changes the case, and when. Tests and the demo pass fixed values.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// The OS user (see [`os_user`]).
    pub who: String,
    pub at: DateTime<Utc>,
    /// The local calendar day (dates are what the admin sees on letters).
    pub today: NaiveDate,
}

impl Stamp {
    /// Now, by the OS user.
    pub fn now() -> Self {
        Stamp {
            who: os_user(),
            at: Utc::now(),
            today: Local::now().date_naive(),
        }
    }
}

/// The login name of the user running cprlink (`$USER`, `$LOGNAME`), or "unknown".
pub fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|v| v.trim().to_owned())
        .find(|v| !v.is_empty() && !v.chars().any(char::is_control))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// What `init` needs.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub authority: String,
    pub cvr: String,
    pub route: Route,
    pub environment: TargetEnvironment,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
}

/// One value given for a step's field.
#[derive(Debug, Clone)]
pub enum FactInput {
    /// Text, a choice, a date (`YYYY-MM-DD`) or an IPv4 address, as typed.
    Text(String),
    Certificate(CertificateEvidence),
    Handover(HandoverEvidence),
}

/// The values given for one step, by field key (`case_number`, `certificate`, ...).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub entries: Vec<(String, FactInput)>,
}

impl Facts {
    pub fn new() -> Self {
        Facts::default()
    }

    pub fn text(mut self, key: &str, value: impl Into<String>) -> Self {
        self.entries
            .push((key.to_owned(), FactInput::Text(value.into())));
        self
    }

    pub fn certificate(mut self, key: &str, evidence: CertificateEvidence) -> Self {
        self.entries
            .push((key.to_owned(), FactInput::Certificate(evidence)));
        self
    }

    pub fn handover(mut self, key: &str, evidence: HandoverEvidence) -> Self {
        self.entries
            .push((key.to_owned(), FactInput::Handover(evidence)));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What a `record` changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The fact keys whose value changed.
    pub changed: Vec<String>,
    /// The step is now done (it was not before).
    pub marked_done: bool,
    /// Things the person should know (a renewal to pass on, a date set to today).
    pub notes: Vec<String>,
}

impl Recorded {
    pub fn is_noop(&self) -> bool {
        self.changed.is_empty() && !self.marked_done
    }
}

/// An onboarding case backed by its file.
#[derive(Debug)]
pub struct Case {
    path: PathBuf,
    state: State,
    /// Held for cases opened to change them.
    lock: Option<Lock>,
}

impl Case {
    /// Starts a new case at `path`; refuses when a file is already there.
    pub fn init(path: &Path, new: NewCase, stamp: &Stamp) -> Result<Case, Error> {
        let invalid = |flag: &str, value: &str, reason: String| Error::InvalidValue {
            flag: flag.to_owned(),
            value: value.to_owned(),
            reason,
        };
        let authority = validate::text(&new.authority)
            .map_err(|r| invalid("--authority", &new.authority, r))?;
        let cvr = validate::cvr(&new.cvr).map_err(|r| invalid("--cvr", &new.cvr, r))?;
        let contact_name = new
            .contact_name
            .as_deref()
            .map(|v| validate::text(v).map_err(|r| invalid("--contact-name", v, r)))
            .transpose()?;
        let contact_email = new
            .contact_email
            .as_deref()
            .map(|v| validate::email(v).map_err(|r| invalid("--contact-email", v, r)))
            .transpose()?;
        if path.exists() {
            return Err(Error::StateExists {
                path: path.to_path_buf(),
            });
        }
        let lock = state::lock(path)?;
        let state = State {
            version: state::CURRENT_VERSION,
            authority,
            cvr,
            route: new.route,
            environment: new.environment,
            contact_name,
            contact_email,
            created_on: stamp.today,
            steps: new
                .route
                .steps()
                .iter()
                .map(|d| StepRecord::new(d.id))
                .collect(),
            history: vec![HistoryEntry {
                at: stamp.at,
                who: stamp.who.clone(),
                step: None,
                what: format!(
                    "case opened: route {}, environment {}",
                    new.route, new.environment
                ),
            }],
        };
        let text = state.to_toml().map_err(|reason| Error::Write {
            path: path.to_path_buf(),
            reason,
        })?;
        cprlink_cert::files::write_atomic(
            path,
            text.as_bytes(),
            0o644,
            cprlink_cert::files::Overwrite::Refuse,
        )
        .map_err(|e| match e {
            cprlink_cert::Error::AlreadyExists { path } => Error::StateExists { path },
            other => Error::Write {
                path: path.to_path_buf(),
                reason: other.to_string(),
            },
        })?;
        Ok(Case {
            path: path.to_path_buf(),
            state,
            lock: Some(lock),
        })
    }

    /// Opens the case to change it: takes the lock (a second run is refused) and reads it.
    pub fn open(path: &Path) -> Result<Case, Error> {
        if !path.exists() {
            return Err(Error::StateMissing {
                path: path.to_path_buf(),
            });
        }
        let lock = state::lock(path)?;
        let state = state::read(path)?;
        Ok(Case {
            path: path.to_path_buf(),
            state,
            lock: Some(lock),
        })
    }

    /// Reads the case without the lock, to look at it (status, letters, report).
    /// Writes are atomic, so a concurrent run never shows half a file.
    pub fn load(path: &Path) -> Result<Case, Error> {
        Ok(Case {
            path: path.to_path_buf(),
            state: state::read(path)?,
            lock: None,
        })
    }

    /// A case over a state in memory, never saved (for previews and tests).
    pub fn from_state(state: State) -> Case {
        Case {
            path: PathBuf::new(),
            state,
            lock: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn route(&self) -> Route {
        self.state.route
    }

    /// The route's steps, in order.
    pub fn steps(&self) -> &'static [StepDef] {
        self.state.route.steps()
    }

    /// A step of this case's route.
    pub fn step(&self, id: &str) -> Result<&'static StepDef, Error> {
        self.steps()
            .iter()
            .find(|d| d.id == id)
            .ok_or_else(|| Error::UnknownStep {
                step: id.to_owned(),
                route: self.state.route.to_string(),
                known: self.steps().iter().map(|d| d.id.to_owned()).collect(),
            })
    }

    /// The recorded facts of a step.
    pub fn facts(&self, step: &str) -> Option<&std::collections::BTreeMap<String, String>> {
        self.state.step(step).map(|s| &s.facts)
    }

    /// Checks `facts` for `step` as [`Case::record`] would, without saving anything.
    pub fn check(
        &self,
        step: &str,
        facts: &Facts,
        done: bool,
        stamp: &Stamp,
    ) -> Result<Recorded, Error> {
        self.apply(step, facts, done, stamp).map(|(_, r)| r)
    }

    /// Records `facts` for `step` (and marks it done when `done`), then saves. All or
    /// nothing: any refused value, or a step that cannot be marked done, changes nothing.
    pub fn record(
        &mut self,
        step: &str,
        facts: &Facts,
        done: bool,
        stamp: &Stamp,
    ) -> Result<Recorded, Error> {
        let (next, recorded) = self.apply(step, facts, done, stamp)?;
        if !recorded.is_noop() {
            self.save(next)?;
        }
        Ok(recorded)
    }

    /// Marks `step` done (dates that default to today are set); says what is missing.
    pub fn mark_done(&mut self, step: &str, stamp: &Stamp) -> Result<Recorded, Error> {
        self.record(step, &Facts::new(), true, stamp)
    }

    /// Changes the contact person or e-mail used in letters.
    pub fn set_contact(
        &mut self,
        name: Option<&str>,
        email: Option<&str>,
        stamp: &Stamp,
    ) -> Result<Recorded, Error> {
        let invalid = |flag: &str, value: &str, reason: String| Error::InvalidValue {
            flag: flag.to_owned(),
            value: value.to_owned(),
            reason,
        };
        let mut next = self.state.clone();
        let mut changed = Vec::new();
        if let Some(v) = name {
            let v = validate::text(v).map_err(|r| invalid("--contact-name", v, r))?;
            if next.contact_name.as_deref() != Some(v.as_str()) {
                next.contact_name = Some(v);
                changed.push("contact_name".to_owned());
            }
        }
        if let Some(v) = email {
            let v = validate::email(v).map_err(|r| invalid("--contact-email", v, r))?;
            if next.contact_email.as_deref() != Some(v.as_str()) {
                next.contact_email = Some(v);
                changed.push("contact_email".to_owned());
            }
        }
        let recorded = Recorded {
            changed,
            ..Recorded::default()
        };
        if !recorded.is_noop() {
            next.history.push(HistoryEntry {
                at: stamp.at,
                who: stamp.who.clone(),
                step: None,
                what: format!("contact changed: {}", recorded.changed.join(", ")),
            });
            self.save(next)?;
        }
        Ok(recorded)
    }

    fn save(&mut self, next: State) -> Result<(), Error> {
        if self.lock.is_none() {
            return Err(Error::Write {
                path: self.path.clone(),
                reason: "the case was opened read-only".to_owned(),
            });
        }
        state::write(&self.path, &next)?;
        self.state = next;
        Ok(())
    }

    /// The change on a copy of the state, checked whole.
    fn apply(
        &self,
        step_id: &str,
        facts: &Facts,
        done: bool,
        stamp: &Stamp,
    ) -> Result<(State, Recorded), Error> {
        let def = self.step(step_id)?;
        if facts.is_empty() && !done {
            return Err(Error::NothingToRecord {
                step: step_id.to_owned(),
                flags: def.fields.iter().map(|f| f.flag.to_owned()).collect(),
            });
        }
        let today = stamp.today;
        let mut next = self.state.clone();
        let mut recorded = Recorded::default();
        let mut described = Vec::new();
        for (key, input) in &facts.entries {
            let field = def.field(key).ok_or_else(|| Error::UnknownField {
                step: step_id.to_owned(),
                field: key.clone(),
                allowed: def.fields.iter().map(|f| f.flag.to_owned()).collect(),
            })?;
            let values = self.value_facts(def, field, input, today)?;
            if field.kind == FieldKind::Certificate
                && let (Some(old), Some((_, new))) = (
                    self.state.fact(step_id, "certificate_sha1_thumbprint"),
                    values
                        .iter()
                        .find(|(k, _)| k == "certificate_sha1_thumbprint"),
                )
                && old != new
            {
                recorded.notes.push(format!(
                    "a new certificate (renewal): SHA-1 {new} replaces {old}; it must be registered at Datafordeler and handed to DPG again"
                ));
            }
            let rec = step_record_mut(&mut next, step_id);
            let mut changed_here = false;
            for (k, v) in values {
                if rec.facts.get(&k) != Some(&v) {
                    rec.facts.insert(k, v);
                    changed_here = true;
                }
            }
            if changed_here {
                recorded.changed.push(field.key.to_owned());
                described.push(describe(field, rec));
            }
        }
        if done && self.state.step(step_id).map(|s| s.progress) != Some(Progress::Done) {
            let pending: Vec<String> = self
                .steps()
                .iter()
                .take_while(|d| d.id != step_id)
                .filter(|d| next.step(d.id).map(|s| s.progress) != Some(Progress::Done))
                .map(|d| d.id.to_owned())
                .collect();
            if !pending.is_empty() {
                return Err(Error::EarlierStepsNotDone {
                    step: step_id.to_owned(),
                    pending,
                });
            }
            let rec = step_record_mut(&mut next, step_id);
            let missing: Vec<String> = def
                .fields
                .iter()
                .filter(|f| {
                    f.required && !f.default_today && !rec.facts.contains_key(f.presence_key())
                })
                .map(FieldDef::usage)
                .collect();
            if !missing.is_empty() {
                return Err(Error::MissingFacts {
                    step: step_id.to_owned(),
                    missing,
                });
            }
            for f in def.fields.iter().filter(|f| f.default_today) {
                if !rec.facts.contains_key(f.key) {
                    rec.facts.insert(f.key.to_owned(), today.to_string());
                    recorded.changed.push(f.key.to_owned());
                    described.push(format!("{} = {today} (today)", f.key));
                    recorded
                        .notes
                        .push(format!("{} set to today ({today})", f.flag));
                }
            }
            rec.progress = Progress::Done;
            rec.done_on = Some(today);
            recorded.marked_done = true;
        }
        check_date_order(&next, step_id)?;
        if recorded.is_noop() {
            return Ok((self.state.clone(), recorded));
        }
        let rec = step_record_mut(&mut next, step_id);
        if rec.started_on.is_none() {
            rec.started_on = Some(today);
        }
        if rec.progress == Progress::NotStarted {
            rec.progress = Progress::InProgress;
        }
        let mut what = if described.is_empty() {
            String::new()
        } else {
            format!("recorded {}", described.join(", "))
        };
        if recorded.marked_done {
            if !what.is_empty() {
                what.push_str("; ");
            }
            what.push_str("marked done");
        }
        next.history.push(HistoryEntry {
            at: stamp.at,
            who: stamp.who.clone(),
            step: Some(step_id.to_owned()),
            what,
        });
        Ok((next, recorded))
    }

    /// The facts one input becomes, after its checks.
    fn value_facts(
        &self,
        def: &StepDef,
        field: &FieldDef,
        input: &FactInput,
        today: NaiveDate,
    ) -> Result<Vec<(String, String)>, Error> {
        let invalid = |value: &str, reason: String| Error::InvalidValue {
            flag: field.flag.to_owned(),
            value: value.to_owned(),
            reason,
        };
        let wrong_input = || Error::InvalidValue {
            flag: field.flag.to_owned(),
            value: String::new(),
            reason: "internal: this field takes a different kind of value".to_owned(),
        };
        let one = |v: String| Ok(vec![(field.key.to_owned(), v)]);
        match (field.kind, input) {
            (FieldKind::Text, FactInput::Text(v)) => {
                one(validate::text(v).map_err(|r| invalid(v, r))?)
            }
            (FieldKind::Choice(choices), FactInput::Text(v)) => {
                one(validate::choice(v, choices).map_err(|r| invalid(v, r))?)
            }
            (FieldKind::Date, FactInput::Text(v)) => one(validate::date(v, today)
                .map_err(|r| invalid(v, r))?
                .to_string()),
            (FieldKind::Ipv4, FactInput::Text(v)) => one(validate::public_ipv4(v)
                .map_err(|r| invalid(v, r))?
                .to_string()),
            (FieldKind::Certificate, FactInput::Certificate(ev)) => {
                let problems = validate::certificate_problems(
                    ev,
                    &self.state.cvr,
                    self.state.environment,
                    today,
                );
                if !problems.is_empty() {
                    return Err(Error::CertificateRefused {
                        step: def.id.to_owned(),
                        reasons: problems,
                    });
                }
                Ok(certificate_facts("certificate", ev))
            }
            (FieldKind::Handover, FactInput::Handover(ev)) => {
                let registered = self.state.fact(
                    self.route().certificate_step(),
                    "certificate_sha1_thumbprint",
                );
                let problems = validate::handover_problems(
                    ev,
                    registered,
                    &self.state.cvr,
                    self.state.environment,
                    today,
                );
                if !problems.is_empty() {
                    return Err(Error::HandoverRefused { reasons: problems });
                }
                let mut out = certificate_facts("p12", &ev.certificate);
                out.push(("p12_verdict".to_owned(), ev.verdict.as_str().to_owned()));
                if !ev.warned_checks.is_empty() {
                    out.push(("p12_warned_checks".to_owned(), ev.warned_checks.join(", ")));
                }
                Ok(out)
            }
            _ => Err(wrong_input()),
        }
    }

    /// The exact values to type for `step`, resolved against what is recorded. A value
    /// that depends on an unrecorded fact says which flag records it.
    pub fn exact_values(&self, step: &StepDef) -> Vec<(&'static str, String)> {
        step.values
            .iter()
            .map(|v| {
                let value = match v.value {
                    ValueSource::Literal(s) => s.to_owned(),
                    ValueSource::ByEnvironment { production, test } => match self.state.environment
                    {
                        TargetEnvironment::Production => production.to_owned(),
                        TargetEnvironment::Test => test.to_owned(),
                    },
                    ValueSource::Cvr => self.state.cvr.clone(),
                    ValueSource::Fact {
                        step: s,
                        key,
                        suffix,
                    } => match self.state.fact(s, key) {
                        Some(f) => format!("{f}{suffix}"),
                        None => {
                            let flag = self
                                .steps()
                                .iter()
                                .find(|d| d.id == s)
                                .and_then(|d| {
                                    d.fields
                                        .iter()
                                        .find(|f| f.key == key || f.presence_key() == key)
                                })
                                .map_or(String::new(), |f| format!(" ({s} {})", f.flag));
                            format!("(not recorded yet{flag})")
                        }
                    },
                };
                (v.label, value)
            })
            .collect()
    }
}

fn step_record_mut<'a>(state: &'a mut State, id: &str) -> &'a mut StepRecord {
    if state.step(id).is_none() {
        state.steps.push(StepRecord::new(id));
    }
    let pos = state.steps.iter().position(|s| s.id == id).unwrap_or(0);
    &mut state.steps[pos]
}

/// The facts stored for a certificate, under `prefix_...`.
fn certificate_facts(prefix: &str, ev: &CertificateEvidence) -> Vec<(String, String)> {
    let mut out = vec![
        (format!("{prefix}_file"), ev.file.clone()),
        (format!("{prefix}_subject"), ev.subject.clone()),
        (
            format!("{prefix}_sha1_thumbprint"),
            ev.sha1_thumbprint.clone(),
        ),
        (
            format!("{prefix}_sha256_fingerprint"),
            ev.sha256_fingerprint.clone(),
        ),
        (
            format!("{prefix}_not_after"),
            ev.not_after.date_naive().to_string(),
        ),
        (
            format!("{prefix}_environment"),
            ev.environment.as_str().to_owned(),
        ),
    ];
    if let Some(cvr) = &ev.cvr {
        out.push((format!("{prefix}_cvr"), cvr.clone()));
    }
    out
}

fn describe(field: &FieldDef, rec: &StepRecord) -> String {
    match field.kind {
        FieldKind::Certificate => format!(
            "certificate (SHA-1 {})",
            rec.facts
                .get("certificate_sha1_thumbprint")
                .map_or("?", String::as_str)
        ),
        FieldKind::Handover => format!(
            "p12 (SHA-1 {}, verify {})",
            rec.facts
                .get("p12_sha1_thumbprint")
                .map_or("?", String::as_str),
            rec.facts.get("p12_verdict").map_or("?", String::as_str)
        ),
        _ => format!(
            "{} = {}",
            field.key,
            rec.facts.get(field.key).map_or("", String::as_str)
        ),
    }
}

/// Every date constraint of the route that involves `step` must hold.
fn check_date_order(state: &State, step: &str) -> Result<(), Error> {
    for def in state.route.steps() {
        for field in def.fields.iter().filter(|f| f.kind == FieldKind::Date) {
            let Some(value) = state.fact(def.id, field.key) else {
                continue;
            };
            for (other_step, other_key) in field.after {
                if def.id != step && *other_step != step {
                    continue;
                }
                let Some(other) = state.fact(other_step, other_key) else {
                    continue;
                };
                if value < other {
                    let other_flag = state
                        .route
                        .steps()
                        .iter()
                        .find(|d| d.id == *other_step)
                        .and_then(|d| d.field(other_key))
                        .map_or(*other_key, |f| f.flag);
                    let (flag, v, reason) = if def.id == step {
                        (
                            field.flag,
                            value,
                            format!(
                                "before {other_step} {other_flag} {other}: dates must be in order"
                            ),
                        )
                    } else {
                        (
                            other_flag,
                            other,
                            format!(
                                "after {} {} {value}: dates must be in order",
                                def.id, field.flag
                            ),
                        )
                    };
                    return Err(Error::InvalidValue {
                        flag: flag.to_owned(),
                        value: v.to_owned(),
                        reason,
                    });
                }
            }
        }
    }
    Ok(())
}
