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
        .env("COLUMNS", "100")
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
    reads_as_a_story(&stdout, &stderr, &d);
    // The --dir kept the files, so the last hint verifies them where they are.
    assert!(
        stdout.contains(&format!(
            "cprlink cert verify {}/dpg-handover.p12",
            d.display()
        )),
        "{stdout}"
    );

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

/// What makes the demo's output a story on a 100-column terminal (run with
/// `COLUMNS=100`): every line of stdout and stderr fits, no command's own "Next:" hint
/// shows (the demo runs the next step itself), "Onboarding is complete" is said once,
/// and every command shown, its `\` continuations joined, is one cprlink parses.
pub(crate) fn reads_as_a_story(stdout: &str, stderr: &str, dir: &std::path::Path) {
    for (name, text) in [("stdout", stdout), ("stderr", stderr)] {
        for line in text.lines() {
            assert!(
                line.chars().count() <= 100,
                "{name} line of {} columns: {line:?}",
                line.chars().count()
            );
            assert!(
                !line.trim_start().starts_with("Next:"),
                "a Next: hint on {name}: {line:?}"
            );
        }
    }
    assert_eq!(
        stdout.matches("Onboarding is complete").count(),
        1,
        "{stdout}"
    );
    assert!(!stderr.contains("Onboarding is complete"), "{stderr}");

    let commands = shown_commands(stdout);
    // The story's steps and the commands it suggests at the end.
    assert!(
        commands.iter().filter(|c| c.starts_with("$ ")).count() >= 15,
        "{commands:#?}"
    );
    assert!(commands.iter().any(|c| c.starts_with("cprlink sandbox ")));
    for command in &commands {
        let line = command.trim_start_matches("$ ");
        let words: Vec<String> = shell_words(line)
            .into_iter()
            .map(|w| w.replace("$D", &dir.display().to_string()))
            .collect();
        assert_eq!(words[0], "cprlink", "{command}");
        if let Err(e) = cprlink::command().try_get_matches_from(&words) {
            panic!("`{command}` does not parse: {e}");
        }
    }
}

/// Every `$ cprlink ...` line and every suggested `  cprlink ...` line, with its
/// ` \` continuation lines joined and any trailing `# comment` dropped.
fn shown_commands(stdout: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = stdout.lines();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if !(t.starts_with("$ cprlink ") || t.starts_with("cprlink ")) {
            continue;
        }
        let mut command = t.to_owned();
        while let Some(head) = command.strip_suffix(" \\") {
            let next = lines.next().expect("a continuation line after ` \\`");
            assert!(
                next.starts_with("    "),
                "continuation not indented: {next:?}"
            );
            command = format!("{head} {}", next.trim());
        }
        if let Some(i) = command.find("  #") {
            command.truncate(i);
        }
        out.push(command.trim_end().to_owned());
    }
    out
}

/// Splits a command line into words as a shell does for the demo's lines: spaces apart,
/// double quotes kept together.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            _ => {
                word.push(c);
                any = true;
            }
        }
    }
    assert!(!quoted, "an unclosed quote in {line:?}");
    if any {
        words.push(word);
    }
    words
}
