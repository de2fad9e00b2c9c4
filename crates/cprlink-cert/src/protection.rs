//! Reading how a PKCS#12 file is protected, before anything is decrypted.
//!
//! Owns the pre-scan of the PFX structure (RFC 7292): how each private-key bag and each
//! encrypted container (where the certificates normally live) is encrypted, the MAC
//! digest, and every iteration count. Iteration counts are read before anything is
//! authenticated, so a tiny crafted file could keep a reader busy for hours; `p12`
//! refuses absurd counts from this scan before OpenSSL derives a single key. The scan
//! reads BER as well as DER (Windows and Java may write indefinite lengths), in linear
//! time and bounded depth. [`scan`] needs no password; [`scan_inside`] then opens the
//! encrypted containers (whose own counts are already bounded) with the password, so
//! that key bags hidden there are bounded too before OpenSSL obeys them. It passes no
//! verdict: `verify` decides what is good enough.

use serde::Serialize;

use crate::der::{self, Ber, tag};

/// Above this many key-derivation or MAC iterations a file is refused unopened. Real
/// files use 2,048 (OpenSSL) to 600,000 (Windows' upper bound); 10 million would
/// already take minutes.
pub const MAX_ITERATIONS: u64 = 10_000_000;

/// Above this many iterations Windows refuses to import a file (certificates.md §3).
pub const WINDOWS_MAX_ITERATIONS: u64 = 600_000;

/// The cipher behind an encryption scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Cipher {
    #[serde(rename = "aes_256")]
    Aes256,
    #[serde(rename = "aes_192")]
    Aes192,
    #[serde(rename = "aes_128")]
    Aes128,
    #[serde(rename = "3des")]
    TripleDes,
    #[serde(rename = "2des")]
    TwoKeyTripleDes,
    #[serde(rename = "rc2_128")]
    Rc2_128,
    #[serde(rename = "rc2_40")]
    Rc2_40,
    #[serde(rename = "rc2")]
    Rc2,
    #[serde(rename = "rc4")]
    Rc4,
    #[serde(rename = "des")]
    Des,
    /// Stored without encryption.
    #[serde(rename = "none")]
    None,
    #[serde(rename = "other")]
    Other,
}

impl Cipher {
    /// Whether OpenSSL 3 needs its legacy provider for this cipher.
    pub fn is_legacy(self) -> bool {
        matches!(
            self,
            Cipher::Rc2_128 | Cipher::Rc2_40 | Cipher::Rc2 | Cipher::Rc4 | Cipher::Des
        )
    }

    /// A short name for people: `AES-256`, `3DES`, `RC2-40`.
    pub fn label(self) -> &'static str {
        match self {
            Cipher::Aes256 => "AES-256",
            Cipher::Aes192 => "AES-192",
            Cipher::Aes128 => "AES-128",
            Cipher::TripleDes => "3DES",
            Cipher::TwoKeyTripleDes => "2-key 3DES",
            Cipher::Rc2_128 => "RC2-128",
            Cipher::Rc2_40 => "RC2-40",
            Cipher::Rc2 => "RC2",
            Cipher::Rc4 => "RC4",
            Cipher::Des => "DES",
            Cipher::None => "none",
            Cipher::Other => "unknown cipher",
        }
    }
}

/// How one bag or container is encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Encryption {
    /// As `openssl pkcs12 -info` names it: `PBES2 (PBKDF2 HMAC-SHA256, AES-256-CBC)`,
    /// `PBE-SHA1-3DES`, `PBE-SHA1-RC2-40`, `none`.
    pub algorithm: String,
    pub cipher: Cipher,
    /// Key-derivation iterations (`None` when unencrypted).
    pub iterations: Option<u64>,
}

impl Encryption {
    fn none() -> Self {
        Encryption {
            algorithm: "none".to_owned(),
            cipher: Cipher::None,
            iterations: None,
        }
    }

    fn describe(&self) -> String {
        match self.iterations {
            Some(n) => format!("{} ({} iterations)", self.algorithm, group(n)),
            None => self.algorithm.clone(),
        }
    }
}

/// The integrity MAC over the whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mac {
    /// `SHA-1`, `SHA-256`, ... (for PBMAC1: `PBMAC1 (HMAC-SHA256)`).
    pub digest: String,
    pub iterations: u64,
}

/// Everything the pre-scan learned.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Protection {
    /// One entry per private-key bag visible without decryption.
    pub key_bags: Vec<Encryption>,
    /// One entry per encrypted container (PKCS#7 encryptedData); OpenSSL, Windows and
    /// Java put the certificate bags there.
    pub encrypted_containers: Vec<Encryption>,
    /// Certificate bags stored without encryption.
    pub plain_cert_bags: usize,
    /// Key bags found inside the encrypted containers ([`scan_inside`]).
    pub hidden_key_bags: Vec<Encryption>,
    /// Certificate bags found inside the encrypted containers ([`scan_inside`]).
    pub hidden_cert_bags: usize,
    /// `None`: the file has no MAC (its integrity is not protected).
    pub mac: Option<Mac>,
    /// The file uses BER indefinite lengths (Windows/Java style), not strict DER.
    pub ber_indefinite: bool,
}

impl Protection {
    /// The key-bag encryption (the first key bag's, visible or hidden).
    pub fn key(&self) -> Option<&Encryption> {
        self.key_bags
            .first()
            .or_else(|| self.hidden_key_bags.first())
    }

    fn all(&self) -> impl Iterator<Item = &Encryption> {
        self.key_bags
            .iter()
            .chain(&self.encrypted_containers)
            .chain(&self.hidden_key_bags)
    }

    /// The certificate-bag encryption: the first encrypted container's, or "none" when
    /// the certificates are stored in the clear.
    pub fn certificates(&self) -> Option<Encryption> {
        self.encrypted_containers
            .first()
            .cloned()
            .or_else(|| (self.plain_cert_bags > 0).then(Encryption::none))
    }

    /// The largest iteration count anywhere in the file.
    pub fn max_iterations(&self) -> u64 {
        self.all()
            .filter_map(|e| e.iterations)
            .chain(self.mac.as_ref().map(|m| m.iterations))
            .max()
            .unwrap_or(0)
    }

    /// Whether OpenSSL 3 needs its legacy provider to open the file (RC2, RC4, DES).
    pub fn needs_legacy_provider(&self) -> bool {
        self.all().any(|e| e.cipher.is_legacy())
    }

    /// The profile the file matches: `modern` (AES-256 everywhere, SHA-256 MAC),
    /// `compat` (3DES everywhere, SHA-1 MAC), `legacy_rc2` (an old RC2 export),
    /// `unencrypted`, or `mixed`.
    pub fn profile(&self) -> &'static str {
        let ciphers: Vec<Cipher> = self.all().map(|e| e.cipher).collect();
        let mac = self.mac.as_ref().map(|m| m.digest.as_str());
        if ciphers
            .iter()
            .any(|c| matches!(c, Cipher::Rc2 | Cipher::Rc2_40 | Cipher::Rc2_128))
        {
            "legacy_rc2"
        } else if ciphers.is_empty() || ciphers.iter().all(|c| *c == Cipher::None) {
            "unencrypted"
        } else if ciphers.iter().all(|c| *c == Cipher::Aes256) && mac == Some("SHA-256") {
            "modern"
        } else if ciphers.iter().all(|c| *c == Cipher::TripleDes) && mac == Some("SHA-1") {
            "compat"
        } else {
            "mixed"
        }
    }

    /// Who can read a file protected like this (certificates.md §3).
    pub fn readable_by(&self) -> &'static str {
        let ciphers: Vec<Cipher> = self.all().map(|e| e.cipher).collect();
        if self.needs_legacy_provider() {
            "older Windows, Java, OpenSSL 1.1; OpenSSL 3 only with its legacy provider"
        } else if ciphers
            .iter()
            .any(|c| matches!(c, Cipher::Aes128 | Cipher::Aes192 | Cipher::Aes256))
            || self
                .mac
                .as_ref()
                .is_some_and(|m| m.digest != "SHA-1" && m.digest != "MD5")
        {
            "OpenSSL 3, Java 17, .NET, Windows 10 1709+/Server 2019+ (not older Windows)"
        } else if ciphers.contains(&Cipher::Other) {
            "unknown: uses an encryption scheme cprlink does not recognise"
        } else {
            "everything, including older Windows and OpenSSL 3 without the legacy provider"
        }
    }

    /// One line: `key PBES2 (...) (2,048 iterations); certificates ...; MAC SHA-256 (...)`.
    pub fn summary(&self) -> String {
        let key = match self.key() {
            Some(k) => k.describe(),
            None => "not visible before decryption".to_owned(),
        };
        let certs = match self.certificates() {
            Some(c) => c.describe(),
            None => "none".to_owned(),
        };
        let mac = match &self.mac {
            Some(m) => format!("{} ({} iterations)", m.digest, group(m.iterations)),
            None => "none (integrity not protected)".to_owned(),
        };
        format!("key {key}; certificates {certs}; MAC {mac}")
    }
}

/// Why the PFX structure could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScanError(pub String);

impl From<der::DerError> for ScanError {
    fn from(e: der::DerError) -> Self {
        ScanError(e.0.to_owned())
    }
}

const OID_DATA: &str = "1.2.840.113549.1.7.1";
const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_ENVELOPED_DATA: &str = "1.2.840.113549.1.7.3";
const OID_ENCRYPTED_DATA: &str = "1.2.840.113549.1.7.6";
const OID_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.1";
const OID_SHROUDED_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.2";
const OID_CERT_BAG: &str = "1.2.840.113549.1.12.10.1.3";
const OID_SAFE_CONTENTS_BAG: &str = "1.2.840.113549.1.12.10.1.6";
const OID_PBES2: &str = "1.2.840.113549.1.5.13";
const OID_PBKDF2: &str = "1.2.840.113549.1.5.12";
const OID_PBMAC1: &str = "1.2.840.113549.1.5.14";
const OID_SCRYPT: &str = "1.3.6.1.4.1.11591.4.11";

/// Reads the protection of the PKCS#12 file `der` (DER or BER).
pub fn scan(der: &[u8]) -> Result<Protection, ScanError> {
    let (pfx, _) = der::parse_ber(der)?;
    if !pfx.is(tag::SEQUENCE) {
        return Err(ScanError(
            "it does not start with a PFX SEQUENCE".to_owned(),
        ));
    }
    let version = pfx.child(0, tag::INTEGER)?.as_u64()?;
    if version != 3 {
        return Err(ScanError(format!("PFX version {version}, expected 3")));
    }
    let mut out = Protection {
        ber_indefinite: pfx.indefinite,
        ..Protection::default()
    };
    let auth_safe = pfx.child(1, tag::SEQUENCE)?;
    let content_type = auth_safe.child(0, tag::OID)?.as_oid()?;
    match content_type.as_str() {
        OID_DATA => {}
        OID_SIGNED_DATA => {
            return Err(ScanError(
                "it uses public-key integrity mode (signedData), which cprlink does not read"
                    .to_owned(),
            ));
        }
        other => {
            return Err(ScanError(format!(
                "unexpected authSafe content type {other}"
            )));
        }
    }
    let octets = explicit_octets(auth_safe)?;
    let (safes, _) = der::parse_ber(&octets)?;
    out.ber_indefinite |= safes.indefinite;
    if !safes.is(tag::SEQUENCE) {
        return Err(ScanError(
            "the AuthenticatedSafe is not a SEQUENCE".to_owned(),
        ));
    }
    for info in &safes.children {
        let kind = info.child(0, tag::OID)?.as_oid()?;
        match kind.as_str() {
            OID_DATA => {
                let bytes = explicit_octets(info)?;
                let (contents, _) = der::parse_ber(&bytes)?;
                out.ber_indefinite |= contents.indefinite;
                scan_bags(&contents, &mut out, 0)?;
            }
            OID_ENCRYPTED_DATA => {
                let encrypted = info.child(1, tag::CONTEXT_0)?.child(0, tag::SEQUENCE)?;
                let content_info = encrypted.child(1, tag::SEQUENCE)?;
                let algorithm = content_info.child(1, tag::SEQUENCE)?;
                out.encrypted_containers.push(encryption_of(algorithm)?);
            }
            OID_ENVELOPED_DATA => out.encrypted_containers.push(Encryption {
                algorithm: "envelopedData (public-key encryption)".to_owned(),
                cipher: Cipher::Other,
                iterations: None,
            }),
            other => {
                return Err(ScanError(format!("unexpected content type {other}")));
            }
        }
    }
    if let Some(mac_data) = pfx.children.get(2) {
        out.mac = Some(mac_of(mac_data)?);
    }
    Ok(out)
}

/// Looks inside the encrypted containers of `der` with `password` and records the key
/// and certificate bags found there in `found` (from [`scan`]). Call it only after
/// checking `found`'s iteration counts: opening a container derives its key. A
/// container that does not open (wrong password, unknown scheme) is skipped; OpenSSL
/// will then refuse the file itself.
pub fn scan_inside(der: &[u8], password: &str, found: &mut Protection) -> Result<(), ScanError> {
    let (pfx, _) = der::parse_ber(der)?;
    let octets = explicit_octets(pfx.child(1, tag::SEQUENCE)?)?;
    let (safes, _) = der::parse_ber(&octets)?;
    for info in &safes.children {
        if info.child(0, tag::OID)?.as_oid()? != OID_ENCRYPTED_DATA {
            continue;
        }
        let encrypted = info.child(1, tag::CONTEXT_0)?.child(0, tag::SEQUENCE)?;
        let content_info = encrypted.child(1, tag::SEQUENCE)?;
        let algorithm = content_info.child(1, tag::SEQUENCE)?;
        // encryptedContent [0] IMPLICIT OCTET STRING: primitive 0x80 or constructed 0xa0.
        let Some(content) = content_info
            .children
            .get(2)
            .filter(|c| c.ident == 0x80 || c.ident == tag::CONTEXT_0)
        else {
            continue;
        };
        let Some(plain) = crate::pbe::decrypt_container(algorithm, &content.octets(), password)
        else {
            continue;
        };
        let Ok((contents, _)) = der::parse_ber(&plain) else {
            continue;
        };
        let mut inner = Protection::default();
        if scan_bags(&contents, &mut inner, 0).is_ok() {
            found.hidden_key_bags.extend(inner.key_bags);
            found.hidden_cert_bags += inner.plain_cert_bags;
        }
    }
    Ok(())
}

/// The OCTET STRING inside a ContentInfo's `[0] EXPLICIT` content.
fn explicit_octets(content_info: &Ber<'_>) -> Result<Vec<u8>, ScanError> {
    Ok(content_info
        .child(1, tag::CONTEXT_0)?
        .child(0, tag::OCTET_STRING)?
        .octets())
}

/// How deep `safeContentsBag`s may nest.
const MAX_SAFE_CONTENTS_NESTING: usize = 4;

fn scan_bags(contents: &Ber<'_>, out: &mut Protection, nesting: usize) -> Result<(), ScanError> {
    if !contents.is(tag::SEQUENCE) {
        return Err(ScanError("SafeContents is not a SEQUENCE".to_owned()));
    }
    for bag in &contents.children {
        let id = bag.child(0, tag::OID)?.as_oid()?;
        let value = bag.child(1, tag::CONTEXT_0)?;
        match id.as_str() {
            OID_KEY_BAG => out.key_bags.push(Encryption::none()),
            OID_SHROUDED_KEY_BAG => {
                let info = value.child(0, tag::SEQUENCE)?;
                out.key_bags
                    .push(encryption_of(info.child(0, tag::SEQUENCE)?)?);
            }
            OID_CERT_BAG => out.plain_cert_bags += 1,
            OID_SAFE_CONTENTS_BAG => {
                if nesting >= MAX_SAFE_CONTENTS_NESTING {
                    return Err(ScanError("safeContentsBag nested too deeply".to_owned()));
                }
                scan_bags(value.child(0, tag::SEQUENCE)?, out, nesting + 1)?;
            }
            // CRL and secret bags carry no key material that matters here.
            _ => {}
        }
    }
    Ok(())
}

/// Reads an encryption AlgorithmIdentifier.
fn encryption_of(alg: &Ber<'_>) -> Result<Encryption, ScanError> {
    let oid = alg.child(0, tag::OID)?.as_oid()?;
    if oid == OID_PBES2 {
        return pbes2_of(alg.child(1, tag::SEQUENCE)?);
    }
    let (name, cipher) = match oid.as_str() {
        "1.2.840.113549.1.12.1.1" => ("PBE-SHA1-RC4-128", Cipher::Rc4),
        "1.2.840.113549.1.12.1.2" => ("PBE-SHA1-RC4-40", Cipher::Rc4),
        "1.2.840.113549.1.12.1.3" => ("PBE-SHA1-3DES", Cipher::TripleDes),
        "1.2.840.113549.1.12.1.4" => ("PBE-SHA1-2DES", Cipher::TwoKeyTripleDes),
        "1.2.840.113549.1.12.1.5" => ("PBE-SHA1-RC2-128", Cipher::Rc2_128),
        "1.2.840.113549.1.12.1.6" => ("PBE-SHA1-RC2-40", Cipher::Rc2_40),
        "1.2.840.113549.1.5.1" => ("PBE-MD2-DES", Cipher::Des),
        "1.2.840.113549.1.5.3" => ("PBE-MD5-DES", Cipher::Des),
        "1.2.840.113549.1.5.4" => ("PBE-MD2-RC2-64", Cipher::Rc2),
        "1.2.840.113549.1.5.6" => ("PBE-MD5-RC2-64", Cipher::Rc2),
        "1.2.840.113549.1.5.10" => ("PBE-SHA1-DES", Cipher::Des),
        "1.2.840.113549.1.5.11" => ("PBE-SHA1-RC2-64", Cipher::Rc2),
        _ => {
            return Ok(Encryption {
                algorithm: format!("unknown scheme {oid}"),
                cipher: Cipher::Other,
                iterations: None,
            });
        }
    };
    // PKCS#12 and PKCS#5 v1 parameters: SEQUENCE { salt OCTET STRING, iterations INTEGER }.
    let params = alg.child(1, tag::SEQUENCE)?;
    let iterations = params.child(1, tag::INTEGER)?.as_u64()?;
    Ok(Encryption {
        algorithm: name.to_owned(),
        cipher,
        iterations: Some(iterations),
    })
}

/// PBES2-params: SEQUENCE { keyDerivationFunc AlgorithmIdentifier, encryptionScheme AlgorithmIdentifier }.
fn pbes2_of(params: &Ber<'_>) -> Result<Encryption, ScanError> {
    let kdf = params.child(0, tag::SEQUENCE)?;
    let scheme = params.child(1, tag::SEQUENCE)?;
    let (kdf_name, iterations) = kdf_of(kdf)?;
    let scheme_oid = scheme.child(0, tag::OID)?.as_oid()?;
    let (cipher_name, cipher) = match scheme_oid.as_str() {
        "2.16.840.1.101.3.4.1.42" => ("AES-256-CBC", Cipher::Aes256),
        "2.16.840.1.101.3.4.1.22" => ("AES-192-CBC", Cipher::Aes192),
        "2.16.840.1.101.3.4.1.2" => ("AES-128-CBC", Cipher::Aes128),
        "1.2.840.113549.3.7" => ("DES-EDE3-CBC", Cipher::TripleDes),
        "1.3.14.3.2.7" => ("DES-CBC", Cipher::Des),
        "1.2.840.113549.3.2" => ("RC2-CBC", Cipher::Rc2),
        _ => ("unknown cipher", Cipher::Other),
    };
    let cipher_name = if cipher == Cipher::Other {
        format!("cipher {scheme_oid}")
    } else {
        cipher_name.to_owned()
    };
    Ok(Encryption {
        algorithm: format!("PBES2 ({kdf_name}, {cipher_name})"),
        cipher,
        iterations: Some(iterations),
    })
}

/// A key-derivation AlgorithmIdentifier: its name and its work factor.
fn kdf_of(kdf: &Ber<'_>) -> Result<(String, u64), ScanError> {
    let oid = kdf.child(0, tag::OID)?.as_oid()?;
    let params = kdf.child(1, tag::SEQUENCE)?;
    match oid.as_str() {
        OID_PBKDF2 => {
            // PBKDF2-params: SEQUENCE { salt, iterationCount INTEGER, keyLength INTEGER
            // OPTIONAL, prf AlgorithmIdentifier DEFAULT hmacWithSHA1 }.
            let iterations = params.child(1, tag::INTEGER)?.as_u64()?;
            let prf = params
                .children
                .iter()
                .skip(2)
                .find(|c| c.is(tag::SEQUENCE))
                .map(|prf| prf.child(0, tag::OID).and_then(|o| o.as_oid()))
                .transpose()?;
            let prf = match prf.as_deref() {
                None | Some("1.2.840.113549.2.7") => "HMAC-SHA1".to_owned(),
                Some("1.2.840.113549.2.8") => "HMAC-SHA224".to_owned(),
                Some("1.2.840.113549.2.9") => "HMAC-SHA256".to_owned(),
                Some("1.2.840.113549.2.10") => "HMAC-SHA384".to_owned(),
                Some("1.2.840.113549.2.11") => "HMAC-SHA512".to_owned(),
                Some(other) => format!("PRF {other}"),
            };
            Ok((format!("PBKDF2 {prf}"), iterations))
        }
        OID_SCRYPT => {
            // scrypt-params: SEQUENCE { salt, costParameter, blockSize, parallelizationParameter, ... }.
            let n = params.child(1, tag::INTEGER)?.as_u64()?;
            let r = params.child(2, tag::INTEGER)?.as_u64()?;
            let p = params.child(3, tag::INTEGER)?.as_u64()?;
            Ok((
                format!("scrypt N={n} r={r} p={p}"),
                n.saturating_mul(r).saturating_mul(p),
            ))
        }
        other => Err(ScanError(format!(
            "unknown key-derivation function {other}"
        ))),
    }
}

/// MacData: SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }.
fn mac_of(mac_data: &Ber<'_>) -> Result<Mac, ScanError> {
    if !mac_data.is(tag::SEQUENCE) {
        return Err(ScanError("MacData is not a SEQUENCE".to_owned()));
    }
    let digest_info = mac_data.child(0, tag::SEQUENCE)?;
    let alg = digest_info.child(0, tag::SEQUENCE)?;
    let oid = alg.child(0, tag::OID)?.as_oid()?;
    let iterations = match mac_data.children.get(2) {
        Some(i) if i.is(tag::INTEGER) => i.as_u64()?,
        Some(_) => return Err(ScanError("MacData iterations is not an INTEGER".to_owned())),
        None => 1,
    };
    if oid == OID_PBMAC1 {
        // RFC 9579: the work is in the PBKDF2 parameters, not in `iterations`.
        let params = alg.child(1, tag::SEQUENCE)?;
        let (kdf, kdf_iterations) = kdf_of(params.child(0, tag::SEQUENCE)?)?;
        return Ok(Mac {
            digest: format!("PBMAC1 ({kdf})"),
            iterations: kdf_iterations.max(iterations),
        });
    }
    let digest = match oid.as_str() {
        "1.3.14.3.2.26" => "SHA-1".to_owned(),
        "2.16.840.1.101.3.4.2.1" => "SHA-256".to_owned(),
        "2.16.840.1.101.3.4.2.2" => "SHA-384".to_owned(),
        "2.16.840.1.101.3.4.2.3" => "SHA-512".to_owned(),
        "2.16.840.1.101.3.4.2.4" => "SHA-224".to_owned(),
        "2.16.840.1.101.3.4.2.5" => "SHA-512/224".to_owned(),
        "2.16.840.1.101.3.4.2.6" => "SHA-512/256".to_owned(),
        "1.2.840.113549.2.5" => "MD5".to_owned(),
        other => format!("digest {other}"),
    };
    Ok(Mac { digest, iterations })
}

/// Whether the file uses an algorithm that needs OpenSSL's legacy provider (RC2, RC4,
/// DES). A file whose structure cannot be read is searched for the RC2 OIDs instead.
pub fn uses_legacy_algorithms(der: &[u8]) -> bool {
    match scan(der) {
        Ok(p) => p.needs_legacy_provider(),
        Err(_) => RC2_OIDS.iter().any(|oid| {
            let mut needle = vec![0x06, oid.len() as u8];
            needle.extend_from_slice(oid);
            der.windows(needle.len()).any(|w| w == needle.as_slice())
        }),
    }
}

/// OIDs of the PKCS#12 RC2 PBE schemes.
const RC2_OIDS: [&[u8]; 2] = [
    // pbeWithSHAAnd128BitRC2-CBC 1.2.840.113549.1.12.1.5
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01, 0x05],
    // pbeWithSHAAnd40BitRC2-CBC 1.2.840.113549.1.12.1.6
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01, 0x06],
];

/// `1234567` as `1,234,567`.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(2048), "2,048");
        assert_eq!(group(600_000), "600,000");
        assert_eq!(group(2_147_483_648), "2,147,483,648");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [
            &[][..],
            &[0x30][..],
            &[0x30, 0x03, 0x02, 0x01, 0x03][..],
            &[0x30, 0x80, 0x02, 0x01, 0x03][..],
            &[0x04, 0x00][..],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff][..],
        ] {
            assert!(scan(input).is_err(), "{input:?}");
        }
    }
}
