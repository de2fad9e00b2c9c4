//! `cprlink doctor` on the sandbox: all pass; a denied IP names the allowlist step of
//! the config's route.

use std::net::{IpAddr, Ipv4Addr};

use crate::lookup::{selfservice_config, shared, start, unregistered_config};
use crate::support::cprlink;

#[test]
fn passes_on_the_sandbox_for_both_apis() {
    let run = shared();
    let want = run.expected();
    for api in ["rest", "graphql"] {
        let out = run
            .cprlink()
            .args(["--json", "doctor", "--api", api, "--probe-cpr", &want[0].0])
            .assert()
            .code(0)
            .get_output()
            .clone();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["ok"], true, "{v}");
        let ids: Vec<&str> = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                "config",
                "certificate",
                "dns",
                "tcp",
                "tls",
                "http",
                "token",
                "schema",
                "lookup"
            ]
        );
        let schema = &v["checks"][7];
        let want_schema = if api == "graphql" { "pass" } else { "skip" };
        assert_eq!(schema["status"], want_schema, "{v}");
        let lookup = &v["checks"][8];
        assert_eq!(lookup["status"], "pass", "{v}");
        assert!(
            !out.stdout.windows(10).any(|w| w == want[0].0.as_bytes()),
            "the probe number unmasked"
        );
    }
    let out = run
        .cprlink()
        .args(["doctor"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("all checks passed"), "{text}");
}

#[test]
fn a_denied_ip_fails_http_and_names_the_allowlist_step_of_the_route() {
    let run = start(5, |_| {});
    run.sb.deny_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let out = run
        .cprlink()
        .args(["doctor"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("fail  http"), "{text}");
    assert!(text.contains("DAF-AUTH-0005"), "{text}");
    // The sandbox's config has a `client_id`: the administration route.
    // The fix is wrapped to the terminal's width.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("fix: new credentials take up to about 20 minutes"),
        "{text}"
    );
    assert!(flat.contains("otherwise step 3 (ip-allowlist)"), "{text}");
    assert!(text.contains("skip  lookup"), "{text}");
    let out = run
        .cprlink()
        .args(["--json", "doctor"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["checks"][5]["id"], "http");
    assert_eq!(v["checks"][5]["status"], "fail");
    let fix = v["checks"][5]["fix"].as_str().unwrap();
    assert!(fix.contains("; otherwise step 3 (ip-allowlist): "), "{fix}");
    // Without `client_id`: the Self-Service route's step.
    let dir = tempfile::tempdir().unwrap();
    let out = cprlink()
        .arg("--config")
        .arg(selfservice_config(&run, dir.path()))
        .args(["--json", "doctor"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fix = v["checks"][5]["fix"].as_str().unwrap();
    assert!(
        fix.contains("; otherwise step 5 (production-access): "),
        "{fix}"
    );
    assert!(fix.contains("step 2 (service-user)"), "{fix}");
}

#[test]
fn an_unregistered_certificate_and_a_broken_config_are_reported() {
    let run = shared();
    let dir = tempfile::tempdir().unwrap();
    let cfg = unregistered_config(run, dir.path());
    let out = cprlink()
        .arg("--config")
        .arg(&cfg)
        .args(["doctor"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("fail  http") && text.contains("step 2 (credential)"),
        "{text}"
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[lookup]\nconcurency = 3\n").unwrap();
    let out = cprlink()
        .arg("--config")
        .arg(&bad)
        .args(["doctor"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("fail  config") && text.contains("concurency"),
        "{text}"
    );
}
