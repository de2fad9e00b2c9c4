//! The CA certificates that go into a .p12 we write.
//!
//! Owns assembling them for `pack` and `repack`: each certificate once and never the
//! leaf itself ([`push_unique`]), the embedded OCES3 issuing CA added on request
//! ([`add_oces_issuer`]: DPG needs the issuing CA in the file, certificates.md §3), and
//! the order from the leaf's issuer up to the root ([`order`]), as TLS stacks send
//! them. Whether the result verifies is `trust`'s question; this module only arranges.

use openssl::x509::{X509, X509Ref};

use crate::error::Error;
use crate::facts::{name_text, same_certificate};
use crate::trust;

/// Adds `cert` to `chain` unless it is the leaf or already there.
pub fn push_unique(chain: &mut Vec<X509>, leaf: &X509Ref, cert: X509) {
    if !same_certificate(&cert, leaf) && !chain.iter().any(|c| same_certificate(c, &cert)) {
        chain.push(cert);
    }
}

/// Adds the embedded OCES3 issuing CA that signed `leaf`, unless `chain` already holds
/// the leaf's issuer. Returns whether it added one; a leaf that no embedded issuing CA
/// signed is [`Error::IssuingCaNotEmbedded`].
pub fn add_oces_issuer(chain: &mut Vec<X509>, leaf: &X509Ref) -> Result<bool, Error> {
    if chain.iter().any(|c| trust::issued_by(leaf, c)) {
        return Ok(false);
    }
    match trust::embedded_issuing_ca_for(leaf) {
        Some(ca) => {
            chain.push(ca);
            Ok(true)
        }
        None => Err(Error::IssuingCaNotEmbedded {
            issuer: name_text(leaf.issuer_name()),
        }),
    }
}

/// Orders the CA certificates from the leaf's issuer upwards; unrelated ones last, in
/// the order given.
pub fn order(leaf: &X509Ref, mut certs: Vec<X509>) -> Vec<X509> {
    let mut ordered = Vec::with_capacity(certs.len());
    let mut current = leaf.to_owned();
    while let Some(i) = certs.iter().position(|c| trust::issued_by(&current, c)) {
        let next = certs.remove(i);
        if trust::is_self_signed(&next) {
            ordered.push(next);
            break;
        }
        current = next.clone();
        ordered.push(next);
    }
    ordered.extend(certs);
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testpki::{LeafSpec, TestPki};

    #[test]
    fn orders_upwards_dedups_and_refuses_a_foreign_issuer() {
        let pki = TestPki::generate("chain").unwrap();
        let leaf = pki
            .issue(&LeafSpec::oces3_system("A", "K", "12345678"))
            .unwrap();
        let mut chain = Vec::new();
        for c in [
            pki.root.cert.clone(),
            leaf.cert.clone(),
            pki.issuing.cert.clone(),
            pki.root.cert.clone(),
        ] {
            push_unique(&mut chain, &leaf.cert, c);
        }
        assert_eq!(chain.len(), 2, "the leaf and the second root are left out");
        let ordered = order(&leaf.cert, chain);
        assert!(same_certificate(&ordered[0], &pki.issuing.cert));
        assert!(same_certificate(&ordered[1], &pki.root.cert));
        // The issuer is there: nothing to add. A test-PKI leaf has no embedded issuer.
        let mut with_issuer = ordered.clone();
        assert!(!add_oces_issuer(&mut with_issuer, &leaf.cert).unwrap());
        let mut empty = Vec::new();
        let err = add_oces_issuer(&mut empty, &leaf.cert).unwrap_err();
        assert!(matches!(err, Error::IssuingCaNotEmbedded { .. }), "{err}");
        assert!(empty.is_empty());
    }
}
