//! Reading and writing PKCS#12 (.p12/.pfx) files.
//!
//! Owns opening a .p12 with a password (telling a wrong password from a broken file,
//! loading OpenSSL's legacy provider for old RC2-40 exports while keeping the default
//! provider on) and building one with a named protection profile. It never sees a
//! terminal; the password comes from the caller.

use std::path::Path;
use std::sync::OnceLock;

use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::provider::Provider;
use openssl::stack::Stack;
use openssl::x509::X509;

use crate::error::Error;
use crate::protection::{self, Protection};

/// The contents of an opened PKCS#12 file.
#[derive(Clone)]
pub struct P12Contents {
    pub key: Option<PKey<Private>>,
    /// The certificate that belongs to the key (OpenSSL picks it by local key id).
    pub cert: Option<X509>,
    /// The other certificates (CA chain, or extra leaves).
    pub ca: Vec<X509>,
    /// The friendly name of the key's certificate, when the file carries one.
    pub friendly_name: Option<String>,
    /// How the file is protected, read before it was opened.
    pub protection: Protection,
}

impl std::fmt::Debug for P12Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P12Contents")
            .field("has_key", &self.key.is_some())
            .field("has_cert", &self.cert.is_some())
            .field("ca", &self.ca.len())
            .field("friendly_name", &self.friendly_name)
            .field("protection", &self.protection.profile())
            .finish()
    }
}

/// How a written .p12 is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// PBE-SHA1-3DES for key and certificates, SHA-1 MAC, 2048 iterations: readable by
    /// everything, including older Windows and OpenSSL 3 without the legacy provider.
    #[default]
    Compat,
    /// PBES2/PBKDF2-SHA256/AES-256-CBC, SHA-256 MAC: OpenSSL 3, Java 17, Windows 10 1709+.
    Modern,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Compat => "compat",
            Profile::Modern => "modern",
        }
    }
}

/// Iterations for the key derivation and the MAC of files we write (Windows rejects
/// more than 600,000; 2,048 is what everything reads).
pub const WRITE_ITERATIONS: u32 = 2048;

/// Loads OpenSSL's legacy provider once, keeping the default provider active.
///
/// `Provider::load` alone would switch the fallback (default) provider off and then
/// every file fails; `try_load(.., true)` retains it.
pub fn legacy_provider() -> Option<&'static Provider> {
    static LEGACY: OnceLock<Option<Provider>> = OnceLock::new();
    LEGACY
        .get_or_init(|| Provider::try_load(None, "legacy", true).ok())
        .as_ref()
}

/// Opens a PKCS#12 file held in `der` with `password`. `path` is for messages only.
///
/// The protection is read first ([`protection::scan`]); a file asking for more than
/// [`protection::MAX_ITERATIONS`] iterations anywhere is refused before any key is
/// derived, and one whose structure cannot be read is refused too (its iteration
/// counts would be unknown).
pub fn parse(path: &Path, der: &[u8], password: &str) -> Result<P12Contents, Error> {
    if password.contains('\0') {
        return Err(Error::PasswordHasNul);
    }
    let not_pkcs12 = |e: protection::ScanError| Error::NotPkcs12 {
        path: path.to_path_buf(),
        reason: format!("its PKCS#12 structure cannot be read ({e})"),
    };
    let bounded = |p: &Protection| {
        let count = p.max_iterations();
        if count > protection::MAX_ITERATIONS {
            return Err(Error::AbsurdIterationCount {
                path: path.to_path_buf(),
                count,
                limit: protection::MAX_ITERATIONS,
            });
        }
        if p.needs_legacy_provider() && legacy_provider().is_none() {
            return Err(Error::LegacyEncryptionUnavailable {
                path: path.to_path_buf(),
            });
        }
        Ok(())
    };
    let mut protection = protection::scan(der).map_err(not_pkcs12)?;
    bounded(&protection)?;
    let p12 = Pkcs12::from_der(der).map_err(|e| Error::NotPkcs12 {
        path: path.to_path_buf(),
        reason: openssl_reason(&e),
    })?;
    // Key bags inside the encrypted containers carry their own counts: bound them too.
    protection::scan_inside(der, password, &mut protection).map_err(not_pkcs12)?;
    bounded(&protection)?;
    let parsed = p12
        .parse2(password)
        .map_err(|e| classify_parse_error(path, &e))?;
    let friendly_name = parsed
        .cert
        .as_ref()
        .and_then(|c| c.alias())
        .map(|a| String::from_utf8_lossy(a).into_owned());
    Ok(P12Contents {
        key: parsed.pkey,
        cert: parsed.cert,
        ca: parsed
            .ca
            .map(|stack| stack.into_iter().collect())
            .unwrap_or_default(),
        friendly_name,
        protection,
    })
}

fn classify_parse_error(path: &Path, e: &openssl::error::ErrorStack) -> Error {
    let text = e.to_string().to_ascii_lowercase();
    if text.contains("mac verify failure") || text.contains("mac verify error") {
        Error::WrongPassword {
            path: path.to_path_buf(),
        }
    } else if text.contains("unsupported") && text.contains("rc2") {
        Error::LegacyEncryptionUnavailable {
            path: path.to_path_buf(),
        }
    } else {
        Error::NotPkcs12 {
            path: path.to_path_buf(),
            reason: openssl_reason(e),
        }
    }
}

/// The first OpenSSL reason string, for messages.
pub(crate) fn openssl_reason(e: &openssl::error::ErrorStack) -> String {
    e.errors()
        .first()
        .and_then(|err| err.reason().map(str::to_owned))
        .unwrap_or_else(|| "not a valid PKCS#12 structure".to_owned())
}

/// Builds a PKCS#12 file. Refuses a key that does not match `cert`.
pub fn build(
    key: &PKey<Private>,
    cert: &X509,
    chain: &[X509],
    friendly_name: Option<&str>,
    password: &str,
    profile: Profile,
) -> Result<Vec<u8>, Error> {
    if password.contains('\0') {
        return Err(Error::PasswordHasNul);
    }
    if !cert.public_key()?.public_eq(key) {
        return Err(Error::KeyDoesNotMatchCertificate);
    }
    let mut builder = Pkcs12::builder();
    builder.pkey(key).cert(cert);
    if let Some(name) = friendly_name {
        builder.name(name);
    }
    if !chain.is_empty() {
        let mut stack = Stack::new()?;
        for c in chain {
            stack.push(c.clone())?;
        }
        builder.ca(stack);
    }
    builder
        .key_iter(WRITE_ITERATIONS)
        .mac_iter(WRITE_ITERATIONS);
    match profile {
        Profile::Compat => {
            builder
                .key_algorithm(Nid::PBE_WITHSHA1AND3_KEY_TRIPLEDES_CBC)
                .cert_algorithm(Nid::PBE_WITHSHA1AND3_KEY_TRIPLEDES_CBC)
                .mac_md(MessageDigest::sha1());
        }
        Profile::Modern => {
            builder
                .key_algorithm(Nid::AES_256_CBC)
                .cert_algorithm(Nid::AES_256_CBC)
                .mac_md(MessageDigest::sha256());
        }
    }
    Ok(builder.build2(password)?.to_der()?)
}

/// A new password for a .p12: ASCII letters and digits (implementations encode
/// non-ASCII differently), 24 characters from OpenSSL's CSPRNG.
pub fn generate_password() -> Result<String, Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut out = String::with_capacity(24);
    let mut buf = [0u8; 64];
    while out.len() < 24 {
        openssl::rand::rand_bytes(&mut buf)?;
        for b in buf {
            // Rejection sampling keeps the distribution uniform.
            let limit = 256 - (256 % ALPHABET.len());
            if usize::from(b) < limit && out.len() < 24 {
                out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testpki::{LeafSpec, TestPki};

    #[test]
    fn round_trip_both_profiles_and_wrong_password() {
        let pki = TestPki::generate("p12").unwrap();
        let leaf = pki
            .issue(&LeafSpec::oces3_system("DPG", "Kommune", "12345678"))
            .unwrap();
        for profile in [Profile::Compat, Profile::Modern] {
            let der = build(
                &leaf.key,
                &leaf.cert,
                std::slice::from_ref(&pki.issuing.cert),
                Some("name"),
                "secret",
                profile,
            )
            .unwrap();
            let got = parse(Path::new("x.p12"), &der, "secret").unwrap();
            assert!(got.key.unwrap().public_eq(&leaf.key));
            assert_eq!(
                got.cert.unwrap().to_der().unwrap(),
                leaf.cert.to_der().unwrap()
            );
            assert_eq!(got.ca.len(), 1);
            let err = parse(Path::new("x.p12"), &der, "wrong").unwrap_err();
            assert!(matches!(err, Error::WrongPassword { .. }), "{err}");
        }
    }

    #[test]
    fn refuses_a_key_that_does_not_match() {
        let pki = TestPki::generate("p12b").unwrap();
        let a = pki
            .issue(&LeafSpec::oces3_system("A", "K", "12345678"))
            .unwrap();
        let other = crate::testpki::rsa_key(2048).unwrap();
        let err = build(&other, &a.cert, &[], None, "pw", Profile::Compat).unwrap_err();
        assert!(matches!(err, Error::KeyDoesNotMatchCertificate));
    }

    #[test]
    fn generated_passwords_are_ascii_and_long() {
        let a = generate_password().unwrap();
        let b = generate_password().unwrap();
        assert!(a.len() >= 20 && a.is_ascii() && a != b);
    }
}
