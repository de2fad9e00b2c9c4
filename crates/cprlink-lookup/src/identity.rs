//! The TLS client identity: our certificate and key, read once per process from the
//! opened .p12 (`cprlink_cert::load` reads legacy RC2 files too) and kept as DER for
//! the transport's rustls and as PEM for the doctor's own OpenSSL handshake.
//!
//! Owns what of the .p12 goes on the wire (the leaf, its key, and the CA certificates
//! that are not self-signed roots) and the facts messages need (thumbprint, subject,
//! expiry). It never holds the .p12 password and never shows the key in `Debug`.

use chrono::{DateTime, Utc};
use cprlink_cert::Loaded;
use openssl::x509::X509;

use crate::error::Error;

/// The client certificate and key, ready for mutual TLS.
#[derive(Clone)]
pub struct ClientIdentity {
    chain_pem: Vec<u8>,
    key_pem: Vec<u8>,
    /// The same chain and key as DER (the key as PKCS#8), for rustls.
    chain_der: Vec<Vec<u8>>,
    key_der: Vec<u8>,
    /// SHA-1 thumbprint (upper-case hex): what Datafordeler registers.
    pub thumbprint: String,
    pub subject: String,
    pub not_after: DateTime<Utc>,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("thumbprint", &self.thumbprint)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl ClientIdentity {
    /// From an opened .p12: the leaf and its key, plus the CA certificates that are not
    /// self-signed roots (the server has those; intermediates it may not).
    pub fn from_loaded(loaded: &Loaded) -> Result<ClientIdentity, Error> {
        let bad = |reason: String| Error::Identity { reason };
        let key = loaded
            .key
            .as_ref()
            .ok_or_else(|| bad("the file holds no private key".to_owned()))?;
        let leaf = loaded
            .leaf()
            .ok_or_else(|| bad("the file holds no certificate".to_owned()))?;
        let leaf_key = leaf
            .public_key()
            .map_err(|e| bad(format!("unreadable public key ({e})")))?;
        if !leaf_key.public_eq(key) {
            return Err(bad(
                "the private key does not match the certificate".to_owned()
            ));
        }
        // Writing out what OpenSSL just read is not about the user's file: a bug.
        let encoding = |source| Error::IdentityEncoding { source };
        let mut chain_pem = leaf.to_pem().map_err(encoding)?;
        let leaf_der = leaf.to_der().map_err(encoding)?;
        let mut chain_der = vec![leaf_der.clone()];
        for cert in &loaded.certificates {
            let der = cert.to_der().map_err(encoding)?;
            if der == leaf_der || is_self_signed(cert) {
                continue;
            }
            chain_pem.extend(cert.to_pem().map_err(encoding)?);
            chain_der.push(der);
        }
        let key_pem = key.private_key_to_pem_pkcs8().map_err(encoding)?;
        let key_der = key.private_key_to_pkcs8().map_err(encoding)?;
        let thumbprint =
            cprlink_cert::facts::sha1_thumbprint(leaf).map_err(|e| bad(e.to_string()))?;
        let not_after =
            cprlink_cert::facts::asn1_to_utc(leaf.not_after()).map_err(|e| bad(e.to_string()))?;
        Ok(ClientIdentity {
            chain_pem,
            key_pem,
            chain_der,
            key_der,
            thumbprint,
            subject: short_subject(leaf),
            not_after,
        })
    }

    /// The certificate chain as DER (leaf first), for the transport's TLS.
    pub(crate) fn chain_der(&self) -> &[Vec<u8>] {
        &self.chain_der
    }

    /// The private key as PKCS#8 DER, for the transport's TLS.
    pub(crate) fn key_der(&self) -> &[u8] {
        &self.key_der
    }

    /// The certificate chain as PEM (leaf first), for the doctor's own handshake.
    pub fn chain_pem(&self) -> &[u8] {
        &self.chain_pem
    }

    /// The private key as PKCS#8 PEM, for the doctor's own handshake.
    pub fn key_pem(&self) -> &[u8] {
        &self.key_pem
    }
}

/// `CN=..., O=...`: enough to recognise a certificate in a message.
fn short_subject(cert: &X509) -> String {
    use cprlink_cert::facts::entry;
    use openssl::nid::Nid;
    let name = cert.subject_name();
    let parts: Vec<String> = [("CN", Nid::COMMONNAME), ("O", Nid::ORGANIZATIONNAME)]
        .iter()
        .filter_map(|(k, nid)| entry(name, *nid).map(|v| format!("{k}={v}")))
        .collect();
    if parts.is_empty() {
        cprlink_cert::facts::name_text(name)
    } else {
        parts.join(", ")
    }
}

fn is_self_signed(cert: &X509) -> bool {
    match (cert.subject_name().to_der(), cert.issuer_name().to_der()) {
        (Ok(s), Ok(i)) => s == i,
        _ => false,
    }
}
