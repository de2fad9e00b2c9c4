//! The one error type of `cprlink-onboard`.
//!
//! Variants say what is wrong in the admin's terms and name the flag to fix it. They
//! never hold a secret (the library never sees one) or a CPR number (a case has none).
//! The binary maps them to exit codes and adds hints.

use std::path::PathBuf;

/// Everything that can go wrong with an onboarding case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{} already exists: an onboarding case is already recorded there", path.display())]
    StateExists { path: PathBuf },
    #[error("no onboarding case at {}", path.display())]
    StateMissing { path: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot save {}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
    #[error("{} is not a valid onboarding file (line {line}, column {column}): {message}", path.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{} was written by a newer cprlink (state version {found}; this one reads up to {supported})",
        path.display()
    )]
    NewerVersion {
        path: PathBuf,
        found: i64,
        supported: u32,
    },
    #[error("{} is in use by another `cprlink onboard` run", path.display())]
    Locked { path: PathBuf },
    #[error("unknown step `{step}` for route {route}; the steps are: {}", known.join(", "))]
    UnknownStep {
        step: String,
        route: String,
        known: Vec<String>,
    },
    #[error("step {step} has no field {field}; it takes: {}", allowed.join(", "))]
    UnknownField {
        step: String,
        field: String,
        allowed: Vec<String>,
    },
    #[error("{flag} {value:?}: {reason}")]
    InvalidValue {
        flag: String,
        value: String,
        reason: String,
    },
    #[error("nothing to record for {step}: pass one of {}, or --done", flags.join(", "))]
    NothingToRecord { step: String, flags: Vec<String> },
    #[error("{step} cannot be marked done: missing {}", missing.join(", "))]
    MissingFacts { step: String, missing: Vec<String> },
    #[error("{step} cannot be marked done before {}", pending.join(", "))]
    EarlierStepsNotDone { step: String, pending: Vec<String> },
    #[error("the certificate is refused for {step}: {}", reasons.join("; "))]
    CertificateRefused { step: String, reasons: Vec<String> },
    #[error("the .p12 is refused for the handover: {}", reasons.join("; "))]
    HandoverRefused { reasons: Vec<String> },
    #[error("the letter {letter} is not part of route {route}")]
    LetterNotForRoute { letter: String, route: String },
    #[error("the letter {letter} needs facts that are not recorded yet: {}", missing.join(", "))]
    LetterMissingFacts {
        letter: String,
        missing: Vec<String>,
    },
}
