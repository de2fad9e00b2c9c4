//! Letters (both languages, missing facts named) and the case report (escaped).

use cprlink_onboard::{Error, Facts, Language, LetterKind, Route, VerifyVerdict, letters, report};

use crate::support::*;

const THUMB: &str = "9A8B7C6D5E4F3A2B1C0D9E8F7A6B5C4D3E2F1A0B";

#[test]
fn letters_need_their_facts_and_say_which_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, _) = new_case(dir.path(), Route::Selfservice, "2026-03-01");

    let err = letters::render(LetterKind::DatafordelerSupport, Language::Da, &case).unwrap_err();
    match &err {
        Error::LetterMissingFacts { missing, .. } => {
            let all = missing.join(" | ");
            for flag in [
                "--case-number",
                "--approved-on",
                "--username",
                "--service-user",
                "--certificate",
                "--dpg-ip",
            ] {
                assert!(all.contains(flag), "{flag} not in {all}");
            }
            assert!(!all.contains("contact"), "{all}");
        }
        other => panic!("{other}"),
    }
    let err = letters::render(LetterKind::CprApplication, Language::En, &case).unwrap_err();
    assert!(
        err.to_string().contains("service-user (--service-user)"),
        "{err}"
    );

    case.record(
        "selfservice-user",
        &Facts::new()
            .text("username", "aarhus-dpg")
            .text("login_method", "mitid"),
        true,
        &at("2026-03-01"),
    )
    .unwrap();
    case.record(
        "service-user",
        &Facts::new()
            .text("service_user", "aarhus-dpg-cpr")
            .certificate("certificate", cert(THUMB, "2029-03-24")),
        true,
        &at("2026-03-01"),
    )
    .unwrap();
    let da = letters::render(LetterKind::CprApplication, Language::Da, &case).unwrap();
    assert_eq!(da.to, "CPR-servicedesken");
    for s in [
        "Aarhus Kommune (CVR 29189846)",
        "CprPersonSmallSimple (PersonSmallCurrentListSimple)",
        "Produktion",
        "aarhus-dpg-cpr",
        "it@aarhus.dk",
        "Ida Ærø",
    ] {
        assert!(
            da.body.contains(s) || da.subject.contains(s),
            "{s} missing:\n{}",
            da.body
        );
    }
    let en = letters::render(LetterKind::CprApplication, Language::En, &case).unwrap();
    assert!(en.body.starts_with("Dear CPR service desk"));
    assert!(
        en.to_text(Language::En)
            .starts_with("To: The CPR service desk\nSubject: ")
    );

    case.record(
        "cpr-application",
        &Facts::new().text("case_number", "CPR-77"),
        true,
        &at("2026-03-02"),
    )
    .unwrap();
    case.record(
        "cpr-approval",
        &Facts::new()
            .text("approved_on", "2026-03-20")
            .text("approval_reference", "J.nr. 9"),
        true,
        &at("2026-03-20"),
    )
    .unwrap();
    let err = letters::render(LetterKind::DatafordelerSupport, Language::Da, &case).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the letter datafordeler-support needs facts that are not recorded yet: production-access (--dpg-ip)"
    );
    case.record(
        "production-access",
        &Facts::new().text("dpg_ip", "80.62.117.20"),
        false,
        &at("2026-03-21"),
    )
    .unwrap();
    let support = letters::render(LetterKind::DatafordelerSupport, Language::Da, &case).unwrap();
    for s in [
        "CPR-77",
        "2026-03-20",
        "J.nr. 9",
        "aarhus-dpg",
        "aarhus-dpg-cpr",
        THUMB,
        "80.62.117.20",
        "produktionsmiljøet",
    ] {
        assert!(support.body.contains(s), "{s} missing:\n{}", support.body);
    }
    let en = letters::render(LetterKind::DatafordelerSupport, Language::En, &case).unwrap();
    assert!(
        en.body
            .contains("IP whitelisting of the fixed external IPv4 address"),
        "{}",
        en.body
    );

    // The handover note: certificate facts; by default the authority installs the
    // .p12 in the DPG Customer Portal itself, so no password goes anywhere.
    let note = letters::render(LetterKind::DpgHandover, Language::Da, &case).unwrap();
    assert!(note.to.contains("servicecenter@sikker-post.dk"));
    for s in [
        "NTRDK-29189846",
        "CVR: 29189846",
        THUMB,
        "2029-03-24",
        "installerer vi selv i DPG-kundeportalen (portal.timengodpg.com)",
    ] {
        assert!(
            one_line(&note.body).contains(s),
            "{s} missing:\n{}",
            note.body
        );
    }
    assert!(
        !note.body.to_lowercase().contains("adgangskode:"),
        "{}",
        note.body
    );
    let ev = handover(cert(THUMB, "2029-03-24"), VerifyVerdict::Pass, &[]);
    case.record(
        "production-access",
        &Facts::new().text("confirmed_on", "2026-03-22"),
        true,
        &at("2026-03-22"),
    )
    .unwrap();
    // Handed to DPG Service Center instead (`--received-by` implies `--via
    // service-center`): the password then goes by another channel.
    let r = case
        .record(
            "dpg-handover",
            &Facts::new()
                .handover("p12", ev)
                .text("received_by", "Jens, DPG Service Center"),
            false,
            &at("2026-03-23"),
        )
        .unwrap();
    assert!(
        r.notes
            .iter()
            .any(|n| n == "--via service-center (implied by --received-by)"),
        "{:?}",
        r.notes
    );
    let note = letters::render(LetterKind::DpgHandover, Language::En, &case).unwrap();
    // The file name only, not where it lives on the admin's disk.
    assert!(
        note.body.contains("as a .p12 file (dpg-handover.p12)"),
        "{}",
        note.body
    );
    assert!(!note.body.contains("/secure/"), "{}", note.body);
    assert!(note.body.contains("by another channel"), "{}", note.body);
    assert!(
        !note.body.contains("Client id"),
        "no client id on selfservice"
    );
    assert!(!note.body.contains("GraphQL"), "{}", note.body);
}

#[test]
fn contact_e_mail_is_needed_for_letters_and_can_be_set_later() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.toml");
    let mut case = cprlink_onboard::Case::init(
        &path,
        cprlink_onboard::NewCase {
            authority: "Læsø Kommune".into(),
            cvr: "29189986".into(),
            route: Route::Administration,
            environment: cprlink_onboard::TargetEnvironment::Test,
            contact_name: None,
            contact_email: None,
        },
        &at("2026-03-01"),
    )
    .unwrap();
    case.record(
        "it-system",
        &Facts::new().text("it_system", "DPG").text("client_id", "c"),
        true,
        &at("2026-03-01"),
    )
    .unwrap();
    let err = letters::render(LetterKind::CprApplication, Language::Da, &case).unwrap_err();
    assert!(err.to_string().contains("--contact-email"), "{err}");
    let err = refused(&path, || {
        case.set_contact(None, Some("not-an-email"), &at("2026-03-01"))
    });
    assert!(err.to_string().contains("--contact-email"), "{err}");
    case.set_contact(Some("Bo"), Some("bo@laesoe.dk"), &at("2026-03-01"))
        .unwrap();
    let l = letters::render(LetterKind::CprApplication, Language::Da, &case).unwrap();
    assert!(
        l.body.contains("Demo (Test)") && l.body.contains("Datafordeler GraphQL og Fildownload"),
        "{}",
        l.body
    );
    assert!(
        l.body.contains("Bo\nLæsø Kommune\nbo@laesoe.dk"),
        "{}",
        l.body
    );
}

#[test]
fn report_escapes_what_people_typed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, _) = new_case(dir.path(), Route::Selfservice, "2026-03-01");
    case.record(
        "selfservice-user",
        &Facts::new()
            .text("username", "<script>alert('x')</script> & | co")
            .text("login_method", "mitid"),
        true,
        &at("2026-03-01"),
    )
    .unwrap();
    let html = report::html(&case, day("2026-03-02"), Language::En);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script>"), "unescaped script");
    assert!(
        html.contains("<code>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; | co</code>")
    );
    assert!(html.contains("Ida Ærø"));
    assert!(html.contains("href=\"https://selfservice.datafordeler.dk\""));
    assert!(html.trim_end().ends_with("</html>"));

    let md = report::markdown(&case, day("2026-03-02"), Language::En);
    assert!(
        md.starts_with("# Onboarding case: Aarhus Kommune\n"),
        "{md}"
    );
    assert!(
        md.contains("| Web user | `&lt;script&gt;alert('x')&lt;/script&gt; &amp; \\| co` |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| 1 | Web user in Datafordeler Self-Service | 2026-03-01 | 2026-03-01 | the same day |"
        ),
        "{md}"
    );
    assert!(
        md.contains("| 2 | Service user with the certificate (CER) |  |  | not started |"),
        "{md}"
    );
    assert!(md.contains("## History"));
    assert!(
        md.contains("| tester | Web user in Datafordeler Self-Service |"),
        "{md}"
    );
    // Every table row has the same number of cells as its header.
    let mut header = 0;
    for line in md.lines() {
        if !line.starts_with('|') {
            header = 0;
            continue;
        }
        let cells = line.replace("\\|", "").matches('|').count();
        if header == 0 {
            header = cells;
        }
        assert_eq!(cells, header, "{line}");
    }
}
