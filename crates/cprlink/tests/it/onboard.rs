//! `cprlink onboard`: the commands end to end on real files, the SPEC's JSON, exit codes,
//! refusals that leave the state file byte for byte, and one real-terminal session.

use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::{Duration, Local, Utc};
use cprlink_cert::testpki::{LeafSpec, TestPki};
use serde_json::Value;

use cprlink_sandbox::{Sandbox, SandboxOptions};

use crate::support::{cprlink, testdata_dir};

mod renewal;

const CVR: &str = "29189846";

/// One test PKI for the whole test binary (key generation is the slow part).
fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::generate("cprlink onboard test").unwrap())
}

/// A case directory with `cprlink onboard` run inside it.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Self {
        Case {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn state(&self) -> PathBuf {
        self.path("onboarding.toml")
    }

    fn cmd(&self) -> assert_cmd::Command {
        let mut c = cprlink();
        c.current_dir(self.dir.path())
            .env("USER", "ida")
            .arg("onboard");
        c
    }

    fn run(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        self.cmd().args(args).assert()
    }

    fn state_bytes(&self) -> Vec<u8> {
        std::fs::read(self.state()).unwrap()
    }

    /// Runs `args`, expects exit `code`, and checks the state file did not change.
    fn refused(&self, args: &[&str], code: i32) -> String {
        let before = self.state_bytes();
        let out = self.run(args).code(code).get_output().clone();
        assert_eq!(
            self.state_bytes(),
            before,
            "refused {args:?} changed the state file"
        );
        assert!(out.stdout.is_empty(), "refusals print nothing on stdout");
        for e in std::fs::read_dir(self.dir.path()).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.ends_with(".tmp"), "left behind {name}");
        }
        String::from_utf8(out.stderr).unwrap()
    }

    fn status_json(&self) -> (Value, i32) {
        let out = self.cmd().args(["status", "--json"]).output().unwrap();
        (
            serde_json::from_slice(&out.stdout).unwrap(),
            out.status.code().unwrap(),
        )
    }

    fn init(&self, extra: &[&str]) {
        let mut args = vec![
            "init",
            "--authority",
            "Aarhus Kommune",
            "--cvr",
            CVR,
            "--contact-email",
            "it@aarhus.dk",
        ];
        args.extend_from_slice(extra);
        self.run(&args).success();
    }

    /// A test-PKI system certificate of the authority as .cer (DER) and as .p12.
    fn certificate(&self, days: i64) -> (PathBuf, PathBuf) {
        let now = Utc::now();
        let spec = LeafSpec::oces3_system("Aarhus DPG CPR", "Aarhus Kommune", CVR)
            .valid(now - Duration::days(1), now + Duration::days(days));
        let leaf = pki().issue(&spec).unwrap();
        let cer = self.path(&format!("dpg-{days}.cer"));
        std::fs::write(&cer, leaf.cert.to_der().unwrap()).unwrap();
        let p12 = cprlink_cert::p12::build(
            &leaf.key,
            &leaf.cert,
            &[pki().issuing.cert.clone()],
            None,
            "correct horse",
            cprlink_cert::Profile::Compat,
        )
        .unwrap();
        let p12_path = self.path(&format!("dpg-{days}.p12"));
        std::fs::write(&p12_path, p12).unwrap();
        std::fs::write(self.path("p12.password"), "correct horse\n").unwrap();
        std::fs::write(self.path("test-ca.pem"), pki().ca_bundle_pem().unwrap()).unwrap();
        (cer, p12_path)
    }
}

fn today() -> String {
    Local::now().date_naive().to_string()
}

fn days_ago(n: i64) -> String {
    (Local::now().date_naive() - Duration::days(n)).to_string()
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stderr.clone()).unwrap()
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stdout.clone()).unwrap()
}

#[test]
fn status_json_matches_the_spec() {
    let case = Case::new();
    case.init(&["--route", "selfservice"]);
    let (json, code) = case.status_json();
    assert_eq!(code, 0);
    assert_eq!(json["authority"], "Aarhus Kommune");
    assert_eq!(json["cvr"], CVR);
    assert_eq!(json["route"], "selfservice");
    let steps = json["steps"].as_array().unwrap();
    let ids: Vec<_> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "selfservice-user",
            "service-user",
            "cpr-application",
            "cpr-approval",
            "production-access",
            "dpg-handover"
        ]
    );
    for s in steps {
        assert!(s["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert_eq!(s["state"], "not_started");
        assert!(s["facts"].as_object().unwrap().is_empty());
    }
    assert!(
        json["next_action"]
            .as_str()
            .unwrap()
            .contains("Datafordeler Self-Service")
    );
    assert!(json["warnings"].is_array());
    assert_eq!(json["blocked"], false);
    assert_eq!(json["complete"], false);
    assert!(json["credential_expires_on"].is_null(), "{json}");
    assert!(json["renewal"].is_null(), "{json}");
    assert!(json.as_object().unwrap().contains_key("renewal"));

    // States move as facts come in; facts are strings under their keys.
    case.run(&[
        "record",
        "selfservice-user",
        "--username",
        "aarhus-dpg",
        "--login-method",
        "mitid",
        "--done",
    ])
    .success();
    case.run(&["record", "service-user", "--service-user", "dpg-cpr"])
        .success();
    let (json, _) = case.status_json();
    assert_eq!(json["steps"][0]["state"], "done");
    assert_eq!(json["steps"][0]["facts"]["username"], "aarhus-dpg");
    assert_eq!(json["steps"][0]["facts"]["login_method"], "mitid");
    assert_eq!(json["steps"][1]["state"], "in_progress");
    assert_eq!(
        json["steps"][1]["missing"],
        serde_json::json!(["--certificate FILE"])
    );
    assert_eq!(json["current_step"], "service-user");
}

#[test]
fn selfservice_route_on_the_command_line() {
    let case = Case::new();
    case.init(&[
        "--route",
        "selfservice",
        "--environment",
        "test",
        "--contact-name",
        "Ida Hansen",
    ]);
    let (cer, p12) = case.certificate(3 * 365);

    case.run(&[
        "record",
        "selfservice-user",
        "--username",
        "aarhus-dpg",
        "--login-method",
        "password",
        "--done",
    ])
    .success();
    // A .p12 works as well as the .cer: the password comes from a file, never a flag value.
    let a = case
        .run(&[
            "record",
            "service-user",
            "--service-user",
            "dpg-cpr",
            "--certificate",
            p12.to_str().unwrap(),
            "--password-file",
            "p12.password",
            "--trust",
            "test-ca.pem",
            "--done",
        ])
        .success();
    assert!(stderr(&a).contains("service-user: done"), "{}", stderr(&a));
    let (json, _) = case.status_json();
    let facts = &json["steps"][1]["facts"];
    let thumb = facts["certificate_sha1_thumbprint"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(thumb.len(), 40);
    assert_eq!(facts["certificate_cvr"], CVR);
    assert_eq!(facts["certificate_environment"], "test");
    // The same certificate from the .cer gives the same thumbprint: nothing changes.
    let a = case
        .run(&[
            "record",
            "service-user",
            "--certificate",
            cer.to_str().unwrap(),
            "--trust",
            "test-ca.pem",
        ])
        .success();
    assert!(stderr(&a).contains("recorded certificate") || stderr(&a).contains("nothing changed"));
    assert_eq!(
        case.status_json().0["steps"][1]["facts"]["certificate_sha1_thumbprint"],
        thumb.as_str()
    );

    case.run(&[
        "record",
        "cpr-application",
        "--case-number",
        "CPR-2026-0042",
        "--applied-on",
        &days_ago(20),
        "--done",
    ])
    .success();
    let (json, _) = case.status_json();
    assert_eq!(json["steps"][3]["state"], "waiting");
    assert_eq!(json["steps"][3]["waiting_days"], 20);
    let human = stdout(&case.run(&["status"]).success());
    assert!(human.contains("waiting 20d"), "{human}");
    assert!(
        human.contains("waiting for the CPR service desk since"),
        "{human}"
    );
    assert!(human.lines().all(|l| l.chars().count() <= 100), "{human}");

    case.run(&[
        "record",
        "cpr-approval",
        "--approved-on",
        &days_ago(2),
        "--approval-reference",
        "J.nr. 26-1",
        "--done",
    ])
    .success();
    // The support letter is refused until the IP is recorded, naming it.
    let e = case.refused(&["letter", "datafordeler-support"], 2);
    assert!(e.contains("production-access (--dpg-ip)"), "{e}");
    case.run(&[
        "record",
        "production-access",
        "--dpg-ip",
        "80.62.117.20",
        "--requested-on",
        &days_ago(1),
    ])
    .success();
    let letter = stdout(&case.run(&["letter", "datafordeler-support"]).success());
    for s in [
        "Til: Datafordelerens support",
        "CPR-2026-0042",
        "J.nr. 26-1",
        "80.62.117.20",
        "aarhus-dpg",
        "dpg-cpr",
        &thumb,
    ] {
        assert!(letter.contains(s), "{s} missing in:\n{letter}");
    }
    let letter = stdout(
        &case
            .run(&["letter", "datafordeler-support", "--lang", "en"])
            .success(),
    );
    assert!(
        letter.starts_with("To: Datafordeler support\nSubject: Test access"),
        "{letter}"
    );
    case.run(&[
        "record",
        "production-access",
        "--confirmed-on",
        &today(),
        "--done",
    ])
    .success();

    let (json, _) = case.status_json();
    assert_eq!(json["current_step"], "dpg-handover");
    // Before the handover is recorded, the default: installed in the Customer Portal.
    let note = stdout(&case.run(&["letter", "dpg-handover"]).success());
    assert!(
        note.contains(&thumb) && note.contains("DPG-kundeportalen (portal.timengodpg.com)"),
        "{note}"
    );
    assert!(
        !note.contains("correct horse"),
        "the password must never be in the note"
    );

    // The handover: the verify checklist runs first, with the case's CVR and environment.
    let p12_s = p12.to_str().unwrap();
    let pw = ["--password-file", "p12.password"];
    let trust = ["--trust", "test-ca.pem"];
    let e = case.refused(
        &[&["record", "dpg-handover", "--p12", p12_s][..], &pw].concat(),
        2,
    );
    assert!(e.contains("failed checks:") && e.contains("chain"), "{e}");
    let (_, other) = case.certificate(3 * 365 + 1);
    let other_s = other.to_str().unwrap();
    let e = case.refused(
        &[
            &["record", "dpg-handover", "--p12", other_s][..],
            &pw,
            &trust,
        ]
        .concat(),
        2,
    );
    assert!(e.contains("not the one registered at Datafordeler"), "{e}");
    let cer_s = cer.to_str().unwrap();
    let e = case.refused(
        &[&["record", "dpg-handover", "--p12", cer_s][..], &trust].concat(),
        2,
    );
    assert!(e.contains("not a PKCS#12 file"), "{e}");
    std::fs::write(case.path("wrong.password"), "nope\n").unwrap();
    let wrong = ["--password-file", "wrong.password"];
    case.refused(
        &[
            &["record", "dpg-handover", "--p12", p12_s][..],
            &wrong,
            &trust,
        ]
        .concat(),
        3,
    );
    let done = ["--received-by", "DPG Service Center", "--done"];
    case.run(
        &[
            &["record", "dpg-handover", "--p12", p12_s][..],
            &pw,
            &trust,
            &done,
        ]
        .concat(),
    )
    .success();
    let (json, code) = case.status_json();
    assert_eq!(code, 0);
    assert_eq!(json["complete"], true, "{json}");
    let handover = &json["steps"][5]["facts"];
    assert_eq!(handover["p12_sha1_thumbprint"], thumb.as_str());
    assert_eq!(handover["handed_over_on"], today().as_str());
    assert_ne!(handover["p12_verdict"], "fail");
    let human = stdout(&case.run(&["status"]).success());
    assert!(human.contains("Onboarding is complete"), "{human}");
    assert!(human.lines().all(|l| l.chars().count() <= 100), "{human}");
    let note = stdout(
        &case
            .run(&["letter", "dpg-handover", "--lang", "en"])
            .success(),
    );
    assert!(note.contains("as a .p12 file (dpg-1095.p12)"), "{note}");
    assert!(!note.contains("correct horse"));

    let report = stdout(&case.run(&["report", "--format", "html"]).success());
    assert!(report.starts_with("<!DOCTYPE html>") && report.contains("CPR-2026-0042"));
    let md = stdout(&case.run(&["report"]).success());
    assert!(
        md.contains("| ida | Production access and IP whitelisting |"),
        "the history names the OS user:\n{md}"
    );
}

#[test]
fn refused_values_change_nothing() {
    let case = Case::new();
    case.init(&["--route", "selfservice"]);
    case.run(&[
        "record",
        "selfservice-user",
        "--username",
        "u",
        "--login-method",
        "mitid",
        "--done",
    ])
    .success();

    let e = case.refused(
        &["record", "service-user", "--service-user", "s", "--done"],
        2,
    );
    assert!(e.contains("missing --certificate FILE"), "{e}");
    let e = case.refused(
        &[
            "record",
            "cpr-approval",
            "--approved-on",
            &today(),
            "--done",
        ],
        2,
    );
    assert!(
        e.contains("cannot be marked done before service-user, cpr-application"),
        "{e}"
    );
    let e = case.refused(&["record", "service-user", "--dpg-ip", "80.62.117.20"], 2);
    assert!(
        e.contains("--dpg-ip is not a field of step service-user"),
        "{e}"
    );
    let e = case.refused(
        &["record", "production-access", "--dpg-ip", "192.168.1.10"],
        2,
    );
    assert!(e.contains("private address"), "{e}");
    let e = case.refused(
        &["record", "production-access", "--dpg-ip", "2001:db8::1"],
        2,
    );
    assert!(e.contains("IPv6"), "{e}");
    let e = case.refused(
        &["record", "cpr-application", "--applied-on", "2026-02-30"],
        2,
    );
    assert!(e.contains("YYYY-MM-DD"), "{e}");
    let tomorrow = (Local::now().date_naive() + Duration::days(1)).to_string();
    let e = case.refused(&["record", "cpr-application", "--applied-on", &tomorrow], 2);
    assert!(e.contains("in the future"), "{e}");
    let e = case.refused(&["record", "no-such-step", "--done"], 2);
    assert!(e.contains("unknown step"), "{e}");

    // The real production certificate of another CVR (19552101), and a test certificate
    // for a production onboarding.
    let prod = testdata_dir().join("oces3/example-prod-system-cert.pem");
    let e = case.refused(
        &[
            "record",
            "service-user",
            "--certificate",
            prod.to_str().unwrap(),
        ],
        2,
    );
    assert!(e.contains("CVR 19552101") && e.contains(CVR), "{e}");
    let (cer, _) = case.certificate(400);
    let e = case.refused(
        &[
            "record",
            "service-user",
            "--certificate",
            cer.to_str().unwrap(),
            "--trust",
            "test-ca.pem",
        ],
        2,
    );
    assert!(e.contains("a test certificate"), "{e}");
    // A wrong password is its own exit code, and changes nothing either.
    let (_, p12) = case.certificate(401);
    std::fs::write(case.path("wrong.password"), "nope\n").unwrap();
    case.refused(
        &[
            "record",
            "service-user",
            "--certificate",
            p12.to_str().unwrap(),
            "--password-file",
            "wrong.password",
        ],
        3,
    );
}

#[test]
fn the_real_certificate_is_recorded_for_its_own_authority() {
    let case = Case::new();
    case.run(&[
        "init",
        "--authority",
        "Skatteforvaltningen",
        "--cvr",
        "19552101",
        "--route",
        "selfservice",
    ])
    .success();
    let prod = testdata_dir().join("oces3/example-prod-system-cert.pem");
    case.run(&[
        "record",
        "service-user",
        "--certificate",
        prod.to_str().unwrap(),
    ])
    .success();
    let (json, _) = case.status_json();
    let facts = &json["steps"][1]["facts"];
    assert_eq!(facts["certificate_not_after"], "2029-03-24");
    assert_eq!(
        facts["certificate_sha256_fingerprint"],
        "07:BE:69:65:E0:FA:A5:EB:F7:A4:8D:DF:F6:12:D4:9B:C8:CD:62:AF:0B:CC:C9:4E:0E:FF:C7:D2:50:5E:8B:7F"
    );
    // The test-environment leaf is refused for this production onboarding.
    let test = testdata_dir().join("oces3/example-test-system-cert.pem");
    let e = case.refused(
        &[
            "record",
            "service-user",
            "--certificate",
            test.to_str().unwrap(),
        ],
        2,
    );
    assert!(e.contains("test certificate"), "{e}");
}

#[test]
fn status_exits_1_when_blocked() {
    let case = Case::new();
    case.init(&["--route", "selfservice", "--environment", "test"]);
    let (cer, _) = case.certificate(45);
    case.run(&[
        "record",
        "selfservice-user",
        "--username",
        "u",
        "--login-method",
        "mitid",
        "--done",
    ])
    .success();
    case.run(&[
        "record",
        "service-user",
        "--service-user",
        "s",
        "--certificate",
        cer.to_str().unwrap(),
        "--trust",
        "test-ca.pem",
        "--done",
    ])
    .success();
    // 45 days left: a warning, not blocked.
    let (json, code) = case.status_json();
    assert_eq!(code, 0);
    assert_eq!(json["warnings"][0]["code"], "certificate_expiring");
    // Time passes: the recorded certificate now expires in 10 days (edit the file as
    // weeks of waiting would).
    let soon = (Local::now().date_naive() + Duration::days(10)).to_string();
    let text = std::fs::read_to_string(case.state()).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("certificate_not_after"))
        .unwrap()
        .to_owned();
    std::fs::write(
        case.state(),
        text.replace(&line, &format!("certificate_not_after = \"{soon}\"")),
    )
    .unwrap();
    let (json, code) = case.status_json();
    assert_eq!(code, 1);
    assert_eq!(json["blocked"], true);
    assert!(
        json["next_action"]
            .as_str()
            .unwrap()
            .starts_with("Blocked:"),
        "{json}"
    );
    let a = case.run(&["status"]).code(1);
    assert!(
        stdout(&a).contains("blocked: the registered certificate expires on"),
        "{}",
        stdout(&a)
    );
}

#[test]
fn next_without_a_terminal_prints_guidance_and_the_command() {
    let case = Case::new();
    case.init(&["--route", "selfservice"]);
    case.run(&[
        "record",
        "selfservice-user",
        "--username",
        "u",
        "--login-method",
        "mitid",
        "--done",
    ])
    .success();
    case.run(&["record", "service-user", "--service-user", "s"])
        .success();
    case.run(&[
        "record",
        "service-user",
        "--certificate",
        testdata_dir()
            .join("oces3/example-prod-system-cert.pem")
            .to_str()
            .unwrap(),
    ])
    .code(2);
    // `cprlink onboard` alone is `next`; without a terminal it does not prompt.
    let out = stdout(&case.cmd().assert().success());
    assert!(
        out.starts_with("Step 2 of 6: Service user with the certificate (CER)"),
        "{out}"
    );
    assert!(out.contains("https://selfservice.datafordeler.dk"));
    assert!(out.contains("--service-user TEXT"));
    assert!(out.contains("(recorded: s)"), "{out}");
    assert!(
        out.contains("  cprlink onboard record service-user --certificate FILE --done\n"),
        "{out}"
    );
    assert!(out.lines().all(|l| l.chars().count() <= 100), "{out}");
    let json: Value =
        serde_json::from_slice(&case.cmd().args(["next", "--json"]).output().unwrap().stdout)
            .unwrap();
    assert_eq!(json["step"], "service-user");
    assert_eq!(
        json["command"],
        "cprlink onboard record service-user --certificate FILE --done"
    );

    // Another state file is named in the suggested command.
    case.run(&[
        "--state",
        "second.toml",
        "init",
        "--authority",
        "B",
        "--cvr",
        "12345674",
        "--route",
        "administration",
    ])
    .success();
    let out = stdout(
        &case
            .cmd()
            .args(["next", "--state", "second.toml"])
            .assert()
            .success(),
    );
    assert!(out.contains("cprlink onboard --state second.toml record it-system --it-system TEXT --client-id TEXT --done"), "{out}");
    assert!(out.contains("Datafordeler Administration"), "{out}");
}

#[test]
fn broken_newer_missing_and_locked_state_files() {
    let case = Case::new();
    let e = stderr(&case.run(&["status"]).code(2));
    assert!(
        e.contains("no onboarding case at onboarding.toml") && e.contains("onboard init"),
        "{e}"
    );
    case.init(&["--route", "selfservice"]);
    let e = case.refused(&["init", "--authority", "X", "--cvr", CVR], 2);
    assert!(e.contains("already exists"), "{e}");

    let good = std::fs::read_to_string(case.state()).unwrap();
    let broken = good.replacen("route = \"selfservice\"", "route = selfservice", 1);
    std::fs::write(case.state(), &broken).unwrap();
    let line = broken
        .lines()
        .position(|l| l.starts_with("route ="))
        .unwrap()
        + 1;
    let e = case.refused(&["record", "selfservice-user", "--username", "u"], 2);
    assert!(e.contains(&format!("(line {line}, column")), "{e}");
    assert!(e.contains("will not use or overwrite it"), "{e}");
    case.refused(&["status"], 2);

    std::fs::write(case.state(), good.replacen("version = 2", "version = 9", 1)).unwrap();
    let e = case.refused(&["record", "selfservice-user", "--username", "u"], 2);
    assert!(e.contains("newer cprlink (state version 9"), "{e}");

    // A run holding the lock keeps a second one out.
    std::fs::write(case.state(), &good).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(case.path("onboarding.toml.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let e = case.refused(&["record", "selfservice-user", "--username", "u"], 2);
    assert!(e.contains("in use by another"), "{e}");
    // Reading needs no lock.
    case.run(&["status"]).success();
    drop(lock);
    case.run(&["record", "selfservice-user", "--username", "u"])
        .success();
}

#[test]
fn letters_name_what_is_missing_and_contact_can_be_added() {
    let case = Case::new();
    case.run(&[
        "init",
        "--authority",
        "Læsø Kommune",
        "--cvr",
        "29189986",
        "--route",
        "selfservice",
    ])
    .success();
    let e = case.refused(&["letter", "cpr-application"], 2);
    assert!(
        e.contains("service-user (--service-user)") && e.contains("--contact-email"),
        "{e}"
    );
    case.run(&[
        "record",
        "contact",
        "--contact-email",
        "it@laesoe.dk",
        "--contact-name",
        "Bo Ø",
    ])
    .success();
    case.run(&["record", "service-user", "--service-user", "laesoe-dpg"])
        .success();
    let da = stdout(&case.run(&["letter", "cpr-application"]).success());
    assert!(da.starts_with("Til: CPR-servicedesken\nEmne: "), "{da}");
    assert!(
        da.contains("CprPersonSmallSimple (PersonSmallCurrentListSimple)") && da.contains("Bo Ø"),
        "{da}"
    );
    let json: Value = serde_json::from_slice(
        &case
            .cmd()
            .args(["letter", "cpr-application", "--lang", "en", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(json["to"], "The CPR service desk");
    assert!(json["body"].as_str().unwrap().contains("laesoe-dpg"));
    case.refused(&["record", "contact", "--contact-email", "nope"], 2);
}

// ---- route administration, from init to lookups ---------------------------------------

/// A sandbox of this test's own, on free ports.
struct Running {
    _rt: tokio::runtime::Runtime,
    sb: Sandbox,
    _dir: tempfile::TempDir,
}

fn sandbox() -> Running {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SandboxOptions::new(dir.path().join("sandbox"));
    opts.persons = 50;
    let sb = rt.block_on(Sandbox::start(opts)).expect("sandbox starts");
    Running {
        _rt: rt,
        sb,
        _dir: dir,
    }
}

impl Running {
    /// What points a Test04 config at this sandbox: `CPRLINK_DATAFORDELER_*`.
    fn endpoints(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CPRLINK_DATAFORDELER_ENVIRONMENT", "sandbox".to_owned()),
            (
                "CPRLINK_DATAFORDELER_REST_BASE_URL",
                self.sb.rest_base_url(),
            ),
            ("CPRLINK_DATAFORDELER_GRAPHQL_URL", self.sb.graphql_url()),
            ("CPRLINK_DATAFORDELER_TOKEN_URL", self.sb.token_url()),
            (
                "CPRLINK_DATAFORDELER_CA_FILE",
                self.sb.files().ca_pem.display().to_string(),
            ),
        ]
    }
}

fn json_of(a: &assert_cmd::assert::Assert) -> Value {
    serde_json::from_slice(&a.get_output().stdout).unwrap()
}

/// A new case on the administration route, walked to the end with `onboard record`
/// (an OAuth certificate: the sandbox's client certificate), then `onboard config`
/// writes the go-live config, and lookups and `doctor` with it work against the
/// sandbox over GraphQL.
#[test]
fn administration_route_to_go_live_config_and_lookups() {
    let run = sandbox();
    let files = run.sb.files();
    let case = Case::new();
    std::fs::copy(&files.client_p12, case.path("dpg-handover.p12")).unwrap();
    std::fs::copy(
        &files.client_p12_password,
        case.path("dpg-handover.p12.password"),
    )
    .unwrap();
    std::fs::copy(&files.ca_pem, case.path("test-ca.pem")).unwrap();
    cprlink()
        .current_dir(case.dir.path())
        .args([
            "cert",
            "export-cer",
            "dpg-handover.p12",
            "--password-file",
            "dpg-handover.p12.password",
            "--out",
            "dpg.pem",
            "--encoding",
            "pem",
        ])
        .assert()
        .success();
    let cvr = cprlink_sandbox::SANDBOX_CVR;
    let a = case
        .run(&[
            "init",
            "--authority",
            "Sandbox Kommune",
            "--cvr",
            cvr,
            "--environment",
            "test",
            "--contact-email",
            "it@sandbox.invalid",
        ])
        .success();
    // No terminal: the default route, and it says so.
    assert!(
        stderr(&a).contains("route administration (no terminal to ask on"),
        "{}",
        stderr(&a)
    );
    let (json, _) = case.status_json();
    assert_eq!(json["route"], "administration");
    assert_eq!(json["steps"].as_array().unwrap().len(), 7);
    assert_eq!(
        json["next_command"],
        "cprlink onboard record it-system --it-system TEXT --client-id TEXT --done"
    );

    let client_id = run.sb.client_id();
    case.run(&[
        "record",
        "it-system",
        "--it-system",
        "DPG CPR (test)",
        "--client-id",
        client_id,
        "--done",
    ])
    .success();
    let (json, _) = case.status_json();
    assert_eq!(
        json["next_command"],
        "cprlink onboard record credential --method certificate --certificate FILE --done"
    );
    // A certificate of another CVR is refused for this case.
    let other = pki()
        .issue(&LeafSpec::oces3_system(
            "DPG",
            "Skatteforvaltningen",
            "19552101",
        ))
        .unwrap();
    std::fs::write(case.path("other.pem"), other.cert.to_pem().unwrap()).unwrap();
    std::fs::write(case.path("other-ca.pem"), pki().ca_bundle_pem().unwrap()).unwrap();
    let e = case.refused(
        &[
            "record",
            "credential",
            "--certificate",
            "other.pem",
            "--trust",
            "other-ca.pem",
        ],
        2,
    );
    assert!(e.contains("CVR 19552101") && e.contains(cvr), "{e}");
    let a = case
        .run(&[
            "record",
            "credential",
            "--certificate",
            "dpg.pem",
            "--trust",
            "test-ca.pem",
            "--done",
        ])
        .success();
    assert!(
        stderr(&a).contains("--method certificate (implied by --certificate)"),
        "{}",
        stderr(&a)
    );
    let e = case.refused(&["record", "ip-allowlist", "--dpg-ip", "10.1.2.3"], 2);
    assert!(e.contains("private address"), "{e}");
    case.run(&[
        "record",
        "ip-allowlist",
        "--dpg-ip",
        "80.62.117.20",
        "--done",
    ])
    .success();
    case.run(&[
        "record",
        "cpr-application",
        "--case-number",
        "CPR-SD-1",
        "--applied-on",
        &days_ago(30),
        "--done",
    ])
    .success();
    case.run(&[
        "record",
        "cpr-approval",
        "--approved-on",
        &days_ago(10),
        "--done",
    ])
    .success();
    let e = case.refused(&["letter", "data-access"], 2);
    assert!(e.contains("data-access (--requested-on)"), "{e}");
    let e = case.refused(&["record", "data-access", "--added-on", &today()], 2);
    assert!(
        e.contains("--added-on is not a field of step data-access"),
        "{e}"
    );
    case.run(&["record", "data-access", "--requested-on", &days_ago(9)])
        .success();
    let (json, code) = case.status_json();
    assert_eq!(code, 0);
    assert_eq!(json["steps"][5]["state"], "waiting");
    assert_eq!(json["steps"][5]["waiting_days"], 9);
    let letter = stdout(
        &case
            .run(&["letter", "data-access", "--lang", "en"])
            .success(),
    );
    assert!(
        letter.contains(client_id) && letter.contains("CustomPublicSectorPerson"),
        "{letter}"
    );
    case.run(&[
        "record",
        "data-access",
        "--granted-on",
        &days_ago(2),
        "--done",
    ])
    .success();
    let a = case
        .run(&[
            "record",
            "dpg-handover",
            "--p12",
            "dpg-handover.p12",
            "--password-file",
            "dpg-handover.p12.password",
            "--trust",
            "test-ca.pem",
            "--done",
        ])
        .success();
    assert!(
        stderr(&a).contains("--via set to portal (the default)"),
        "{}",
        stderr(&a)
    );
    let (json, code) = case.status_json();
    assert_eq!((code, &json["complete"]), (0, &Value::Bool(true)), "{json}");
    assert_eq!(json["steps"][6]["facts"]["via"], "portal");
    let not_after = json["steps"][1]["facts"]["certificate_not_after"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(json["credential_expires_on"], not_after.as_str());
    assert!(json["renewal"].is_null());
    let note = stdout(
        &case
            .run(&["letter", "dpg-handover", "--lang", "en"])
            .success(),
    );
    let note_line = note.split_whitespace().collect::<Vec<_>>().join(" ");
    for s in [
        client_id,
        "DPG Customer Portal (portal.timengodpg.com)",
        "describes only the Self-Service (REST) connection",
    ] {
        assert!(note_line.contains(s), "{s} missing:\n{note}");
    }

    // The go-live config, from the case.
    let a = case.run(&["config"]).success();
    assert!(stderr(&a).contains("Wrote cprlink.toml: environment test04, api graphql"));
    let config = std::fs::read_to_string(case.path("cprlink.toml")).unwrap();
    let table: toml::Table = toml::from_str(&config).unwrap();
    assert_eq!(
        table["datafordeler"]["environment"].as_str(),
        Some("test04")
    );
    assert_eq!(table["datafordeler"]["api"].as_str(), Some("graphql"));
    assert_eq!(table["datafordeler"]["client_id"].as_str(), Some(client_id));
    assert_eq!(
        table["certificate"]["p12"].as_str(),
        Some("dpg-handover.p12")
    );
    assert_eq!(
        table["certificate"]["password_file"].as_str(),
        Some("dpg-handover.p12.password")
    );
    // Every key says where its value came from.
    let lines: Vec<&str> = config.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.contains(" = ") && !line.starts_with('#') {
            assert!(lines[i - 1].starts_with("# "), "no comment above {line}");
        }
    }
    assert!(
        config.contains("# From step it-system (--client-id)"),
        "{config}"
    );
    assert!(
        config.contains("# From step dpg-handover (--p12)"),
        "{config}"
    );
    assert!(!config.contains("correct horse") && !config.contains("token_url"));
    // Never over an existing file without --force.
    std::fs::write(case.path("cprlink.toml"), "# mine\n").unwrap();
    let e = stderr(&case.run(&["config"]).code(2));
    assert!(e.contains("already exists") && e.contains("--force"), "{e}");
    assert_eq!(
        std::fs::read_to_string(case.path("cprlink.toml")).unwrap(),
        "# mine\n"
    );
    case.run(&["config", "--force", "--json"]).success();
    assert_eq!(
        std::fs::read_to_string(case.path("cprlink.toml")).unwrap(),
        config
    );

    // Lookups with it, against the sandbox standing in for Test04.
    let pop = run.sb.population();
    let want: Vec<_> = (0..3).map(|i| pop.expected(i)).collect();
    let mut lookup = cprlink();
    lookup.current_dir(case.dir.path()).args([
        "--config",
        "cprlink.toml",
        "lookup",
        "--format",
        "jsonl",
    ]);
    for (k, v) in run.endpoints() {
        lookup.env(k, v);
    }
    for w in &want {
        lookup.arg(&w.cpr);
    }
    let out = lookup.assert().code(0).get_output().stdout.clone();
    let rows: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), want.len());
    for (row, w) in rows.iter().zip(&want) {
        assert_eq!(row["status"], "found", "{row}");
        assert_eq!(row["name"], w.name.as_str(), "{row}");
    }
    let mut doctor = cprlink();
    doctor.current_dir(case.dir.path()).args([
        "--config",
        "cprlink.toml",
        "--json",
        "doctor",
        "--probe-cpr",
        &want[0].cpr,
    ]);
    for (k, v) in run.endpoints() {
        doctor.env(k, v);
    }
    let report = json_of(&doctor.assert().code(0));
    assert_eq!(report["ok"], true, "{report}");

    // Time passes (the file edited as years would): 50 days left warn, 10 make
    // `status` say no, though the case is complete and not blocked.
    let text = std::fs::read_to_string(case.state()).unwrap();
    for (days, code) in [(50, 0), (10, 1)] {
        let soon = (Local::now().date_naive() + Duration::days(days)).to_string();
        std::fs::write(
            case.state(),
            text.replace(
                &format!("certificate_not_after = \"{not_after}\""),
                &format!("certificate_not_after = \"{soon}\""),
            ),
        )
        .unwrap();
        let (json, c) = case.status_json();
        assert_eq!(c, code, "{days} days: {json}");
        assert_eq!(json["credential_expires_on"], soon.as_str());
        assert_eq!(json["expires_soon"], code == 1);
        assert_eq!(json["blocked"], false);
        assert!(
            json["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w["code"] == "certificate_expiring"),
            "{json}"
        );
    }
}

#[test]
fn go_live_config_for_a_shared_secret_and_for_selfservice() {
    // A shared secret: client_secret_file is a placeholder, and no [certificate].
    let case = Case::new();
    case.init(&["--route", "administration"]);
    let e = case.refused(&["config"], 2);
    assert!(
        e.contains("it-system (--client-id)") && e.contains("credential (--method)"),
        "{e}"
    );
    assert!(!case.path("cprlink.toml").exists());
    case.run(&[
        "record",
        "it-system",
        "--it-system",
        "DPG",
        "--client-id",
        "aarhus-dpg",
        "--done",
    ])
    .success();
    let expires = (Local::now().date_naive() + Duration::days(700)).to_string();
    case.run(&["record", "credential", "--expires-on", &expires, "--done"])
        .success();
    let (json, _) = case.status_json();
    assert_eq!(json["credential_expires_on"], expires.as_str());
    assert_eq!(json["steps"][1]["facts"]["method"], "shared-secret");
    let a = case
        .run(&["config", "--out", "golive/cprlink.toml"])
        .code(2);
    assert!(
        stderr(&a).contains("golive"),
        "no such directory: {}",
        stderr(&a)
    );
    std::fs::create_dir(case.path("golive")).unwrap();
    let json = json_of(
        &case
            .cmd()
            .args(["--json", "config", "--out", "golive/cprlink.toml"])
            .assert()
            .success(),
    );
    assert_eq!(json["api"], "graphql");
    assert_eq!(
        json["placeholders"],
        serde_json::json!(["datafordeler.client_secret_file"])
    );
    let config = std::fs::read_to_string(case.path("golive/cprlink.toml")).unwrap();
    let table: toml::Table = toml::from_str(&config).unwrap();
    assert_eq!(
        table["datafordeler"]["client_secret_file"].as_str(),
        Some("client-secret.txt")
    );
    assert!(table.get("certificate").is_none(), "{config}");
    assert!(
        config.contains(&format!("It expires on {expires}")),
        "{config}"
    );
    // It loads with the binary's config loader: doctor's first check is the config
    // (with the placeholder filled in, as the file asks).
    std::fs::write(case.path("golive/client-secret.txt"), "s3cret\n").unwrap();
    let out = cprlink()
        .current_dir(case.dir.path())
        .env("CPRLINK_DATAFORDELER_ENVIRONMENT", "sandbox")
        .env("CPRLINK_DATAFORDELER_GRAPHQL_URL", "https://127.0.0.1:9/g")
        .env("CPRLINK_DATAFORDELER_TOKEN_URL", "https://127.0.0.1:9/t")
        .args(["--config", "golive/cprlink.toml", "--json", "doctor"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["checks"][0]["id"], "config");
    assert_eq!(report["checks"][0]["status"], "pass", "{report}");

    // Self-Service: REST, no client id, the .p12 a placeholder until it is recorded.
    let ss = Case::new();
    ss.init(&["--route", "selfservice", "--environment", "test"]);
    let a = ss.run(&["config"]).success();
    assert!(
        stderr(&a).contains("Fill in certificate.p12, certificate.password_env"),
        "{}",
        stderr(&a)
    );
    let config = std::fs::read_to_string(ss.path("cprlink.toml")).unwrap();
    let table: toml::Table = toml::from_str(&config).unwrap();
    assert_eq!(table["datafordeler"]["api"].as_str(), Some("rest"));
    assert!(table["datafordeler"].get("client_id").is_none());
    assert_eq!(
        table["certificate"]["password_env"].as_str(),
        Some("CPRLINK_P12_PASSWORD")
    );
    assert!(
        config.contains("# Fill in: the .p12 of the certificate"),
        "{config}"
    );
    let out = cprlink()
        .current_dir(ss.dir.path())
        .args(["--config", "cprlink.toml", "lookup", "0101011234"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !e.contains("bad config") && !e.contains("not valid TOML"),
        "{e}"
    );
}

/// A case on the administration route with a shared secret: `onboard config` writes a
/// config with `client_secret_file` and no `[certificate]`; with the secret filled in
/// it looks names up against the sandbox over GraphQL, no .p12 anywhere.
#[test]
fn a_shared_secret_case_goes_live_without_a_certificate() {
    let run = sandbox();
    let case = Case::new();
    case.init(&["--route", "administration", "--environment", "test"]);
    case.run(&[
        "record",
        "it-system",
        "--it-system",
        "DPG",
        "--client-id",
        cprlink_sandbox::CLIENT_ID,
        "--done",
    ])
    .success();
    let expires = (Local::now().date_naive() + Duration::days(700)).to_string();
    case.run(&[
        "record",
        "credential",
        "--method",
        "shared-secret",
        "--expires-on",
        &expires,
        "--done",
    ])
    .success();
    let a = case.run(&["config"]).success();
    assert!(
        stderr(&a).contains("client-secret.txt does not exist here"),
        "{}",
        stderr(&a)
    );
    let config = std::fs::read_to_string(case.path("cprlink.toml")).unwrap();
    let table: toml::Table = toml::from_str(&config).unwrap();
    assert_eq!(table["datafordeler"]["api"].as_str(), Some("graphql"));
    assert!(table.get("certificate").is_none(), "{config}");
    // The secret, as the admin copies it from Datafordeler Administration.
    std::fs::copy(
        &run.sb.files().client_secret,
        case.path("client-secret.txt"),
    )
    .unwrap();
    assert!(!case.path("dpg-handover.p12").exists());
    let pop = run.sb.population();
    let want: Vec<_> = (0..4).map(|i| pop.expected(i)).collect();
    // The sandbox stands in for Test04: its GraphQL host, its shared-secret token
    // endpoint, its CA.
    let env = [
        ("CPRLINK_DATAFORDELER_ENVIRONMENT", "sandbox".to_owned()),
        ("CPRLINK_DATAFORDELER_GRAPHQL_URL", run.sb.graphql_url()),
        (
            "CPRLINK_DATAFORDELER_TOKEN_URL",
            run.sb.shared_secret_token_url(),
        ),
        (
            "CPRLINK_DATAFORDELER_CA_FILE",
            run.sb.files().ca_pem.display().to_string(),
        ),
    ];
    let mut lookup = cprlink();
    lookup.current_dir(case.dir.path()).args([
        "--config",
        "cprlink.toml",
        "lookup",
        "--format",
        "jsonl",
    ]);
    lookup.envs(env.iter().cloned());
    for w in &want {
        lookup.arg(&w.cpr);
    }
    let out = lookup.assert().code(0).get_output().clone();
    let rows: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), want.len());
    for (row, w) in rows.iter().zip(&want) {
        assert_eq!(row["status"], "found", "{row}");
        assert_eq!(row["name"], w.name.as_str(), "{row}");
    }
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!e.contains("p12") && !e.contains("assword"), "{e}");
}

#[test]
fn init_checks_the_cvr_and_warns_about_the_closed_route() {
    let case = Case::new();
    // 12345678 (the old demo's) fails the modulus-11 check of every real CVR number.
    let a = case
        .run(&["init", "--authority", "X", "--cvr", "12345678"])
        .code(2);
    let e = stderr(&a);
    assert!(
        e.contains("--cvr \"12345678\": it fails the modulus-11 check"),
        "{e}"
    );
    assert!(!case.state().exists());
    // The real CVR of the OCES3 example certificate passes; the closed route warns.
    let a = case
        .run(&[
            "init",
            "--authority",
            "Skatteforvaltningen",
            "--cvr",
            "DK 1955 2101",
            "--route",
            "selfservice",
        ])
        .success();
    let e = stderr(&a);
    assert!(
        e.contains("closed the Self-Service route to new sign-ups on 30 June 2026"),
        "{e}"
    );
    let (json, _) = case.status_json();
    assert_eq!(
        (json["cvr"].as_str(), json["route"].as_str()),
        (Some("19552101"), Some("selfservice"))
    );
    assert!(
        json["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["code"] == "route_phased_out")
    );
}

#[test]
fn the_history_says_who() {
    let case = Case::new();
    case.init(&[]);
    case.run(&[
        "--by",
        "Ida Hansen",
        "record",
        "it-system",
        "--it-system",
        "DPG",
    ])
    .success();
    case.cmd()
        .env("CPRLINK_OPERATOR", "bo")
        .args(["record", "it-system", "--client-id", "c-1"])
        .assert()
        .success();
    case.run(&["record", "it-system", "--done"]).success();
    let e = case.refused(
        &[
            "--by",
            "Ida\u{1b}[2J",
            "record",
            "ip-allowlist",
            "--dpg-ip",
            "80.62.117.20",
        ],
        2,
    );
    assert!(e.contains("--by") && !e.contains('\u{1b}'), "{e}");
    let text = std::fs::read_to_string(case.state()).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    let who: Vec<&str> = table["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["who"].as_str().unwrap())
        .collect();
    assert_eq!(who, ["ida", "Ida Hansen", "bo", "ida"]);
    let changed = table["history"][2]["changed"].as_array().unwrap();
    assert_eq!(changed, &[toml::Value::from("client_id")]);
}

/// Without `USER`, `LOGNAME` or `--by` (a container, a cron job), the history names the
/// account the process runs as, not "unknown"; and the report shows who.
#[test]
fn without_a_login_name_the_history_names_the_account() {
    let case = Case::new();
    let account = String::from_utf8(
        std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let mut cmd = case.cmd();
    cmd.env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("USERNAME")
        .env_remove("CPRLINK_OPERATOR")
        .args(["init", "--authority", "Aarhus Kommune", "--cvr", CVR])
        .assert()
        .success();
    let text = std::fs::read_to_string(case.state()).unwrap();
    assert!(text.contains(&format!("who = \"{account}\"")), "{text}");
    let html = stdout(&case.run(&["report", "--format", "html"]).success());
    assert!(html.contains(&format!("<td>{account}</td>")), "{html}");
    assert!(!html.contains("<td>unknown</td>"));
}

/// Issue 9: an authority name with a terminal escape, written into the case file by
/// hand, never reaches the terminal raw; the line is named and the exit code is 2.
#[test]
fn a_hand_edited_escape_never_reaches_the_terminal() {
    let case = Case::new();
    case.init(&["--route", "selfservice"]);
    let text = std::fs::read_to_string(case.state()).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("authority = "))
        .unwrap()
        + 1;
    // The TOML escape and the raw bytes: ESC ] 0 ; title BEL sets the window title,
    // ESC [ 2 J clears the screen.
    for hostile in [
        "authority = \"Aarhus\\u001b]0;pwned\\u0007\\u001b[2J Kommune\"",
        "authority = \"Aarhus\u{9b}2J Kommune\"",
    ] {
        let edited = text.replacen("authority = \"Aarhus Kommune\"", hostile, 1);
        std::fs::write(case.state(), &edited).unwrap();
        for args in [
            &["status"][..],
            &["--json", "status"],
            &["report"],
            &["report", "--format", "html"],
            &["letter", "cpr-application"],
            &["config"],
            &["next"],
            &["record", "selfservice-user", "--username", "u"],
        ] {
            let out = case.cmd().args(args).output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            for stream in [&out.stdout, &out.stderr] {
                let s = String::from_utf8_lossy(stream);
                assert!(
                    !s.contains('\u{1b}') && !s.contains('\u{9b}'),
                    "{args:?}: {s:?}"
                );
            }
            let e = String::from_utf8_lossy(&out.stderr);
            assert!(
                e.contains(&format!("(line {line}, column")),
                "{args:?}: {e}"
            );
            assert!(e.contains("control character"), "{e}");
            assert_eq!(std::fs::read_to_string(case.state()).unwrap(), edited);
        }
    }
    assert!(!case.path("cprlink.toml").exists());
}

#[test]
fn an_over_long_value_is_refused_without_echoing_it() {
    let case = Case::new();
    case.init(&[]);
    let long = "DPG ".repeat(2500);
    let e = case.refused(&["record", "it-system", "--it-system", &long], 2);
    assert!(
        e.contains("at most 200 characters (this one has 9999)"),
        "{e}"
    );
    assert!(e.contains("... (10000 characters)"), "{e}");
    assert!(e.len() < 600, "{} bytes on stderr", e.len());
}

#[test]
fn a_temporary_file_left_by_a_killed_writer_is_cleaned_up() {
    let case = Case::new();
    case.init(&[]);
    // What `kill -9` between writing and renaming leaves behind.
    let stale = case.path(".cprlink-onboarding.toml.tmp");
    std::fs::write(&stale, "# cprlink onboarding case file: half of it").unwrap();
    case.run(&["status"]).success();
    assert!(stale.exists(), "reading takes no lock and removes nothing");
    case.run(&["record", "it-system", "--it-system", "DPG"])
        .success();
    assert!(!stale.exists());
    let names: Vec<String> = std::fs::read_dir(case.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

/// A real version-1 file (written by the previous release): read as it is, migrated
/// on the first change, the old file kept as `onboarding.toml.v1.bak`.
#[test]
fn a_version_1_case_is_migrated_on_first_write() {
    let case = Case::new();
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../cprlink-onboard/tests/fixtures/v1-administration-waiting.toml");
    let original = std::fs::read(&fixture).unwrap();
    std::fs::write(case.state(), &original).unwrap();
    let (json, code) = case.status_json();
    assert_eq!(code, 0);
    assert_eq!(json["steps"][1]["id"], "credential");
    assert_eq!(json["steps"][1]["facts"]["method"], "certificate");
    assert_eq!(json["steps"][4]["state"], "waiting");
    assert_eq!(case.state_bytes(), original, "status never writes");
    let a = case
        .run(&[
            "record",
            "cpr-approval",
            "--approved-on",
            "2026-11-20",
            "--done",
        ])
        .success();
    assert!(
        stderr(&a).contains("the old one is kept as onboarding.toml.v1.bak"),
        "{}",
        stderr(&a)
    );
    assert_eq!(
        std::fs::read(case.path("onboarding.toml.v1.bak")).unwrap(),
        original
    );
    let text = std::fs::read_to_string(case.state()).unwrap();
    assert!(text.contains("version = 2\n"));
    let md = stdout(&case.run(&["report"]).success());
    assert!(md.contains("Migrated from state version 1 to 2"), "{md}");
}

// ---- a real terminal ------------------------------------------------------------------

fn terminal(case: &Case, args: &[&str]) -> expectrl::session::OsSession {
    let bin = assert_cmd::cargo::cargo_bin("cprlink");
    let mut cmd = std::process::Command::new(bin);
    cmd.current_dir(case.dir.path())
        .env("NO_COLOR", "1")
        .env("USER", "ida")
        .env("TERM", "xterm")
        .env_remove("CPRLINK_NO_INPUT")
        .env_remove("CPRLINK_CONFIG")
        .env_remove("CPRLINK_OPERATOR")
        .arg("onboard")
        .args(args);
    let mut p = expectrl::Session::spawn(cmd).unwrap();
    p.set_expect_timeout(Some(std::time::Duration::from_secs(30)));
    p
}

/// Answers typed into the real binary on a pseudo-terminal: the route question at
/// `init`, then the walk of the administration route with the credential method (a
/// shared secret), a refused IP re-asked, then Ctrl-C mid-step. The state file keeps
/// every answer given before, whole.
#[test]
fn interactive_session_in_a_real_terminal() {
    use expectrl::Expect;

    let case = Case::new();
    // init asks for the route, explaining both; the second is Self-Service.
    let mut p = terminal(
        &case,
        &[
            "--state",
            "old.toml",
            "init",
            "--authority",
            "A",
            "--cvr",
            CVR,
        ],
    );
    p.expect("Which route? Datafordeler has two:").unwrap();
    p.expect("Closed to new sign-ups since 30 June 2026")
        .unwrap();
    p.send("\x1b[B").unwrap(); // arrow down: selfservice
    p.send("\r").unwrap();
    p.expect("closed the Self-Service route to new sign-ups")
        .unwrap();
    p.expect(expectrl::Eof).unwrap();
    let old = std::fs::read_to_string(case.path("old.toml")).unwrap();
    assert!(old.contains("route = \"selfservice\""), "{old}");

    let mut p = terminal(
        &case,
        &[
            "init",
            "--authority",
            "Aarhus Kommune",
            "--cvr",
            CVR,
            "--environment",
            "test",
        ],
    );
    p.expect("Route").unwrap();
    p.send("\r").unwrap(); // the default: administration
    p.expect("route administration, test environment").unwrap();
    p.expect(expectrl::Eof).unwrap();

    let mut p = terminal(&case, &[]);
    p.expect("Step 1 of 7: IT-system in Datafordeler Administration")
        .unwrap();
    p.expect("Name of the IT-system").unwrap();
    p.send_line("DPG CPR test").unwrap();
    p.expect("The IT-system's client id").unwrap();
    p.send_line("aarhus-dpg-04").unwrap();
    p.expect("Mark it-system done?").unwrap();
    p.send("y").unwrap();
    p.expect("Go on to the next step?").unwrap();
    p.send("y").unwrap();
    p.expect("Step 2 of 7: OAuth credential on the IT-system")
        .unwrap();
    p.expect("The IT-system's OAuth credential (certificate or shared-secret)")
        .unwrap();
    p.send("\x1b[B").unwrap(); // shared-secret
    p.send("\r").unwrap();
    p.expect("Copy the shared secret now").unwrap();
    p.expect("Date the shared secret was created").unwrap();
    p.send_line("").unwrap(); // today
    p.expect("Date the shared secret expires").unwrap();
    let expires = (Local::now().date_naive() + Duration::days(729)).to_string();
    p.send_line(&expires).unwrap();
    p.expect("Mark credential done?").unwrap();
    p.send("y").unwrap();
    p.expect("Go on to the next step?").unwrap();
    p.send("y").unwrap();
    p.expect("Step 3 of 7: IP allowlist").unwrap();
    p.expect("DPG service's fixed external IPv4 address")
        .unwrap();
    p.send_line("10.0.0.7").unwrap();
    p.expect("private address").unwrap();
    for _ in 0..8 {
        p.send("\x7f").unwrap();
    }
    p.send_line("80.62.117.20").unwrap();
    p.expect("Date the address was added").unwrap();
    p.send_line("").unwrap();
    p.expect("Mark ip-allowlist done?").unwrap();
    p.send("y").unwrap();
    p.expect("Go on to the next step?").unwrap();
    p.send("y").unwrap();
    p.expect("Step 4 of 7: CPR application").unwrap();
    p.expect("Datafordeler GraphQL og Fildownload").unwrap();
    p.expect("CPR service desk case number").unwrap();
    p.send("CPR-2026").unwrap();
    p.send("\x03").unwrap();
    // Exit 130, and the cursor is shown again.
    let rest = p.expect(expectrl::Eof).unwrap();
    let tail = String::from_utf8_lossy(rest.before()).into_owned();
    assert!(
        tail.contains("\x1b[?25h") || !tail.contains("\x1b[?25l"),
        "cursor left hidden: {tail:?}"
    );
    let status = p.get_process().wait().unwrap();
    assert_eq!(
        status,
        expectrl::process::unix::WaitStatus::Exited(p.get_process().pid(), 130),
        "{tail}"
    );

    let (json, _) = case.status_json();
    let steps = json["steps"].as_array().unwrap();
    assert_eq!(steps[0]["facts"]["client_id"], "aarhus-dpg-04");
    let cred = &steps[1];
    assert_eq!(cred["state"], "done");
    assert_eq!(cred["facts"]["method"], "shared-secret");
    assert_eq!(cred["facts"]["created_on"], today().as_str());
    assert_eq!(cred["facts"]["expires_on"], expires.as_str());
    assert_eq!(json["credential_expires_on"], expires.as_str());
    assert_eq!(steps[2]["facts"]["dpg_ip"], "80.62.117.20");
    assert_eq!(steps[2]["state"], "done");
    assert!(
        steps[3]["facts"].as_object().unwrap().is_empty(),
        "nothing half-typed is saved"
    );
    let text = std::fs::read_to_string(case.state()).unwrap();
    assert!(text.contains("who = \"ida\""));
    for e in std::fs::read_dir(case.dir.path()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "left behind {name}");
    }
    case.run(&["status"]).success();
}
