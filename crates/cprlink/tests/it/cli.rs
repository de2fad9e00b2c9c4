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
