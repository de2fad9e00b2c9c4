//! Test PKIs shaped like OCES3.
//!
//! Owns the making of certificate chains for the sandbox, the demo and the tests:
//! the same name order and attribute types as the real OCES3 chain
//! (`CN, serialNumber, O, organizationIdentifier, C` for a leaf), RSASSA-PSS
//! signatures, keyUsage without EKU. Everything here is for *test* PKIs: the CA
//! names carry an `OU=Test - ...` so that nothing made here can pass for production.
//! It never touches the embedded trust anchors.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509Extension, X509Name, X509NameBuilder};

use crate::der::{self, tag};
use crate::error::Error;

// The names' facts live in `facts`; re-exported here for the callers (sandbox, lookup)
// that found them in this module first. New code names `crate::facts`.
pub use crate::facts::{OCES3_POLICIES, OID_ORGANIZATION_IDENTIFIER, name_text};

/// How a certificate is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// RSASSA-PSS with SHA-256 (OCES3 leaves).
    RsaPssSha256,
    /// RSASSA-PSS with SHA-512 (OCES3 CAs).
    RsaPssSha512,
    /// PKCS#1 v1.5 with SHA-256.
    Sha256WithRsa,
    /// PKCS#1 v1.5 with SHA-1 (weak; for refusal tests).
    Sha1WithRsa,
}

/// A certificate authority: certificate plus private key.
#[derive(Clone)]
pub struct Authority {
    pub cert: X509,
    pub key: PKey<Private>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("subject", &name_text(self.cert.subject_name()))
            .finish_non_exhaustive()
    }
}

/// A leaf certificate with its private key.
#[derive(Clone)]
pub struct Issued {
    pub cert: X509,
    pub key: PKey<Private>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("subject", &name_text(self.cert.subject_name()))
            .finish_non_exhaustive()
    }
}

/// What to put into a CA certificate.
#[derive(Debug, Clone)]
pub struct CaSpec {
    /// Name entries in DER order, by OpenSSL short name or OID. OCES3 puts `CN` first
    /// and `C` last (see `testdata/oces3/`), and so do the constructors here.
    pub subject: Vec<(String, String)>,
    pub key_bits: u32,
    pub signature: Signature,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub path_len: Option<u32>,
}

impl CaSpec {
    /// A CA named like the OCES3 ones, with `label` in place of "Den Danske Stat"
    /// and an `OU=Test - <label>` so it reads as a test CA.
    pub fn oces3_shaped(label: &str, common_name: &str, path_len: Option<u32>) -> Self {
        let now = Utc::now();
        CaSpec {
            subject: vec![
                ("CN".into(), common_name.into()),
                ("OU".into(), format!("Test - {label}")),
                ("O".into(), label.into()),
                ("C".into(), "DK".into()),
            ],
            key_bits: 3072,
            signature: Signature::RsaPssSha512,
            not_before: now - Duration::days(365),
            not_after: now + Duration::days(3650),
            path_len,
        }
    }
}

/// What to put into a leaf certificate.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// Name entries in DER order.
    pub subject: Vec<(String, String)>,
    pub key_bits: u32,
    pub signature: Signature,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// keyUsage names as OpenSSL spells them (`digitalSignature`, `keyEncipherment`, ...);
    /// `None` leaves the extension out.
    pub key_usage: Option<Vec<String>>,
    /// extendedKeyUsage names (`clientAuth`, `serverAuth`, ...); `None` leaves it out (OCES3).
    pub extended_key_usage: Option<Vec<String>>,
    /// basicConstraints CA:TRUE (wrong for a leaf; for refusal tests).
    pub is_ca: bool,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    /// Adds the OCES3 certificatePolicies.
    pub oces3_policies: bool,
}

impl LeafSpec {
    /// An OCES3-shaped system/organisation certificate (`serialNumber=UI:DK-O:G:<uuid>`),
    /// valid for 3 years minus a second from now, RSA 3072, RSASSA-PSS/SHA-256.
    pub fn oces3_system(common_name: &str, organisation: &str, cvr: &str) -> Self {
        let now = Utc::now() - Duration::minutes(5);
        LeafSpec {
            subject: vec![
                ("CN".into(), common_name.into()),
                (
                    "serialNumber".into(),
                    format!("UI:DK-O:G:{}", random_uuid()),
                ),
                ("O".into(), organisation.into()),
                (OID_ORGANIZATION_IDENTIFIER.into(), format!("NTRDK-{cvr}")),
                ("C".into(), "DK".into()),
            ],
            key_bits: 3072,
            signature: Signature::RsaPssSha256,
            not_before: now,
            not_after: now + Duration::days(3 * 365) - Duration::seconds(1),
            key_usage: Some(vec!["digitalSignature".into(), "keyEncipherment".into()]),
            extended_key_usage: None,
            is_ca: false,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            oces3_policies: true,
        }
    }

    /// An OCES3-shaped employee certificate (`serialNumber=UI:DK-E:G:<uuid>`, a person's name).
    pub fn oces3_employee(person: &str, organisation: &str, cvr: &str) -> Self {
        let mut spec = Self::oces3_system(person, organisation, cvr);
        for (field, value) in &mut spec.subject {
            if field == "serialNumber" {
                *value = format!("UI:DK-E:G:{}", random_uuid());
            }
        }
        spec
    }

    /// A TLS server certificate for the given DNS names and IP addresses.
    pub fn tls_server(common_name: &str, dns_names: &[&str], ip_addresses: &[IpAddr]) -> Self {
        let now = Utc::now() - Duration::minutes(5);
        LeafSpec {
            subject: vec![
                ("CN".into(), common_name.into()),
                ("O".into(), "cprlink sandbox".into()),
                ("C".into(), "DK".into()),
            ],
            key_bits: 2048,
            signature: Signature::Sha256WithRsa,
            not_before: now,
            not_after: now + Duration::days(825),
            key_usage: Some(vec!["digitalSignature".into(), "keyEncipherment".into()]),
            extended_key_usage: Some(vec!["serverAuth".into()]),
            is_ca: false,
            dns_names: dns_names.iter().map(|s| (*s).to_owned()).collect(),
            ip_addresses: ip_addresses.to_vec(),
            oces3_policies: false,
        }
    }

    /// Sets the validity window.
    pub fn valid(mut self, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Self {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }
}

/// A root and an issuing CA, as in OCES3 (`rod-CA` -> `udstedende-CA 1` -> leaf).
#[derive(Debug, Clone)]
pub struct TestPki {
    pub root: Authority,
    pub issuing: Authority,
}

impl TestPki {
    /// Makes a fresh two-level test PKI whose names carry `label`
    /// (e.g. `"cprlink sandbox"` gives `CN=cprlink sandbox OCES rod-CA, OU=Test - cprlink sandbox`).
    pub fn generate(label: &str) -> Result<Self, Error> {
        let root = self_signed_ca(&CaSpec::oces3_shaped(
            label,
            &format!("{label} OCES rod-CA"),
            None,
        ))?;
        let issuing = intermediate_ca(
            &root,
            &CaSpec::oces3_shaped(label, &format!("{label} OCES udstedende-CA 1"), Some(0)),
        )?;
        Ok(TestPki { root, issuing })
    }

    /// Issues a leaf from the issuing CA.
    pub fn issue(&self, spec: &LeafSpec) -> Result<Issued, Error> {
        issue_leaf(&self.issuing, spec)
    }

    /// Root and issuing CA as one PEM bundle (root first), for `--trust` or `ca_file`.
    pub fn ca_bundle_pem(&self) -> Result<Vec<u8>, Error> {
        let mut out = self.root.cert.to_pem()?;
        out.extend_from_slice(&self.issuing.cert.to_pem()?);
        Ok(out)
    }
}

/// Generates an RSA key of `bits` bits.
pub fn rsa_key(bits: u32) -> Result<PKey<Private>, Error> {
    Ok(PKey::from_rsa(Rsa::generate(bits)?)?)
}

/// A self-signed CA certificate.
pub fn self_signed_ca(spec: &CaSpec) -> Result<Authority, Error> {
    let key = rsa_key(spec.key_bits)?;
    let name = build_name(&spec.subject)?;
    let mut builder = base_builder(&name, &name, &key, spec.not_before, spec.not_after)?;
    add_ca_extensions(&mut builder, None, spec.path_len)?;
    let cert = sign(builder, &key, spec.signature)?;
    Ok(Authority { cert, key })
}

/// A CA certificate signed by `parent`.
pub fn intermediate_ca(parent: &Authority, spec: &CaSpec) -> Result<Authority, Error> {
    let key = rsa_key(spec.key_bits)?;
    let name = build_name(&spec.subject)?;
    let mut builder = base_builder(
        &name,
        parent.cert.subject_name(),
        &key,
        spec.not_before,
        spec.not_after,
    )?;
    add_ca_extensions(&mut builder, Some(&parent.cert), spec.path_len)?;
    let cert = sign(builder, &parent.key, spec.signature)?;
    Ok(Authority { cert, key })
}

/// A leaf certificate signed by `issuer`, with a fresh key.
pub fn issue_leaf(issuer: &Authority, spec: &LeafSpec) -> Result<Issued, Error> {
    let key = rsa_key(spec.key_bits)?;
    let cert = issue_leaf_for_key(issuer, spec, &key)?;
    Ok(Issued { cert, key })
}

/// A leaf certificate signed by `issuer` for an existing key.
pub fn issue_leaf_for_key(
    issuer: &Authority,
    spec: &LeafSpec,
    key: &PKey<Private>,
) -> Result<X509, Error> {
    let name = build_name(&spec.subject)?;
    let mut builder = base_builder(
        &name,
        issuer.cert.subject_name(),
        key,
        spec.not_before,
        spec.not_after,
    )?;
    if let Some(usages) = &spec.key_usage {
        let mut ku = KeyUsage::new();
        ku.critical();
        for usage in usages {
            match usage.as_str() {
                "digitalSignature" => ku.digital_signature(),
                "nonRepudiation" => ku.non_repudiation(),
                "keyEncipherment" => ku.key_encipherment(),
                "dataEncipherment" => ku.data_encipherment(),
                "keyAgreement" => ku.key_agreement(),
                "keyCertSign" => ku.key_cert_sign(),
                "cRLSign" => ku.crl_sign(),
                _ => return Err(Error::TestPki(format!("unknown key usage {usage}"))),
            };
        }
        builder.append_extension(ku.build()?)?;
    }
    if let Some(usages) = &spec.extended_key_usage {
        let mut eku = ExtendedKeyUsage::new();
        for usage in usages {
            match usage.as_str() {
                "clientAuth" => eku.client_auth(),
                "serverAuth" => eku.server_auth(),
                "emailProtection" => eku.email_protection(),
                "codeSigning" => eku.code_signing(),
                other => eku.other(other),
            };
        }
        builder.append_extension(eku.build()?)?;
    }
    let mut bc = BasicConstraints::new();
    if spec.is_ca {
        bc.ca();
    }
    builder.append_extension(bc.build()?)?;
    let ctx = builder.x509v3_context(Some(&issuer.cert), None);
    let ski = SubjectKeyIdentifier::new().build(&ctx)?;
    let aki = AuthorityKeyIdentifier::new().keyid(false).build(&ctx)?;
    if !spec.dns_names.is_empty() || !spec.ip_addresses.is_empty() {
        let mut san = SubjectAlternativeName::new();
        for dns in &spec.dns_names {
            san.dns(dns);
        }
        for ip in &spec.ip_addresses {
            san.ip(&ip.to_string());
        }
        let san = san.build(&ctx)?;
        builder.append_extension(san)?;
    }
    builder.append_extension(ski)?;
    builder.append_extension(aki)?;
    if spec.oces3_policies {
        builder.append_extension(policies_extension(&OCES3_POLICIES)?)?;
    }
    sign(builder, &issuer.key, spec.signature)
}

/// Builds an X.509 name from entries in DER order.
pub fn build_name(entries: &[(String, String)]) -> Result<X509Name, Error> {
    let mut name = X509NameBuilder::new()?;
    for (field, value) in entries {
        name.append_entry_by_text(field, value)?;
    }
    Ok(name.build())
}

fn base_builder(
    subject: &openssl::x509::X509NameRef,
    issuer: &openssl::x509::X509NameRef,
    key: &PKey<Private>,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> Result<X509Builder, Error> {
    let mut builder = X509Builder::new()?;
    builder.set_version(2)?;
    let serial = random_serial()?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(subject)?;
    builder.set_issuer_name(issuer)?;
    builder.set_pubkey(key)?;
    let not_before = Asn1Time::from_unix(not_before.timestamp())?;
    let not_after = Asn1Time::from_unix(not_after.timestamp())?;
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    Ok(builder)
}

fn add_ca_extensions(
    builder: &mut X509Builder,
    issuer: Option<&X509>,
    path_len: Option<u32>,
) -> Result<(), Error> {
    let mut bc = BasicConstraints::new();
    bc.critical().ca();
    if let Some(len) = path_len {
        bc.pathlen(len);
    }
    builder.append_extension(bc.build()?)?;
    builder.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    let ski =
        SubjectKeyIdentifier::new().build(&builder.x509v3_context(issuer.map(|c| &**c), None))?;
    builder.append_extension(ski)?;
    if issuer.is_some() {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(false)
            .build(&builder.x509v3_context(issuer.map(|c| &**c), None))?;
        builder.append_extension(aki)?;
    }
    Ok(())
}

fn policies_extension(policies: &[&str]) -> Result<X509Extension, Error> {
    let mut body = Vec::new();
    for policy in policies {
        body.extend(der::encode(tag::SEQUENCE, &der::encode_oid(policy)));
    }
    let value = der::encode(tag::SEQUENCE, &body);
    let oid = openssl::asn1::Asn1Object::from_str("2.5.29.32")?;
    let octets = openssl::asn1::Asn1OctetString::new_from_bytes(&value)?;
    Ok(X509Extension::new_from_der(&oid, false, &octets)?)
}

/// Signs the certificate being built. PKCS#1 v1.5 goes through OpenSSL directly; for
/// RSASSA-PSS (which the `openssl` crate's `X509Builder` cannot select) the
/// to-be-signed part is re-encoded with the PSS AlgorithmIdentifier and signed with a
/// PSS `Signer`.
fn sign(builder: X509Builder, key: &PKey<Private>, signature: Signature) -> Result<X509, Error> {
    let mut builder = builder;
    let (digest, pss_hash_oid, salt) = match signature {
        Signature::Sha256WithRsa => {
            builder.sign(key, MessageDigest::sha256())?;
            return Ok(builder.build());
        }
        Signature::Sha1WithRsa => {
            builder.sign(key, MessageDigest::sha1())?;
            return Ok(builder.build());
        }
        Signature::RsaPssSha256 => (MessageDigest::sha256(), "2.16.840.1.101.3.4.2.1", 32),
        Signature::RsaPssSha512 => (MessageDigest::sha512(), "2.16.840.1.101.3.4.2.3", 64),
    };
    builder.sign(key, digest)?;
    let provisional = builder.build().to_der()?;
    let algorithm = pss_algorithm_identifier(pss_hash_oid, salt);

    let err = |e: der::DerError| Error::TestPki(e.to_string());
    let mut outer = der::Reader::new(&provisional);
    let cert = outer.read_tag(tag::SEQUENCE).map_err(err)?;
    let mut parts = cert.children();
    let tbs = parts.read_tag(tag::SEQUENCE).map_err(err)?;
    let mut fields = tbs.children();
    let mut new_tbs = Vec::with_capacity(tbs.value.len() + 64);
    if let Some(version) = fields.optional(tag::CONTEXT_0).map_err(err)? {
        new_tbs.extend_from_slice(version.raw);
    }
    new_tbs.extend_from_slice(fields.read_tag(tag::INTEGER).map_err(err)?.raw);
    fields.read_tag(tag::SEQUENCE).map_err(err)?; // the PKCS#1 algorithm: replaced
    new_tbs.extend_from_slice(&algorithm);
    while let Some(field) = fields.next_tlv().map_err(err)? {
        new_tbs.extend_from_slice(field.raw);
    }
    let new_tbs = der::encode(tag::SEQUENCE, &new_tbs);

    let mut signer = Signer::new(digest, key)?;
    signer.set_rsa_padding(Padding::PKCS1_PSS)?;
    signer.set_rsa_pss_saltlen(RsaPssSaltlen::custom(salt))?;
    signer.set_rsa_mgf1_md(digest)?;
    signer.update(&new_tbs)?;
    let sig = signer.sign_to_vec()?;
    let mut bits = Vec::with_capacity(sig.len() + 1);
    bits.push(0);
    bits.extend_from_slice(&sig);

    let mut body = new_tbs;
    body.extend_from_slice(&algorithm);
    body.extend(der::encode(tag::BIT_STRING, &bits));
    Ok(X509::from_der(&der::encode(tag::SEQUENCE, &body))?)
}

/// `RSASSA-PSS-params` with the given hash for both the digest and MGF1.
fn pss_algorithm_identifier(hash_oid: &str, salt: i32) -> Vec<u8> {
    let hash = der::encode(tag::SEQUENCE, &{
        let mut v = der::encode_oid(hash_oid);
        v.extend(der::encode(tag::NULL, &[]));
        v
    });
    let mgf1 = der::encode(tag::SEQUENCE, &{
        let mut v = der::encode_oid("1.2.840.113549.1.1.8");
        v.extend_from_slice(&hash);
        v
    });
    let mut params = der::encode(tag::CONTEXT_0, &hash);
    params.extend(der::encode(tag::CONTEXT_1, &mgf1));
    params.extend(der::encode(
        tag::CONTEXT_2,
        &der::encode_u64(u64::from(salt.unsigned_abs())),
    ));
    let mut alg = der::encode_oid("1.2.840.113549.1.1.10");
    alg.extend(der::encode(tag::SEQUENCE, &params));
    der::encode(tag::SEQUENCE, &alg)
}

fn random_serial() -> Result<Asn1Integer, Error> {
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    Ok(serial.to_asn1_integer()?)
}

/// A random RFC 4122 version-4 UUID, as OCES3 puts in `serialNumber`.
pub fn random_uuid() -> String {
    let mut b = [0u8; 16];
    // openssl's CSPRNG; only fails if the system has no entropy at all.
    if openssl::rand::rand_bytes(&mut b).is_err() {
        b = [0x42; 16];
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pss_chain_verifies_with_openssl() {
        let pki = TestPki::generate("unit").unwrap();
        let leaf = pki
            .issue(&LeafSpec::oces3_system(
                "Unit DPG",
                "Unit Kommune",
                "12345678",
            ))
            .unwrap();
        // Signature algorithm is RSASSA-PSS.
        assert_eq!(
            leaf.cert.signature_algorithm().object().nid(),
            openssl::nid::Nid::RSASSAPSS
        );
        let issuing_key = pki.issuing.cert.public_key().unwrap();
        assert!(leaf.cert.verify(&issuing_key).unwrap());
        let root_key = pki.root.cert.public_key().unwrap();
        assert!(pki.issuing.cert.verify(&root_key).unwrap());
        assert!(pki.root.cert.verify(&root_key).unwrap());
        let text = name_text(leaf.cert.subject_name());
        assert!(
            text.starts_with("CN=Unit DPG, serialNumber=UI:DK-O:G:"),
            "{text}"
        );
        assert!(
            text.contains("organizationIdentifier=NTRDK-12345678"),
            "{text}"
        );
    }
}
