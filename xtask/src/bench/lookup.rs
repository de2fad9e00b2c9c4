//! `cargo xtask bench lookup`: B1-B5 of `shared/reference/performance.md` against the
//! sandbox, in one run.
//!
//! Every contender hits the same sandbox (a release `cprlink sandbox` process on
//! 127.0.0.1) with the same inputs; the names each returns are checked against the
//! sandbox's `persons.csv`; every command line is printed; the table at the end gives
//! the figures, the ratios and the targets. Tools the bench needs and the machine lacks
//! are installed and the bench says so: `wrk` and GNU `time` with apt-get, Python's
//! `requests` with pip.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{SandboxProcess, build_release};
use std::time::{Duration, Instant};

/// B1 input size.
const N_B1: usize = 10_000;
/// The curl loop's sample (one process and TLS handshake per CPR number).
const N_CURL: usize = 200;
/// B2 input size (four times the population: the process start-up, about 0.1-0.3 s of
/// loading the system trust store in native-tls, matters less).
const N_B2: usize = 40_000;
const LATENCY_MS: u64 = 50;
/// B3 input sizes: memory must stay flat as the input grows.
const N_B3: [usize; 2] = [100_000, 1_000_000];
/// B4 duration and connections.
const WRK_SECS: u32 = 10;
const WRK_CONNECTIONS: u32 = 64;
const REST_PATH: &str = "/CPR/CprPersonSmallSimple/1/REST/PersonSmallCurrentListSimple";

/// One line of the result table.
struct Row {
    id: &'static str,
    what: String,
    value: String,
    target: String,
    pass: Option<bool>,
}

fn print_command(cmd: &Command) {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        if a.contains(' ') || a.is_empty() {
            let _ = write!(line, " '{a}'");
        } else {
            let _ = write!(line, " {a}");
        }
    }
    eprintln!("$ {line}");
}

/// Wall time, CPU seconds (user + system) and max RSS (KiB) of one process, measured
/// by GNU time (`wait4` rusage).
struct Measured {
    wall: f64,
    cpu: f64,
    max_rss_kib: u64,
}

fn measure(cmd: &mut Command, work: &Path) -> Result<Measured, String> {
    let report = work.join("time.out");
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%U %S %M", "-o"])
        .arg(&report)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    print_command(cmd);
    let started = Instant::now();
    let status = timed
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    let wall = started.elapsed().as_secs_f64();
    let text = fs::read_to_string(&report).map_err(|e| e.to_string())?;
    let last = text.lines().last().unwrap_or("");
    let f: Vec<f64> = last
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    if !status.success() && status.code() != Some(1) {
        return Err(format!("{:?} failed ({status}): {text}", cmd.get_program()));
    }
    if f.len() < 3 {
        return Err(format!("cannot read GNU time's report: {text}"));
    }
    Ok(Measured {
        wall,
        cpu: f[0] + f[1],
        max_rss_kib: f[2] as u64,
    })
}

/// `cpr -> name` from a CSV with `cpr` and `name` columns.
fn names_from_csv(path: &Path) -> Result<HashMap<String, String>, String> {
    let mut r = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let header = r.headers().map_err(|e| e.to_string())?.clone();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| h == n)
            .ok_or_else(|| format!("{}: no {n} column", path.display()))
    };
    let (c, n) = (col("cpr")?, col("name")?);
    let mut out = HashMap::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
        out.insert(rec[c].to_owned(), rec.get(n).unwrap_or("").to_owned());
    }
    Ok(out)
}

/// Every CPR number asked must have the expected name in `got`.
fn check(
    who: &str,
    asked: &[String],
    got: &HashMap<String, String>,
    want: &HashMap<String, String>,
) -> Result<(), String> {
    let mut bad = 0usize;
    for c in asked {
        if got.get(c) != want.get(c) {
            bad += 1;
        }
    }
    if bad > 0 {
        return Err(format!(
            "{who}: {bad} of {} names differ from persons.csv",
            asked.len()
        ));
    }
    eprintln!(
        "  checked: {who} returned the expected name for all {} CPR numbers",
        asked.len()
    );
    Ok(())
}

fn write_lines(path: &Path, items: impl Iterator<Item = String>) -> Result<(), String> {
    let mut f = std::io::BufWriter::new(fs::File::create(path).map_err(|e| e.to_string())?);
    for i in items {
        writeln!(f, "{i}").map_err(|e| e.to_string())?;
    }
    f.flush().map_err(|e| e.to_string())
}

fn have(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn apt_install(pkg: &str) -> Result<(), String> {
    eprintln!("bench: `{pkg}` is missing; installing the Debian package `{pkg}` with apt-get");
    let sudo = if Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
    {
        vec![]
    } else {
        vec!["sudo"]
    };
    let run = |args: &[&str]| -> Result<(), String> {
        let mut all: Vec<&str> = sudo.clone();
        all.extend_from_slice(args);
        let status = Command::new(all[0])
            .args(&all[1..])
            .status()
            .map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("`{}` failed", all.join(" ")))
        }
    };
    run(&["apt-get", "update", "-qq"])?;
    run(&["apt-get", "install", "-y", "-qq", pkg])
}

/// wrk, GNU time, curl, openssl, python3 with requests.
fn ensure_tools() -> Result<(), String> {
    if !Path::new("/usr/bin/time").exists() {
        apt_install("time")?;
    }
    for (tool, pkg) in [
        ("wrk", "wrk"),
        ("curl", "curl"),
        ("openssl", "openssl"),
        ("python3", "python3"),
    ] {
        if !have("sh", &["-c", &format!("command -v {tool}")]) {
            apt_install(pkg)?;
        }
    }
    if !have("python3", &["-c", "import requests"]) {
        eprintln!("bench: Python's `requests` is missing; installing it with pip");
        let ok = have("python3", &["-m", "pip", "install", "--quiet", "requests"])
            || have(
                "python3",
                &[
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--break-system-packages",
                    "requests",
                ],
            );
        if !ok {
            apt_install("python3-requests")?;
        }
    }
    Ok(())
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Runs B1-B5 with the release `cprlink`.
pub fn run(root: &Path, _flags: &[&String]) -> Result<(), String> {
    ensure_tools()?;
    let bin = &build_release(root)?;
    let work = root.join("target").join("bench-lookup");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let peer = root.join("xtask").join("bench").join("peer.py");
    let mut rows: Vec<Row> = Vec::new();

    // ---- one sandbox, no added latency: B1, B3, B4, B5 ----------------------------------
    let sb = SandboxProcess::start(bin, &["--persons", &N_B1.to_string()])?;
    let config = sb.dir.join("cprlink.toml");
    let want = names_from_csv(&sb.dir.join("persons.csv"))?;
    let mut cprs: Vec<String> = want.keys().cloned().collect();
    cprs.sort();
    cprs.truncate(N_B1);
    let input = work.join("b1.txt");
    write_lines(&input, cprs.iter().cloned())?;
    // PEM files for curl and Python (what those clients take); the key is 0600.
    let (cert_pem, key_pem) = (work.join("client.pem"), work.join("client.key"));
    let p12 = sb.dir.join("client.p12");
    let pass = format!("file:{}", sb.dir.join("client.p12.password").display());
    for (out, extra) in [
        (&cert_pem, vec!["-nokeys", "-clcerts"]),
        (&key_pem, vec!["-nocerts", "-nodes"]),
    ] {
        let mut c = Command::new("openssl");
        c.args(["pkcs12", "-in"])
            .arg(&p12)
            .args(["-passin", &pass])
            .args(&extra)
            .arg("-out")
            .arg(out);
        let st = c
            .stderr(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        if !st.success() {
            return Err("openssl could not read the sandbox's client.p12".to_owned());
        }
    }
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(&key_pem, fs::Permissions::from_mode(0o600));
    let ca = sb.dir.join("ca.pem");
    let base = sb.url("rest_base_url");

    eprintln!("\nB1/B5: {N_B1} CPR numbers over REST, no added latency");
    let out_cprlink = work.join("b1-cprlink.csv");
    let m_cprlink = measure(
        Command::new(bin)
            .arg("--config")
            .arg(&config)
            .args([
                "lookup", "--api", "rest", "--format", "csv", "--force", "--input",
            ])
            .arg(&input)
            .arg("--output")
            .arg(&out_cprlink),
        &work,
    )?;
    check(
        "cprlink lookup",
        &cprs,
        &names_from_csv(&out_cprlink)?,
        &want,
    )?;

    let out_py = work.join("b1-python.csv");
    let m_py = measure(
        Command::new("python3")
            .arg(&peer)
            .args(["lookup", "--base", &base, "--path", REST_PATH])
            .arg("--cert")
            .arg(&cert_pem)
            .arg("--key")
            .arg(&key_pem)
            .arg("--ca")
            .arg(&ca)
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&out_py),
        &work,
    )?;
    check(
        "python requests.Session",
        &cprs,
        &names_from_csv(&out_py)?,
        &want,
    )?;

    let sample: Vec<String> = cprs
        .iter()
        .step_by(N_B1 / N_CURL)
        .take(N_CURL)
        .cloned()
        .collect();
    let curl_dir = work.join("curl");
    fs::create_dir_all(&curl_dir).map_err(|e| e.to_string())?;
    let script = format!(
        "for c in {}; do curl -s --fail --cert {} --key {} --cacert {} -o {}/$c.json \"{base}{REST_PATH}?pnr.personnummer.eq=$c&format=json\" || exit 1; done",
        sample.join(" "),
        cert_pem.display(),
        key_pem.display(),
        ca.display(),
        curl_dir.display()
    );
    eprintln!(
        "$ sh -c 'for c in <{N_CURL} CPR numbers>; do curl -s --fail --cert client.pem --key client.key --cacert ca.pem -o curl/$c.json \"{base}{REST_PATH}?pnr.personnummer.eq=$c&format=json\"; done'"
    );
    let started = Instant::now();
    let st = Command::new("sh")
        .args(["-c", &script])
        .status()
        .map_err(|e| e.to_string())?;
    let curl_wall = started.elapsed().as_secs_f64();
    if !st.success() {
        return Err("the curl loop failed".to_owned());
    }
    let out_curl = work.join("b1-curl.csv");
    let files: Vec<PathBuf> = sample
        .iter()
        .map(|c| curl_dir.join(format!("{c}.json")))
        .collect();
    let st = Command::new("python3")
        .arg(&peer)
        .args(["parse", "--output"])
        .arg(&out_curl)
        .args(&files)
        .status()
        .map_err(|e| e.to_string())?;
    if !st.success() {
        return Err("cannot read the curl loop's answers".to_owned());
    }
    check("curl loop", &sample, &names_from_csv(&out_curl)?, &want)?;

    let rate = |n: usize, secs: f64| n as f64 / secs;
    let r_cprlink = rate(N_B1, m_cprlink.wall);
    let r_py = rate(N_B1, m_py.wall);
    let r_curl = rate(N_CURL, curl_wall);
    rows.push(Row {
        id: "B1",
        what: "cprlink lookup --input (REST)".into(),
        value: format!("{r_cprlink:.0} lookups/s"),
        target: String::new(),
        pass: None,
    });
    rows.push(Row {
        id: "B1",
        what: format!("curl loop (sample of {N_CURL}, 1 process+handshake each)"),
        value: format!("{r_curl:.1} lookups/s"),
        target: String::new(),
        pass: None,
    });
    rows.push(Row {
        id: "B1",
        what: "Python requests.Session, sequential".into(),
        value: format!("{r_py:.0} lookups/s"),
        target: String::new(),
        pass: None,
    });
    rows.push(Row {
        id: "B1",
        what: "cprlink / curl loop".into(),
        value: format!("{:.0}x", r_cprlink / r_curl),
        target: ">= 50x".into(),
        pass: Some(r_cprlink / r_curl >= 50.0),
    });
    rows.push(Row {
        id: "B1",
        what: "cprlink / Python".into(),
        value: format!("{:.1}x", r_cprlink / r_py),
        target: ">= 10x".into(),
        pass: Some(r_cprlink / r_py >= 10.0),
    });
    let per10k = |m: &Measured| m.cpu;
    rows.push(Row {
        id: "B5",
        what: "CPU per 10,000 lookups: cprlink".into(),
        value: format!("{:.2} s", per10k(&m_cprlink)),
        target: String::new(),
        pass: None,
    });
    rows.push(Row {
        id: "B5",
        what: "CPU per 10,000 lookups: Python".into(),
        value: format!("{:.2} s", per10k(&m_py)),
        target: String::new(),
        pass: None,
    });
    let cpu_ratio = m_cprlink.cpu / m_py.cpu;
    rows.push(Row {
        id: "B5",
        what: "cprlink CPU / Python CPU".into(),
        value: format!("{:.3} (1/{:.0})", cpu_ratio, 1.0 / cpu_ratio),
        target: "<= 0.2".into(),
        pass: Some(cpu_ratio <= 0.2),
    });

    // ---- B3: memory, streaming 10^5 and 10^6 lines ----------------------------------------
    eprintln!("\nB3: peak memory for a streamed bulk run");
    let mut rss = Vec::new();
    for n in N_B3 {
        let big = work.join(format!("b3-{n}.txt"));
        write_lines(&big, (0..n).map(|i| cprs[i % cprs.len()].clone()))?;
        let out = work.join(format!("b3-{n}.jsonl"));
        let m = measure(
            Command::new(bin)
                .arg("--config")
                .arg(&config)
                .args(["lookup", "--force", "--input"])
                .arg(&big)
                .arg("--output")
                .arg(&out),
            &work,
        )?;
        let lines = fs::read(&out)
            .map(|b| b.iter().filter(|&&c| c == b'\n').count())
            .unwrap_or(0);
        if lines != n {
            return Err(format!("B3: {lines} records for {n} input lines"));
        }
        eprintln!(
            "  checked: {n} records for {n} lines ({:.0} lookups/s)",
            n as f64 / m.wall
        );
        let _ = fs::remove_file(&big);
        let _ = fs::remove_file(&out);
        rss.push((n, m.max_rss_kib));
    }
    for (n, kib) in &rss {
        let mib = *kib as f64 / 1024.0;
        rows.push(Row {
            id: "B3",
            what: format!("max RSS, {n} input lines"),
            value: format!("{mib:.1} MiB"),
            target: "<= 64 MiB".into(),
            pass: Some(mib <= 64.0),
        });
    }

    // ---- B4: cprlink serve, warm cache, wrk -----------------------------------------------
    eprintln!("\nB4: GET /v1/persons/{{cpr}}/name on cprlink serve, warm cache");
    let port = free_port()?;
    let mut serve_cmd = Command::new(bin);
    serve_cmd.arg("--config").arg(&config).args([
        "-q",
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    print_command(&serve_cmd);
    let mut serve = serve_cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let serve_base = format!("http://127.0.0.1:{port}");
    let warm: Vec<String> = cprs.iter().take(1000).cloned().collect();
    let result = (|| -> Result<f64, String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !have("curl", &["-sf", &format!("{serve_base}/healthz")]) {
            if Instant::now() > deadline {
                return Err("cprlink serve did not come up".to_owned());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let body = format!(
            "{{\"cprs\": [{}]}}",
            warm.iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        let body_file = work.join("warm.json");
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
            .arg(format!("{serve_base}/v1/names"))
            .output()
            .map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err("warming the cache failed".to_owned());
        }
        // One answer checked by hand.
        let o = Command::new("curl")
            .args(["-sf", &format!("{serve_base}/v1/persons/{}/name", warm[0])])
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&o.stdout);
        let name = want.get(&warm[0]).cloned().unwrap_or_default();
        if !text.contains(&format!("\"name\":{}", json_string(&name))) {
            return Err(format!(
                "cprlink serve answered something else for a warm CPR: {text}"
            ));
        }
        eprintln!("  checked: cprlink serve answers the expected name from its cache");
        let paths = work.join("paths.txt");
        write_lines(&paths, warm.iter().map(|c| format!("/v1/persons/{c}/name")))?;
        let lua = work.join("paths.lua");
        fs::write(
            &lua,
            format!(
                "local paths = {{}}\nfor line in io.lines(\"{}\") do paths[#paths + 1] = line end\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format(\"GET\", paths[i])\nend\n",
                paths.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let mut wrk = Command::new("wrk");
        wrk.args([
            "-t",
            "2",
            "-c",
            &WRK_CONNECTIONS.to_string(),
            "-d",
            &format!("{WRK_SECS}s"),
            "-s",
        ])
        .arg(&lua)
        .arg(&serve_base);
        print_command(&wrk);
        let o = wrk.output().map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        eprint!("{text}");
        if text.contains("Non-2xx") {
            return Err("wrk saw non-2xx answers".to_owned());
        }
        text.lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .ok_or_else(|| "cannot read wrk's Requests/sec".to_owned())
    })();
    let _ = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    let _ = serve.wait();
    let rps = result?;
    rows.push(Row {
        id: "B4",
        what: format!("cprlink serve, warm cache (wrk -t2 -c{WRK_CONNECTIONS}, {WRK_SECS} s)"),
        value: format!("{rps:.0} req/s"),
        target: ">= 20000 req/s".into(),
        pass: Some(rps >= 20_000.0),
    });
    drop(sb);

    // ---- B2: with 50 ms of latency per answer ----------------------------------------------
    eprintln!("\nB2: {N_B2} lookups with --latency-ms {LATENCY_MS}");
    let sb = SandboxProcess::start(
        bin,
        &[
            "--persons",
            &N_B1.to_string(),
            "--latency-ms",
            &LATENCY_MS.to_string(),
        ],
    )?;
    let config = sb.dir.join("cprlink.toml");
    let want2 = names_from_csv(&sb.dir.join("persons.csv"))?;
    let mut cprs2: Vec<String> = want2.keys().cloned().collect();
    cprs2.sort();
    let asked: Vec<String> = (0..N_B2).map(|i| cprs2[i % cprs2.len()].clone()).collect();
    let input2 = work.join("b2.txt");
    write_lines(&input2, asked.iter().cloned())?;
    let out2 = work.join("b2-cprlink.csv");
    let (concurrency, batch) = (8u32, 20u32);
    let m2 = measure(
        Command::new(bin)
            .arg("--config")
            .arg(&config)
            .args([
                "lookup",
                "-j",
                &concurrency.to_string(),
                "--batch-size",
                &batch.to_string(),
                "--format",
                "csv",
                "--force",
                "--input",
            ])
            .arg(&input2)
            .arg("--output")
            .arg(&out2),
        &work,
    )?;
    check(
        "cprlink lookup (latency)",
        &asked,
        &names_from_csv(&out2)?,
        &want2,
    )?;
    drop(sb);
    let r2 = rate(N_B2, m2.wall);
    let bound = f64::from(concurrency * batch) / (LATENCY_MS as f64 / 1000.0);
    rows.push(Row {
        id: "B2",
        what: format!(
            "cprlink lookup, -j {concurrency} --batch-size {batch}, {LATENCY_MS} ms latency"
        ),
        value: format!("{r2:.0} lookups/s"),
        target: String::new(),
        pass: None,
    });
    rows.push(Row {
        id: "B2",
        what: "share of the Little's-law bound (j x batch / latency)".into(),
        value: format!("{:.1}% of {bound:.0}/s", 100.0 * r2 / bound),
        target: ">= 90%".into(),
        pass: Some(r2 / bound >= 0.9),
    });

    print_table(&rows);
    if rows.iter().any(|r| r.pass == Some(false)) {
        return Err("a lookup benchmark missed its target".to_owned());
    }
    Ok(())
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn print_table(rows: &[Row]) {
    println!("\n| id | measurement | result | target | verdict |");
    println!("|---|---|---|---|---|");
    for r in rows {
        let verdict = match r.pass {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "",
        };
        println!(
            "| {} | {} | {} | {} | {verdict} |",
            r.id, r.what, r.value, r.target
        );
    }
}
