//! `cprlink serve` as a process, spoken to with curl: answers, cache, metrics, the
//! token rule, graceful stop.

use std::io::{BufRead, BufReader};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::lookup::{Running, cpr_like, shared, start};

struct Served {
    child: Child,
    base: String,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(run: &Running, extra: &[&str]) -> Served {
    serve_with(&run.config(), extra, &[])
}

/// `cprlink --config CONFIG -v serve --listen 127.0.0.1:0 EXTRA` with `envs` set,
/// once it has announced its address.
fn serve_with(config: &std::path::Path, extra: &[&str], envs: &[(&str, &str)]) -> Served {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("cprlink"))
        .env("NO_COLOR", "1")
        .envs(envs.iter().copied())
        .arg("--config")
        .arg(config)
        .args(["-v", "serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut base = String::new();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            base = rest.split_whitespace().next().unwrap().to_owned();
            break;
        }
        seen.push_str(&line);
        seen.push('\n');
    }
    assert!(
        base.starts_with("http://127.0.0.1:"),
        "no address announced: {seen}"
    );
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = stderr.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push_str(&line);
            sink.lock().unwrap().push('\n');
        }
    });
    Served {
        child,
        base,
        stderr,
    }
}

impl Served {
    fn addr(&self) -> std::net::SocketAddr {
        self.base.trim_start_matches("http://").parse().unwrap()
    }

    /// The log so far, after a moment for the last lines to arrive.
    fn log(&self) -> String {
        std::thread::sleep(Duration::from_millis(300));
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to `limit` for the process to end; its exit code.
    fn wait_for_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// (HTTP status, body) of a curl call.
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl is installed");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_owned())
}

#[test]
fn answers_caches_and_counts() {
    // Its own sandbox: request_count() must not see other tests' lookups.
    let run = &start(50, |_| {});
    let want = run.expected();
    let s = serve(run, &[]);
    let url = format!("{}/v1/persons/{}/name", s.base, want[5].0);
    let (code, body) = curl(&[&url]);
    assert_eq!(code, 200, "{body}");
    let rec: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(rec["status"], "found");
    assert_eq!(rec["name"].as_str().unwrap_or(""), want[5].1);
    assert_eq!(rec["name_protected"], want[5].2);
    // The second request is served from the cache: the sandbox sees nothing.
    let before = run.sb.request_count();
    let (code, body2) = curl(&[&url]);
    assert_eq!((code, body2.as_str()), (200, body.as_str()));
    assert_eq!(
        run.sb.request_count(),
        before,
        "the cached answer reached the sandbox"
    );
    // Unknown: 404 with the record; invalid: 400 with a JSON error.
    let unknown = run.sb.population().unknown_cpr(5);
    let (code, body) = curl(&[&format!("{}/v1/persons/{unknown}/name", s.base)]);
    assert_eq!(code, 404);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["status"],
        "not_found"
    );
    let (code, body) = curl(&[&format!("{}/v1/persons/3213011234/name", s.base)]);
    assert_eq!(code, 400);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"]["code"],
        "invalid_cpr"
    );
    // A batch, in order.
    let payload = format!(
        "{{\"cprs\": [\"{}\", \"{unknown}\", \"{}\"]}}",
        want[6].0, want[5].0
    );
    let (code, body) = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        &payload,
        &format!("{}/v1/names", s.base),
    ]);
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let statuses: Vec<&str> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["found", "not_found", "found"]);
    // Metrics count routes, statuses and cache hits.
    let (code, metrics) = curl(&[&format!("{}/metrics", s.base)]);
    assert_eq!(code, 200);
    assert!(
        metrics.contains(
            "cprlink_http_requests_total{route=\"/v1/persons/{cpr}/name\",status=\"200\"} 2"
        ),
        "{metrics}"
    );
    // Hits: the second GET, and the POST's two numbers asked before (found, not found).
    assert!(
        metrics.contains("cprlink_cache_hits_total 3\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cprlink_cache_misses_total 3\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cprlink_http_request_duration_seconds_bucket{le=\"+Inf\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cprlink_upstream_errors_total{kind=\"timeout\"} 0"),
        "{metrics}"
    );
    assert_eq!(curl(&[&format!("{}/healthz", s.base)]).0, 200);
    assert_eq!(curl(&[&format!("{}/readyz", s.base)]).0, 200);
    // The access log masks the number in the path.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = s.stderr.lock().unwrap().clone();
    assert!(log.contains("/v1/persons/"), "no access log: {log}");
    assert!(
        cpr_like(&log).is_empty(),
        "a CPR number in the access log: {log}"
    );
}

#[test]
fn a_token_is_required_beyond_loopback_and_checked_when_set() {
    let run = shared();
    let out = run
        .cprlink()
        .args(["serve", "--listen", "0.0.0.0:0"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--token-file"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token-0123456789abcdef\n").unwrap();
    let s = serve(run, &["--token-file", token.to_str().unwrap()]);
    let want = run.expected();
    let url = format!("{}/v1/persons/{}/name", s.base, want[7].0);
    assert_eq!(curl(&[&url]).0, 401);
    assert_eq!(curl(&["-H", "Authorization: Bearer wrong", &url]).0, 401);
    assert_eq!(
        curl(&[
            "-H",
            "Authorization: Bearer s3cret-token-0123456789abcdef",
            &url
        ])
        .0,
        200
    );
    assert_eq!(curl(&[&format!("{}/healthz", s.base)]).0, 200);
}

#[test]
fn sigterm_stops_the_service_cleanly() {
    let run = shared();
    let mut s = serve(run, &[]);
    let pid = s.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = s.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

// ---- holding up under misuse (issue 9) ----------------------------------------------

/// Sends `request` on a new connection and reads the answer to its end:
/// (status, head, body).
fn raw(addr: std::net::SocketAddr, request: &str) -> (u16, String, String) {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    c.write_all(request.as_bytes()).unwrap();
    read_answer(&mut c)
}

fn read_answer(c: &mut TcpStream) -> (u16, String, String) {
    let mut buf = Vec::new();
    c.read_to_end(&mut buf)
        .expect("the server ends the connection");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, head.to_owned(), body.to_owned())
}

fn get(path: &str, host: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
}

/// The `{"error": {"code", "message"}}` of an error answer; its code.
fn error_code(body: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"));
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    v["error"]["code"].as_str().unwrap().to_owned()
}

/// Whether the server has closed `c` (EOF or reset; an answer before it is fine).
fn closed_by_server(c: &mut TcpStream) -> bool {
    c.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
            }
        }
    }
}

/// `name value` of a Prometheus text, unlabelled.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn a_thousand_half_sent_heads_neither_starve_healthz_nor_stay() {
    let run = shared();
    let s = serve_with(
        &run.config(),
        &[],
        &[("CPRLINK_SERVE_HEADER_TIMEOUT_SECS", "6")],
    );
    let addr = s.addr();
    let mut slow: Vec<TcpStream> = (0..1000)
        .map(|i| {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(
                format!(
                    "GET /v1/persons/0101801234/name HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: {i}"
                )
                .as_bytes(),
            )
            .unwrap();
            c
        })
        .collect();
    let held = Instant::now();
    for _ in 0..5 {
        let t = Instant::now();
        let (code, _, body) = raw(addr, &get("/healthz", "127.0.0.1"));
        let took = t.elapsed();
        assert_eq!(code, 200, "{body}");
        assert!(took < Duration::from_secs(1), "/healthz took {took:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        held.elapsed() < Duration::from_secs(5),
        "the probes ran after the heads were cut off: the test proves nothing"
    );
    // Past the header timeout, every one of them is cut off.
    std::thread::sleep(
        Duration::from_secs(6).saturating_sub(held.elapsed()) + Duration::from_secs(2),
    );
    let mut still_open = 0;
    for c in &mut slow {
        still_open += usize::from(!closed_by_server(c));
    }
    assert_eq!(
        still_open, 0,
        "connections left open past header_timeout_secs"
    );
    assert_eq!(raw(addr, &get("/healthz", "127.0.0.1")).0, 200);
}

#[test]
fn a_half_sent_body_is_cut_off_with_a_json_408() {
    let run = shared();
    let s = serve_with(
        &run.config(),
        &[],
        &[("CPRLINK_SERVE_HEADER_TIMEOUT_SECS", "1")],
    );
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(
        b"POST /v1/names HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"cprs\": [",
    )
    .unwrap();
    let t = Instant::now();
    let (code, _, body) = read_answer(&mut c);
    let took = t.elapsed();
    assert_eq!(code, 408, "{body}");
    assert_eq!(error_code(&body), "request_timeout");
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(5),
        "cut off after {took:?}"
    );
    assert!(s.log().contains("POST /v1/names 408"), "{}", s.log());
}

#[test]
fn at_most_max_connections_are_served_the_next_wait_for_a_slot() {
    let run = shared();
    let s = serve_with(
        &run.config(),
        &[],
        &[
            ("CPRLINK_SERVE_MAX_CONNECTIONS", "2"),
            ("CPRLINK_SERVE_HEADER_TIMEOUT_SECS", "2"),
        ],
    );
    let addr = s.addr();
    let _held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let (code, _, _) = raw(addr, &get("/healthz", "127.0.0.1"));
    let took = t.elapsed();
    assert_eq!(code, 200);
    // Served only once the header timeout freed a slot: not at once, not never.
    assert!(
        took >= Duration::from_millis(1200) && took < Duration::from_secs(6),
        "the third connection was answered after {took:?}"
    );
}

#[test]
fn sigterm_stops_within_ten_seconds_whatever_clients_do() {
    let run = shared();
    let mut s = serve_with(
        &run.config(),
        &[],
        &[("CPRLINK_SERVE_HEADER_TIMEOUT_SECS", "120")],
    );
    let addr = s.addr();
    let mut stuck = Vec::new();
    // A head never finished, a body never finished, a connection that says nothing,
    // and one that asks and never reads its answers.
    for first in [
        &b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"[..],
        &b"POST /v1/names HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"cp"[..],
        &b""[..],
    ] {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(first).unwrap();
        stuck.push(c);
    }
    let mut greedy = TcpStream::connect(addr).unwrap();
    let ask = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(2000);
    greedy
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let _ = greedy.write_all(ask.as_bytes());
    stuck.push(greedy);
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &s.child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let code = s.wait_for_exit(Duration::from_secs(10));
    assert_eq!(
        code,
        Some(0),
        "not stopped 10 s after SIGTERM ({:?}): {}",
        t.elapsed(),
        s.log()
    );
}

#[test]
fn a_foreign_host_on_loopback_gets_421_allowed_hosts_pass() {
    let run = shared();
    let s = serve_with(
        &run.config(),
        &[],
        &[("CPRLINK_SERVE_ALLOWED_HOSTS", "names.internal")],
    );
    let addr = s.addr();
    let cpr = &run.expected()[3].0;
    let path = format!("/v1/persons/{cpr}/name");
    // A page whose DNS name was rebound to 127.0.0.1 still sends its own name.
    for host in [
        "evil.example",
        "evil.example:8080",
        "127.0.0.1.evil.example",
    ] {
        let (code, _, body) = raw(addr, &get(&path, host));
        assert_eq!(code, 421, "{host}: {body}");
        assert_eq!(error_code(&body), "misdirected_request");
    }
    let port = addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "[::1]".to_owned(),
        "LOCALHOST".to_owned(),
        format!("names.internal:{port}"),
    ] {
        let (code, _, body) = raw(addr, &get(&path, &host));
        assert_eq!(code, 200, "{host}: {body}");
    }
    let log = s.log();
    assert!(log.contains("421"), "{log}");
    assert!(cpr_like(&log).is_empty(), "a CPR number in the log: {log}");
}

#[test]
fn every_error_answer_is_json_415_413_405_404() {
    let run = shared();
    let s = serve(run, &[]);
    let names = format!("{}/v1/names", s.base);
    let cpr = run.expected()[2].0.clone();
    let payload = format!("{{\"cprs\": [\"{cpr}\"]}}");
    for ct in ["text/plain", "application/x-www-form-urlencoded"] {
        let (code, body) = curl(&[
            "-X",
            "POST",
            "-H",
            &format!("Content-Type: {ct}"),
            "-d",
            &payload,
            &names,
        ]);
        assert_eq!(code, 415, "{ct}: {body}");
        assert_eq!(error_code(&body), "unsupported_media_type");
    }
    // With parameters and in another case, JSON is JSON.
    let (code, body) = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: Application/JSON; charset=utf-8",
        "-d",
        &payload,
        &names,
    ]);
    assert_eq!(code, 200, "{body}");
    // Too large: declared, and sent in chunks without a length.
    let big = format!("{{\"cprs\": [\"{}\"]}}", "0".repeat(300 * 1024));
    let big_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(big_file.path(), &big).unwrap();
    let at = format!("@{}", big_file.path().display());
    let (code, body) = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &at,
        &names,
    ]);
    assert_eq!(code, 413, "{body}");
    assert_eq!(error_code(&body), "payload_too_large");
    let (code, body) = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &at,
        &names,
    ]);
    assert_eq!(code, 413, "{body}");
    assert_eq!(error_code(&body), "payload_too_large");
    let (code, body) = curl(&[&names]);
    assert_eq!(code, 405, "{body}");
    assert_eq!(error_code(&body), "method_not_allowed");
    let (code, body) = curl(&[&format!("{}/nope", s.base)]);
    assert_eq!(code, 404, "{body}");
    error_code(&body);
    let log = s.log();
    for status in ["415", "413", "405"] {
        assert!(
            log.contains(&format!("/v1/names {status}")),
            "{status} not logged: {log}"
        );
    }
}

#[test]
fn bearer_in_any_case_and_401s_are_logged_masked() {
    let run = shared();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token-0123456789abcdef\n").unwrap();
    let s = serve(run, &["--token-file", token.to_str().unwrap()]);
    let want = run.expected();
    let url = format!("{}/v1/persons/{}/name", s.base, want[8].0);
    for scheme in ["bearer", "BEARER", "Bearer", "bEaReR"] {
        let (code, body) = curl(&[
            "-H",
            &format!("Authorization: {scheme} s3cret-token-0123456789abcdef"),
            &url,
        ]);
        assert_eq!(code, 200, "{scheme}: {body}");
    }
    for wrong in [
        "Basic s3cret-token-0123456789abcdef",
        "bearer wrong",
        "bearers3cret-token-0123456789abcdef",
    ] {
        let (code, body) = curl(&["-H", &format!("Authorization: {wrong}"), &url]);
        assert_eq!(code, 401, "{wrong}: {body}");
        assert_eq!(error_code(&body), "unauthorized");
    }
    let log = s.log();
    assert!(log.contains("/v1/persons/"), "{log}");
    assert!(
        log.lines().filter(|l| l.contains(" 401 ")).count() >= 3,
        "401s not logged: {log}"
    );
    assert!(cpr_like(&log).is_empty(), "a CPR number in the log: {log}");
}

#[test]
fn the_cache_never_holds_more_than_cache_max_entries() {
    let run = shared();
    let s = serve_with(
        &run.config(),
        &[],
        &[("CPRLINK_SERVE_CACHE_MAX_ENTRIES", "40")],
    );
    let want = run.expected();
    let names = format!("{}/v1/names", s.base);
    let metrics_url = format!("{}/metrics", s.base);
    let mut peak = 0.0f64;
    for chunk in want.chunks(50).take(5) {
        let cprs: Vec<&str> = chunk.iter().map(|w| w.0.as_str()).collect();
        let payload = serde_json::json!({ "cprs": cprs }).to_string();
        let (code, body) = curl(&[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            &payload,
            &names,
        ]);
        assert_eq!(code, 200, "{body}");
        let (_, m) = curl(&[&metrics_url]);
        let n = metric(&m, "cprlink_cache_entries").expect("cprlink_cache_entries");
        assert!(n <= 40.0, "{n} answers cached, the bound is 40");
        peak = peak.max(n);
    }
    for w in &want[250..290] {
        assert_eq!(
            curl(&[&format!("{}/v1/persons/{}/name", s.base, w.0)]).0,
            200
        );
    }
    let (_, m) = curl(&[&metrics_url]);
    let n = metric(&m, "cprlink_cache_entries").unwrap();
    assert!(n <= 40.0 && peak > 0.0 && n > 0.0, "{n} (peak {peak})");
    // The most recent answers are the ones kept: asking the last one again is a hit.
    let hits = metric(&m, "cprlink_cache_hits_total").unwrap();
    assert_eq!(
        curl(&[&format!("{}/v1/persons/{}/name", s.base, want[289].0)]).0,
        200
    );
    let (_, m) = curl(&[&metrics_url]);
    assert_eq!(metric(&m, "cprlink_cache_hits_total").unwrap(), hits + 1.0);
}

#[test]
fn readyz_is_not_ready_while_upstream_refuses_connections() {
    let run = shared();
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = crate::lookup::variant_config(run, dir.path(), "refused.toml", |cfg| {
        crate::lookup::set_key(
            cfg,
            "datafordeler",
            "rest_base_url",
            format!("https://{closed}").into(),
        );
        crate::lookup::set_key(cfg, "lookup", "retries", 0.into());
    });
    let s = serve_with(&config, &["--api", "rest"], &[]);
    let cpr = &run.expected()[1].0;
    let (code, body) = curl(&[&format!("{}/v1/persons/{cpr}/name", s.base)]);
    // A lookup answers its record (docs/serve.md), with the reason.
    assert_eq!(code, 503, "{body}");
    let rec: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(rec["status"], "error", "{body}");
    let (code, body) = curl(&[&format!("{}/readyz", s.base)]);
    assert_eq!(code, 503, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ready"], false);
    assert!(
        v["checks"]["upstream"].as_str().is_some_and(|t| t != "ok"),
        "{body}"
    );
    // The same service against a reachable Datafordeler is ready.
    let ok = serve(run, &["--api", "rest"]);
    let (code, body) = curl(&[&format!("{}/readyz", ok.base)]);
    assert_eq!(code, 200, "{body}");
}

// ---- the running service: renewal on SIGHUP, expiry (issue 10) ----------------------

/// A .p12 for a new certificate of the sandbox's CA, valid until `not_after`, with its
/// password: (DER, password, SHA-1 thumbprint).
fn issue_p12(
    run: &Running,
    name: &str,
    not_after: chrono::DateTime<chrono::Utc>,
) -> (Vec<u8>, String, String) {
    use cprlink_cert::testpki::LeafSpec;
    let mut spec = LeafSpec::oces3_system(name, "Testkommune", "12345674");
    spec.not_after = not_after;
    let issued = run.sb.pki().issue(&spec).unwrap();
    let chain = cprlink_cert::load(&run.sb.files().ca_pem, None)
        .unwrap()
        .certificates;
    let password = format!("pw-{}", name.replace(' ', "-"));
    let der = cprlink_cert::p12::build(
        &issued.key,
        &issued.cert,
        &chain,
        None,
        &password,
        cprlink_cert::Profile::Compat,
    )
    .unwrap();
    let thumbprint = cprlink_cert::facts::sha1_thumbprint(&issued.cert).unwrap();
    (der, password, thumbprint)
}

/// The sandbox's config with its own copy of the identity files in `dir`:
/// `serve.p12` and `serve.p12.password`, which a test may replace.
fn own_identity_config(run: &Running, dir: &std::path::Path) -> std::path::PathBuf {
    let files = run.sb.files();
    std::fs::copy(&files.client_p12, dir.join("serve.p12")).unwrap();
    std::fs::copy(&files.client_p12_password, dir.join("serve.p12.password")).unwrap();
    crate::lookup::variant_config(run, dir, "cprlink.toml", |cfg| {
        let p12 = dir.join("serve.p12").display().to_string();
        let pw = dir.join("serve.p12.password").display().to_string();
        crate::lookup::set_key(cfg, "certificate", "p12", p12.into());
        crate::lookup::set_key(cfg, "certificate", "password_file", pw.into());
    })
}

/// Replaces `path` atomically with `bytes`, as an operator's renewal would.
fn replace_file(path: &std::path::Path, bytes: &[u8]) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn sighup(s: &Served) {
    assert!(
        Command::new("kill")
            .args(["-HUP", &s.child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// Waits up to 20 s for the metric `name` to reach `want`.
fn wait_for_metric(s: &Served, name: &str, want: f64) -> String {
    let addr = s.addr();
    let start = Instant::now();
    loop {
        let (_, _, m) = raw(addr, &get("/metrics", "127.0.0.1"));
        if metric(&m, name) == Some(want) {
            return m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{name} never reached {want}: {m}\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sighup_switches_certificates_under_load_and_survives_a_broken_file() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let run = start(60, |_| {});
    let want = Arc::new(run.expected());
    let dir = tempfile::tempdir().unwrap();
    let config = own_identity_config(&run, dir.path());
    // No cache: every request goes to Datafordeler with the identity of the moment.
    let s = serve_with(
        &config,
        &["--api", "rest"],
        &[("CPRLINK_SERVE_CACHE_TTL_SECS", "0")],
    );
    let addr = s.addr();
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(Mutex::new(Vec::<String>::new()));
    let load: Vec<_> = (0..4)
        .map(|t| {
            let (stop, ok, failed, want) = (stop.clone(), ok.clone(), failed.clone(), want.clone());
            std::thread::spawn(move || {
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    let (cpr, name, _, _) = &want[i % want.len()];
                    let (code, _, body) =
                        raw(addr, &get(&format!("/v1/persons/{cpr}/name"), "127.0.0.1"));
                    let rec: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                    if code == 200 && rec["name"].as_str().unwrap_or("") == name {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.lock().unwrap().push(format!("{code} {body}"));
                    }
                    i += 4;
                }
            })
        })
        .collect();
    let answered = |n: u64| {
        let start = Instant::now();
        let from = ok.load(Ordering::Relaxed);
        while ok.load(Ordering::Relaxed) < from + n {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the load stalled"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    answered(50);
    let old = run.sb.client_thumbprint().to_owned();
    let first = wait_for_metric(&s, "cprlink_identity_reloads_total", 0.0);
    let old_expiry = metric(&first, "cprlink_certificate_expiry_timestamp_seconds").unwrap();

    // The renewal: a new certificate registered, its .p12 and password put in place.
    let not_after = chrono::Utc::now() + chrono::Duration::days(400);
    let (der, password, thumbprint) = issue_p12(&run, "Fornyet system", not_after);
    run.sb.register_certificate(&thumbprint, true);
    replace_file(
        &dir.path().join("serve.p12.password"),
        format!("{password}\n").as_bytes(),
    );
    replace_file(&dir.path().join("serve.p12"), &der);
    sighup(&s);
    let m = wait_for_metric(&s, "cprlink_identity_reloads_total", 1.0);
    assert_eq!(
        metric(&m, "cprlink_certificate_expiry_timestamp_seconds"),
        Some(not_after.timestamp() as f64),
        "old expiry {old_expiry}: {m}"
    );
    // The old certificate withdrawn: only the new identity can answer now.
    std::thread::sleep(Duration::from_millis(500));
    run.sb.unregister_certificate(&old);
    answered(100);

    // A broken file: the identity in use stays, the failure is said and counted.
    replace_file(&dir.path().join("serve.p12"), b"not a PKCS#12 file");
    sighup(&s);
    let m = wait_for_metric(&s, "cprlink_identity_reload_failures_total", 1.0);
    assert_eq!(metric(&m, "cprlink_identity_reloads_total"), Some(1.0));
    answered(100);
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    let failed = failed.lock().unwrap();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed, e.g. {:?}",
        failed.len(),
        failed.len() as u64 + ok.load(Ordering::Relaxed),
        failed.first()
    );
    let log = s.log();
    assert!(log.contains("identity reloaded"), "{log}");
    assert!(log.contains(&thumbprint), "{log}");
    assert!(
        log.contains("the identity was not reloaded") && log.contains("serve.p12"),
        "{log}"
    );
    assert_eq!(raw(addr, &get("/readyz", "127.0.0.1")).0, 200);
}

#[test]
fn readyz_is_not_ready_once_the_certificate_has_expired() {
    let run = shared();
    let dir = tempfile::tempdir().unwrap();
    let config = own_identity_config(run, dir.path());
    // Whole seconds: a certificate's validity has no finer grain.
    let not_after =
        chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() + 6, 0).unwrap();
    let (der, password, thumbprint) = issue_p12(run, "Kortlivet system", not_after);
    run.sb.register_certificate(&thumbprint, true);
    std::fs::write(dir.path().join("serve.p12"), der).unwrap();
    std::fs::write(
        dir.path().join("serve.p12.password"),
        format!("{password}\n"),
    )
    .unwrap();
    let s = serve_with(&config, &["--api", "rest"], &[]);
    let addr = s.addr();
    let (code, _, body) = raw(addr, &get("/readyz", "127.0.0.1"));
    assert_eq!(code, 200, "{body}");
    let (_, _, m) = raw(addr, &get("/metrics", "127.0.0.1"));
    assert_eq!(
        metric(&m, "cprlink_certificate_expiry_timestamp_seconds"),
        Some(not_after.timestamp() as f64),
        "{m}"
    );
    let wait = (not_after - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    std::thread::sleep(wait + Duration::from_secs(1));
    let (code, _, body) = raw(addr, &get("/readyz", "127.0.0.1"));
    assert_eq!(code, 503, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_ne!(v["checks"]["tls_identity"], "ok", "{body}");
}

#[test]
fn the_systemd_unit_verifies() {
    let unit =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/cprlink.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    // What the issue asks of it, so a trimmed unit fails here and not in production.
    for needed in [
        "User=cprlink",
        "LoadCredential=p12-password:",
        "CPRLINK_CERTIFICATE_PASSWORD_FILE=%d/p12-password",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(text.contains(needed), "the unit lacks {needed:?}");
    }
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: systemd-analyze is not installed; the unit was not verified");
        return;
    }
    // verify checks that ExecStart exists: point it at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("cprlink");
    assert!(text.contains("ExecStart=/usr/local/bin/cprlink "), "{text}");
    let local = dir.path().join("cprlink.service");
    std::fs::write(
        &local,
        text.replace("/usr/local/bin/cprlink", &bin.display().to_string()),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no", "--generators=no"])
        .arg(&local)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // It exits 0 on unknown keys and bad values, and only says so: any word is a fault.
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}

#[test]
fn a_ttl_or_header_timeout_past_the_clock_is_refused_at_start() {
    let run = shared();
    // Each of these used to start, then panic on every cache miss or connection
    // (Instant + Duration overflowed), with the clients seeing only dropped connections.
    for (args, envs, names) in [
        (
            vec!["serve", "--cache-ttl", "9223372036854775808"],
            vec![],
            "--cache-ttl",
        ),
        (
            vec!["serve"],
            vec![("CPRLINK_SERVE_CACHE_TTL_SECS", "604801")],
            "cache_ttl_secs",
        ),
        (
            vec!["serve"],
            vec![("CPRLINK_SERVE_HEADER_TIMEOUT_SECS", "9223372036854775807")],
            "header_timeout_secs",
        ),
    ] {
        let out = run
            .cprlink()
            .args(&args)
            .envs(envs.iter().copied())
            .timeout(Duration::from_secs(30))
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(names) && stderr.contains("at most"),
            "{args:?} {envs:?}: {stderr}"
        );
    }
}
