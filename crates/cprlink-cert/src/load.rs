//! Opening any certificate-bearing file: .p12/.pfx, DER or PEM certificates
//! (.cer/.crt/.pem, with a BOM or whitespace), PEM private keys (PKCS#8, traditional
//! RSA, encrypted PKCS#8), and PKCS#7 bundles (.p7b, PEM or DER).
//!
//! Owns format detection and the distinct messages for a broken file, a wrong
//! password and a Base64-wrapped .p12. Passwords come from the caller; when one is
//! needed and not given, the caller gets [`Error::PasswordRequired`] and may ask.

use std::path::{Path, PathBuf};

use openssl::pkcs7::Pkcs7;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509, X509Ref};

use crate::error::Error;
use crate::p12::{self, P12Contents};

/// The kind of file that was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    Pkcs12,
    DerCertificate,
    PemCertificate,
    Pkcs7,
    PemPrivateKey,
    /// PEM holding certificates and a private key together.
    PemBundle,
}

impl FileFormat {
    pub fn describe(self) -> &'static str {
        match self {
            FileFormat::Pkcs12 => "PKCS#12 (.p12/.pfx)",
            FileFormat::DerCertificate => "DER certificate",
            FileFormat::PemCertificate => "PEM certificate",
            FileFormat::Pkcs7 => "PKCS#7 bundle (.p7b)",
            FileFormat::PemPrivateKey => "PEM private key",
            FileFormat::PemBundle => "PEM certificates and private key",
        }
    }
}

/// What a file held.
#[derive(Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub format: FileFormat,
    /// The leaf first when one is known (the .p12's own certificate), then the rest in
    /// file order.
    pub certificates: Vec<X509>,
    pub key: Option<PKey<Private>>,
    /// Set for PKCS#12 files.
    pub p12: Option<P12Contents>,
    /// The raw bytes, for files that must be handed over unchanged.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("certificates", &self.certificates.len())
            .field("has_key", &self.key.is_some())
            .finish()
    }
}

impl Loaded {
    /// The certificate the file is about: the .p12's own certificate, else the first
    /// non-CA certificate, else the first one.
    pub fn leaf(&self) -> Option<&X509> {
        if let Some(cert) = self.p12.as_ref().and_then(|p| p.cert.as_ref()) {
            return Some(cert);
        }
        self.certificates
            .iter()
            .find(|c| !crate::facts::is_ca(c))
            .or_else(|| self.certificates.first())
    }
}

impl Loaded {
    /// The certificate the private key belongs to: the .p12's own, else the one whose
    /// public key matches the key, else [`Loaded::leaf`].
    pub fn key_certificate(&self) -> Option<&X509> {
        if let Some(cert) = self.p12.as_ref().and_then(|p| p.cert.as_ref()) {
            return Some(cert);
        }
        let by_key = self.key.as_ref().and_then(|k| {
            self.certificates
                .iter()
                .find(|c| c.public_key().is_ok_and(|pk| pk.public_eq(k)))
        });
        by_key.or_else(|| self.leaf())
    }

    /// Every certificate of the file except `cert`.
    pub fn others(&self, cert: &X509Ref) -> Vec<X509> {
        self.certificates
            .iter()
            .filter(|c| !crate::facts::same_certificate(c, cert))
            .cloned()
            .collect()
    }
}

/// Reads `path`. `password` opens a .p12 or an encrypted PEM key.
pub fn load(path: &Path, password: Option<&str>) -> Result<Loaded, Error> {
    use std::io::Read;
    let read_err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    // Read at most one byte past the limit, so that a huge file (or a device) is never
    // pulled into memory.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        let size = std::fs::metadata(path)
            .map(|m| m.len())
            .unwrap_or(MAX_FILE_SIZE + 1);
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            size,
        });
    }
    load_bytes(path, bytes, password)
}

/// Certificate files are kilobytes; a CA bundle a few hundred. Anything above this is
/// the wrong file.
pub const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// Like [`load`], for bytes already read.
pub fn load_bytes(path: &Path, bytes: Vec<u8>, password: Option<&str>) -> Result<Loaded, Error> {
    let text = strip_bom_and_space(&bytes);
    // Nothing but white space (and perhaps a byte-order mark, as Windows editors save
    // text) is an empty file; the checks below also rely on a first byte.
    if text.is_empty() {
        return Err(Error::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    // `openssl pkcs12 -nokeys` and `openssl x509 -text` put "Bag Attributes" /
    // "subject=" or the decoded text before the PEM block: still a PEM file.
    if text.starts_with(b"-----BEGIN ") || (text[0] != 0x30 && has_pem_block(text)) {
        return load_pem(path, &bytes, text, password);
    }
    if looks_like_base64(text) {
        return load_base64(path, &bytes, text);
    }
    if bytes[0] == 0x30 {
        return load_der(path, &bytes, password);
    }
    Err(Error::UnrecognizedFormat {
        path: path.to_path_buf(),
        reason: "neither PEM text nor DER (it does not start with an ASN.1 SEQUENCE)".to_owned(),
    })
}

/// Whether a line starting with `-----BEGIN ` appears in text.
fn has_pem_block(text: &[u8]) -> bool {
    text.windows(12).any(|w| w == b"\n-----BEGIN ")
}

fn is_p12_name(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("p12" | "pfx")
    )
}

fn load_der(path: &Path, bytes: &[u8], password: Option<&str>) -> Result<Loaded, Error> {
    let mut loaded = Loaded {
        path: path.to_path_buf(),
        format: FileFormat::DerCertificate,
        certificates: Vec::new(),
        key: None,
        p12: None,
        bytes: bytes.to_vec(),
    };
    if !is_p12_name(path) {
        if let Ok(cert) = X509::from_der(bytes) {
            loaded.certificates.push(cert);
            return Ok(loaded);
        }
        if let Ok(p7) = Pkcs7::from_der(bytes) {
            loaded.format = FileFormat::Pkcs7;
            loaded.certificates = pkcs7_certificates(path, &p7)?;
            return Ok(loaded);
        }
        if let Ok(key) = PKey::private_key_from_der(bytes) {
            loaded.format = FileFormat::PemPrivateKey;
            loaded.key = Some(key);
            return Ok(loaded);
        }
    }
    if Pkcs12::from_der(bytes).is_err() {
        let reason = if is_p12_name(path) {
            "the file is damaged or truncated (its ASN.1 structure does not parse)"
        } else {
            "DER data that is not a certificate, PKCS#7 bundle, key or PKCS#12 file"
        };
        return Err(if is_p12_name(path) {
            Error::NotPkcs12 {
                path: path.to_path_buf(),
                reason: reason.to_owned(),
            }
        } else {
            Error::UnrecognizedFormat {
                path: path.to_path_buf(),
                reason: reason.to_owned(),
            }
        });
    }
    let password = password.ok_or_else(|| Error::PasswordRequired {
        path: path.to_path_buf(),
    })?;
    let contents = p12::parse(path, bytes, password)?;
    loaded.format = FileFormat::Pkcs12;
    loaded.key = contents.key.clone();
    loaded.certificates = contents.cert.iter().cloned().collect();
    loaded.certificates.extend(contents.ca.iter().cloned());
    loaded.p12 = Some(contents);
    Ok(loaded)
}

fn load_pem(
    path: &Path,
    bytes: &[u8],
    text: &[u8],
    password: Option<&str>,
) -> Result<Loaded, Error> {
    let as_str = String::from_utf8_lossy(text);
    let mut loaded = Loaded {
        path: path.to_path_buf(),
        format: FileFormat::PemCertificate,
        certificates: Vec::new(),
        key: None,
        p12: None,
        bytes: bytes.to_vec(),
    };
    if as_str.contains("-----BEGIN CERTIFICATE-----") {
        loaded.certificates =
            X509::stack_from_pem(text).map_err(|e| Error::UnrecognizedFormat {
                path: path.to_path_buf(),
                reason: format!("broken PEM certificate ({})", p12::openssl_reason(&e)),
            })?;
    }
    if as_str.contains("-----BEGIN PKCS7-----") {
        let p7 = Pkcs7::from_pem(text).map_err(|e| Error::UnrecognizedFormat {
            path: path.to_path_buf(),
            reason: format!("broken PKCS#7 ({})", p12::openssl_reason(&e)),
        })?;
        loaded.format = FileFormat::Pkcs7;
        loaded.certificates = pkcs7_certificates(path, &p7)?;
    }
    if as_str.contains("PRIVATE KEY-----") {
        let encrypted = as_str.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
            || as_str.contains("Proc-Type: 4,ENCRYPTED");
        let key = if encrypted {
            let password = password.ok_or_else(|| Error::PasswordRequired {
                path: path.to_path_buf(),
            })?;
            PKey::private_key_from_pem_passphrase(text, password.as_bytes()).map_err(|e| {
                let reason = p12::openssl_reason(&e).to_ascii_lowercase();
                if reason.contains("bad decrypt") || reason.contains("decrypt") {
                    Error::WrongPassword {
                        path: path.to_path_buf(),
                    }
                } else {
                    Error::UnrecognizedFormat {
                        path: path.to_path_buf(),
                        reason: format!("broken encrypted private key ({reason})"),
                    }
                }
            })?
        } else {
            PKey::private_key_from_pem(text).map_err(|e| Error::UnrecognizedFormat {
                path: path.to_path_buf(),
                reason: format!("broken PEM private key ({})", p12::openssl_reason(&e)),
            })?
        };
        loaded.key = Some(key);
        loaded.format = if loaded.certificates.is_empty() {
            FileFormat::PemPrivateKey
        } else {
            FileFormat::PemBundle
        };
    }
    if loaded.certificates.is_empty() && loaded.key.is_none() {
        return Err(Error::UnrecognizedFormat {
            path: path.to_path_buf(),
            reason: "PEM text without a CERTIFICATE, PKCS7 or PRIVATE KEY block".to_owned(),
        });
    }
    Ok(loaded)
}

fn load_base64(path: &Path, bytes: &[u8], text: &[u8]) -> Result<Loaded, Error> {
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let decoded =
        openssl::base64::decode_block(&String::from_utf8_lossy(&compact)).map_err(|_| {
            Error::UnrecognizedFormat {
                path: path.to_path_buf(),
                reason: "text that is neither PEM nor valid Base64".to_owned(),
            }
        })?;
    if Pkcs12::from_der(&decoded).is_ok() {
        return Err(Error::Base64Pkcs12 {
            path: path.to_path_buf(),
        });
    }
    if let Ok(cert) = X509::from_der(&decoded) {
        return Ok(Loaded {
            path: path.to_path_buf(),
            format: FileFormat::PemCertificate,
            certificates: vec![cert],
            key: None,
            p12: None,
            bytes: bytes.to_vec(),
        });
    }
    Err(Error::UnrecognizedFormat {
        path: path.to_path_buf(),
        reason: "Base64 text that decodes to neither a certificate nor a PKCS#12 file".to_owned(),
    })
}

fn pkcs7_certificates(path: &Path, p7: &Pkcs7) -> Result<Vec<X509>, Error> {
    let certs: Vec<X509> = p7
        .signed()
        .and_then(|s| s.certificates())
        .map(|stack| stack.iter().map(|c| c.to_owned()).collect())
        .unwrap_or_default();
    if certs.is_empty() {
        return Err(Error::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn strip_bom_and_space(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(&[0xef, 0xbb, 0xbf][..]).unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn looks_like_base64(text: &[u8]) -> bool {
    text.len() >= 16
        && text.iter().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=') || b.is_ascii_whitespace()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testpki::{LeafSpec, TestPki};

    #[test]
    fn detects_formats() {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::generate("load").unwrap();
        let leaf = pki
            .issue(&LeafSpec::oces3_system("A", "K", "12345678"))
            .unwrap();

        // What `openssl pkcs12 -nokeys` writes: attribute lines before the block.
        let bag_path = dir.path().join("bag.pem");
        let mut bag = b"Bag Attributes\n    localKeyID: 01 \nsubject=CN = A\n\n".to_vec();
        bag.extend(leaf.cert.to_pem().unwrap());
        std::fs::write(&bag_path, bag).unwrap();
        let loaded = load(&bag_path, None).unwrap();
        assert_eq!(loaded.format, FileFormat::PemCertificate);
        assert_eq!(loaded.certificates.len(), 1);

        let der_path = dir.path().join("a.cer");
        std::fs::write(&der_path, leaf.cert.to_der().unwrap()).unwrap();
        assert_eq!(
            load(&der_path, None).unwrap().format,
            FileFormat::DerCertificate
        );

        let pem_path = dir.path().join("a.pem");
        let mut pem = b"\xef\xbb\xbf\n  ".to_vec();
        pem.extend(leaf.cert.to_pem().unwrap());
        std::fs::write(&pem_path, pem).unwrap();
        assert_eq!(
            load(&pem_path, None).unwrap().format,
            FileFormat::PemCertificate
        );

        let p12 = crate::p12::build(
            &leaf.key,
            &leaf.cert,
            &[],
            None,
            "pw",
            crate::p12::Profile::Compat,
        )
        .unwrap();
        let p12_path = dir.path().join("a.p12");
        std::fs::write(&p12_path, &p12).unwrap();
        assert!(matches!(
            load(&p12_path, None),
            Err(Error::PasswordRequired { .. })
        ));
        assert!(matches!(
            load(&p12_path, Some("nope")),
            Err(Error::WrongPassword { .. })
        ));
        assert_eq!(
            load(&p12_path, Some("pw")).unwrap().format,
            FileFormat::Pkcs12
        );

        let b64_path = dir.path().join("b64.p12");
        std::fs::write(&b64_path, openssl::base64::encode_block(&p12)).unwrap();
        assert!(matches!(
            load(&b64_path, Some("pw")),
            Err(Error::Base64Pkcs12 { .. })
        ));

        let trunc = dir.path().join("t.p12");
        std::fs::write(&trunc, &p12[..p12.len() / 2]).unwrap();
        assert!(matches!(
            load(&trunc, Some("pw")),
            Err(Error::NotPkcs12 { .. })
        ));

        let empty = dir.path().join("e.p12");
        for content in [&b""[..], b" \n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"] {
            std::fs::write(&empty, content).unwrap();
            assert!(
                matches!(load(&empty, Some("pw")), Err(Error::EmptyFile { .. })),
                "{content:?}"
            );
        }
    }
}
