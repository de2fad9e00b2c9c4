//! `cargo xtask bench [GROUP]... [--quick] [--json FILE]` and
//! `cargo xtask bench --compare A.json B.json`: the benchmarks, run against the
//! project's own sandbox on 127.0.0.1 with release builds.
//!
//! Owns the command line of the bench, the groups and their sizes, the order in which
//! the groups run (the two sandboxes the lookup groups share), and what every benchmark
//! shares: building `cprlink` in release, starting `target/release/cprlink sandbox` as a
//! process and waiting for its `sandbox.json`, the client files made from its
//! `client.p12`, and stopping it with SIGINT. Each group lives in its own module; the
//! rows, the table and the JSON are `report`'s, running and timing processes is
//! `measure`'s, checking answers against `persons.csv` is `check`'s.
//!
//! Groups (a row id also selects its group; `lookup` is every group but `sandbox`):
//! - `sandbox`: the sandbox's own throughput (CPR numbers per second in `wi` batches).
//! - `throughput` (B1, B5), `cold` (P1), `memory` (B3, P5), `serve` (B4, P2),
//!   `latency` (B2, P3, P4): the rows of `shared/reference/performance.md`.

pub(crate) mod check;
pub(crate) mod cold;
pub(crate) mod latency;
pub(crate) mod lookup;
pub(crate) mod measure;
pub(crate) mod report;
pub(crate) mod sandbox;
pub(crate) mod serve;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use measure::show_command;
use report::{Machine, Report, Row};

pub(crate) const USAGE: &str = "\
usage: cargo xtask bench [GROUP|ROW]... [--quick] [--json FILE]
       cargo xtask bench --compare A.json B.json

groups (default: all of them, in this order):
  sandbox     the sandbox's own throughput            [--secs=N --connections=N --persons=N]
  throughput  B1, B5: lookups/s and CPU against curl and Python, no added latency
  cold        P1: CPU of one cold `cprlink lookup CPR` against curl
  memory      B3, P5: max RSS of long streamed runs, REST and GraphQL
  serve       B4, P2: cprlink serve under wrk, warm cache and cold cache at 50 ms
  latency     B2, P3, P4: lookups at 50 ms against Little's law; unknown numbers
  lookup      every group above but sandbox
A row id (B1..B5, P1..P5) selects its group.

  --quick         smaller sizes: a smoke run of every command, not a measurement
                  (its targets are shown, but a missed one does not fail the run)
  --json FILE     also write every row, target and verdict with the machine's
                  description to FILE
  --compare A B   print the change per row from run A to run B (files of --json)";

/// A part of the bench, with the rows of performance.md it produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Group {
    Sandbox,
    Throughput,
    Cold,
    Memory,
    Serve,
    Latency,
}

impl Group {
    /// Every group, in the order they run.
    pub(crate) const ALL: [Group; 6] = [
        Group::Sandbox,
        Group::Throughput,
        Group::Cold,
        Group::Memory,
        Group::Serve,
        Group::Latency,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Group::Sandbox => "sandbox",
            Group::Throughput => "throughput",
            Group::Cold => "cold",
            Group::Memory => "memory",
            Group::Serve => "serve",
            Group::Latency => "latency",
        }
    }

    /// The row ids it produces.
    pub(crate) fn ids(self) -> &'static [&'static str] {
        match self {
            Group::Sandbox => &["sandbox"],
            Group::Throughput => &["B1", "B5"],
            Group::Cold => &["P1"],
            Group::Memory => &["B3", "P5"],
            Group::Serve => &["B4", "P2"],
            Group::Latency => &["B2", "P3", "P4"],
        }
    }

    /// The groups a word of the command line selects.
    fn select(word: &str) -> Option<Vec<Group>> {
        let w = word.to_ascii_lowercase();
        match w.as_str() {
            "all" => Some(Group::ALL.to_vec()),
            "lookup" => Some(Group::ALL[1..].to_vec()),
            _ => Group::ALL
                .into_iter()
                .find(|g| g.name() == w || g.ids().iter().any(|id| id.eq_ignore_ascii_case(&w)))
                .map(|g| vec![g]),
        }
    }
}

/// What `cargo xtask bench ...` was asked to do.
#[derive(Debug, PartialEq)]
pub(crate) enum Invocation {
    Run(Options),
    Compare(PathBuf, PathBuf),
    Help,
}

#[derive(Debug, PartialEq)]
pub(crate) struct Options {
    /// Sorted, without repeats.
    pub groups: Vec<Group>,
    pub quick: bool,
    pub json: Option<PathBuf>,
    /// The `sandbox` group's load: `--secs=N`, `--connections=N`, `--persons=N`.
    pub sandbox_secs: Option<u64>,
    pub sandbox_connections: Option<usize>,
    pub sandbox_persons: Option<u32>,
}

/// Parses the words after `cargo xtask bench`. Flags take their value as the next
/// word or after `=`.
pub(crate) fn parse_args(args: &[String]) -> Result<Invocation, String> {
    let mut groups = Vec::new();
    let mut quick = false;
    let mut json = None;
    let mut compare = None;
    let (mut secs, mut connections, mut persons) = (None, None, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{name} needs {what}"))
        };
        match name {
            "-h" | "--help" => return Ok(Invocation::Help),
            "--quick" => quick = true,
            "--json" => json = Some(PathBuf::from(value("a file name")?)),
            "--compare" => {
                let a = value("two files (A.json B.json)")?;
                let b = it
                    .next()
                    .ok_or("--compare needs two files (A.json B.json)")?;
                compare = Some((PathBuf::from(a), PathBuf::from(b)));
            }
            "--secs" => secs = Some(number(name, &value("a number")?)?),
            "--connections" => connections = Some(number(name, &value("a number")?)?),
            "--persons" => persons = Some(number(name, &value("a number")?)?),
            flag if flag.starts_with('-') => {
                return Err(format!(
                    "unknown flag {flag} (try `cargo xtask bench --help`)"
                ));
            }
            word => groups.extend(Group::select(word).ok_or_else(|| {
                format!("unknown group or row `{word}` (try `cargo xtask bench --help`)")
            })?),
        }
    }
    if let Some((a, b)) = compare {
        if !groups.is_empty() || quick || json.is_some() {
            return Err("--compare reads two files and runs nothing: give it alone".to_owned());
        }
        return Ok(Invocation::Compare(a, b));
    }
    if groups.is_empty() {
        groups = Group::ALL.to_vec();
    }
    groups.sort();
    groups.dedup();
    Ok(Invocation::Run(Options {
        groups,
        quick,
        json,
        sandbox_secs: secs,
        sandbox_connections: connections,
        sandbox_persons: persons,
    }))
}

fn number<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("bad value for {name}: {v}"))
}

/// The sizes of one run: the full ones measure, the `--quick` ones only prove that
/// every command works.
#[derive(Debug, Clone)]
pub(crate) struct Sizes {
    /// B1/B5 input (also the Python peer's).
    pub b1: usize,
    /// The curl loop's sample (one process and TLS handshake per CPR number).
    pub curl: usize,
    /// P1: cold runs of each contender; the median counts.
    pub p1_runs: usize,
    /// B3 (REST) and P5 (GraphQL): memory must stay flat as the input grows.
    pub b3: [usize; 2],
    pub p5: [usize; 2],
    /// B4 and P2: how long wrk runs.
    pub b4_secs: u32,
    pub p2_secs: u32,
    /// B2 (and P4, which is compared with B2's run) and P3, at 50 ms.
    pub b2: usize,
    pub p3: usize,
    /// The latency sandbox's population: P2 asks each number once and P3 asks
    /// distinct numbers, so it holds more persons than either asks for.
    pub latency_persons: usize,
    pub sandbox_secs: u64,
    pub sandbox_persons: u32,
}

impl Sizes {
    pub(crate) fn full() -> Sizes {
        Sizes {
            b1: 10_000,
            curl: 200,
            p1_runs: 15,
            b3: [100_000, 1_000_000],
            p5: [100_000, 1_000_000],
            b4_secs: 10,
            p2_secs: 10,
            b2: 10_000,
            p3: 40_000,
            latency_persons: 100_000,
            sandbox_secs: 5,
            sandbox_persons: 100_000,
        }
    }

    pub(crate) fn quick() -> Sizes {
        Sizes {
            b1: 1_000,
            curl: 20,
            p1_runs: 3,
            b3: [10_000, 50_000],
            p5: [10_000, 50_000],
            b4_secs: 2,
            p2_secs: 2,
            b2: 1_000,
            p3: 4_000,
            latency_persons: 20_000,
            sandbox_secs: 1,
            sandbox_persons: 10_000,
        }
    }
}

/// What the groups of one run share: the binary, the work directory, the sizes and the
/// rows measured so far.
pub(crate) struct Bench {
    pub bin: PathBuf,
    /// `target/bench-lookup`: inputs, outputs and client files of this run.
    pub work: PathBuf,
    /// `xtask/bench/`: the Python peer and the other contenders' scripts.
    pub scripts: PathBuf,
    pub sizes: Sizes,
    pub rows: Vec<Row>,
}

/// Runs `cargo xtask bench ...`.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let opts = match parse_args(args)? {
        Invocation::Help => {
            println!("{USAGE}");
            return Ok(());
        }
        Invocation::Compare(a, b) => {
            let (a, b) = (report::Report::read(&a)?, report::Report::read(&b)?);
            print!("{}", report::compare(&a, &b));
            return Ok(());
        }
        Invocation::Run(opts) => opts,
    };
    let machine = Machine::describe(root);
    eprintln!("machine: {}", machine.summary());
    if machine.load_average_start[0] >= 1.5 {
        eprintln!(
            "warning: the load average is {:.2}: figures from a loaded machine are not comparable; rerun on a quiet one",
            machine.load_average_start[0]
        );
    }
    let mut sizes = if opts.quick {
        Sizes::quick()
    } else {
        Sizes::full()
    };
    sizes.sandbox_secs = opts.sandbox_secs.unwrap_or(sizes.sandbox_secs);
    sizes.sandbox_persons = opts.sandbox_persons.unwrap_or(sizes.sandbox_persons);
    let work = root.join("target").join("bench-lookup");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let mut bench = Bench {
        bin: PathBuf::new(),
        work,
        scripts: root.join("xtask").join("bench"),
        sizes,
        rows: Vec::new(),
    };
    let result = run_groups(root, &opts, &mut bench);

    let mut report = Report {
        format: report::FORMAT,
        machine,
        quick: opts.quick,
        groups: opts.groups.iter().map(|g| g.name().to_owned()).collect(),
        rows: std::mem::take(&mut bench.rows),
        commands: measure::commands(),
        error: result.as_ref().err().cloned(),
    };
    report.machine.load_average_end = report::load_average();
    println!("\n{}", report.machine.summary());
    if opts.quick {
        println!("--quick: smaller sizes, a smoke run; the figures say nothing about the targets");
    }
    print!("\n{}", report::table(&report.rows));
    if let Some(path) = &opts.json {
        report.write(path)?;
        eprintln!("wrote {}", path.display());
    }
    result?;
    if !report.all_pass() {
        if opts.quick {
            eprintln!("note: some targets were missed in this --quick run (not a failure)");
        } else {
            return Err("a benchmark missed its target".to_owned());
        }
    }
    Ok(())
}

fn run_groups(root: &Path, opts: &Options, bench: &mut Bench) -> Result<(), String> {
    let has = |g: Group| opts.groups.contains(&g);
    if opts.groups.iter().any(|g| *g != Group::Sandbox) {
        measure::ensure_tools()?;
    }
    bench.bin = build_release(root)?;
    if has(Group::Sandbox) {
        sandbox::run(
            bench,
            opts.sandbox_connections.unwrap_or(24),
            bench.sizes.sandbox_persons,
        )?;
    }
    // One sandbox without added latency for these groups, one at 50 ms for the others.
    if has(Group::Throughput) || has(Group::Cold) || has(Group::Memory) || has(Group::Serve) {
        let fx = Fixture::start(
            bench,
            &["--persons", &bench.sizes.b1.max(10_000).to_string()],
        )?;
        if has(Group::Throughput) {
            lookup::throughput(bench, &fx)?;
        }
        if has(Group::Cold) {
            cold::run(bench, &fx)?;
        }
        if has(Group::Memory) {
            lookup::memory(bench, &fx)?;
        }
        if has(Group::Serve) {
            serve::warm(bench, &fx)?;
        }
    }
    if has(Group::Latency) || has(Group::Serve) {
        let fx = Fixture::start(
            bench,
            &[
                "--persons",
                &bench.sizes.latency_persons.to_string(),
                "--latency-ms",
                &latency::LATENCY_MS.to_string(),
            ],
        )?;
        if has(Group::Latency) {
            latency::run(bench, &fx)?;
        }
        if has(Group::Serve) {
            serve::cold(bench, &fx)?;
        }
    }
    Ok(())
}

/// `cargo build --release -p cprlink`, returning the binary's path.
pub(crate) fn build_release(root: &Path) -> Result<PathBuf, String> {
    crate::cargo(&["build", "--release", "-p", "cprlink"])?;
    let bin = root.join("target/release/cprlink");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("{} was not built", bin.display()))
    }
}

/// A `cprlink sandbox` process; stopped with SIGINT when dropped.
pub(crate) struct SandboxProcess {
    child: Child,
    pub dir: PathBuf,
    pub info: serde_json::Value,
}

impl SandboxProcess {
    /// Starts `bin sandbox --dir <fresh dir> <args>` and waits for `sandbox.json`.
    pub(crate) fn start(bin: &Path, args: &[&str]) -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!("cprlink-bench-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut cmd = Command::new(bin);
        cmd.arg("sandbox").arg("--dir").arg(&dir).args(args);
        show_command(&cmd);
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
        let info = fs::read(&json)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("sandbox.json is unreadable")?;
        eprintln!("sandbox ready after {:.1} s", start.elapsed().as_secs_f64());
        Ok(SandboxProcess { child, dir, info })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn url(&self, key: &str) -> String {
        self.info[key].as_str().unwrap_or_default().to_owned()
    }

    /// The CPR numbers of `persons.csv`.
    pub(crate) fn cprs(&self) -> Result<Vec<String>, String> {
        let mut r =
            csv::Reader::from_path(self.dir.join("persons.csv")).map_err(|e| e.to_string())?;
        r.records()
            .map(|rec| rec.map(|r| r[0].to_owned()).map_err(|e| e.to_string()))
            .collect()
    }

    /// A keep-alive HTTP/1.1 client with the sandbox's client certificate.
    pub(crate) fn client(&self, connections: usize) -> Result<reqwest::Client, String> {
        let read = |name: &str| fs::read(self.dir.join(name)).map_err(|e| format!("{name}: {e}"));
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
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A running sandbox with what the lookup groups take from it: its config, the answers
/// of `persons.csv`, and PEM files of its client identity for curl and Python (what
/// those clients take).
pub(crate) struct Fixture {
    pub sb: SandboxProcess,
    /// The sandbox's `cprlink.toml`.
    pub config: PathBuf,
    /// `cpr -> name` from `persons.csv`.
    pub want: HashMap<String, String>,
    /// The known CPR numbers, sorted.
    pub cprs: Vec<String>,
    pub cert_pem: PathBuf,
    /// The client key, 0600 before a byte of it is written.
    pub key_pem: PathBuf,
    pub ca: PathBuf,
    /// `rest_base_url`.
    pub base: String,
}

impl Fixture {
    pub(crate) fn start(bench: &Bench, args: &[&str]) -> Result<Fixture, String> {
        let sb = SandboxProcess::start(&bench.bin, args)?;
        let want = check::names_from_csv(&sb.dir.join("persons.csv"))?;
        let mut cprs: Vec<String> = want.keys().cloned().collect();
        cprs.sort();
        let (cert_pem, key_pem) = (bench.work.join("client.pem"), bench.work.join("client.key"));
        let p12 = sb.dir.join("client.p12");
        let pass = format!("file:{}", sb.dir.join("client.p12.password").display());
        {
            use std::os::unix::fs::OpenOptionsExt;
            // openssl truncates an existing file and keeps its mode.
            let _ = fs::remove_file(&key_pem);
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key_pem)
                .map_err(|e| format!("{}: {e}", key_pem.display()))?;
        }
        for (out, extra) in [
            (&cert_pem, ["-nokeys", "-clcerts"]),
            (&key_pem, ["-nocerts", "-nodes"]),
        ] {
            let st = Command::new("openssl")
                .args(["pkcs12", "-in"])
                .arg(&p12)
                .args(["-passin", &pass])
                .args(extra)
                .arg("-out")
                .arg(out)
                .stderr(Stdio::null())
                .status()
                .map_err(|e| e.to_string())?;
            if !st.success() {
                return Err("openssl could not read the sandbox's client.p12".to_owned());
            }
        }
        Ok(Fixture {
            config: sb.dir.join("cprlink.toml"),
            ca: sb.dir.join("ca.pem"),
            base: sb.url("rest_base_url"),
            want,
            cprs,
            cert_pem,
            key_pem,
            sb,
        })
    }
}

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat`.
pub(crate) fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = fs::read_to_string(path).ok()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<Invocation, String> {
        parse_args(&words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>())
    }

    fn run_opts(words: &[&str]) -> Options {
        match parse(words).unwrap() {
            Invocation::Run(o) => o,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_group_means_all_and_lookup_means_all_but_the_sandbox() {
        assert_eq!(run_opts(&[]).groups, Group::ALL.to_vec());
        assert_eq!(run_opts(&["all"]).groups, Group::ALL.to_vec());
        assert_eq!(run_opts(&["lookup"]).groups, Group::ALL[1..].to_vec());
    }

    #[test]
    fn groups_and_row_ids_select_groups_in_run_order() {
        let o = run_opts(&["latency", "p1", "B4", "cold", "--quick"]);
        assert_eq!(o.groups, vec![Group::Cold, Group::Serve, Group::Latency]);
        assert!(o.quick);
        assert_eq!(o.json, None);
        assert_eq!(run_opts(&["P5"]).groups, vec![Group::Memory]);
        let e = parse(&["nosuch"]).unwrap_err();
        assert!(e.contains("unknown group or row `nosuch`"), "{e}");
    }

    #[test]
    fn flags_take_values_after_a_space_or_an_equals_sign() {
        let o = run_opts(&[
            "--json",
            "a.json",
            "sandbox",
            "--secs=3",
            "--persons",
            "500",
        ]);
        assert_eq!(o.json, Some(PathBuf::from("a.json")));
        assert_eq!(o.groups, vec![Group::Sandbox]);
        assert_eq!((o.sandbox_secs, o.sandbox_persons), (Some(3), Some(500)));
        assert_eq!(
            run_opts(&["--json=b.json"]).json,
            Some(PathBuf::from("b.json"))
        );
        assert!(
            parse(&["--json"])
                .unwrap_err()
                .contains("--json needs a file name")
        );
        assert!(
            parse(&["--secs=x"])
                .unwrap_err()
                .contains("bad value for --secs: x")
        );
        assert!(
            parse(&["--fast"])
                .unwrap_err()
                .contains("unknown flag --fast")
        );
    }

    #[test]
    fn compare_takes_two_files_and_nothing_else() {
        assert_eq!(
            parse(&["--compare", "a.json", "b.json"]).unwrap(),
            Invocation::Compare("a.json".into(), "b.json".into())
        );
        let e = parse(&["--compare", "a.json"]).unwrap_err();
        assert!(e.contains("needs two files"), "{e}");
        let e = parse(&["--compare", "a.json", "b.json", "--quick"]).unwrap_err();
        assert!(e.contains("give it alone"), "{e}");
        assert_eq!(parse(&["--help"]).unwrap(), Invocation::Help);
    }

    #[test]
    fn every_row_id_belongs_to_exactly_one_group() {
        let ids = ["B1", "B2", "B3", "B4", "B5", "P1", "P2", "P3", "P4", "P5"];
        for id in ids {
            let owners: Vec<_> = Group::ALL
                .into_iter()
                .filter(|g| g.ids().contains(&id))
                .collect();
            assert_eq!(owners.len(), 1, "{id}: {owners:?}");
        }
    }
}
