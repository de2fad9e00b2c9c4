//! `cprlink onboard renew` and the renewal's steps, end to end with certificates made
//! for the test (the test PKI: the authority's CVR, a new key, a later expiry): the
//! status lines at each step, refusals that leave the case file byte for byte, and the
//! renewal in the report's history.

use chrono::{Duration, Utc};
use cprlink_cert::openssl::pkey::{PKey, Private};
use cprlink_cert::openssl::x509::X509;
use cprlink_cert::testpki::{self, CaSpec, LeafSpec};

use super::{CVR, Case, days_ago, pki, stderr, stdout, today};

/// A certificate of the authority from the test PKI, valid for `days` more days, as
/// `NAME.pem` and `NAME.p12` (password in `p12.password`). Returns its SHA-1.
fn issue(case: &Case, name: &str, spec: LeafSpec, key: Option<&PKey<Private>>) -> String {
    let cert = match key {
        Some(k) => testpki::issue_leaf_for_key(&pki().issuing, &spec, k).unwrap(),
        None => pki().issue(&spec).map(|i| i.cert).unwrap(),
    };
    write(case, name, &cert, key.cloned(), &pki().issuing.cert)
}

fn write(
    case: &Case,
    name: &str,
    cert: &X509,
    key: Option<PKey<Private>>,
    issuing: &X509,
) -> String {
    std::fs::write(case.path(&format!("{name}.pem")), cert.to_pem().unwrap()).unwrap();
    if let Some(key) = key {
        let p12 = cprlink_cert::p12::build(
            &key,
            cert,
            std::slice::from_ref(issuing),
            None,
            "correct horse",
            cprlink_cert::Profile::Compat,
        )
        .unwrap();
        std::fs::write(case.path(&format!("{name}.p12")), p12).unwrap();
    }
    cprlink_cert::facts::sha1_thumbprint(cert).unwrap()
}

fn spec(days: i64) -> LeafSpec {
    let now = Utc::now();
    LeafSpec::oces3_system("Aarhus DPG CPR", "Aarhus Kommune", CVR)
        .valid(now - Duration::days(1), now + Duration::days(days))
}

/// A leaf and its key, with .pem and .p12 written.
fn issued(case: &Case, name: &str, days: i64) -> (String, PKey<Private>) {
    let leaf = pki().issue(&spec(days)).unwrap();
    let t = write(
        case,
        name,
        &leaf.cert,
        Some(leaf.key.clone()),
        &pki().issuing.cert,
    );
    (t, leaf.key)
}

/// The day `days` from now.
fn in_days(days: i64) -> String {
    (Utc::now() + Duration::days(days)).date_naive().to_string()
}

/// A line of `text` that contains every one of `parts`.
fn line_with<'a>(text: &'a str, parts: &[&str]) -> &'a str {
    text.lines()
        .find(|l| parts.iter().all(|p| l.contains(p)))
        .unwrap_or_else(|| panic!("no line with {parts:?} in:\n{text}"))
}

const PW: [&str; 2] = ["--password-file", "p12.password"];
const TRUST: [&str; 2] = ["--trust", "test-ca.pem"];

/// An administration case, test environment, complete with `old.pem` / `old.p12`.
fn completed(case: &Case, days: i64) -> (String, PKey<Private>) {
    std::fs::write(case.path("p12.password"), "correct horse\n").unwrap();
    std::fs::write(case.path("test-ca.pem"), pki().ca_bundle_pem().unwrap()).unwrap();
    let old = issued(case, "old", days);
    case.init(&["--environment", "test"]);
    let steps: [&[&str]; 7] = [
        &[
            "record",
            "it-system",
            "--it-system",
            "DPG CPR",
            "--client-id",
            "aarhus-dpg",
            "--done",
        ],
        &[
            "record",
            "credential",
            "--certificate",
            "old.pem",
            "--trust",
            "test-ca.pem",
            "--done",
        ],
        &[
            "record",
            "ip-allowlist",
            "--dpg-ip",
            "80.62.117.20",
            "--done",
        ],
        &[
            "record",
            "cpr-application",
            "--case-number",
            "CPR-1",
            "--applied-on",
            &days_ago(40),
            "--done",
        ],
        &[
            "record",
            "cpr-approval",
            "--approved-on",
            &days_ago(20),
            "--done",
        ],
        &[
            "record",
            "data-access",
            "--requested-on",
            &days_ago(19),
            "--granted-on",
            &days_ago(5),
            "--done",
        ],
        &[
            "record",
            "dpg-handover",
            "--p12",
            "old.p12",
            "--password-file",
            "p12.password",
            "--trust",
            "test-ca.pem",
            "--done",
        ],
    ];
    for args in steps {
        case.run(args).success();
    }
    old
}

#[test]
fn a_completed_case_is_renewed_end_to_end() {
    let case = Case::new();
    let (old, old_key) = completed(&case, 45);
    let old_expiry = in_days(45);

    // 45 days left: a renewal is due, and status says how to start it (exit 0).
    let out = stdout(&case.run(&["status"]).code(0));
    let w = line_with(&out, &["warning:", "a renewal is due"]);
    assert!(w.contains(&old_expiry), "{out}");
    assert!(
        one_line(&out).contains("`cprlink onboard renew --certificate NEW.pem`"),
        "{out}"
    );
    let (json, code) = case.status_json();
    assert_eq!((json["renewal_due"].as_bool(), code), (Some(true), 0));
    assert!(json["renewal"].is_null());

    // Not a renewal: refused, exit 2, the case file byte for byte the same.
    issue(
        &case,
        "other-cvr",
        LeafSpec::oces3_system("DPG", "Skatteforvaltningen", "19552101"),
        None,
    );
    let e = case.refused(
        &[&["renew", "--certificate", "other-cvr.pem"][..], &TRUST].concat(),
        2,
    );
    assert!(
        e.contains("not a renewal") && e.contains("another CVR") && e.contains("CVR 19552101"),
        "{e}"
    );
    issue(&case, "same-key", spec(3 * 365), Some(&old_key));
    let e = case.refused(
        &[&["renew", "--certificate", "same-key.pem"][..], &TRUST].concat(),
        2,
    );
    assert!(e.contains("the same key as the old one"), "{e}");
    issue(&case, "earlier", spec(40), None);
    let e = case.refused(
        &[&["renew", "--certificate", "earlier.pem"][..], &TRUST].concat(),
        2,
    );
    assert!(e.contains("not after the old one"), "{e}");
    // A CA named like the production OCES3 one: its certificates are production ones.
    let now = Utc::now();
    let named = |cn: &str, path_len| CaSpec {
        subject: vec![
            ("CN".into(), cn.into()),
            ("O".into(), "Den Danske Stat".into()),
            ("C".into(), "DK".into()),
        ],
        key_bits: 2048,
        signature: testpki::Signature::RsaPssSha512,
        not_before: now - Duration::days(10),
        not_after: now + Duration::days(4000),
        path_len,
    };
    let root = testpki::self_signed_ca(&named("Den Danske Stat OCES rod-CA", None)).unwrap();
    let ca = testpki::intermediate_ca(
        &root,
        &named("Den Danske Stat OCES udstedende-CA 1", Some(0)),
    )
    .unwrap();
    let prod = testpki::issue_leaf(&ca, &spec(3 * 365)).unwrap();
    write(&case, "production", &prod.cert, None, &ca.cert);
    let mut bundle = root.cert.to_pem().unwrap();
    bundle.extend(ca.cert.to_pem().unwrap());
    std::fs::write(case.path("prod-ca.pem"), bundle).unwrap();
    let e = case.refused(
        &[
            "renew",
            "--certificate",
            "production.pem",
            "--trust",
            "prod-ca.pem",
        ],
        2,
    );
    assert!(
        e.contains("another environment") && e.contains("targets the test environment"),
        "{e}"
    );
    // The renewal steps do not exist yet.
    let e = case.refused(&["record", "register-new", "--done"], 2);
    assert!(
        e.contains("belongs to a renewal, and none is in progress"),
        "{e}"
    );

    // The renewal starts.
    let (new, _) = issued(&case, "new", 3 * 365);
    let new_expiry = in_days(3 * 365);
    let a = case
        .run(&[&["renew", "--certificate", "new.pem"][..], &TRUST].concat())
        .success();
    let err = stderr(&a);
    assert!(
        one_line(&err).contains(&format!("Started the renewal: the new certificate SHA-1 {new}, expiring {new_expiry} replaces the certificate SHA-1 {old}, expiring {old_expiry}.")),
        "{err}"
    );
    assert!(
        err.contains("record register-new --registered-on DATE --done"),
        "{err}"
    );
    let e = case.refused(
        &[&["renew", "--certificate", "new.pem"][..], &TRUST].concat(),
        2,
    );
    assert!(e.contains("a renewal is in progress since"), "{e}");
    let e = case.refused(
        &[
            &["record", "credential", "--certificate", "new.pem"][..],
            &TRUST,
        ]
        .concat(),
        2,
    );
    assert!(
        e.contains("credential stays as it is until the renewal is done"),
        "{e}"
    );

    // Status: the old and the new side by side, the steps, what breaks on which date.
    let out = stdout(&case.run(&["status"]).code(0));
    line_with(
        &out,
        &[&format!("Renewal of the certificate, started {}", today())],
    );
    line_with(&out, &["old (in use)", "new"]);
    line_with(&out, &["SHA-1", &old, &new]);
    line_with(
        &out,
        &[
            "expires",
            &format!("{old_expiry} (45 days left)"),
            &format!("{new_expiry} ({} days left)", 3 * 365),
        ],
    );
    line_with(
        &out,
        &[
            " 1. not started",
            "New certificate registered on the IT-system (PEM) (register-new)",
        ],
    );
    line_with(&out, &[" 4. not started", "(retire-old)"]);
    line_with(&out, &["If the renewal stalls here:"]);
    line_with(
        &out,
        &[&format!("  {old_expiry} (install-dpg): DPG's lookups stop")],
    );
    line_with(&out, &["Next: Renewal: Upload the new certificate as PEM"]);
    assert!(!out.contains("a renewal is due"), "{out}");
    let (json, _) = case.status_json();
    let r = &json["renewal"];
    assert_eq!(r["method"], "certificate");
    assert_eq!(r["old"]["sha1_thumbprint"], old.as_str());
    assert_eq!(r["new"]["sha1_thumbprint"], new.as_str());
    assert_eq!(r["old"]["days_left"], 45);
    assert_eq!(r["current_step"], "register-new");
    assert_eq!(r["if_stalled"].as_array().unwrap().len(), 4);
    assert_eq!(
        json["next_command"],
        "cprlink onboard record register-new --registered-on DATE --done"
    );

    // `next` leads through the renewal's steps.
    let out = stdout(&case.run(&["next", "--no-input"]).success());
    line_with(
        &out,
        &["Renewal step 1 of 4: New certificate registered on the IT-system (PEM)"],
    );
    line_with(&out, &["SHA-1 thumbprint of the new certificate", &new]);
    line_with(
        &out,
        &["cprlink onboard record register-new --registered-on DATE --done"],
    );

    // register-new; its letter to support.
    let a = case.run(&["record", "register-new", "--done"]).success();
    assert!(stderr(&a).contains("register-new: done"), "{}", stderr(&a));
    let out = stdout(&case.run(&["status"]).code(0));
    line_with(&out, &[" 1. done", "(register-new)", &today()]);
    line_with(
        &out,
        &[
            " 2. not started",
            "New certificate installed at DPG (.p12) (install-dpg)",
        ],
    );
    assert!(!out.contains("(register-new): the lookups stop"), "{out}");
    let letter = stdout(
        &case
            .run(&["letter", "renewal-support", "--lang", "en"])
            .success(),
    );
    assert!(letter.starts_with("To: Datafordeler support\n"), "{letter}");
    assert!(
        one_line(&letter).contains(&new) && one_line(&letter).contains("aarhus-dpg"),
        "{letter}"
    );

    // install-dpg: the old .p12 is refused, the new one verified and recorded.
    let e = case.refused(
        &[
            &["record", "install-dpg", "--p12", "old.p12"][..],
            &PW,
            &TRUST,
        ]
        .concat(),
        2,
    );
    assert!(e.contains(&format!("(SHA-1 {new})")), "{e}");
    case.run(
        &[
            &["record", "install-dpg", "--p12", "new.p12", "--done"][..],
            &PW,
            &TRUST,
        ]
        .concat(),
    )
    .success();
    let out = stdout(&case.run(&["status"]).code(0));
    line_with(&out, &[" 2. done", "(install-dpg)"]);
    line_with(&out, &["p12_sha1_thumbprint: ", &new]);
    let note = stdout(&case.run(&["letter", "renewal-dpg"]).success());
    assert!(
        note.contains("DPG-kundeportalen") && note.contains(&old),
        "{note}"
    );

    // confirm, then retire-old: the new certificate is the case's own.
    case.run(&["record", "confirm", "--done"]).success();
    let out = stdout(&case.run(&["status"]).code(0));
    assert!(!out.contains("old (in use)"), "{out}");
    line_with(&out, &[" 3. done", "(confirm)"]);
    let a = case
        .run(&["record", "retire-old", "--retired-on", &today(), "--done"])
        .success();
    assert!(
        one_line(&stderr(&a)).contains("the renewal is done"),
        "{}",
        stderr(&a)
    );

    let out = stdout(&case.run(&["status"]).code(0));
    assert!(!out.contains("Renewal of the certificate"), "{out}");
    assert!(
        one_line(&out).contains(&format!(
            "Renewed on {}: the certificate SHA-1 {new} replaced the certificate SHA-1 {old}.",
            today()
        )),
        "{out}"
    );
    line_with(&out, &["certificate_sha1_thumbprint: ", &new]);
    assert!(!out.contains("warning:"), "{out}");
    assert!(
        one_line(&out).contains(&format!("Next: Onboarding is complete: DPG can connect to CPR. Renew the certificate before {new_expiry}")),
        "{out}"
    );
    let (json, code) = case.status_json();
    assert_eq!(code, 0);
    assert!(json["renewal"].is_null());
    assert_eq!(json["credential_expires_on"], new_expiry.as_str());
    assert_eq!(json["past_renewals"][0]["completed_on"], today().as_str());
    assert_eq!(
        json["steps"][6]["facts"]["p12_sha1_thumbprint"],
        new.as_str()
    );

    // The report shows the renewal and its history.
    let report = stdout(&case.run(&["report"]).success());
    assert!(report.contains(&old) && report.contains(&new), "{report}");
    for what in [
        format!("Renewal started: the new certificate SHA-1 {new}"),
        format!("Renewal done: the certificate SHA-1 {new}"),
        format!("| SHA-1 thumbprint | {old} | {new} |"),
        "New certificate installed at DPG (.p12)".to_owned(),
    ] {
        assert!(report.contains(&what), "{what}:\n{report}");
    }
    let html = stdout(
        &case
            .run(&["report", "--format", "html", "--lang", "da"])
            .success(),
    );
    assert!(
        html.contains("<h2>Fornyelser</h2>") && html.contains("<rect class=\"bar "),
        "{html}"
    );
    // The go-live config now names the new .p12.
    case.run(&["config"]).success();
    let config = std::fs::read_to_string(case.path("cprlink.toml")).unwrap();
    assert!(config.contains("new.p12"), "{config}");
}

#[test]
fn a_shared_secret_is_renewed_from_the_command_line() {
    let case = Case::new();
    case.init(&["--environment", "test"]);
    let steps: [&[&str]; 7] = [
        &[
            "record",
            "it-system",
            "--it-system",
            "DPG",
            "--client-id",
            "cid",
            "--done",
        ],
        &[
            "record",
            "credential",
            "--created-on",
            &days_ago(680),
            "--expires-on",
            &in_days(45),
            "--done",
        ],
        &[
            "record",
            "ip-allowlist",
            "--dpg-ip",
            "80.62.117.20",
            "--done",
        ],
        &["record", "cpr-application", "--case-number", "C", "--done"],
        &["record", "cpr-approval", "--done"],
        &[
            "record",
            "data-access",
            "--requested-on",
            &today(),
            "--done",
        ],
        &["record", "dpg-handover", "--done"],
    ];
    for args in steps {
        case.run(args).success();
    }
    let e = case.refused(&["renew", "--expires-on", &in_days(800)], 2);
    assert!(e.contains("at most 730"), "{e}");
    let a = case
        .run(&["renew", "--expires-on", &in_days(700)])
        .success();
    assert!(
        one_line(&stderr(&a)).contains("note: register-new is done"),
        "{}",
        stderr(&a)
    );
    let out = stdout(&case.run(&["status"]).code(0));
    line_with(&out, &["Renewal of the shared secret"]);
    line_with(&out, &["created", &days_ago(680), &today()]);
    line_with(
        &out,
        &[
            " 2. not started",
            "New shared secret given to DPG (install-dpg)",
        ],
    );
    let e = case.refused(&["record", "install-dpg", "--p12", "x.p12"], 2);
    assert!(
        e.contains("--p12 is not a field of step install-dpg"),
        "{e}"
    );
    for step in ["install-dpg", "confirm", "retire-old"] {
        case.run(&["record", step, "--done"]).success();
    }
    let (json, _) = case.status_json();
    assert_eq!(json["credential_expires_on"], in_days(700).as_str());
    assert!(json["warnings"].as_array().unwrap().is_empty(), "{json}");
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
