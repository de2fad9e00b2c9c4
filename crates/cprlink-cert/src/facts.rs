//! The facts of one X.509 certificate, in OCES3 terms.
//!
//! Owns reading a certificate into plain data: subject parts, CVR, certificate UUID,
//! kind (system/organisation vs employee), OCES generation, production vs test,
//! validity, key, signature algorithm, usages and fingerprints, and the text of names
//! for messages ([`name_text`]). The OCES3 name facts (the `organizationIdentifier` OID,
//! the policies) live here too: production code never reaches into `testpki` for them.
//! It passes no verdict: `verify` does that.

use chrono::{DateTime, Utc};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::x509::{X509ExtendedKeyUsage, X509KeyUsage, X509NameRef, X509Ref};
use serde::Serialize;

use crate::error::Error;

/// OID of `organizationIdentifier` (no `Nid` in the `openssl` crate).
pub const OID_ORGANIZATION_IDENTIFIER: &str = "2.5.4.97";
/// OCES3 certificate policies carried by system/organisation certificates.
pub const OCES3_POLICIES: [&str; 2] = ["0.4.0.2042.1.1", "1.2.208.169.1.1.1.3.7.1"];

/// Production or test PKI, as told by the issuer's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Production,
    Test,
    Unknown,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Test => "test",
            Environment::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the certificate identifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// OCES3 `UI:DK-O:` (or OCES2 FOCES/VOCES `CVR:...-UID:`): right for a system connection.
    SystemOrOrganisation,
    /// OCES3 `UI:DK-E:` (or OCES2 MOCES `CVR:...-RID:`): a person; wrong here.
    Employee,
    Unknown,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SystemOrOrganisation => "system_or_organisation",
            Kind::Employee => "employee",
            Kind::Unknown => "unknown",
        }
    }
}

/// OCES generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Generation {
    Oces3,
    /// TRUST2408 (FOCES/VOCES/MOCES), retired 31 October 2023.
    Oces2,
    Unknown,
}

impl Generation {
    pub fn as_str(self) -> &'static str {
        match self {
            Generation::Oces3 => "oces3",
            Generation::Oces2 => "oces2",
            Generation::Unknown => "unknown",
        }
    }
}

/// Everything `inspect` shows about a certificate.
#[derive(Debug, Clone, Serialize)]
pub struct CertFacts {
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    pub organisation: Option<String>,
    pub cvr: Option<String>,
    /// The UUID of `serialNumber=UI:DK-O:G:<uuid>`.
    pub certificate_uuid: Option<String>,
    pub kind: Kind,
    pub generation: Generation,
    pub environment: Environment,
    pub serial_number: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// Whole days until `not_after` (negative once expired).
    pub days_left: i64,
    pub key_type: String,
    pub key_bits: u32,
    pub signature_algorithm: String,
    /// `None` when the extension is absent.
    pub key_usage: Option<Vec<String>>,
    /// `None` when the extension is absent (normal for OCES3).
    pub extended_key_usage: Option<Vec<String>>,
    pub is_ca: bool,
    /// Upper-case hex, no separators (as Windows shows it).
    pub sha1_thumbprint: String,
    /// Upper-case hex with colons.
    pub sha256_fingerprint: String,
}

impl CertFacts {
    /// Reads the facts of `cert` as of `now`.
    pub fn of(cert: &X509Ref, now: DateTime<Utc>) -> Result<Self, Error> {
        let subject = cert.subject_name();
        let issuer = cert.issuer_name();
        let serial_attr = entry(subject, Nid::SERIALNUMBER);
        let cvr = cvr_of(subject, serial_attr.as_deref());
        let unreadable = |reason: String| Error::UnreadableCertificate {
            subject: name_text(subject),
            reason,
        };
        let with_subject = |e: Error| match e {
            Error::UnreadableCertificate { reason, .. } => unreadable(reason),
            other => other,
        };
        let not_before = asn1_to_utc(cert.not_before()).map_err(with_subject)?;
        let not_after = asn1_to_utc(cert.not_after()).map_err(with_subject)?;
        let key = cert.public_key().map_err(|e| {
            unreadable(format!(
                "its public key is of a kind OpenSSL cannot read ({})",
                crate::p12::openssl_reason(&e)
            ))
        })?;
        let key_type = match key.id() {
            openssl::pkey::Id::RSA => "RSA".to_owned(),
            openssl::pkey::Id::RSA_PSS => "RSA-PSS".to_owned(),
            openssl::pkey::Id::EC => "EC".to_owned(),
            openssl::pkey::Id::ED25519 => "Ed25519".to_owned(),
            other => format!("{other:?}"),
        };
        let serial_number = cert
            .serial_number()
            .to_bn()
            .and_then(|bn| bn.to_hex_str().map(|s| s.to_string()))?;
        Ok(CertFacts {
            subject: name_text(subject),
            issuer: name_text(issuer),
            common_name: entry(subject, Nid::COMMONNAME),
            organisation: entry(subject, Nid::ORGANIZATIONNAME),
            cvr,
            certificate_uuid: serial_attr
                .as_deref()
                .and_then(|s| {
                    s.strip_prefix("UI:DK-O:G:")
                        .or(s.strip_prefix("UI:DK-E:G:"))
                })
                .map(str::to_owned),
            kind: kind_of(serial_attr.as_deref()),
            generation: generation_of(issuer, serial_attr.as_deref()),
            environment: environment_of(issuer),
            serial_number,
            not_before,
            not_after,
            days_left: (not_after - now).num_days(),
            key_type,
            key_bits: key.bits(),
            signature_algorithm: signature_algorithm_name(cert),
            key_usage: cert.key_usage().map(key_usage_names),
            extended_key_usage: extended_key_usage_names(cert),
            is_ca: is_ca(cert),
            sha1_thumbprint: sha1_thumbprint(cert)?,
            sha256_fingerprint: sha256_fingerprint(cert)?,
        })
    }
}

/// Whether `a` and `b` are the same certificate (byte for byte).
pub fn same_certificate(a: &X509Ref, b: &X509Ref) -> bool {
    matches!((a.to_der(), b.to_der()), (Ok(x), Ok(y)) if x == y)
}

/// Bytes as upper-case hex without separators (`52FB92...`): how Windows and the
/// Datafordeler portals show a SHA-1 thumbprint. The one place that spells it; other
/// crates call this (or [`sha1_thumbprint`]) instead of formatting bytes themselves.
pub fn upper_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            // Writing to a String cannot fail.
            let _ = write!(s, "{b:02X}");
            s
        })
}

/// SHA-1 over the DER certificate: upper-case hex without separators ([`upper_hex`]).
pub fn sha1_thumbprint(cert: &X509Ref) -> Result<String, Error> {
    Ok(upper_hex(&cert.digest(MessageDigest::sha1())?))
}

/// SHA-256 over the DER certificate: upper-case hex with colons (`7A:F8:...`).
pub fn sha256_fingerprint(cert: &X509Ref) -> Result<String, Error> {
    let d = cert.digest(MessageDigest::sha256())?;
    Ok(d.chunks(1).map(upper_hex).collect::<Vec<_>>().join(":"))
}

/// `CN=..., O=..., C=DK`: the entries in the certificate's own order, as
/// `openssl x509 -subject` prints them, for messages.
pub fn name_text(name: &X509NameRef) -> String {
    let parts: Vec<String> = name
        .entries()
        .map(|e| {
            let key = match e.object().nid().short_name() {
                Ok(s) if e.object().nid() != openssl::nid::Nid::UNDEF => s.to_owned(),
                _ => {
                    let oid = e.object().to_string();
                    if oid == OID_ORGANIZATION_IDENTIFIER || oid == "organizationIdentifier" {
                        "organizationIdentifier".to_owned()
                    } else {
                        oid
                    }
                }
            };
            let value = e.data().to_string().unwrap_or_default();
            format!("{key}={value}")
        })
        .collect();
    parts.join(", ")
}

/// The first value of a name attribute.
pub fn entry(name: &X509NameRef, nid: Nid) -> Option<String> {
    name.entries_by_nid(nid)
        .next()
        .and_then(|e| e.data().to_string().ok())
}

/// The value of `organizationIdentifier` (OID 2.5.4.97), found by OID because the
/// `openssl` crate has no `Nid` for it.
pub fn organization_identifier(name: &X509NameRef) -> Option<String> {
    name.entries()
        .find(|e| {
            let text = e.object().to_string();
            text == OID_ORGANIZATION_IDENTIFIER || text == "organizationIdentifier"
        })
        .and_then(|e| e.data().to_string().ok())
}

/// CVR from `organizationIdentifier=NTRDK-<CVR>` (OCES3), else from an OCES2
/// `serialNumber=CVR:<CVR>-UID:...`.
fn cvr_of(subject: &X509NameRef, serial_attr: Option<&str>) -> Option<String> {
    if let Some(cvr) = organization_identifier(subject)
        .as_deref()
        .and_then(|v| v.strip_prefix("NTRDK-"))
    {
        return Some(cvr.to_owned());
    }
    serial_attr
        .and_then(|s| s.strip_prefix("CVR:"))
        .and_then(|s| s.split('-').next())
        .map(str::to_owned)
}

fn kind_of(serial_attr: Option<&str>) -> Kind {
    match serial_attr {
        Some(s) if s.starts_with("UI:DK-O:") => Kind::SystemOrOrganisation,
        Some(s) if s.starts_with("UI:DK-E:") => Kind::Employee,
        Some(s) if s.starts_with("CVR:") && s.contains("-UID:") => Kind::SystemOrOrganisation,
        Some(s) if s.starts_with("CVR:") && s.contains("-RID:") => Kind::Employee,
        _ => Kind::Unknown,
    }
}

fn generation_of(issuer: &X509NameRef, serial_attr: Option<&str>) -> Generation {
    let issuer_text = name_text(issuer);
    if issuer_text.contains("TRUST2408") || serial_attr.is_some_and(|s| s.starts_with("CVR:")) {
        Generation::Oces2
    } else if issuer_text.contains("OCES") || serial_attr.is_some_and(|s| s.starts_with("UI:DK-")) {
        Generation::Oces3
    } else {
        Generation::Unknown
    }
}

/// Test CAs carry `OU=Test - cti` (MitID Erhverv test); ours carry `OU=Test - <label>`.
fn environment_of(issuer: &X509NameRef) -> Environment {
    let is_test = issuer
        .entries_by_nid(Nid::ORGANIZATIONALUNITNAME)
        .filter_map(|e| e.data().to_string().ok())
        .any(|ou| ou.to_ascii_lowercase().starts_with("test"));
    if is_test {
        return Environment::Test;
    }
    let org = entry(issuer, Nid::ORGANIZATIONNAME);
    let cn = entry(issuer, Nid::COMMONNAME).unwrap_or_default();
    if org.as_deref() == Some("Den Danske Stat") && cn.contains("OCES") {
        Environment::Production
    } else {
        Environment::Unknown
    }
}

/// A readable name of the signature algorithm (`RSASSA-PSS (SHA-256)`, `sha256WithRSAEncryption`).
pub fn signature_algorithm_name(cert: &X509Ref) -> String {
    let nid = cert.signature_algorithm().object().nid();
    if nid == Nid::RSASSAPSS {
        return match pss_hash(cert) {
            Some(h) => format!("RSASSA-PSS ({h})"),
            None => "RSASSA-PSS".to_owned(),
        };
    }
    nid.long_name()
        .map(str::to_owned)
        .unwrap_or_else(|_| cert.signature_algorithm().object().to_string())
}

/// The hash inside the RSASSA-PSS parameters, read from the certificate's DER.
fn pss_hash(cert: &X509Ref) -> Option<&'static str> {
    use crate::der::{Reader, tag};
    let der = cert.to_der().ok()?;
    let mut outer = Reader::new(&der);
    let certificate = outer.read_tag(tag::SEQUENCE).ok()?;
    let mut parts = certificate.children();
    parts.read_tag(tag::SEQUENCE).ok()?; // tbsCertificate
    let alg = parts.read_tag(tag::SEQUENCE).ok()?;
    let mut alg = alg.children();
    alg.read_tag(tag::OID).ok()?;
    let params = match alg.optional(tag::SEQUENCE).ok()? {
        Some(p) => p,
        // Absent parameters mean the SHA-1 defaults.
        None => return Some("SHA-1"),
    };
    let mut params = params.children();
    let hash = match params.optional(tag::CONTEXT_0).ok()? {
        Some(h) => h,
        None => return Some("SHA-1"),
    };
    let oid = hash
        .children()
        .read_tag(tag::SEQUENCE)
        .ok()?
        .children()
        .read_tag(tag::OID)
        .ok()?
        .as_oid()
        .ok()?;
    Some(match oid.as_str() {
        "2.16.840.1.101.3.4.2.1" => "SHA-256",
        "2.16.840.1.101.3.4.2.2" => "SHA-384",
        "2.16.840.1.101.3.4.2.3" => "SHA-512",
        "1.3.14.3.2.26" => "SHA-1",
        _ => "unknown hash",
    })
}

fn key_usage_names(ku: X509KeyUsage) -> Vec<String> {
    let table = [
        (X509KeyUsage::DIGITAL_SIGNATURE, "digitalSignature"),
        (X509KeyUsage::NON_REPUDIATION, "nonRepudiation"),
        (X509KeyUsage::KEY_ENCIPHERMENT, "keyEncipherment"),
        (X509KeyUsage::DATA_ENCIPHERMENT, "dataEncipherment"),
        (X509KeyUsage::KEY_AGREEMENT, "keyAgreement"),
        (X509KeyUsage::KEY_CERT_SIGN, "keyCertSign"),
        (X509KeyUsage::CRL_SIGN, "cRLSign"),
        (X509KeyUsage::ENCIPHER_ONLY, "encipherOnly"),
        (X509KeyUsage::DECIPHER_ONLY, "decipherOnly"),
    ];
    table
        .iter()
        .filter(|(flag, _)| ku.contains(*flag))
        .map(|(_, name)| (*name).to_owned())
        .collect()
}

fn extended_key_usage_names(cert: &X509Ref) -> Option<Vec<String>> {
    let eku = cert.extended_key_usage()?;
    let table = [
        (X509ExtendedKeyUsage::SSL_CLIENT, "clientAuth"),
        (X509ExtendedKeyUsage::SSL_SERVER, "serverAuth"),
        (X509ExtendedKeyUsage::SMIME, "emailProtection"),
        (X509ExtendedKeyUsage::CODE_SIGN, "codeSigning"),
        (X509ExtendedKeyUsage::OCSP_SIGN, "OCSPSigning"),
        (X509ExtendedKeyUsage::TIMESTAMP, "timeStamping"),
        (X509ExtendedKeyUsage::ANYEKU, "anyExtendedKeyUsage"),
    ];
    let mut names: Vec<String> = table
        .iter()
        .filter(|(flag, _)| eku.contains(*flag))
        .map(|(_, name)| (*name).to_owned())
        .collect();
    if names.is_empty() {
        names.push("other".to_owned());
    }
    Some(names)
}

pub(crate) fn is_ca(cert: &X509Ref) -> bool {
    // X509_check_ca is not exposed; keyCertSign or a CA basicConstraints both show as
    // the text "CA:TRUE" in the DER-level extension, so read basicConstraints directly.
    use crate::der::{Reader, tag};
    let Ok(der) = cert.to_der() else { return false };
    let Some(tbs) = Reader::new(&der)
        .read_tag(tag::SEQUENCE)
        .ok()
        .and_then(|c| c.children().read_tag(tag::SEQUENCE).ok())
    else {
        return false;
    };
    let mut fields = tbs.children();
    while let Ok(Some(field)) = fields.next_tlv() {
        if field.tag != 0xa3 {
            continue;
        }
        let Ok(exts) = field.children().read_tag(tag::SEQUENCE) else {
            return false;
        };
        let mut exts = exts.children();
        while let Ok(Some(ext)) = exts.next_tlv() {
            let mut parts = ext.children();
            let Ok(oid) = parts.read_tag(tag::OID).and_then(|o| o.as_oid()) else {
                continue;
            };
            if oid != "2.5.29.19" {
                continue;
            }
            let _ = parts.optional(0x01); // critical
            let Ok(value) = parts.read_tag(tag::OCTET_STRING) else {
                return false;
            };
            let Ok(bc) = Reader::new(value.value).read_tag(tag::SEQUENCE) else {
                return false;
            };
            return matches!(bc.children().optional(0x01), Ok(Some(b)) if b.value.first().is_some_and(|v| *v != 0));
        }
    }
    false
}

/// Converts an ASN.1 time to UTC. A time that cannot be represented is
/// [`Error::UnreadableCertificate`] (it came from a certificate).
pub fn asn1_to_utc(t: &openssl::asn1::Asn1TimeRef) -> Result<DateTime<Utc>, Error> {
    let out_of_range = || Error::UnreadableCertificate {
        subject: String::new(),
        reason: format!("its date {t} is out of range"),
    };
    let epoch = openssl::asn1::Asn1Time::from_unix(0)?;
    let diff = epoch.diff(t).map_err(|_| out_of_range())?;
    let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    DateTime::from_timestamp(secs, 0).ok_or_else(out_of_range)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testpki::{LeafSpec, TestPki};

    #[test]
    fn facts_of_a_test_system_certificate() {
        let pki = TestPki::generate("facts").unwrap();
        let leaf = pki
            .issue(&LeafSpec::oces3_system(
                "DPG CPR",
                "Testkommune",
                "29189846",
            ))
            .unwrap();
        let f = CertFacts::of(&leaf.cert, Utc::now()).unwrap();
        assert_eq!(f.cvr.as_deref(), Some("29189846"));
        assert_eq!(f.kind, Kind::SystemOrOrganisation);
        assert_eq!(f.generation, Generation::Oces3);
        assert_eq!(f.environment, Environment::Test);
        assert_eq!(f.key_bits, 3072);
        assert_eq!(f.signature_algorithm, "RSASSA-PSS (SHA-256)");
        assert!(f.extended_key_usage.is_none());
        assert!(!f.is_ca);
        assert!(CertFacts::of(&pki.issuing.cert, Utc::now()).unwrap().is_ca);
        assert_eq!(f.sha1_thumbprint.len(), 40);
        assert_eq!(
            f.sha1_thumbprint,
            upper_hex(&leaf.cert.digest(MessageDigest::sha1()).unwrap())
        );
        assert_eq!(upper_hex(&[0x00, 0x0f, 0xa0, 0xff]), "000FA0FF");
        assert_eq!(f.sha256_fingerprint.len(), 32 * 3 - 1);
        assert!(
            f.sha256_fingerprint
                .split(':')
                .all(|p| p.len() == 2 && p == p.to_uppercase())
        );
        assert!((1090..=1095).contains(&f.days_left), "{}", f.days_left);
    }
}
