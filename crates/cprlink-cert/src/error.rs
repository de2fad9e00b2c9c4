//! The one error type of `cprlink-cert`.
//!
//! Variants say what went wrong in the user's terms. They never carry a password
//! or key material. The binary maps them to exit codes and adds hints; the enum is
//! deliberately not `#[non_exhaustive]`, so that a new variant does not compile until
//! the binary's `exit::cert_error` gives it an exit code and a hint. A user's file that
//! OpenSSL cannot read always becomes one of the specific variants; [`Error::OpenSsl`]
//! is left for failures no input of the user's can cause (a bug: exit 5).

use std::path::PathBuf;

/// Everything that can go wrong with certificate files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} already exists", path.display())]
    AlreadyExists { path: PathBuf },
    #[error("{} is empty", path.display())]
    EmptyFile { path: PathBuf },
    #[error("a password is needed to open {}", path.display())]
    PasswordRequired { path: PathBuf },
    #[error("wrong password for {}", path.display())]
    WrongPassword { path: PathBuf },
    #[error("the password contains a NUL character, which PKCS#12 cannot hold")]
    PasswordHasNul,
    #[error(
        "{} is a Base64/PEM text file, not a binary PKCS#12 file (decode it first, e.g. `base64 -d`)",
        path.display()
    )]
    Base64Pkcs12 { path: PathBuf },
    #[error("{} is not a readable PKCS#12 file: {reason}", path.display())]
    NotPkcs12 { path: PathBuf, reason: String },
    #[error(
        "{} is not a certificate, private key, PKCS#12 or PKCS#7 file: {reason}",
        path.display()
    )]
    UnrecognizedFormat { path: PathBuf, reason: String },
    #[error("{} holds no certificate", path.display())]
    NoCertificate { path: PathBuf },
    #[error("{} holds no private key", path.display())]
    NoPrivateKey { path: PathBuf },
    #[error(
        "{} holds a private key but no certificate (the certificate is a separate .cer/.pem file)",
        path.display()
    )]
    KeyWithoutCertificate { path: PathBuf },
    #[error(
        "{} is {size} bytes, far too large for a certificate or PKCS#12 file",
        path.display()
    )]
    TooLarge { path: PathBuf, size: u64 },
    #[error(
        "the certificate was issued by {issuer}, which is not one of the embedded OCES3 issuing CAs"
    )]
    IssuingCaNotEmbedded { issuer: String },
    #[error(
        "{} uses old RC2-40 encryption and OpenSSL's legacy provider could not be loaded",
        path.display()
    )]
    LegacyEncryptionUnavailable { path: PathBuf },
    #[error(
        "{} asks for {} key-derivation iterations (more than {}): refused, the file may be hostile",
        path.display(),
        crate::protection::group(*count),
        crate::protection::group(*limit)
    )]
    AbsurdIterationCount {
        path: PathBuf,
        count: u64,
        limit: u64,
    },
    #[error("the private key does not match the certificate")]
    KeyDoesNotMatchCertificate,
    /// A certificate that parsed but whose facts cannot be read (an unsupported public
    /// key, a date out of range).
    #[error(
        "cannot read the certificate{}: {reason}",
        if subject.is_empty() { String::new() } else { format!(" {subject}") }
    )]
    UnreadableCertificate { subject: String, reason: String },
    /// Making a test PKI failed (sandbox, demo, tests): never the user's input.
    #[error("test PKI: {0}")]
    TestPki(String),
    /// OpenSSL failed on values cprlink made itself (building a structure, hashing,
    /// a random number): never the user's input.
    #[error("OpenSSL: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
}
