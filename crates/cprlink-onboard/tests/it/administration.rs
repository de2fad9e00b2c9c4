//! Route `administration`: IT-system, OAuth credential (certificate or shared secret),
//! IP allowlist, CPR application and approval, data access (requested, then granted),
//! the handover to DPG.

use cprlink_onboard::{
    Case, Error, Facts, Language, LetterKind, Route, StepState, VerifyVerdict, letters,
};

use crate::support::*;

const THUMB: &str = "AAAABBBBCCCCDDDDEEEEFFFF0000111122223333";
const NEW_THUMB: &str = "9999BBBBCCCCDDDDEEEEFFFF0000111122223333";

/// Step 1 done: the IT-system and its client id.
fn it_system_done(case: &mut Case) {
    case.record(
        "it-system",
        &Facts::new()
            .text("it_system", "DPG CPR opslag")
            .text("client_id", "a1b2c3d4-dpg"),
        true,
        &at("2026-03-02"),
    )
    .unwrap();
}

#[test]
fn whole_route_with_a_certificate_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, path) = new_case(dir.path(), Route::Administration, "2026-03-02");
    // The self-service steps do not exist here.
    let err = refused(&path, || case.mark_done("service-user", &at("2026-03-02")));
    assert!(matches!(err, Error::UnknownStep { .. }), "{err}");

    let err = refused(&path, || {
        case.record(
            "it-system",
            &Facts::new().text("it_system", "DPG CPR opslag"),
            true,
            &at("2026-03-02"),
        )
    });
    assert!(err.to_string().contains("--client-id"), "{err}");
    it_system_done(&mut case);

    // credential: the command to run names the method and what it then needs.
    let st = case.status(day("2026-03-02"));
    assert_eq!(
        st.next_command.as_deref(),
        Some("cprlink onboard record credential --method certificate --certificate FILE --done")
    );
    assert_eq!(st.steps[1].missing, ["--method METHOD"]);
    let err = refused(&path, || {
        let mut c = cert(THUMB, "2029-01-01");
        c.kind = cprlink_cert::Kind::Employee;
        case.record(
            "credential",
            &Facts::new().certificate("certificate", c),
            true,
            &at("2026-03-02"),
        )
    });
    assert!(err.to_string().contains("employee"), "{err}");
    let err = refused(&path, || {
        let mut c = cert(THUMB, "2029-01-01");
        c.cvr = Some("19552101".into());
        case.record(
            "credential",
            &Facts::new().certificate("certificate", c),
            false,
            &at("2026-03-02"),
        )
    });
    assert!(err.to_string().contains("CVR 19552101"), "{err}");
    // A certificate with the secret's dates: two methods at once.
    let err = refused(&path, || {
        case.record(
            "credential",
            &Facts::new()
                .text("method", "shared-secret")
                .certificate("certificate", cert(THUMB, "2029-01-01")),
            false,
            &at("2026-03-02"),
        )
    });
    assert!(
        matches!(&err, Error::NotApplicable { flag, .. } if flag == "--certificate"),
        "{err}"
    );
    // --certificate implies --method certificate.
    let r = case
        .record(
            "credential",
            &Facts::new().certificate("certificate", cert(THUMB, "2029-01-01")),
            true,
            &at("2026-03-02"),
        )
        .unwrap();
    assert!(
        r.notes
            .iter()
            .any(|n| n == "--method certificate (implied by --certificate)"),
        "{:?}",
        r.notes
    );
    let facts = case.facts("credential").unwrap();
    assert_eq!(facts["method"], "certificate");
    assert_eq!(facts["certificate_sha1_thumbprint"], THUMB);
    assert_eq!(facts["certificate_cvr"], CVR);
    assert_eq!(facts["certificate_not_after"], "2029-01-01");
    // The secret's dates do not belong to a certificate, and say how to switch.
    let err = refused(&path, || {
        case.record(
            "credential",
            &Facts::new().text("expires_on", "2027-06-01"),
            false,
            &at("2026-03-02"),
        )
    });
    assert!(
        err.to_string()
            .contains("to switch, pass --method shared-secret"),
        "{err}"
    );

    for (ip, why) in [
        ("192.168.10.2", "private"),
        ("2001:db8::1", "IPv6"),
        ("127.0.0.1", "loopback"),
    ] {
        let err = refused(&path, || {
            case.record(
                "ip-allowlist",
                &Facts::new().text("dpg_ip", ip),
                true,
                &at("2026-03-03"),
            )
        });
        assert!(err.to_string().contains(why), "{ip}: {err}");
    }
    case.record(
        "ip-allowlist",
        &Facts::new().text("dpg_ip", "80.62.117.20/32"),
        true,
        &at("2026-03-03"),
    )
    .unwrap();
    let ip_step = case.step("ip-allowlist").unwrap();
    assert!(
        case.exact_values(ip_step)
            .iter()
            .any(|(_, v)| v == "80.62.117.20/32")
    );

    let app = case.step("cpr-application").unwrap();
    let values = case.exact_values(app);
    assert!(
        values
            .iter()
            .any(|(_, v)| v == "Datafordeler GraphQL og Fildownload"),
        "{values:?}"
    );
    assert!(
        values.iter().any(|(_, v)| v == "DPG CPR opslag"),
        "{values:?}"
    );
    case.record(
        "cpr-application",
        &Facts::new()
            .text("case_number", "SD-7781")
            .text("applied_on", "2026-03-04")
            .text("virk_receipt", "VIRK-1"),
        true,
        &at("2026-03-04"),
    )
    .unwrap();
    let s = case.status(day("2026-03-20"));
    assert_eq!(s.steps[4].state, StepState::Waiting);
    assert_eq!(s.steps[4].waiting_days, Some(16));
    case.record(
        "cpr-approval",
        &Facts::new()
            .text("approved_on", "2026-03-25")
            .text("approval_reference", "J.nr. 9"),
        true,
        &at("2026-03-25"),
    )
    .unwrap();

    // data-access: requested (in the portal), then waiting for the register authority.
    let s = case.status(day("2026-03-25"));
    assert_eq!(s.steps[5].state, StepState::NotStarted);
    let err = refused(&path, || {
        case.record(
            "data-access",
            &Facts::new().text("requested_on", "2026-03-24"),
            false,
            &at("2026-03-26"),
        )
    });
    assert!(err.to_string().contains("dates must be in order"), "{err}");
    let err = refused(&path, || case.mark_done("data-access", &at("2026-03-26")));
    assert!(err.to_string().contains("--requested-on DATE"), "{err}");
    // The reminder letter needs the request.
    let err = letters::render(LetterKind::DataAccess, Language::Da, &case).unwrap_err();
    assert!(
        err.to_string().contains("data-access (--requested-on)"),
        "{err}"
    );
    case.record(
        "data-access",
        &Facts::new().text("requested_on", "2026-03-26"),
        false,
        &at("2026-03-26"),
    )
    .unwrap();
    let s = case.status(day("2026-04-06"));
    let access = &s.steps[5];
    assert_eq!(access.state, StepState::Waiting);
    assert_eq!(access.waiting_since, Some(day("2026-03-26")));
    assert_eq!(access.waiting_days, Some(11));
    assert_eq!(
        access.waiting_on.as_deref(),
        Some("the register authority (CPR)")
    );
    assert!(
        s.next_action
            .contains("record data-access --granted-on DATE --done"),
        "{}",
        s.next_action
    );
    for lang in [Language::Da, Language::En] {
        let l = letters::render(LetterKind::DataAccess, lang, &case).unwrap();
        let body = one_line(&l.body);
        for s in [
            "CustomPublicSectorPerson",
            "DPG CPR opslag",
            "a1b2c3d4-dpg",
            "SD-7781",
            "2026-03-25",
            "J.nr. 9",
            "2026-03-26",
            "it@aarhus.dk",
        ] {
            assert!(body.contains(s), "{s} missing:\n{}", l.body);
        }
    }
    // Not a Self-Service letter, and the support letter is not an administration one.
    let err = letters::render(LetterKind::DatafordelerSupport, Language::Da, &case).unwrap_err();
    assert!(matches!(err, Error::LetterNotForRoute { .. }), "{err}");
    let r = case.record(
        "data-access",
        &Facts::new().text("granted_on", "2026-04-07"),
        true,
        &at("2026-04-07"),
    );
    assert!(r.unwrap().marked_done);

    // dpg-handover: via the portal by default; the client id and the GraphQL caveat.
    let handover_def = case.step("dpg-handover").unwrap();
    let values = case.exact_values(handover_def);
    let value = |label: &str| {
        values
            .iter()
            .find(|(l, _)| *l == label)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert!(
        value("How it reaches DPG").contains("DPG Customer Portal, https://portal.timengodpg.com")
    );
    assert_eq!(value("Client id for DPG"), "a1b2c3d4-dpg");
    assert_eq!(value("SHA-1 thumbprint DPG must see"), THUMB);
    assert!(value("Ask DPG").contains("describes only the REST (Self-Service) connection"));
    assert!(
        handover_def
            .what
            .contains("describes only the REST (Self-Service) connection")
    );
    let note = letters::render(LetterKind::DpgHandover, Language::En, &case).unwrap();
    let body = one_line(&note.body);
    for s in [
        "Client id (IT-system in Datafordeler Administration): a1b2c3d4-dpg",
        "ourselves in the DPG Customer Portal (portal.timengodpg.com)",
        "describes only the Self-Service (REST) connection",
        THUMB,
    ] {
        assert!(body.contains(s), "{s} missing:\n{}", note.body);
    }
    // The Service Center needs a name for who received it.
    let ev = handover(cert(THUMB, "2029-01-01"), VerifyVerdict::Pass, &[]);
    let err = refused(&path, || {
        case.record(
            "dpg-handover",
            &Facts::new()
                .handover("p12", ev.clone())
                .text("via", "service-center"),
            true,
            &at("2026-04-08"),
        )
    });
    assert!(err.to_string().contains("--received-by TEXT"), "{err}");
    // A portal install has no receiver.
    let err = refused(&path, || {
        case.record(
            "dpg-handover",
            &Facts::new()
                .text("via", "portal")
                .text("received_by", "Jens"),
            false,
            &at("2026-04-08"),
        )
    });
    assert!(
        matches!(&err, Error::NotApplicable { flag, .. } if flag == "--received-by"),
        "{err}"
    );
    // Not the registered certificate.
    let err = refused(&path, || {
        let other = handover(cert(NEW_THUMB, "2029-01-01"), VerifyVerdict::Pass, &[]);
        case.record(
            "dpg-handover",
            &Facts::new().handover("p12", other),
            true,
            &at("2026-04-08"),
        )
    });
    assert!(
        err.to_string()
            .contains("not the one registered at Datafordeler"),
        "{err}"
    );
    let r = case
        .record(
            "dpg-handover",
            &Facts::new().handover("p12", ev),
            true,
            &at("2026-04-08"),
        )
        .unwrap();
    assert!(
        r.notes
            .iter()
            .any(|n| n == "--via set to portal (the default)"),
        "{:?}",
        r.notes
    );
    let s = case.status(day("2026-04-08"));
    assert!(s.complete, "{s:?}");
    assert_eq!(s.credential_expires_on, Some(day("2029-01-01")));
    assert!(!s.expires_soon && !s.needs_attention());
    assert!(s.renewal.is_none());
    assert_eq!(s.steps[6].facts["via"], "portal");
    assert_eq!(s.steps[6].done_on, Some(day("2026-04-08")));
    assert_eq!(s.steps[4].done_on, Some(day("2026-03-25")));
    assert!(
        s.next_action.contains("`cprlink onboard config`"),
        "{}",
        s.next_action
    );

    // Years later: a new certificate (a rotation), kept in the history.
    let r = case
        .record(
            "credential",
            &Facts::new().certificate("certificate", cert(NEW_THUMB, "2031-12-01")),
            false,
            &at("2028-12-01"),
        )
        .unwrap();
    assert!(
        r.notes.iter().any(|n| n.contains("renewal")),
        "{:?}",
        r.notes
    );
    let last = case.state().history.last().unwrap();
    assert_eq!(last.previous["certificate_sha1_thumbprint"], THUMB);
    assert_eq!(last.previous["certificate_not_after"], "2029-01-01");
    let s = case.status(day("2028-12-01"));
    assert_eq!(s.current_step.as_deref(), Some("dpg-handover"));
    assert!(
        s.warnings
            .iter()
            .any(|w| w.code == "renewal_not_handed_over")
    );
    no_temp_files(dir.path());
}

#[test]
fn shared_secret_is_never_stored_lives_at_most_730_days_and_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, path) = new_case(dir.path(), Route::Administration, "2026-03-02");
    it_system_done(&mut case);
    let today = at("2026-03-02");
    for (facts, says) in [
        (
            Facts::new()
                .text("method", "shared-secret")
                .text("created_on", "2026-03-01")
                .text("expires_on", "2028-03-01"),
            "731 days after credential --created-on 2026-03-01: Datafordeler allows at most 730",
        ),
        (
            Facts::new()
                .text("method", "shared-secret")
                .text("expires_on", "2026-03-20"),
            "only 18 days from today",
        ),
        (
            Facts::new()
                .text("method", "shared-secret")
                .text("expires_on", "2026-02-01"),
            "already expired",
        ),
        (
            Facts::new()
                .text("method", "shared-secret")
                .text("created_on", "2026-03-03"),
            "in the future",
        ),
        (
            Facts::new().text("method", "password"),
            "one of certificate, shared-secret",
        ),
    ] {
        let err = refused(&path, || case.record("credential", &facts, true, &today));
        assert!(err.to_string().contains(says), "{says}: {err}");
    }
    // --expires-on implies --method shared-secret; --created-on defaults to today.
    let r = case
        .record(
            "credential",
            &Facts::new().text("expires_on", "2028-02-29"),
            true,
            &today,
        )
        .unwrap();
    assert!(r.marked_done, "{r:?}");
    let facts = case.facts("credential").unwrap();
    assert_eq!(facts["method"], "shared-secret");
    assert_eq!(facts["created_on"], "2026-03-02");
    assert_eq!(facts["expires_on"], "2028-02-29");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("client_secret") && !text.contains("secret ="));

    case.record(
        "ip-allowlist",
        &Facts::new().text("dpg_ip", "80.62.117.20"),
        true,
        &today,
    )
    .unwrap();
    case.record(
        "cpr-application",
        &Facts::new().text("case_number", "SD-1"),
        true,
        &today,
    )
    .unwrap();
    case.mark_done("cpr-approval", &today).unwrap();
    case.record(
        "data-access",
        &Facts::new()
            .text("requested_on", "2026-03-02")
            .text("granted_on", "2026-03-02"),
        true,
        &today,
    )
    .unwrap();
    // No .p12 with a shared secret: DPG gets the client id and the secret.
    let st = case.status(day("2026-03-02"));
    assert_eq!(
        st.next_command.as_deref(),
        Some("cprlink onboard record dpg-handover --handed-over-on DATE --done")
    );
    let ev = handover(cert(THUMB, "2029-01-01"), VerifyVerdict::Pass, &[]);
    let err = refused(&path, || {
        case.record(
            "dpg-handover",
            &Facts::new().handover("p12", ev),
            false,
            &today,
        )
    });
    assert!(
        matches!(&err, Error::NotApplicable { flag, .. } if flag == "--p12"),
        "{err}"
    );
    let note = letters::render(LetterKind::DpgHandover, Language::Da, &case).unwrap();
    let body = one_line(&note.body);
    for s in [
        "OAuth shared secret",
        "Hemmeligheden udløber: 2028-02-29",
        "a1b2c3d4-dpg",
        "sender vi ad en sikker kanal",
    ] {
        assert!(body.contains(s), "{s} missing:\n{}", note.body);
    }
    assert!(!note.body.contains("SHA-1"), "{}", note.body);
    case.mark_done("dpg-handover", &today).unwrap();
    let st = case.status(day("2026-03-02"));
    assert!(st.complete, "{st:?}");
    assert_eq!(st.credential_method.as_deref(), Some("shared-secret"));
    assert_eq!(st.credential_expires_on, Some(day("2028-02-29")));

    // 55 days before the secret expires: a warning; 10 days before: exit 1 (attention).
    let st = case.status(day("2028-01-05"));
    assert!(
        st.warnings
            .iter()
            .any(|w| w.code == "secret_expiring" && w.message.contains("in 55 days")),
        "{:?}",
        st.warnings
    );
    assert!(!st.needs_attention());
    let st = case.status(day("2028-02-19"));
    assert!(
        st.expires_soon && st.needs_attention() && !st.blocked,
        "{st:?}"
    );
    let st = case.status(day("2028-03-01"));
    assert!(st.blocked, "expired: {st:?}");

    // The rotation: a new secret. DPG must get it; the old dates stay in the history.
    let later = at("2028-01-10");
    let r = case
        .record(
            "credential",
            &Facts::new()
                .text("created_on", "2028-01-10")
                .text("expires_on", "2030-01-09"),
            false,
            &later,
        )
        .unwrap();
    assert!(
        r.notes.iter().any(|n| n.contains("rotated shared secret")),
        "{:?}",
        r.notes
    );
    let h = case.state().history.last().unwrap();
    assert_eq!(h.previous["expires_on"], "2028-02-29");
    assert_eq!(h.previous["created_on"], "2026-03-02");
    let st = case.status(day("2028-01-10"));
    assert!(!st.complete);
    assert!(
        st.warnings
            .iter()
            .any(|w| w.code == "renewal_not_handed_over" && w.message.contains("2030-01-09")),
        "{:?}",
        st.warnings
    );
    case.record(
        "dpg-handover",
        &Facts::new().text("handed_over_on", "2028-01-10"),
        false,
        &later,
    )
    .unwrap();
    assert!(case.status(day("2028-01-10")).complete);

    // Switching to a certificate moves the secret's dates to the history, and asks
    // for the certificate in the same command (the step stays complete).
    let err = refused(&path, || {
        case.record(
            "credential",
            &Facts::new().text("method", "certificate"),
            false,
            &later,
        )
    });
    assert!(err.to_string().contains("--certificate FILE"), "{err}");
    case.record(
        "credential",
        &Facts::new()
            .text("method", "certificate")
            .certificate("certificate", cert(THUMB, "2030-06-01")),
        false,
        &later,
    )
    .unwrap();
    let facts = case.facts("credential").unwrap();
    assert!(!facts.contains_key("expires_on") && !facts.contains_key("created_on"));
    assert_eq!(
        case.state().history.last().unwrap().previous["expires_on"],
        "2030-01-09"
    );
    let st = case.status(day("2028-01-10"));
    assert_eq!(st.current_step.as_deref(), Some("dpg-handover"), "{st:?}");
    no_temp_files(dir.path());
}
