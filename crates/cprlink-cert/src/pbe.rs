//! Password-based decryption of PKCS#12 containers, for the pre-scan only.
//!
//! Owns the PKCS#12 key derivation (RFC 7292 appendix B) and PBES2 (PBKDF2 with AES or
//! 3DES, RFC 8018), used to look inside a file's encrypted containers before OpenSSL
//! opens it: a key bag hidden there names its own iteration count, which OpenSSL would
//! otherwise obey blindly. Callers bound every iteration count they pass here
//! ([`crate::protection::MAX_ITERATIONS`]). Nothing decrypted here leaves the crate's
//! pre-scan; OpenSSL still does the real opening.

use openssl::error::ErrorStack;
use openssl::hash::{MessageDigest, hash};
use openssl::symm::{Cipher, decrypt};

use crate::der::{Ber, tag};

/// The password as PKCS#12 wants it for its own KDF: UTF-16BE with a 00 00 terminator
/// (OpenSSL 3 converts UTF-8 this way).
pub fn bmp_password(password: &str) -> Vec<u8> {
    let mut out: Vec<u8> = password.encode_utf16().flat_map(u16::to_be_bytes).collect();
    out.extend([0, 0]);
    out
}

/// The old "ASCII" conversion (each byte becomes 00 b) that OpenSSL also tries for
/// files written by software that did not know UTF-8.
fn bytewise_bmp_password(password: &str) -> Vec<u8> {
    let mut out: Vec<u8> = password.bytes().flat_map(|b| [0, b]).collect();
    out.extend([0, 0]);
    out
}

/// RFC 7292 appendix B.2: derives `n` bytes of key (`id` 1), IV (2) or MAC key (3).
pub fn pkcs12_kdf(
    digest: MessageDigest,
    bmp_password: &[u8],
    salt: &[u8],
    id: u8,
    iterations: u64,
    n: usize,
) -> Result<Vec<u8>, ErrorStack> {
    let u = digest.size();
    let v = digest.block_size();
    let repeat = |data: &[u8]| -> Vec<u8> {
        if data.is_empty() {
            return Vec::new();
        }
        let len = v * data.len().div_ceil(v);
        data.iter().copied().cycle().take(len).collect()
    };
    let d = vec![id; v];
    let mut i = repeat(salt);
    i.extend(repeat(bmp_password));
    let mut out = Vec::with_capacity(n + u);
    while out.len() < n {
        let mut input = d.clone();
        input.extend_from_slice(&i);
        let mut a = hash(digest, &input)?.to_vec();
        for _ in 1..iterations.max(1) {
            a = hash(digest, &a)?.to_vec();
        }
        out.extend_from_slice(&a);
        if out.len() >= n {
            break;
        }
        let b: Vec<u8> = a.iter().copied().cycle().take(v).collect();
        for block in i.chunks_mut(v) {
            // block = (block + b + 1) mod 2^(8v), big-endian.
            let mut carry = 1u16;
            for (x, y) in block.iter_mut().rev().zip(b.iter().rev()) {
                let sum = u16::from(*x) + u16::from(*y) + carry;
                *x = sum as u8;
                carry = sum >> 8;
            }
        }
    }
    out.truncate(n);
    Ok(out)
}

/// Decrypts `data` encrypted under the AlgorithmIdentifier `alg` with `password`, trying
/// the password encodings OpenSSL tries. Returns the first plaintext that parses as a
/// BER SEQUENCE, or `None` (wrong password, unknown scheme).
pub fn decrypt_container(alg: &Ber<'_>, data: &[u8], password: &str) -> Option<Vec<u8>> {
    let oid = alg.child(0, tag::OID).ok()?.as_oid().ok()?;
    let params = alg.child(1, tag::SEQUENCE).ok()?;
    let plain = if oid == "1.2.840.113549.1.5.13" {
        pbes2(params, data, password)
    } else {
        let (cipher, key_len) = match oid.as_str() {
            "1.2.840.113549.1.12.1.3" => (Cipher::des_ede3_cbc(), 24),
            "1.2.840.113549.1.12.1.5" => (Cipher::rc2_cbc(), 16),
            "1.2.840.113549.1.12.1.6" => (Cipher::rc2_40_cbc(), 5),
            "1.2.840.113549.1.12.1.1" => (Cipher::rc4(), 16),
            _ => return None,
        };
        let salt = params.child(0, tag::OCTET_STRING).ok()?.octets();
        let iterations = params.child(1, tag::INTEGER).ok()?.as_u64().ok()?;
        let mut encodings = vec![bmp_password(password)];
        if !password.is_ascii() {
            encodings.push(bytewise_bmp_password(password));
        }
        if password.is_empty() {
            encodings.push(Vec::new());
        }
        encodings.iter().find_map(|pw| {
            let sha1 = MessageDigest::sha1();
            let key = pkcs12_kdf(sha1, pw, &salt, 1, iterations, key_len).ok()?;
            let iv_len = cipher.iv_len().unwrap_or(0);
            let iv = pkcs12_kdf(sha1, pw, &salt, 2, iterations, iv_len).ok()?;
            let iv = (iv_len > 0).then_some(iv.as_slice());
            decrypt(cipher, &key, iv, data).ok().filter(|p| parses(p))
        })
    };
    plain.filter(|p| parses(p))
}

fn pbes2(params: &Ber<'_>, data: &[u8], password: &str) -> Option<Vec<u8>> {
    let kdf = params.child(0, tag::SEQUENCE).ok()?;
    if kdf.child(0, tag::OID).ok()?.as_oid().ok()? != "1.2.840.113549.1.5.12" {
        return None;
    }
    let kdf_params = kdf.child(1, tag::SEQUENCE).ok()?;
    let salt = kdf_params.child(0, tag::OCTET_STRING).ok()?.octets();
    let iterations = kdf_params.child(1, tag::INTEGER).ok()?.as_u64().ok()?;
    let prf = kdf_params
        .children
        .iter()
        .skip(2)
        .find(|c| c.is(tag::SEQUENCE))
        .and_then(|p| p.child(0, tag::OID).ok())
        .and_then(|o| o.as_oid().ok());
    let digest = match prf.as_deref() {
        None | Some("1.2.840.113549.2.7") => MessageDigest::sha1(),
        Some("1.2.840.113549.2.8") => MessageDigest::sha224(),
        Some("1.2.840.113549.2.9") => MessageDigest::sha256(),
        Some("1.2.840.113549.2.10") => MessageDigest::sha384(),
        Some("1.2.840.113549.2.11") => MessageDigest::sha512(),
        _ => return None,
    };
    let scheme = params.child(1, tag::SEQUENCE).ok()?;
    let cipher = match scheme.child(0, tag::OID).ok()?.as_oid().ok()?.as_str() {
        "2.16.840.1.101.3.4.1.42" => Cipher::aes_256_cbc(),
        "2.16.840.1.101.3.4.1.22" => Cipher::aes_192_cbc(),
        "2.16.840.1.101.3.4.1.2" => Cipher::aes_128_cbc(),
        "1.2.840.113549.3.7" => Cipher::des_ede3_cbc(),
        _ => return None,
    };
    let iv = scheme.child(1, tag::OCTET_STRING).ok()?.octets();
    let mut key = vec![0u8; cipher.key_len()];
    let iterations = usize::try_from(iterations).ok()?;
    openssl::pkcs5::pbkdf2_hmac(password.as_bytes(), &salt, iterations, digest, &mut key).ok()?;
    decrypt(cipher, &key, Some(&iv), data).ok()
}

fn parses(plain: &[u8]) -> bool {
    matches!(crate::der::parse_ber(plain), Ok((b, _)) if b.is(tag::SEQUENCE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bmp_encoding() {
        assert_eq!(bmp_password("ab"), vec![0, b'a', 0, b'b', 0, 0]);
        assert_eq!(bmp_password("æ"), vec![0, 0xe6, 0, 0]);
        assert_eq!(bytewise_bmp_password("æ"), vec![0, 0xc3, 0, 0xa6, 0, 0]);
    }

    #[test]
    fn kdf_matches_a_mac_openssl_made() {
        // A compat file made by OpenSSL: its MAC key comes from this KDF (id 3), so a
        // correct KDF reproduces the MAC.
        use crate::der::parse_ber;
        let mut spec = crate::testpki::CaSpec::oces3_shaped("pbe", "pbe", None);
        spec.key_bits = 2048;
        let ca = crate::testpki::self_signed_ca(&spec).unwrap();
        let der =
            crate::p12::build(&ca.key, &ca.cert, &[], None, "pw", crate::Profile::Compat).unwrap();
        let (pfx, _) = parse_ber(&der).unwrap();
        let content = pfx.children[1].children[1].children[0].octets();
        let mac_data = &pfx.children[2];
        let want = mac_data.children[0].children[1].octets();
        let salt = mac_data.children[1].octets();
        let iterations = mac_data.children[2].as_u64().unwrap();
        let key = pkcs12_kdf(
            MessageDigest::sha1(),
            &bmp_password("pw"),
            &salt,
            3,
            iterations,
            20,
        )
        .unwrap();
        let pkey = openssl::pkey::PKey::hmac(&key).unwrap();
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha1(), &pkey).unwrap();
        signer.update(&content).unwrap();
        assert_eq!(signer.sign_to_vec().unwrap(), want);
    }
}
