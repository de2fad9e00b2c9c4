//! The DPG handover checklist (certificates.md §4) and its verdict.
//!
//! Owns turning an opened file into the SPEC's checks, each with a fixed id, a status
//! (`pass`/`warn`/`fail`/`info`) and a one-line reason in words a DPG staff member can
//! act on, and the verdict: fail if any check fails, else warn if any warns, else pass.
//! Every report carries every check id in the same order (`revocation` only when asked
//! online, `renewal` only with the certificate being replaced), so scripts can rely on
//! them. The renewal comparison is public ([`renewal_problems`], [`renewal_check`]) for
//! the onboarding's renewal too. It never prints; the binary renders reports and picks
//! exit codes.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509, X509Ref};
use serde::Serialize;

use crate::error::Error;
use crate::facts::{CertFacts, Environment, Generation, Kind, sha1_thumbprint, sha256_fingerprint};
use crate::load::{FileFormat, Loaded};
use crate::protection::{Cipher, WINDOWS_MAX_ITERATIONS, group};
use crate::revocation::{self, Revocation, RevocationOptions};
use crate::trust::{self, AnchorKind, ChainStatus};

/// A check of the checklist: the SPEC's ids, in report order. Serialised as its id
/// (`"legacy_encryption"`), spelt in one place ([`CheckId::as_str`]), so a misspelt id
/// cannot reach a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckId {
    Format,
    Password,
    LegacyEncryption,
    Protection,
    PrivateKey,
    Certificate,
    KeyMatch,
    KeySize,
    Validity,
    SignatureAlgorithm,
    KeyUsage,
    Eku,
    BasicConstraints,
    Chain,
    Intermediate,
    Environment,
    OcesGeneration,
    Cvr,
    Kind,
    Fingerprints,
    CerMatch,
    ExtraCerts,
    Revocation,
    Renewal,
}

impl CheckId {
    /// Every id, in report order. `revocation` is reported only with `--online`, and
    /// `renewal` only with `--renewal-of`.
    pub const ALL: [CheckId; 24] = [
        CheckId::Format,
        CheckId::Password,
        CheckId::LegacyEncryption,
        CheckId::Protection,
        CheckId::PrivateKey,
        CheckId::Certificate,
        CheckId::KeyMatch,
        CheckId::KeySize,
        CheckId::Validity,
        CheckId::SignatureAlgorithm,
        CheckId::KeyUsage,
        CheckId::Eku,
        CheckId::BasicConstraints,
        CheckId::Chain,
        CheckId::Intermediate,
        CheckId::Environment,
        CheckId::OcesGeneration,
        CheckId::Cvr,
        CheckId::Kind,
        CheckId::Fingerprints,
        CheckId::CerMatch,
        CheckId::ExtraCerts,
        CheckId::Revocation,
        CheckId::Renewal,
    ];

    /// The ids every report of an opened file carries, in order: all but the two that
    /// are asked for (`revocation`, `renewal`).
    pub fn offline() -> &'static [CheckId] {
        &Self::ALL[..=CheckId::ExtraCerts as usize]
    }

    /// The checks after `certificate` (they need one), up to `extra_certs`.
    fn about_the_certificate() -> &'static [CheckId] {
        &Self::ALL[CheckId::KeyMatch as usize..=CheckId::ExtraCerts as usize]
    }

    /// The SPEC's id.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::Format => "format",
            CheckId::Password => "password",
            CheckId::LegacyEncryption => "legacy_encryption",
            CheckId::Protection => "protection",
            CheckId::PrivateKey => "private_key",
            CheckId::Certificate => "certificate",
            CheckId::KeyMatch => "key_match",
            CheckId::KeySize => "key_size",
            CheckId::Validity => "validity",
            CheckId::SignatureAlgorithm => "signature_algorithm",
            CheckId::KeyUsage => "key_usage",
            CheckId::Eku => "eku",
            CheckId::BasicConstraints => "basic_constraints",
            CheckId::Chain => "chain",
            CheckId::Intermediate => "intermediate",
            CheckId::Environment => "environment",
            CheckId::OcesGeneration => "oces_generation",
            CheckId::Cvr => "cvr",
            CheckId::Kind => "kind",
            CheckId::Fingerprints => "fingerprints",
            CheckId::CerMatch => "cer_match",
            CheckId::ExtraCerts => "extra_certs",
            CheckId::Revocation => "revocation",
            CheckId::Renewal => "renewal",
        }
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that `{:<20}` lines up the checklist.
        f.pad(self.as_str())
    }
}

impl Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// What to check against.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The authority's CVR; the certificate's `organizationIdentifier` must match.
    pub expected_cvr: Option<String>,
    /// The environment the certificate is for.
    pub environment: Option<Environment>,
    /// Warn when fewer days than this are left.
    pub warn_days: u32,
    /// Trust anchors next to the embedded OCES3 roots (test PKIs).
    pub extra_trust: Vec<X509>,
    /// The certificate uploaded to Datafordeler; must be the same one.
    pub uploaded_cer: Option<X509>,
    /// Check revocation over the network.
    pub online: bool,
    /// The moment to judge validity at.
    pub now: DateTime<Utc>,
    /// Ask this OCSP responder instead of the one the certificate names (tests, proxies).
    pub ocsp_url: Option<String>,
    /// Time limit for each online attempt (OCSP, then CRL).
    pub online_timeout: Duration,
    /// The certificate being replaced: adds the `renewal` check ([`renewal_check`]).
    pub renewal_of: Option<X509>,
}

impl VerifyOptions {
    /// No expectations, 60 days' warning, judged now, offline.
    pub fn new() -> Self {
        VerifyOptions {
            expected_cvr: None,
            environment: None,
            warn_days: 60,
            extra_trust: Vec::new(),
            uploaded_cer: None,
            online: false,
            now: Utc::now(),
            ocsp_url: None,
            online_timeout: Duration::from_secs(5),
            renewal_of: None,
        }
    }
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// The overall answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    Warn,
    Fail,
    /// A fact worth knowing; never changes the verdict.
    Info,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
            CheckStatus::Info => "info",
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: CheckId,
    pub status: CheckStatus,
    pub detail: String,
}

/// The checklist and its verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    pub checks: Vec<Check>,
    /// The facts of the certificate that belongs to the key, for callers that record
    /// them (thumbprint, expiry, CVR). Not part of the JSON document.
    #[serde(skip)]
    pub leaf: Option<CertFacts>,
    /// The chain outcome, for callers.
    #[serde(skip)]
    pub chain: Option<ChainStatus>,
}

impl Report {
    fn from_checks(checks: Vec<Check>) -> Self {
        let verdict = if checks.iter().any(|c| c.status == CheckStatus::Fail) {
            Verdict::Fail
        } else if checks.iter().any(|c| c.status == CheckStatus::Warn) {
            Verdict::Warn
        } else {
            Verdict::Pass
        };
        Report {
            verdict,
            checks,
            leaf: None,
            chain: None,
        }
    }

    /// The check with this id.
    pub fn check(&self, id: CheckId) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == CheckStatus::Fail)
    }

    /// SHA-1 thumbprint of the key's certificate (upper-case hex, as Windows shows it),
    /// to compare with a recorded one.
    pub fn leaf_sha1(&self) -> Option<&str> {
        self.leaf.as_ref().map(|f| f.sha1_thumbprint.as_str())
    }

    /// SHA-256 fingerprint of the key's certificate (upper-case hex with colons).
    pub fn leaf_sha256(&self) -> Option<&str> {
        self.leaf.as_ref().map(|f| f.sha256_fingerprint.as_str())
    }

    /// The report for a file that could not be opened: `format` or `password` fails and
    /// nothing else is checked. `None` for errors that are not about the file's
    /// content (it cannot be read at all, or a password is missing).
    pub fn for_open_error(err: &Error) -> Option<Report> {
        let (id, detail) = match err {
            Error::WrongPassword { .. } => (
                CheckId::Password,
                "the password does not open the file".to_owned(),
            ),
            Error::PasswordHasNul => (CheckId::Password, err.to_string()),
            Error::EmptyFile { .. } => (CheckId::Format, "the file is empty".to_owned()),
            Error::Base64Pkcs12 { .. } => (
                CheckId::Format,
                "Base64 text of a PKCS#12 file, not the binary file itself (decode it first)"
                    .to_owned(),
            ),
            Error::NotPkcs12 { reason, .. } => (
                CheckId::Format,
                format!("not a readable PKCS#12 file: {reason}"),
            ),
            Error::UnrecognizedFormat { reason, .. } => {
                (CheckId::Format, format!("not a PKCS#12 file: {reason}"))
            }
            Error::AbsurdIterationCount { count, limit, .. } => (
                CheckId::Format,
                format!(
                    "asks for {} iterations (limit {}): refused unopened, the file may be hostile",
                    group(*count),
                    group(*limit)
                ),
            ),
            Error::LegacyEncryptionUnavailable { .. } => (
                CheckId::LegacyEncryption,
                "old RC2 export, and OpenSSL's legacy provider is not available here".to_owned(),
            ),
            Error::KeyWithoutCertificate { .. } => (
                CheckId::Format,
                "a PEM private key without a certificate, not a PKCS#12 file".to_owned(),
            ),
            _ => return None,
        };
        let mut checks = vec![Check {
            id,
            status: CheckStatus::Fail,
            detail,
        }];
        if id != CheckId::Format {
            checks.insert(
                0,
                Check {
                    id: CheckId::Format,
                    status: CheckStatus::Pass,
                    detail: "PKCS#12".to_owned(),
                },
            );
        }
        Some(Report::from_checks(checks))
    }
}

/// Opens `path` and runs the checklist. Errors: the file cannot be read, is not a
/// PKCS#12 file (a PEM certificate or key included: DPG needs the .p12), the password
/// is missing or wrong. Everything else is a check in the report.
pub fn verify_file(
    path: &Path,
    password: Option<&str>,
    opts: &VerifyOptions,
) -> Result<Report, Error> {
    let loaded = crate::load::load(path, password)?;
    if loaded.format != FileFormat::Pkcs12 {
        return Err(Error::NotPkcs12 {
            path: path.to_path_buf(),
            reason: format!(
                "it is a {}; DPG needs the .p12/.pfx with the certificate and its private key",
                loaded.format.describe()
            ),
        });
    }
    Ok(verify(&loaded, opts))
}

/// Runs the checklist on an opened file.
pub fn verify(loaded: &Loaded, opts: &VerifyOptions) -> Report {
    let mut c = Checks::default();
    let p12 = loaded.p12.as_ref();

    // format, password, legacy_encryption, protection
    match p12 {
        Some(p) => {
            let ber = if p.protection.ber_indefinite {
                " (BER with indefinite lengths, as Windows/Java write it)"
            } else {
                ""
            };
            c.pass(CheckId::Format, format!("PKCS#12{ber}"));
            c.pass(CheckId::Password, "the password opens the file");
            if p.protection.needs_legacy_provider() {
                c.info(
                    CheckId::LegacyEncryption,
                    "old RC2 export: needed OpenSSL's legacy provider; readers without it fail \
                     (`cprlink cert repack` makes a compat copy)",
                );
            } else {
                c.pass(
                    CheckId::LegacyEncryption,
                    "no legacy algorithms (RC2, RC4, DES)",
                );
            }
            let prot = &p.protection;
            let text = format!(
                "{}: {}; readable by {}",
                prot.profile(),
                prot.summary(),
                prot.readable_by()
            );
            if prot.max_iterations() > WINDOWS_MAX_ITERATIONS {
                c.warn(
                    CheckId::Protection,
                    format!(
                        "{} iterations: Windows refuses more than {}; {text}",
                        group(prot.max_iterations()),
                        group(WINDOWS_MAX_ITERATIONS)
                    ),
                );
            } else if prot.key_bags.iter().any(|k| k.cipher == Cipher::None) {
                c.warn(
                    CheckId::Protection,
                    format!("the private key is stored unencrypted; {text}"),
                );
            } else if prot.mac.is_none() {
                c.warn(
                    CheckId::Protection,
                    format!("no MAC, the file's integrity is not protected; {text}"),
                );
            } else {
                c.info(CheckId::Protection, text);
            }
        }
        None => {
            c.fail(
                CheckId::Format,
                format!(
                    "a {}, not a PKCS#12 file; DPG needs the .p12 with the private key",
                    loaded.format.describe()
                ),
            );
            c.info(CheckId::Password, "not applicable");
            c.info(CheckId::LegacyEncryption, "not applicable");
            c.info(CheckId::Protection, "not applicable");
        }
    }

    // private_key, certificate, key_match
    let key: Option<&PKey<Private>> = loaded.key.as_ref();
    let leaf = loaded.key_certificate().cloned();
    let leaf_note = match loaded.p12.as_ref() {
        Some(p) if p.cert.is_none() && leaf.is_some() => " (found by its public key)",
        _ => "",
    };
    match key {
        Some(k) => c.pass(CheckId::PrivateKey, format!("present ({})", key_text(k))),
        None => c.fail(
            CheckId::PrivateKey,
            "no private key in the file: DPG cannot authenticate with it",
        ),
    }
    let Some(leaf) = leaf else {
        c.fail(CheckId::Certificate, "no certificate in the file");
        for id in CheckId::about_the_certificate() {
            c.info(*id, "not checked: no certificate");
        }
        c.asked_for_but_not_checked(opts, "not checked: no certificate");
        return c.finish(None, None);
    };
    let facts = match CertFacts::of(&leaf, opts.now) {
        Ok(f) => f,
        Err(e) => {
            c.fail(
                CheckId::Certificate,
                format!("the certificate cannot be read: {e}"),
            );
            for id in CheckId::about_the_certificate() {
                c.info(*id, "not checked: unreadable certificate");
            }
            c.asked_for_but_not_checked(opts, "not checked: unreadable certificate");
            return c.finish(None, None);
        }
    };
    c.pass(
        CheckId::Certificate,
        format!("{}{leaf_note}", short_subject(&facts)),
    );
    match key {
        Some(k) => {
            let matches = leaf.public_key().map(|pk| pk.public_eq(k)).unwrap_or(false);
            if matches {
                c.pass(
                    CheckId::KeyMatch,
                    "the private key belongs to the certificate",
                );
            } else {
                c.fail(
                    CheckId::KeyMatch,
                    "the private key does not belong to the certificate: TLS would fail",
                );
            }
        }
        None => c.info(CheckId::KeyMatch, "not checked: no private key"),
    }

    check_key_size(&mut c, &facts);
    check_validity(&mut c, &facts, opts);
    check_signature(&mut c, &facts);
    check_usages(&mut c, &facts);

    // chain, intermediate
    let others = loaded.others(&leaf);
    let chain = trust::build_chain(&leaf, &others, &opts.extra_trust, opts.now);
    let chain = match chain {
        Ok(ch) => {
            if ch.verified {
                c.pass(CheckId::Chain, ch.describe());
            } else {
                c.fail(CheckId::Chain, ch.describe());
            }
            Some(ch)
        }
        Err(e) => {
            c.fail(CheckId::Chain, format!("chain building failed: {e}"));
            None
        }
    };
    check_intermediate(&mut c, &leaf, &others, &opts.extra_trust);

    // environment, oces_generation, cvr, kind
    check_environment(
        &mut c,
        effective_environment(&facts, chain.as_ref()),
        opts.environment,
    );
    let generation = effective_generation(&facts, chain.as_ref());
    match generation {
        Generation::Oces3 => c.pass(CheckId::OcesGeneration, "OCES3"),
        Generation::Oces2 => c.fail(
            CheckId::OcesGeneration,
            "OCES2 (TRUST2408), retired on 31 October 2023: order an OCES3 certificate in MitID Erhverv",
        ),
        Generation::Unknown => c.fail(
            CheckId::OcesGeneration,
            format!("not an OCES certificate (issuer {})", facts.issuer),
        ),
    }
    check_cvr(&mut c, &facts, opts.expected_cvr.as_deref());
    match facts.kind {
        Kind::SystemOrOrganisation => c.pass(
            CheckId::Kind,
            "system/organisation certificate (UI:DK-O), right for a system connection",
        ),
        Kind::Employee => c.fail(
            CheckId::Kind,
            "employee certificate (UI:DK-E, a person): a system connection needs an \
             organisation/system certificate from MitID Erhverv",
        ),
        Kind::Unknown => c.fail(
            CheckId::Kind,
            "not an OCES organisation/system certificate (no serialNumber UI:DK-O:...)",
        ),
    }

    // fingerprints, cer_match, extra_certs
    c.info(
        CheckId::Fingerprints,
        format!(
            "SHA-1 {}, SHA-256 {}",
            facts.sha1_thumbprint, facts.sha256_fingerprint
        ),
    );
    match &opts.uploaded_cer {
        Some(cer) => check_cer(&mut c, &leaf, cer, &facts),
        None => c.info(
            CheckId::CerMatch,
            "not checked (pass --cer UPLOADED.cer to compare)",
        ),
    }
    check_extra_certs(&mut c, &others);

    if opts.online {
        check_revocation(&mut c, &leaf, &others, opts);
    }
    if let Some(old) = &opts.renewal_of {
        c.0.push(renewal_check(old, &leaf));
    }
    c.finish(Some(facts), chain)
}

/// Why a certificate is not a renewal of the one it replaces. A renewal from MitID
/// Erhverv keeps the CVR, the organisation, the kind and the environment, and brings a
/// new key and a later expiry (certificates.md §1; Datafordeler: a new thumbprint to
/// register).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenewalProblem {
    /// Both files hold the very same certificate.
    SameCertificate,
    OtherCvr {
        old: Option<String>,
        new: Option<String>,
    },
    OtherOrganisation {
        old: Option<String>,
        new: Option<String>,
    },
    OtherKind {
        old: Kind,
        new: Kind,
    },
    OtherEnvironment {
        old: Environment,
        new: Environment,
    },
    /// The new certificate certifies the old key.
    SameKey,
    /// The new certificate does not expire after the old one.
    NotLater {
        old: DateTime<Utc>,
        new: DateTime<Utc>,
    },
}

impl std::fmt::Display for RenewalProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_owned());
        let day = |t: &DateTime<Utc>| t.format("%Y-%m-%d").to_string();
        match self {
            RenewalProblem::SameCertificate => write!(f, "it is the same certificate"),
            RenewalProblem::OtherCvr { old, new } => write!(
                f,
                "another CVR ({} here, {} on the old one)",
                or_none(new),
                or_none(old)
            ),
            RenewalProblem::OtherOrganisation { old, new } => write!(
                f,
                "another organisation ({:?} here, {:?} on the old one)",
                or_none(new),
                or_none(old)
            ),
            RenewalProblem::OtherKind { old, new } => write!(
                f,
                "another kind ({} here, {} on the old one)",
                new.as_str(),
                old.as_str()
            ),
            RenewalProblem::OtherEnvironment { old, new } => {
                write!(f, "another environment ({new} here, {old} on the old one)")
            }
            RenewalProblem::SameKey => write!(
                f,
                "the same key as the old one (a renewal from MitID Erhverv has a new key)"
            ),
            RenewalProblem::NotLater { old, new } => write!(
                f,
                "it expires {}, not after the old one ({})",
                day(new),
                day(old)
            ),
        }
    }
}

/// What stands between `new` and being a renewal of `old`: nothing when it is one.
/// For `cert verify --renewal-of` and the onboarding's `onboard renew`.
pub fn renewal_problems(old: &X509Ref, new: &X509Ref) -> Result<Vec<RenewalProblem>, Error> {
    if crate::facts::same_certificate(old, new) {
        return Ok(vec![RenewalProblem::SameCertificate]);
    }
    let now = Utc::now();
    let (o, n) = (CertFacts::of(old, now)?, CertFacts::of(new, now)?);
    let mut problems = Vec::new();
    if o.cvr.is_none() || o.cvr != n.cvr {
        problems.push(RenewalProblem::OtherCvr {
            old: o.cvr.clone(),
            new: n.cvr.clone(),
        });
    }
    let trimmed = |v: &Option<String>| v.as_deref().map(str::trim).map(str::to_owned);
    if trimmed(&o.organisation) != trimmed(&n.organisation) {
        problems.push(RenewalProblem::OtherOrganisation {
            old: o.organisation.clone(),
            new: n.organisation.clone(),
        });
    }
    if o.kind != n.kind {
        problems.push(RenewalProblem::OtherKind {
            old: o.kind,
            new: n.kind,
        });
    }
    if o.environment != n.environment {
        problems.push(RenewalProblem::OtherEnvironment {
            old: o.environment,
            new: n.environment,
        });
    }
    let same_key = match (old.public_key(), new.public_key()) {
        (Ok(a), Ok(b)) => a.public_eq(&b),
        _ => false,
    };
    if same_key {
        problems.push(RenewalProblem::SameKey);
    }
    if n.not_after <= o.not_after {
        problems.push(RenewalProblem::NotLater {
            old: o.not_after,
            new: n.not_after,
        });
    }
    Ok(problems)
}

/// The `renewal` check: `pass` when `new` renews `old`, `fail` with every reason
/// otherwise.
pub fn renewal_check(old: &X509Ref, new: &X509Ref) -> Check {
    let day = |t: DateTime<Utc>| t.format("%Y-%m-%d").to_string();
    let old_facts = CertFacts::of(old, Utc::now());
    let (status, detail) = match (renewal_problems(old, new), &old_facts) {
        (Ok(problems), Ok(o)) if problems.is_empty() => {
            let gained = CertFacts::of(new, Utc::now())
                .map(|n| (n.not_after - o.not_after).num_days())
                .unwrap_or(0);
            (
                CheckStatus::Pass,
                format!(
                    "renews the certificate expiring {} (SHA-1 {}): same CVR, organisation, \
                     kind and environment, a new key, {gained} days later",
                    day(o.not_after),
                    o.sha1_thumbprint
                ),
            )
        }
        (Ok(problems), _) => {
            let reasons: Vec<String> = problems.iter().map(ToString::to_string).collect();
            let of = match &old_facts {
                Ok(o) => format!(" expiring {}", day(o.not_after)),
                Err(_) => String::new(),
            };
            (
                CheckStatus::Fail,
                format!(
                    "not a renewal of the certificate{of}: {}",
                    reasons.join("; ")
                ),
            )
        }
        (Err(e), _) => (
            CheckStatus::Fail,
            format!("cannot compare with the old certificate: {e}"),
        ),
    };
    Check {
        id: CheckId::Renewal,
        status,
        detail,
    }
}

/// Production or test: the embedded root the chain reached says it best; otherwise the
/// issuer's name (`OU=Test - cti` for MitID Erhverv test).
pub fn effective_environment(facts: &CertFacts, chain: Option<&ChainStatus>) -> Environment {
    match chain.and_then(|ch| ch.anchor) {
        Some(AnchorKind::Oces3Production) => Environment::Production,
        Some(AnchorKind::Oces3Test) => Environment::Test,
        _ => facts.environment,
    }
}

/// OCES3 when the chain reached an embedded OCES3 root; otherwise as the names tell.
pub fn effective_generation(facts: &CertFacts, chain: Option<&ChainStatus>) -> Generation {
    match chain.and_then(|ch| ch.anchor) {
        Some(AnchorKind::Oces3Production | AnchorKind::Oces3Test) => Generation::Oces3,
        _ => facts.generation,
    }
}

#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    fn push(&mut self, id: CheckId, status: CheckStatus, detail: impl Into<String>) {
        self.0.push(Check {
            id,
            status,
            detail: detail.into(),
        });
    }
    fn pass(&mut self, id: CheckId, detail: impl Into<String>) {
        self.push(id, CheckStatus::Pass, detail);
    }
    fn warn(&mut self, id: CheckId, detail: impl Into<String>) {
        self.push(id, CheckStatus::Warn, detail);
    }
    fn fail(&mut self, id: CheckId, detail: impl Into<String>) {
        self.push(id, CheckStatus::Fail, detail);
    }
    fn info(&mut self, id: CheckId, detail: impl Into<String>) {
        self.push(id, CheckStatus::Info, detail);
    }
    /// `revocation` and `renewal`, when asked for, on a file whose certificate could
    /// not be checked: the report still carries every id the caller asked for.
    fn asked_for_but_not_checked(&mut self, opts: &VerifyOptions, why: &str) {
        if opts.online {
            self.info(CheckId::Revocation, why);
        }
        if opts.renewal_of.is_some() {
            self.info(CheckId::Renewal, why);
        }
    }
    fn finish(self, leaf: Option<CertFacts>, chain: Option<ChainStatus>) -> Report {
        let mut report = Report::from_checks(self.0);
        report.leaf = leaf;
        report.chain = chain;
        report
    }
}

fn key_text(k: &PKey<Private>) -> String {
    match k.id() {
        openssl::pkey::Id::RSA | openssl::pkey::Id::RSA_PSS => format!("RSA {} bits", k.bits()),
        openssl::pkey::Id::EC => format!("EC {} bits", k.bits()),
        other => format!("{other:?} {} bits", k.bits()),
    }
}

/// `CN=..., O=... (CVR ...)` without the long serialNumber.
fn short_subject(f: &CertFacts) -> String {
    let mut out = format!("CN={}", f.common_name.as_deref().unwrap_or("?"));
    if let Some(o) = &f.organisation {
        out.push_str(&format!(", O={o}"));
    }
    out
}

fn check_key_size(c: &mut Checks, f: &CertFacts) {
    let rsa = f.key_type.starts_with("RSA");
    if rsa && f.key_bits >= 3072 {
        c.pass(CheckId::KeySize, format!("RSA {} bits", f.key_bits));
    } else if rsa && f.key_bits >= 2048 {
        c.warn(
            CheckId::KeySize,
            format!(
                "RSA {} bits: OCES3 certificates use RSA 3072 or more",
                f.key_bits
            ),
        );
    } else if rsa {
        c.fail(
            CheckId::KeySize,
            format!("RSA {} bits: too weak", f.key_bits),
        );
    } else {
        c.warn(
            CheckId::KeySize,
            format!(
                "{} {} bits: OCES3 certificates use RSA",
                f.key_type, f.key_bits
            ),
        );
    }
}

fn check_validity(c: &mut Checks, f: &CertFacts, opts: &VerifyOptions) {
    let day = |t: DateTime<Utc>| t.format("%Y-%m-%d").to_string();
    if opts.now < f.not_before {
        let days = (f.not_before - opts.now).num_days();
        c.fail(
            CheckId::Validity,
            format!(
                "not valid yet: valid from {} (in {days} days); check the clock, or wait",
                f.not_before.format("%Y-%m-%d %H:%M UTC")
            ),
        );
    } else if opts.now > f.not_after {
        let days = (opts.now - f.not_after).num_days();
        c.fail(
            CheckId::Validity,
            format!(
                "expired on {} ({days} days ago): renew it in MitID Erhverv",
                day(f.not_after)
            ),
        );
    } else if f.days_left < i64::from(opts.warn_days) {
        c.warn(
            CheckId::Validity,
            format!(
                "expires {}: only {} days left; a renewed certificate means a new thumbprint \
                 at Datafordeler and a new handover to DPG",
                day(f.not_after),
                f.days_left
            ),
        );
    } else {
        c.pass(
            CheckId::Validity,
            format!(
                "valid {} to {}, {} days left",
                day(f.not_before),
                day(f.not_after),
                f.days_left
            ),
        );
    }
}

fn check_signature(c: &mut Checks, f: &CertFacts) {
    let name = &f.signature_algorithm;
    let lower = name.to_ascii_lowercase();
    let weak = ["sha1", "sha-1", "md5", "md4", "md2"]
        .iter()
        .any(|w| lower.contains(w));
    if weak {
        c.fail(
            CheckId::SignatureAlgorithm,
            format!("{name}: a broken hash, refused"),
        );
    } else if name.starts_with("RSASSA-PSS")
        || [
            "sha256WithRSAEncryption",
            "sha384WithRSAEncryption",
            "sha512WithRSAEncryption",
        ]
        .contains(&name.as_str())
    {
        c.pass(CheckId::SignatureAlgorithm, name.clone());
    } else {
        c.warn(
            CheckId::SignatureAlgorithm,
            format!("{name}: OCES3 uses RSASSA-PSS; check that DPG accepts it"),
        );
    }
}

fn check_usages(c: &mut Checks, f: &CertFacts) {
    match &f.key_usage {
        None => c.pass(CheckId::KeyUsage, "absent (no restriction)"),
        Some(ku) if ku.iter().any(|u| u == "digitalSignature") => {
            c.pass(CheckId::KeyUsage, ku.join(", "))
        }
        Some(ku) => c.fail(
            CheckId::KeyUsage,
            format!(
                "{} without digitalSignature: TLS client authentication needs it",
                if ku.is_empty() {
                    "empty".to_owned()
                } else {
                    ku.join(", ")
                }
            ),
        ),
    }
    match &f.extended_key_usage {
        None => c.pass(CheckId::Eku, "absent (normal for OCES3)"),
        Some(eku)
            if eku
                .iter()
                .any(|u| u == "clientAuth" || u == "anyExtendedKeyUsage") =>
        {
            c.pass(CheckId::Eku, eku.join(", "))
        }
        Some(eku) => c.fail(
            CheckId::Eku,
            format!(
                "restricted to {} without clientAuth: TLS client authentication would be refused",
                eku.join(", ")
            ),
        ),
    }
    if f.is_ca {
        c.warn(
            CheckId::BasicConstraints,
            "CA:TRUE on the certificate: a leaf should not be a CA",
        );
    } else {
        c.pass(CheckId::BasicConstraints, "not a CA");
    }
}

fn check_intermediate(c: &mut Checks, leaf: &X509Ref, others: &[X509], extra_trust: &[X509]) {
    let issuer_cn = crate::facts::entry(leaf.issuer_name(), Nid::COMMONNAME)
        .unwrap_or_else(|| crate::facts::name_text(leaf.issuer_name()));
    if trust::is_self_signed(leaf) {
        c.info(
            CheckId::Intermediate,
            "not applicable: the certificate is self-signed",
        );
        return;
    }
    if let Some(issuer) = others.iter().find(|o| trust::issued_by(leaf, o)) {
        if trust::is_self_signed(issuer) {
            c.pass(
                CheckId::Intermediate,
                format!("not needed: issued directly by the root {issuer_cn}"),
            );
        } else {
            c.pass(CheckId::Intermediate, format!("{issuer_cn} included"));
        }
        return;
    }
    // Only a root may be missing from the file. An issuing CA given with --trust (or
    // one cprlink carries) lets the chain build here, but DPG needs it in the file
    // (certificates.md §4), so it is no reason to pass.
    let issued_by_a_root = trust::embedded_roots()
        .iter()
        .chain(extra_trust)
        .any(|r| trust::is_self_signed(r) && trust::issued_by(leaf, r));
    if issued_by_a_root {
        c.pass(
            CheckId::Intermediate,
            format!("not needed: issued directly by the root {issuer_cn}"),
        );
        return;
    }
    c.warn(
        CheckId::Intermediate,
        format!(
            "the file lacks the issuing CA ({issuer_cn}): servers that trust only the root \
             refuse it (TLS alert 48); add it with `cprlink cert repack --add-oces-chain`"
        ),
    );
}

fn check_environment(c: &mut Checks, env: Environment, target: Option<Environment>) {
    let words = |e: Environment| match e {
        Environment::Production => "production certificate",
        Environment::Test => "test certificate (MitID Erhverv test)",
        Environment::Unknown => "certificate of unknown environment",
    };
    match target {
        None => c.info(
            CheckId::Environment,
            format!("{} (pass --environment to compare)", words(env)),
        ),
        Some(t) if t == env => c.pass(CheckId::Environment, format!("{}, as required", words(env))),
        Some(Environment::Production) if env == Environment::Test => c.fail(
            CheckId::Environment,
            "a test certificate, but the target is production: Datafordeler production needs a \
             production certificate",
        ),
        Some(Environment::Test) if env == Environment::Production => c.fail(
            CheckId::Environment,
            "a production certificate, but the target is test: Datafordeler Test04 needs a test \
             certificate",
        ),
        Some(t) => c.fail(
            CheckId::Environment,
            format!(
                "cannot tell whether it is a {t} certificate ({})",
                words(env)
            ),
        ),
    }
}

fn check_cvr(c: &mut Checks, f: &CertFacts, expected: Option<&str>) {
    match (expected, f.cvr.as_deref()) {
        (Some(want), Some(got)) if want == got => {
            c.pass(CheckId::Cvr, format!("{got}, as expected"))
        }
        (Some(want), Some(got)) => c.fail(
            CheckId::Cvr,
            format!("the certificate is for CVR {got}, expected {want}"),
        ),
        (Some(want), None) => c.fail(
            CheckId::Cvr,
            format!(
                "the certificate carries no CVR (organizationIdentifier NTRDK-...), expected {want}"
            ),
        ),
        (None, Some(got)) => c.info(CheckId::Cvr, format!("{got} (pass --cvr to compare)")),
        (None, None) => c.warn(
            CheckId::Cvr,
            "the certificate carries no CVR (organizationIdentifier NTRDK-...)",
        ),
    }
}

fn check_cer(c: &mut Checks, leaf: &X509Ref, cer: &X509Ref, f: &CertFacts) {
    let theirs = sha256_fingerprint(cer).unwrap_or_default();
    if theirs == f.sha256_fingerprint {
        c.pass(
            CheckId::CerMatch,
            "the same certificate as the uploaded .cer",
        );
        return;
    }
    let their_sha1 = sha1_thumbprint(cer).unwrap_or_default();
    let same_key = match (leaf.public_key(), cer.public_key()) {
        (Ok(a), Ok(b)) => a.public_eq(&b),
        _ => false,
    };
    let hint = if same_key {
        " (same key, different certificate: a renewal? upload the new one)"
    } else {
        ""
    };
    c.fail(
        CheckId::CerMatch,
        format!(
            "a different certificate than the uploaded .cer (SHA-1 {their_sha1} there, {} here){hint}",
            f.sha1_thumbprint
        ),
    );
}

fn check_extra_certs(c: &mut Checks, others: &[X509]) {
    let mut extra = Vec::new();
    let mut cas = 0;
    for o in others {
        match CertFacts::of(o, Utc::now()) {
            Ok(f) if f.is_ca => cas += 1,
            Ok(f) => extra.push(format!(
                "CN={}",
                f.common_name.unwrap_or_else(|| f.subject.clone())
            )),
            Err(_) => extra.push("an unreadable certificate".to_owned()),
        }
    }
    if extra.is_empty() {
        c.pass(
            CheckId::ExtraCerts,
            format!(
                "none ({cas} CA certificate{})",
                if cas == 1 { "" } else { "s" }
            ),
        );
    } else {
        c.warn(
            CheckId::ExtraCerts,
            format!(
                "{} other leaf certificate{} in the file ({}): DPG may pick the wrong one",
                extra.len(),
                if extra.len() == 1 { "" } else { "s" },
                extra.join("; ")
            ),
        );
    }
}

fn check_revocation(c: &mut Checks, leaf: &X509Ref, others: &[X509], opts: &VerifyOptions) {
    let issuer = others
        .iter()
        .chain(trust::embedded_issuing_cas())
        .chain(&opts.extra_trust)
        .find(|o| trust::issued_by(leaf, o))
        .cloned();
    let Some(issuer) = issuer else {
        c.warn(
            CheckId::Revocation,
            "could not check: the issuing CA is not known",
        );
        return;
    };
    let mut trusted: Vec<X509> = trust::embedded_roots().to_vec();
    trusted.extend(opts.extra_trust.iter().cloned());
    let ocsp_url = opts.ocsp_url.clone().or_else(|| {
        // OCES3 production certificates name their responder; this is the fallback.
        let names = leaf.ocsp_responders().map(|s| s.len()).unwrap_or(0);
        (names == 0
            && crate::facts::CertFacts::of(leaf, opts.now)
                .is_ok_and(|f| f.environment == Environment::Production))
        .then(|| revocation::OCES3_OCSP.to_owned())
    });
    let ropts = RevocationOptions {
        ocsp_url,
        timeout: opts.online_timeout,
    };
    match revocation::check(leaf, &issuer, &trusted, &ropts) {
        Revocation::Good { source } => {
            c.pass(CheckId::Revocation, format!("not revoked ({source})"))
        }
        Revocation::Revoked { source, detail } => c.fail(
            CheckId::Revocation,
            format!("{detail} ({source}): order a new certificate"),
        ),
        Revocation::Unknown { reason } => {
            c.warn(CheckId::Revocation, format!("could not check: {reason}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_ids_are_the_specs_in_report_order() {
        let spelt: Vec<&str> = CheckId::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            spelt,
            [
                "format",
                "password",
                "legacy_encryption",
                "protection",
                "private_key",
                "certificate",
                "key_match",
                "key_size",
                "validity",
                "signature_algorithm",
                "key_usage",
                "eku",
                "basic_constraints",
                "chain",
                "intermediate",
                "environment",
                "oces_generation",
                "cvr",
                "kind",
                "fingerprints",
                "cer_match",
                "extra_certs",
                "revocation",
                "renewal",
            ]
        );
        // The slices index ALL by discriminant.
        for (i, id) in CheckId::ALL.iter().enumerate() {
            assert_eq!(*id as usize, i, "{id}");
        }
        assert_eq!(CheckId::offline().last(), Some(&CheckId::ExtraCerts));
        assert_eq!(format!("{:<6}|", CheckId::Cvr), "cvr   |");
    }
}
