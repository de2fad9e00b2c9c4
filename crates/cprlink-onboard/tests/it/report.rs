//! The case file as people read it: labels instead of keys, commands as code, the
//! world's dates, who made each change, the timeline (a bar per step, waits drawn
//! apart), in both languages; and in a real browser (headless Chromium, when it is
//! installed): the DOM, a PDF print and a screenshot.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cprlink_onboard::{
    Case, Facts, Language, NewCredential, RenewalEvidence, Route, Stamp, VerifyVerdict, report,
};

use crate::support::*;

const OLD: &str = "A4555BC70616171C58B28C41A1AF288C88858C0C";
const NEW: &str = "5E2F0D13C9A84B7E6F1023A9D4C5B6E7F8091A2B";

fn by(who: &str, date: &str) -> Stamp {
    Stamp {
        who: who.to_owned(),
        ..at(date)
    }
}

/// The case of the issue: an administration case done in five weeks (23 days waiting
/// for CPR), then a renewal of its certificate; today is 2026-12-01.
pub(crate) fn completed_with_renewal(dir: &Path) -> Case {
    let (mut case, _) = new_case(dir, Route::Administration, "2026-09-01");
    let ida = |d| by("Ida Hansen", d);
    let mads = |d| by("Mads Holm", d);
    let old = cert(OLD, "2026-12-20");
    let steps: Vec<(&str, Facts, Stamp)> = vec![
        (
            "it-system",
            Facts::new()
                .text("it_system", "DPG CPR opslag")
                .text("client_id", "3f2c9a4e-dpg"),
            ida("2026-09-01"),
        ),
        (
            "credential",
            Facts::new().certificate("certificate", old.clone()),
            ida("2026-09-02"),
        ),
        (
            "ip-allowlist",
            Facts::new()
                .text("dpg_ip", "80.62.117.20")
                .text("added_on", "2026-09-03"),
            mads("2026-09-03"),
        ),
        (
            "cpr-application",
            Facts::new()
                .text("case_number", "CPR-2026-0042")
                .text("applied_on", "2026-09-08")
                .text("virk_receipt", "123456"),
            ida("2026-09-09"),
        ),
        (
            "cpr-approval",
            Facts::new()
                .text("approved_on", "2026-10-01")
                .text("approval_reference", "J.nr. 26-1234"),
            ida("2026-10-02"),
        ),
    ];
    for (id, f, s) in steps {
        case.record(id, &f, true, &s).unwrap();
    }
    case.record(
        "data-access",
        &Facts::new().text("requested_on", "2026-10-02"),
        false,
        &mads("2026-10-02"),
    )
    .unwrap();
    case.record(
        "data-access",
        &Facts::new().text("granted_on", "2026-10-08"),
        true,
        &mads("2026-10-08"),
    )
    .unwrap();
    case.record(
        "dpg-handover",
        &Facts::new()
            .handover("p12", handover(old, VerifyVerdict::Pass, &[]))
            .text("handed_over_on", "2026-10-09"),
        true,
        &ida("2026-10-09"),
    )
    .unwrap();
    let new = cert(NEW, "2029-11-04");
    case.renew(
        &NewCredential::Certificate(RenewalEvidence {
            certificate: cprlink_onboard::CertificateEvidence {
                file: "/srv/dpg/renewed.pem".to_owned(),
                ..new.clone()
            },
            compared_with: OLD.to_owned(),
            problems: Vec::new(),
        }),
        &ida("2026-11-05"),
    )
    .unwrap();
    case.mark_done("register-new", &ida("2026-11-05")).unwrap();
    case.record(
        "install-dpg",
        &Facts::new()
            .handover("p12", handover(new, VerifyVerdict::Pass, &[]))
            .text("installed_on", "2026-11-06"),
        true,
        &mads("2026-11-06"),
    )
    .unwrap();
    case.record(
        "confirm",
        &Facts::new().text("confirmed_on", "2026-11-07"),
        true,
        &mads("2026-11-07"),
    )
    .unwrap();
    case.record(
        "retire-old",
        &Facts::new().text("retired_on", "2026-11-10"),
        true,
        &ida("2026-11-10"),
    )
    .unwrap();
    case
}

/// Every fact key the case file can hold (the route's, the renewal's, a certificate's).
fn fact_keys() -> Vec<String> {
    let mut keys = Vec::new();
    for route in [Route::Administration, Route::Selfservice] {
        for method in ["certificate", "shared-secret"] {
            let defs = route
                .steps()
                .iter()
                .chain(cprlink_onboard::steps::renewal_steps(route, method));
            for d in defs {
                keys.extend(d.fields.iter().map(|f| f.key.to_owned()));
            }
        }
    }
    for part in [
        "sha1_thumbprint",
        "sha256_fingerprint",
        "not_after",
        "file",
        "subject",
        "environment",
        "cvr",
    ] {
        keys.push(format!("certificate_{part}"));
        keys.push(format!("p12_{part}"));
    }
    keys.extend(["p12_verdict", "p12_warned_checks", "secret_expires_on"].map(String::from));
    keys.retain(|k| k.contains('_'));
    keys.sort();
    keys.dedup();
    keys
}

/// The text a reader sees: the body without tags, style sheets and the SVG's hidden
/// text alternative (checked apart), with entities decoded.
fn visible_text(html: &str) -> String {
    let mut s = html.to_owned();
    for (open, close) in [
        ("<style", "</style>"),
        ("<head", "</head>"),
        ("<title", "</title>"),
        ("<desc", "</desc>"),
    ] {
        while let Some(i) = s.find(open) {
            let Some(j) = s[i..].find(close) else { break };
            s.replace_range(i..i + j + close.len(), " ");
        }
    }
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn assert_reads_as_a_document(html: &str, what: &str) {
    let text = visible_text(html);
    assert!(!text.contains('`'), "{what}: a raw backtick in:\n{text}");
    for key in fact_keys() {
        assert!(
            !text.contains(&key),
            "{what}: the key {key} shows in:\n{text}"
        );
    }
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        assert!(!word.contains('_'), "{what}: {word} looks like a key");
    }
    // Every header cell says what its column or row is.
    for cell in html
        .split("<th")
        .skip(1)
        .filter(|c| c.starts_with([' ', '>']))
    {
        let content = &cell[cell.find('>').unwrap() + 1..cell.find("</th>").unwrap()];
        assert!(!content.trim().is_empty(), "{what}: an empty header cell");
    }
}

#[test]
fn labels_dates_and_who_instead_of_keys() {
    let dir = tempfile::tempdir().unwrap();
    let case = completed_with_renewal(dir.path());
    let today = day("2026-12-01");
    let html = report::html(&case, today, Language::En);
    assert_reads_as_a_document(&html, "en");
    // Dates of the world: the approval's day, not the day it was typed in (10-02).
    assert!(
        html.contains("<span class=\"state done\">done on 2026-10-01</span>"),
        "{html}"
    );
    assert!(
        html.contains("<th scope=\"row\">CPR case number</th><td><code>CPR-2026-0042</code></td>")
    );
    assert!(
        html.contains("<td>OAuth certificate</td>"),
        "method in words"
    );
    // Commands as code.
    assert!(
        html.contains("<code>cprlink onboard letter cpr-application</code>"),
        "{html}"
    );
    // The history says who.
    assert!(
        html.contains("<td>Mads Holm</td><td>IP allowlist (/32) on the IT-system</td>"),
        "{html}"
    );
    assert!(html.contains("<td>Recorded DPG&#39;s IPv4 address: 80.62.117.20, Added to the allowlist on: 2026-09-03; marked done</td>"), "{html}");
    assert!(html.contains("The onboarding took 38 days, from 2026-09-01 to 2026-10-09; 29 days of it went to waiting for other organisations."), "{html}");
    assert!(!html.contains("who: unknown") && !html.contains("<td>unknown</td>"));
    // The timeline: a bar per step, the wait for CPR labelled with its length.
    assert_eq!(
        html.matches("<rect class=\"bar ").count(),
        11,
        "7 steps, 4 renewal steps"
    );
    assert!(html.contains(">waiting for CPR: 23 days</text>"), "{html}");
    assert!(html.contains(">waiting for the data access: 6 days</text>"));
    assert!(html.contains("class=\"today\""));
    assert!(html.contains("role=\"img\"") && html.contains("<desc id=\"tl-desc-0\">"));
    // The renewal, old and new side by side, in the case's history.
    assert!(html.contains(&format!(
        "<td><code>{OLD}</code></td><td><code>{NEW}</code></td>"
    )));
    assert!(html.contains("<td>Renewal done: the certificate SHA-1"));
    // Print: A4, the case and the date in the page header, links as text.
    assert!(html.contains("@page{size:A4"));
    assert!(html.contains("@top-left{content:\"Onboarding case: Aarhus Kommune (CVR 29189846)\""));
    assert!(html.contains("@top-right{content:\"Status on 2026-12-01\""));
    assert!(html.contains("a[href^='http']::after{content:' <' attr(href) '>'"));

    let da = report::html(&case, today, Language::Da);
    assert_reads_as_a_document(&da, "da");
    assert!(da.starts_with("<!DOCTYPE html>\n<html lang=\"da\">"));
    for s in [
        ">venter på CPR-godkendelsen: 23 dage</text>",
        "<th scope=\"row\">CPR-sagsnummer</th>",
        "<h2>Historik</h2>",
        "Godkendelse fra CPR-servicedesken",
        "<span class=\"state done\">udført 2026-10-01</span>",
    ] {
        assert!(da.contains(s), "{s} missing");
    }

    // Markdown: the same facts, the timeline as a table.
    let md = report::markdown(&case, today, Language::En);
    assert!(md.contains("| 5 | Approval from the CPR service desk | 2026-09-08 | 2026-10-01 | waiting for CPR: 23 days |"), "{md}");
    assert!(md.contains("| 1 | New certificate registered on the IT-system (PEM) | 2026-11-05 | 2026-11-05 | the same day |"), "{md}");
    assert!(
        md.contains("| 2026-09-03 12:00 | Mads Holm | IP allowlist (/32) on the IT-system |"),
        "{md}"
    );
    assert!(
        md.contains(&format!("| SHA-1 thumbprint | {OLD} | {NEW} |")),
        "{md}"
    );
    for key in fact_keys() {
        assert!(!md.contains(&key), "the key {key} shows in the Markdown");
    }
}

// ---- in a real browser -----------------------------------------------------------------

/// Debian's `chromium` (CI installs it); `CPRLINK_CHROMIUM` names another.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("CPRLINK_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    path.is_file().then_some(path)
}

/// Runs headless Chromium on `page` with `args`; its stdout. Killed after two minutes.
fn run_chromium(bin: &Path, profile: &Path, page: &Path, args: &[String]) -> String {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).unwrap();
        s
    });
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium {args:?}: {status}");
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("chromium {args:?} did not finish in two minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().unwrap()
}

#[test]
fn the_report_in_headless_chromium_dom_pdf_and_screenshot() {
    let Some(bin) = chromium() else {
        eprintln!(
            "skipped: no Chromium at /usr/bin/chromium (apt-get install chromium, or set CPRLINK_CHROMIUM)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let case_dir = dir.path().join("case");
    std::fs::create_dir(&case_dir).unwrap();
    let case = completed_with_renewal(&case_dir);
    let page = dir.path().join("case.html");
    std::fs::write(&page, report::html(&case, day("2026-12-01"), Language::En)).unwrap();
    let profile = dir.path().join("profile");

    // The DOM as the browser built it: the timeline has a bar per step.
    let dom = run_chromium(&bin, &profile, &page, &["--dump-dom".to_owned()]);
    assert!(dom.contains("<svg"), "{dom}");
    let bars: Vec<&str> = dom.split("<rect class=\"bar ").skip(1).collect();
    assert_eq!(bars.len(), 11, "a bar per step");
    for id in [
        "it-system",
        "cpr-approval",
        "data-access",
        "dpg-handover",
        "install-dpg",
        "retire-old",
    ] {
        assert!(
            bars.iter()
                .any(|b| b.contains(&format!("data-step=\"{id}\""))),
            "{id}"
        );
    }
    assert!(
        bars.iter().filter(|b| b.starts_with("waiting")).count() == 2,
        "two waits"
    );
    assert_reads_as_a_document(&dom, "the browser's DOM");

    // Printed to PDF: A4 pages; the page header names the case and the date.
    let pdf = dir.path().join("case.pdf");
    run_chromium(
        &bin,
        &profile,
        &page,
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".to_owned(),
        ],
    );
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"), "not a PDF");
    // A4 is 595 x 842 points.
    let text = String::from_utf8_lossy(&bytes);
    let boxes: Vec<Vec<f64>> = text
        .split("/MediaBox [")
        .skip(1)
        .map(|b| {
            b.split(']')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .collect();
    assert!(!boxes.is_empty(), "no pages");
    for b in &boxes {
        let a4 =
            b.len() == 4 && (b[2] - b[0] - 595.3).abs() < 2.0 && (b[3] - b[1] - 841.9).abs() < 2.0;
        assert!(a4, "not an A4 page: {b:?}");
    }
    if let Ok(out) = Command::new("pdftotext")
        .arg("-layout")
        .arg(&pdf)
        .arg("-")
        .output()
        && out.status.success()
    {
        let t = String::from_utf8_lossy(&out.stdout);
        let pages: Vec<&str> = t.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
        assert!(pages.len() >= 2, "{t}");
        for p in &pages {
            let head = p.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            assert!(
                head.contains("Onboarding case: Aarhus Kommune (CVR 29189846)")
                    && head.contains("Status on 2026-12-01"),
                "page header: {head:?}"
            );
        }
        assert!(
            t.contains("<https://portal.timengodpg.com>"),
            "links printed as text"
        );
        // A step's title stays with the step: no page ends with one.
        let html = std::fs::read_to_string(&page).unwrap();
        let titles: Vec<String> = html
            .split("<h3>")
            .chain(html.split("<h4>"))
            .skip(1)
            .filter_map(|h| h.split("</h").next())
            .map(|t| t.replace("&#39;", "'").replace("&amp;", "&"))
            .collect();
        assert!(titles.len() > 11, "{titles:?}");
        for p in &pages {
            let last = p
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.ends_with(&format!(" / {}", pages.len())))
                .unwrap_or("");
            assert!(
                !titles.iter().any(|t| t == last),
                "a page ends with the title {last:?}"
            );
        }
    } else {
        eprintln!("pdftotext not installed: the PDF's text is not checked");
    }

    // A screenshot of the top of the document, for the docs when asked for.
    let png = dir.path().join("case.png");
    run_chromium(
        &bin,
        &profile,
        &page,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1000,1500".to_owned(),
        ],
    );
    let shot = std::fs::read(&png).unwrap();
    assert!(shot.starts_with(b"\x89PNG"), "not a PNG");
    // `CPRLINK_REPORT_SCREENSHOT=docs/onboarding-report.png` keeps it for the docs.
    if let Some(out) = std::env::var_os("CPRLINK_REPORT_SCREENSHOT") {
        std::fs::write(out, &shot).unwrap();
    }
}
