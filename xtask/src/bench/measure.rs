//! Running and timing the contenders' processes, and the tools that takes.
//!
//! Owns the log of command lines (every one is printed on stderr as it runs and kept
//! for `--json`), the two ways a process is timed (GNU time for wall, CPU and max RSS;
//! bash's `time` for the CPU of short processes, to the millisecond), and installing
//! what the machine lacks: `wrk` and GNU `time` with apt-get, Python's `requests` with
//! pip. It judges nothing.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

static COMMANDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Prints `$ line` on stderr and keeps it for the report.
pub(crate) fn show(line: String) {
    eprintln!("$ {line}");
    if let Ok(mut c) = COMMANDS.lock() {
        c.push(line);
    }
}

/// Prints a command as a shell would take it: the environment it sets, the program and
/// its arguments (quoted where they hold spaces).
pub(crate) fn show_command(cmd: &Command) {
    show(command_line(cmd));
}

pub(crate) fn command_line(cmd: &Command) -> String {
    let quote = |s: &str| {
        if s.is_empty() || s.contains([' ', '"', '|', '$', '&', ';']) {
            format!("'{s}'")
        } else {
            s.to_owned()
        }
    };
    let mut line = String::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            let _ = write!(
                line,
                "{}={} ",
                k.to_string_lossy(),
                quote(&v.to_string_lossy())
            );
        }
    }
    line.push_str(&quote(&cmd.get_program().to_string_lossy()));
    for a in cmd.get_args() {
        let _ = write!(line, " {}", quote(&a.to_string_lossy()));
    }
    line
}

/// Every command line shown so far.
pub(crate) fn commands() -> Vec<String> {
    COMMANDS.lock().map(|c| c.clone()).unwrap_or_default()
}

/// Wall time, CPU seconds (user + system), max RSS (KiB) and exit code of one process,
/// measured by GNU time (`wait4` rusage).
pub(crate) struct Measured {
    pub wall: f64,
    pub cpu: f64,
    pub max_rss_kib: u64,
    pub code: Option<i32>,
}

/// Runs `cmd` under GNU time with stdout discarded. Exit codes 0 and 1 (some rows
/// failed: the checks say which) count as having run.
pub(crate) fn measure(cmd: &mut Command, work: &Path) -> Result<Measured, String> {
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
    show_command(cmd);
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
        code: status.code(),
    })
}

/// Wall and CPU seconds (user + system) of one short process, stdout to `out`, timed
/// by bash's `time` (rusage of the child, printed to the millisecond, where GNU time
/// rounds to 10 ms). The process must exit 0.
pub(crate) fn cpu_of(cmd: &Command, out: &Path, work: &Path) -> Result<(f64, f64), String> {
    let times = work.join("bash-time.out");
    let errors = work.join("bash-time.err");
    let mut timed = Command::new("bash");
    timed
        .args([
            "-c",
            "TIMEFORMAT='%3R %3U %3S'; { time \"$@\" >\"$BENCH_OUT\" 2>\"$BENCH_ERR\"; } 2>\"$BENCH_TIME\"",
            "bash",
        ])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .env("BENCH_OUT", out)
        .env("BENCH_ERR", &errors)
        .env("BENCH_TIME", &times);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    let status = timed
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run bash: {e}"))?;
    if !status.success() {
        let err = fs::read_to_string(&errors).unwrap_or_default();
        return Err(format!(
            "`{}` failed ({status}): {}",
            command_line(cmd),
            err.trim()
        ));
    }
    let text = fs::read_to_string(&times).map_err(|e| e.to_string())?;
    let f: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    match f[..] {
        [wall, user, sys] => Ok((wall, user + sys)),
        _ => Err(format!("cannot read bash's time report: {text}")),
    }
}

/// The median of some samples (the mean of the middle two for an even count).
pub(crate) fn median(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

pub(crate) fn have(cmd: &str, args: &[&str]) -> bool {
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

/// wrk, GNU time, bash, curl, openssl, python3 with requests.
pub(crate) fn ensure_tools() -> Result<(), String> {
    if !Path::new("/usr/bin/time").exists() {
        apt_install("time")?;
    }
    for (tool, pkg) in [
        ("wrk", "wrk"),
        ("bash", "bash"),
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

pub(crate) fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

pub(crate) fn write_lines(path: &Path, items: impl Iterator<Item = String>) -> Result<(), String> {
    let mut f = std::io::BufWriter::new(
        fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
    );
    for i in items {
        writeln!(f, "{i}").map_err(|e| e.to_string())?;
    }
    f.flush().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn command_lines_show_the_environment_and_quote_what_a_shell_would_split() {
        let mut c = Command::new("cprlink");
        c.env("CPRLINK_LOOKUP_CONCURRENCY", "8")
            .args(["lookup", "--purpose", "a b", "x|y"]);
        assert_eq!(
            command_line(&c),
            "CPRLINK_LOOKUP_CONCURRENCY=8 cprlink lookup --purpose 'a b' 'x|y'"
        );
    }

    #[test]
    fn bash_time_reports_the_cpu_of_a_busy_child() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut busy = Command::new("sh");
        busy.args([
            "-c",
            "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done",
        ]);
        let (wall, cpu) = cpu_of(&busy, &out, dir.path()).unwrap();
        assert!(cpu > 0.0 && wall > 0.0, "wall {wall} cpu {cpu}");
        assert_eq!(fs::read_to_string(&out).unwrap(), "done\n");
        let mut failing = Command::new("sh");
        failing.args(["-c", "echo nope >&2; exit 3"]);
        let e = cpu_of(&failing, &out, dir.path()).unwrap_err();
        assert!(e.contains("nope"), "{e}");
    }
}
