//! The main screens people read, as snapshots (`insta`): a reviewer sees every changed
//! line of human output. Paths, dates, day counts, ports and the fingerprints of
//! freshly made test certificates are filtered so the snapshots stay stable.
//! Update with `INSTA_UPDATE=always cargo test -p cprlink --test it screens` (or
//! `cargo insta review`), then read the diff.

use std::path::Path;

use crate::cert::{issuing, p12_file, pwfile, tmp, trust_root};
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
