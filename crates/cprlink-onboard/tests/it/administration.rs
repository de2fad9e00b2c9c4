//! Route `administration`: IT-system, OAuth certificate, IP allowlist, CPR application
//! and approval, data access, handover.

use cprlink_onboard::{Error, Facts, LetterKind, Route, StepState, VerifyVerdict, letters};

use crate::support::*;

const THUMB: &str = "AAAABBBBCCCCDDDDEEEEFFFF0000111122223333";

#[test]
fn whole_route_with_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, path) = new_case(dir.path(), Route::Administration, "2026-03-02");
    let ids: Vec<_> = case.steps().iter().map(|s| s.id).collect();
    assert_eq!(
        ids,
        [
            "it-system",
            "oauth-certificate",
            "ip-allowlist",
            "cpr-application",
            "cpr-approval",
            "data-access",
            "dpg-handover"
        ]
    );
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
    case.record(
        "it-system",
        &Facts::new()
            .text("it_system", "DPG CPR opslag")
            .text("client_id", "a1b2c3d4-dpg"),
        true,
        &at("2026-03-02"),
    )
    .unwrap();

    let err = refused(&path, || {
        let mut c = cert(THUMB, "2029-01-01");
        c.kind = cprlink_cert::Kind::Employee;
        case.record(
            "oauth-certificate",
            &Facts::new().certificate("certificate", c),
            true,
            &at("2026-03-02"),
        )
    });
    assert!(err.to_string().contains("employee"), "{err}");
    case.record(
        "oauth-certificate",
        &Facts::new().certificate("certificate", cert(THUMB, "2029-01-01")),
        true,
        &at("2026-03-02"),
    )
    .unwrap();

    let err = refused(&path, || {
        case.record(
            "ip-allowlist",
            &Facts::new().text("dpg_ip", "192.168.10.2"),
            true,
            &at("2026-03-03"),
        )
    });
    assert!(err.to_string().contains("private"), "{err}");
    case.record(
        "ip-allowlist",
        &Facts::new().text("dpg_ip", "80.62.117.20/32"),
        true,
        &at("2026-03-03"),
    )
    .unwrap();
    assert_eq!(
        case.facts("ip-allowlist").unwrap()["dpg_ip"],
        "80.62.117.20"
    );
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
            .text("applied_on", "2026-03-04"),
        true,
        &at("2026-03-04"),
    )
    .unwrap();
    let s = case.status(day("2026-03-20"));
    assert_eq!(s.steps[4].state, StepState::Waiting);
    assert_eq!(s.steps[4].waiting_days, Some(16));
    case.record(
        "cpr-approval",
        &Facts::new().text("approved_on", "2026-03-25"),
        true,
        &at("2026-03-25"),
    )
    .unwrap();

    let err = refused(&path, || {
        case.record(
            "data-access",
            &Facts::new().text("added_on", "2026-03-24"),
            true,
            &at("2026-03-26"),
        )
    });
    assert!(err.to_string().contains("dates must be in order"), "{err}");
    case.mark_done("data-access", &at("2026-03-26")).unwrap();
    assert_eq!(case.facts("data-access").unwrap()["added_on"], "2026-03-26");

    // The support letter is a self-service thing.
    let err = letters::render(
        LetterKind::DatafordelerSupport,
        cprlink_onboard::Language::Da,
        &case,
    )
    .unwrap_err();
    assert!(matches!(err, Error::LetterNotForRoute { .. }), "{err}");

    let ev = handover(cert(THUMB, "2029-01-01"), VerifyVerdict::Pass, &[]);
    case.record(
        "dpg-handover",
        &Facts::new().handover("p12", ev),
        true,
        &at("2026-03-27"),
    )
    .unwrap();
    let s = case.status(day("2026-03-27"));
    assert!(s.complete, "{s:?}");
    let note = letters::render(
        LetterKind::DpgHandover,
        cprlink_onboard::Language::En,
        &case,
    )
    .unwrap();
    assert!(
        note.body
            .contains("Client id (IT-system in Datafordeler Administration): a1b2c3d4-dpg"),
        "{}",
        note.body
    );
    no_temp_files(dir.path());
}
