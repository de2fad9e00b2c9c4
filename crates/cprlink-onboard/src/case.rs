//! One onboarding case: open it, record facts, mark steps done.
//!
//! Owns the rules that connect the steps' tables to the state: which values a step
//! takes and how each is checked, which fields apply (a certificate or a shared
//! secret, a handover through the portal or the Service Center) and what a field
//! implies (`--certificate` means `--method certificate`), that a step is done only
//! after the steps before it and with its required facts (and stays complete when
//! recorded again), that dates are in order, and that a refused value changes nothing
//! (every change is made on a copy, checked whole, then written atomically; the file
//! on disk stays byte for byte the same on any refusal). Every change lands in the
//! history with the operator, the time, the facts it set and the values it replaced
//! (a rotated credential stays there). A case read from an older state version is
//! migrated in memory; its first write keeps the old file as `FILE.v1.bak`. The steps
//! of a renewal in progress are recorded by the same rules (`renewal` starts and ends
//! one); meanwhile the credential and the handover of the onboarding stay as they are.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, NaiveDate, Utc};

use crate::error::Error;
use crate::evidence::{CertificateEvidence, HandoverEvidence};
use crate::state::{self, HistoryEntry, Lock, Progress, State, StepRecord};
use crate::steps::{
    Applies, FieldDef, FieldDefault, FieldKind, Route, StepDef, TargetEnvironment, ValueSource,
};
use crate::validate;

/// Who changes the case, and when. Tests and the demo pass fixed values.
#[derive(Debug, Clone)]
pub struct Stamp {
    /// The operator, as the history names them (see [`Stamp::by`]).
    pub who: String,
    pub at: DateTime<Utc>,
    /// The local calendar day (dates are what the admin sees on letters).
    pub today: NaiveDate,
}

impl Stamp {
    /// Now, by the login name of the user running cprlink.
    pub fn now() -> Self {
        Stamp::by(os_user())
    }

    /// Now, by `who` (the binary resolves `--by NAME`, then `CPRLINK_OPERATOR`, then
    /// the login name, and checks it with [`validate::text`]).
    pub fn by(who: String) -> Self {
        Stamp {
            who,
            at: Utc::now(),
            today: Local::now().date_naive(),
        }
    }
}

/// The login name of the user running cprlink (`$USER`, `$LOGNAME`, else the name of
/// the process's user id in `/etc/passwd`, as in a container or a cron job where no
/// login set the variables), or "unknown".
pub fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|v| v.trim().to_owned())
        .chain(passwd_name())
        .find(|v| validate::text(v).is_ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The user name of this process's user id, from `/etc/passwd` (`name:x:uid:...`).
fn passwd_name() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    // The owner of /proc/self is the process's user id.
    let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_owned())
    })
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

    fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }
}

/// What a `record` changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The fact keys whose value changed.
    pub changed: Vec<String>,
    /// The step is now done (it was not before).
    pub marked_done: bool,
    /// Things the person should know (a rotation to pass on, a date set to today).
    pub notes: Vec<String>,
    /// The version-1 file kept when this write migrated the case.
    pub backup: Option<PathBuf>,
}

impl Recorded {
    pub fn is_noop(&self) -> bool {
        self.changed.is_empty() && !self.marked_done
    }
}

/// Whether `field` of a step belongs to the case as `state` stands.
pub fn applies(state: &State, field: &FieldDef) -> bool {
    match field.applies {
        Applies::Always => true,
        Applies::When(c) => state.fact(c.step, c.key) == Some(c.value),
        Applies::Unless(c) => state.fact(c.step, c.key) != Some(c.value),
    }
}

/// The facts a field is stored as, present in `facts`.
fn stored_keys(field: &FieldDef, facts: &BTreeMap<String, String>) -> Vec<String> {
    let prefix = match field.kind {
        FieldKind::Certificate => "certificate_",
        FieldKind::Handover => "p12_",
        _ => {
            return facts
                .contains_key(field.key)
                .then(|| field.key.to_owned())
                .into_iter()
                .collect();
        }
    };
    facts
        .keys()
        .filter(|k| k.starts_with(prefix))
        .cloned()
        .collect()
}

/// An onboarding case backed by its file.
#[derive(Debug)]
pub struct Case {
    path: PathBuf,
    state: State,
    /// Held for cases opened to change them.
    lock: Option<Lock>,
    /// The state version of the file on disk (older: migrated in memory).
    file_version: u32,
    /// The file's bytes when it is an older version: kept as the backup on first write.
    original: Option<Vec<u8>>,
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
        validate::text(&stamp.who).map_err(|r| invalid("--by", &stamp.who, r))?;
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
                changed: Vec::new(),
                previous: BTreeMap::new(),
            }],
            renewal: None,
            past_renewals: Vec::new(),
        };
        state::create(path, &state)?;
        Ok(Case {
            path: path.to_path_buf(),
            state,
            lock: Some(lock),
            file_version: state::CURRENT_VERSION,
            original: None,
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
        let (loaded, bytes) = state::read_loaded(path)?;
        let older = loaded.file_version < state::CURRENT_VERSION;
        Ok(Case {
            path: path.to_path_buf(),
            state: loaded.state,
            lock: Some(lock),
            file_version: loaded.file_version,
            original: older.then_some(bytes),
        })
    }

    /// Reads the case without the lock, to look at it (status, letters, report).
    /// Writes are atomic, so a concurrent run never shows half a file. An older
    /// version is migrated in memory only: the file stays as it is.
    pub fn load(path: &Path) -> Result<Case, Error> {
        let (loaded, _) = state::read_loaded(path)?;
        Ok(Case {
            path: path.to_path_buf(),
            state: loaded.state,
            lock: None,
            file_version: loaded.file_version,
            original: None,
        })
    }

    /// A case over a state in memory, never saved (for previews and tests).
    pub fn from_state(state: State) -> Case {
        Case {
            path: PathBuf::new(),
            file_version: state.version,
            state,
            lock: None,
            original: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// The state version of the file on disk (the state in memory is always current).
    pub fn file_version(&self) -> u32 {
        self.file_version
    }

    pub fn route(&self) -> Route {
        self.state.route
    }

    /// The route's steps, in order.
    pub fn steps(&self) -> &'static [StepDef] {
        self.state.route.steps()
    }

    /// A step of this case's route, or of the renewal in progress.
    pub fn step(&self, id: &str) -> Result<&'static StepDef, Error> {
        if crate::steps::is_renewal_step(id) {
            return self
                .renewal_steps()
                .iter()
                .find(|d| d.id == id)
                .ok_or_else(|| Error::NoRenewal {
                    what: format!("step {id}"),
                });
        }
        self.steps()
            .iter()
            .find(|d| d.id == id)
            .ok_or_else(|| Error::UnknownStep {
                step: id.to_owned(),
                route: self.state.route.to_string(),
                known: self
                    .steps()
                    .iter()
                    .chain(self.renewal_steps())
                    .map(|d| d.id.to_owned())
                    .collect(),
            })
    }

    /// The steps `id` is one of: the route's, or the renewal's.
    pub fn steps_of(&self, id: &str) -> &'static [StepDef] {
        if crate::steps::is_renewal_step(id) {
            self.renewal_steps()
        } else {
            self.steps()
        }
    }

    /// The recorded facts of a step.
    pub fn facts(&self, step: &str) -> Option<&BTreeMap<String, String>> {
        self.state.step(step).map(|s| &s.facts)
    }

    /// Whether `field` belongs to the case as it stands.
    pub fn applies(&self, field: &FieldDef) -> bool {
        applies(&self.state, field)
    }

    /// The credential method on the administration route (`certificate` or
    /// `shared-secret`); `certificate` on selfservice, where it is the only one.
    pub fn credential_method(&self) -> Option<&str> {
        self.state.credential_method()
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
        let (next, mut recorded) = self.apply(step, facts, done, stamp)?;
        if !recorded.is_noop() {
            recorded.backup = self.save(next)?;
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
        let mut previous = BTreeMap::new();
        if let Some(v) = name {
            let v = validate::text(v).map_err(|r| invalid("--contact-name", v, r))?;
            if next.contact_name.as_deref() != Some(v.as_str()) {
                if let Some(old) = next.contact_name.replace(v) {
                    previous.insert("contact_name".to_owned(), old);
                }
                changed.push("contact_name".to_owned());
            }
        }
        if let Some(v) = email {
            let v = validate::email(v).map_err(|r| invalid("--contact-email", v, r))?;
            if next.contact_email.as_deref() != Some(v.as_str()) {
                if let Some(old) = next.contact_email.replace(v) {
                    previous.insert("contact_email".to_owned(), old);
                }
                changed.push("contact_email".to_owned());
            }
        }
        let mut recorded = Recorded {
            changed,
            ..Recorded::default()
        };
        if !recorded.is_noop() {
            self.note_migration(&mut next, stamp);
            next.history.push(HistoryEntry {
                at: stamp.at,
                who: stamp.who.clone(),
                step: None,
                what: format!("contact changed: {}", recorded.changed.join(", ")),
                changed: recorded.changed.clone(),
                previous,
            });
            recorded.backup = self.save(next)?;
        }
        Ok(recorded)
    }

    /// Writes `next`; a case migrated from an older version first keeps the old file.
    pub(crate) fn save(&mut self, next: State) -> Result<Option<PathBuf>, Error> {
        if self.lock.is_none() {
            return Err(Error::Write {
                path: self.path.clone(),
                reason: "the case was opened read-only".to_owned(),
            });
        }
        let backup = match &self.original {
            Some(bytes) => Some(state::keep_backup(&self.path, bytes, self.file_version)?),
            None => None,
        };
        state::write(&self.path, &next)?;
        self.state = next;
        self.original = None;
        self.file_version = state::CURRENT_VERSION;
        Ok(backup)
    }

    /// The first change of a migrated case says so in the history.
    pub(crate) fn note_migration(&self, next: &mut State, stamp: &Stamp) {
        if self.original.is_some() {
            next.history.push(HistoryEntry {
                at: stamp.at,
                who: stamp.who.clone(),
                step: None,
                what: format!(
                    "migrated from state version {} to {} (the old file is kept as {}.v{}.bak or the next free name)",
                    self.file_version,
                    state::CURRENT_VERSION,
                    self.path
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                    self.file_version
                ),
                changed: Vec::new(),
                previous: BTreeMap::new(),
            });
        }
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
        if let Some(r) = &self.state.renewal
            && (def.id == self.route().certificate_step() || def.id == "dpg-handover")
        {
            return Err(Error::RenewalInProgress {
                started_on: r.started_on,
                what: crate::renewal::describe_new(r),
                blocked: Some(format!(
                    "{} stays as it is until the renewal is done; record the renewal's steps \
                     (register-new, install-dpg, confirm, retire-old)",
                    def.id
                )),
            });
        }
        if facts.is_empty() && !done {
            return Err(Error::NothingToRecord {
                step: step_id.to_owned(),
                flags: def.fields.iter().map(|f| f.flag.to_owned()).collect(),
            });
        }
        validate::text(&stamp.who).map_err(|r| Error::InvalidValue {
            flag: "--by".to_owned(),
            value: stamp.who.clone(),
            reason: r,
        })?;
        let today = stamp.today;
        let was_done = self.state.step(step_id).map(|s| s.progress) == Some(Progress::Done);
        let mut next = self.state.clone();
        let mut recorded = Recorded::default();
        let mut described = Vec::new();
        let mut previous = BTreeMap::new();
        let before = self.facts(step_id).cloned().unwrap_or_default();

        // 1. Each value, checked on its own and stored.
        for (key, input) in &facts.entries {
            let field = def.field(key).ok_or_else(|| Error::UnknownField {
                step: step_id.to_owned(),
                field: key.clone(),
                allowed: def.fields.iter().map(|f| f.flag.to_owned()).collect(),
            })?;
            self.check_other_steps(def, field)?;
            let values = self.value_facts(def, field, input, today)?;
            let rec = step_record_mut(&mut next, step_id);
            // A new certificate or .p12 replaces every fact of the old one.
            for old in stored_keys(field, &rec.facts) {
                if !values.iter().any(|(k, _)| *k == old)
                    && let Some(v) = rec.facts.remove(&old)
                {
                    previous.insert(old, v);
                }
            }
            let mut changed_here = false;
            for (k, v) in values {
                if rec.facts.get(&k) != Some(&v) {
                    if let Some(old) = rec.facts.insert(k.clone(), v) {
                        previous.entry(k).or_insert(old);
                    }
                    changed_here = true;
                }
            }
            if changed_here {
                recorded.changed.push(field.key.to_owned());
                described.push(describe(field, rec));
            }
        }

        // 2. What the values imply, and what no longer applies.
        self.settle_conditions(def, facts, &mut next, &mut recorded, &mut previous)?;

        // 3. The step stays complete when it is done, or becomes so with --done.
        let mark = done && !was_done;
        if mark {
            let pending: Vec<String> = self
                .steps_of(step_id)
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
        }
        if mark || (was_done && !facts.is_empty()) {
            complete(def, &mut next, today, &mut recorded, &mut described)?;
        }
        if def.id == "dpg-handover"
            && self.credential_method() == Some("shared-secret")
            && (mark || facts.has("handed_over_on"))
        {
            // What was handed over: the secret of this expiry (a rotation opens the
            // step again until the new one is handed over).
            if let Some(exp) = next.fact("credential", "expires_on").map(str::to_owned) {
                let rec = step_record_mut(&mut next, step_id);
                if rec.facts.get("secret_expires_on") != Some(&exp) {
                    rec.facts.insert("secret_expires_on".to_owned(), exp);
                    recorded.changed.push("secret_expires_on".to_owned());
                }
            }
        }
        if mark {
            let rec = step_record_mut(&mut next, step_id);
            rec.progress = Progress::Done;
            rec.marked_done_on = Some(today);
            recorded.marked_done = true;
        }

        check_date_order(&next, step_id)?;
        check_day_limits(&next, step_id)?;
        if was_done {
            self.rotation_notes(def, &before, &next, &mut recorded);
        }
        if recorded.is_noop() {
            return Ok((self.state.clone(), recorded));
        }
        let rec = step_record_mut(&mut next, step_id);
        if rec.first_recorded_on.is_none() {
            rec.first_recorded_on = Some(today);
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
        if what.is_empty() {
            what = format!("changed {}", recorded.changed.join(", "));
        }
        self.note_migration(&mut next, stamp);
        next.history.push(HistoryEntry {
            at: stamp.at,
            who: stamp.who.clone(),
            step: Some(step_id.to_owned()),
            what,
            changed: recorded.changed.clone(),
            previous,
        });
        if recorded.marked_done && def.id == "retire-old" {
            // The last step: the new credential becomes the case's own.
            crate::renewal::finish(&mut next, stamp, &mut recorded);
        }
        Ok((next, recorded))
    }

    /// A field that depends on another step's fact (no `--p12` with a shared secret)
    /// is refused before its value is even looked at.
    fn check_other_steps(&self, def: &StepDef, field: &FieldDef) -> Result<(), Error> {
        let (c, wanted) = match field.applies {
            Applies::When(c) if c.step != def.id => (c, true),
            Applies::Unless(c) if c.step != def.id => (c, false),
            _ => return Ok(()),
        };
        let actual = self.state.fact(c.step, c.key);
        if (actual == Some(c.value)) == wanted {
            return Ok(());
        }
        let flag = flag_for(&self.state, c.step, c.key);
        Err(Error::NotApplicable {
            step: def.id.to_owned(),
            flag: field.flag.to_owned(),
            reason: match actual {
                Some(v) => format!("{} is recorded with {flag} {v}", c.step),
                None => format!("{} {flag} is not recorded", c.step),
            },
        })
    }

    /// Fields that belong to a choice (`--certificate` to `--method certificate`,
    /// `--received-by` to `--via service-center`) imply it when it is not recorded,
    /// and are refused when another is; fields that no longer apply after a switch are
    /// removed (their values go to the history).
    fn settle_conditions(
        &self,
        def: &StepDef,
        given: &Facts,
        next: &mut State,
        recorded: &mut Recorded,
        previous: &mut BTreeMap<String, String>,
    ) -> Result<(), Error> {
        let flag_of = |step: &str, key: &str| {
            all_defs(&self.state)
                .find(|d| d.id == step)
                .and_then(|d| d.field(key))
                .map_or_else(|| key.to_owned(), |f| f.flag.to_owned())
        };
        for (key, _) in &given.entries {
            let Some(field) = def.field(key) else {
                continue;
            };
            match field.applies {
                Applies::Always => {}
                Applies::When(c) => {
                    let current = next.fact(c.step, c.key).map(str::to_owned);
                    match current.as_deref() {
                        Some(v) if v == c.value => {}
                        None if c.step == def.id => {
                            let rec = step_record_mut(next, def.id);
                            rec.facts.insert(c.key.to_owned(), c.value.to_owned());
                            recorded.changed.push(c.key.to_owned());
                            recorded.notes.push(format!(
                                "{} {} (implied by {})",
                                flag_of(c.step, c.key),
                                c.value,
                                field.flag
                            ));
                        }
                        other => {
                            let c_flag = flag_of(c.step, c.key);
                            let now = other.map_or_else(
                                || format!("{} {c_flag} is not recorded", c.step),
                                |v| format!("{} is recorded with {c_flag} {v}", c.step),
                            );
                            let switch = if c.step == def.id && !given.has(c.key) {
                                format!(
                                    "; to switch, pass {c_flag} {} (the old values stay in the history)",
                                    c.value
                                )
                            } else {
                                String::new()
                            };
                            return Err(Error::NotApplicable {
                                step: def.id.to_owned(),
                                flag: field.flag.to_owned(),
                                reason: format!(
                                    "it belongs to {c_flag} {}, and {now}{switch}",
                                    c.value
                                ),
                            });
                        }
                    }
                }
                Applies::Unless(c) => {
                    if next.fact(c.step, c.key) == Some(c.value) {
                        return Err(Error::NotApplicable {
                            step: def.id.to_owned(),
                            flag: field.flag.to_owned(),
                            reason: format!(
                                "{} is recorded with {} {}",
                                c.step,
                                flag_of(c.step, c.key),
                                c.value
                            ),
                        });
                    }
                }
            }
        }
        // After a switch (say, to a shared secret), the other choice's facts go.
        let snapshot = next.clone();
        let rec = step_record_mut(next, def.id);
        for field in def.fields {
            if applies(&snapshot, field) {
                continue;
            }
            for k in stored_keys(field, &rec.facts) {
                if let Some(v) = rec.facts.remove(&k) {
                    previous.insert(k.clone(), v);
                    if !recorded.changed.contains(&field.key.to_owned()) {
                        recorded.changed.push(field.key.to_owned());
                    }
                }
            }
        }
        Ok(())
    }

    /// Says what a rotation of a done step means for DPG.
    fn rotation_notes(
        &self,
        def: &StepDef,
        before: &BTreeMap<String, String>,
        next: &State,
        recorded: &mut Recorded,
    ) {
        let after = next.step(def.id).map(|s| &s.facts);
        let get = |m: Option<&BTreeMap<String, String>>, k: &str| m.and_then(|f| f.get(k)).cloned();
        let thumb = "certificate_sha1_thumbprint";
        if def.fields.iter().any(|f| f.kind == FieldKind::Certificate)
            && let (Some(old), Some(new)) = (get(Some(before), thumb), get(after, thumb))
            && old != new
        {
            recorded.notes.push(format!(
                "a new certificate (renewal): SHA-1 {new} replaces {old}; it must be registered at Datafordeler and handed to DPG again"
            ));
        }
        if def.id == "credential" {
            let (old_m, new_m) = (get(Some(before), "method"), get(after, "method"));
            if old_m.is_some() && old_m != new_m {
                recorded.notes.push(format!(
                    "the credential changes from {} to {}: DPG needs the new one (record dpg-handover again)",
                    old_m.unwrap_or_default(),
                    new_m.unwrap_or_default()
                ));
            } else if new_m.as_deref() == Some("shared-secret")
                && get(Some(before), "expires_on") != get(after, "expires_on")
            {
                recorded.notes.push(format!(
                    "a rotated shared secret (expires on {}): give DPG the new secret and record dpg-handover --handed-over-on DATE",
                    get(after, "expires_on").unwrap_or_default()
                ));
            }
        }
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
            (FieldKind::Expiry, FactInput::Text(v)) => one(validate::expiry(v, today)
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
                // The renewal's .p12 must hold the new certificate, the handover's the
                // registered one.
                let registered = match (&self.state.renewal, def.id) {
                    (Some(r), "install-dpg") => {
                        r.new.get("certificate_sha1_thumbprint").map(String::as_str)
                    }
                    _ => self.state.fact(
                        self.route().certificate_step(),
                        "certificate_sha1_thumbprint",
                    ),
                };
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
            .filter(|v| match v.applies {
                Applies::Always => true,
                Applies::When(c) => self.state.fact(c.step, c.key) == Some(c.value),
                Applies::Unless(c) => self.state.fact(c.step, c.key) != Some(c.value),
            })
            .map(|v| {
                let value = match v.value {
                    ValueSource::Literal(s) => s.to_owned(),
                    ValueSource::ByEnvironment { production, test } => match self.state.environment
                    {
                        TargetEnvironment::Production => production.to_owned(),
                        TargetEnvironment::Test => test.to_owned(),
                    },
                    ValueSource::Cvr => self.state.cvr.clone(),
                    ValueSource::NewCredential { key } => self
                        .state
                        .renewal
                        .as_ref()
                        .and_then(|r| r.new.get(key))
                        .cloned()
                        .unwrap_or_else(|| "(no renewal in progress)".to_owned()),
                    ValueSource::OldCredential { key } => self
                        .state
                        .renewal
                        .as_ref()
                        .and_then(|r| r.old.get(key))
                        .cloned()
                        .unwrap_or_else(|| "(no renewal in progress)".to_owned()),
                    ValueSource::Choice {
                        step: s,
                        key,
                        default,
                        texts,
                    } => {
                        let chosen = self.state.fact(s, key).unwrap_or(default);
                        texts
                            .iter()
                            .find(|(k, _)| *k == chosen)
                            .map_or_else(|| chosen.to_owned(), |(_, t)| (*t).to_owned())
                    }
                    ValueSource::Fact {
                        step: s,
                        key,
                        suffix,
                    } => match self.state.fact(s, key) {
                        Some(f) => format!("{f}{suffix}"),
                        None => {
                            let flag = all_defs(&self.state)
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

/// Defaults for what applies and is not recorded, then the required facts: a step
/// marked done, or recorded again once done, must have them all.
fn complete(
    def: &StepDef,
    next: &mut State,
    today: NaiveDate,
    recorded: &mut Recorded,
    described: &mut Vec<String>,
) -> Result<(), Error> {
    // Chosen defaults first: they decide what else applies (`--via portal`: no
    // `--received-by`).
    for f in def.fields {
        if let FieldDefault::Value(v) = f.default
            && applies(next, f)
            && next.fact(def.id, f.key).is_none()
        {
            step_record_mut(next, def.id)
                .facts
                .insert(f.key.to_owned(), v.to_owned());
            recorded.changed.push(f.key.to_owned());
            described.push(format!("{} = {v} (the default)", f.key));
            recorded
                .notes
                .push(format!("{} set to {v} (the default)", f.flag));
        }
    }
    let missing: Vec<String> = def
        .fields
        .iter()
        .filter(|f| f.required && f.default == FieldDefault::None && applies(next, f))
        .filter(|f| next.fact(def.id, f.presence_key()).is_none())
        .map(FieldDef::usage)
        .collect();
    if !missing.is_empty() {
        return Err(Error::MissingFacts {
            step: def.id.to_owned(),
            missing,
        });
    }
    for f in def.fields {
        if f.defaults_to_today() && applies(next, f) && next.fact(def.id, f.key).is_none() {
            step_record_mut(next, def.id)
                .facts
                .insert(f.key.to_owned(), today.to_string());
            recorded.changed.push(f.key.to_owned());
            described.push(format!("{} = {today} (today)", f.key));
            recorded
                .notes
                .push(format!("{} set to today ({today})", f.flag));
        }
    }
    Ok(())
}

fn step_record_mut<'a>(state: &'a mut State, id: &str) -> &'a mut StepRecord {
    let in_renewal = state
        .renewal
        .as_ref()
        .and_then(|r| r.steps.iter().position(|s| s.id == id));
    match (in_renewal, state.renewal.as_mut()) {
        (Some(pos), Some(r)) => &mut r.steps[pos],
        _ => {
            if !state.steps.iter().any(|s| s.id == id) {
                state.steps.push(StepRecord::new(id));
            }
            let pos = state.steps.iter().position(|s| s.id == id).unwrap_or(0);
            &mut state.steps[pos]
        }
    }
}

/// The steps of the route, then those of the renewal in progress.
pub(crate) fn all_defs(state: &State) -> impl Iterator<Item = &'static StepDef> {
    let renewal = state.renewal.as_ref().map_or(&[][..], |r| {
        crate::steps::renewal_steps(state.route, &r.method)
    });
    state.route.steps().iter().chain(renewal.iter())
}

/// The facts stored for a certificate, under `prefix_...`.
pub(crate) fn certificate_facts(prefix: &str, ev: &CertificateEvidence) -> Vec<(String, String)> {
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

/// The flag that records `(step, key)`, for messages.
fn flag_for(state: &State, step: &str, key: &str) -> &'static str {
    all_defs(state)
        .find(|d| d.id == step)
        .and_then(|d| d.field(key))
        .map_or("", |f| f.flag)
}

/// Every date constraint of the route (and the renewal) that involves `step` must hold.
fn check_date_order(state: &State, step: &str) -> Result<(), Error> {
    for def in all_defs(state) {
        for field in def.fields.iter().filter(|f| f.kind.is_date()) {
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
                    let other_flag = flag_for(state, other_step, other_key);
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

/// "At most N days after" (a shared secret's 730 days) for the dates of `step`.
fn check_day_limits(state: &State, step: &str) -> Result<(), Error> {
    let Some(def) = state.route.steps().iter().find(|d| d.id == step) else {
        return Ok(());
    };
    for field in def.fields {
        let Some((other_step, other_key, days)) = field.at_most_days_after else {
            continue;
        };
        let (Some(value), Some(other)) = (
            state.fact_date(step, field.key),
            state.fact_date(other_step, other_key),
        ) else {
            continue;
        };
        let gap = (value - other).num_days();
        if gap > days {
            return Err(Error::InvalidValue {
                flag: field.flag.to_owned(),
                value: value.to_string(),
                reason: format!(
                    "{gap} days after {other_step} {} {other}: Datafordeler allows at most {days}",
                    flag_for(state, other_step, other_key)
                ),
            });
        }
    }
    Ok(())
}
