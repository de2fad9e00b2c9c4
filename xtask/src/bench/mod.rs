//! `cargo xtask bench [NAME]...`: the benchmarks, run against the project's own sandbox
//! on 127.0.0.1 with release builds.
//!
//! Owns the dispatch and what every benchmark shares: building `cprlink` in release,
//! starting `target/release/cprlink sandbox` as a process and waiting for its
//! `sandbox.json`, a keep-alive reqwest client with the sandbox's `client.p12`, and
//! stopping the sandbox with SIGINT. Each benchmark lives in its own module.
//!
//! - `sandbox`: the sandbox's own throughput (CPR numbers per second in `wi` batches).

pub mod sandbox;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the named benchmarks (all when none are named).
pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let (names, flags): (Vec<&String>, Vec<&String>) =
        args.iter().partition(|a| !a.starts_with("--"));
    let all = names.is_empty();
    let mut ran = false;
    if all || names.iter().any(|n| *n == "sandbox") {
        sandbox::run(root, &flags)?;
        ran = true;
    }
    if !ran {
        return Err(format!(
            "unknown benchmark {:?} (available: sandbox)",
            names.iter().map(|s| s.as_str()).collect::<Vec<_>>()
        ));
    }
    Ok(())
}

/// The value of `--name VALUE` among `flags` (given as separate words `--name=VALUE`).
pub fn flag<T: std::str::FromStr>(flags: &[&String], name: &str, default: T) -> Result<T, String> {
    let prefix = format!("--{name}=");
    match flags.iter().find_map(|f| f.strip_prefix(&prefix)) {
        Some(v) => v
            .parse()
            .map_err(|_| format!("bad value for --{name}: {v}")),
        None => Ok(default),
    }
}

/// `cargo build --release -p cprlink`, returning the binary's path.
pub fn build_release(root: &Path) -> Result<PathBuf, String> {
    crate::cargo(&["build", "--release", "-p", "cprlink"])?;
    let bin = root.join("target/release/cprlink");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("{} was not built", bin.display()))
    }
}

/// A `cprlink sandbox` process; stopped with SIGINT when dropped.
pub struct SandboxProcess {
    child: Child,
    pub dir: PathBuf,
    pub info: serde_json::Value,
}

impl SandboxProcess {
    /// Starts `bin sandbox --dir <fresh dir> <args>` and waits for `sandbox.json`.
    pub fn start(bin: &Path, args: &[&str]) -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!("cprlink-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cmd = Command::new(bin);
        cmd.arg("sandbox").arg("--dir").arg(&dir).args(args);
        eprintln!(
            "$ {} sandbox --dir {} {}",
            bin.display(),
            dir.display(),
            args.join(" ")
        );
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let json = dir.join("sandbox.json");
        let start = Instant::now();
        while !json.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("cprlink sandbox exited early: {status}"));
            }
            if start.elapsed() > Duration::from_secs(300) {
                let _ = child.kill();
                return Err("cprlink sandbox did not get ready within 300 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let info = std::fs::read(&json)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("sandbox.json is unreadable")?;
        eprintln!("sandbox ready after {:.1} s", start.elapsed().as_secs_f64());
        Ok(SandboxProcess { child, dir, info })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, key: &str) -> String {
        self.info[key].as_str().unwrap_or_default().to_owned()
    }

    /// The CPR numbers of `persons.csv`.
    pub fn cprs(&self) -> Result<Vec<String>, String> {
        let mut r =
            csv::Reader::from_path(self.dir.join("persons.csv")).map_err(|e| e.to_string())?;
        r.records()
            .map(|rec| rec.map(|r| r[0].to_owned()).map_err(|e| e.to_string()))
            .collect()
    }

    /// A keep-alive HTTP/1.1 client with the sandbox's client certificate.
    pub fn client(&self, connections: usize) -> Result<reqwest::Client, String> {
        let read =
            |name: &str| std::fs::read(self.dir.join(name)).map_err(|e| format!("{name}: {e}"));
        let password = String::from_utf8_lossy(&read("client.p12.password")?)
            .trim()
            .to_owned();
        let identity = reqwest::Identity::from_pkcs12_der(&read("client.p12")?, &password)
            .map_err(|e| e.to_string())?;
        let ca =
            reqwest::Certificate::from_pem_bundle(&read("ca.pem")?).map_err(|e| e.to_string())?;
        reqwest::Client::builder()
            .tls_backend_native()
            .tls_certs_only(ca)
            .identity(identity)
            .http1_only()
            .pool_max_idle_per_host(connections)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())
    }
}

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat`.
pub fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces, so split after ')').
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64))
}

fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
