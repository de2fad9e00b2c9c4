//! Conventions every command shares: help, usage errors, config errors.

use crate::support::cprlink;

#[test]
fn help_lists_every_command() {
    let out = cprlink()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for cmd in [
        "cert", "onboard", "lookup", "serve", "doctor", "sandbox", "demo",
    ] {
        assert!(text.contains(cmd), "help misses {cmd}");
    }
}

/// Every command's path below `cprlink`, e.g. `["onboard", "record"]`.
fn pages(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<Vec<String>>) {
    for sub in cmd.get_subcommands() {
        let mut p = path.clone();
        p.push(sub.get_name().to_owned());
        pages(sub, p, out);
    }
    out.push(path);
}

#[test]
fn every_help_page_has_examples_global_options_apart_and_fits_100_columns() {
    let mut all = Vec::new();
    pages(&cprlink::command(), Vec::new(), &mut all);
    for path in all {
        for flag in ["-h", "--help"] {
            let out = cprlink()
                .args(&path)
                .arg(flag)
                .env("COLUMNS", "100")
                .assert()
                .success()
                .get_output()
                .stdout
                .clone();
            let text = String::from_utf8(out).unwrap();
            let page = format!("cprlink {} {flag}", path.join(" "));
            assert!(
                text.contains("\nExamples:\n  # "),
                "{page}: no examples\n{text}"
            );
            assert!(
                text.contains("\nGlobal options:\n"),
                "{page}: no global options\n{text}"
            );
            // Global flags only under their heading, never among the command's own.
            let own = text.split("\nGlobal options:\n").next().unwrap_or("");
            assert!(
                !own.contains("--no-input"),
                "{page}: global flags mixed in\n{text}"
            );
            for line in text.lines() {
                assert!(line.chars().count() <= 100, "{page}: {line}");
            }
            // One layout: --help always the long one (descriptions under the flag),
            // -h always the short one.
            let long = text.contains("\n          Print help (see a summary with '-h')");
            assert_eq!(long, flag == "--help", "{page}: layout\n{text}");
        }
    }
}

#[test]
fn man_pages_carry_the_examples() {
    // `cargo xtask docs --check` (CI) keeps the pages in step with the binary.
    let man =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/man/cprlink-lookup.1");
    let text = std::fs::read_to_string(&man).unwrap();
    assert!(text.contains("Examples:"), "{}", man.display());
    assert!(
        text.contains(r"cprlink lookup \-\-input cprs.txt"),
        "{}",
        man.display()
    );
}

#[test]
fn without_a_config_lookup_and_doctor_say_where_they_looked_and_how_to_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = cprlink()
        .current_dir(dir.path())
        .args(["lookup", "0101011234"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "no cprlink.toml found",
        "./cprlink.toml",
        "/nonexistent-cprlink-test/cprlink/cprlink.toml",
        "Hint: write the go-live config from the onboarding case with `cprlink onboard config`",
        "`cprlink sandbox --dir ./sbx`",
    ] {
        assert!(err.contains(want), "missing {want:?} in\n{err}");
    }
    let out = cprlink()
        .current_dir(dir.path())
        .arg("doctor")
        .assert()
        .code(1)
        .get_output()
        .clone();
    // Wrapped at the terminal's width: compared with single spaces.
    let text = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("fail config") && text.contains("no cprlink.toml found"),
        "{text}"
    );
    assert!(text.contains("cprlink onboard config"), "{text}");
    // Not advice about a file that is not there.
    assert!(!text.contains("cert verify"), "{text}");
    // The environment alone is a config: then the certificate it names is used.
    let out = cprlink()
        .current_dir(dir.path())
        .env("CPRLINK_CERTIFICATE_P12", "elsewhere.p12")
        .args(["lookup", "0101011234"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("elsewhere.p12"), "{err}");
}

#[test]
fn every_error_starts_in_lower_case_and_has_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("bad.p12"), "x").unwrap();
    std::fs::write(d.join("unknown.toml"), "[nope]\n").unwrap();
    std::fs::write(d.join("broken.toml"), "[lookup]\nconcurrency = \n").unwrap();
    std::fs::write(d.join("empty.pw"), "").unwrap();
    let cases: &[&[&str]] = &[
        &["cert", "inspect", "missing.p12"],
        &["cert", "inspect", "bad.p12"],
        &["cert", "verify", "bad.p12", "--password-file", "empty.pw"],
        &[
            "cert", "pack", "--cert", "a", "--key", "b", "--out", "c.p12",
        ],
        &["lookup", "123"],
        &["lookup", "--input", "missing.txt"],
        &["lookup", "0101011234"],
        &["--config", "nope.toml", "lookup", "0101011234"],
        &["--config", "unknown.toml", "lookup", "0101011234"],
        &["--config", "broken.toml", "lookup", "0101011234"],
        &["onboard", "status"],
        &["onboard", "init", "--authority", "X", "--cvr", "12345678"],
        &["audit", "verify"],
        &["serve", "--listen", "0.0.0.0:9999"],
        &["doctor", "--probe-cpr", "12"],
        &["sandbox", "--persons", "0"],
        &["demo", "--dir", "/proc/cprlink-cannot"],
    ];
    for args in cases {
        let out = cprlink()
            .current_dir(d)
            .args(*args)
            .assert()
            .failure()
            .get_output()
            .clone();
        let err = String::from_utf8_lossy(&out.stderr);
        let shown = args.join(" ");
        let message = err
            .lines()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or_else(|| panic!("`{shown}`: no error line in\n{err}"));
        assert!(
            !message.starts_with(|c: char| c.is_uppercase()),
            "`{shown}`: {message}"
        );
        assert!(err.contains("\nHint: "), "`{shown}`: no hint in\n{err}");
    }
    // The broken TOML names its line.
    let out = cprlink()
        .current_dir(d)
        .args(["--config", "broken.toml", "lookup", "0101011234"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
}

#[test]
fn unknown_flag_is_a_usage_error() {
    cprlink()
        .args(["cert", "inspect", "--bogus"])
        .assert()
        .code(2);
}

#[test]
fn there_is_no_flag_that_takes_a_password() {
    cprlink()
        .args(["cert", "inspect", "x.p12", "--password", "secret"])
        .assert()
        .code(2);
}

#[test]
fn completions_complete_commands_and_flags_in_a_real_bash() {
    let out = cprlink()
        .args(["completions", "bash"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("cprlink.bash");
    std::fs::write(&script, &out).unwrap();
    // Ask bash itself what `cprlink lo<TAB>` and `cprlink lookup --res<TAB>` offer.
    let probe = format!(
        "source {}; \
         COMP_WORDS=(cprlink lo); COMP_CWORD=1; _cprlink cprlink lo cprlink; echo \"${{COMPREPLY[@]}}\"; \
         COMP_WORDS=(cprlink lookup --res); COMP_CWORD=2; _cprlink cprlink --res lookup; echo \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let run = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &probe])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = String::from_utf8(run.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("lookup"), "{text}");
    assert_eq!(lines.next(), Some("--resume"), "{text}");
}

#[test]
fn completions_exist_for_every_shell_and_refuse_others() {
    for (shell, marker) in [
        ("bash", "complete -F _cprlink"),
        ("zsh", "#compdef cprlink"),
        ("fish", "complete -c cprlink"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = cprlink()
            .args(["completions", shell])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(marker), "{shell}: no {marker:?}");
        assert!(text.contains("lookup"), "{shell}");
    }
    cprlink().args(["completions", "tcsh"]).assert().code(2);
}
