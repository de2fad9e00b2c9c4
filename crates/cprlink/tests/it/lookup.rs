//! `cprlink lookup` against the sandbox over real mutual TLS, with the sandbox's own
//! `cprlink.toml`, for both back-ends. Also the helpers `serve` and `doctor` tests use.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cprlink_sandbox::{Sandbox, SandboxOptions};

use crate::support::cprlink;

/// A running sandbox with its runtime and directory.
pub(crate) struct Running {
    /// Keeps the sandbox's server tasks running.
    _rt: tokio::runtime::Runtime,
    pub sb: Sandbox,
    _dir: tempfile::TempDir,
}

pub(crate) fn start(persons: u32, tweak: impl FnOnce(&mut SandboxOptions)) -> Running {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SandboxOptions::new(dir.path().join("sandbox"));
    opts.persons = persons;
    tweak(&mut opts);
    let sb = rt.block_on(Sandbox::start(opts)).expect("sandbox starts");
    Running {
        _rt: rt,
        sb,
        _dir: dir,
    }
}

/// The sandbox shared by tests that do not change it.
pub(crate) fn shared() -> &'static Running {
    static SHARED: OnceLock<Running> = OnceLock::new();
    SHARED.get_or_init(|| start(300, |_| {}))
}

impl Running {
    pub(crate) fn config(&self) -> PathBuf {
        self.sb.files().config_toml.clone()
    }

    /// `cprlink --config <sandbox>/cprlink.toml ARGS`.
    pub(crate) fn cprlink(&self) -> assert_cmd::Command {
        let mut c = cprlink();
        c.arg("--config").arg(self.config());
        c
    }

    /// (cpr, name, name_protected, person_status) of every person.
    pub(crate) fn expected(&self) -> Vec<(String, String, bool, String)> {
        let pop = self.sb.population();
        (0..pop.len())
            .map(|i| {
                let e = pop.expected(i);
                (e.cpr, e.name, e.name_protected, e.person_status.to_owned())
            })
            .collect()
    }
}

pub(crate) fn jsonl(bytes: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Every ten-digit run in `text` (CPR-shaped numbers).
pub(crate) fn cpr_like(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let j = (i..b.len())
                .find(|&k| !b[k].is_ascii_digit())
                .unwrap_or(b.len());
            if j - i == 10 {
                out.push(text[i..j].to_owned());
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn bulk_from_persons_csv_matches_every_answer_on_both_apis() {
    let run = shared();
    let want = run.expected();
    for api in ["rest", "graphql"] {
        let out = run
            .cprlink()
            .args(["lookup", "--api", api, "--input"])
            .arg(&run.sb.files().persons_csv)
            .assert()
            .code(0)
            .get_output()
            .clone();
        let rows = jsonl(&out.stdout);
        assert_eq!(rows.len(), want.len(), "{api}");
        for (w, r) in want.iter().zip(&rows) {
            assert_eq!(r["cpr"], w.0.as_str(), "{api}");
            assert_eq!(r["status"], "found", "{api} {}", w.0);
            assert_eq!(r["name"].as_str().unwrap_or(""), w.1, "{api} {}", w.0);
            assert_eq!(r["name_protected"], w.2, "{api} {}", w.0);
            assert_eq!(r["person_status"], w.3.as_str(), "{api} {}", w.0);
            assert!(r["error"].is_null());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("{} rows", want.len())), "{stderr}");
        assert!(
            cpr_like(&stderr).is_empty(),
            "a CPR number on stderr: {stderr}"
        );
    }
}

#[test]
fn mixed_input_is_answered_once_each_in_order_and_exits_1() {
    let run = shared();
    let want = run.expected();
    let unknown = run.sb.population().unknown_cpr(11);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let dashed = format!("{}-{}", &want[1].0[..6], &want[1].0[6..]);
    std::fs::write(
        &input,
        format!(
            "{}\n\n{unknown}\n3213011234\n{dashed}\nnonsense\n",
            want[0].0
        ),
    )
    .unwrap();
    for api in ["rest", "graphql"] {
        let out = run
            .cprlink()
            .args(["lookup", "--api", api, "-v", "--input"])
            .arg(&input)
            .assert()
            .code(1)
            .get_output()
            .clone();
        let rows = jsonl(&out.stdout);
        let got: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r["cpr"].as_str().unwrap(), r["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            got,
            vec![
                (want[0].0.as_str(), "found"),
                (unknown.as_str(), "not_found"),
                ("3213011234", "invalid"),
                (want[1].0.as_str(), "found"),
                ("nonsense", "invalid"),
            ],
            "{api}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            cpr_like(&stderr).is_empty(),
            "a CPR number on stderr: {stderr}"
        );
    }
}

#[test]
fn arguments_csv_and_table_outputs() {
    let run = shared();
    let want = run.expected();
    let out = run
        .cprlink()
        .args(["lookup", "--format", "csv", &want[2].0, &want[3].0])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "cpr,status,name,first_names,middle_name,last_name,addressing_name,name_protected,person_status,error"
    );
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with(&format!("{},found,", want[2].0)));
    let out = run
        .cprlink()
        .args(["lookup", "--format", "table", &want[2].0])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("CPR "), "{text}");
    assert!(text.contains(&format!("{}-{}", &want[2].0[..6], &want[2].0[6..])));
    assert!(text.lines().all(|l| l.chars().count() <= 100));
}

#[test]
fn a_bad_cpr_alone_is_a_usage_error_and_stays_masked() {
    let run = shared();
    let out = run
        .cprlink()
        .args(["lookup", "3213019876"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("321301-xxxx"), "{stderr}");
    assert!(!stderr.contains("3213019876"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn an_existing_output_is_kept_unless_resume_or_force() {
    let run = shared();
    let want = run.expected();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    std::fs::write(&out, "precious\n").unwrap();
    run.cprlink()
        .args(["lookup", &want[0].0, "--output"])
        .arg(&out)
        .assert()
        .code(2);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious\n");
    run.cprlink()
        .args(["lookup", &want[0].0, "--force", "--output"])
        .arg(&out)
        .assert()
        .code(0);
    assert_eq!(jsonl(&std::fs::read(&out).unwrap())[0]["status"], "found");
}

/// A .p12 for a certificate the sandbox's CA issued but nobody registered, and a config
/// that uses it.
pub(crate) fn unregistered_config(run: &Running, dir: &Path) -> PathBuf {
    use cprlink_cert::testpki::LeafSpec;
    let issued = run
        .sb
        .pki()
        .issue(&LeafSpec::oces3_system(
            "Ikke registreret",
            "Testkommune",
            "29189846",
        ))
        .unwrap();
    let chain = cprlink_cert::load(&run.sb.files().ca_pem, None)
        .unwrap()
        .certificates;
    let der = cprlink_cert::p12::build(
        &issued.key,
        &issued.cert,
        &chain,
        None,
        "pw-unregistered",
        cprlink_cert::Profile::Compat,
    )
    .unwrap();
    std::fs::write(dir.join("other.p12"), der).unwrap();
    std::fs::write(dir.join("other.p12.password"), "pw-unregistered\n").unwrap();
    let text = std::fs::read_to_string(run.config()).unwrap();
    let mut cfg: toml::Table = text.parse().unwrap();
    let cert = cfg.get_mut("certificate").unwrap().as_table_mut().unwrap();
    cert.insert(
        "p12".into(),
        dir.join("other.p12").display().to_string().into(),
    );
    cert.insert(
        "password_file".into(),
        dir.join("other.p12.password").display().to_string().into(),
    );
    let path = dir.join("cprlink.toml");
    std::fs::write(&path, toml::to_string(&cfg).unwrap()).unwrap();
    path
}

#[test]
fn an_unregistered_certificate_exits_3_and_names_the_step() {
    let run = shared();
    let want = run.expected();
    let dir = tempfile::tempdir().unwrap();
    // The sandbox's config has a `client_id`: the administration route's steps.
    let cfg = unregistered_config(run, dir.path());
    let input = dir.path().join("in.txt");
    std::fs::write(
        &input,
        want.iter()
            .take(50)
            .map(|w| format!("{}\n", w.0))
            .collect::<String>(),
    )
    .unwrap();
    for api in ["rest", "graphql"] {
        let out = cprlink()
            .arg("--config")
            .arg(&cfg)
            // Refused at once: no grace for new credentials.
            .env("CPRLINK_DATAFORDELER_AUTH_GRACE_SECS", "0")
            .args(["lookup", "--api", api, "--input"])
            .arg(&input)
            .assert()
            .code(3)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if api == "rest" {
            assert!(stderr.contains("DAF-AUTH-0005"), "{api}: {stderr}");
            assert!(stderr.contains("step 3 (ip-allowlist)"), "{api}: {stderr}");
        } else {
            assert!(
                stderr.contains("refused to issue a token"),
                "{api}: {stderr}"
            );
            assert!(stderr.contains("OAuth certificate"), "{api}: {stderr}");
        }
        assert!(stderr.contains("step 2 (credential)"), "{api}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "no row may be written after a refusal"
        );
    }
}

/// The sandbox's config without `client_id`: a service user of the Self-Service
/// route, over REST.
pub(crate) fn selfservice_config(run: &Running, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(run.config()).unwrap();
    let mut cfg: toml::Table = text.parse().unwrap();
    let d = cfg.get_mut("datafordeler").unwrap().as_table_mut().unwrap();
    d.remove("client_id");
    d.insert("api".into(), "rest".into());
    let path = dir.join("selfservice.toml");
    std::fs::write(&path, toml::to_string(&cfg).unwrap()).unwrap();
    path
}

/// Runs `lookup CPR` with `config` (and `args`), expecting exit 3; returns stderr.
fn refused(config: &Path, cpr: &str, args: &[&str]) -> String {
    let out = cprlink()
        .arg("--config")
        .arg(config)
        // Refused at once: no grace for new credentials.
        .env("CPRLINK_DATAFORDELER_AUTH_GRACE_SECS", "0")
        .args(["lookup", cpr])
        .args(args)
        .assert()
        .code(3)
        .get_output()
        .clone();
    assert!(
        out.stdout.is_empty(),
        "no row may be written after a refusal"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn refusals_name_the_steps_of_the_route_the_config_is_on() {
    let run = start(5, |_| {});
    let want = run.expected();
    let dir = tempfile::tempdir().unwrap();
    let admin = run.config();
    let selfservice = selfservice_config(&run, dir.path());
    let cpr = want[0].0.as_str();

    // 401 DAF-AUTH-0005: this machine's IP is not on the allowlist. (Over GraphQL the
    // token endpoint refuses first, with OAuth's `invalid_client` and no DAF code.)
    run.sb.deny_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let e = refused(&admin, cpr, &["--api", "rest"]);
    assert!(e.contains("DAF-AUTH-0005"), "{e}");
    assert!(
        e.contains("Hint: new credentials take up to about 20 minutes to work"),
        "{e}"
    );
    assert!(
        e.contains("step 3 (ip-allowlist): the IT-system's IP allowlist"),
        "{e}"
    );
    assert!(e.contains("step 2 (credential)"), "{e}");
    assert!(
        !e.contains("production-access") && !e.contains("service-user"),
        "{e}"
    );
    let e = refused(&selfservice, cpr, &[]);
    assert!(e.contains("DAF-AUTH-0005"), "{e}");
    assert!(
        e.contains("step 5 (production-access): Datafordeler support must whitelist"),
        "{e}"
    );
    assert!(e.contains("step 2 (service-user)"), "{e}");
    assert!(
        !e.contains("ip-allowlist") && !e.contains("(credential)"),
        "{e}"
    );
    run.sb.allow_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));

    // 403: the certificate is registered, without access to CPR data.
    run.sb
        .register_certificate(run.sb.client_thumbprint(), false);
    for api in ["rest", "graphql"] {
        let e = refused(&admin, cpr, &["--api", api]);
        assert!(e.contains("HTTP 403"), "{api}: {e}");
        assert!(
            e.contains("Hint: step 6 (data-access): the IT-system needs the data access CustomPublicSectorPerson"),
            "{api}: {e}"
        );
        assert!(!e.contains("cpr-approval"), "{api}: {e}");
    }
    let e = refused(&selfservice, cpr, &[]);
    assert!(e.contains("HTTP 403"), "{e}");
    assert!(
        e.contains("Hint: step 4 (cpr-approval): the CPR approval"),
        "{e}"
    );
    assert!(!e.contains("data-access"), "{e}");
    assert!(cpr_like(&e).is_empty(), "a CPR number on stderr: {e}");
}

#[test]
fn a_killed_batch_resumes_without_duplicates_or_gaps() {
    let run = start(200, |o| o.latency_ms = 25);
    let want = run.expected();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let rows: Vec<String> = (0..2000).map(|i| want[i % want.len()].0.clone()).collect();
    std::fs::write(
        &input,
        rows.iter().map(|r| format!("{r}\n")).collect::<String>(),
    )
    .unwrap();
    let out = dir.path().join("out.jsonl");
    let bin = assert_cmd::cargo::cargo_bin("cprlink");
    let mut child = Command::new(&bin)
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg(run.config())
        .args(["lookup", "-j", "2", "--batch-size", "10", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0) < 20_000 {
        assert!(Instant::now() < deadline, "no output");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = std::fs::read(&out).unwrap();
    let answered = partial.iter().filter(|&&b| b == b'\n').count();
    assert!(
        answered > 0 && answered < rows.len(),
        "killed too late to test anything ({answered})"
    );
    // Simulate a kill in the middle of a write too: a half line at the end.
    let mut f = std::fs::OpenOptions::new().append(true).open(&out).unwrap();
    std::io::Write::write_all(&mut f, b"{\"cpr\":\"01").unwrap();
    drop(f);
    let o = run
        .cprlink()
        .args(["lookup", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .arg("--resume")
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("already answered"), "{stderr}");
    let all = jsonl(&std::fs::read(&out).unwrap());
    let got: Vec<&str> = all.iter().map(|r| r["cpr"].as_str().unwrap()).collect();
    assert_eq!(
        got,
        rows.iter().map(String::as_str).collect::<Vec<_>>(),
        "duplicates or gaps after --resume"
    );
    assert!(all.iter().all(|r| r["status"] == "found"));
}

#[test]
fn injected_faults_lose_no_row() {
    let run = start(150, |o| {
        o.faults = cprlink_sandbox::Faults {
            rate_503: 0.2,
            rate_429: 0.1,
            retry_after_secs: 0,
            rate_reset: 0.1,
            ..cprlink_sandbox::Faults::default()
        }
    });
    let want = run.expected();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(
        &input,
        want.iter()
            .map(|w| format!("{}\n", w.0))
            .collect::<String>(),
    )
    .unwrap();
    for api in ["rest", "graphql"] {
        let out = run
            .cprlink()
            .args([
                "lookup",
                "--retries",
                "8",
                "--batch-size",
                "10",
                "--api",
                api,
                "--input",
            ])
            .arg(&input)
            .assert()
            .code(0)
            .get_output()
            .clone();
        let rows = jsonl(&out.stdout);
        assert_eq!(rows.len(), want.len());
        for (w, r) in want.iter().zip(&rows) {
            assert_eq!(
                (r["cpr"].as_str().unwrap(), r["status"].as_str().unwrap()),
                (w.0.as_str(), "found")
            );
        }
    }
    assert!(run.sb.request_count() > 2 * 15, "faults made no retries");
}

#[test]
fn ctrl_c_stops_with_130_and_leaves_whole_lines() {
    let run = start(100, |o| o.latency_ms = 30);
    let want = run.expected();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let rows: Vec<String> = (0..3000).map(|i| want[i % want.len()].0.clone()).collect();
    std::fs::write(
        &input,
        rows.iter().map(|r| format!("{r}\n")).collect::<String>(),
    )
    .unwrap();
    let out = dir.path().join("out.csv");
    let child = Command::new(assert_cmd::cargo::cargo_bin("cprlink"))
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg(run.config())
        .args(["lookup", "-j", "2", "--batch-size", "10", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0) < 2_000 {
        assert!(Instant::now() < deadline, "no output");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("interrupted"), "{stderr}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.ends_with('\n'), "a half line was left");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("cpr,status,"));
    assert!(lines.len() > 1 && lines.len() < rows.len() + 1);
    for (l, r) in lines[1..].iter().zip(&rows) {
        assert!(l.starts_with(&format!("{r},found,")), "{l}");
    }
}

#[test]
fn on_a_terminal_the_output_is_a_table_with_a_progress_bar() {
    use expectrl::Expect;
    let run = start(100, |o| o.latency_ms = 40);
    let want = run.expected();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(
        &input,
        want.iter()
            .take(100)
            .map(|w| format!("{}\n", w.0))
            .collect::<String>(),
    )
    .unwrap();
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("cprlink"));
    cmd.env("NO_COLOR", "1")
        .arg("--config")
        .arg(run.config())
        .args(["lookup", "-j", "1", "--batch-size", "5", "--input"])
        .arg(&input);
    let mut term = expectrl::Session::spawn(cmd).unwrap();
    term.set_expect_timeout(Some(Duration::from_secs(60)));
    let mut seen = Vec::new();
    seen.extend(term.expect("CPR ").unwrap().before().to_vec());
    // The bar (count, rate, ETA) is drawn while the run goes on.
    let bar = term.expect(" rows ").unwrap();
    seen.extend(bar.before().to_vec());
    let eta = term.expect("ETA").unwrap();
    seen.extend(eta.before().to_vec());
    let end = term.expect("100 rows: 100 found").unwrap();
    seen.extend(end.before().to_vec());
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("/100"), "no progress count: {text}");
    let first = format!("{}-{}", &want[0].0[..6], &want[0].0[6..]);
    assert!(text.contains(&first), "no table row: {text}");
    assert!(text.contains("STATUS") && text.contains("found"), "{text}");
}

// ---- the output file: nothing lost (issue 9) ----------------------------------------

/// The sandbox's config with `edit` applied, written to `dir/name`.
pub(crate) fn variant_config(
    run: &Running,
    dir: &Path,
    name: &str,
    edit: impl FnOnce(&mut toml::Table),
) -> PathBuf {
    let text = std::fs::read_to_string(run.config()).unwrap();
    let mut cfg: toml::Table = text.parse().unwrap();
    edit(&mut cfg);
    let path = dir.join(name);
    std::fs::write(&path, toml::to_string(&cfg).unwrap()).unwrap();
    path
}

/// `section.key = value` in a config table.
pub(crate) fn set_key(cfg: &mut toml::Table, section: &str, key: &str, value: toml::Value) {
    cfg.entry(section)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .unwrap()
        .insert(key.to_owned(), value);
}

/// A file of `n` known CPR numbers, one per line.
fn numbers_file(run: &Running, dir: &Path, name: &str, n: usize) -> (PathBuf, Vec<String>) {
    let want = run.expected();
    let rows: Vec<String> = (0..n).map(|i| want[i % want.len()].0.clone()).collect();
    let path = dir.join(name);
    std::fs::write(
        &path,
        rows.iter().map(|r| format!("{r}\n")).collect::<String>(),
    )
    .unwrap();
    (path, rows)
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn an_output_naming_the_input_is_refused_and_the_input_kept() {
    let run = shared();
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = numbers_file(run, dir.path(), "io.csv", 20);
    let before = std::fs::read(&input).unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    let hard = dir.path().join("hard.csv");
    std::fs::hard_link(&input, &hard).unwrap();
    for out in [&input, &link, &hard] {
        for extra in [&["--force"][..], &["--resume"][..], &[][..]] {
            let o = run
                .cprlink()
                .args(["lookup", "--input"])
                .arg(&input)
                .arg("--output")
                .arg(out)
                .args(extra)
                .assert()
                .code(2)
                .get_output()
                .clone();
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(
                stderr.contains("is the input"),
                "{}: {stderr}",
                out.display()
            );
            assert!(stderr.contains("Hint:"), "{stderr}");
            assert_eq!(std::fs::read(&input).unwrap(), before, "{}", out.display());
        }
    }
    // The input read from stdin, redirected from the output file (`< io.csv`).
    let o = Command::new(assert_cmd::cargo::cargo_bin("cprlink"))
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg(run.config())
        .args(["lookup", "--input", "-", "--force", "--output"])
        .arg(&input)
        .stdin(std::fs::File::open(&input).unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is the input"), "{stderr}");
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn force_keeps_the_old_output_through_config_identity_and_connection_errors() {
    let run = shared();
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = numbers_file(run, dir.path(), "in.txt", 20);
    let out = dir.path().join("out.jsonl");
    let precious: String = (0..20_000)
        .map(|i| format!("{{\"cpr\":\"precious {i}\"}}\n"))
        .collect();
    std::fs::write(&out, &precious).unwrap();
    // A typo in the config (exit 2).
    let typo = variant_config(run, dir.path(), "typo.toml", |c| {
        set_key(c, "lookup", "concurency", 3.into());
    });
    // A CA that did not sign the server (exit 3: the server is not trusted).
    let other_ca = dir.path().join("other-ca.pem");
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=Some other CA", "-keyout"])
        .arg(dir.path().join("other-ca.key"))
        .arg("-out")
        .arg(&other_ca)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let wrong_ca = variant_config(run, dir.path(), "wrong-ca.toml", |c| {
        set_key(
            c,
            "datafordeler",
            "ca_file",
            other_ca.display().to_string().into(),
        );
    });
    // A wrong .p12 password (exit 3).
    let bad_pw = dir.path().join("bad.password");
    std::fs::write(&bad_pw, "not the password\n").unwrap();
    let wrong_pw = variant_config(run, dir.path(), "wrong-pw.toml", |c| {
        set_key(
            c,
            "certificate",
            "password_file",
            bad_pw.display().to_string().into(),
        );
    });
    // Nobody listens (exit 4).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let unreachable = variant_config(run, dir.path(), "unreachable.toml", |c| {
        set_key(
            c,
            "datafordeler",
            "rest_base_url",
            format!("https://127.0.0.1:{port}").into(),
        );
        set_key(c, "lookup", "retries", 0.into());
    });
    for (cfg, code) in [
        (&typo, 2),
        (&wrong_ca, 3),
        (&wrong_pw, 3),
        (&unreachable, 4),
    ] {
        cprlink()
            .arg("--config")
            .arg(cfg)
            .args(["lookup", "--api", "rest", "--force", "--input"])
            .arg(&input)
            .arg("--output")
            .arg(&out)
            .assert()
            .code(code);
        assert!(
            std::fs::read_to_string(&out).unwrap() == precious,
            "{}: the old output was damaged",
            cfg.display()
        );
    }
    // No temporary file is left beside it.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
    // With a working config, --force replaces it.
    run.cprlink()
        .args(["lookup", "--force", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .assert()
        .code(0);
    assert_eq!(jsonl(&std::fs::read(&out).unwrap()).len(), 20);
}

#[test]
fn a_second_run_on_the_same_output_is_refused_at_once() {
    let run = start(100, |o| o.latency_ms = 30);
    let dir = tempfile::tempdir().unwrap();
    let (input, rows) = numbers_file(&run, dir.path(), "in.txt", 1500);
    let out = dir.path().join("out.jsonl");
    let first = Command::new(assert_cmd::cargo::cargo_bin("cprlink"))
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg(run.config())
        .args(["lookup", "-j", "1", "--batch-size", "10", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "no output");
        std::thread::sleep(Duration::from_millis(10));
    }
    for extra in ["--resume", "--force", "--retry-errors"] {
        let started = Instant::now();
        let o = run
            .cprlink()
            .args(["lookup", "--input"])
            .arg(&input)
            .arg("--output")
            .arg(&out)
            .arg(extra)
            .assert()
            .code(2)
            .get_output()
            .clone();
        assert!(started.elapsed() < Duration::from_secs(5), "not at once");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains("another"), "{extra}: {stderr}");
    }
    let status = first.wait_with_output().unwrap().status;
    assert_eq!(status.code(), Some(0));
    let got: Vec<String> = jsonl(&std::fs::read(&out).unwrap())
        .iter()
        .map(|r| r["cpr"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, rows, "the first run's output was disturbed");
}

#[test]
fn resume_refuses_an_output_that_does_not_match_its_input() {
    let run = shared();
    let dir = tempfile::tempdir().unwrap();
    let (input, rows) = numbers_file(run, dir.path(), "in.txt", 20);
    let out = dir.path().join("out.jsonl");
    run.cprlink()
        .args(["lookup", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .assert()
        .code(0);
    let good = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    // More records than input lines (two runs' worth, minus one).
    let doubled: String = lines
        .iter()
        .chain(lines.iter().take(19))
        .map(|l| format!("{l}\n"))
        .collect();
    // The first record is for another number; the last matches.
    let mut other_first: Vec<String> = lines[..10].iter().map(|l| (*l).to_owned()).collect();
    other_first[0] = other_first[0].replace(&rows[0], &rows[7]);
    let other_first: String = other_first.iter().map(|l| format!("{l}\n")).collect();
    // A line in the middle that is not a record.
    let mut broken: Vec<String> = lines[..10].iter().map(|l| (*l).to_owned()).collect();
    broken[4] = "{\"cpr\": \"0101".to_owned();
    let broken: String = broken.iter().map(|l| format!("{l}\n")).collect();
    // Lines serde rejects by quoting the value: a number where text belongs, and a
    // CPR number where true or false belongs. Neither may reach the message.
    let quoted = |from: String, to: String| -> String {
        let mut l: Vec<String> = lines[..10].iter().map(|l| (*l).to_owned()).collect();
        assert!(l[3].contains(&from), "{}", l[3]);
        l[3] = l[3].replace(&from, &to);
        l.iter().map(|l| format!("{l}\n")).collect()
    };
    let number_cpr = quoted(format!("\"{}\"", rows[3]), rows[3].clone());
    let cpr_flag = quoted(
        "\"name_protected\":false".to_owned(),
        format!("\"name_protected\":\"{}\"", rows[3]),
    );
    for (what, text) in [
        ("more records than input lines", &doubled),
        ("another first number", &other_first),
        ("a broken line", &broken),
        ("a CPR number as a JSON number", &number_cpr),
        ("a CPR number where a flag belongs", &cpr_flag),
    ] {
        std::fs::write(&out, text).unwrap();
        let o = run
            .cprlink()
            .args(["lookup", "--resume", "--input"])
            .arg(&input)
            .arg("--output")
            .arg(&out)
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains("--resume"), "{what}: {stderr}");
        assert!(cpr_like(&stderr).is_empty(), "{what}: {stderr}");
        assert_eq!(
            &std::fs::read_to_string(&out).unwrap(),
            text,
            "{what}: the output was changed"
        );
    }
    // A whole prefix resumes to exactly the input.
    std::fs::write(
        &out,
        lines[..12]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    )
    .unwrap();
    run.cprlink()
        .args(["lookup", "--resume", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .assert()
        .code(0);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), good);
}

#[test]
fn the_output_is_0600_whatever_the_umask() {
    let run = shared();
    let want = run.expected();
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.jsonl");
    let replaced = dir.path().join("replaced.csv");
    std::fs::write(&replaced, "old\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&replaced, std::fs::Permissions::from_mode(0o644)).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("cprlink");
    for (out, extra) in [(&fresh, ""), (&replaced, "--force")] {
        let script = format!(
            "umask 000; exec '{}' --config '{}' lookup {} --output '{}' {extra}",
            bin.display(),
            run.config().display(),
            want[0].0,
            out.display()
        );
        let status = Command::new("sh").args(["-c", &script]).status().unwrap();
        assert_eq!(status.code(), Some(0), "{script}");
        assert_eq!(mode_of(out), 0o600, "{}", out.display());
    }
    assert!(
        std::fs::read_to_string(&replaced)
            .unwrap()
            .starts_with("cpr,status,")
    );
}

#[test]
fn a_csv_quote_left_open_is_an_error_naming_the_line() {
    let run = shared();
    let want = run.expected();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(
        &input,
        format!(
            "name,cpr\nAnna,{}\nBo,{}\n\"Carl,{}\nDitte,{}\nEva,{}\n",
            want[0].0, want[1].0, want[2].0, want[3].0, want[4].0
        ),
    )
    .unwrap();
    let o = run
        .cprlink()
        .args(["lookup", "--input"])
        .arg(&input)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("line 4"), "{stderr}");
    assert!(stderr.contains("quote"), "{stderr}");
    assert!(cpr_like(&stderr).is_empty(), "{stderr}");
    // The rows before it were answered; none after it pretends to be.
    let rows = jsonl(&o.stdout);
    assert!(rows.len() <= 2, "{rows:?}");
}

#[test]
fn retry_errors_replaces_the_error_rows_in_place() {
    let run = shared();
    let dir = tempfile::tempdir().unwrap();
    let (input, rows) = numbers_file(run, dir.path(), "in.txt", 30);
    let out = dir.path().join("out.jsonl");
    run.cprlink()
        .args(["lookup", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .assert()
        .code(0);
    let good = std::fs::read_to_string(&out).unwrap();
    // Rows 3, 17 and 29 failed in that run.
    let failed = [3usize, 17, 29];
    let damaged: String = good
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if failed.contains(&i) {
                format!(
                    "{{\"cpr\":\"{}\",\"status\":\"error\",\"name\":null,\"first_names\":null,\"middle_name\":null,\"last_name\":null,\"addressing_name\":null,\"name_protected\":false,\"person_status\":null,\"error\":\"HTTP 503\"}}\n",
                    rows[i]
                )
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&out, &damaged).unwrap();
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(&out).unwrap().ino();
    let before = run.sb.request_count();
    let o = run
        .cprlink()
        .args(["lookup", "--retry-errors", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("3 rows"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), good);
    // Rewritten atomically (a new file renamed into place), 0600.
    assert_ne!(std::fs::metadata(&out).unwrap().ino(), inode);
    assert_eq!(mode_of(&out), 0o600);
    assert!(run.sb.request_count() > before);
    // An output shorter than its input: --retry-errors alone refuses, with --resume it
    // also answers the rest.
    let short: String = damaged.lines().take(20).map(|l| format!("{l}\n")).collect();
    std::fs::write(&out, &short).unwrap();
    let o = run
        .cprlink()
        .args(["lookup", "--retry-errors", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--resume"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), short);
    run.cprlink()
        .args(["lookup", "--retry-errors", "--resume", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .assert()
        .code(0);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), good);
}

#[test]
fn a_purpose_holding_a_cpr_number_or_too_long_is_refused_unechoed() {
    let run = shared();
    let want = run.expected();
    let dashed = format!("{}-{}", &want[1].0[..6], &want[1].0[6..]);
    for purpose in [
        format!("letter to {}", want[1].0),
        format!("letter to {dashed}"),
    ] {
        let o = run
            .cprlink()
            .args(["lookup", "--purpose", &purpose, &want[0].0])
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains("--purpose"), "{stderr}");
        assert!(
            stderr.contains(&format!("{}-xxxx", &want[1].0[..6])),
            "{stderr}"
        );
        assert!(
            !stderr.contains(&want[1].0) && !stderr.contains(&dashed),
            "{stderr}"
        );
        assert!(o.stdout.is_empty());
    }
    let long = format!("mailing {}", "x".repeat(5000));
    let o = run
        .cprlink()
        .args(["lookup", "--purpose", &long, &want[0].0])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("--purpose"), "{stderr}");
    assert!(stderr.len() < 1000, "the value was echoed whole: {stderr}");
}

#[test]
fn an_input_error_while_taking_up_an_output_is_not_called_a_mismatch() {
    let run = shared();
    let want = run.expected();
    let dir = tempfile::tempdir().unwrap();
    let csv = |n: usize, open_quote: bool| {
        let mut text = String::from("cpr,note\n");
        for (c, ..) in want.iter().take(n) {
            text.push_str(&format!("{c},x\n"));
        }
        if open_quote {
            text.push_str(&format!("{},\"left open\n", want[n].0));
        }
        text
    };
    let good = dir.path().join("good.csv");
    std::fs::write(&good, csv(10, false)).unwrap();
    let out = dir.path().join("out.jsonl");
    run.cprlink()
        .args(["lookup", "--input"])
        .arg(&good)
        .arg("--output")
        .arg(&out)
        .assert()
        .code(0);
    let broken = csv(20, true);
    let broken_file = dir.path().join("broken.csv");
    std::fs::write(&broken_file, &broken).unwrap();
    // A file is checked against the output first: the quote is the input's fault.
    let o = run
        .cprlink()
        .args(["lookup", "--resume", "--input"])
        .arg(&broken_file)
        .arg("--output")
        .arg(&out)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("quote left open on line 22"), "{stderr}");
    assert!(
        stderr.contains("fix the line named in the input"),
        "{stderr}"
    );
    assert!(!stderr.contains("nothing was changed"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 10);
    // Standard input is matched as it goes: the rows before the quote are answered
    // and appended, and the message says so rather than "nothing was changed".
    let o = run
        .cprlink()
        .args(["lookup", "--resume", "--output"])
        .arg(&out)
        .write_stdin(broken)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("quote left open on line 22"), "{stderr}");
    assert!(!stderr.contains("nothing was changed"), "{stderr}");
    assert!(stderr.contains("--resume` carries on"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 20);
}
