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

    // Every act of the story ran, through the real commands: the administration route,
    // the go-live config from the case, GraphQL with it (and REST once).
    for needle in [
        "$ cprlink cert export-cer $D/certificate.pem --out $D/demo.pem --encoding pem",
        "$ cprlink cert pack",
        "verdict: pass",
        "$ cprlink onboard init --authority \"Demo Kommune\" --cvr 12345674 --route administration",
        "$ cprlink onboard record credential --method certificate",
        "$ cprlink onboard record data-access --requested-on",
        "$ cprlink onboard record dpg-handover",
        "Onboarding is complete",
        "$ cprlink onboard config --state $D/onboarding.toml --out $D/cprlink.toml",
        "CPRLINK_DATAFORDELER_GRAPHQL_URL=https://127.0.0.1:",
        "$ cprlink --config $D/cprlink.toml lookup --api rest",
        "1000 of 1000 bulk names (GraphQL) match",
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
        ("demo.pem", 0o644),
        ("cprlink.toml", 0o644),
    ] {
        let meta = std::fs::metadata(d.join(name)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, mode, "{name}");
    }
    let state: toml::Table =
        toml::from_str(&std::fs::read_to_string(d.join("onboarding.toml")).unwrap()).unwrap();
    assert_eq!(state["route"].as_str(), Some("administration"));
    let steps = state["step"].as_array().unwrap();
    assert_eq!(steps.len(), 7);
    assert!(steps.iter().all(|s| s["progress"].as_str() == Some("done")));
    // The lookups used the config `onboard config` wrote from the case.
    let config: toml::Table =
        toml::from_str(&std::fs::read_to_string(d.join("cprlink.toml")).unwrap()).unwrap();
    assert_eq!(config["datafordeler"]["api"].as_str(), Some("graphql"));
    assert_eq!(
        config["datafordeler"]["client_id"].as_str(),
        Some(cprlink_sandbox::CLIENT_ID)
    );
    assert_eq!(
        config["certificate"]["p12"].as_str(),
        Some("dpg-handover.p12")
    );
    let names = std::fs::read_to_string(d.join("names.jsonl")).unwrap();
    assert_eq!(names.lines().count(), 1000);

    // A second run into the same directory refuses instead of mixing two stories.
    cprlink().args(["demo", "--dir"]).arg(&d).assert().code(2);
}
