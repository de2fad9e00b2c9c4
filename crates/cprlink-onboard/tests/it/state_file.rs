//! The case file: versions and migration, corrupt and newer files, the lock.

use std::path::Path;

use cprlink_onboard::state::{self, Migration};
use cprlink_onboard::{Case, Error, Facts, Route, StepState};

use crate::support::*;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn version_1_fixture_keeps_loading() {
    // A file as version 1 writes it; every later cprlink must read it.
    let case = Case::load(&fixture("state-v1.toml")).unwrap();
    let s = case.status(day("2026-02-20"));
    assert_eq!(s.authority, "Horsens Kommune");
    assert_eq!(s.route, Route::Selfservice);
    assert_eq!(s.steps[3].state, StepState::Waiting);
    assert_eq!(s.steps[3].waiting_since, Some(day("2026-02-02")));
    assert_eq!(case.state().version, 1);
    assert_eq!(
        case.facts("service-user").unwrap()["certificate_not_after"],
        "2028-11-30"
    );
}

/// A stand-in v1 -> v2 step: v2 keeps contact names trimmed to "Name <email>" style
/// and tags the history. What matters is that the runner applies it to v1 files only.
fn v1_to_v2(table: &mut toml::Table) -> Result<(), String> {
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
fn migration_runner_upgrades_v1_files() {
    let text = std::fs::read_to_string(fixture("state-v1.toml")).unwrap();
    let chain: &[Migration] = &[v1_to_v2];
    let state = state::parse_with(Path::new("state-v1.toml"), &text, chain).unwrap();
    assert_eq!(state.version, 2);
    assert!(state.history.iter().all(|h| h.what.ends_with("[migrated]")));
    // A file already at the target version is not migrated again.
    let v2 = text.replacen("version = 1", "version = 2", 1);
    let state = state::parse_with(Path::new("v2.toml"), &v2, chain).unwrap();
    assert!(state.history.iter().all(|h| !h.what.contains("[migrated]")));
    // And a failing migration is reported, not half-applied.
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
    std::fs::write(&path, b"version = 1\nauthority = \"\xff\"\n").unwrap();
    assert!(matches!(
        Case::open(&path).unwrap_err(),
        Error::Corrupt { line: 2, .. }
    ));

    // A newer version: refused, and left exactly as it was.
    let newer = good.replacen("version = 1", "version = 2", 1);
    std::fs::write(&path, &newer).unwrap();
    let err = Case::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NewerVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), newer);
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
    assert!(text.contains("version = 1\n"));
    assert!(!text.to_lowercase().contains("password ="));
    let parsed: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(parsed["step"].as_array().unwrap().len(), 6);
}
