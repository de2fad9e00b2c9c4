//! `cprlink serve` as a process, spoken to with curl: answers, cache, metrics, the
//! token rule, graceful stop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

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
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("cprlink"))
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg(run.config())
        .args(["-v", "serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut base = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            base = rest.split_whitespace().next().unwrap().to_owned();
            break;
        }
    }
    assert!(
        base.starts_with("http://127.0.0.1:"),
        "no address announced"
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
