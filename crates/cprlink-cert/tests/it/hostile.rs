//! Hostile input: property tests of the hand-written BER/DER reader (`der`) and the
//! PKCS#12 pre-scan (`protection`), and of opening a file end to end (`load`).
//!
//! Inputs: random bytes, and truncations, bit flips, overwritten and inserted bytes of
//! real files: a certificate and .p12 files of the crate's test PKI, and two .p12 files
//! the `openssl` CLI made (`tests/fixtures/`). Every case must end without a panic,
//! within [`BOUND`], and a file that does not open must fail as the user's file: one of
//! the errors the binary maps to exit 2 (or 3: a damaged file whose MAC no longer
//! verifies reads as a wrong password, and no reader can tell the two apart), never
//! the internal OpenSSL error (exit 5). `crates/cprlink/src/exit.rs` tests that mapping.
//!
//! About 3,300 cases in all: under 20 s on a loaded two-core machine, besides the
//! fixture PKI the whole test binary shares. `PROPTEST_CASES=N` runs N cases of each
//! property instead, for a longer hunt (e.g. `PROPTEST_CASES=20000`).

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cprlink_cert::der::{self, Ber, Reader};
use cprlink_cert::p12::Profile;
use cprlink_cert::protection;
use cprlink_cert::{CertFacts, Error, load::load_bytes};
use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::support::{PASSWORD, fx, p12_of};

/// The longest one case may take, on a loaded machine. A real file opens in
/// milliseconds; the pre-scan is linear and a crafted iteration count is refused
/// before any key is derived.
const BOUND: Duration = Duration::from_secs(3);

/// The password of the `openssl` CLI fixtures.
const FIXTURE_PASSWORD: &str = "fixture-password";

/// `cases` cases, unless `PROPTEST_CASES` asks for another number.
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        ..Config::default()
    }
}

/// A real file to mutate, with the password that opens it.
struct Seed {
    name: &'static str,
    bytes: Vec<u8>,
    password: &'static str,
}

fn seeds() -> &'static [Seed] {
    static SEEDS: OnceLock<Vec<Seed>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let fixture = |name: &str| {
            std::fs::read(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures")
                    .join(name),
            )
            .unwrap()
        };
        let chain = [fx().pki.issuing.cert.clone()];
        vec![
            Seed {
                name: "testpki.cer",
                bytes: fx().good.to_der().unwrap(),
                password: PASSWORD,
            },
            Seed {
                name: "testpki-compat.p12",
                bytes: p12_of(&fx().good, &chain, Profile::Compat),
                password: PASSWORD,
            },
            Seed {
                name: "testpki-modern.p12",
                bytes: p12_of(&fx().good, &chain, Profile::Modern),
                password: PASSWORD,
            },
            Seed {
                name: "openssl-default.p12",
                bytes: fixture("openssl-default.p12"),
                password: FIXTURE_PASSWORD,
            },
            Seed {
                name: "openssl-legacy.p12",
                bytes: fixture("openssl-legacy.p12"),
                password: FIXTURE_PASSWORD,
            },
        ]
    })
}

/// One change to a real file.
#[derive(Debug, Clone)]
enum Mutation {
    /// Keep this share (per mille) of the file.
    Truncate(u16),
    /// Flip one bit at this position (per mille of the length) and bit index.
    FlipBit(u16, u8),
    /// Overwrite one byte.
    Overwrite(u16, u8),
    /// Insert bytes.
    Insert(u16, Vec<u8>),
    /// Several bit flips at once.
    FlipBits(Vec<(u16, u8)>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0u16..1000).prop_map(Mutation::Truncate),
        (0u16..1000, 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        (0u16..1000, any::<u8>()).prop_map(|(at, b)| Mutation::Overwrite(at, b)),
        (0u16..1000, proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        proptest::collection::vec((0u16..1000, 0u8..8), 2..6).prop_map(Mutation::FlipBits),
    ]
}

fn apply(bytes: &[u8], m: &Mutation) -> Vec<u8> {
    let at = |per_mille: u16| bytes.len() * usize::from(per_mille) / 1000;
    let mut out = bytes.to_vec();
    match m {
        Mutation::Truncate(keep) => out.truncate(at(*keep)),
        Mutation::FlipBit(pos, bit) => out[at(*pos)] ^= 1 << bit,
        Mutation::Overwrite(pos, b) => out[at(*pos)] = *b,
        Mutation::Insert(pos, new) => {
            let i = at(*pos);
            out.splice(i..i, new.iter().copied());
        }
        Mutation::FlipBits(flips) => {
            for (pos, bit) in flips {
                out[at(*pos)] ^= 1 << bit;
            }
        }
    }
    out
}

/// Walks everything the DER reader can be asked about `bytes`, as its callers do.
fn walk_der(bytes: &[u8]) {
    fn walk(reader: &mut Reader<'_>, depth: usize) {
        while let Ok(Some(tlv)) = reader.next_tlv() {
            let _ = tlv.as_u64();
            let _ = tlv.as_oid();
            if tlv.tag & 0x20 != 0 && depth < 64 {
                walk(&mut tlv.children(), depth + 1);
            }
        }
    }
    walk(&mut Reader::new(bytes), 0);
    let mut r = Reader::new(bytes);
    let _ = r.read_tag(der::tag::SEQUENCE);
    let _ = r.optional(der::tag::CONTEXT_0);
}

/// Walks a parsed BER tree: every accessor on every node.
fn walk_ber(ber: &Ber<'_>) {
    let _ = ber.as_u64();
    let _ = ber.as_oid();
    let _ = ber.octets();
    let _ = ber.child(0, der::tag::SEQUENCE);
    for c in &ber.children {
        walk_ber(c);
    }
}

/// The errors that mean "this file is broken, or not what it claims": exit 2 in the
/// binary, and 3 for the MAC mismatch a damaged file shares with a wrong password.
fn is_the_users_file(e: &Error) -> bool {
    matches!(
        e,
        Error::EmptyFile { .. }
            | Error::Base64Pkcs12 { .. }
            | Error::NotPkcs12 { .. }
            | Error::UnrecognizedFormat { .. }
            | Error::NoCertificate { .. }
            | Error::KeyWithoutCertificate { .. }
            | Error::AbsurdIterationCount { .. }
            | Error::LegacyEncryptionUnavailable { .. }
            | Error::UnreadableCertificate { .. }
            | Error::PasswordRequired { .. }
            | Error::WrongPassword { .. }
    )
}

/// Opens `bytes` as the file `name` would be opened, and reads what a command reads
/// from it. Returns the error, if any.
fn open_and_read(name: &str, bytes: Vec<u8>, password: &str) -> Result<(), Error> {
    let loaded = load_bytes(Path::new(name), bytes, Some(password))?;
    let now = chrono::Utc::now();
    for cert in &loaded.certificates {
        let _ = CertFacts::of(cert, now);
    }
    if let Some(leaf) = loaded.key_certificate() {
        let _ = cprlink_cert::trust::build_chain(leaf, &loaded.others(leaf), &[], now);
    }
    let _ = cprlink_cert::verify::verify(&loaded, &cprlink_cert::VerifyOptions::new());
    Ok(())
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    let took = started.elapsed();
    assert!(took < BOUND, "{what} took {took:?}");
    out
}

proptest! {
    #![proptest_config(config(1500))]

    #[test]
    fn the_der_and_ber_readers_take_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        timed("random bytes", || {
            walk_der(&bytes);
            if let Ok((ber, used)) = der::parse_ber(&bytes) {
                prop_assert!(used <= bytes.len());
                walk_ber(&ber);
            }
            let _ = protection::scan(&bytes);
            let _ = protection::uses_legacy_algorithms(&bytes);
            Ok(())
        })?;
    }
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn the_readers_and_the_prescan_take_damaged_real_files(
        seed in 0..5usize,
        m in mutation(),
    ) {
        let seed = &seeds()[seed];
        let bytes = apply(&seed.bytes, &m);
        timed(seed.name, || {
            walk_der(&bytes);
            if let Ok((ber, _)) = der::parse_ber(&bytes) {
                walk_ber(&ber);
            }
            if let Ok(mut found) = protection::scan(&bytes) {
                // Only with bounded counts, as `p12::parse` calls it.
                if found.max_iterations() <= protection::MAX_ITERATIONS {
                    let _ = protection::scan_inside(&bytes, seed.password, &mut found);
                }
            }
        });
    }
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn a_damaged_file_fails_as_the_users_file(seed in 0..5usize, m in mutation()) {
        let seed = &seeds()[seed];
        let bytes = apply(&seed.bytes, &m);
        let outcome = timed(seed.name, || open_and_read(seed.name, bytes, seed.password));
        if let Err(e) = outcome {
            prop_assert!(is_the_users_file(&e), "{}: {e:?}", seed.name);
        }
    }
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn random_bytes_named_p12_fail_as_the_users_file(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        start in prop_oneof![
            Just(&b""[..]),
            // Like DER, so that they reach the PKCS#12 paths.
            Just(&b"\x30"[..]),
            // A byte-order mark and white space, as Windows editors write text.
            Just(&b"\xef\xbb\xbf"[..]),
            Just(&b"\xef\xbb\xbf \r\n"[..]),
            Just(&b"-----BEGIN CERTIFICATE-----\n"[..]),
        ],
    ) {
        let mut bytes = bytes;
        bytes.splice(0..0, start.iter().copied());
        if start.starts_with(b"\xef") {
            // Also the text that is nothing but its byte-order mark and white space.
            bytes.retain(|b| b.is_ascii_whitespace());
            bytes.splice(0..0, start.iter().copied());
        }
        let outcome = timed("random .p12", || open_and_read("random.p12", bytes, "pw"));
        if let Err(e) = outcome {
            prop_assert!(is_the_users_file(&e), "{e:?}");
        }
    }
}

/// The seeds themselves open (otherwise the mutations above would test little).
#[test]
fn the_seeds_open() {
    for seed in seeds() {
        open_and_read(seed.name, seed.bytes.clone(), seed.password)
            .unwrap_or_else(|e| panic!("{}: {e}", seed.name));
    }
}
