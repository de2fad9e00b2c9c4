//! `cprlink cert ...` end to end: real files on disk, the real OCES3 certificates in
//! `testdata/oces3/`, test PKIs made once per binary, and the `openssl` CLI on the
//! other side of every file we read or write.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use cprlink_cert::openssl::pkey::{PKey, Private};
use cprlink_cert::openssl::x509::X509;
use cprlink_cert::p12::{self, Profile};
use cprlink_cert::testpki::{
    self, Authority, CaSpec, LeafSpec, Signature, TestPki, self_signed_ca,
};
use serde_json::Value;

use crate::support::{cprlink, testdata_dir};

const PASSWORD: &str = "correct-horse-battery";
const CVR: &str = "29189846";

struct Fx {
    pki: TestPki,
    key: PKey<Private>,
    good: X509,
    /// A self-signed root nobody trusts, with its own issuing CA (RSA 2048: faster).
    foreign: Authority,
    /// An OCES2-named CA ("TRUST2408").
    oces2: Authority,
    key2048: PKey<Private>,
}

fn fx() -> &'static Fx {
    static FX: OnceLock<Fx> = OnceLock::new();
    FX.get_or_init(|| {
        let pki = TestPki::generate("cprlink cli").unwrap();
        let key = testpki::rsa_key(3072).unwrap();
        let good = testpki::issue_leaf_for_key(&pki.issuing, &spec(), &key).unwrap();
        let mut foreign = CaSpec::oces3_shaped("Fremmed", "Fremmed OCES rod-CA", None);
        foreign.key_bits = 2048;
        let mut oces2 = CaSpec::oces3_shaped("TRUST2408", "TRUST2408 Systemtest XXII CA", None);
        oces2.subject = vec![
            ("C".into(), "DK".into()),
            ("O".into(), "TRUST2408".into()),
            ("CN".into(), "TRUST2408 Systemtest XXII CA".into()),
        ];
        oces2.key_bits = 2048;
        Fx {
            pki,
            key,
            good,
            foreign: self_signed_ca(&foreign).unwrap(),
            oces2: self_signed_ca(&oces2).unwrap(),
            key2048: testpki::rsa_key(2048).unwrap(),
        }
    })
}

pub(crate) fn spec() -> LeafSpec {
    LeafSpec::oces3_system("DPG CPR", "Testkommune", CVR)
}

pub(crate) fn leaf(spec: &LeafSpec) -> X509 {
    testpki::issue_leaf_for_key(&fx().pki.issuing, spec, &fx().key).unwrap()
}

pub(crate) fn tmp() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The password file used with `--password-file`.
pub(crate) fn pwfile(dir: &Path) -> PathBuf {
    write(dir, "pw.txt", format!("{PASSWORD}\n").as_bytes())
}

/// A .p12 (compat) of `cert` with the shared key and `chain`, written into `dir`.
pub(crate) fn p12_file(dir: &Path, name: &str, cert: &X509, chain: &[X509]) -> PathBuf {
    let der = p12::build(
        &fx().key,
        cert,
        chain,
        Some("test"),
        PASSWORD,
        Profile::Compat,
    )
    .unwrap();
    write(dir, name, &der)
}

pub(crate) fn issuing() -> Vec<X509> {
    vec![fx().pki.issuing.cert.clone()]
}

/// The test PKI's root as a `--trust` file.
pub(crate) fn trust_root(dir: &Path) -> PathBuf {
    write(dir, "root.pem", &fx().pki.root.cert.to_pem().unwrap())
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs the `openssl` CLI.
fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl CLI")
}

/// Runs `cprlink --json cert verify FILE --password-file PW ARGS...`; returns the exit
/// code and the JSON report.
fn verify_json(dir: &Path, file: &Path, args: &[&str]) -> (i32, Value) {
    let pw = pwfile(dir);
    let out = cprlink()
        .args([
            "--json",
            "cert",
            "verify",
            path_str(file),
            "--password-file",
            path_str(&pw),
        ])
        .args(args)
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON on stdout ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), json)
}

fn status<'a>(report: &'a Value, id: &str) -> &'a str {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))["status"]
        .as_str()
        .unwrap()
}

fn detail<'a>(report: &'a Value, id: &str) -> &'a str {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()["detail"]
        .as_str()
        .unwrap()
}

fn assert_human_output_is_tidy(text: &str) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= 100,
            "wider than 100 columns: {line:?}"
        );
        assert!(!line.contains('\u{1b}'), "ANSI escape in {line:?}");
    }
}

// ---------------------------------------------------------------------------------
// inspect

#[test]
fn inspect_reports_the_real_production_certificate() {
    let file = testdata_dir().join("oces3/example-prod-system-cert.pem");
    let out = cprlink()
        .args(["--json", "cert", "inspect"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["cvr"], "19552101");
    assert_eq!(j["environment"], "production");
    assert_eq!(j["kind"], "system_or_organisation");
    assert_eq!(j["generation"], "oces3");
    assert_eq!(
        j["sha1_thumbprint"],
        "B5F8788F38F90980DB36EEB45BC87D849508DF68"
    );
    assert_eq!(
        j["sha256_fingerprint"],
        "07:BE:69:65:E0:FA:A5:EB:F7:A4:8D:DF:F6:12:D4:9B:C8:CD:62:AF:0B:CC:C9:4E:0E:FF:C7:D2:50:5E:8B:7F"
    );
    assert_eq!(j["not_after"], "2029-03-24T14:04:27Z");
    assert!(j["days_left"].as_i64().unwrap() > 0);
    assert_eq!(j["signature_algorithm"], "RSASSA-PSS (SHA-256)");
    assert_eq!(j["key_bits"], 3072);
    assert_eq!(j["chain"]["status"], "verified");
    assert_eq!(j["chain"]["anchor"], "oces3_production");
    assert_eq!(j["protection"], Value::Null);

    // Human output: the same facts, within 100 columns, no colour codes.
    let out = cprlink()
        .args(["cert", "inspect"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_human_output_is_tidy(&text);
    for needle in [
        "19552101",
        "B5F8788F38F90980DB36EEB45BC87D849508DF68",
        "production",
        "verified to the embedded OCES3 production root",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

#[test]
fn inspect_reports_the_real_test_certificate_as_test() {
    let file = testdata_dir().join("oces3/example-test-system-cert.pem");
    let out = cprlink()
        .args(["--json", "cert", "inspect"])
        .arg(&file)
        .output()
        .unwrap();
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["environment"], "test");
    assert_eq!(j["cvr"], "19552101");
    assert_eq!(j["chain"]["anchor"], "oces3_test");
}

#[test]
fn inspect_a_p12_shows_protection_name_chain_and_key_match() {
    let dir = tmp();
    let (cert, key) = pem_pair(dir.path(), &fx().good);
    let ca = write(
        dir.path(),
        "ca.pem",
        &fx().pki.issuing.cert.to_pem().unwrap(),
    );
    let pass = format!("pass:{PASSWORD}");
    for (mode, extra, profile, legacy) in [
        ("aes", &[][..], "modern", false),
        ("rc2", &["-legacy"][..], "legacy_rc2", true),
        (
            "3des",
            &[
                "-keypbe",
                "PBE-SHA1-3DES",
                "-certpbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ][..],
            "compat",
            false,
        ),
    ] {
        let out = dir.path().join(format!("{mode}.p12"));
        let mut args = vec![
            "pkcs12",
            "-export",
            "-in",
            path_str(&cert),
            "-inkey",
            path_str(&key),
            "-certfile",
            path_str(&ca),
            "-name",
            "Testkommune DPG",
            "-passout",
            &pass,
            "-out",
            path_str(&out),
        ];
        args.extend(extra);
        assert!(openssl(&args).status.success());
        let pw = pwfile(dir.path());
        let res = cprlink()
            .args([
                "--json",
                "cert",
                "inspect",
                path_str(&out),
                "--password-file",
                path_str(&pw),
            ])
            .output()
            .unwrap();
        assert_eq!(
            res.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
        let j: Value = serde_json::from_slice(&res.stdout).unwrap();
        assert_eq!(j["format"], "pkcs12");
        assert_eq!(j["protection"]["profile"], profile, "{mode}");
        assert_eq!(j["protection"]["needs_legacy_provider"], legacy, "{mode}");
        assert_eq!(j["friendly_name"], "Testkommune DPG");
        assert_eq!(j["ca_certificates"], 1);
        assert_eq!(j["key_matches"], true);
        assert_eq!(j["cvr"], CVR);
        assert_eq!(j["environment"], "test");
    }
    let rc2 = dir.path().join("rc2.p12");
    let pw = pwfile(dir.path());
    let out = cprlink()
        .args([
            "cert",
            "inspect",
            path_str(&rc2),
            "--password-file",
            path_str(&pw),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_human_output_is_tidy(&text);
    assert!(text.contains("PBE-SHA1-RC2-40"), "{text}");
    assert!(text.contains("legacy provider"), "{text}");
}

#[test]
fn inspect_tells_apart_broken_inputs() {
    let dir = tmp();
    let key_only = write(
        dir.path(),
        "key.pem",
        &fx().key.private_key_to_pem_pkcs8().unwrap(),
    );
    let good_p12 = p12::build(&fx().key, &fx().good, &[], None, PASSWORD, Profile::Compat).unwrap();
    let b64 = write(
        dir.path(),
        "b64.p12",
        cprlink_cert::openssl::base64::encode_block(&good_p12).as_bytes(),
    );
    let truncated = write(dir.path(), "trunc.p12", &good_p12[..good_p12.len() / 2]);
    let empty = write(dir.path(), "empty.p12", b"");
    let mut noise = vec![0u8; 2000];
    cprlink_cert::openssl::rand::rand_bytes(&mut noise).unwrap();
    noise[0] = 0x42;
    let random = write(dir.path(), "random.cer", &noise);
    let missing = dir.path().join("missing.p12");
    let pw = pwfile(dir.path());
    for (file, needle) in [
        (&key_only, "private key but no certificate"),
        (&b64, "Base64"),
        (&truncated, "damaged or truncated"),
        (&empty, "is empty"),
        (&random, "neither PEM text nor DER"),
        (&missing, "cannot read"),
    ] {
        let out = cprlink()
            .args([
                "cert",
                "inspect",
                path_str(file),
                "--password-file",
                path_str(&pw),
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", file.display());
        assert!(err.contains(needle), "{}: {err}", file.display());
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

// ---------------------------------------------------------------------------------
// export-cer

/// A certificate whose public key OpenSSL cannot decode is the user's file at fault:
/// exit 2 with a hint, not the internal-error exit 5 of an OpenSSL failure.
#[test]
fn inspect_a_certificate_with_an_unknown_key_type_is_an_input_error() {
    let dir = tmp();
    let mut der = fx().good.to_der().unwrap();
    // rsaEncryption (1.2.840.113549.1.1.1) in the SubjectPublicKeyInfo becomes ...1.99.
    let rsa = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    let at = der.windows(rsa.len()).position(|w| w == rsa).unwrap();
    der[at + rsa.len() - 1] = 0x63;
    let file = write(dir.path(), "odd-key.cer", &der);
    let out = cprlink()
        .args(["cert", "inspect", path_str(&file)])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: cannot read the certificate CN=DPG CPR"),
        "{stderr}"
    );
    assert!(stderr.contains("public key"), "{stderr}");
    assert!(
        stderr.contains("Hint: see what it holds with `openssl x509"),
        "{stderr}"
    );
    assert!(!stderr.contains("internal error"), "{stderr}");
    assert!(out.stdout.is_empty());
}

fn pem_pair(dir: &Path, cert: &X509) -> (PathBuf, PathBuf) {
    (
        write(dir, "cert.pem", &cert.to_pem().unwrap()),
        write(
            dir,
            "key.pem",
            &fx().key.private_key_to_pem_pkcs8().unwrap(),
        ),
    )
}

#[test]
fn export_cer_writes_only_the_certificate_and_prints_both_fingerprints() {
    let dir = tmp();
    let p12 = p12_file(dir.path(), "in.p12", &fx().good, &issuing());
    let pw = pwfile(dir.path());
    let cer = dir.path().join("out.cer");
    let out = cprlink()
        .args([
            "cert",
            "export-cer",
            path_str(&p12),
            "--out",
            path_str(&cer),
        ])
        .args(["--password-file", path_str(&pw)])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_human_output_is_tidy(&stdout);
    let sha1 = cprlink_cert::facts::sha1_thumbprint(&fx().good).unwrap();
    let sha256 = cprlink_cert::facts::sha256_fingerprint(&fx().good).unwrap();
    assert!(
        stdout.contains(&sha1) && stdout.contains(&sha256),
        "{stdout}"
    );

    // Exactly the DER certificate; no key; openssl agrees on the fingerprint.
    let bytes = std::fs::read(&cer).unwrap();
    assert_eq!(bytes, fx().good.to_der().unwrap());
    assert!(!String::from_utf8_lossy(&bytes).contains("PRIVATE KEY"));
    let x = openssl(&[
        "x509",
        "-inform",
        "der",
        "-in",
        path_str(&cer),
        "-noout",
        "-fingerprint",
        "-sha1",
    ]);
    assert!(x.status.success(), "{}", String::from_utf8_lossy(&x.stderr));
    assert!(
        String::from_utf8_lossy(&x.stdout)
            .replace(':', "")
            .contains(&sha1)
    );
    let k = openssl(&["pkey", "-inform", "der", "-in", path_str(&cer), "-noout"]);
    assert!(!k.status.success(), "the .cer must not hold a key");
    let mode = std::fs::metadata(&cer).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "a certificate is public");

    // Not overwritten without --force; replaced with it.
    std::fs::write(&cer, b"keep me").unwrap();
    let again = cprlink()
        .args([
            "cert",
            "export-cer",
            path_str(&p12),
            "--out",
            path_str(&cer),
        ])
        .args(["--password-file", path_str(&pw), "--encoding", "pem"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read(&cer).unwrap(), b"keep me");
    let forced = cprlink()
        .args([
            "--json",
            "cert",
            "export-cer",
            path_str(&p12),
            "--out",
            path_str(&cer),
        ])
        .args([
            "--password-file",
            path_str(&pw),
            "--encoding",
            "pem",
            "--force",
        ])
        .output()
        .unwrap();
    assert_eq!(forced.status.code(), Some(0));
    let j: Value = serde_json::from_slice(&forced.stdout).unwrap();
    assert_eq!(j["encoding"], "pem");
    assert_eq!(j["sha1_thumbprint"], sha1.as_str());
    assert_eq!(j["sha256_fingerprint"], sha256.as_str());
    assert_eq!(j["cvr"], CVR);
    assert_eq!(std::fs::read(&cer).unwrap(), fx().good.to_pem().unwrap());
    assert!(
        openssl(&["x509", "-in", path_str(&cer), "-noout"])
            .status
            .success()
    );

    // Never over the input itself, even with --force.
    let same = cprlink()
        .args([
            "cert",
            "export-cer",
            path_str(&p12),
            "--out",
            path_str(&p12),
            "--force",
        ])
        .args(["--password-file", path_str(&pw)])
        .output()
        .unwrap();
    assert_eq!(same.status.code(), Some(2));
    assert!(std::fs::read(&p12).unwrap().len() > 1000);
}

// ---------------------------------------------------------------------------------
// pack and repack

fn mode_of(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// `openssl pkcs12 -info -nokeys` WITHOUT `-legacy`: what a stock OpenSSL 3 reads.
fn openssl_reads(p12: &Path, password_file: &Path) -> String {
    let pass = format!("file:{}", path_str(password_file));
    let out = openssl(&[
        "pkcs12",
        "-in",
        path_str(p12),
        "-info",
        "-nokeys",
        "-passin",
        &pass,
    ]);
    assert!(
        out.status.success(),
        "openssl could not read {}: {}",
        p12.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
}

#[test]
fn pack_writes_a_p12_and_a_generated_password_that_openssl_reads() {
    let dir = tmp();
    let (cert, key) = pem_pair(dir.path(), &fx().good);
    let chain = write(
        dir.path(),
        "issuing.pem",
        &fx().pki.issuing.cert.to_pem().unwrap(),
    );
    for profile in ["compat", "modern"] {
        let out = dir.path().join(format!("{profile}.p12"));
        let res = cprlink()
            .args([
                "--json",
                "cert",
                "pack",
                "--cert",
                path_str(&cert),
                "--key",
                path_str(&key),
            ])
            .args([
                "--chain",
                path_str(&chain),
                "--out",
                path_str(&out),
                "--profile",
                profile,
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(0), "{stderr}");
        let pw = dir.path().join(format!("{profile}.p12.password"));
        assert!(
            stderr.contains(path_str(&pw)),
            "the tool says where the password is: {stderr}"
        );
        assert_eq!(mode_of(&out), 0o600);
        assert_eq!(mode_of(&pw), 0o600);
        let password = std::fs::read_to_string(&pw).unwrap();
        let password = password.trim_end();
        assert!(password.len() >= 20 && password.is_ascii(), "{password:?}");
        let j: Value = serde_json::from_slice(&res.stdout).unwrap();
        assert_eq!(j["profile"], profile);
        assert_eq!(j["ca_certificates"], 1);
        assert_eq!(j["password_file"], path_str(&pw));
        let expires = fx().good_not_after();
        assert_eq!(
            j["friendly_name"],
            format!("Testkommune DPG CPR (OCES3, expires {expires})")
        );

        let info = openssl_reads(&out, &pw);
        match profile {
            "compat" => assert!(info.contains("pbeWithSHA1And3-KeyTripleDES-CBC"), "{info}"),
            _ => assert!(
                info.contains("AES-256-CBC") && info.contains("sha256"),
                "{info}"
            ),
        }
        // Opened by cprlink with the generated password; verify passes with --trust.
        let root = trust_root(dir.path());
        let (code, report) = {
            let res = cprlink()
                .args([
                    "--json",
                    "cert",
                    "verify",
                    path_str(&out),
                    "--password-file",
                    path_str(&pw),
                ])
                .args(["--trust", path_str(&root), "--cvr", CVR])
                .output()
                .unwrap();
            (
                res.status.code().unwrap(),
                serde_json::from_slice::<Value>(&res.stdout).unwrap(),
            )
        };
        assert_eq!(
            (code, report["verdict"].as_str()),
            (0, Some("pass")),
            "{report:#}"
        );
    }
}

trait GoodNotAfter {
    fn good_not_after(&self) -> String;
}

impl GoodNotAfter for Fx {
    fn good_not_after(&self) -> String {
        cprlink_cert::CertFacts::of(&self.good, Utc::now())
            .unwrap()
            .not_after
            .format("%Y-%m-%d")
            .to_string()
    }
}

#[test]
fn pack_refuses_a_key_that_does_not_match_and_leaves_no_file() {
    let dir = tmp();
    let (cert, _) = pem_pair(dir.path(), &fx().good);
    let other = write(
        dir.path(),
        "other.pem",
        &fx().key2048.private_key_to_pem_pkcs8().unwrap(),
    );
    let out = dir.path().join("out.p12");
    let res = cprlink()
        .args([
            "cert",
            "pack",
            "--cert",
            path_str(&cert),
            "--key",
            path_str(&other),
        ])
        .args(["--out", path_str(&out)])
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("does not match"));
    assert!(!out.exists());
    assert!(!dir.path().join("out.p12.password").exists());
    // Nothing else (no temporary file) either.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".cprlink-")),
        "{names:?}"
    );
}

#[test]
fn pack_checks_both_outputs_before_writing_either() {
    let dir = tmp();
    let (cert, key) = pem_pair(dir.path(), &fx().good);
    let out = dir.path().join("out.p12");
    let pw = write(dir.path(), "out.p12.password", b"old password\n");
    let res = cprlink()
        .args([
            "cert",
            "pack",
            "--cert",
            path_str(&cert),
            "--key",
            path_str(&key),
        ])
        .args(["--out", path_str(&out)])
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("out.p12.password already exists"));
    assert!(
        !out.exists(),
        "OUT must not be written when OUT.password is refused"
    );
    assert_eq!(std::fs::read(&pw).unwrap(), b"old password\n");
    // With --force both are replaced.
    let res = cprlink()
        .args([
            "cert",
            "pack",
            "--cert",
            path_str(&cert),
            "--key",
            path_str(&key),
        ])
        .args(["--out", path_str(&out), "--force"])
        .output()
        .unwrap();
    assert_eq!(
        res.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(out.exists());
    assert_ne!(std::fs::read(&pw).unwrap(), b"old password\n");
    assert_eq!(mode_of(&pw), 0o600);
}

#[test]
fn pack_with_a_given_password_an_encrypted_key_and_a_name() {
    let dir = tmp();
    let cert = write(dir.path(), "cert.pem", &fx().good.to_pem().unwrap());
    // An encrypted PKCS#8 key, opened with the password flags.
    let enc = fx()
        .key
        .private_key_to_pem_pkcs8_passphrase(
            cprlink_cert::openssl::symm::Cipher::aes_256_cbc(),
            PASSWORD.as_bytes(),
        )
        .unwrap();
    let key = write(dir.path(), "key.enc.pem", &enc);
    let keypw = pwfile(dir.path());
    let newpw = write(dir.path(), "new.txt", b"Handover-Password-2029\n");
    let out = dir.path().join("named.p12");
    let res = cprlink()
        .args([
            "cert",
            "pack",
            "--cert",
            path_str(&cert),
            "--key",
            path_str(&key),
        ])
        .args([
            "--password-file",
            path_str(&keypw),
            "--new-password-file",
            path_str(&newpw),
        ])
        .args(["--name", "Min DPG", "--out", path_str(&out)])
        .output()
        .unwrap();
    assert_eq!(
        res.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(!dir.path().join("named.p12.password").exists());
    let info = openssl_reads(&out, &newpw);
    assert!(info.contains("friendlyName: Min DPG"), "{info}");
    // A wrong key password is exit 3.
    let bad = write(dir.path(), "bad.txt", b"nope\n");
    let res = cprlink()
        .args([
            "cert",
            "pack",
            "--cert",
            path_str(&cert),
            "--key",
            path_str(&key),
        ])
        .args([
            "--password-file",
            path_str(&bad),
            "--out",
            path_str(&dir.path().join("x.p12")),
        ])
        .output()
        .unwrap();
    assert_eq!(
        res.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
}

#[test]
fn pack_add_oces_chain_refuses_a_leaf_from_another_pki() {
    let dir = tmp();
    let (cert, key) = pem_pair(dir.path(), &fx().good);
    let out = dir.path().join("out.p12");
    let res = cprlink()
        .args([
            "cert",
            "pack",
            "--cert",
            path_str(&cert),
            "--key",
            path_str(&key),
        ])
        .args(["--add-oces-chain", "--out", path_str(&out)])
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(2));
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("not one of the embedded OCES3 issuing CAs"),
        "{err}"
    );
    assert!(err.contains("--chain"), "{err}");
    assert!(!out.exists());
}

#[test]
fn pack_add_oces_chain_says_when_there_is_nothing_to_add() {
    let dir = tmp();
    let (cert, key) = pem_pair(dir.path(), &fx().good);
    let issuing = write(
        dir.path(),
        "issuing.pem",
        &fx().pki.issuing.cert.to_pem().unwrap(),
    );
    let out = dir.path().join("out.p12");
    let res = cprlink()
        .args([
            "cert",
            "pack",
            "--cert",
            path_str(&cert),
            "--key",
            path_str(&key),
        ])
        .args(["--chain", path_str(&issuing), "--add-oces-chain"])
        .args(["--out", path_str(&out)])
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(0));
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("--add-oces-chain") && err.contains("nothing to add"),
        "{err}"
    );
    assert!(out.exists());
}

#[test]
fn repack_turns_an_old_rc2_export_into_compat() {
    let dir = tmp();
    let (cert, key) = pem_pair(dir.path(), &fx().good);
    let ca = write(
        dir.path(),
        "ca.pem",
        &fx().pki.issuing.cert.to_pem().unwrap(),
    );
    let old = dir.path().join("old.p12");
    let pass = format!("pass:{PASSWORD}");
    assert!(
        openssl(&[
            "pkcs12",
            "-export",
            "-legacy",
            "-in",
            path_str(&cert),
            "-inkey",
            path_str(&key),
            "-certfile",
            path_str(&ca),
            "-name",
            "MitID Erhverv",
            "-passout",
            &pass,
            "-out",
            path_str(&old),
        ])
        .status
        .success()
    );
    // Stock OpenSSL 3 without -legacy cannot read it...
    let stock = openssl(&[
        "pkcs12",
        "-in",
        path_str(&old),
        "-info",
        "-nokeys",
        "-passin",
        &pass,
    ]);
    assert!(!stock.status.success());
    let pw = pwfile(dir.path());
    let new = dir.path().join("new.p12");
    let res = cprlink()
        .args(["cert", "repack", path_str(&old), "--out", path_str(&new)])
        .args(["--password-file", path_str(&pw)])
        .output()
        .unwrap();
    assert_eq!(
        res.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    // ...but reads the repacked file, with the same name, certificate and chain.
    let newpw = dir.path().join("new.p12.password");
    let info = openssl_reads(&new, &newpw);
    assert!(info.contains("friendlyName: MitID Erhverv"), "{info}");
    let res = cprlink()
        .args([
            "--json",
            "cert",
            "inspect",
            path_str(&new),
            "--password-file",
            path_str(&newpw),
        ])
        .output()
        .unwrap();
    let j: Value = serde_json::from_slice(&res.stdout).unwrap();
    assert_eq!(j["protection"]["profile"], "compat");
    assert_eq!(j["ca_certificates"], 1);
    assert_eq!(j["key_matches"], true);
    assert_eq!(
        j["sha1_thumbprint"],
        cprlink_cert::facts::sha1_thumbprint(&fx().good)
            .unwrap()
            .as_str()
    );
    // The original is untouched.
    assert!(
        !openssl(&["pkcs12", "-in", path_str(&old), "-noout", "-passin", &pass])
            .status
            .success()
    );
}

// ---------------------------------------------------------------------------------
// verify: the checklist, case by case

/// One verify case: the file's certificate and chain, extra flags, and what to expect.
struct Case<'a> {
    name: &'a str,
    cert: X509,
    key: Option<&'a PKey<Private>>,
    chain: Vec<X509>,
    args: Vec<String>,
    verdict: &'a str,
    code: i32,
    checks: Vec<(&'a str, &'a str)>,
}

fn run_case(case: Case<'_>) {
    let dir = tmp();
    let key = case.key.unwrap_or(&fx().key);
    let der = p12::build(
        key,
        &case.cert,
        &case.chain,
        Some("t"),
        PASSWORD,
        Profile::Compat,
    )
    .unwrap();
    let file = write(dir.path(), &format!("{}.p12", case.name), &der);
    let root = trust_root(dir.path());
    let mut args: Vec<String> = vec!["--trust".into(), path_str(&root).into()];
    args.extend(case.args.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, report) = verify_json(dir.path(), &file, &args);
    assert_eq!(report["verdict"], case.verdict, "{}: {report:#}", case.name);
    assert_eq!(code, case.code, "{}", case.name);
    for (id, want) in &case.checks {
        assert_eq!(
            status(&report, id),
            *want,
            "{} / {id}: {}",
            case.name,
            detail(&report, id)
        );
    }
    // Every SPEC check id is there, in order.
    let ids: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        cprlink_cert::verify::CheckId::offline()
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>(),
        "{}",
        case.name
    );
}

fn case<'a>(name: &'a str, cert: X509) -> Case<'a> {
    Case {
        name,
        cert,
        key: None,
        chain: issuing(),
        args: Vec::new(),
        verdict: "pass",
        code: 0,
        checks: Vec::new(),
    }
}

#[test]
fn verify_a_good_oces3_shaped_file_passes() {
    let dir = tmp();
    let cer = write(dir.path(), "uploaded.cer", &fx().good.to_der().unwrap());
    run_case(Case {
        args: vec![
            "--cvr".into(),
            CVR.into(),
            "--environment".into(),
            "test".into(),
            "--cer".into(),
            path_str(&cer).into(),
        ],
        checks: vec![
            ("format", "pass"),
            ("password", "pass"),
            ("legacy_encryption", "pass"),
            ("protection", "info"),
            ("private_key", "pass"),
            ("certificate", "pass"),
            ("key_match", "pass"),
            ("key_size", "pass"),
            ("validity", "pass"),
            ("signature_algorithm", "pass"),
            ("key_usage", "pass"),
            ("eku", "pass"),
            ("basic_constraints", "pass"),
            ("chain", "pass"),
            ("intermediate", "pass"),
            ("environment", "pass"),
            ("oces_generation", "pass"),
            ("cvr", "pass"),
            ("kind", "pass"),
            ("fingerprints", "info"),
            ("cer_match", "pass"),
            ("extra_certs", "pass"),
        ],
        ..case("good", fx().good.clone())
    });
}

#[test]
fn verify_validity_expired_not_yet_valid_and_soon() {
    let now = Utc::now();
    run_case(Case {
        verdict: "fail",
        code: 1,
        checks: vec![("validity", "fail"), ("chain", "pass")],
        ..case(
            "expired",
            leaf(&spec().valid(now - Days::days(400), now - Days::days(2))),
        )
    });
    run_case(Case {
        verdict: "fail",
        code: 1,
        checks: vec![("validity", "fail")],
        ..case(
            "future",
            leaf(&spec().valid(now + Days::days(3), now + Days::days(900))),
        )
    });
    run_case(Case {
        verdict: "warn",
        code: 0,
        checks: vec![("validity", "warn")],
        ..case(
            "soon",
            leaf(&spec().valid(now - Days::days(900), now + Days::days(20))),
        )
    });
    // --warn-days moves the threshold.
    run_case(Case {
        args: vec!["--warn-days".into(), "10".into()],
        checks: vec![("validity", "pass")],
        ..case(
            "soon-ok",
            leaf(&spec().valid(now - Days::days(900), now + Days::days(20))),
        )
    });
}

#[test]
fn verify_chain_cases() {
    // No intermediate in the file: the chain still builds (the --trust bundle has the
    // issuing CA), but the file would fail mutual TLS: warn.
    let dir = tmp();
    let bundle = write(dir.path(), "bundle.pem", &fx().pki.ca_bundle_pem().unwrap());
    run_case(Case {
        chain: Vec::new(),
        args: vec!["--trust".into(), path_str(&bundle).into()],
        verdict: "warn",
        code: 0,
        checks: vec![("chain", "pass"), ("intermediate", "warn")],
        ..case("no-intermediate", fx().good.clone())
    });
    // A root nobody trusts.
    let foreign = testpki::issue_leaf_for_key(&fx().foreign, &spec(), &fx().key).unwrap();
    run_case(Case {
        chain: vec![fx().foreign.cert.clone()],
        verdict: "fail",
        code: 1,
        checks: vec![("chain", "fail")],
        ..case("untrusted", foreign)
    });
}

#[test]
fn verify_wrong_kind_cvr_environment_and_generation() {
    run_case(Case {
        verdict: "fail",
        code: 1,
        checks: vec![("kind", "fail")],
        ..case(
            "employee",
            leaf(&LeafSpec::oces3_employee("Jens Hansen", "Testkommune", CVR)),
        )
    });
    run_case(Case {
        args: vec!["--cvr".into(), "12345678".into()],
        verdict: "fail",
        code: 1,
        checks: vec![("cvr", "fail")],
        ..case("other-cvr", fx().good.clone())
    });
    run_case(Case {
        args: vec!["--environment".into(), "production".into()],
        verdict: "fail",
        code: 1,
        checks: vec![("environment", "fail")],
        ..case("test-for-production", fx().good.clone())
    });
    // OCES2: a TRUST2408 issuer and a `CVR:...-UID:` serialNumber. Trusted here, so
    // only the generation is wrong.
    let mut oces2 = spec();
    oces2.subject = vec![
        ("C".into(), "DK".into()),
        ("O".into(), "Testkommune // CVR:29189846".into()),
        ("serialNumber".into(), "CVR:29189846-UID:12345678".into()),
        ("CN".into(), "DPG CPR".into()),
    ];
    let cert = testpki::issue_leaf_for_key(&fx().oces2, &oces2, &fx().key).unwrap();
    let dir = tmp();
    let oces2_root = write(dir.path(), "oces2.pem", &fx().oces2.cert.to_pem().unwrap());
    run_case(Case {
        chain: vec![fx().oces2.cert.clone()],
        args: vec!["--trust".into(), path_str(&oces2_root).into()],
        verdict: "fail",
        code: 1,
        checks: vec![
            ("oces_generation", "fail"),
            ("kind", "pass"),
            ("chain", "pass"),
        ],
        ..case("oces2", cert)
    });
}

#[test]
fn verify_key_signature_and_extension_cases() {
    let key2048 = &fx().key2048;
    let mut rsa2048 = spec();
    rsa2048.key_bits = 2048;
    let cert = testpki::issue_leaf_for_key(&fx().pki.issuing, &rsa2048, key2048).unwrap();
    run_case(Case {
        key: Some(key2048),
        verdict: "warn",
        checks: vec![("key_size", "warn")],
        ..case("rsa2048", cert)
    });

    let mut server_only = spec();
    server_only.extended_key_usage = Some(vec!["serverAuth".into()]);
    run_case(Case {
        verdict: "fail",
        code: 1,
        checks: vec![("eku", "fail")],
        ..case("eku-server", leaf(&server_only))
    });
    let mut client = spec();
    client.extended_key_usage = Some(vec!["clientAuth".into()]);
    run_case(Case {
        checks: vec![("eku", "pass")],
        ..case("eku-client", leaf(&client))
    });

    let mut sha1 = spec();
    sha1.signature = Signature::Sha1WithRsa;
    run_case(Case {
        verdict: "fail",
        code: 1,
        checks: vec![("signature_algorithm", "fail")],
        ..case("sha1", leaf(&sha1))
    });
    let mut pkcs1 = spec();
    pkcs1.signature = Signature::Sha256WithRsa;
    run_case(Case {
        checks: vec![("signature_algorithm", "pass")],
        ..case("sha256-pkcs1", leaf(&pkcs1))
    });

    let mut ca = spec();
    ca.is_ca = true;
    run_case(Case {
        verdict: "warn",
        checks: vec![("basic_constraints", "warn")],
        ..case("ca-true", leaf(&ca))
    });

    let mut no_ds = spec();
    no_ds.key_usage = Some(vec!["keyEncipherment".into()]);
    run_case(Case {
        verdict: "fail",
        code: 1,
        checks: vec![("key_usage", "fail")],
        ..case("no-digital-signature", leaf(&no_ds))
    });
}

#[test]
fn verify_extra_leaf_and_cer_mismatch() {
    let other = leaf(&LeafSpec::oces3_system("Andet system", "Testkommune", CVR));
    let mut chain = issuing();
    chain.push(other.clone());
    run_case(Case {
        chain,
        verdict: "warn",
        checks: vec![("extra_certs", "warn")],
        ..case("extra-leaf", fx().good.clone())
    });
    let dir = tmp();
    let cer = write(dir.path(), "uploaded.cer", &other.to_pem().unwrap());
    run_case(Case {
        args: vec!["--cer".into(), path_str(&cer).into()],
        verdict: "fail",
        code: 1,
        checks: vec![("cer_match", "fail")],
        ..case("cer-mismatch", fx().good.clone())
    });
}

#[test]
fn verify_unreadable_files_wrong_password_and_legacy() {
    let dir = tmp();
    let good = p12_file(dir.path(), "good.p12", &fx().good, &issuing());

    // Wrong password: exit 3, the report names the password check.
    let bad = write(dir.path(), "bad.txt", b"not it\n");
    let out = cprlink()
        .args([
            "--json",
            "cert",
            "verify",
            path_str(&good),
            "--password-file",
            path_str(&bad),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["verdict"], "fail");
    assert_eq!(status(&j, "password"), "fail");
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong password"));

    // Not a readable PKCS#12: exit 2 with `format` failing.
    let bytes = std::fs::read(&good).unwrap();
    let b64 = write(
        dir.path(),
        "b64.p12",
        cprlink_cert::openssl::base64::encode_block(&bytes).as_bytes(),
    );
    let trunc = write(dir.path(), "trunc.p12", &bytes[..bytes.len() - 40]);
    let empty = write(dir.path(), "empty.p12", b"");
    let pem = write(dir.path(), "cert.pem", &fx().good.to_pem().unwrap());
    let key_only = write(
        dir.path(),
        "key.pem",
        &fx().key.private_key_to_pem_pkcs8().unwrap(),
    );
    for file in [&b64, &trunc, &empty, &pem, &key_only] {
        let (code, j) = verify_json(dir.path(), file, &[]);
        assert_eq!(code, 2, "{}", file.display());
        assert_eq!(j["verdict"], "fail", "{}", file.display());
        assert_eq!(status(&j, "format"), "fail", "{}", file.display());
    }
    // A missing file: exit 2 and a message, nothing on stdout.
    let out = cprlink()
        .args([
            "--json",
            "cert",
            "verify",
            path_str(&dir.path().join("nope.p12")),
        ])
        .args(["--password-file", path_str(&pwfile(dir.path()))])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());

    // An old RC2 export: opened with the legacy provider, reported as info.
    let (cert, key) = pem_pair(dir.path(), &fx().good);
    let ca = write(
        dir.path(),
        "ca.pem",
        &fx().pki.issuing.cert.to_pem().unwrap(),
    );
    let rc2 = dir.path().join("rc2.p12");
    let pass = format!("pass:{PASSWORD}");
    assert!(
        openssl(&[
            "pkcs12",
            "-export",
            "-legacy",
            "-in",
            path_str(&cert),
            "-inkey",
            path_str(&key),
            "-certfile",
            path_str(&ca),
            "-passout",
            &pass,
            "-out",
            path_str(&rc2),
        ])
        .status
        .success()
    );
    let root = trust_root(dir.path());
    let (code, j) = verify_json(dir.path(), &rc2, &["--trust", path_str(&root)]);
    assert_eq!(code, 0, "{j:#}");
    assert_eq!(status(&j, "legacy_encryption"), "info");
    assert!(detail(&j, "legacy_encryption").contains("RC2"));
    assert!(detail(&j, "protection").contains("PBE-SHA1-RC2-40"));
}

#[test]
fn verify_refuses_a_crafted_iteration_count_at_once() {
    use cprlink_cert::der::{self, tag};
    let seq = |parts: &[Vec<u8>]| der::encode(tag::SEQUENCE, &parts.concat());
    let auth_safe = seq(&[]);
    let pfx = seq(&[
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
                der::encode(tag::OCTET_STRING, &[0; 20]),
            ]),
            der::encode(tag::OCTET_STRING, &[1; 8]),
            der::encode_u64(1 << 31),
        ]),
    ]);
    let dir = tmp();
    let file = write(dir.path(), "hostile.p12", &pfx);
    let started = Instant::now();
    let (code, j) = verify_json(dir.path(), &file, &[]);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(code, 2);
    assert!(detail(&j, "format").contains("2,147,483,648"), "{j:#}");
}

#[test]
fn verify_human_output_fits_and_has_no_colour() {
    let dir = tmp();
    let now = Utc::now();
    let mut bad =
        LeafSpec::oces3_employee("Jens Hansen", "Testkommune med et meget langt navn", CVR);
    bad.extended_key_usage = Some(vec!["serverAuth".into()]);
    let bad = bad.valid(now - Days::days(100), now + Days::days(5));
    let file = p12_file(dir.path(), "bad.p12", &leaf(&bad), &[]);
    let pw = pwfile(dir.path());
    let other = write(dir.path(), "other.cer", &fx().good.to_der().unwrap());
    for color in [None, Some("never")] {
        let mut cmd = cprlink();
        if let Some(c) = color {
            cmd.args(["--color", c]);
        }
        let out = cmd
            .args([
                "cert",
                "verify",
                path_str(&file),
                "--password-file",
                path_str(&pw),
            ])
            .args([
                "--cvr",
                "12345678",
                "--environment",
                "production",
                "--cer",
                path_str(&other),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let text = String::from_utf8(out.stdout).unwrap();
        assert_human_output_is_tidy(&text);
        assert_human_output_is_tidy(&String::from_utf8_lossy(&out.stderr));
        for id in [
            "kind",
            "eku",
            "cvr",
            "environment",
            "cer_match",
            "chain",
            "validity",
        ] {
            assert!(
                text.lines()
                    .any(|l| l.starts_with("fail") && l.contains(id))
                    || text
                        .lines()
                        .any(|l| l.starts_with("warn") && l.contains(id)),
                "{id} not reported in\n{text}"
            );
        }
        assert!(text.contains("verdict: fail"), "{text}");
    }
}

#[test]
fn verify_without_a_password_and_no_terminal_names_the_flags() {
    let dir = tmp();
    let file = p12_file(dir.path(), "good.p12", &fx().good, &issuing());
    let out = cprlink()
        .current_dir(dir.path())
        .args(["--no-input", "cert", "verify", path_str(&file)])
        .env_remove("CPRLINK_P12_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--password-file"), "{err}");
    // --password-stdin works.
    let out = cprlink()
        .args([
            "--json",
            "cert",
            "verify",
            path_str(&file),
            "--password-stdin",
        ])
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "untrusted test root: chain fails"
    );
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status(&j, "password"), "pass");
    assert_eq!(status(&j, "chain"), "fail");
}

#[test]
fn the_configured_p12_uses_the_configured_password_source() {
    let dir = tmp();
    // The default config names ./dpg-handover.p12 and $CPRLINK_P12_PASSWORD.
    p12_file(dir.path(), "dpg-handover.p12", &fx().good, &issuing());
    let root = trust_root(dir.path());
    let out = cprlink()
        .current_dir(dir.path())
        .env("CPRLINK_P12_PASSWORD", PASSWORD)
        .args([
            "--json",
            "cert",
            "verify",
            "dpg-handover.p12",
            "--trust",
            path_str(&root),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Another file does not get that password.
    std::fs::copy(
        dir.path().join("dpg-handover.p12"),
        dir.path().join("other.p12"),
    )
    .unwrap();
    let out = cprlink()
        .current_dir(dir.path())
        .env("CPRLINK_P12_PASSWORD", PASSWORD)
        .args(["--no-input", "cert", "verify", "other.p12"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn verify_rejects_a_bad_cvr_flag() {
    let dir = tmp();
    let file = p12_file(dir.path(), "good.p12", &fx().good, &issuing());
    let out = cprlink()
        .args(["cert", "verify", path_str(&file), "--cvr", "1234"])
        .args(["--password-file", path_str(&pwfile(dir.path()))])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("8 digits"));
}

#[test]
fn inspect_and_verify_with_rsassa_pss_chains_from_ca_bundle() {
    // The whole test PKI is RSASSA-PSS like OCES3 (SHA-512 CAs, SHA-256 leaf).
    let dir = tmp();
    let file = p12_file(dir.path(), "pss.p12", &fx().good, &issuing());
    let bundle = write(dir.path(), "bundle.pem", &fx().pki.ca_bundle_pem().unwrap());
    let out = cprlink()
        .args([
            "--json",
            "cert",
            "inspect",
            path_str(&file),
            "--trust",
            path_str(&bundle),
        ])
        .args(["--password-file", path_str(&pwfile(dir.path()))])
        .output()
        .unwrap();
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["signature_algorithm"], "RSASSA-PSS (SHA-256)");
    assert_eq!(j["chain"]["status"], "verified");
    assert_eq!(j["chain"]["anchor"], "extra");
    assert_eq!(j["chain"]["path"].as_array().unwrap().len(), 3);
}

/// Types a line at a hidden prompt. The prompt switches echo off with TCSAFLUSH, which
/// discards anything typed before: wait until echo is off (that is also the proof that
/// the input is hidden), then type.
fn type_secret(term: &mut expectrl::session::OsSession, text: &str) {
    use expectrl::Expect;
    let deadline = Instant::now() + Duration::from_secs(30);
    while term.get_process().get_echo().unwrap() {
        assert!(
            Instant::now() < deadline,
            "the prompt never switched echo off"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    term.send_line(text).unwrap();
}

#[test]
fn on_a_terminal_the_password_is_asked_hidden_and_asked_again_when_wrong() {
    use expectrl::Expect;
    let dir = tmp();
    let file = p12_file(dir.path(), "good.p12", &fx().good, &issuing());
    // expectrl starts children with echo off; a real terminal has it on, and the hidden
    // prompt is recognised by switching it off. `stty echo` restores the real case.
    let bin = assert_cmd::cargo::cargo_bin("cprlink");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "stty echo && exec \"$0\" \"$@\""])
        .arg(&bin)
        .args(["cert", "inspect", path_str(&file)])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env_remove("CPRLINK_NO_INPUT")
        .env_remove("CPRLINK_CONFIG")
        .env_remove("CPRLINK_P12_PASSWORD")
        .env("XDG_CONFIG_HOME", "/nonexistent-cprlink-test");
    let mut term = expectrl::Session::spawn(cmd).unwrap();
    term.set_expect_timeout(Some(Duration::from_secs(30)));
    let mut seen = Vec::new();
    seen.extend(term.expect("Password for").unwrap().before().to_vec());
    type_secret(&mut term, "not-the-password");
    seen.extend(
        term.expect("wrong password, try again")
            .unwrap()
            .before()
            .to_vec(),
    );
    seen.extend(term.expect("Password for").unwrap().before().to_vec());
    type_secret(&mut term, PASSWORD);
    let found = term.expect("SHA-1 thumbprint").unwrap();
    seen.extend(found.before().to_vec());
    let text = String::from_utf8_lossy(&seen);
    assert!(!text.contains(PASSWORD), "the password was echoed: {text}");
    assert!(
        !text.contains("not-the-password"),
        "the password was echoed: {text}"
    );
    assert!(text.contains("Testkommune"), "{text}");
}

#[test]
fn export_and_pack_warn_about_an_expired_employee_certificate() {
    let dir = tmp();
    let now = Utc::now();
    let cert = leaf(
        &LeafSpec::oces3_employee("Jens Hansen", "Testkommune", CVR)
            .valid(now - Days::days(400), now - Days::days(1)),
    );
    let (pem, key) = pem_pair(dir.path(), &cert);
    let out = cprlink()
        .args(["cert", "export-cer", path_str(&pem), "--out"])
        .arg(dir.path().join("x.cer"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("expired on") && err.contains("employee certificate"),
        "{err}"
    );
    let out = cprlink()
        .args([
            "cert",
            "pack",
            "--cert",
            path_str(&pem),
            "--key",
            path_str(&key),
            "--out",
        ])
        .arg(dir.path().join("x.p12"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expired on"));
}

// ---------------------------------------------------------------------------------
// verify: the file itself must carry the issuing CA

#[test]
fn verify_intermediate_warns_when_only_trust_carries_the_issuing_ca() {
    let dir = tmp();
    let file = p12_file(dir.path(), "no-chain.p12", &fx().good, &[]);
    let issuing_only = write(
        dir.path(),
        "issuing.pem",
        &fx().pki.issuing.cert.to_pem().unwrap(),
    );
    let (code, j) = verify_json(dir.path(), &file, &["--trust", path_str(&issuing_only)]);
    assert_eq!(code, 0, "{j:#}");
    assert_eq!(j["verdict"], "warn");
    assert_eq!(status(&j, "chain"), "pass", "the partial chain builds");
    assert_eq!(status(&j, "intermediate"), "warn");
    assert!(
        detail(&j, "intermediate").contains("the file lacks the issuing CA"),
        "{j:#}"
    );
}

// ---------------------------------------------------------------------------------
// verify: several files, --password-dir, --renewal-of

/// The rows of the summary table (the lines after its `FILE ... VERDICT` header, up to
/// the blank line).
fn table_rows(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("FILE "))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect()
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON on stdout ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn verify_several_files_gives_a_checklist_each_then_a_table_and_the_worst_exit() {
    let dir = tmp();
    let d = dir.path();
    p12_file(d, "good.p12", &fx().good, &issuing());
    let employee = leaf(&LeafSpec::oces3_employee("Jens Hansen", "Testkommune", CVR));
    p12_file(d, "employee.p12", &employee, &issuing());
    let other_pw = p12::build(
        &fx().key,
        &fx().good,
        &issuing(),
        None,
        "not the same password",
        Profile::Compat,
    )
    .unwrap();
    write(d, "other-password.p12", &other_pw);
    pwfile(d);
    trust_root(d);
    let files = ["good.p12", "employee.p12", "other-password.p12"];
    let flags = [
        "--password-file",
        "pw.txt",
        "--trust",
        "root.pem",
        "--cvr",
        CVR,
        "--environment",
        "test",
    ];

    let out = cprlink()
        .current_dir(d)
        .args(["cert", "verify"])
        .args(files)
        .args(flags)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The worst file decides: the wrong password's 3 over the failed check's 1.
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert_human_output_is_tidy(&stdout);
    // One checklist per file, under its name.
    let sections: Vec<&str> = stdout.split("==> ").skip(1).collect();
    assert_eq!(sections.len(), 3, "{stdout}");
    assert!(sections[0].starts_with("good.p12 <=="), "{stdout}");
    assert!(sections[0].contains("verdict: pass (every check passed)"));
    assert!(sections[1].starts_with("employee.p12 <=="));
    assert!(
        sections[1].contains("verdict: fail (failed: kind)"),
        "{stdout}"
    );
    assert!(sections[2].starts_with("other-password.p12 <=="));
    assert!(
        sections[2].lines().any(|l| l.starts_with("fail  password")),
        "{stdout}"
    );
    // The table: file, organisation, CVR, expiry, verdict.
    let expires = cprlink_cert::CertFacts::of(&fx().good, Utc::now())
        .unwrap()
        .not_after
        .format("%Y-%m-%d")
        .to_string();
    let header = stdout.lines().find(|l| l.starts_with("FILE ")).unwrap();
    for column in ["FILE", "ORGANISATION", "CVR", "EXPIRES", "VERDICT"] {
        assert!(header.contains(column), "{header}");
    }
    let rows = table_rows(&stdout);
    assert_eq!(rows.len(), 3, "{stdout}");
    let cells = |row: &str| {
        row.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        cells(rows[0]),
        ["good.p12", "Testkommune", CVR, expires.as_str(), "pass"]
    );
    assert!(rows[1].starts_with("employee.p12"), "{}", rows[1]);
    assert!(rows[1].ends_with("fail (kind)"), "{}", rows[1]);
    assert_eq!(
        cells(rows[2]),
        [
            "other-password.p12",
            "-",
            "-",
            "-",
            "fail",
            "(wrong",
            "password)"
        ]
    );
    assert!(
        stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("verdict: fail (3 files: 1 pass, 0 warn, 2 fail)"),
        "{stdout}"
    );
    // The per-file error on stderr, with its hint; the other files were still checked.
    assert!(
        stderr.contains("error: wrong password for other-password.p12"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Hint: the password is case-sensitive"),
        "{stderr}"
    );

    // --json: {"files": [{file, verdict, checks, error}], "verdict": worst}.
    let out = cprlink()
        .current_dir(d)
        .args(["--json", "cert", "verify"])
        .args(files)
        .args(flags)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("{\n  \"files\": ["), "{text}");
    let j = json_of(&out);
    assert_eq!(j["verdict"], "fail");
    let list = j["files"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["file"], "good.p12");
    assert_eq!(list[0]["verdict"], "pass");
    assert_eq!(list[0]["error"], Value::Null);
    assert_eq!(list[0]["checks"].as_array().unwrap().len(), 22);
    assert_eq!(list[1]["verdict"], "fail");
    assert_eq!(status(&list[1], "kind"), "fail");
    assert_eq!(list[1]["error"], Value::Null);
    assert_eq!(list[2]["verdict"], "fail");
    assert_eq!(status(&list[2], "password"), "fail");
    assert!(
        list[2]["error"]
            .as_str()
            .unwrap()
            .contains("wrong password for other-password.p12"),
        "{j:#}"
    );
    for f in list {
        let keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
    }

    // Without the wrong password, the failed check decides: exit 1. All pass: exit 0.
    let out = cprlink()
        .current_dir(d)
        .args(["--json", "cert", "verify", "good.p12", "employee.p12"])
        .args(flags)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_of(&out)["verdict"], "fail");
    let out = cprlink()
        .current_dir(d)
        .args(["--json", "cert", "verify", "good.p12", "good.p12"])
        .args(flags)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_of(&out)["verdict"], "pass");
}

#[test]
fn verify_password_dir_names_the_file_that_lacks_a_password() {
    let dir = tmp();
    let d = dir.path();
    std::fs::create_dir(d.join("in")).unwrap();
    std::fs::create_dir(d.join("pw")).unwrap();
    p12_file(&d.join("in"), "a.p12", &fx().good, &issuing());
    p12_file(&d.join("in"), "b.p12", &fx().good, &issuing());
    write(
        &d.join("pw"),
        "a.p12.password",
        format!("{PASSWORD}\n").as_bytes(),
    );
    trust_root(d);
    let run = |json: bool| {
        let mut cmd = cprlink();
        if json {
            cmd.arg("--json");
        }
        cmd.current_dir(d)
            .args(["cert", "verify", "in/a.p12", "in/b.p12"])
            .args(["--password-dir", "pw", "--trust", "root.pem"])
            .output()
            .unwrap()
    };
    let out = run(true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let j = json_of(&out);
    assert_eq!(j["files"][0]["verdict"], "pass", "a.p12 is still checked");
    assert_eq!(j["files"][1]["verdict"], "fail");
    assert_eq!(j["files"][1]["checks"].as_array().unwrap().len(), 0);
    let missing = "no password for in/b.p12: pw/b.p12.password does not exist";
    assert_eq!(j["files"][1]["error"], missing);
    assert!(stderr.contains(&format!("error: {missing}")), "{stderr}");
    assert!(
        stderr
            .contains("Hint: put the password of in/b.p12 on the first line of pw/b.p12.password"),
        "{stderr}"
    );

    let out = run(false);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_human_output_is_tidy(&stdout);
    assert!(
        stdout.contains(&format!("==> in/b.p12 <==\nnot checked: {missing}")),
        "{stdout}"
    );
    let rows = table_rows(&stdout);
    assert!(
        rows[0].starts_with("in/a.p12") && rows[0].ends_with("pass"),
        "{stdout}"
    );
    assert!(rows[1].ends_with("fail (no password)"), "{stdout}");

    // With the second password file in place both pass.
    write(
        &d.join("pw"),
        "b.p12.password",
        format!("{PASSWORD}\n").as_bytes(),
    );
    assert_eq!(run(true).status.code(), Some(0));
    // --password-dir is one source among the others, not an addition to them.
    let out = cprlink()
        .current_dir(d)
        .args(["cert", "verify", "in/a.p12", "--password-dir", "pw"])
        .args(["--password-file", "pw/a.p12.password"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

#[test]
fn verify_renewal_of_passes_a_renewal_and_names_each_reason_otherwise() {
    let dir = tmp();
    let d = dir.path();
    let now = Utc::now();
    // The certificate being replaced: the fixture key, 100 days left.
    let old = leaf(&spec().valid(now - Days::days(1000), now + Days::days(100)));
    write(d, "old.cer", &old.to_der().unwrap());
    let new_key = &fx().key2048;
    let p12_with = |name: &str, key: &PKey<Private>, cert: &X509| {
        let der = p12::build(key, cert, &issuing(), None, PASSWORD, Profile::Compat).unwrap();
        write(d, name, &der);
    };
    let issue =
        |spec: &LeafSpec| testpki::issue_leaf_for_key(&fx().pki.issuing, spec, new_key).unwrap();
    p12_with("renewed.p12", new_key, &issue(&spec()));
    p12_with(
        "other-cvr.p12",
        new_key,
        &issue(&LeafSpec::oces3_system(
            "DPG CPR",
            "Testkommune",
            "12345674",
        )),
    );
    p12_with("same-key.p12", &fx().key, &leaf(&spec()));
    p12_with(
        "earlier.p12",
        new_key,
        &issue(&spec().valid(now - Days::days(1), now + Days::days(50))),
    );
    // Named like the production issuing CA (no `OU=Test`): a production certificate.
    let mut prod = CaSpec::oces3_shaped(
        "Den Danske Stat",
        "Den Danske Stat OCES udstedende-CA 1",
        Some(0),
    );
    prod.subject.retain(|(k, _)| k != "OU");
    prod.key_bits = 2048;
    let prod = self_signed_ca(&prod).unwrap();
    p12_with(
        "production.p12",
        new_key,
        &testpki::issue_leaf_for_key(&prod, &spec(), new_key).unwrap(),
    );
    pwfile(d);
    trust_root(d);
    let out = cprlink()
        .current_dir(d)
        .args(["--json", "cert", "verify"])
        .args([
            "renewed.p12",
            "other-cvr.p12",
            "same-key.p12",
            "earlier.p12",
            "production.p12",
        ])
        .args(["--renewal-of", "old.cer", "--password-file", "pw.txt"])
        .args(["--trust", "root.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let j = json_of(&out);
    let renewal = |i: usize| {
        let f = &j["files"][i];
        let last = f["checks"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["id"], "renewal", "renewal is the last check: {f:#}");
        (
            last["status"].as_str().unwrap().to_owned(),
            last["detail"].as_str().unwrap().to_owned(),
        )
    };
    let (st, text) = renewal(0);
    assert_eq!(st, "pass", "{text}");
    assert!(
        text.contains("same CVR, organisation, kind and environment, a new key"),
        "{text}"
    );
    let expected = [
        (1, "another CVR (12345674 here, 29189846 on the old one)"),
        (2, "the same key as the old one"),
        (3, "not after the old one"),
        (
            4,
            "another environment (production here, test on the old one)",
        ),
    ];
    for (i, reason) in expected {
        let (st, text) = renewal(i);
        assert_eq!(st, "fail", "{}: {text}", j["files"][i]["file"]);
        assert!(
            text.starts_with("not a renewal of the certificate expiring"),
            "{text}"
        );
        assert!(text.contains(reason), "{}: {text}", j["files"][i]["file"]);
        // Only that reason.
        assert_eq!(text.matches("; ").count(), 0, "{text}");
    }

    // One file keeps the single report; OLD may be the old .p12, its password in the
    // --password-dir beside its name.
    std::fs::create_dir(d.join("pw")).unwrap();
    p12_with("old.p12", &fx().key, &old);
    for name in ["old.p12", "renewed.p12"] {
        write(
            &d.join("pw"),
            &format!("{name}.password"),
            PASSWORD.as_bytes(),
        );
    }
    let out = cprlink()
        .current_dir(d)
        .args([
            "--json",
            "cert",
            "verify",
            "renewed.p12",
            "--renewal-of",
            "old.p12",
        ])
        .args(["--password-dir", "pw", "--trust", "root.pem"])
        .output()
        .unwrap();
    let j = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{j:#}");
    assert!(j.get("files").is_none());
    assert_eq!(status(&j, "renewal"), "pass");
    // An OLD that cannot be read stops the run before any file, exit 2.
    let out = cprlink()
        .current_dir(d)
        .args(["cert", "verify", "renewed.p12", "--renewal-of", "nope.cer"])
        .args(["--password-dir", "pw"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Hint: --renewal-of takes"));
}

// ---------------------------------------------------------------------------------
// An empty password is an input error, whatever its source

#[test]
fn an_empty_password_is_refused_before_it_is_tried_from_every_source() {
    let dir = tmp();
    let d = dir.path();
    p12_file(d, "dpg-handover.p12", &fx().good, &issuing());
    write(d, "empty.txt", b"");
    write(d, "newline.txt", b"\n");
    let check = |out: std::process::Output, message: &str| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{message}: {stderr}");
        assert!(stderr.contains(&format!("error: {message}")), "{stderr}");
        assert!(stderr.contains("Hint: "), "{stderr}");
        assert!(!stderr.contains("wrong password"), "{stderr}");
        // Refused before the file was opened: no report.
        assert!(
            out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    };
    let verify = || {
        let mut cmd = cprlink();
        cmd.current_dir(d).env_remove("CPRLINK_P12_PASSWORD").args([
            "--json",
            "cert",
            "verify",
            "dpg-handover.p12",
        ]);
        cmd
    };
    // --password-file, empty or holding only a line end.
    for file in ["empty.txt", "newline.txt"] {
        check(
            verify().args(["--password-file", file]).output().unwrap(),
            &format!("the password file {file} is empty"),
        );
    }
    // --password-env naming a variable set to nothing.
    check(
        verify()
            .env("EMPTY_P12_PASSWORD", "")
            .args(["--password-env", "EMPTY_P12_PASSWORD"])
            .output()
            .unwrap(),
        "the environment variable EMPTY_P12_PASSWORD (named for the password) is empty",
    );
    // --password-stdin with an empty first line.
    check(
        verify()
            .arg("--password-stdin")
            .write_stdin("\n")
            .output()
            .unwrap(),
        "the password on stdin is empty",
    );
    // --password-dir with an empty NAME.password.
    std::fs::create_dir(d.join("pw")).unwrap();
    write(&d.join("pw"), "dpg-handover.p12.password", b"");
    check(
        verify().args(["--password-dir", "pw"]).output().unwrap(),
        "the password file pw/dpg-handover.p12.password is empty",
    );
    // The config's password_env (the default names $CPRLINK_P12_PASSWORD for the
    // configured ./dpg-handover.p12), set to nothing.
    check(
        verify().env("CPRLINK_P12_PASSWORD", "").output().unwrap(),
        "the environment variable CPRLINK_P12_PASSWORD (named for the password) is empty",
    );
    // The config's password_file, empty.
    write(
        d,
        "cprlink.toml",
        b"[certificate]\np12 = \"dpg-handover.p12\"\npassword_file = \"empty.txt\"\n",
    );
    let out = verify().output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("empty.txt is empty"), "{stderr}");
    assert!(out.stdout.is_empty());
    // Other commands read passwords the same way.
    let out = cprlink()
        .current_dir(d)
        .args([
            "cert",
            "inspect",
            "dpg-handover.p12",
            "--password-file",
            "newline.txt",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("newline.txt is empty"));
}

// ---------------------------------------------------------------------------------
// Damaged files through the binary (the property tests of cprlink-cert go further)

#[test]
fn verify_truncated_and_damaged_files_exit_2_or_3_never_a_crash() {
    let dir = tmp();
    let good = p12::build(
        &fx().key,
        &fx().good,
        &issuing(),
        Some("t"),
        PASSWORD,
        Profile::Compat,
    )
    .unwrap();
    let mut cases: Vec<(String, Vec<u8>)> = (0..10)
        .map(|k| (format!("cut-{k}"), good[..good.len() * k / 10].to_vec()))
        .collect();
    // Bit flips in the outer structure, where lengths and tags live.
    for at in [0, 1, 2, 3, 5, 8, 13, 21, 34, 55] {
        let mut bytes = good.clone();
        bytes[at] ^= 0x04;
        cases.push((format!("flip-{at}"), bytes));
    }
    cases.push(("bom-only".into(), b"\xef\xbb\xbf\r\n".to_vec()));
    for (name, bytes) in cases {
        let file = write(dir.path(), &format!("{name}.p12"), &bytes);
        let (code, j) = verify_json(dir.path(), &file, &[]);
        assert!(
            [1, 2, 3].contains(&code),
            "{name}: exit {code} (101 is a panic, 5 an internal error): {j:#}"
        );
        if code != 1 {
            assert_eq!(j["verdict"], "fail", "{name}");
        }
    }
}
