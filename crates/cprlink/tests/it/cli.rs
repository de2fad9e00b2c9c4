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
