//! What the binary tells the model about a certificate, as plain data.
//!
//! Owns the shape of that evidence only. The binary reads the file (with the password
//! flags and `--trust`), runs `cprlink_cert`'s checks and fills these structs; the model
//! judges them. So the library never touches a password or the verify API. A renewal's
//! new certificate comes with the verdict of `cprlink_cert::verify::renewal_problems`
//! against the old one ([`RenewalEvidence`]), since only the binary holds both
//! certificates (the case keeps facts, not keys).

use chrono::{DateTime, Utc};
use cprlink_cert::{CertFacts, Environment, Generation, Kind};

/// The facts of the certificate registered at Datafordeler that matter for onboarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateEvidence {
    /// Where it was read from (shown in the case file; a path, not a secret).
    pub file: String,
    pub subject: String,
    pub cvr: Option<String>,
    pub kind: Kind,
    pub generation: Generation,
    pub environment: Environment,
    pub not_after: DateTime<Utc>,
    /// Upper-case hex, no separators.
    pub sha1_thumbprint: String,
    /// Upper-case hex with colons.
    pub sha256_fingerprint: String,
    /// Why the certificate does not chain to a trusted OCES3 root (the embedded ones or
    /// `--trust`); `None` when it does, or when the caller did not check.
    pub chain_problem: Option<String>,
}

impl CertificateEvidence {
    /// Evidence from the facts `cprlink_cert` read.
    pub fn from_facts(file: impl Into<String>, facts: &CertFacts) -> Self {
        CertificateEvidence {
            file: file.into(),
            subject: facts.subject.clone(),
            cvr: facts.cvr.clone(),
            kind: facts.kind,
            generation: facts.generation,
            environment: facts.environment,
            not_after: facts.not_after,
            sha1_thumbprint: facts.sha1_thumbprint.clone(),
            sha256_fingerprint: facts.sha256_fingerprint.clone(),
            chain_problem: None,
        }
    }
}

/// The overall answer of `cprlink cert verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyVerdict {
    Pass,
    Warn,
    Fail,
}

impl VerifyVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyVerdict::Pass => "pass",
            VerifyVerdict::Warn => "warn",
            VerifyVerdict::Fail => "fail",
        }
    }
}

/// The .p12 handed to DPG: its certificate and the verify checklist's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverEvidence {
    /// The certificate inside the .p12 (its `file` is the .p12's path).
    pub certificate: CertificateEvidence,
    pub verdict: VerifyVerdict,
    /// Ids of the checks that failed (`cvr`, `chain`, ...).
    pub failed_checks: Vec<String>,
    /// Ids of the checks that warned.
    pub warned_checks: Vec<String>,
}

/// A renewed certificate, compared by the binary with the certificate it replaces
/// (`cprlink_cert::verify::renewal_problems`: same CVR, organisation, kind and
/// environment, a new key, a later expiry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalEvidence {
    /// The new certificate.
    pub certificate: CertificateEvidence,
    /// The SHA-1 thumbprint of the certificate it was compared with (upper-case hex):
    /// the model checks that it is the case's registered one.
    pub compared_with: String,
    /// Why it is not a renewal of that certificate, in words (empty: it is one).
    pub problems: Vec<String>,
}
