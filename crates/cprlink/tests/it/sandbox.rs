//! `cprlink sandbox` as a process: starts, writes its files, answers curl, stops on
//! SIGINT with exit 0 and leaves the files intact.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::cprlink;

fn spawn(args: &[&str], stdout: Stdio) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("cprlink"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CPRLINK_CONFIG")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for(path: &Path, child: &mut Child) {
    let start = Instant::now();
    while !path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("cprlink sandbox exited early ({status}): {err}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn interrupt_and_wait(child: &mut Child) -> std::process::ExitStatus {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn runs_answers_curl_and_stops_on_sigint_with_files_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sb");
    let mut child = spawn(
        &[
            "sandbox",
            "--dir",
            dir.to_str().unwrap(),
            "--persons",
            "200",
            "--seed",
            "3",
        ],
        Stdio::null(),
    );
    wait_for(&dir.join("sandbox.json"), &mut child);
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("sandbox.json")).unwrap()).unwrap();
    assert_eq!(info["pid"], child.id());
    assert_eq!(
        (info["persons"].as_u64(), info["seed"].as_u64()),
        (Some(200), Some(3))
    );

    // cprlink.toml is valid for the lookup client's schema and points at this sandbox.
    let config: cprlink_lookup::config::Config =
        toml::from_str(&std::fs::read_to_string(dir.join("cprlink.toml")).unwrap()).unwrap();
    let endpoints = config.datafordeler.endpoints();
    assert_eq!(
        endpoints.rest_base_url,
        info["rest_base_url"].as_str().unwrap()
    );
    assert_eq!(endpoints.graphql_url, info["graphql_url"].as_str().unwrap());
    assert_eq!(endpoints.token_url, info["token_url"].as_str().unwrap());

    // An independent client: curl with the written client.p12 and ca.pem.
    let csv = std::fs::read_to_string(dir.join("persons.csv")).unwrap();
    assert_eq!(csv.lines().count(), 201);
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let password = std::fs::read_to_string(dir.join("client.p12.password")).unwrap();
    let out = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--max-time",
            "20",
            "--cert-type",
            "P12",
            "--cert",
        ])
        .arg(format!(
            "{}:{}",
            dir.join("client.p12").display(),
            password.trim()
        ))
        .arg("--cacert")
        .arg(dir.join("ca.pem"))
        .arg(format!(
            "{}{}?pnr.personnummer.eq={}&format=json",
            info["rest_base_url"].as_str().unwrap(),
            endpoints.rest_path,
            row[0]
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Personer"][0]["Person"]["status"], row[row.len() - 1]);

    let status = interrupt_and_wait(&mut child);
    assert_eq!(status.code(), Some(0), "a clean Ctrl-C is exit 0");
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("Sandbox ready"), "{err}");
    assert!(!err.contains(row[0]), "no CPR number on stderr");
    // Files intact after the stop.
    assert_eq!(
        std::fs::read_to_string(dir.join("persons.csv")).unwrap(),
        csv
    );
    let loaded = cprlink_cert::load(&dir.join("client.p12"), Some(password.trim())).unwrap();
    assert!(loaded.leaf().is_some());
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("sandbox.json")).unwrap()).unwrap();
    assert_eq!(again, info);
}

#[test]
fn json_prints_the_document_and_a_temporary_dir_is_removed() {
    let mut child = spawn(&["sandbox", "--json", "--persons", "50"], Stdio::piped());
    let mut text = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let info: serde_json::Value = loop {
        let line = lines.next().expect("a JSON document on stdout").unwrap();
        text.push_str(&line);
        if let Ok(v) = serde_json::from_str(&text) {
            break v;
        }
    };
    let dir = std::path::PathBuf::from(info["dir"].as_str().unwrap());
    assert!(dir.join("sandbox.json").is_file());
    assert!(
        info["graphql_url"]
            .as_str()
            .unwrap()
            .ends_with("/CPR/custom/PublicSector/v1")
    );
    assert!(info["admin_url"].as_str().unwrap().ends_with("/admin"));
    let status = interrupt_and_wait(&mut child);
    assert_eq!(status.code(), Some(0));
    assert!(!dir.exists(), "the temporary directory is removed on exit");
}

#[test]
fn a_port_in_use_is_a_usage_error_with_a_hint() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let out = cprlink()
        .args(["sandbox", "--listen", &addr, "--dir"])
        .arg(tmp.path())
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(err.contains("already in use"), "{err}");
    assert!(err.contains("Hint:") && err.contains("--listen"), "{err}");
}

#[test]
fn bad_options_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        vec!["--persons", "0"],
        vec!["--persons", "1000001"],
        vec!["--fault-rate", "1.5"],
        vec!["--fault-rate", "0.7", "--fault-429-rate", "0.7"],
        vec!["--token-lifetime", "0"],
        vec!["--max-nodes", "0"],
        vec!["--max-in-list", "0"],
        vec!["--schema-drop-field", "navne.nope"],
        vec!["--schema-rename-field", "koen"],
        vec!["--no-access-answer", "maybe"],
    ] {
        cprlink()
            .arg("sandbox")
            .args(&args)
            .arg("--dir")
            .arg(tmp.path())
            .assert()
            .code(2);
    }
}

#[test]
fn a_file_the_sandbox_did_not_make_is_left_alone_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("cprlink.toml"), b"# mine\n").unwrap();
    let out = cprlink()
        .args(["sandbox", "--dir"])
        .arg(tmp.path())
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(
        err.contains("cprlink.toml") && err.contains("Hint:"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(tmp.path().join("cprlink.toml")).unwrap(),
        b"# mine\n"
    );
}

#[test]
fn a_kept_sandbox_config_whose_sandbox_stopped_says_to_start_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sbx");
    let mut child = spawn(
        &["sandbox", "--persons", "20", "--dir", dir.to_str().unwrap()],
        Stdio::null(),
    );
    wait_for(&dir.join("sandbox.json"), &mut child);
    assert!(interrupt_and_wait(&mut child).success());
    let config = dir.join("cprlink.toml");
    let out = cprlink()
        .args(["--config", config.to_str().unwrap(), "lookup", "0101011234"])
        .args(["--retries", "0"])
        .assert()
        .code(4)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("was written by `cprlink sandbox`, which is not running")
            && err.contains(&format!("cprlink sandbox --dir {}", dir.display())),
        "{err}"
    );
    assert!(!err.contains("firewall"), "{err}");
    // doctor names the same fix at its failing check.
    let out = cprlink()
        .args(["--config", config.to_str().unwrap(), "doctor"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    // Wrapped at the terminal's width: compared with single spaces.
    let text = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains("which is not running"), "{text}");
    assert!(!text.contains("firewall"), "{text}");
}
