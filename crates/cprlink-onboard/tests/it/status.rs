//! Derived status: waiting days, blocked, warnings, renewal, the next action.

use cprlink_onboard::{Case, Facts, Route, StepState, VerifyVerdict};

use crate::support::*;

const OLD: &str = "1111111111111111111111111111111111111111";
const NEW: &str = "2222222222222222222222222222222222222222";

fn through_approval(case: &mut Case, cert_expires: &str) {
    case.record(
        "selfservice-user",
        &Facts::new()
            .text("username", "u")
            .text("login_method", "password"),
        true,
        &at("2026-03-01"),
    )
    .unwrap();
    case.record(
        "service-user",
        &Facts::new()
            .text("service_user", "s")
            .certificate("certificate", cert(OLD, cert_expires)),
        true,
        &at("2026-03-01"),
    )
    .unwrap();
    case.record(
        "cpr-application",
        &Facts::new().text("case_number", "C-1"),
        true,
        &at("2026-03-02"),
    )
    .unwrap();
    case.mark_done("cpr-approval", &at("2026-03-03")).unwrap();
}

#[test]
fn fresh_case_says_what_to_do_first() {
    let dir = tempfile::tempdir().unwrap();
    let (case, _) = new_case(dir.path(), Route::Selfservice, "2026-03-01");
    let s = case.status_with(day("2026-03-01"), "cprlink onboard --state x.toml");
    assert!(s.steps.iter().all(|s| s.state == StepState::NotStarted));
    assert_eq!(s.current_step.as_deref(), Some("selfservice-user"));
    assert_eq!(
        s.next_command.as_deref(),
        Some(
            "cprlink onboard --state x.toml record selfservice-user --username TEXT --login-method METHOD --done"
        )
    );
    assert!(
        s.next_action
            .starts_with("Create a web user in Datafordeler Self-Service"),
        "{}",
        s.next_action
    );
    assert!(!s.blocked && !s.complete);
    assert_eq!(
        s.steps[0].missing,
        ["--username TEXT", "--login-method METHOD"]
    );
}

#[test]
fn a_certificate_running_out_warns_then_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, _) = new_case(dir.path(), Route::Selfservice, "2026-03-01");
    through_approval(&mut case, "2026-04-30");

    let s = case.status(day("2026-03-05"));
    assert!(!s.blocked);
    let w: Vec<_> = s.warnings.iter().map(|w| w.code).collect();
    assert!(w.contains(&"certificate_expiring"), "{w:?}");
    assert!(
        s.warnings[0].message.contains("in 56 days"),
        "{}",
        s.warnings[0].message
    );

    let s = case.status(day("2026-04-05"));
    assert!(s.blocked, "{s:?}");
    assert!(s.blockers[0].contains("in 25 days"), "{}", s.blockers[0]);
    assert!(s.next_action.starts_with("Blocked:"), "{}", s.next_action);

    let s = case.status(day("2026-05-01"));
    assert!(
        s.blocked && s.blockers[0].contains("expired on 2026-04-30"),
        "{:?}",
        s.blockers
    );
}

#[test]
fn renewal_must_be_handed_to_dpg_again() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, _) = new_case(dir.path(), Route::Selfservice, "2026-03-01");
    through_approval(&mut case, "2029-01-01");
    case.record(
        "production-access",
        &Facts::new()
            .text("dpg_ip", "80.62.117.20")
            .text("confirmed_on", "2026-03-04"),
        true,
        &at("2026-03-04"),
    )
    .unwrap();
    let ev = handover(cert(OLD, "2029-01-01"), VerifyVerdict::Pass, &[]);
    case.record(
        "dpg-handover",
        &Facts::new().handover("p12", ev),
        true,
        &at("2026-03-05"),
    )
    .unwrap();
    assert!(case.status(day("2026-03-05")).complete);

    // Years later: the new certificate is uploaded and recorded.
    let r = case
        .record(
            "service-user",
            &Facts::new().certificate("certificate", cert(NEW, "2031-12-01")),
            false,
            &at("2028-12-01"),
        )
        .unwrap();
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("renewal") && n.contains(NEW)),
        "{:?}",
        r.notes
    );
    let s = case.status(day("2028-12-02"));
    assert!(!s.complete);
    assert_eq!(s.current_step.as_deref(), Some("dpg-handover"));
    assert_eq!(s.steps[5].state, StepState::InProgress);
    assert!(
        s.warnings
            .iter()
            .any(|w| w.code == "renewal_not_handed_over" && w.message.contains(NEW))
    );

    // Handing over the old file again is refused; the new one completes it.
    let old = handover(cert(OLD, "2029-01-01"), VerifyVerdict::Pass, &[]);
    assert!(
        case.record(
            "dpg-handover",
            &Facts::new().handover("p12", old),
            false,
            &at("2028-12-02")
        )
        .is_err()
    );
    let new = handover(cert(NEW, "2031-12-01"), VerifyVerdict::Pass, &[]);
    case.record(
        "dpg-handover",
        &Facts::new()
            .handover("p12", new)
            .text("handed_over_on", "2028-12-02"),
        false,
        &at("2028-12-02"),
    )
    .unwrap();
    let s = case.status(day("2028-12-02"));
    assert!(
        s.complete
            && s.warnings
                .iter()
                .all(|w| w.code != "renewal_not_handed_over"),
        "{s:?}"
    );
}

#[test]
fn long_waits_get_a_nudge_and_a_complete_step_asks_to_be_marked_done() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, _) = new_case(dir.path(), Route::Selfservice, "2026-03-01");
    through_approval(&mut case, "2029-01-01");
    case.record(
        "production-access",
        &Facts::new()
            .text("dpg_ip", "80.62.117.20")
            .text("requested_on", "2026-03-04"),
        false,
        &at("2026-03-04"),
    )
    .unwrap();
    let s = case.status(day("2026-04-20"));
    assert_eq!(s.steps[4].state, StepState::Waiting);
    assert!(
        s.warnings
            .iter()
            .any(|w| w.code == "long_wait" && w.message.contains("47 days")),
        "{:?}",
        s.warnings
    );
    assert!(
        s.next_action.contains("waiting since 2026-03-04, 47 days"),
        "{}",
        s.next_action
    );

    case.record(
        "production-access",
        &Facts::new().text("confirmed_on", "2026-04-21"),
        false,
        &at("2026-04-21"),
    )
    .unwrap();
    let s = case.status(day("2026-04-21"));
    assert!(
        s.next_action.contains("record production-access --done"),
        "{}",
        s.next_action
    );
}
