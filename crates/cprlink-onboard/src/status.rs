//! The derived status of a case: per step done / in progress / waiting since N days /
//! not started, the next action in one sentence, warnings, and whether it is blocked.
//!
//! Owns these derivations and nothing else: nothing here is stored, so the status can
//! never disagree with the facts. "Blocked" means progress is impossible until the
//! admin fixes something outside the tool: the registered certificate (or shared
//! secret) has expired, or (before go-live) has fewer than 30 days left, too few to
//! finish the remaining steps. Apart from that, a credential that expires within 14
//! days makes `status` say no (`expires_soon`): renewal means a new registration at
//! Datafordeler and a new install at DPG, which takes time. From 60 days before the
//! expiry of a completed case, a renewal is due (`renewal_due`, and how to start it).
//! A renewal in progress has its own steps, the old and the new credential side by
//! side, and what breaks on which date if it stalls; once a lookup has worked with the
//! new credential (`confirm`), the new one's expiry is the one that counts.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::case::{Case, applies};
use crate::state::{Progress, Renewal, State};
use crate::steps::{Applies, FieldDefault, FieldKind, Route, StepDef, renewal_steps};
use crate::validate::{MIN_DAYS_LEFT, URGENT_DAYS_LEFT, WARN_DAYS_LEFT};

/// Days of waiting after which a reminder is suggested.
pub const LONG_WAIT_DAYS: i64 = 30;

/// The day Datafordeler closed the Self-Service route to new sign-ups: "Udfases pr.
/// 30. juni 2026" (`reference/datafordeler.md` sections 3 and 5).
pub fn selfservice_phase_out() -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(2026, 6, 30)
}

/// A step's derived state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Done,
    InProgress,
    Waiting,
    NotStarted,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Done => "done",
            StepState::InProgress => "in_progress",
            StepState::Waiting => "waiting",
            StepState::NotStarted => "not_started",
        }
    }
}

/// One step in `status`.
#[derive(Debug, Clone, Serialize)]
pub struct StepStatus {
    pub id: String,
    pub title: String,
    pub state: StepState,
    /// Who the step waits on (only when `state` is `waiting`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_days: Option<i64>,
    /// The day something was first recorded for the step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_on: Option<NaiveDate>,
    /// When the step was done: the date fact that dates it (the approval's date, the
    /// grant's, ...), else the day it was marked done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done_on: Option<NaiveDate>,
    pub facts: BTreeMap<String, String>,
    /// Flags of required facts not recorded yet (empty once done).
    pub missing: Vec<String>,
}

/// Something the admin should know; `code` is stable for scripts.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Warning {
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub message: String,
}

/// The whole status (the shape of `cprlink onboard status --json`).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub authority: String,
    pub cvr: String,
    pub route: Route,
    pub environment: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    pub steps: Vec<StepStatus>,
    /// The first step not done, if any.
    pub current_step: Option<String>,
    pub next_action: String,
    /// The `onboard record` command that completes the current step, if any.
    pub next_command: Option<String>,
    pub warnings: Vec<Warning>,
    pub blocked: bool,
    pub blockers: Vec<String>,
    pub complete: bool,
    /// `certificate` or `shared-secret` (always `certificate` on selfservice), once known.
    pub credential_method: Option<String>,
    /// The expiry of the credential registered at Datafordeler (the certificate's
    /// `not_after`, or the shared secret's `expires_on`).
    pub credential_expires_on: Option<NaiveDate>,
    /// The credential expires within 14 days (or has expired): `status` exits 1.
    pub expires_soon: bool,
    /// The case is complete, no renewal is in progress, and the credential expires
    /// within 60 days: time to start one (`onboard renew`).
    pub renewal_due: bool,
    /// A renewal in progress.
    pub renewal: Option<RenewalStatus>,
    /// Renewals done, oldest first.
    pub past_renewals: Vec<RenewalStatus>,
}

/// One credential of a renewal, as `status` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CredentialView {
    /// Certificates only (upper-case hex).
    pub sha1_thumbprint: Option<String>,
    pub subject: Option<String>,
    /// The file it was read from (certificates only).
    pub file: Option<String>,
    /// Shared secrets only.
    pub created_on: Option<NaiveDate>,
    pub expires_on: Option<NaiveDate>,
    /// Days from today to `expires_on` (negative once expired).
    pub days_left: Option<i64>,
}

/// What happens on a date if the renewal goes no further than it is.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Consequence {
    pub on: NaiveDate,
    /// The renewal step whose absence causes it.
    pub step: String,
    pub message: String,
}

/// A renewal, in progress or done (the `renewal` object of `status --json`).
#[derive(Debug, Clone, Serialize)]
pub struct RenewalStatus {
    /// `certificate` or `shared-secret`.
    pub method: String,
    pub started_on: NaiveDate,
    /// The day the old credential was retired (done renewals only).
    pub completed_on: Option<NaiveDate>,
    /// The credential being replaced (in use until the new one is confirmed).
    pub old: CredentialView,
    pub new: CredentialView,
    /// `register-new`, `install-dpg`, `confirm`, `retire-old`, as the onboarding's.
    pub steps: Vec<StepStatus>,
    /// The first renewal step not done.
    pub current_step: Option<String>,
    pub next_action: String,
    /// The `onboard record` command that completes the current step.
    pub next_command: Option<String>,
    /// What breaks on which date if the renewal stalls where it is.
    pub if_stalled: Vec<Consequence>,
}

impl RenewalStatus {
    /// Whether the renewal step `id` is done.
    pub fn is_done(&self, id: &str) -> bool {
        self.steps
            .iter()
            .any(|s| s.id == id && s.state == StepState::Done)
    }
}

impl Status {
    /// The answer of `cprlink onboard status` is "no" (exit 1): blocked, or the
    /// credential expires within 14 days.
    pub fn needs_attention(&self) -> bool {
        self.blocked || self.expires_soon
    }
}

impl Case {
    /// The status as of `today`, with commands spelled `cprlink onboard ...`.
    pub fn status(&self, today: NaiveDate) -> Status {
        self.status_with(today, "cprlink onboard")
    }

    /// The status, with suggested commands starting with `prefix` (e.g.
    /// `cprlink onboard --state other.toml`).
    pub fn status_with(&self, today: NaiveDate, prefix: &str) -> Status {
        derive(self, today, prefix)
    }

    /// The `record` command that would complete `step`: its required facts not yet
    /// recorded, as flags with placeholders, then `--done`. A choice other fields
    /// depend on (`--method`) is shown with its first value, and the fields that then
    /// apply with it.
    pub fn record_command(&self, step: &StepDef, prefix: &str) -> String {
        let mut assumed = self.state().clone();
        let mut cmd = format!("{prefix} record {}", step.id);
        for f in step.fields {
            let recorded = assumed.fact(step.id, f.presence_key()).is_some();
            let chosen_default = matches!(f.default, FieldDefault::Value(_));
            if !f.required || recorded || chosen_default || !applies(&assumed, f) {
                continue;
            }
            if let FieldKind::Choice(words) = f.kind
                && drives_others(step, f.key)
                && let Some(first) = words.first()
            {
                cmd.push_str(&format!(" {} {first}", f.flag));
                if let Some(rec) = assumed.step_mut(step.id) {
                    rec.facts.insert(f.key.to_owned(), (*first).to_owned());
                }
                continue;
            }
            cmd.push(' ');
            cmd.push_str(&f.usage());
            if f.kind == FieldKind::Handover {
                cmd.push_str(" --password-file FILE");
            }
        }
        cmd.push_str(" --done");
        cmd
    }

    /// Flags of the required facts of `step` that apply and are not recorded (the
    /// ones with a chosen default, like `--via`, are not missing).
    pub fn missing(&self, step: &StepDef) -> Vec<String> {
        let state = self.state();
        step.fields
            .iter()
            .filter(|f| f.required && !matches!(f.default, FieldDefault::Value(_)))
            .filter(|f| applies(state, f))
            .filter(|f| state.fact(step.id, f.presence_key()).is_none())
            .map(|f| f.usage())
            .collect()
    }

    /// Whether `step` counts as done: marked done, and for the handover, still about
    /// the credential registered at Datafordeler (a renewal or rotation undoes it).
    pub fn is_done(&self, step: &str) -> bool {
        let state = self.state();
        if state.step(step).map(|s| s.progress) != Some(Progress::Done) {
            return false;
        }
        step != "dpg-handover" || !renewal_pending(state)
    }

    /// The expiry of the credential registered at Datafordeler.
    pub fn credential_expires_on(&self) -> Option<NaiveDate> {
        let state = self.state();
        let step = state.route.certificate_step();
        match self.credential_method() {
            Some("shared-secret") => state.fact_date(step, "expires_on"),
            _ => state.fact_date(step, "certificate_not_after"),
        }
    }
}

/// Whether other fields of `step` apply only for some value of its choice `key`.
fn drives_others(step: &StepDef, key: &str) -> bool {
    step.fields.iter().any(|f| {
        matches!(f.applies, Applies::When(c) | Applies::Unless(c) if c.step == step.id && c.key == key)
    })
}

/// DPG does not have the credential registered at Datafordeler: another certificate
/// than the handed-over .p12, a rotated shared secret, or a switch of method.
fn renewal_pending(state: &State) -> bool {
    if state.step("dpg-handover").map(|s| s.progress) != Some(Progress::Done) {
        return false;
    }
    let cert_step = state.route.certificate_step();
    let method = match state.route {
        Route::Selfservice => Some("certificate"),
        Route::Administration => state.fact(cert_step, "method"),
    };
    match method {
        Some("shared-secret") => {
            state.fact(cert_step, "expires_on") != state.fact("dpg-handover", "secret_expires_on")
        }
        Some(_) => {
            let registered = state.fact(cert_step, "certificate_sha1_thumbprint");
            let handed = state.fact("dpg-handover", "p12_sha1_thumbprint");
            registered.is_some() && registered != handed
        }
        None => false,
    }
}

fn derive(case: &Case, today: NaiveDate, prefix: &str) -> Status {
    let state = case.state();
    let defs = case.steps();
    let mut steps = Vec::with_capacity(defs.len());
    let mut all_before_done = true;
    let mut current: Option<&StepDef> = None;
    for (i, def) in defs.iter().enumerate() {
        let rec = state.step(def.id);
        let facts = rec.map(|r| r.facts.clone()).unwrap_or_default();
        let done = case.is_done(def.id);
        let missing: Vec<String> = if done { Vec::new() } else { case.missing(def) };
        let waiting_since = if !done && all_before_done {
            waiting_since(state, defs, i, def)
        } else {
            None
        };
        let st = if done {
            StepState::Done
        } else if waiting_since.is_some() {
            StepState::Waiting
        } else if rec.is_some_and(|r| r.progress != Progress::NotStarted) || !facts.is_empty() {
            StepState::InProgress
        } else {
            StepState::NotStarted
        };
        if !done && current.is_none() {
            current = Some(def);
        }
        all_before_done &= done;
        steps.push(StepStatus {
            id: def.id.to_owned(),
            title: def.title.to_owned(),
            state: st,
            waiting_on: waiting_since.and(def.waits_on.map(str::to_owned)),
            waiting_since,
            waiting_days: waiting_since.map(|d| (today - d).num_days().max(0)),
            started_on: rec.and_then(|r| r.first_recorded_on),
            done_on: done
                .then(|| {
                    def.done_date
                        .and_then(|k| state.fact_date(def.id, k))
                        .or_else(|| rec.and_then(|r| r.marked_done_on))
                })
                .flatten(),
            facts,
            missing,
        });
    }
    let complete = current.is_none();
    let renewal = state
        .renewal
        .as_ref()
        .map(|r| renewal_status(case, r, today, prefix, true));
    let past_renewals = state
        .past_renewals
        .iter()
        .map(|r| renewal_status(case, r, today, prefix, false))
        .collect();

    let mut warnings = Vec::new();
    let mut blockers = Vec::new();
    let cert_step = state.route.certificate_step();
    let method = case.credential_method();
    let secret = method == Some("shared-secret");
    let expires_on = case.credential_expires_on();
    let mut expires_soon = false;
    let mut renewal_due = false;
    // Once a lookup worked with the new credential, the old one may run out.
    let watched = match &renewal {
        Some(r) if r.is_done("confirm") => r.new.expires_on,
        _ => expires_on,
    };
    if let (Some(not_after), Some(r)) = (watched, &renewal) {
        let days = (not_after - today).num_days();
        expires_soon = days <= URGENT_DAYS_LEFT;
        if days < 0 {
            blockers.push(format!(
                "the {} expired on {not_after} and the renewal is not done: {}",
                if r.is_done("confirm") {
                    "new credential"
                } else {
                    "old credential"
                },
                r.next_action.trim_end_matches('.')
            ));
        }
    } else if let Some(not_after) = expires_on {
        let days = (not_after - today).num_days();
        expires_soon = days <= URGENT_DAYS_LEFT;
        renewal_due = complete && days <= WARN_DAYS_LEFT;
        let (what, renew, code) = if complete && secret {
            (
                "the shared secret",
                format!(
                    "create a new shared secret in Datafordeler Administration and start the \
                     renewal with `{prefix} renew --method shared-secret --created-on DATE \
                     --expires-on DATE` (DPG must get the new secret too)"
                ),
                "secret_expiring",
            )
        } else if complete {
            (
                "the registered certificate",
                format!(
                    "get the renewed certificate from MitID Erhverv and start the renewal with \
                     `{prefix} renew --certificate NEW.pem` (it must be registered at \
                     Datafordeler and installed at DPG at once)"
                ),
                "certificate_expiring",
            )
        } else if secret {
            (
                "the shared secret",
                format!(
                    "create a new one in Datafordeler Administration, record it with \
                     `{prefix} record credential --created-on DATE --expires-on DATE` and give it \
                     to DPG (renewal means a new registration at Datafordeler and a new install \
                     at DPG)"
                ),
                "secret_expiring",
            )
        } else {
            (
                "the registered certificate",
                format!(
                    "renew it at MitID Erhverv, upload the new one at Datafordeler and record it \
                     with `{prefix} record {cert_step} --certificate FILE`; a renewal has a new \
                     thumbprint, so it must also be installed at DPG again"
                ),
                "certificate_expiring",
            )
        };
        if days < 0 {
            blockers.push(format!("{what} expired on {not_after}: {renew}"));
        } else if !complete && days < MIN_DAYS_LEFT {
            blockers.push(format!(
                "{what} expires on {not_after}, in {days} days, before the remaining steps can \
                 be done: {renew}"
            ));
        } else if days <= WARN_DAYS_LEFT {
            let due = if complete { "a renewal is due: " } else { "" };
            warnings.push(Warning {
                code,
                step: Some(cert_step.to_owned()),
                message: format!("{due}{what} expires on {not_after}, in {days} days: {renew}"),
            });
        }
    }
    if renewal_pending(state) {
        let message = if secret {
            format!(
                "the shared secret registered at Datafordeler (expires on {}) is not the one DPG \
                 has: give DPG the new secret and record `{prefix} record dpg-handover \
                 --handed-over-on DATE`",
                state.fact(cert_step, "expires_on").unwrap_or("?"),
            )
        } else {
            format!(
                "the certificate registered at Datafordeler (SHA-1 {}) is not the one DPG has \
                 (SHA-1 {}): install the renewed certificate at DPG again",
                state
                    .fact(cert_step, "certificate_sha1_thumbprint")
                    .unwrap_or("?"),
                state
                    .fact("dpg-handover", "p12_sha1_thumbprint")
                    .unwrap_or("none"),
            )
        };
        warnings.push(Warning {
            code: "renewal_not_handed_over",
            step: Some("dpg-handover".to_owned()),
            message,
        });
    }
    if let Some(w) = state.fact("dpg-handover", "p12_warned_checks") {
        warnings.push(Warning {
            code: "handover_verify_warnings",
            step: Some("dpg-handover".to_owned()),
            message: format!("`cprlink cert verify` warned about the handed-over .p12: {w}"),
        });
    }
    for s in &steps {
        if let (Some(days), Some(on)) = (s.waiting_days, &s.waiting_on)
            && days > LONG_WAIT_DAYS
        {
            warnings.push(Warning {
                code: "long_wait",
                step: Some(s.id.clone()),
                message: format!("waiting for {on} for {days} days: consider asking them about it"),
            });
        }
    }
    if state.route == Route::Selfservice
        && !complete
        && selfservice_phase_out().is_some_and(|d| today >= d)
    {
        warnings.push(Warning {
            code: "route_phased_out",
            step: None,
            message: "Datafordeler closed the Self-Service route to new sign-ups on 30 June 2026 \
                      (\"Udfases pr. 30. juni 2026\"): go on only if the authority already has a \
                      service user; otherwise start a new case with `--route administration`"
                .to_owned(),
        });
    }

    let next_command = current
        .map(|d| case.record_command(d, prefix))
        .or_else(|| renewal.as_ref().and_then(|r| r.next_command.clone()));
    let next_action = if let Some(b) = blockers.first() {
        format!("Blocked: {b}.")
    } else if let (Some(def), Some(cmd)) = (current, &next_command) {
        let st = steps.iter().find(|s| s.id == def.id);
        let missing_none = st.is_some_and(|s| s.missing.is_empty());
        match st {
            Some(s) if s.state == StepState::Waiting => format!(
                "Wait for {}{} (waiting since {}, {} days); when the answer comes, run `{cmd}`.",
                def.waits_on.unwrap_or("the answer"),
                quote_case(state, def),
                s.waiting_since.map_or_else(String::new, |d| d.to_string()),
                s.waiting_days.unwrap_or(0),
            ),
            _ if missing_none => format!(
                "Everything for {} is recorded: mark it done with `{prefix} record {} --done`.",
                def.id, def.id
            ),
            _ => format!("{}, then run `{cmd}`.", def.action),
        }
    } else if let Some(r) = &renewal {
        r.next_action.clone()
    } else if let Some(w) = warnings
        .iter()
        .find(|w| renewal_due && matches!(w.code, "certificate_expiring" | "secret_expiring"))
    {
        format!("Onboarding is complete. {}.", capitalised(&w.message))
    } else {
        let what = if secret {
            "the shared secret"
        } else {
            "the certificate"
        };
        let expiry = expires_on.map_or_else(String::new, |d| {
            format!(
                " Renew {what} before {d}: a renewal must be registered at Datafordeler and \
                 installed at DPG again."
            )
        });
        let config = format!(" The go-live config for the lookups: `{prefix} config`.");
        format!("Onboarding is complete: DPG can connect to CPR.{expiry}{config}")
    };

    Status {
        authority: state.authority.clone(),
        cvr: state.cvr.clone(),
        route: state.route,
        environment: state.environment.to_string(),
        contact_name: state.contact_name.clone(),
        contact_email: state.contact_email.clone(),
        steps,
        current_step: current.map(|d| d.id.to_owned()),
        next_action,
        next_command,
        blocked: !blockers.is_empty(),
        blockers,
        warnings,
        complete,
        credential_method: method.map(str::to_owned),
        credential_expires_on: expires_on,
        expires_soon,
        renewal_due,
        renewal,
        past_renewals,
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A credential of a renewal from its facts (`certificate_*`, or a secret's dates).
fn credential_view(
    facts: &std::collections::BTreeMap<String, String>,
    today: NaiveDate,
) -> CredentialView {
    let date = |k: &str| {
        facts
            .get(k)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    };
    let expires_on = date("certificate_not_after").or_else(|| date("expires_on"));
    CredentialView {
        sha1_thumbprint: facts.get("certificate_sha1_thumbprint").cloned(),
        subject: facts.get("certificate_subject").cloned(),
        file: facts.get("certificate_file").cloned(),
        created_on: date("created_on"),
        expires_on,
        days_left: expires_on.map(|d| (d - today).num_days()),
    }
}

/// The status of renewal `r`; `live` for the one in progress (its facts are the
/// case's), not for a past one.
fn renewal_status(
    case: &Case,
    r: &Renewal,
    today: NaiveDate,
    prefix: &str,
    live: bool,
) -> RenewalStatus {
    let defs = renewal_steps(case.route(), &r.method);
    let mut steps = Vec::with_capacity(defs.len());
    let mut current: Option<&StepDef> = None;
    for def in defs {
        let rec = r.steps.iter().find(|s| s.id == def.id);
        let facts = rec.map(|r| r.facts.clone()).unwrap_or_default();
        let done = rec.is_some_and(|r| r.progress == Progress::Done);
        let missing = if done || !live {
            Vec::new()
        } else {
            case.missing(def)
        };
        let st = if done {
            StepState::Done
        } else if !facts.is_empty() {
            StepState::InProgress
        } else {
            StepState::NotStarted
        };
        if !done && current.is_none() {
            current = Some(def);
        }
        let date_of = |k: &str| {
            facts
                .get(k)
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        };
        steps.push(StepStatus {
            id: def.id.to_owned(),
            title: def.title.to_owned(),
            state: st,
            waiting_on: None,
            waiting_since: None,
            waiting_days: None,
            started_on: rec.and_then(|r| r.first_recorded_on),
            done_on: done
                .then(|| {
                    def.done_date
                        .and_then(date_of)
                        .or_else(|| rec.and_then(|r| r.marked_done_on))
                })
                .flatten(),
            facts,
            missing,
        });
    }
    let (next_command, next_action) = match current.filter(|_| live) {
        Some(def) => {
            let cmd = case.record_command(def, prefix);
            let st = steps.iter().find(|s| s.id == def.id);
            let action = if st
                .is_some_and(|s| s.missing.is_empty() && s.state != StepState::NotStarted)
            {
                format!(
                    "Renewal: everything for {} is recorded: mark it done with `{prefix} record {} --done`.",
                    def.id, def.id
                )
            } else {
                format!("Renewal: {}, then run `{cmd}`.", def.action)
            };
            (Some(cmd), action)
        }
        None => (None, "The renewal is done.".to_owned()),
    };
    let old = credential_view(&r.old, today);
    let new = credential_view(&r.new, today);
    let mut if_stalled = Vec::new();
    if let (true, Some(on)) = (live, old.expires_on) {
        let what = if r.method == "shared-secret" {
            "shared secret"
        } else {
            "certificate"
        };
        for s in steps.iter().filter(|s| s.state != StepState::Done) {
            let message = match s.id.as_str() {
                "register-new" => format!(
                    "the lookups stop: Datafordeler knows only the old {what}, which expires that day"
                ),
                "install-dpg" if what == "certificate" => {
                    "DPG's lookups stop: DPG still has only the old certificate (DPG asks for a \
                     renewed certificate to be installed at once after download)"
                        .to_owned()
                }
                "install-dpg" => {
                    "DPG's lookups stop: DPG still has only the old shared secret".to_owned()
                }
                "confirm" => format!(
                    "no lookup has been seen to work with the new {what}: a mistake in it shows \
                     only when the old one stops"
                ),
                _ => format!(
                    "nothing breaks: the old {what} stops by itself; until it is removed, both \
                     are registered"
                ),
            };
            if_stalled.push(Consequence {
                on,
                step: s.id.clone(),
                message,
            });
        }
    }
    RenewalStatus {
        method: r.method.clone(),
        started_on: r.started_on,
        completed_on: r.completed_on,
        old,
        new,
        steps,
        current_step: current.filter(|_| live).map(|d| d.id.to_owned()),
        next_action,
        next_command,
        if_stalled,
    }
}

/// ", case 12345" when waiting on the CPR service desk with a case number.
fn quote_case(state: &State, def: &StepDef) -> String {
    if def.id == "cpr-approval"
        && let Some(n) = state.fact("cpr-application", "case_number")
    {
        return format!(" on case {n}");
    }
    if let Some(t) = state.fact(def.id, "support_ticket") {
        return format!(" on ticket {t}");
    }
    String::new()
}

/// Since when a step waits on another organisation, or `None` when it does not (yet).
pub(crate) fn waiting_since(
    state: &State,
    defs: &[StepDef],
    i: usize,
    def: &StepDef,
) -> Option<NaiveDate> {
    def.waits_on?;
    let rec = state.step(def.id);
    let date_of = |step: &str, key: &str| state.fact_date(step, key);
    if def.waiting_after.is_empty() {
        // Waits as soon as the step before it is done: since that step's last date.
        let prev = defs.get(i.checked_sub(1)?)?;
        let latest_fact = prev
            .fields
            .iter()
            .filter(|f| f.kind == FieldKind::Date)
            .filter_map(|f| date_of(prev.id, f.key))
            .max();
        return latest_fact.or_else(|| state.step(prev.id).and_then(|r| r.marked_done_on));
    }
    let triggered = def
        .waiting_after
        .iter()
        .any(|k| rec.is_some_and(|r| r.facts.contains_key(*k)));
    if !triggered {
        return None;
    }
    def.waiting_after
        .iter()
        .find_map(|k| date_of(def.id, k))
        .or_else(|| rec.and_then(|r| r.first_recorded_on))
}
