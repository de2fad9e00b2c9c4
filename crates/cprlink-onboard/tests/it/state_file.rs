//! The case file: versions and migration (on real version-1 files), backups, corrupt
//! and newer files, values checked on load, stale temporary files, the lock.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use cprlink_onboard::state::{self, Migration};
use cprlink_onboard::{Case, Error, Facts, Route, StepState};

use crate::support::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A copy of a fixture in a fresh directory, as `onboarding.toml`.
fn copy_fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("onboarding.toml");
    std::fs::copy(fixture(name), &path).unwrap();
    (dir, path)
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn version_1_fixture_keeps_loading() {
    // A file in the shape of version 1; every later cprlink must read it.
    let path = fixture("state-v1.toml");
    let before = std::fs::read(&path).unwrap();
    let case = Case::load(&path).unwrap();
    let s = case.status(day("2026-02-20"));
    assert_eq!(s.authority, "Horsens Kommune");
    assert_eq!(s.route, Route::Selfservice);
    assert_eq!(s.steps[3].state, StepState::Waiting);
    assert_eq!(s.steps[3].waiting_since, Some(day("2026-02-02")));
    assert_eq!(case.file_version(), 1);
    assert_eq!(case.state().version, 2, "migrated in memory");
    assert_eq!(
        case.facts("service-user").unwrap()["certificate_not_after"],
        "2028-11-30"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "reading never writes"
    );
}

/// The three files written by the version-1 release, read by this one.
#[test]
fn real_version_1_files_are_migrated_in_memory() {
    // Complete on the administration route: oauth-certificate becomes credential.
    let case = Case::load(&fixture("v1-administration-complete.toml")).unwrap();
    assert_eq!(case.file_version(), 1);
    let ids: Vec<_> = case.state().steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "it-system",
            "credential",
            "ip-allowlist",
            "cpr-application",
            "cpr-approval",
            "data-access",
            "dpg-handover"
        ]
    );
    let cred = case.facts("credential").unwrap();
    assert_eq!(cred["method"], "certificate");
    assert_eq!(
        cred["certificate_sha1_thumbprint"],
        "A4555BC70616171C58B28C41A1AF288C88858C0C"
    );
    assert_eq!(cred["certificate_not_after"], "2029-11-30");
    assert_eq!(cred["certificate_cvr"], "12345674");
    let access = case.facts("data-access").unwrap();
    assert_eq!(access["requested_on"], "2026-11-02");
    assert_eq!(access["granted_on"], "2026-11-02");
    assert!(!access.contains_key("added_on"));
    let handover = case.facts("dpg-handover").unwrap();
    assert_eq!(handover["via"], "service-center");
    assert_eq!(handover["received_by"], "Jens, DPG Service Center");
    let st = case.status(day("2026-12-01"));
    assert!(st.complete, "{st:?}");
    assert_eq!(st.credential_expires_on, Some(day("2029-11-30")));
    assert_eq!(st.credential_method.as_deref(), Some("certificate"));
    // The facts' dates, not the day they were typed in (all on 2026-12-01).
    let done_on = |id: &str| st.steps.iter().find(|s| s.id == id).unwrap().done_on;
    assert_eq!(done_on("cpr-approval"), Some(day("2026-10-28")));
    assert_eq!(done_on("data-access"), Some(day("2026-11-02")));
    assert_eq!(done_on("it-system"), Some(day("2026-12-01")));
    let h = &case.state().history;
    assert_eq!(h.len(), 9);
    assert!(
        h.iter()
            .any(|e| e.step.as_deref() == Some("credential") && e.who == "lone"),
        "{h:?}"
    );
    assert!(
        h.iter()
            .all(|e| e.step.as_deref() != Some("oauth-certificate"))
    );

    // Waiting for the CPR approval on the administration route.
    let case = Case::load(&fixture("v1-administration-waiting.toml")).unwrap();
    let st = case.status(day("2026-12-01"));
    assert_eq!(st.current_step.as_deref(), Some("cpr-approval"));
    assert_eq!(st.steps[4].state, StepState::Waiting);
    assert_eq!(st.steps[4].waiting_since, Some(day("2026-11-12")));
    assert_eq!(st.steps[5].state, StepState::NotStarted);

    // Self-Service, waiting for Datafordeler support; the real OCES3 certificate.
    let case = Case::load(&fixture("v1-selfservice-waiting.toml")).unwrap();
    let st = case.status(day("2026-12-01"));
    assert_eq!(st.cvr, "19552101");
    assert_eq!(st.steps[4].state, StepState::Waiting);
    assert_eq!(st.steps[4].waiting_days, Some(40));
    assert_eq!(st.contact_name.as_deref(), Some("Anne Ærø"));
    assert!(case.facts("dpg-handover").unwrap().is_empty());
}

#[test]
fn first_write_migrates_and_keeps_the_version_1_file() {
    let (dir, path) = copy_fixture("v1-administration-waiting.toml");
    let original = std::fs::read(&path).unwrap();
    let mut case = Case::open(&path).unwrap();
    let r = case
        .record(
            "cpr-approval",
            &Facts::new().text("approved_on", "2026-11-20"),
            true,
            &at("2026-12-01"),
        )
        .unwrap();
    let backup = dir.path().join("onboarding.toml.v1.bak");
    assert_eq!(r.backup.as_deref(), Some(backup.as_path()));
    assert_eq!(std::fs::read(&backup).unwrap(), original);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("version = 2\n"), "{text}");
    assert!(text.contains("id = \"credential\""), "{text}");
    assert!(text.contains("marked_done_on = "), "{text}");
    assert!(!text.contains("oauth-certificate") && !text.contains("\ndone_on"));
    let h = &case.state().history;
    let n = h.len();
    assert!(
        h[n - 2]
            .what
            .starts_with("migrated from state version 1 to 2")
    );
    assert_eq!(h[n - 2].who, "tester");
    assert_eq!(h[n - 1].step.as_deref(), Some("cpr-approval"));
    assert_eq!(h[n - 1].changed, ["approved_on"]);
    drop(case);

    // Now a version-2 file: no second backup, and every fact survived.
    let mut case = Case::open(&path).unwrap();
    assert_eq!(case.file_version(), 2);
    let r = case
        .record(
            "data-access",
            &Facts::new().text("requested_on", "2026-11-21"),
            false,
            &at("2026-12-01"),
        )
        .unwrap();
    assert_eq!(r.backup, None);
    assert_eq!(
        case.facts("credential").unwrap()["certificate_sha1_thumbprint"],
        "A4555BC70616171C58B28C41A1AF288C88858C0C"
    );
    assert_eq!(
        names_in(dir.path()),
        [
            "onboarding.toml",
            "onboarding.toml.lock",
            "onboarding.toml.v1.bak"
        ]
    );
    let st = case.status(day("2026-12-01"));
    assert_eq!(st.steps[5].state, StepState::Waiting);
    assert_eq!(
        st.steps[5].waiting_on.as_deref(),
        Some("the register authority (CPR)")
    );
}

#[test]
fn a_backup_is_never_overwritten() {
    let (dir, path) = copy_fixture("v1-selfservice-waiting.toml");
    let original = std::fs::read(&path).unwrap();
    let taken = dir.path().join("onboarding.toml.v1.bak");
    std::fs::write(&taken, "someone else's backup\n").unwrap();
    let mut case = Case::open(&path).unwrap();
    let r = case
        .record(
            "production-access",
            &Facts::new().text("confirmed_on", "2026-11-30"),
            true,
            &at("2026-12-01"),
        )
        .unwrap();
    let next = dir.path().join("onboarding.toml.v1.2.bak");
    assert_eq!(r.backup.as_deref(), Some(next.as_path()));
    assert_eq!(std::fs::read(&next).unwrap(), original);
    assert_eq!(
        std::fs::read_to_string(&taken).unwrap(),
        "someone else's backup\n"
    );

    // A backup that already holds these very bytes is used as it is.
    let (dir, path) = copy_fixture("v1-selfservice-waiting.toml");
    std::fs::copy(&path, dir.path().join("onboarding.toml.v1.bak")).unwrap();
    let mut case = Case::open(&path).unwrap();
    case.set_contact(None, Some("cpr@sktst.dk"), &at("2026-12-01"))
        .unwrap();
    assert!(!dir.path().join("onboarding.toml.v1.2.bak").exists());
    no_temp_files(dir.path());
}

/// A stand-in v2 -> v3 step: what matters is that the runner applies it to older
/// files only, and reports a failing one without applying half of it.
fn v2_to_v3(table: &mut toml::Table) -> Result<(), String> {
    let history = table
        .get_mut("history")
        .and_then(|h| h.as_array_mut())
        .ok_or("no history")?;
    for entry in history {
        if let Some(what) = entry.get_mut("what") {
            *what = toml::Value::String(format!("{} [migrated]", what.as_str().unwrap_or("")));
        }
    }
    Ok(())
}

#[test]
fn migration_runner_upgrades_older_files() {
    let text = std::fs::read_to_string(fixture("v1-administration-waiting.toml")).unwrap();
    let chain: &[Migration] = &[state::migrate_v1_to_v2, v2_to_v3];
    let loaded = state::parse_with(Path::new("v1.toml"), &text, chain).unwrap();
    assert_eq!(loaded.state.version, 3);
    assert_eq!(loaded.file_version, 1);
    assert!(
        loaded
            .state
            .history
            .iter()
            .all(|h| h.what.ends_with("[migrated]"))
    );
    // A file already at the target version is not migrated again.
    let v2 = state::parse(Path::new("v1.toml"), &text).unwrap();
    let v3 = v2
        .to_toml()
        .unwrap()
        .replacen("version = 2", "version = 3", 1);
    let loaded = state::parse_with(Path::new("v3.toml"), &v3, chain).unwrap();
    assert_eq!(loaded.file_version, 3);
    assert!(
        loaded
            .state
            .history
            .iter()
            .all(|h| !h.what.contains("[migrated]"))
    );
    fn broken(_: &mut toml::Table) -> Result<(), String> {
        Err("cannot".into())
    }
    let err = state::parse_with(Path::new("x.toml"), &text, &[broken]).unwrap_err();
    assert!(
        err.to_string().contains("migrating from version 1: cannot"),
        "{err}"
    );
}

#[test]
fn corrupt_and_newer_files_are_reported_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let (_case, path) = new_case(dir.path(), Route::Selfservice, "2026-01-05");
    drop(_case);
    let good = std::fs::read_to_string(&path).unwrap();

    // A syntax error, with its position.
    let broken = good.replacen("cvr = \"29189846\"", "cvr = \"29189846", 1);
    std::fs::write(&path, &broken).unwrap();
    let line = broken
        .lines()
        .position(|l| l.starts_with("cvr = "))
        .unwrap()
        + 1;
    match Case::open(&path).unwrap_err() {
        Error::Corrupt {
            line: l, column, ..
        } => {
            assert_eq!(l, line);
            assert!(column > 1);
        }
        other => panic!("{other}"),
    }
    // An unknown step, a wrong type, an unknown key: all named with their line.
    for (from, to, says) in [
        (
            "id = \"cpr-approval\"",
            "id = \"cpr-appoval\"",
            "cpr-appoval",
        ),
        (
            "progress = \"not_started\"",
            "progress = \"maybe\"",
            "maybe",
        ),
        ("authority = ", "authorty = ", "authorty"),
    ] {
        let text = good.replacen(from, to, 1);
        std::fs::write(&path, &text).unwrap();
        let err = Case::open(&path).unwrap_err();
        assert!(
            matches!(err, Error::Corrupt { line, .. } if line > 1),
            "{from}: {err}"
        );
        assert!(err.to_string().contains(says), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }
    // Not UTF-8.
    std::fs::write(&path, b"version = 2\nauthority = \"\xff\"\n").unwrap();
    assert!(matches!(
        Case::open(&path).unwrap_err(),
        Error::Corrupt { line: 2, .. }
    ));

    // A newer version: refused, and left exactly as it was.
    let newer = good.replacen("version = 2", "version = 3", 1);
    std::fs::write(&path, &newer).unwrap();
    let err = Case::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NewerVersion {
                found: 3,
                supported: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), newer);
    no_temp_files(dir.path());
}

/// Values typed by hand into the file are held to the flags' rules: nothing with a
/// control character, nothing too long, nothing that is not a fact of its step, and
/// the message names the line without repeating the value.
#[test]
fn values_are_checked_on_load_like_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (mut case, path) = new_case(dir.path(), Route::Administration, "2026-03-02");
    case.record(
        "it-system",
        &Facts::new()
            .text("it_system", "DPG CPR")
            .text("client_id", "abc"),
        true,
        &at("2026-03-02"),
    )
    .unwrap();
    case.record(
        "credential",
        &Facts::new().certificate(
            "certificate",
            cert("AAAABBBBCCCCDDDDEEEEFFFF0000111122223333", "2029-01-01"),
        ),
        false,
        &at("2026-03-02"),
    )
    .unwrap();
    drop(case);
    let good = std::fs::read_to_string(&path).unwrap();
    let line_of = |text: &str, needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .unwrap()
    };
    let long = "x".repeat(5000);
    let medium = "Ø".repeat(201);
    let cases: Vec<(String, &str, &str)> = vec![
        // A terminal escape written as a TOML escape: ESC [ 2 J clears the screen.
        (
            good.replacen(
                "authority = \"Aarhus Kommune\"",
                "authority = \"Aarhus\\u001b[2J Kommune\"",
                1,
            ),
            "authority = ",
            "U+001B",
        ),
        // A C1 control (CSI) and a bidi override in the history.
        (
            good.replacen("who = \"tester\"", "who = \"te\\u009bster\"", 1),
            "who = \"te",
            "U+009B",
        ),
        (
            good.replacen("client_id = \"abc\"", "client_id = \"a\\u202ebc\"", 1),
            "client_id = ",
            "U+202E",
        ),
        // A raw escape byte inside a string is already a TOML error.
        (
            good.replacen(
                "it_system = \"DPG CPR\"",
                "it_system = \"DPG\x1b[31m CPR\"",
                1,
            ),
            "it_system = ",
            "",
        ),
        (
            good.replacen(
                "authority = \"Aarhus Kommune\"",
                &format!("authority = \"{long}\""),
                1,
            ),
            "authority = ",
            "5000 characters",
        ),
        (
            good.replacen(
                "contact_name = \"Ida Ærø\"",
                &format!("contact_name = \"{medium}\""),
                1,
            ),
            "contact_name = ",
            "at most 200 characters",
        ),
        (
            good.replacen("cvr = \"29189846\"", "cvr = \"29189847\"", 1),
            "cvr = ",
            "modulus-11",
        ),
        (
            good.replacen("method = \"certificate\"", "method = \"password\"", 1),
            "method = ",
            "certificate, shared-secret",
        ),
        (
            good.replacen(
                "certificate_environment = \"production\"",
                "certificate_environment = \"production\"\nsecret = \"hunter2\"",
                1,
            ),
            "secret = ",
            "not a fact of this step",
        ),
        (
            good.replacen(
                "AAAABBBBCCCCDDDDEEEEFFFF0000111122223333",
                "AAAABBBBCCCC",
                1,
            ),
            "certificate_sha1_thumbprint",
            "40 upper-case hex",
        ),
    ];
    for (text, needle, says) in cases {
        std::fs::write(&path, &text).unwrap();
        let err = Case::load(&path).unwrap_err();
        match &err {
            Error::Corrupt { line, .. } => {
                assert_eq!(*line, line_of(&text, needle), "{needle}: {err}")
            }
            other => panic!("{needle}: {other}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(says), "{needle}: {msg}");
        assert!(!msg.contains('\u{1b}') && !msg.contains('\u{9b}') && !msg.contains('\u{202e}'));
        assert!(
            !msg.contains("xxxxxxxxxx") && !msg.contains("hunter2"),
            "{msg}"
        );
        // Opening it to change it is refused the same way, and the file stays.
        assert!(matches!(Case::open(&path), Err(Error::Corrupt { .. })));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }
}

#[test]
fn temporary_files_of_killed_writers_are_removed_under_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (case, path) = new_case(dir.path(), Route::Selfservice, "2026-01-05");
    drop(case);
    // What a writer killed between writing and renaming leaves: our own name...
    let ours = state::temp_path(&path);
    assert_eq!(
        ours.file_name().unwrap().to_string_lossy(),
        ".cprlink-onboarding.toml.tmp"
    );
    std::fs::write(&ours, "# cprlink onboarding case file: half").unwrap();
    // ...and version 1's random names, written through the certificate crate.
    let old = SystemTime::now() - Duration::from_secs(3600);
    let plant = |name: &str, text: &str, modified: SystemTime| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        p
    };
    let stale_v1 = plant(
        ".cprlink-Ab12Cd.tmp",
        "# cprlink onboarding case file: written by",
        old,
    );
    let fresh_v1 = plant(
        ".cprlink-Zz98Yx.tmp",
        "# cprlink onboarding case file: written by",
        SystemTime::now(),
    );
    let not_a_case = plant(".cprlink-Qw34Er.tmp", "a .p12 being packed", old);

    // Reading takes no lock and removes nothing.
    Case::load(&path).unwrap();
    assert!(ours.exists());

    let mut case = Case::open(&path).unwrap();
    assert!(!ours.exists(), "ours is stale by definition under the lock");
    assert!(!stale_v1.exists());
    assert!(fresh_v1.exists(), "a live writer may still rename it");
    assert!(not_a_case.exists(), "other commands' files are not ours");
    case.record(
        "selfservice-user",
        &Facts::new().text("username", "u"),
        false,
        &at("2026-01-05"),
    )
    .unwrap();
    assert!(!ours.exists(), "a write leaves no temporary file");
}

#[test]
fn a_second_run_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let (mut first, path) = new_case(dir.path(), Route::Selfservice, "2026-01-05");
    let err = Case::open(&path).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    // Reading is fine meanwhile (writes are atomic).
    assert!(Case::load(&path).is_ok());
    first
        .record(
            "selfservice-user",
            &Facts::new().text("username", "u"),
            false,
            &at("2026-01-05"),
        )
        .unwrap();
    drop(first);
    let mut second = Case::open(&path).unwrap();
    second
        .record(
            "selfservice-user",
            &Facts::new().text("login_method", "password"),
            true,
            &at("2026-01-05"),
        )
        .unwrap();
    assert!(state::lock_path(&path).exists());
    // A read-only case never writes.
    let mut ro = Case::load(&path).unwrap();
    let err = refused(&path, || {
        ro.record(
            "service-user",
            &Facts::new().text("service_user", "x"),
            false,
            &at("2026-01-05"),
        )
    });
    assert!(err.to_string().contains("read-only"), "{err}");
}

#[test]
fn the_file_holds_no_secret_fields_and_reads_like_toml() {
    let dir = tempfile::tempdir().unwrap();
    let (_case, path) = new_case(dir.path(), Route::Selfservice, "2026-01-05");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# cprlink onboarding case file"));
    assert!(text.contains("version = 2\n"));
    assert!(!text.to_lowercase().contains("password ="));
    let parsed: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(parsed["step"].as_array().unwrap().len(), 6);
    // Room for what comes later, absent until used.
    assert!(!text.contains("renewal"));
}
