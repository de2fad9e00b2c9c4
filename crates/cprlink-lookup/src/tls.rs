//! The client's TLS, configured here rather than by reqwest: which trust anchors we
//! load, the identity we present, and what a failed handshake means.
//!
//! Trust: with `ca_file` set, its certificates are the only trust anchors (the system
//! store is not read: `ca_file` exists for a private or test CA, and the system's
//! roots would only widen whom we trust); with `ca_file` empty, the system store,
//! read once per process. Verification is never weakened: the chain up to an anchor,
//! the validity dates and the server's name (or IP address) are always checked, by
//! webpki.
//!
//! Why not native-tls: its connector parses the whole system CA bundle twice per
//! client, whatever we ask it to trust (three quarters of a cold lookup's CPU, issue
//! 12). rustls with the ring provider loads only what we give it.
//!
//! Failures come back as rustls' own errors, inside the I/O errors of the connection;
//! [`failure_in`] finds them in an error's chain and says what they mean.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{CertificateError, RootCertStore};

use crate::error::{Error, TlsAlert};
use crate::identity::ClientIdentity;

/// The TLS configuration of the one connection pool.
pub(crate) fn client_config(
    identity: Option<&ClientIdentity>,
    ca_pem: Option<&[u8]>,
) -> Result<rustls::ClientConfig, Error> {
    let roots = match ca_pem {
        // Checked by `Settings::from_config`, which names the file.
        Some(pem) => roots_from_pem(pem).map_err(|problem| Error::Config {
            key: "datafordeler.ca_file",
            problem,
        })?,
        None => system_roots()?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            // Only an empty store fails here, and neither branch above returns one.
            .map_err(|e| Error::TlsConfig {
                source: rustls::Error::General(e.to_string()),
            })?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|source| Error::TlsConfig { source })?
        .with_webpki_verifier(verifier);
    let mut config = match identity {
        Some(id) => {
            let chain = id
                .chain_der()
                .iter()
                .map(|c| CertificateDer::from(c.clone()))
                .collect();
            let key =
                PrivateKeyDer::try_from(id.key_der().to_vec()).map_err(|e| Error::Identity {
                    reason: format!("unusable private key ({e})"),
                })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::Identity {
                    reason: format!("the key cannot sign for TLS ({e})"),
                })?
        }
        None => builder.with_no_client_auth(),
    };
    // What reqwest's native-tls (with ALPN) offered: HTTP/2 where the server has it.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The trust anchors in a PEM bundle (`ca_file`): every certificate in it, or why
/// not. Shared with `Settings::from_config`, so that a file the transport would
/// refuse is refused there, with its name.
pub(crate) fn roots_from_pem(pem: &[u8]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for (i, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let cert = cert.map_err(|e| format!("unreadable PEM ({e})"))?;
        roots
            .add(cert)
            .map_err(|e| format!("certificate {} is not a usable CA ({e})", i + 1))?;
    }
    if roots.is_empty() {
        return Err("no PEM certificate in it".to_owned());
    }
    Ok(roots)
}

/// The system's trust store, where OpenSSL on this machine finds it (the bundle file
/// and the certificate directory). Certificates it cannot use are skipped, as OpenSSL
/// does; a store with none at all would trust no server, so it is refused here.
fn system_roots() -> Result<RootCertStore, Error> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, skipped) = roots.add_parsable_certificates(found.certs);
    tracing::debug!(
        added,
        skipped,
        errors = found.errors.len(),
        "system trust anchors"
    );
    if roots.is_empty() {
        return Err(Error::Config {
            key: "datafordeler.ca_file",
            problem: format!(
                "not set, and the system trust store has no usable CA certificate{}: install the system's CA certificates or set ca_file",
                found
                    .errors
                    .first()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ),
        });
    }
    Ok(roots)
}

/// What a failed TLS connection means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The server ended the handshake with this alert (it refused our certificate).
    Alert(TlsAlert),
    /// We refused the server's certificate, for this reason.
    NotTrusted(String),
}

/// The TLS failure in `err` or any of its causes. The connection's I/O errors carry
/// rustls' error inside, where `source()` does not reach (`io::Error` hands on the
/// inner error's source, not the inner error itself), and hyper-rustls wraps that
/// I/O error in another: look inside them too.
pub(crate) fn failure_in(err: &(dyn std::error::Error + 'static)) -> Option<Failure> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(failure) = rustls_error_in(e).and_then(meaning) {
            return Some(failure);
        }
        cur = e.source();
    }
    None
}

/// `e` itself, or what nested I/O errors hold, as rustls' error.
fn rustls_error_in<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let mut io = e.downcast_ref::<std::io::Error>()?;
    // Bounded: a cycle is impossible, but a deep nest is not worth walking.
    for _ in 0..8 {
        let inner = io.get_ref()?;
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        io = inner.downcast_ref::<std::io::Error>()?;
    }
    None
}

fn meaning(e: &rustls::Error) -> Option<Failure> {
    match e {
        rustls::Error::AlertReceived(alert) => Some(Failure::Alert(TlsAlert::from_number(
            u16::from(u8::from(*alert)),
        ))),
        rustls::Error::InvalidCertificate(c) => Some(Failure::NotTrusted(not_trusted(c))),
        _ => None,
    }
}

/// Why we refused the server's certificate, in words for the message.
fn not_trusted(c: &CertificateError) -> String {
    match c {
        CertificateError::UnknownIssuer => "unknown issuer: no trusted CA issued it".to_owned(),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("hostname mismatch: {c}")
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "certificate has expired".to_owned()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "certificate is not valid yet".to_owned()
        }
        CertificateError::Revoked => "certificate revoked".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_found_inside_io_errors_and_chains() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error sending request")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let io = |e: rustls::Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        let alert = Outer(io(rustls::Error::AlertReceived(
            rustls::AlertDescription::UnknownCA,
        )));
        // hyper-rustls: an I/O error around tokio-rustls' I/O error.
        let nested = Outer(std::io::Error::other(io(rustls::Error::AlertReceived(
            rustls::AlertDescription::BadCertificate,
        ))));
        assert_eq!(
            failure_in(&nested),
            Some(Failure::Alert(TlsAlert::BadCertificate))
        );
        assert_eq!(
            failure_in(&alert),
            Some(Failure::Alert(TlsAlert::UnknownCa))
        );
        let required = io(rustls::Error::AlertReceived(
            rustls::AlertDescription::CertificateRequired,
        ));
        assert_eq!(
            failure_in(&required),
            Some(Failure::Alert(TlsAlert::CertificateRequired))
        );
        let untrusted = Outer(io(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        )));
        assert!(matches!(
            failure_in(&untrusted),
            Some(Failure::NotTrusted(d)) if d.starts_with("unknown issuer")
        ));
        let expired = io(rustls::Error::InvalidCertificate(CertificateError::Expired));
        assert_eq!(
            failure_in(&expired),
            Some(Failure::NotTrusted("certificate has expired".to_owned()))
        );
        let reset = Outer(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(failure_in(&reset), None);
    }

    #[test]
    fn ca_file_roots_are_checked() {
        assert_eq!(
            roots_from_pem(b"no pem here").err().as_deref(),
            Some("no PEM certificate in it")
        );
        let pki = cprlink_cert::testpki::TestPki::generate("roots").unwrap();
        let roots = roots_from_pem(&pki.ca_bundle_pem().unwrap()).unwrap();
        assert!(!roots.is_empty());
    }
}
