//! Shared fixtures: one OCES3-shaped test PKI and one leaf key for the whole binary,
//! the real public OCES3 certificates in `testdata/oces3/`, and small helpers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use cprlink_cert::openssl::pkey::{PKey, Private};
use cprlink_cert::openssl::x509::X509;
use cprlink_cert::p12::{self, Profile};
use cprlink_cert::testpki::{self, LeafSpec, TestPki};

/// The project's test data (`testdata/` at the root: the real public OCES3 certificates).
pub(crate) fn testdata_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

pub(crate) fn oces3(name: &str) -> PathBuf {
    testdata_dir().join("oces3").join(name)
}

pub(crate) fn read_cert(path: &Path) -> X509 {
    X509::from_pem(&std::fs::read(path).unwrap()).unwrap()
}

pub(crate) struct Fx {
    pub pki: TestPki,
    /// The key of every leaf issued by [`leaf`] (one RSA 3072 key, made once).
    pub key: PKey<Private>,
    pub good: X509,
}

pub(crate) fn fx() -> &'static Fx {
    static FX: OnceLock<Fx> = OnceLock::new();
    FX.get_or_init(|| {
        let pki = TestPki::generate("cprlink it").unwrap();
        let key = testpki::rsa_key(3072).unwrap();
        let good = testpki::issue_leaf_for_key(&pki.issuing, &spec(), &key).unwrap();
        Fx { pki, key, good }
    })
}

/// The OCES3-shaped system certificate spec every variant starts from.
pub(crate) fn spec() -> LeafSpec {
    LeafSpec::oces3_system("DPG CPR", "Testkommune", "29189846")
}

/// A leaf from the fixture PKI with the shared key.
pub(crate) fn leaf(spec: &LeafSpec) -> X509 {
    testpki::issue_leaf_for_key(&fx().pki.issuing, spec, &fx().key).unwrap()
}

pub(crate) const PASSWORD: &str = "Tr0ubadour-3xample";

/// A .p12 of `cert` with the shared key and `chain`.
pub(crate) fn p12_of(cert: &X509, chain: &[X509], profile: Profile) -> Vec<u8> {
    p12::build(&fx().key, cert, chain, Some("it"), PASSWORD, profile).unwrap()
}

pub(crate) fn tmp() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

/// Runs the `openssl` CLI; panics with its stderr when it fails.
pub(crate) fn openssl(args: &[&str]) -> std::process::Output {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl CLI");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Writes the fixture key and certificate as PEM into `dir`; returns (cert, key) paths.
pub(crate) fn write_pem_pair(dir: &Path, cert: &X509) -> (PathBuf, PathBuf) {
    let c = dir.join("cert.pem");
    let k = dir.join("key.pem");
    std::fs::write(&c, cert.to_pem().unwrap()).unwrap();
    std::fs::write(&k, fx().key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (c, k)
}
