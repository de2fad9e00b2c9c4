//! `cprlink onboard`: the commands end to end on real files, the SPEC's JSON, exit codes,
//! refusals that leave the state file byte for byte, and one real-terminal session.

use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::{Duration, Local, Utc};
use cprlink_cert::testpki::{LeafSpec, TestPki};
use serde_json::Value;

use crate::support::{cprlink, shared_dir};

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
    case.init(&[]);
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
    case.init(&["--environment", "test", "--contact-name", "Ida Hansen"]);
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
    let note = stdout(&case.run(&["letter", "dpg-handover"]).success());
    assert!(
        note.contains(&thumb) && note.contains("anden kanal"),
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
        md.contains("| ida | production-access |"),
        "the history names the OS user:\n{md}"
    );
}

#[test]
fn refused_values_change_nothing() {
    let case = Case::new();
    case.init(&[]);
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
    let prod = shared_dir().join("oces3/example-prod-system-cert.pem");
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
    ])
    .success();
    let prod = shared_dir().join("oces3/example-prod-system-cert.pem");
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
    let test = shared_dir().join("oces3/example-test-system-cert.pem");
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
    case.init(&["--environment", "test"]);
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
    case.init(&[]);
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
        shared_dir()
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
        "12345678",
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
    case.init(&[]);
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
    assert!(e.contains("will not overwrite it"), "{e}");
    case.refused(&["status"], 2);

    std::fs::write(case.state(), good.replacen("version = 1", "version = 9", 1)).unwrap();
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
    case.run(&["init", "--authority", "Læsø Kommune", "--cvr", "29189986"])
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

// ---- a real terminal ------------------------------------------------------------------

/// Answers typed into the real binary on a pseudo-terminal: a bad date is re-asked,
/// then Ctrl-C mid-step. The state file keeps every answer given before, whole.
#[test]
fn interactive_session_in_a_real_terminal() {
    use expectrl::{Expect, Session};

    let case = Case::new();
    case.init(&["--environment", "test"]);
    let (cer, _) = case.certificate(3 * 365);
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

    let bin = assert_cmd::cargo::cargo_bin("cprlink");
    let mut cmd = std::process::Command::new(bin);
    cmd.current_dir(case.dir.path())
        .env("NO_COLOR", "1")
        .env("USER", "ida")
        .env("TERM", "xterm")
        .env_remove("CPRLINK_NO_INPUT")
        .env_remove("CPRLINK_CONFIG")
        .arg("onboard");
    let mut p = Session::spawn(cmd).unwrap();
    p.set_expect_timeout(Some(std::time::Duration::from_secs(30)));
    p.expect("Step 3 of 6: CPR application").unwrap();
    p.expect("CprPersonSmallSimple (PersonSmallCurrentListSimple)")
        .unwrap();
    p.expect("CPR service desk case number").unwrap();
    p.send_line("CPR-2026-0042").unwrap();
    p.expect("Date the virk.dk application was sent").unwrap();
    // Replace the default (today) with a bad date: re-asked with the reason.
    for _ in 0..12 {
        p.send("\x7f").unwrap();
    }
    p.send_line("2026-13-40").unwrap();
    p.expect("YYYY-MM-DD").unwrap();
    for _ in 0..12 {
        p.send("\x7f").unwrap();
    }
    p.send_line(days_ago(3)).unwrap();
    p.expect("virk.dk receipt number").unwrap();
    p.send_line("").unwrap();
    p.expect("Mark cpr-application done?").unwrap();
    p.send("y").unwrap();
    p.expect("Go on to the next step?").unwrap();
    p.send("y").unwrap();
    p.expect("Has the CPR service desk answered?").unwrap();
    p.send("y").unwrap();
    p.expect("Date of the CPR approval").unwrap();
    p.send("2026-").unwrap();
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

    let text = std::fs::read_to_string(case.state()).unwrap();
    let parsed: toml::Table = toml::from_str(&text).unwrap();
    let steps = parsed["step"].as_array().unwrap();
    let app = &steps[2];
    assert_eq!(app["progress"].as_str(), Some("done"));
    assert_eq!(app["facts"]["case_number"].as_str(), Some("CPR-2026-0042"));
    assert_eq!(
        app["facts"]["applied_on"].as_str(),
        Some(days_ago(3).as_str())
    );
    assert!(app["facts"].get("virk_receipt").is_none());
    assert!(
        steps[3]["facts"].as_table().unwrap().is_empty(),
        "nothing half-typed is saved"
    );
    for e in std::fs::read_dir(case.dir.path()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "left behind {name}");
    }
    // And the file still reads as a case.
    case.run(&["status"]).success();
}
