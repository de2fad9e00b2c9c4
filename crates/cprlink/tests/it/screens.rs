//! The main screens people read, as snapshots (`insta`): a reviewer sees every changed
//! line of human output. Paths, dates, day counts, ports, timings and the fingerprints
//! of freshly made test certificates are filtered so the snapshots stay stable.
//! Update with `INSTA_UPDATE=always cargo test -p cprlink --test it screens` (or
//! `cargo insta review`), then read the diff.

use std::path::Path;

use crate::cert::{issuing, p12_file, pwfile, tmp, trust_root};
use crate::lookup::shared;
use crate::support::{cprlink, testdata_dir};

/// The filters every screen shares.
fn filters(dir: Option<&Path>) -> Vec<(String, String)> {
    let mut f = Vec::new();
    if let Some(d) = dir {
        f.push((regex_escape(&d.display().to_string()), "[DIR]".to_owned()));
    }
    f.extend(
        [
            (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", "[TIME]"),
            (r"\b20\d{2}-\d{2}-\d{2}\b", "[DATE]"),
            (r"\b\d+ days? left", "[N] days left"),
            (r"\(\d+ days?\)", "([N] days)"),
            (r", \d+ days?\)", ", [N] days)"),
            (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
            (
                r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                "[UUID]",
            ),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned())),
    );
    f
}

/// Also hides the fingerprints and serials of certificates made for the test.
fn random_cert_filters() -> Vec<(String, String)> {
    [
        (r"([0-9A-F]{2}:){31}[0-9A-F]{2}", "[SHA256]"),
        (r"\b[0-9A-F]{40}\b", "[SHA1]"),
        (r"\b[0-9A-F]{32}\b", "[SERIAL]"),
    ]
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .to_vec()
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

fn snap(name: &str, text: &str, filters: Vec<(String, String)>) {
    let mut settings = insta::Settings::clone_current();
    for (re, with) in &filters {
        settings.add_filter(re, with.as_str());
    }
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name, text));
}

fn text(out: &std::process::Output) -> String {
    let mut t = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    if !err.is_empty() {
        t.push_str("--- stderr ---\n");
        t.push_str(&err);
    }
    t
}

#[test]
fn cert_inspect_of_the_real_production_certificate() {
    let file = testdata_dir().join("oces3/example-prod-system-cert.pem");
    let out = cprlink()
        .current_dir(testdata_dir())
        .args(["cert", "inspect", "oces3/example-prod-system-cert.pem"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(file.is_file());
    snap("cert_inspect", &text(&out), filters(None));
}

#[test]
fn cert_verify_of_a_handover_p12() {
    let dir = tmp();
    let cert = crate::cert::leaf(&crate::cert::spec());
    let p12 = p12_file(dir.path(), "handover.p12", &cert, &issuing());
    let pw = pwfile(dir.path());
    let root = trust_root(dir.path());
    let out = cprlink()
        .current_dir(dir.path())
        .args(["cert", "verify"])
        .arg(p12.file_name().unwrap())
        .arg("--password-file")
        .arg(pw.file_name().unwrap())
        .args(["--cvr", "29189846", "--environment", "test", "--trust"])
        .arg(root.file_name().unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mut f = filters(Some(dir.path()));
    f.extend(random_cert_filters());
    snap("cert_verify", &text(&out), f);
}

/// A case in `dir`: started, its first step done, the CPR application sent and waiting.
fn case_in_progress(dir: &Path) {
    let onboard = |args: &[&str]| {
        cprlink()
            .current_dir(dir)
            .env("USER", "ida")
            .arg("onboard")
            .args(args)
            .assert()
            .success();
    };
    onboard(&[
        "init",
        "--authority",
        "Aarhus Kommune",
        "--cvr",
        "29189846",
        "--route",
        "administration",
        "--environment",
        "test",
        "--contact-email",
        "it@aarhus.dk",
    ]);
    onboard(&[
        "record",
        "it-system",
        "--it-system",
        "Aarhus DPG CPR",
        "--client-id",
        "aarhus-dpg",
        "--done",
    ]);
    onboard(&[
        "record",
        "cpr-application",
        "--case-number",
        "CPR-2026-0042",
        "--applied-on",
        "2026-01-05",
    ]);
}

#[test]
fn onboard_status_of_a_case_in_progress() {
    let dir = tmp();
    case_in_progress(dir.path());
    let out = cprlink()
        .current_dir(dir.path())
        .args(["onboard", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    snap("onboard_status", &text(&out), filters(Some(dir.path())));
}

#[test]
fn onboard_next_without_input() {
    let dir = tmp();
    case_in_progress(dir.path());
    let out = cprlink()
        .current_dir(dir.path())
        .args(["--no-input", "onboard", "next"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    snap("onboard_next", &text(&out), filters(Some(dir.path())));
}

#[test]
fn doctor_on_the_running_sandbox() {
    let run = shared();
    let out = run.cprlink().arg("doctor").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sandbox_dir = run.sb.files().config_toml.parent().unwrap().to_path_buf();
    let mut f = filters(Some(&sandbox_dir));
    f.extend(random_cert_filters());
    snap("doctor", &text(&out), f);
}

#[test]
fn errors_with_their_hints() {
    let dir = tmp();
    let mut t = String::new();
    for args in [
        &["cert", "verify", "missing.p12"][..],
        &["lookup", "3213121234"][..],
    ] {
        let out = cprlink()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(out.stdout.is_empty(), "{}", text(&out));
        t.push_str(&format!("$ cprlink {}\n{}", args.join(" "), text(&out)));
    }
    snap("errors", &t, filters(Some(dir.path())));
}

#[test]
fn the_demo_story() {
    // The demo's temporary directory goes under ours, so it has a known name, and one
    // of the same length on every machine: the commands wrap their lines for the real
    // paths before the story shows them as `$D/...`.
    let tmpdir = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
    let out = cprlink()
        .arg("demo")
        .env("COLUMNS", "100")
        .env("TMPDIR", tmpdir.path())
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let d = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Everything happens in D="))
        .and_then(|l| l.split(' ').next())
        .expect("the demo names its directory");
    assert!(d.starts_with(&tmpdir.path().display().to_string()), "{d}");
    crate::demo::reads_as_a_story(&stdout, &stderr, Path::new(d));
    // Without --dir the files go with the demo.
    assert!(!Path::new(d).exists(), "{d} is left behind");

    let mut f = vec![(regex_escape(d), "[DIR]".to_owned())];
    f.extend(filters(None));
    f.extend(random_cert_filters());
    // The same, cut short to fit a line of `onboard status`.
    f.extend(
        [
            (r"([0-9A-F]{2}:){4,}[0-9A-F:]*\.\.\.", "[SHA256...]"),
            (r"UI:DK-O:G:[0-9a-f-]+\.\.\.", "UI:DK-O:G:[UUID...]"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned())),
    );
    f.extend(
        [
            (r"took \d+\.\d s", "took [SECS] s"),
            (r"\(\d+ lookups/s", "([N] lookups/s"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned())),
    );
    snap("demo", &text(&out), f);
}
