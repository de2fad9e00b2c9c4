//! `cargo xtask bench serve` (B4, P2): `cprlink serve` under `wrk` on loopback.
//!
//! B4: the cache warmed with 1,000 numbers, then `wrk -t2 -c64` asks them round and
//! round, against the sandbox without latency. P2: a fresh `serve` (cold cache) over the
//! sandbox at 50 ms, 256 clients asking distinct numbers (`xtask/bench/distinct.lua`
//! walks a list, each number once, and checks every answer's name); the figure is the
//! share of the upstream bound concurrency x batch_size / latency of the serve's client
//! config, which the bench sets (`CPRLINK_LOOKUP_CONCURRENCY`, `..._BATCH_SIZE`) so the
//! bound is known. `/metrics` afterwards must show no cache hit.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::check::record_prefix;
use super::latency::LATENCY_MS;
use super::measure::{free_port, have, show_command, write_lines};
use super::report::{Row, Target};
use super::{Bench, Fixture};

const B4_CONNECTIONS: u32 = 64;
const P2_CLIENTS: u32 = 256;
const WRK_THREADS: u32 = 2;
/// The serve's client config in P2 (the defaults, set explicitly so the bound holds
/// whatever the defaults become).
const P2_CONCURRENCY: u32 = 8;
const P2_BATCH: u32 = 20;

/// A `cprlink serve` process on a free loopback port; SIGTERM when dropped.
struct Serve {
    child: Child,
    base: String,
}

impl Serve {
    fn start(bench: &Bench, fx: &Fixture, env: &[(&str, String)]) -> Result<Serve, String> {
        let port = free_port()?;
        let mut cmd = Command::new(&bench.bin);
        cmd.envs(env.iter().map(|(k, v)| (k, v)))
            .arg("--config")
            .arg(&fx.config)
            .args(["-q", "serve", "--listen", &format!("127.0.0.1:{port}")]);
        show_command(&cmd);
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let serve = Serve {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !have("curl", &["-sf", &format!("{}/healthz", serve.base)]) {
            if Instant::now() > deadline {
                return Err("cprlink serve did not come up".to_owned());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(serve)
    }

    fn get(&self, path: &str) -> Result<String, String> {
        let o = Command::new("curl")
            .args(["-sf", &format!("{}{path}", self.base)])
            .output()
            .map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err(format!("GET {path} on cprlink serve failed"));
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// A label-free counter or gauge of `/metrics`.
    fn metric(&self, name: &str) -> Result<f64, String> {
        let text = self.get("/metrics")?;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| format!("/metrics has no {name}"))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// wrk's stdout, echoed; fails on non-2xx answers.
fn run_wrk(
    args: &[String],
    script: &Path,
    base: &str,
    script_args: &[String],
) -> Result<String, String> {
    let mut wrk = Command::new("wrk");
    wrk.args(args).arg("-s").arg(script).arg(base);
    if !script_args.is_empty() {
        wrk.arg("--").args(script_args);
    }
    show_command(&wrk);
    let o = wrk.output().map_err(|e| format!("cannot run wrk: {e}"))?;
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    eprint!("{text}");
    if !o.status.success() {
        return Err(format!(
            "wrk failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    if text.contains("Non-2xx") {
        return Err("wrk saw non-2xx answers".to_owned());
    }
    Ok(text)
}

fn requests_per_sec(text: &str) -> Result<f64, String> {
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .ok_or_else(|| "cannot read wrk's Requests/sec".to_owned())
}

/// B4: warm cache, no upstream latency.
pub(crate) fn warm(bench: &mut Bench, fx: &Fixture) -> Result<(), String> {
    eprintln!("\nB4: GET /v1/persons/{{cpr}}/name on cprlink serve, warm cache");
    let secs = bench.sizes.b4_secs;
    let serve = Serve::start(bench, fx, &[])?;
    let warm: Vec<String> = fx.cprs.iter().take(1000).cloned().collect();
    let body = format!(
        "{{\"cprs\": [{}]}}",
        warm.iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let body_file = bench.work.join("warm.json");
    fs::write(&body_file, body).map_err(|e| e.to_string())?;
    let o = Command::new("curl")
        .args([
            "-sf",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
        ])
        .arg(format!("@{}", body_file.display()))
        .arg(format!("{}/v1/names", serve.base))
        .output()
        .map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err("warming the cache failed".to_owned());
    }
    // One answer checked by hand.
    let text = serve.get(&format!("/v1/persons/{}/name", warm[0]))?;
    let name = fx.want.get(&warm[0]).cloned().unwrap_or_default();
    if !text.starts_with(&record_prefix(&warm[0], &name)) {
        return Err(format!(
            "cprlink serve answered something else for a warm CPR: {text}"
        ));
    }
    eprintln!("  checked: cprlink serve answers the expected name from its cache");
    let paths = bench.work.join("paths.txt");
    write_lines(&paths, warm.iter().map(|c| format!("/v1/persons/{c}/name")))?;
    let lua = bench.work.join("paths.lua");
    fs::write(
        &lua,
        format!(
            "local paths = {{}}\nfor line in io.lines(\"{}\") do paths[#paths + 1] = line end\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format(\"GET\", paths[i])\nend\n",
            paths.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let args = [
        "-t".to_owned(),
        WRK_THREADS.to_string(),
        "-c".to_owned(),
        B4_CONNECTIONS.to_string(),
        "-d".to_owned(),
        format!("{secs}s"),
    ];
    let rps = requests_per_sec(&run_wrk(&args, &lua, &serve.base, &[])?)?;
    drop(serve);
    bench.rows.push(Row::judged(
        "B4",
        format!("cprlink serve, warm cache (wrk -t{WRK_THREADS} -c{B4_CONNECTIONS}, {secs} s)"),
        rps,
        "req/s",
        Target::at_least(20_000.0),
    ));
    Ok(())
}

/// P2: cold cache, 50 ms upstream, 256 clients asking distinct numbers.
pub(crate) fn cold(bench: &mut Bench, fx: &Fixture) -> Result<(), String> {
    let secs = bench.sizes.p2_secs;
    let bound = f64::from(P2_CONCURRENCY * P2_BATCH) / (LATENCY_MS as f64 / 1000.0);
    eprintln!(
        "\nP2: cprlink serve, cold cache, {P2_CLIENTS} clients asking distinct numbers, {LATENCY_MS} ms upstream"
    );
    // Room for twice the bound, so the list cannot run out before wrk stops.
    let needed = (2.0 * bound * f64::from(secs)) as usize;
    if fx.cprs.len() < needed {
        return Err(format!(
            "P2 needs {needed} distinct numbers, the latency sandbox knows {}",
            fx.cprs.len()
        ));
    }
    let list = bench.work.join("distinct.txt");
    write_lines(
        &list,
        fx.cprs.iter().map(|c| {
            let name = fx.want.get(c).map(String::as_str).unwrap_or_default();
            format!("{c}\t{}", record_prefix(c, name))
        }),
    )?;
    let serve = Serve::start(
        bench,
        fx,
        &[
            ("CPRLINK_LOOKUP_CONCURRENCY", P2_CONCURRENCY.to_string()),
            ("CPRLINK_LOOKUP_BATCH_SIZE", P2_BATCH.to_string()),
        ],
    )?;
    let args = [
        "-t".to_owned(),
        WRK_THREADS.to_string(),
        "-c".to_owned(),
        P2_CLIENTS.to_string(),
        "-d".to_owned(),
        format!("{secs}s"),
        "--timeout".to_owned(),
        "10s".to_owned(),
    ];
    let text = run_wrk(
        &args,
        &bench.scripts.join("distinct.lua"),
        &serve.base,
        &[list.display().to_string(), WRK_THREADS.to_string()],
    )?;
    let rps = requests_per_sec(&text)?;
    let counts = distinct_counts(&text)?;
    if let Some(l) = text
        .lines()
        .find(|l| l.trim_start().starts_with("Socket errors"))
    {
        return Err(format!("P2: wrk saw socket errors: {}", l.trim()));
    }
    if counts.repeated > 0 || counts.bad > 0 || counts.good == 0 {
        return Err(format!(
            "P2: {} answers checked, {} wrong, {} numbers asked again (the list ran out)",
            counts.good + counts.bad,
            counts.bad,
            counts.repeated
        ));
    }
    let hits = serve.metric("cprlink_cache_hits_total")?;
    let misses = serve.metric("cprlink_cache_misses_total")?;
    let upstream = serve.metric("cprlink_upstream_requests_total")?;
    drop(serve);
    if hits > 0.0 {
        return Err(format!(
            "P2: cprlink serve had {hits} cache hits on distinct numbers"
        ));
    }
    eprintln!(
        "  checked: {} answers with the expected names ({} asked), no number asked twice, no cache hit ({misses} misses, {upstream} upstream requests)",
        counts.good, counts.asked
    );
    let per_request = if upstream > 0.0 {
        misses / upstream
    } else {
        0.0
    };
    bench.rows.push(
        Row::figure(
            "P2",
            format!(
                "cprlink serve, cold cache, {P2_CLIENTS} clients, distinct numbers, {LATENCY_MS} ms upstream (wrk -t{WRK_THREADS} -c{P2_CLIENTS}, {secs} s)"
            ),
            rps,
            "req/s",
        )
        .with_detail(format!("{per_request:.1} numbers per upstream request")),
    );
    bench.rows.push(
        Row::judged(
            "P2",
            "share of the upstream bound (concurrency x batch / latency)",
            100.0 * rps / bound,
            "%",
            Target::at_least(90.0),
        )
        .with_detail(format!(
            "of {bound:.0}/s: concurrency {P2_CONCURRENCY}, batch_size {P2_BATCH}"
        )),
    );
    Ok(())
}

#[derive(Debug, PartialEq)]
struct Counts {
    asked: u64,
    repeated: u64,
    good: u64,
    bad: u64,
}

/// The line `distinct.lua` prints when wrk is done.
fn distinct_counts(text: &str) -> Result<Counts, String> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("distinct: "))
        .ok_or("distinct.lua printed no counts")?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let get = |name: &str| {
        words
            .iter()
            .position(|w| *w == name)
            .and_then(|i| words.get(i + 1))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("distinct.lua's counts lack {name}: {line}"))
    };
    Ok(Counts {
        asked: get("asked")?,
        repeated: get("repeated")?,
        good: get("good")?,
        bad: get("bad")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_and_the_scripts_counts() {
        let text = "Running 10s test @ http://127.0.0.1:1\n  2 threads and 256 connections\n  31876 requests in 10.00s, 9.1MB read\nRequests/sec:   3187.01\nTransfer/sec:    0.91MB\ndistinct: asked 32132 repeated 0 good 31876 bad 0\n";
        assert_eq!(requests_per_sec(text).unwrap(), 3187.01);
        assert_eq!(
            distinct_counts(text).unwrap(),
            Counts {
                asked: 32132,
                repeated: 0,
                good: 31876,
                bad: 0
            }
        );
        assert!(distinct_counts("Requests/sec: 1\n").is_err());
        assert!(requests_per_sec("distinct: asked 1\n").is_err());
    }
}
