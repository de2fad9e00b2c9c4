//! A renewal of the credential, tracked like the onboarding: `onboard renew` starts one
//! on a completed case, its four steps (`register-new`, `install-dpg`, `confirm`,
//! `retire-old`) are recorded with `onboard record` by the rules of `case`, and the
//! last one ends it.
//!
//! Owns what makes a renewal (a certificate that `cprlink_cert` found to renew the
//! registered one and that fits the case, or a shared secret that expires later than
//! the current one, within Datafordeler's 730 days), refusing anything else with every
//! reason and nothing changed, and the hand-over at the end: the new credential
//! becomes the case's own (at the credential step and at `dpg-handover`), and the
//! renewal moves to the case's past renewals, with its old credential, for the report.
//! Until then the onboarding's credential and handover stay as they were: they are what
//! DPG and Datafordeler use while the renewal runs.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::case::{Case, Recorded, Stamp, certificate_facts};
use crate::error::Error;
use crate::evidence::RenewalEvidence;
use crate::state::{HistoryEntry, Progress, Renewal, State, StepRecord};
use crate::steps::{RENEWAL_STEP_IDS, StepDef, renewal_steps};
use crate::validate;

/// A shared secret lives at most this many days (Datafordeler).
const SECRET_MAX_DAYS: i64 = 730;

/// The credential a renewal brings.
#[derive(Debug, Clone)]
pub enum NewCredential {
    /// A renewed certificate, compared by the binary with the registered one.
    Certificate(RenewalEvidence),
    /// A new shared secret: its dates as typed (`YYYY-MM-DD`); never the secret.
    SharedSecret {
        created_on: String,
        expires_on: String,
    },
}

impl NewCredential {
    fn method(&self) -> &'static str {
        match self {
            NewCredential::Certificate(_) => "certificate",
            NewCredential::SharedSecret { .. } => "shared-secret",
        }
    }
}

/// "certificate SHA-1 ..., expires ..." or "shared secret, expires ...": the new
/// credential of `r`, for messages.
pub fn describe_new(r: &Renewal) -> String {
    describe(&r.method, &r.new)
}

/// The old credential of `r`, for messages.
pub fn describe_old(r: &Renewal) -> String {
    describe(&r.method, &r.old)
}

fn describe(method: &str, facts: &BTreeMap<String, String>) -> String {
    let get = |k: &str| facts.get(k).map_or("?", String::as_str);
    if method == "shared-secret" {
        format!("shared secret expiring {}", get("expires_on"))
    } else {
        format!(
            "certificate SHA-1 {}, expiring {}",
            get("certificate_sha1_thumbprint"),
            get("certificate_not_after")
        )
    }
}

impl Case {
    /// The renewal in progress, if any.
    pub fn renewal(&self) -> Option<&Renewal> {
        self.state().renewal.as_ref()
    }

    /// The steps of the renewal in progress (empty without one).
    pub fn renewal_steps(&self) -> &'static [StepDef] {
        self.state()
            .renewal
            .as_ref()
            .map_or(&[], |r| renewal_steps(self.route(), &r.method))
    }

    /// Checks `new` as [`Case::renew`] would, without saving anything.
    pub fn check_renewal(&self, new: &NewCredential, stamp: &Stamp) -> Result<(), Error> {
        self.started(new, stamp).map(drop)
    }

    /// Starts the renewal of the case's credential with `new`, then saves. Refused,
    /// with nothing changed, when the case is not complete, a renewal is already in
    /// progress, or `new` is not a renewal of the credential registered.
    pub fn renew(&mut self, new: &NewCredential, stamp: &Stamp) -> Result<Recorded, Error> {
        let (next, mut recorded) = self.started(new, stamp)?;
        recorded.backup = self.save(next)?;
        Ok(recorded)
    }

    /// The state with the renewal started, checked whole.
    fn started(&self, new: &NewCredential, stamp: &Stamp) -> Result<(State, Recorded), Error> {
        let state = self.state();
        let today = stamp.today;
        validate::text(&stamp.who).map_err(|r| Error::InvalidValue {
            flag: "--by".to_owned(),
            value: stamp.who.clone(),
            reason: r,
        })?;
        if let Some(r) = &state.renewal {
            return Err(Error::RenewalInProgress {
                started_on: r.started_on,
                what: describe_new(r),
                blocked: Some(
                    "finish it (`cprlink onboard next`) before another one starts".to_owned(),
                ),
            });
        }
        let status = self.status(today);
        if !status.complete {
            return Err(Error::NotComplete {
                pending: status
                    .steps
                    .iter()
                    .filter(|s| s.state != crate::status::StepState::Done)
                    .map(|s| s.id.clone())
                    .collect(),
            });
        }
        let cert_step = state.route.certificate_step();
        let old = state
            .step(cert_step)
            .map(|s| s.facts.clone())
            .unwrap_or_default();
        let method = self.credential_method().unwrap_or("certificate");
        if method != new.method() {
            let (is, switch) = if method == "shared-secret" {
                ("a shared secret", "--method certificate --certificate FILE")
            } else {
                (
                    "a certificate",
                    "--method shared-secret --created-on DATE --expires-on DATE",
                )
            };
            return Err(Error::RenewalRefused {
                credential: credential_word(new.method()).to_owned(),
                reasons: vec![format!(
                    "the case's credential is {is}; a switch of method is a rotation of step \
                     {cert_step}: `cprlink onboard record {cert_step} {switch}`"
                )],
            });
        }
        let mut next = state.clone();
        let mut recorded = Recorded {
            changed: vec!["renewal".to_owned()],
            ..Recorded::default()
        };
        let mut steps: Vec<StepRecord> = RENEWAL_STEP_IDS
            .iter()
            .map(|id| StepRecord::new(id))
            .collect();
        let new_facts = match new {
            NewCredential::Certificate(ev) => {
                certificate_renewal(state, ev, &old, today)?;
                certificate_facts("certificate", &ev.certificate)
                    .into_iter()
                    .collect::<BTreeMap<_, _>>()
            }
            NewCredential::SharedSecret {
                created_on,
                expires_on,
            } => {
                let (created, expires) = secret_renewal(&old, created_on, expires_on, today)?;
                // The secret's creation is its registration: register-new is done.
                if let Some(first) = steps.first_mut() {
                    first
                        .facts
                        .insert("registered_on".to_owned(), created.to_string());
                    first.progress = Progress::Done;
                    first.first_recorded_on = Some(today);
                    first.marked_done_on = Some(today);
                }
                recorded.notes.push(format!(
                    "register-new is done: the new secret was created on {created}"
                ));
                BTreeMap::from([
                    ("method".to_owned(), "shared-secret".to_owned()),
                    ("created_on".to_owned(), created.to_string()),
                    ("expires_on".to_owned(), expires.to_string()),
                ])
            }
        };
        let renewal = Renewal {
            method: new.method().to_owned(),
            started_on: today,
            completed_on: None,
            old,
            new: new_facts,
            steps: std::mem::take(&mut steps),
        };
        let what = format!(
            "renewal started: the new {} replaces the {}",
            describe_new(&renewal),
            describe_old(&renewal)
        );
        next.renewal = Some(renewal);
        self.note_migration(&mut next, stamp);
        next.history.push(HistoryEntry {
            at: stamp.at,
            who: stamp.who.clone(),
            step: None,
            what,
            changed: vec!["renewal".to_owned()],
            previous: BTreeMap::new(),
        });
        Ok((next, recorded))
    }
}

fn credential_word(method: &str) -> &'static str {
    if method == "shared-secret" {
        "shared secret"
    } else {
        "certificate"
    }
}

/// Every reason `ev` does not renew the case's certificate `old`.
fn certificate_renewal(
    state: &State,
    ev: &RenewalEvidence,
    old: &BTreeMap<String, String>,
    today: NaiveDate,
) -> Result<(), Error> {
    let mut reasons =
        validate::certificate_problems(&ev.certificate, &state.cvr, state.environment, today);
    let registered = old
        .get("certificate_sha1_thumbprint")
        .map_or("", String::as_str);
    if !ev.compared_with.eq_ignore_ascii_case(registered) {
        reasons.push(format!(
            "it was compared with the certificate SHA-1 {}, but the case's certificate is \
             SHA-1 {registered}: compare it with that one",
            ev.compared_with
        ));
    }
    reasons.extend(ev.problems.iter().cloned());
    let new_thumb = &ev.certificate.sha1_thumbprint;
    if new_thumb.eq_ignore_ascii_case(registered)
        && !ev.problems.iter().any(|p| p.contains("same certificate"))
    {
        reasons.push("it is the certificate already registered".to_owned());
    }
    let old_expiry = old
        .get("certificate_not_after")
        .and_then(|d| validate::date_shape(d).ok());
    let new_expiry = ev.certificate.not_after.date_naive();
    if let Some(o) = old_expiry
        && new_expiry <= o
        && !ev.problems.iter().any(|p| p.contains("not after"))
    {
        reasons.push(format!(
            "it expires on {new_expiry}, not after the current one ({o})"
        ));
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Error::RenewalRefused {
            credential: "certificate".to_owned(),
            reasons,
        })
    }
}

/// The new secret's dates, checked like `record credential` checks them, and against
/// the current secret: it must expire later.
fn secret_renewal(
    old: &BTreeMap<String, String>,
    created_on: &str,
    expires_on: &str,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), Error> {
    let invalid = |flag: &str, value: &str, reason: String| Error::InvalidValue {
        flag: flag.to_owned(),
        value: value.to_owned(),
        reason,
    };
    let created =
        validate::date(created_on, today).map_err(|r| invalid("--created-on", created_on, r))?;
    let expires =
        validate::expiry(expires_on, today).map_err(|r| invalid("--expires-on", expires_on, r))?;
    let gap = (expires - created).num_days();
    if gap < 0 {
        return Err(invalid(
            "--expires-on",
            expires_on,
            format!("before --created-on {created}: dates must be in order"),
        ));
    }
    if gap > SECRET_MAX_DAYS {
        return Err(invalid(
            "--expires-on",
            expires_on,
            format!(
                "{gap} days after --created-on {created}: Datafordeler allows at most {SECRET_MAX_DAYS}"
            ),
        ));
    }
    let mut reasons = Vec::new();
    let date = |k: &str| old.get(k).and_then(|d| validate::date_shape(d).ok());
    if let Some(o) = date("expires_on")
        && expires <= o
    {
        reasons.push(format!(
            "it expires on {expires}, not after the current one ({o})"
        ));
    }
    if let Some(o) = date("created_on")
        && created < o
    {
        reasons.push(format!(
            "it was created on {created}, before the current one ({o})"
        ));
    }
    if reasons.is_empty() {
        Ok((created, expires))
    } else {
        Err(Error::RenewalRefused {
            credential: "shared secret".to_owned(),
            reasons,
        })
    }
}

/// Ends the renewal of `next` (its `retire-old` was just marked done): the new
/// credential becomes the case's own at the credential step, DPG's at `dpg-handover`
/// (the .p12 installed at `install-dpg`, or the new secret's expiry), and the renewal
/// moves to the past renewals. The values replaced go to the history.
pub(crate) fn finish(next: &mut State, stamp: &Stamp, recorded: &mut Recorded) {
    let Some(mut r) = next.renewal.take() else {
        return;
    };
    let retired = r
        .steps
        .iter()
        .find(|s| s.id == "retire-old")
        .and_then(|s| s.facts.get("retired_on"))
        .and_then(|d| validate::date_shape(d).ok())
        .unwrap_or(stamp.today);
    r.completed_on = Some(retired.max(r.started_on));
    let cert_step = next.route.certificate_step();
    let secret = r.method == "shared-secret";
    let mut previous = BTreeMap::new();
    let mut changed = Vec::new();
    let mut replace = |state: &mut State,
                       step: &str,
                       drop_prefix: Option<&str>,
                       values: Vec<(String, String)>| {
        let Some(rec) = state.steps.iter_mut().find(|s| s.id == step) else {
            return;
        };
        if let Some(prefix) = drop_prefix {
            let stale: Vec<String> = rec
                .facts
                .keys()
                .filter(|k| k.starts_with(prefix) && !values.iter().any(|(n, _)| n == *k))
                .cloned()
                .collect();
            for k in stale {
                if let Some(v) = rec.facts.remove(&k) {
                    previous.insert(format!("{step}.{k}"), v);
                }
            }
        }
        for (k, v) in values {
            if let Some(old) = rec.facts.insert(k.clone(), v.clone())
                && old != v
            {
                previous.insert(format!("{step}.{k}"), old);
            }
            changed.push(format!("{step}.{k}"));
        }
    };
    if secret {
        let take = |k: &str| r.new.get(k).map(|v| (k.to_owned(), v.clone()));
        let values: Vec<_> = ["created_on", "expires_on"]
            .iter()
            .filter_map(|k| take(k))
            .collect();
        replace(next, cert_step, None, values);
        if let Some(exp) = r.new.get("expires_on") {
            replace(
                next,
                "dpg-handover",
                None,
                vec![("secret_expires_on".to_owned(), exp.clone())],
            );
        }
    } else {
        let values: Vec<_> = r
            .new
            .iter()
            .filter(|(k, _)| k.starts_with("certificate_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        replace(next, cert_step, Some("certificate_"), values);
        let p12: Vec<_> = r
            .steps
            .iter()
            .find(|s| s.id == "install-dpg")
            .map(|s| {
                s.facts
                    .iter()
                    .filter(|(k, _)| k.starts_with("p12_"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        replace(next, "dpg-handover", Some("p12_"), p12);
    }
    let what = format!(
        "renewal done: the {} is the case's own; the {} was retired on {retired}",
        describe_new(&r),
        describe_old(&r)
    );
    recorded.notes.push(format!(
        "the renewal is done: the {} is now the case's credential, and the renewal is in \
         the case's history (`cprlink onboard report`)",
        describe_new(&r)
    ));
    next.history.push(HistoryEntry {
        at: stamp.at,
        who: stamp.who.clone(),
        step: None,
        what,
        changed,
        previous,
    });
    next.past_renewals.push(r);
}
