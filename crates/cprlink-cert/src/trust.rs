//! Trust: the embedded OCES3 anchors and chain building.
//!
//! Owns the four public OCES3 CA certificates compiled into the binary (production and
//! test root, production and test issuing CA 1; `anchors/`), extra anchors given with
//! `--trust`, and path validation with OpenSSL's `X509StoreContext` (which handles the
//! RSASSA-PSS signatures OCES3 uses). Only the roots are trusted: the issuing CAs are
//! offered as untrusted intermediates, so a future "udstedende-CA 2" under the same root
//! verifies without a code change (certificates.md §1). It answers "does this chain
//! reach a trusted root, and which one"; the certificate's own validity dates belong to
//! `verify`. It never reads the network.

use std::path::Path;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509, X509Ref, X509StoreContext};
use serde::Serialize;

use crate::error::Error;
use crate::facts::name_text;
use crate::facts::sha256_fingerprint;

// Public certificates of "Den Danske Stat" OCES3, from https://www.ca1.gov.dk/certifikater/
// (fingerprints in anchors/README.md).
const PROD_ROOT: &[u8] = include_bytes!("../anchors/prod-root-ca.pem");
const PROD_ISSUING_1: &[u8] = include_bytes!("../anchors/prod-issuing-ca-1.pem");
const TEST_ROOT: &[u8] = include_bytes!("../anchors/test-root-ca.pem");
const TEST_ISSUING_1: &[u8] = include_bytes!("../anchors/test-issuing-ca-1.pem");

/// Which anchor a chain ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnchorKind {
    /// The embedded OCES3 production root (`Den Danske Stat OCES rod-CA`).
    Oces3Production,
    /// The embedded OCES3 test root (`... OU=Test - cti`).
    Oces3Test,
    /// A certificate from `--trust`.
    Extra,
}

impl AnchorKind {
    pub fn describe(self) -> &'static str {
        match self {
            AnchorKind::Oces3Production => "the embedded OCES3 production root",
            AnchorKind::Oces3Test => "the embedded OCES3 test root",
            AnchorKind::Extra => "an extra trust anchor from --trust",
        }
    }
}

/// The outcome of chain building for one leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainStatus {
    pub verified: bool,
    /// Set when verified.
    pub anchor: Option<AnchorKind>,
    /// Subject of the certificate the chain ended in, when verified.
    pub root_subject: Option<String>,
    /// Subjects from the leaf up to the anchor, when verified.
    pub path: Vec<String>,
    /// Why the chain does not verify, in words.
    pub problem: Option<String>,
    /// The chain needed an issuing CA that the file does not carry (taken from the
    /// embedded ones or from `--trust`).
    pub needed_outside_intermediate: bool,
}

impl ChainStatus {
    /// One line for people.
    pub fn describe(&self) -> String {
        match (&self.anchor, &self.root_subject, &self.problem) {
            (Some(anchor), Some(root), _) if self.verified => {
                format!("verified to {} ({})", anchor.describe(), short_cn(root))
            }
            (_, _, Some(problem)) => format!("does not verify: {problem}"),
            _ => "does not verify".to_owned(),
        }
    }
}

/// The embedded OCES3 roots (production, test).
pub fn embedded_roots() -> &'static [X509] {
    static ROOTS: OnceLock<Vec<X509>> = OnceLock::new();
    ROOTS.get_or_init(|| parse_embedded(&[PROD_ROOT, TEST_ROOT]))
}

/// The embedded OCES3 issuing CAs (production and test "udstedende-CA 1").
pub fn embedded_issuing_cas() -> &'static [X509] {
    static ISSUING: OnceLock<Vec<X509>> = OnceLock::new();
    ISSUING.get_or_init(|| parse_embedded(&[PROD_ISSUING_1, TEST_ISSUING_1]))
}

fn parse_embedded(pems: &[&[u8]]) -> Vec<X509> {
    // The files are part of the source tree and checked by a unit test; a broken one
    // would leave the list short, never panic.
    pems.iter()
        .filter_map(|pem| X509::from_pem(pem).ok())
        .collect()
}

/// Whether `cert` is one of the embedded roots, and which.
pub fn embedded_anchor_kind(cert: &X509Ref) -> Option<AnchorKind> {
    let fp = sha256_fingerprint(cert).ok()?;
    let roots = embedded_roots();
    let is = |i: usize| {
        roots
            .get(i)
            .and_then(|r| sha256_fingerprint(r).ok())
            .is_some_and(|r| r == fp)
    };
    if is(0) {
        Some(AnchorKind::Oces3Production)
    } else if is(1) {
        Some(AnchorKind::Oces3Test)
    } else {
        None
    }
}

/// Whether `issuer` issued `cert`: names match and the signature verifies.
pub fn issued_by(cert: &X509Ref, issuer: &X509Ref) -> bool {
    let names_match = cert
        .issuer_name()
        .try_cmp(issuer.subject_name())
        .is_ok_and(|o| o == std::cmp::Ordering::Equal);
    names_match
        && issuer
            .public_key()
            .and_then(|k| cert.verify(&k))
            .unwrap_or(false)
}

/// Whether `cert` is self-signed (a root).
pub fn is_self_signed(cert: &X509Ref) -> bool {
    issued_by(cert, cert)
}

/// The embedded issuing CA that signed `leaf`, for `pack --add-oces-chain`.
pub fn embedded_issuing_ca_for(leaf: &X509Ref) -> Option<X509> {
    embedded_issuing_cas()
        .iter()
        .find(|ca| issued_by(leaf, ca))
        .cloned()
}

/// Reads a `--trust` file: PEM (one or more certificates) or a single DER certificate.
pub fn read_trust_file(path: &Path) -> Result<Vec<X509>, Error> {
    let loaded = crate::load::load(path, None)?;
    if loaded.certificates.is_empty() {
        return Err(Error::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(loaded.certificates)
}

// X509_V_ERR_* codes from openssl/x509_vfy.h.
const ERR_UNABLE_TO_GET_ISSUER_CERT: i32 = 2;
const ERR_CERT_SIGNATURE_FAILURE: i32 = 7;
const ERR_CERT_NOT_YET_VALID: i32 = 9;
const ERR_CERT_HAS_EXPIRED: i32 = 10;
const ERR_DEPTH_ZERO_SELF_SIGNED_CERT: i32 = 18;
const ERR_SELF_SIGNED_CERT_IN_CHAIN: i32 = 19;
const ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: i32 = 20;

/// Builds and verifies the chain of `leaf` as of `at`.
///
/// Trusted: the embedded roots and every certificate of `extra_trust`. Offered as
/// intermediates: `file_certs` (the other certificates of the file) and the embedded
/// issuing CAs. The leaf's own validity dates are not judged here (an expired leaf
/// still "chains"); an expired or not yet valid CA is a chain problem.
pub fn build_chain(
    leaf: &X509Ref,
    file_certs: &[X509],
    extra_trust: &[X509],
    at: DateTime<Utc>,
) -> Result<ChainStatus, Error> {
    let leaf_fp = sha256_fingerprint(leaf)?;
    let mut untrusted = Stack::new()?;
    let mut file_fps = Vec::new();
    for c in file_certs {
        let fp = sha256_fingerprint(c)?;
        if fp != leaf_fp {
            file_fps.push(fp);
            untrusted.push(c.clone())?;
        }
    }
    for c in embedded_issuing_cas() {
        untrusted.push(c.clone())?;
    }
    let has_partial_anchor = extra_trust.iter().any(|c| !is_self_signed(c));

    let mut outcome = verify_once(leaf, &untrusted, extra_trust, at, false, false)?;
    if !outcome.ok && has_partial_anchor {
        // An intermediate given with --trust is an anchor in its own right.
        outcome = verify_once(leaf, &untrusted, extra_trust, at, true, false)?;
    }
    let leaf_dates = matches!(
        outcome.code,
        Some(ERR_CERT_HAS_EXPIRED | ERR_CERT_NOT_YET_VALID)
    );
    if !outcome.ok && outcome.depth == 0 && leaf_dates {
        // The leaf's dates are the `validity` check's business: judge the path alone.
        let retry = verify_once(leaf, &untrusted, extra_trust, at, has_partial_anchor, true)?;
        if retry.ok {
            outcome = retry;
        }
    }

    if !outcome.ok {
        return Ok(ChainStatus {
            verified: false,
            anchor: None,
            root_subject: None,
            path: Vec::new(),
            problem: Some(explain(&outcome, leaf)),
            needed_outside_intermediate: false,
        });
    }
    let top = outcome.chain.last();
    let anchor = top.map(|t| embedded_anchor_kind(t).unwrap_or(AnchorKind::Extra));
    // Certificates strictly between the leaf and the anchor that the file lacks.
    let middle = outcome
        .chain
        .iter()
        .skip(1)
        .take(outcome.chain.len().saturating_sub(2));
    let mut needed_outside = false;
    for c in middle {
        if !file_fps.contains(&sha256_fingerprint(c)?) {
            needed_outside = true;
        }
    }
    Ok(ChainStatus {
        verified: true,
        anchor,
        root_subject: top.map(|t| name_text(t.subject_name())),
        path: outcome
            .chain
            .iter()
            .map(|c| name_text(c.subject_name()))
            .collect(),
        problem: None,
        needed_outside_intermediate: needed_outside,
    })
}

struct Outcome {
    ok: bool,
    code: Option<i32>,
    message: String,
    depth: u32,
    /// The subject of the certificate the error is about.
    at_subject: Option<String>,
    chain: Vec<X509>,
}

fn verify_once(
    leaf: &X509Ref,
    untrusted: &Stack<X509>,
    extra_trust: &[X509],
    at: DateTime<Utc>,
    partial: bool,
    ignore_time: bool,
) -> Result<Outcome, Error> {
    let mut store = X509StoreBuilder::new()?;
    for root in embedded_roots() {
        store.add_cert(root.clone())?;
    }
    for extra in extra_trust {
        // A certificate given twice is fine; OpenSSL reports it as an error we ignore.
        let _ = store.add_cert(extra.clone());
    }
    let mut param = X509VerifyParam::new()?;
    let mut flags = X509VerifyFlags::empty();
    if partial {
        flags |= X509VerifyFlags::PARTIAL_CHAIN;
    }
    if ignore_time {
        flags |= X509VerifyFlags::NO_CHECK_TIME;
    } else {
        param.set_time(at.timestamp());
    }
    param.set_flags(flags)?;
    store.set_param(&param)?;
    let store = store.build();
    let mut ctx = X509StoreContext::new()?;
    let outcome = ctx.init(&store, leaf, untrusted, |c| {
        let ok = c.verify_cert()?;
        let error = c.error();
        Ok(Outcome {
            ok,
            code: (!ok).then(|| error.as_raw()),
            message: error.error_string().to_owned(),
            depth: c.error_depth(),
            at_subject: c.current_cert().map(|x| name_text(x.subject_name())),
            chain: c
                .chain()
                .map(|s| s.iter().map(|x| x.to_owned()).collect())
                .unwrap_or_default(),
        })
    })?;
    Ok(outcome)
}

fn explain(outcome: &Outcome, leaf: &X509Ref) -> String {
    let about = outcome
        .at_subject
        .as_deref()
        .map(short_cn)
        .unwrap_or_else(|| "a certificate".to_owned());
    match outcome.code {
        Some(ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY) | Some(ERR_UNABLE_TO_GET_ISSUER_CERT) => {
            let issuer = name_text(
                outcome
                    .chain
                    .last()
                    .map(|c| c.issuer_name())
                    .unwrap_or_else(|| leaf.issuer_name()),
            );
            format!(
                "no trusted root found: the chain stops at an issuer cprlink does not trust ({})",
                short_cn(&issuer)
            )
        }
        Some(ERR_DEPTH_ZERO_SELF_SIGNED_CERT) => {
            "the certificate is self-signed, not issued by OCES3".to_owned()
        }
        Some(ERR_SELF_SIGNED_CERT_IN_CHAIN) => {
            format!("the chain ends in a root cprlink does not trust ({about})")
        }
        Some(ERR_CERT_SIGNATURE_FAILURE) => {
            format!("a signature in the chain does not verify ({about})")
        }
        Some(ERR_CERT_HAS_EXPIRED) => format!("CA certificate {about} has expired"),
        Some(ERR_CERT_NOT_YET_VALID) => format!("CA certificate {about} is not yet valid"),
        _ => format!("{} ({about})", outcome.message),
    }
}

/// `CN=X, O=Y, ...` -> `X`; anything else unchanged.
fn short_cn(subject: &str) -> String {
    subject
        .split(", ")
        .find_map(|p| p.strip_prefix("CN="))
        .map(str::to_owned)
        .unwrap_or_else(|| subject.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_anchors_are_the_published_ones() {
        let roots = embedded_roots();
        let issuing = embedded_issuing_cas();
        assert_eq!(roots.len(), 2);
        assert_eq!(issuing.len(), 2);
        // Fingerprints from testdata/oces3/README.md (ca1.gov.dk).
        assert_eq!(
            sha256_fingerprint(&roots[0]).unwrap(),
            "06:FC:B2:CB:A3:9D:44:86:E5:30:8A:D8:69:80:BC:D7:AC:D3:B7:3B:3B:B1:26:C7:5F:6C:4B:4D:A0:4C:9C:09"
        );
        assert_eq!(
            sha256_fingerprint(&roots[1]).unwrap(),
            "D1:BC:EC:41:D7:AC:AE:93:2B:7D:FE:66:A8:B7:34:1C:A7:59:52:C8:66:4F:CC:EF:4C:4A:E2:15:0F:95:C5:EC"
        );
        assert_eq!(
            sha256_fingerprint(&issuing[0]).unwrap(),
            "5B:56:62:AA:01:12:B9:84:03:3A:33:AF:D3:A9:5A:49:A7:9C:7A:EE:9C:24:94:28:DD:82:BF:D4:C0:2D:67:B8"
        );
        assert_eq!(
            sha256_fingerprint(&issuing[1]).unwrap(),
            "57:C7:85:23:6A:D7:C9:C9:86:B9:4D:49:AB:DA:FD:1B:95:5C:55:09:33:8F:A4:3A:7C:E0:D6:60:88:C8:AF:9B"
        );
        assert!(roots.iter().all(|r| is_self_signed(r)));
        assert!(issued_by(&issuing[0], &roots[0]));
        assert!(issued_by(&issuing[1], &roots[1]));
        assert!(!issued_by(&issuing[0], &roots[1]));
    }
}
