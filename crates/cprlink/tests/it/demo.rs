//! `cprlink demo`: the whole story on the embedded sandbox, end to end.

use std::os::unix::fs::PermissionsExt;

use crate::support::cprlink;

#[test]
fn demo_tells_the_whole_story_and_keeps_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("demo");
    let out = cprlink()
        .args(["demo", "--dir"])
        .arg(&d)
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );

    // Every act of the story ran, through the real commands.
    for needle in [
        "$ cprlink cert export-cer",
        "$ cprlink cert pack",
        "verdict: pass",
        "$ cprlink onboard record dpg-handover",
        "Onboarding is complete",
        "--api graphql",
        "1000 of 1000 bulk names match",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
    // A protected person is shown as such, with the name (authorities get it).
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("found") && l.contains(" yes ")),
        "no protected person in:\n{stdout}"
    );
    // stderr never shows a CPR number unmasked.
    assert!(
        !stderr
            .split(|c: char| !c.is_ascii_digit())
            .any(|run| run.len() == 10),
        "a 10-digit number on stderr:\n{stderr}"
    );

    // The files of the story are there, keys and passwords 0600.
    for (name, mode) in [
        ("dpg-handover.p12", 0o600),
        ("dpg-handover.p12.password", 0o600),
        ("private-key.pem", 0o600),
        ("demo.cer", 0o644),
    ] {
        let meta = std::fs::metadata(d.join(name)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, mode, "{name}");
    }
    let state = std::fs::read_to_string(d.join("onboarding.toml")).unwrap();
    assert!(state.contains("dpg-handover"), "{state}");
    let names = std::fs::read_to_string(d.join("names.jsonl")).unwrap();
    assert_eq!(names.lines().count(), 1000);

    // A second run into the same directory refuses instead of mixing two stories.
    cprlink().args(["demo", "--dir"]).arg(&d).assert().code(2);
}
