//! The one error type of `cprlink-onboard`.
//!
//! Variants say what is wrong in the admin's terms and name the flag to fix it. They
//! never hold a secret (the library never sees one) or a CPR number (a case has none).
//! The binary maps them to exit codes and adds hints, matching every variant (the enum
//! is not `#[non_exhaustive]`, so a new variant does not compile until it has its exit
//! code and hint). A value that is shown back is cut short and escaped
//! ([`shown`]), so an over-long or hostile value never reaches the terminal whole.

use std::path::PathBuf;

/// Everything that can go wrong with an onboarding case.
#[derive(Debug, thiserror::Error)]
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
    #[error("unknown step {} for route {route}; the steps are: {}", shown(step), known.join(", "))]
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
    #[error("{flag} {}: {reason}", shown(value))]
    InvalidValue {
        flag: String,
        value: String,
        reason: String,
    },
    #[error("{flag} does not apply to {step}: {reason}")]
    NotApplicable {
        step: String,
        flag: String,
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
    #[error("the go-live config needs facts that are not recorded yet: {}", missing.join(", "))]
    ConfigMissingFacts { missing: Vec<String> },
    #[error("a renewal starts on a completed case, and these steps are open: {}", pending.join(", "))]
    NotComplete { pending: Vec<String> },
    #[error("a renewal is in progress since {started_on} ({what}){}", blocked.as_ref().map_or_else(String::new, |b| format!(": {b}")))]
    RenewalInProgress {
        started_on: chrono::NaiveDate,
        /// The new credential, in words.
        what: String,
        /// What cannot be done meanwhile (recording the credential or the handover).
        blocked: Option<String>,
    },
    #[error("{what} belongs to a renewal, and none is in progress")]
    NoRenewal { what: String },
    #[error("the new {credential} is not a renewal: {}", reasons.join("; "))]
    RenewalRefused {
        /// `certificate` or `shared secret`.
        credential: String,
        reasons: Vec<String>,
    },
}

/// How a refused value is shown: quoted and escaped (`"a\u{1b}[31m"`), and cut after
/// 40 characters with its length, so a pasted page or a terminal escape never comes
/// back whole.
pub fn shown(value: &str) -> String {
    const MAX: usize = 40;
    let n = value.chars().count();
    if n <= MAX {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(MAX).collect();
        format!("{head:?}... ({n} characters)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_values_come_back_short_and_escaped() {
        assert_eq!(shown("CPR-1"), "\"CPR-1\"");
        assert_eq!(shown("a\u{1b}[2J"), "\"a\\u{1b}[2J\"");
        let long = "y".repeat(5000);
        let s = shown(&long);
        assert!(s.ends_with("... (5000 characters)"), "{s}");
        assert!(s.len() < 80, "{s}");
    }
}
