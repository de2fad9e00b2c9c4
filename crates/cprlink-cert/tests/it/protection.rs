//! The PKCS#12 pre-scan: what `openssl pkcs12 -export` writes in each mode, what our
//! profiles write, BER files, and crafted files that must be refused at once.

use std::time::{Duration, Instant};

use cprlink_cert::der::{self, tag};
use cprlink_cert::p12::{self, Profile};
use cprlink_cert::protection::{self, Cipher, MAX_ITERATIONS};
use cprlink_cert::{Error, FileFormat, load};

use crate::support::{PASSWORD, fx, openssl, p12_of, tmp, write_pem_pair};

/// `openssl pkcs12 -export` with extra arguments; returns the file's bytes.
fn openssl_export(extra: &[&str]) -> Vec<u8> {
    let dir = tmp();
    let (cert, key) = write_pem_pair(dir.path(), &fx().good);
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, fx().pki.issuing.cert.to_pem().unwrap()).unwrap();
    let out = dir.path().join("out.p12");
    let mut args = vec![
        "pkcs12",
        "-export",
        "-in",
        cert.to_str().unwrap(),
        "-inkey",
        key.to_str().unwrap(),
        "-certfile",
        ca.to_str().unwrap(),
        "-name",
        "from openssl",
        "-out",
        out.to_str().unwrap(),
    ];
    let pass = format!("pass:{PASSWORD}");
    args.extend(["-passout", pass.as_str()]);
    args.extend(extra);
    openssl(&args);
    std::fs::read(&out).unwrap()
}

#[test]
fn openssl_default_export_is_aes_256_pbes2() {
    let der = openssl_export(&[]);
    let p = protection::scan(&der).unwrap();
    let key = p.key().unwrap();
    assert_eq!(key.cipher, Cipher::Aes256);
    assert_eq!(key.algorithm, "PBES2 (PBKDF2 HMAC-SHA256, AES-256-CBC)");
    assert_eq!(key.iterations, Some(2048));
    assert_eq!(p.certificates().unwrap().cipher, Cipher::Aes256);
    let mac = p.mac.as_ref().unwrap();
    assert_eq!((mac.digest.as_str(), mac.iterations), ("SHA-256", 2048));
    assert_eq!(p.profile(), "modern");
    assert!(!p.needs_legacy_provider());
    assert!(!p.ber_indefinite);

    // And the file opens, with its friendly name and chain.
    let dir = tmp();
    let path = dir.path().join("aes.p12");
    std::fs::write(&path, &der).unwrap();
    let loaded = load(&path, Some(PASSWORD)).unwrap();
    let contents = loaded.p12.as_ref().unwrap();
    assert_eq!(contents.friendly_name.as_deref(), Some("from openssl"));
    assert_eq!(contents.ca.len(), 1);
    assert!(contents.key.as_ref().unwrap().public_eq(&fx().key));
}

#[test]
fn openssl_legacy_export_is_rc2_and_needs_the_legacy_provider() {
    let der = openssl_export(&["-legacy"]);
    let p = protection::scan(&der).unwrap();
    assert_eq!(p.key().unwrap().algorithm, "PBE-SHA1-3DES");
    let certs = p.certificates().unwrap();
    assert_eq!(
        (certs.algorithm.as_str(), certs.cipher),
        ("PBE-SHA1-RC2-40", Cipher::Rc2_40)
    );
    assert_eq!(p.mac.as_ref().unwrap().digest, "SHA-1");
    assert!(p.needs_legacy_provider());
    assert_eq!(p.profile(), "legacy_rc2");
    assert!(protection::uses_legacy_algorithms(&der));
    // This machine's OpenSSL 3 has the legacy provider: the file opens.
    let got = p12::parse(std::path::Path::new("rc2.p12"), &der, PASSWORD).unwrap();
    assert!(got.key.unwrap().public_eq(&fx().key));
    // With the password the pre-scan also saw inside the RC2 container: two certificates.
    assert_eq!(got.protection.hidden_cert_bags, 2);
    assert_eq!(got.protection.encrypted_containers, p.encrypted_containers);
}

#[test]
fn openssl_3des_export_is_compat() {
    let der = openssl_export(&[
        "-keypbe",
        "PBE-SHA1-3DES",
        "-certpbe",
        "PBE-SHA1-3DES",
        "-macalg",
        "sha1",
    ]);
    let p = protection::scan(&der).unwrap();
    assert_eq!(p.key().unwrap().cipher, Cipher::TripleDes);
    assert_eq!(p.certificates().unwrap().cipher, Cipher::TripleDes);
    assert_eq!(p.profile(), "compat");
    assert!(
        p.readable_by().starts_with("everything"),
        "{}",
        p.readable_by()
    );
    assert!(!p.needs_legacy_provider());
}

#[test]
fn unencrypted_certificates_and_custom_iterations_are_reported() {
    let der = openssl_export(&["-certpbe", "NONE", "-iter", "100000", "-maciter"]);
    let p = protection::scan(&der).unwrap();
    assert!(p.encrypted_containers.is_empty());
    assert_eq!(p.plain_cert_bags, 2);
    assert_eq!(p.certificates().unwrap().cipher, Cipher::None);
    assert_eq!(p.key().unwrap().iterations, Some(100_000));
    assert_eq!(p.max_iterations(), 100_000);
}

#[test]
fn our_profiles_scan_as_intended() {
    let compat = protection::scan(&p12_of(&fx().good, &[], Profile::Compat)).unwrap();
    assert_eq!(compat.profile(), "compat");
    assert_eq!(compat.max_iterations(), u64::from(p12::WRITE_ITERATIONS));
    let modern = protection::scan(&p12_of(&fx().good, &[], Profile::Modern)).unwrap();
    assert_eq!(modern.profile(), "modern");
    assert_eq!(modern.mac.as_ref().unwrap().digest, "SHA-256");
}

/// Re-encodes the outer PFX layers with indefinite lengths and the authSafe OCTET
/// STRING as a constructed string in small segments, as some Windows/Java writers do.
/// The MAC stays valid: it covers the octets, not their encoding.
fn to_ber(der_bytes: &[u8]) -> Vec<u8> {
    let (pfx, _) = der::parse_ber(der_bytes).unwrap();
    let indefinite = |ident: u8, body: Vec<u8>| {
        let mut v = vec![ident, 0x80];
        v.extend(body);
        v.extend([0, 0]);
        v
    };
    let version = der::encode_u64(pfx.children[0].as_u64().unwrap());
    let auth_safe = &pfx.children[1];
    let oid = der::encode(tag::OID, auth_safe.children[0].content);
    let octets = auth_safe.children[1].children[0].octets();
    let mut segments = Vec::new();
    for chunk in octets.chunks(500) {
        segments.extend(der::encode(tag::OCTET_STRING, chunk));
    }
    let content = indefinite(tag::CONTEXT_0, indefinite(0x24, segments));
    let mut ci = oid;
    ci.extend(content);
    let mut body = version;
    body.extend(indefinite(tag::SEQUENCE, ci));
    // MacData unchanged: find it as the raw tail of the DER.
    let (_, used) = der::parse_ber(der_bytes).unwrap();
    let mut reader = der::Reader::new(&der_bytes[..used]);
    let outer = reader.read_tag(tag::SEQUENCE).unwrap();
    let mut parts = outer.children();
    parts.next_tlv().unwrap();
    parts.next_tlv().unwrap();
    body.extend(parts.next_tlv().unwrap().unwrap().raw);
    indefinite(tag::SEQUENCE, body)
}

#[test]
fn ber_indefinite_lengths_are_read_by_the_scan_and_by_openssl() {
    let der_bytes = p12_of(
        &fx().good,
        &[fx().pki.issuing.cert.clone()],
        Profile::Compat,
    );
    let ber = to_ber(&der_bytes);
    assert_ne!(ber, der_bytes);
    let p = protection::scan(&ber).unwrap();
    assert!(p.ber_indefinite);
    assert_eq!(p.profile(), "compat");
    let dir = tmp();
    let path = dir.path().join("ber.p12");
    std::fs::write(&path, &ber).unwrap();
    let loaded = load(&path, Some(PASSWORD)).unwrap();
    assert_eq!(loaded.format, FileFormat::Pkcs12);
    assert!(loaded.p12.unwrap().protection.ber_indefinite);
    // The openssl CLI agrees that it is a valid file.
    let pass = format!("pass:{PASSWORD}");
    openssl(&[
        "pkcs12",
        "-in",
        path.to_str().unwrap(),
        "-passin",
        &pass,
        "-noout",
    ]);
}

/// A minimal PFX: empty AuthenticatedSafe and a MAC claiming `mac_iterations`.
fn crafted(mac_iterations: u64, key_bag_iterations: Option<u64>) -> Vec<u8> {
    let seq = |parts: &[Vec<u8>]| der::encode(tag::SEQUENCE, &parts.concat());
    let mut bags = Vec::new();
    if let Some(n) = key_bag_iterations {
        // pkcs8ShroudedKeyBag with PBES2/PBKDF2(n)/AES-256-CBC and a dummy ciphertext.
        let pbkdf2 = seq(&[
            der::encode_oid("1.2.840.113549.1.5.12"),
            seq(&[der::encode(tag::OCTET_STRING, &[1; 8]), der::encode_u64(n)]),
        ]);
        let aes = seq(&[
            der::encode_oid("2.16.840.1.101.3.4.1.42"),
            der::encode(tag::OCTET_STRING, &[0; 16]),
        ]);
        let alg = seq(&[
            der::encode_oid("1.2.840.113549.1.5.13"),
            seq(&[pbkdf2, aes]),
        ]);
        let epki = seq(&[alg, der::encode(tag::OCTET_STRING, &[0; 32])]);
        bags.push(seq(&[
            der::encode_oid("1.2.840.113549.1.12.10.1.2"),
            der::encode(tag::CONTEXT_0, &epki),
        ]));
    }
    let safe_contents = seq(&bags);
    let data_ci = seq(&[
        der::encode_oid("1.2.840.113549.1.7.1"),
        der::encode(
            tag::CONTEXT_0,
            &der::encode(tag::OCTET_STRING, &safe_contents),
        ),
    ]);
    let auth_safe = seq(&[data_ci]);
    let outer_ci = seq(&[
        der::encode_oid("1.2.840.113549.1.7.1"),
        der::encode(tag::CONTEXT_0, &der::encode(tag::OCTET_STRING, &auth_safe)),
    ]);
    let mac = seq(&[
        seq(&[
            seq(&[
                der::encode_oid("1.3.14.3.2.26"),
                der::encode(tag::NULL, &[]),
            ]),
            der::encode(tag::OCTET_STRING, &[0; 20]),
        ]),
        der::encode(tag::OCTET_STRING, &[7; 8]),
        der::encode_u64(mac_iterations),
    ]);
    seq(&[der::encode_u64(3), outer_ci, mac])
}

#[test]
fn a_tiny_file_claiming_2_pow_31_iterations_is_refused_at_once() {
    let dir = tmp();
    for (name, bytes) in [
        ("mac.p12", crafted(1 << 31, None)),
        ("keybag.p12", crafted(2048, Some(1 << 31))),
        ("huge.p12", crafted(u64::MAX, None)),
    ] {
        assert!(bytes.len() < 300, "{name} is {} bytes", bytes.len());
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let started = Instant::now();
        let err = load(&path, Some("anything")).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{name}: {:?}",
            started.elapsed()
        );
        match err {
            Error::AbsurdIterationCount { count, limit, .. } => {
                assert!(count > limit, "{name}");
                assert_eq!(limit, MAX_ITERATIONS);
            }
            other => panic!("{name}: {other}"),
        }
        assert!(err_text(&path).contains("iterations"));
    }
    // At the limit it is not refused by the scan (OpenSSL then says "wrong password").
    let ok = crafted(2048, Some(2048));
    assert_eq!(protection::scan(&ok).unwrap().max_iterations(), 2048);
}

fn err_text(path: &std::path::Path) -> String {
    load(path, Some("x")).unwrap_err().to_string()
}

#[test]
fn truncated_and_corrupted_files_never_panic() {
    let good = p12_of(&fx().good, &[], Profile::Compat);
    let dir = tmp();
    let path = dir.path().join("bad.p12");
    // Every truncation point of the first kilobyte, and a bit flip at every 7th byte.
    for cut in (0..good.len().min(1024)).step_by(3) {
        let _ = protection::scan(&good[..cut]);
        std::fs::write(&path, &good[..cut]).unwrap();
        assert!(load(&path, Some(PASSWORD)).is_err(), "cut at {cut}");
    }
    for i in (0..good.len()).step_by(7) {
        let mut bad = good.clone();
        bad[i] ^= 0x5a;
        let _ = protection::scan(&bad);
        std::fs::write(&path, &bad).unwrap();
        // Either refused, or (rarely, when the flip hits a don't-care byte) opened.
        let _ = load(&path, Some(PASSWORD));
    }
    // Random bytes that start like DER.
    let mut random = vec![0u8; 4096];
    cprlink_cert::openssl::rand::rand_bytes(&mut random).unwrap();
    random[0] = 0x30;
    std::fs::write(&path, &random).unwrap();
    assert!(matches!(
        load(&path, Some(PASSWORD)),
        Err(Error::NotPkcs12 { .. })
    ));
}

/// A file with a valid MAC whose only key bag hides, inside a 3DES-encrypted container,
/// a PBKDF2 count of 2^31 - 1 (OpenSSL rejects 2^31 itself, as an int overflow):
/// nothing in its visible structure is out of bounds.
const HIDDEN: u64 = 0x7fff_ffff;

fn hidden_hostile_key_bag(password: &str) -> Vec<u8> {
    use cprlink_cert::openssl::hash::MessageDigest;
    use cprlink_cert::openssl::{pkey::PKey, sign::Signer, symm};
    use cprlink_cert::pbe::{bmp_password, pkcs12_kdf};
    let seq = |parts: &[Vec<u8>]| der::encode(tag::SEQUENCE, &parts.concat());
    let pbkdf2 = seq(&[
        der::encode_oid("1.2.840.113549.1.5.12"),
        seq(&[
            der::encode(tag::OCTET_STRING, &[1; 8]),
            der::encode_u64(HIDDEN),
        ]),
    ]);
    let aes = seq(&[
        der::encode_oid("2.16.840.1.101.3.4.1.42"),
        der::encode(tag::OCTET_STRING, &[0; 16]),
    ]);
    let alg = seq(&[
        der::encode_oid("1.2.840.113549.1.5.13"),
        seq(&[pbkdf2, aes]),
    ]);
    let epki = seq(&[alg, der::encode(tag::OCTET_STRING, &[0; 32])]);
    let bag = seq(&[
        der::encode_oid("1.2.840.113549.1.12.10.1.2"),
        der::encode(tag::CONTEXT_0, &epki),
    ]);
    let safe_contents = seq(&[bag]);

    let bmp = bmp_password(password);
    let salt = [9u8; 8];
    let sha1 = MessageDigest::sha1();
    let key = pkcs12_kdf(sha1, &bmp, &salt, 1, 2048, 24).unwrap();
    let iv = pkcs12_kdf(sha1, &bmp, &salt, 2, 2048, 8).unwrap();
    let encrypted = symm::encrypt(
        symm::Cipher::des_ede3_cbc(),
        &key,
        Some(&iv),
        &safe_contents,
    )
    .unwrap();
    let pbe = seq(&[
        der::encode_oid("1.2.840.113549.1.12.1.3"),
        seq(&[der::encode(tag::OCTET_STRING, &salt), der::encode_u64(2048)]),
    ]);
    let encrypted_data = seq(&[
        der::encode_u64(0),
        seq(&[
            der::encode_oid("1.2.840.113549.1.7.1"),
            pbe,
            der::encode(0x80, &encrypted),
        ]),
    ]);
    let auth_safe = seq(&[seq(&[
        der::encode_oid("1.2.840.113549.1.7.6"),
        der::encode(tag::CONTEXT_0, &encrypted_data),
    ])]);

    let mac_salt = [7u8; 8];
    let mac_key = pkcs12_kdf(sha1, &bmp, &mac_salt, 3, 2048, 20).unwrap();
    let hmac = PKey::hmac(&mac_key).unwrap();
    let mut signer = Signer::new(sha1, &hmac).unwrap();
    signer.update(&auth_safe).unwrap();
    let mac = signer.sign_to_vec().unwrap();
    seq(&[
        der::encode_u64(3),
        seq(&[
            der::encode_oid("1.2.840.113549.1.7.1"),
            der::encode(tag::CONTEXT_0, &der::encode(tag::OCTET_STRING, &auth_safe)),
        ]),
        seq(&[
            seq(&[
                seq(&[
                    der::encode_oid("1.3.14.3.2.26"),
                    der::encode(tag::NULL, &[]),
                ]),
                der::encode(tag::OCTET_STRING, &mac),
            ]),
            der::encode(tag::OCTET_STRING, &mac_salt),
            der::encode_u64(2048),
        ]),
    ])
}

#[test]
fn a_key_bag_hidden_in_an_encrypted_container_is_bounded_too() {
    let dir = tmp();
    let path = dir.path().join("hidden.p12");
    std::fs::write(&path, hidden_hostile_key_bag("pw")).unwrap();
    // The visible structure is harmless...
    let visible = protection::scan(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(visible.max_iterations(), 2048);
    // ...and the file is genuine: OpenSSL verifies its MAC and would then derive the
    // key bag's key with 2^31 - 1 iterations (it is still busy after 3 seconds).
    let p = path.to_str().unwrap();
    openssl(&[
        "pkcs12", "-in", p, "-passin", "pass:pw", "-nokeys", "-noout",
    ]);
    let busy = std::process::Command::new("timeout")
        .args([
            "3", "openssl", "pkcs12", "-in", p, "-passin", "pass:pw", "-nocerts", "-noenc",
        ])
        .output()
        .unwrap();
    assert_eq!(busy.status.code(), Some(124), "openssl finished: {busy:?}");
    // cprlink looks inside first and refuses at once.
    let started = Instant::now();
    let err = load(&path, Some("pw")).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, Error::AbsurdIterationCount { count, .. } if count == HIDDEN),
        "{err}"
    );
    // With the wrong password the container stays shut and OpenSSL says so.
    assert!(matches!(
        load(&path, Some("nope")),
        Err(Error::WrongPassword { .. })
    ));
}
