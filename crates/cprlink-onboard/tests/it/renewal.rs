//! Renewal after go-live: started on a completed case, refused when it is not a renewal
//! (nothing changed), its four steps, the status with both credentials and what breaks
//! when, the end (the new credential becomes the case's own), and its shared-secret twin.

use cprlink_onboard::{
    Case, Error, Facts, Language, LetterKind, NewCredential, RenewalEvidence, Route, StepState,
    VerifyVerdict, letters,
};

use crate::support::*;

const OLD: &str = "1111111111111111111111111111111111111111";
const NEW: &str = "2222222222222222222222222222222222222222";

/// An administration case with a certificate expiring on `expires`, complete.
fn completed_with_certificate(dir: &std::path::Path, expires: &str) -> (Case, std::path::PathBuf) {
    let (mut case, path) = new_case(dir, Route::Administration, "2026-03-02");
    let d = at("2026-03-02");
    let steps = [
        (
            "it-system",
            Facts::new()
                .text("it_system", "DPG CPR opslag")
                .text("client_id", "a1b2c3d4-dpg"),
        ),
        (
            "credential",
            Facts::new().certificate("certificate", cert(OLD, expires)),
        ),
        ("ip-allowlist", Facts::new().text("dpg_ip", "80.62.117.20")),
        (
            "cpr-application",
            Facts::new()
                .text("case_number", "CPR-1")
                .text("applied_on", "2026-03-02"),
        ),
        (
            "cpr-approval",
            Facts::new().text("approved_on", "2026-03-02"),
        ),
        (
            "data-access",
            Facts::new()
                .text("requested_on", "2026-03-02")
                .text("granted_on", "2026-03-02"),
        ),
        (
            "dpg-handover",
            Facts::new().handover(
                "p12",
                handover(cert(OLD, expires), VerifyVerdict::Pass, &[]),
            ),
        ),
    ];
    for (id, f) in steps {
        case.record(id, &f, true, &d).unwrap();
    }
    assert!(case.status(day("2026-03-02")).complete);
    (case, path)
}

/// The binary's verdict for a certificate that renews OLD.
fn renewal(thumb: &str, expires: &str) -> NewCredential {
    NewCredential::Certificate(RenewalEvidence {
        certificate: cprlink_onboard::CertificateEvidence {
            file: "/certs/new.pem".to_owned(),
            ..cert(thumb, expires)
        },
        compared_with: OLD.to_owned(),
        problems: Vec::new(),
    })
}

#[test]
fn a_renewal_is_due_60_days_ahead_and_urgent_14_days_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let (case, _) = completed_with_certificate(dir.path(), "2029-01-01");
    let s = case.status(day("2028-10-01"));
    assert!(!s.renewal_due && !s.needs_attention());
    let s = case.status(day("2028-11-02"));
    assert!(s.renewal_due && !s.needs_attention(), "{s:?}");
    assert!(
        s.next_action
            .starts_with("Onboarding is complete. A renewal is due: ")
            && s.next_action.contains("in 60 days")
            && s.next_action
                .contains("`cprlink onboard renew --certificate NEW.pem`"),
        "{}",
        s.next_action
    );
    let s = case.status(day("2028-12-18"));
    assert!(s.expires_soon && s.needs_attention() && !s.blocked, "{s:?}");
}

#[test]
fn refusals_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, path) = completed_with_certificate(dir.path(), "2029-01-01");
    let today = at("2028-11-15");

    // What cprlink_cert found wrong, said as it is.
    let mut other = renewal(NEW, "2031-11-01");
    if let NewCredential::Certificate(ev) = &mut other {
        ev.certificate.cvr = Some("19552101".into());
        ev.problems = vec!["another CVR (19552101 here, 29189846 on the old one)".into()];
    }
    let err = refused(&path, || case.renew(&other, &today));
    let msg = err.to_string();
    assert!(matches!(err, Error::RenewalRefused { .. }), "{err}");
    assert!(
        msg.contains("CVR 19552101") && msg.contains("another CVR"),
        "{msg}"
    );

    // Earlier expiry, even when the comparison missed it.
    let err = refused(&path, || case.renew(&renewal(NEW, "2028-12-31"), &today));
    assert!(
        err.to_string()
            .contains("not after the current one (2029-01-01)"),
        "{err}"
    );

    // The very certificate registered.
    let err = refused(&path, || case.renew(&renewal(OLD, "2031-11-01"), &today));
    assert!(err.to_string().contains("already registered"), "{err}");

    // Compared with another certificate than the case's.
    let mut wrong = renewal(NEW, "2031-11-01");
    if let NewCredential::Certificate(ev) = &mut wrong {
        ev.compared_with = "3".repeat(40);
    }
    let err = refused(&path, || case.renew(&wrong, &today));
    assert!(
        err.to_string().contains("compare it with that one"),
        "{err}"
    );

    // Another environment.
    let mut test = renewal(NEW, "2031-11-01");
    if let NewCredential::Certificate(ev) = &mut test {
        ev.certificate.environment = cprlink_cert::Environment::Test;
    }
    let err = refused(&path, || case.renew(&test, &today));
    assert!(err.to_string().contains("test certificate"), "{err}");

    // A shared secret for a certificate case: that is a rotation.
    let secret = NewCredential::SharedSecret {
        created_on: "2028-11-15".into(),
        expires_on: "2030-11-01".into(),
    };
    let err = refused(&path, || case.renew(&secret, &today));
    assert!(
        err.to_string()
            .contains("record credential --method shared-secret"),
        "{err}"
    );

    // The renewal's steps do not exist without a renewal.
    let err = refused(&path, || case.mark_done("register-new", &today));
    assert!(matches!(err, Error::NoRenewal { .. }), "{err}");
}

#[test]
fn an_unfinished_case_cannot_be_renewed() {
    let dir = tempfile::tempdir().unwrap();
    let (case, path) = new_case(dir.path(), Route::Administration, "2026-03-02");
    let mut case = case;
    let err = refused(&path, || {
        case.renew(&renewal(NEW, "2031-11-01"), &at("2026-03-02"))
    });
    match err {
        Error::NotComplete { pending } => assert_eq!(pending.len(), 7),
        other => panic!("{other}"),
    }
}

#[test]
fn a_certificate_is_renewed_step_by_step() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, path) = completed_with_certificate(dir.path(), "2029-01-01");
    let r = case
        .renew(&renewal(NEW, "2031-11-01"), &at("2028-11-15"))
        .unwrap();
    assert_eq!(r.changed, ["renewal"]);

    // Status: both certificates, the steps, and what breaks on the old one's expiry.
    let s = case.status(day("2028-11-20"));
    assert!(
        s.complete && !s.renewal_due && !s.needs_attention(),
        "{s:?}"
    );
    let rs = s.renewal.as_ref().unwrap();
    assert_eq!(rs.old.sha1_thumbprint.as_deref(), Some(OLD));
    assert_eq!(rs.old.days_left, Some(42));
    assert_eq!(rs.new.sha1_thumbprint.as_deref(), Some(NEW));
    assert_eq!(rs.new.expires_on, Some(day("2031-11-01")));
    assert_eq!(rs.current_step.as_deref(), Some("register-new"));
    let ids: Vec<_> = rs.if_stalled.iter().map(|c| c.step.as_str()).collect();
    assert_eq!(
        ids,
        ["register-new", "install-dpg", "confirm", "retire-old"]
    );
    assert!(rs.if_stalled.iter().all(|c| c.on == day("2029-01-01")));
    assert!(rs.if_stalled[1].message.contains("DPG's lookups stop"));
    assert_eq!(
        s.next_command.as_deref(),
        Some("cprlink onboard record register-new --registered-on DATE --done")
    );
    assert!(
        s.next_action
            .starts_with("Renewal: Upload the new certificate as PEM"),
        "{}",
        s.next_action
    );

    // Meanwhile the onboarding's credential and handover stay as they are.
    let err = refused(&path, || {
        case.record(
            "credential",
            &Facts::new().certificate("certificate", cert(NEW, "2031-11-01")),
            false,
            &at("2028-11-20"),
        )
    });
    assert!(matches!(err, Error::RenewalInProgress { .. }), "{err}");
    let err = refused(&path, || {
        case.renew(&renewal(NEW, "2031-11-01"), &at("2028-11-20"))
    });
    assert!(err.to_string().contains("finish it"), "{err}");

    // Steps in order, dates in order.
    let err = refused(&path, || case.mark_done("install-dpg", &at("2028-11-20")));
    assert!(matches!(err, Error::EarlierStepsNotDone { .. }), "{err}");
    case.record(
        "register-new",
        &Facts::new().text("registered_on", "2028-11-19"),
        true,
        &at("2028-11-20"),
    )
    .unwrap();
    // The .p12 of the old certificate is not the renewal.
    let err = refused(&path, || {
        case.record(
            "install-dpg",
            &Facts::new().handover(
                "p12",
                handover(cert(OLD, "2029-01-01"), VerifyVerdict::Pass, &[]),
            ),
            false,
            &at("2028-11-20"),
        )
    });
    assert!(err.to_string().contains(&format!("(SHA-1 {NEW})")), "{err}");
    let err = refused(&path, || {
        case.record(
            "install-dpg",
            &Facts::new()
                .handover(
                    "p12",
                    handover(cert(NEW, "2031-11-01"), VerifyVerdict::Pass, &[]),
                )
                .text("installed_on", "2028-11-18"),
            true,
            &at("2028-11-20"),
        )
    });
    assert!(err.to_string().contains("dates must be in order"), "{err}");
    let r = case
        .record(
            "install-dpg",
            &Facts::new()
                .handover(
                    "p12",
                    handover(cert(NEW, "2031-11-01"), VerifyVerdict::Pass, &[]),
                )
                .text("received_by", "Bo at DPG"),
            true,
            &at("2028-11-20"),
        )
        .unwrap();
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("--via service-center (implied by --received-by)")),
        "{:?}",
        r.notes
    );
    let s = case.status(day("2028-11-20"));
    let rs = s.renewal.as_ref().unwrap();
    assert_eq!(rs.steps[1].state, StepState::Done);
    assert_eq!(rs.steps[1].done_on, Some(day("2028-11-20")));
    assert_eq!(rs.if_stalled.len(), 2);

    // The letters of a renewal.
    let l = letters::render(LetterKind::RenewalDpg, Language::En, &case).unwrap();
    let body = one_line(&l.body);
    for s in [
        NEW,
        OLD,
        "Please install it at once",
        "(dpg-handover.p12)",
        "2029-01-01",
        "a1b2c3d4-dpg",
    ] {
        assert!(body.contains(s), "{s}: {body}");
    }
    let l = letters::render(LetterKind::RenewalSupport, Language::Da, &case).unwrap();
    let body = one_line(&l.body);
    assert!(
        body.contains("2028-11-19") && body.contains("DPG CPR opslag"),
        "{body}"
    );

    // confirm, retire-old: the new certificate is the case's own.
    case.record(
        "confirm",
        &Facts::new().text("confirmed_on", "2028-11-21"),
        true,
        &at("2028-11-21"),
    )
    .unwrap();
    // Once a lookup worked with the new certificate, the old one may run out.
    assert!(!case.status(day("2028-12-28")).needs_attention());
    let r = case.mark_done("retire-old", &at("2028-11-22")).unwrap();
    assert!(
        r.notes.iter().any(|n| n.contains("the renewal is done")),
        "{:?}",
        r.notes
    );
    drop(case);

    let case = Case::load(&path).unwrap();
    let st = case.state();
    assert!(st.renewal.is_none());
    assert_eq!(st.past_renewals.len(), 1);
    let past = &st.past_renewals[0];
    assert_eq!(past.completed_on, Some(day("2028-11-22")));
    assert_eq!(past.old["certificate_sha1_thumbprint"], OLD);
    assert_eq!(
        st.fact("credential", "certificate_sha1_thumbprint"),
        Some(NEW)
    );
    assert_eq!(
        st.fact("credential", "certificate_file"),
        Some("/certs/new.pem")
    );
    assert_eq!(st.fact("dpg-handover", "p12_sha1_thumbprint"), Some(NEW));
    // The original handover's own facts stay.
    assert_eq!(st.fact("dpg-handover", "via"), Some("portal"));
    let last = st.history.last().unwrap();
    assert!(last.what.starts_with("renewal done"), "{}", last.what);
    assert_eq!(last.previous["credential.certificate_sha1_thumbprint"], OLD);

    let s = case.status(day("2028-11-22"));
    assert!(s.complete && s.renewal.is_none() && !s.renewal_due, "{s:?}");
    assert_eq!(s.credential_expires_on, Some(day("2031-11-01")));
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert_eq!(s.past_renewals.len(), 1);
    assert!(
        s.past_renewals[0]
            .steps
            .iter()
            .all(|s| s.state == StepState::Done)
    );
    // And the next renewal compares with the new certificate.
    assert!(
        case.check_renewal(
            &renewal("4".repeat(40).as_str(), "2034-01-01"),
            &at("2031-09-01")
        )
        .is_err()
    );
}

#[test]
fn a_stalled_renewal_says_no_14_days_before_the_old_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, _) = completed_with_certificate(dir.path(), "2029-01-01");
    case.renew(&renewal(NEW, "2031-11-01"), &at("2028-11-15"))
        .unwrap();
    assert!(case.status(day("2028-12-18")).needs_attention());
    let s = case.status(day("2029-01-02"));
    assert!(s.blocked, "{s:?}");
    assert!(
        s.blockers[0].contains("old credential expired on 2029-01-01"),
        "{:?}",
        s.blockers
    );
}

#[test]
fn a_shared_secret_is_rotated_as_a_renewal() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, path) = new_case(dir.path(), Route::Administration, "2026-03-02");
    let d = at("2026-03-02");
    case.record(
        "it-system",
        &Facts::new()
            .text("it_system", "DPG")
            .text("client_id", "cid"),
        true,
        &d,
    )
    .unwrap();
    case.record(
        "credential",
        &Facts::new()
            .text("created_on", "2026-03-01")
            .text("expires_on", "2028-02-29"),
        true,
        &d,
    )
    .unwrap();
    for (id, f) in [
        ("ip-allowlist", Facts::new().text("dpg_ip", "80.62.117.20")),
        ("cpr-application", Facts::new().text("case_number", "C")),
        ("cpr-approval", Facts::new()),
        (
            "data-access",
            Facts::new().text("requested_on", "2026-03-02"),
        ),
        ("dpg-handover", Facts::new()),
    ] {
        case.record(id, &f, true, &d).unwrap();
    }
    let today = at("2028-01-10");
    let secret = |c: &str, e: &str| NewCredential::SharedSecret {
        created_on: c.into(),
        expires_on: e.into(),
    };
    let err = refused(&path, || {
        case.renew(&secret("2028-01-10", "2030-01-31"), &today)
    });
    assert!(err.to_string().contains("at most 730"), "{err}");
    let err = refused(&path, || {
        case.renew(&secret("2028-01-10", "2028-01-30"), &today)
    });
    assert!(err.to_string().contains("--expires-on"), "{err}");
    let r = case
        .renew(&secret("2028-01-09", "2030-01-08"), &today)
        .unwrap();
    assert!(
        r.notes.iter().any(|n| n.contains("created on 2028-01-09")),
        "{:?}",
        r.notes
    );
    let s = case.status(day("2028-01-10"));
    let rs = s.renewal.as_ref().unwrap();
    assert_eq!(rs.steps[0].state, StepState::Done);
    assert_eq!(rs.current_step.as_deref(), Some("install-dpg"));
    assert_eq!(rs.old.expires_on, Some(day("2028-02-29")));
    assert_eq!(rs.new.created_on, Some(day("2028-01-09")));
    assert!(rs.old.sha1_thumbprint.is_none());
    // No .p12 for a secret.
    let err = refused(&path, || {
        case.record(
            "install-dpg",
            &Facts::new().handover(
                "p12",
                handover(cert(NEW, "2031-01-01"), VerifyVerdict::Pass, &[]),
            ),
            false,
            &today,
        )
    });
    assert!(matches!(err, Error::UnknownField { .. }), "{err}");
    let l = letters::render(LetterKind::RenewalDpg, Language::Da, &case).unwrap();
    assert!(
        one_line(&l.body).contains("Udløber: 2030-01-08"),
        "{}",
        l.body
    );
    for id in ["install-dpg", "confirm", "retire-old"] {
        case.mark_done(id, &today).unwrap();
    }
    let st = case.state();
    assert_eq!(st.fact("credential", "expires_on"), Some("2030-01-08"));
    assert_eq!(
        st.fact("dpg-handover", "secret_expires_on"),
        Some("2030-01-08")
    );
    let s = case.status(day("2028-01-10"));
    assert!(s.complete && s.warnings.is_empty(), "{s:?}");
}

#[test]
fn a_selfservice_certificate_is_renewed_on_the_service_user() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, _) = new_case(dir.path(), Route::Selfservice, "2026-03-01");
    let d = at("2026-03-05");
    for (id, f) in [
        (
            "selfservice-user",
            Facts::new()
                .text("username", "u")
                .text("login_method", "mitid"),
        ),
        (
            "service-user",
            Facts::new()
                .text("service_user", "dpg-cpr")
                .certificate("certificate", cert(OLD, "2029-01-01")),
        ),
        ("cpr-application", Facts::new().text("case_number", "C")),
        ("cpr-approval", Facts::new()),
        (
            "production-access",
            Facts::new().text("dpg_ip", "80.62.117.20"),
        ),
        (
            "dpg-handover",
            Facts::new().handover(
                "p12",
                handover(cert(OLD, "2029-01-01"), VerifyVerdict::Pass, &[]),
            ),
        ),
    ] {
        case.record(id, &f, true, &d).unwrap();
    }
    case.renew(&renewal(NEW, "2031-11-01"), &at("2028-11-15"))
        .unwrap();
    let def = case.step("register-new").unwrap();
    assert!(def.what.contains("CER"), "{}", def.what);
    let values = case.exact_values(def);
    assert!(values.iter().any(|(_, v)| v == NEW), "{values:?}");
    assert!(values.iter().any(|(_, v)| v == "dpg-cpr"), "{values:?}");
    let l = letters::render(LetterKind::RenewalSupport, Language::En, &case).unwrap_err();
    assert!(
        l.to_string().contains("register-new (--registered-on)"),
        "{l}"
    );
}

#[test]
fn a_renewal_in_the_file_is_checked_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, path) = completed_with_certificate(dir.path(), "2029-01-01");
    case.renew(&renewal(NEW, "2031-11-01"), &at("2028-11-15"))
        .unwrap();
    drop(case);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("[renewal]") && text.contains("[[renewal.step]]"),
        "{text}"
    );
    assert!(Case::load(&path).unwrap().renewal().is_some());
    for (from, to, says) in [
        (
            "method = \"certificate\"\nstarted_on",
            "method = \"paper\"\nstarted_on",
            "`method`",
        ),
        (
            "id = \"confirm\"",
            "id = \"celebrate\"",
            "its steps must be",
        ),
        (
            &format!("certificate_sha1_thumbprint = \"{NEW}\""),
            "certificate_sha1_thumbprint = \"new\"",
            "new.certificate_sha1_thumbprint",
        ),
    ] {
        assert!(text.contains(from), "{from}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        match Case::load(&path) {
            Err(Error::Corrupt { line, message, .. }) => {
                assert!(message.contains(says), "{message}");
                let renewal_line = text.lines().position(|l| l == "[renewal]").unwrap() + 1;
                assert_eq!(line, renewal_line, "{message}");
            }
            other => panic!("{from}: {other:?}"),
        }
    }
}
