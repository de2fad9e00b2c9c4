//! The six steps of route `selfservice`, start to go-live, with every refusal on the way.

use cprlink_cert::{Environment, Generation, Kind};
use cprlink_onboard::state::Progress;
use cprlink_onboard::{Case, Error, Facts, Route, StepState, VerifyVerdict};

use crate::support::*;

const THUMB: &str = "0123456789ABCDEF0123456789ABCDEF01234567";

#[test]
fn whole_route_with_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, path) = new_case(dir.path(), Route::Selfservice, "2026-01-05");

    // --- 1 selfservice-user
    let err = refused(&path, || {
        case.record(
            "selfservice-user",
            &Facts::new().text("login_method", "sms"),
            false,
            &at("2026-01-05"),
        )
    });
    assert!(
        matches!(&err, Error::InvalidValue { flag, .. } if flag == "--login-method"),
        "{err}"
    );
    let err = refused(&path, || {
        case.record(
            "selfservice-user",
            &Facts::new().text("username", "  "),
            false,
            &at("2026-01-05"),
        )
    });
    assert!(err.to_string().contains("--username"), "{err}");
    let err = refused(&path, || {
        case.record(
            "selfservice-user",
            &Facts::new().text("case_number", "1"),
            false,
            &at("2026-01-05"),
        )
    });
    assert!(matches!(err, Error::UnknownField { .. }), "{err}");
    let err = refused(&path, || {
        case.record("no-such-step", &Facts::new(), true, &at("2026-01-05"))
    });
    assert!(
        err.to_string().contains("selfservice-user, service-user"),
        "{err}"
    );
    let err = refused(&path, || {
        case.record("selfservice-user", &Facts::new(), false, &at("2026-01-05"))
    });
    assert!(matches!(err, Error::NothingToRecord { .. }), "{err}");
    // Done needs both facts; it names the missing one.
    let err = refused(&path, || {
        case.record(
            "selfservice-user",
            &Facts::new().text("username", "aarhus-dpg"),
            true,
            &at("2026-01-05"),
        )
    });
    match &err {
        Error::MissingFacts { missing, .. } => {
            assert_eq!(missing, &["--login-method METHOD"])
        }
        other => panic!("{other}"),
    }
    // A later step cannot be done first.
    let err = refused(&path, || case.mark_done("service-user", &at("2026-01-05")));
    match &err {
        Error::EarlierStepsNotDone { pending, .. } => assert_eq!(pending, &["selfservice-user"]),
        other => panic!("{other}"),
    }
    let r = case
        .record(
            "selfservice-user",
            &Facts::new()
                .text("username", "aarhus-dpg")
                .text("login_method", "MitID"),
            true,
            &at("2026-01-05"),
        )
        .unwrap();
    assert!(r.marked_done);
    assert_eq!(
        case.facts("selfservice-user").unwrap()["login_method"],
        "mitid"
    );

    // --- 2 service-user: every certificate refusal
    let today = at("2026-01-06");
    let bad = |f: &dyn Fn(&mut cprlink_onboard::CertificateEvidence)| {
        let mut c = cert(THUMB, "2029-03-24");
        f(&mut c);
        c
    };
    let cases: Vec<(cprlink_onboard::CertificateEvidence, &str)> = vec![
        (bad(&|c| c.cvr = Some("19552101".into())), "CVR 19552101"),
        (bad(&|c| c.cvr = None), "no CVR"),
        (bad(&|c| c.kind = Kind::Employee), "employee certificate"),
        (bad(&|c| c.generation = Generation::Oces2), "OCES2"),
        (
            bad(&|c| c.environment = Environment::Test),
            "a test certificate",
        ),
        (bad(&|c| c.not_after = utc("2026-01-26")), "in 20 days"),
        (
            bad(&|c| c.not_after = utc("2025-12-31")),
            "expired on 2025-12-31",
        ),
        (
            bad(&|c| c.chain_problem = Some("unable to get local issuer certificate".into())),
            "does not chain to a trusted OCES3 root (unable to get local issuer certificate)",
        ),
    ];
    for (evidence, why) in cases {
        let err = refused(&path, || {
            case.record(
                "service-user",
                &Facts::new().certificate("certificate", evidence),
                false,
                &today,
            )
        });
        assert!(matches!(err, Error::CertificateRefused { .. }), "{err}");
        assert!(err.to_string().contains(why), "{why}: {err}");
    }
    let err = refused(&path, || {
        case.record(
            "service-user",
            &Facts::new().text("service_user", "dpg-cpr"),
            true,
            &today,
        )
    });
    assert!(err.to_string().contains("--certificate FILE"), "{err}");
    // Saved answer by answer, as the interactive flow does.
    case.record(
        "service-user",
        &Facts::new().text("service_user", "dpg-cpr"),
        false,
        &today,
    )
    .unwrap();
    assert_eq!(
        case.state().step("service-user").unwrap().progress,
        Progress::InProgress
    );
    case.record(
        "service-user",
        &Facts::new().certificate("certificate", cert(THUMB, "2029-03-24")),
        true,
        &today,
    )
    .unwrap();
    let facts = case.facts("service-user").unwrap();
    assert_eq!(facts["certificate_sha1_thumbprint"], THUMB);
    assert_eq!(facts["certificate_not_after"], "2029-03-24");
    assert_eq!(facts["certificate_cvr"], CVR);

    // --- 3 cpr-application
    let err = refused(&path, || {
        case.record(
            "cpr-application",
            &Facts::new().text("applied_on", "2026-01-13"),
            false,
            &at("2026-01-12"),
        )
    });
    assert!(err.to_string().contains("future"), "{err}");
    let err = refused(&path, || {
        case.record(
            "cpr-application",
            &Facts::new().text("applied_on", "12-01-2026"),
            false,
            &at("2026-01-12"),
        )
    });
    assert!(err.to_string().contains("YYYY-MM-DD"), "{err}");
    case.record(
        "cpr-application",
        &Facts::new().text("case_number", "CPR-2026-0042"),
        false,
        &at("2026-01-10"),
    )
    .unwrap();
    // Marked done without a date: applied today.
    let r = case
        .mark_done("cpr-application", &at("2026-01-12"))
        .unwrap();
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("--applied-on set to today")),
        "{:?}",
        r.notes
    );
    assert_eq!(
        case.facts("cpr-application").unwrap()["applied_on"],
        "2026-01-12"
    );

    // --- 4 cpr-approval: waiting, then dates in order
    let s = case.status(day("2026-02-01"));
    let step = s.steps.iter().find(|s| s.id == "cpr-approval").unwrap();
    assert_eq!(step.state, StepState::Waiting);
    assert_eq!(step.waiting_days, Some(20));
    assert!(
        s.next_action.contains("case CPR-2026-0042"),
        "{}",
        s.next_action
    );
    let err = refused(&path, || {
        case.record(
            "cpr-approval",
            &Facts::new().text("approved_on", "2026-01-11"),
            true,
            &at("2026-02-03"),
        )
    });
    assert!(
        err.to_string()
            .contains("before cpr-application --applied-on 2026-01-12"),
        "{err}"
    );
    case.record(
        "cpr-approval",
        &Facts::new()
            .text("approved_on", "2026-02-03")
            .text("approval_reference", "J.nr. 26-1234"),
        true,
        &at("2026-02-03"),
    )
    .unwrap();
    // An earlier date cannot be moved past a later one either.
    let err = refused(&path, || {
        case.record(
            "cpr-application",
            &Facts::new().text("applied_on", "2026-02-04"),
            false,
            &at("2026-02-05"),
        )
    });
    assert!(err.to_string().contains("--approved-on"), "{err}");

    // --- 5 production-access: only public IPv4
    for (ip, why) in [
        ("10.20.30.40", "private"),
        ("2a00:1450:4001::1", "IPv6"),
        ("127.0.0.1", "loopback"),
        ("100.70.1.1", "carrier-grade NAT"),
        ("169.254.1.1", "link-local"),
        ("198.51.100.4", "documentation"),
    ] {
        let err = refused(&path, || {
            case.record(
                "production-access",
                &Facts::new().text("dpg_ip", ip),
                false,
                &at("2026-02-04"),
            )
        });
        assert!(err.to_string().contains(why), "{ip}: {err}");
    }
    case.record(
        "production-access",
        &Facts::new()
            .text("dpg_ip", "80.62.117.20")
            .text("requested_on", "2026-02-04")
            .text("support_ticket", "DAF-99812"),
        false,
        &at("2026-02-04"),
    )
    .unwrap();
    let s = case.status(day("2026-02-09"));
    let step = s
        .steps
        .iter()
        .find(|s| s.id == "production-access")
        .unwrap();
    assert_eq!(
        (step.state, step.waiting_days),
        (StepState::Waiting, Some(5))
    );
    assert_eq!(step.waiting_on.as_deref(), Some("Datafordeler support"));
    let err = refused(&path, || {
        case.record(
            "production-access",
            &Facts::new().text("confirmed_on", "2026-02-03"),
            true,
            &at("2026-02-10"),
        )
    });
    assert!(err.to_string().contains("dates must be in order"), "{err}");
    case.record(
        "production-access",
        &Facts::new().text("confirmed_on", "2026-02-10"),
        true,
        &at("2026-02-10"),
    )
    .unwrap();

    // --- 6 dpg-handover: verified, and the registered certificate
    let err = refused(&path, || {
        let ev = handover(
            cert(THUMB, "2029-03-24"),
            VerifyVerdict::Fail,
            &["chain", "key_match"],
        );
        case.record(
            "dpg-handover",
            &Facts::new().handover("p12", ev),
            false,
            &at("2026-02-11"),
        )
    });
    assert!(
        err.to_string().contains("failed checks: chain, key_match"),
        "{err}"
    );
    let err = refused(&path, || {
        let other = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF";
        let ev = handover(cert(other, "2029-03-24"), VerifyVerdict::Pass, &[]);
        case.record(
            "dpg-handover",
            &Facts::new().handover("p12", ev),
            false,
            &at("2026-02-11"),
        )
    });
    assert!(
        err.to_string()
            .contains("not the one registered at Datafordeler"),
        "{err}"
    );
    let ev = handover(cert(THUMB, "2029-03-24"), VerifyVerdict::Warn, &[]);
    case.record(
        "dpg-handover",
        &Facts::new()
            .handover("p12", ev)
            .text("received_by", "Jens, DPG Service Center"),
        true,
        &at("2026-02-11"),
    )
    .unwrap();

    let s = case.status(day("2026-02-12"));
    assert!(s.complete && !s.blocked, "{s:?}");
    assert!(s.steps.iter().all(|s| s.state == StepState::Done));
    assert!(
        s.next_action.starts_with("Onboarding is complete"),
        "{}",
        s.next_action
    );
    assert_eq!(
        case.facts("dpg-handover").unwrap()["handed_over_on"],
        "2026-02-11"
    );

    // The file on disk says the same as memory, and the history names who did what.
    let reread = Case::load(&path).unwrap();
    assert_eq!(reread.state(), case.state());
    let h = &reread.state().history;
    assert!(h.iter().all(|e| e.who == "tester"));
    assert!(
        h.iter()
            .any(|e| e.step.as_deref() == Some("production-access")
                && e.what.contains("dpg_ip = 80.62.117.20"))
    );
    assert!(h.last().unwrap().what.contains("marked done"));
    no_temp_files(dir.path());
}

#[test]
fn real_oces3_certificate_from_shared() {
    let file = testdata_dir().join("oces3/example-prod-system-cert.pem");
    let loaded = cprlink_cert::load(&file, None).unwrap();
    let facts = cprlink_cert::CertFacts::of(loaded.leaf().unwrap(), chrono::Utc::now()).unwrap();
    let evidence =
        cprlink_onboard::CertificateEvidence::from_facts(file.display().to_string(), &facts);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("onboarding.toml");
    let new = |cvr: &str| cprlink_onboard::NewCase {
        authority: "Skatteforvaltningen".into(),
        cvr: cvr.into(),
        route: Route::Selfservice,
        environment: cprlink_onboard::TargetEnvironment::Production,
        contact_name: None,
        contact_email: None,
    };
    let mut case = Case::init(&path, new("19552101"), &at("2026-01-05")).unwrap();
    case.record(
        "service-user",
        &Facts::new().certificate("certificate", evidence.clone()),
        false,
        &at("2026-01-05"),
    )
    .unwrap();
    assert_eq!(
        case.facts("service-user").unwrap()["certificate_not_after"],
        "2029-03-24"
    );
    assert_eq!(
        case.facts("service-user").unwrap()["certificate_cvr"],
        "19552101"
    );

    // The same certificate for another authority is refused, and so is the test one.
    let other = dir.path().join("other.toml");
    let mut case = Case::init(&other, new("12345674"), &at("2026-01-05")).unwrap();
    let err = refused(&other, || {
        case.record(
            "service-user",
            &Facts::new().certificate("certificate", evidence.clone()),
            false,
            &at("2026-01-05"),
        )
    });
    assert!(err.to_string().contains("CVR 19552101"), "{err}");

    let test_file = testdata_dir().join("oces3/example-test-system-cert.pem");
    let loaded = cprlink_cert::load(&test_file, None).unwrap();
    let facts = cprlink_cert::CertFacts::of(loaded.leaf().unwrap(), chrono::Utc::now()).unwrap();
    let test_ev = cprlink_onboard::CertificateEvidence::from_facts("test.pem", &facts);
    let third = dir.path().join("third.toml");
    let mut case = Case::init(&third, new("19552101"), &at("2026-01-05")).unwrap();
    let err = refused(&third, || {
        case.record(
            "service-user",
            &Facts::new().certificate("certificate", test_ev.clone()),
            false,
            &at("2026-01-05"),
        )
    });
    assert!(err.to_string().contains("test certificate"), "{err}");
}

#[test]
fn init_refuses_bad_input_and_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_case, path) = new_case(dir.path(), Route::Selfservice, "2026-01-05");
    let before = std::fs::read(&path).unwrap();
    let mk = |cvr: &str, email: Option<&str>| cprlink_onboard::NewCase {
        authority: "X".into(),
        cvr: cvr.into(),
        route: Route::Selfservice,
        environment: cprlink_onboard::TargetEnvironment::Production,
        contact_name: None,
        contact_email: email.map(str::to_owned),
    };
    let err = Case::init(&path, mk(CVR, None), &at("2026-01-05")).unwrap_err();
    assert!(matches!(err, Error::StateExists { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let fresh = dir.path().join("fresh.toml");
    for (cvr, email, flag) in [
        ("1234567", None, "--cvr"),
        (CVR, Some("nope"), "--contact-email"),
    ] {
        let err = Case::init(&fresh, mk(cvr, email), &at("2026-01-05")).unwrap_err();
        assert!(err.to_string().contains(flag), "{err}");
        assert!(!fresh.exists());
    }
}
