//! The bench as data: the rows every benchmark produces, the final table, the JSON file
//! of `--json FILE` and the comparison of two such files (`--compare A.json B.json`).
//!
//! Owns the row (id, measure, value, unit, target, pass), the description of the machine
//! a run happened on, and the rules that decide a verdict. It runs nothing and measures
//! nothing: the benchmark modules hand it numbers. A row is identified across runs by its
//! id and its measure text, so a measure's text must not hold anything that varies
//! between two runs of the same sizes (put such things in `detail`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

/// Bumped when a field changes meaning; `--compare` refuses other versions.
pub(crate) const FORMAT: u32 = 1;

/// `>=` or `<=`: which side of the target a value must be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Op {
    #[serde(rename = ">=")]
    AtLeast,
    #[serde(rename = "<=")]
    AtMost,
}

/// A target, in the unit of the row's value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Target {
    pub op: Op,
    pub value: f64,
}

impl Target {
    pub(crate) fn at_least(value: f64) -> Target {
        Target {
            op: Op::AtLeast,
            value,
        }
    }

    pub(crate) fn at_most(value: f64) -> Target {
        Target {
            op: Op::AtMost,
            value,
        }
    }

    pub(crate) fn met_by(&self, value: f64) -> bool {
        match self.op {
            Op::AtLeast => value >= self.value,
            Op::AtMost => value <= self.value,
        }
    }
}

/// One figure of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Row {
    /// `B1`..`B5`, `P1`..`P5` of performance.md, `sandbox` for the sandbox's own figures.
    pub id: String,
    /// What was measured, stable between runs of the same sizes.
    pub measure: String,
    pub value: f64,
    pub unit: String,
    /// Context that may vary between runs (the bound a share is of, a sample size).
    #[serde(default)]
    pub detail: Option<String>,
    pub target: Option<Target>,
    /// `None` for figures without a target (the contenders behind a ratio).
    pub pass: Option<bool>,
}

impl Row {
    /// A figure without a target.
    pub(crate) fn figure(id: &str, measure: impl Into<String>, value: f64, unit: &str) -> Row {
        Row {
            id: id.to_owned(),
            measure: measure.into(),
            value,
            unit: unit.to_owned(),
            detail: None,
            target: None,
            pass: None,
        }
    }

    /// A figure judged against `target`.
    pub(crate) fn judged(
        id: &str,
        measure: impl Into<String>,
        value: f64,
        unit: &str,
        target: Target,
    ) -> Row {
        Row {
            pass: Some(target.met_by(value)),
            target: Some(target),
            ..Row::figure(id, measure, value, unit)
        }
    }

    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> Row {
        self.detail = Some(detail.into());
        self
    }

    fn key(&self) -> (String, String) {
        (self.id.clone(), self.measure.clone())
    }
}

/// Where a run happened: enough to tell whether two runs can be compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Machine {
    pub cpu_model: String,
    /// Logical CPUs this process may use.
    pub cores: usize,
    pub memory_mib: u64,
    pub kernel: String,
    /// The 1, 5 and 15 minute load averages when the run started, and when it ended.
    pub load_average_start: [f64; 3],
    pub load_average_end: Option<[f64; 3]>,
    pub git_commit: String,
    /// Uncommitted changes in the worktree when the run started.
    pub git_dirty: bool,
    /// When the run started (RFC 3339, UTC).
    pub date: String,
    pub rustc: String,
}

impl Machine {
    /// Reads the machine's description (Linux: /proc, `git`, `rustc`).
    pub(crate) fn describe(root: &Path) -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == "model name").then(|| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let memory_mib = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or(0, |kib| kib / 1024);
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| format!("Linux {}", s.trim()))
            .unwrap_or_else(|_| "unknown".to_owned());
        let git = |args: &[&str]| output_of(Command::new("git").args(args).current_dir(root));
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
        Machine {
            cpu_model,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_mib,
            kernel,
            load_average_start: load_average().unwrap_or_default(),
            load_average_end: None,
            git_commit: git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_owned()),
            git_dirty: git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty()),
            date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            rustc: output_of(Command::new(rustc).arg("--version"))
                .unwrap_or_else(|| "unknown".to_owned()),
        }
    }

    /// One line for the table's and the comparison's header.
    pub(crate) fn summary(&self) -> String {
        let [l1, l5, l15] = self.load_average_start;
        let commit: String = self.git_commit.chars().take(10).collect();
        format!(
            "{} ({} cores, {} MiB), {}, {}; commit {commit}{}; load {l1:.2} {l5:.2} {l15:.2} at start; {}",
            self.cpu_model,
            self.cores,
            self.memory_mib,
            self.kernel,
            self.rustc,
            if self.git_dirty { " (dirty)" } else { "" },
            self.date
        )
    }
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`).
pub(crate) fn load_average() -> Option<[f64; 3]> {
    let text = fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

fn output_of(cmd: &mut Command) -> Option<String> {
    let o = cmd.output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

/// Everything one run of `cargo xtask bench` found: what `--json FILE` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Report {
    pub format: u32,
    pub machine: Machine,
    /// `--quick`: smaller sizes, a smoke run; its figures say nothing about the targets.
    pub quick: bool,
    /// The groups that ran (`cargo xtask bench GROUP...`).
    pub groups: Vec<String>,
    pub rows: Vec<Row>,
    /// Every command line the run printed, in order.
    pub commands: Vec<String>,
    /// Why the run stopped early, when it did; the rows are those measured until then.
    pub error: Option<String>,
}

impl Report {
    /// Whether every row with a target met it.
    pub(crate) fn all_pass(&self) -> bool {
        self.rows.iter().all(|r| r.pass != Some(false))
    }

    /// Writes the report as pretty JSON, atomically (a reader never sees half a file).
    pub(crate) fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        let name = path
            .file_name()
            .ok_or_else(|| format!("{}: not a file name", path.display()))?;
        let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("cannot write {}: {e}", path.display())
        })
    }

    pub(crate) fn read(path: &Path) -> Result<Report, String> {
        let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let report: Report = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}: not a `cargo xtask bench --json` file: {e}",
                path.display()
            )
        })?;
        if report.format != FORMAT {
            return Err(format!(
                "{}: format {} (this xtask reads format {FORMAT})",
                path.display(),
                report.format
            ));
        }
        Ok(report)
    }
}

/// A value with its unit, for people: few digits where many would be noise.
pub(crate) fn fmt_value(value: f64, unit: &str) -> String {
    let digits = match value.abs() {
        v if v >= 100.0 => 0,
        v if v >= 10.0 => 1,
        v if v >= 1.0 || v == 0.0 => 2,
        _ => 3,
    };
    match unit {
        "%" => format!("{value:.1}%"),
        "x" => format!("{value:.prec$}x", prec = usize::from(value.abs() < 10.0)),
        "" => format!("{value:.digits$}"),
        _ => format!("{value:.digits$} {unit}"),
    }
}

fn fmt_target(t: &Target, unit: &str) -> String {
    let op = match t.op {
        Op::AtLeast => ">=",
        Op::AtMost => "<=",
    };
    format!("{op} {}", fmt_value(t.value, unit))
}

fn verdict(pass: Option<bool>) -> &'static str {
    match pass {
        Some(true) => "pass",
        Some(false) => "FAIL",
        None => "",
    }
}

/// The final table (Markdown): every row, its target and its verdict.
pub(crate) fn table(rows: &[Row]) -> String {
    let mut out = String::from("| id | measurement | result | target | verdict |\n");
    out.push_str("|---|---|---|---|---|\n");
    for r in rows {
        let mut result = fmt_value(r.value, &r.unit);
        if let Some(d) = &r.detail {
            let _ = write!(result, " ({d})");
        }
        let target = r
            .target
            .as_ref()
            .map(|t| fmt_target(t, &r.unit))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {result} | {target} | {} |",
            r.id,
            r.measure,
            verdict(r.pass)
        );
    }
    out
}

/// The change from run `a` to run `b`, row by row, for people; rows found in only one
/// of the two are listed apart. Rows are matched by id and measure (and, should a
/// report hold the same pair twice, by their order).
pub(crate) fn compare(a: &Report, b: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "A: {}", a.machine.summary());
    let _ = writeln!(out, "B: {}", b.machine.summary());
    if a.quick != b.quick {
        let which = if a.quick { "A" } else { "B" };
        let _ = writeln!(
            out,
            "warning: {which} is a --quick run: most rows differ in size and appear in one run only"
        );
    }
    if a.machine.cpu_model != b.machine.cpu_model || a.machine.cores != b.machine.cores {
        let _ = writeln!(
            out,
            "warning: the runs are from different machines: compare ratios, not absolute figures"
        );
    }
    for (name, r) in [("A", a), ("B", b)] {
        if let Some(e) = &r.error {
            let _ = writeln!(out, "warning: run {name} stopped early: {e}");
        }
    }
    let keyed = |rows: &[Row]| {
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        rows.iter()
            .map(|r| {
                let n = seen.entry(r.key()).or_default();
                *n += 1;
                ((r.key(), *n), r.clone())
            })
            .collect::<Vec<_>>()
    };
    let (ka, kb) = (keyed(&a.rows), keyed(&b.rows));
    let in_b: HashMap<_, _> = kb.iter().cloned().collect();
    let in_a: HashMap<_, _> = ka.iter().cloned().collect();

    if ka.iter().all(|(key, _)| !in_b.contains_key(key)) {
        out.push_str("\nno rows in common\n");
    } else {
        out.push_str("\n| id | measurement | A | B | change | target | A | B |\n");
        out.push_str("|---|---|---|---|---|---|---|---|\n");
    }
    let mut only_a = Vec::new();
    for (key, ra) in &ka {
        let Some(rb) = in_b.get(key) else {
            only_a.push(ra);
            continue;
        };
        let change = if ra.unit != rb.unit {
            format!("units differ ({} / {})", ra.unit, rb.unit)
        } else if ra.value == 0.0 {
            "n/a".to_owned()
        } else {
            format!("{:+.1}%", 100.0 * (rb.value - ra.value) / ra.value.abs())
        };
        let target = rb
            .target
            .or(ra.target)
            .map(|t| fmt_target(&t, &rb.unit))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {change} | {target} | {} | {} |",
            ra.id,
            ra.measure,
            fmt_value(ra.value, &ra.unit),
            fmt_value(rb.value, &rb.unit),
            verdict(ra.pass),
            verdict(rb.pass)
        );
    }
    let only_b: Vec<&Row> = kb
        .iter()
        .filter(|(key, _)| !in_a.contains_key(key))
        .map(|(_, r)| r)
        .collect();
    for (name, rows) in [("A", only_a), ("B", only_b)] {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\nonly in {name}:");
        for r in rows {
            let _ = writeln!(
                out,
                "  {} | {} | {}",
                r.id,
                r.measure,
                fmt_value(r.value, &r.unit)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(cpu: &str) -> Machine {
        Machine {
            cpu_model: cpu.to_owned(),
            cores: 2,
            memory_mib: 7936,
            kernel: "Linux 6.1.0".to_owned(),
            load_average_start: [0.31, 0.52, 0.60],
            load_average_end: Some([1.9, 0.9, 0.7]),
            git_commit: "86f5e64a8d0d2e0cf1a1b0e4c1f9a1b2c3d4e5f6".to_owned(),
            git_dirty: false,
            date: "2026-05-01T10:00:00Z".to_owned(),
            rustc: "rustc 1.89.0".to_owned(),
        }
    }

    fn report(rows: Vec<Row>) -> Report {
        Report {
            format: FORMAT,
            machine: machine("Test CPU @ 3.0GHz"),
            quick: false,
            groups: vec!["lookup".to_owned()],
            rows,
            commands: vec!["$ cprlink lookup --input b1.txt".to_owned()],
            error: None,
        }
    }

    #[test]
    fn targets_decide_the_verdict() {
        let r = Row::judged("B2", "share", 93.7, "%", Target::at_least(90.0));
        assert_eq!(r.pass, Some(true));
        let r = Row::judged("P3", "share", 93.7, "%", Target::at_least(95.0));
        assert_eq!(r.pass, Some(false));
        let r = Row::judged("B3", "rss", 64.0, "MiB", Target::at_most(64.0));
        assert_eq!(
            r.pass,
            Some(true),
            "the bound itself meets an at-most target"
        );
        let r = Row::judged("P1", "ratio", 2.01, "x", Target::at_most(2.0));
        assert_eq!(r.pass, Some(false));
        assert_eq!(Row::figure("B1", "rate", 1.0, "lookups/s").pass, None);
        assert!(!report(vec![r]).all_pass());
        assert!(report(vec![Row::figure("B1", "rate", 1.0, "lookups/s")]).all_pass());
    }

    #[test]
    fn json_has_the_documented_fields_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        let rep = report(vec![
            Row::figure("B1", "cprlink lookup --input (REST)", 20102.4, "lookups/s"),
            Row::judged(
                "P1",
                "cprlink CPU / curl CPU",
                1.7,
                "x",
                Target::at_most(2.0),
            )
            .with_detail("median of 15"),
        ]);
        rep.write(&path).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let row = &v["rows"][1];
        assert_eq!(row["id"], "P1");
        assert_eq!(row["measure"], "cprlink CPU / curl CPU");
        assert_eq!(row["value"], 1.7);
        assert_eq!(row["unit"], "x");
        assert_eq!(row["target"]["op"], "<=");
        assert_eq!(row["target"]["value"], 2.0);
        assert_eq!(row["pass"], true);
        assert_eq!(v["rows"][0]["target"], serde_json::Value::Null);
        assert_eq!(v["rows"][0]["pass"], serde_json::Value::Null);
        for key in [
            "cpu_model",
            "cores",
            "memory_mib",
            "kernel",
            "load_average_start",
            "git_commit",
            "date",
            "rustc",
        ] {
            assert!(!v["machine"][key].is_null(), "machine.{key} is missing");
        }
        assert_eq!(v["format"], FORMAT);
        assert_eq!(Report::read(&path).unwrap(), rep);
        // Written through a temporary file that does not stay behind.
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn reading_names_the_file_and_refuses_other_formats() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.json");
        fs::write(&bad, "{\"rows\": 3}").unwrap();
        let e = Report::read(&bad).unwrap_err();
        assert!(e.contains("bad.json") && e.contains("not a `cargo xtask bench --json` file"));
        let newer = dir.path().join("newer.json");
        let mut rep = report(vec![]);
        rep.format = FORMAT + 1;
        rep.write(&newer).unwrap();
        let e = Report::read(&newer).unwrap_err();
        assert!(e.contains("newer.json") && e.contains("format 2"), "{e}");
        assert!(Report::read(&dir.path().join("absent.json")).is_err());
    }

    #[test]
    fn compare_shows_changes_flips_and_rows_of_one_run() {
        let a = report(vec![
            Row::figure("B1", "cprlink lookup --input (REST)", 20000.0, "lookups/s"),
            Row::judged(
                "B2",
                "share of the bound",
                93.0,
                "%",
                Target::at_least(90.0),
            ),
            Row::judged(
                "P1",
                "cprlink CPU / curl CPU",
                3.4,
                "x",
                Target::at_most(2.0),
            ),
            Row::figure("B4", "only measured in A", 1.0, "req/s"),
        ]);
        let mut b = report(vec![
            Row::figure("B1", "cprlink lookup --input (REST)", 21000.0, "lookups/s"),
            Row::judged(
                "B2",
                "share of the bound",
                88.0,
                "%",
                Target::at_least(90.0),
            ),
            Row::judged(
                "P1",
                "cprlink CPU / curl CPU",
                1.7,
                "x",
                Target::at_most(2.0),
            ),
            Row::figure("P5", "only measured in B", 17.5, "MiB"),
        ]);
        b.machine.git_commit = "0123456789abcdef".to_owned();
        let text = compare(&a, &b);
        assert!(text.contains("commit 86f5e64a8d"), "{text}");
        assert!(text.contains("commit 0123456789"), "{text}");
        assert!(
            text.contains(
                "| B1 | cprlink lookup --input (REST) | 20000 lookups/s | 21000 lookups/s | +5.0% |  |  |  |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "| B2 | share of the bound | 93.0% | 88.0% | -5.4% | >= 90.0% | pass | FAIL |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "| P1 | cprlink CPU / curl CPU | 3.4x | 1.7x | -50.0% | <= 2.0x | FAIL | pass |"
            ),
            "{text}"
        );
        let only_a = text.split("only in A:").nth(1).unwrap();
        let only_a = only_a.split("only in B:").next().unwrap();
        assert!(only_a.contains("B4 | only measured in A"), "{text}");
        assert!(!only_a.contains("P5"), "{text}");
        let only_b = text.split("only in B:").nth(1).unwrap();
        assert!(
            only_b.contains("P5 | only measured in B | 17.5 MiB"),
            "{text}"
        );
        assert!(!text.contains("warning"), "{text}");
    }

    #[test]
    fn compare_warns_about_quick_runs_other_machines_and_early_stops() {
        let a = report(vec![Row::figure("B1", "x", 0.0, "lookups/s")]);
        let mut b = a.clone();
        b.quick = true;
        b.machine = machine("Other CPU");
        b.error = Some("B3: 9 records for 10 input lines".to_owned());
        b.rows[0].value = 5.0;
        let text = compare(&a, &b);
        assert!(text.contains("warning: B is a --quick run"), "{text}");
        assert!(text.contains("different machines"), "{text}");
        assert!(
            text.contains("run B stopped early: B3: 9 records"),
            "{text}"
        );
        // No percentage from zero.
        assert!(text.contains("| n/a |"), "{text}");
        b.rows[0].id = "B2".to_owned();
        let text = compare(&a, &b);
        assert!(
            text.contains("no rows in common") && !text.contains("| id |"),
            "{text}"
        );
    }

    #[test]
    fn rows_repeated_in_a_report_are_matched_in_order() {
        let a = report(vec![
            Row::figure("X", "same", 1.0, "s"),
            Row::figure("X", "same", 2.0, "s"),
        ]);
        let b = report(vec![Row::figure("X", "same", 4.0, "s")]);
        let text = compare(&a, &b);
        assert!(
            text.contains("| X | same | 1.00 s | 4.00 s | +300.0% |"),
            "{text}"
        );
        assert!(text.contains("only in A:\n  X | same | 2.00 s"), "{text}");
    }

    #[test]
    fn table_has_every_row_with_target_and_verdict() {
        let rows = vec![
            Row::figure("B1", "curl loop", 23.26, "lookups/s").with_detail("sample of 200"),
            Row::judged(
                "B3",
                "max RSS, 1000000 input lines",
                17.7,
                "MiB",
                Target::at_most(64.0),
            ),
            Row::judged(
                "B5",
                "cprlink CPU / Python CPU",
                0.0178,
                "",
                Target::at_most(0.2),
            ),
            Row::judged(
                "P3",
                "share of the bound",
                94.0,
                "%",
                Target::at_least(95.0),
            ),
        ];
        let t = table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2 + rows.len());
        assert_eq!(
            lines[2],
            "| B1 | curl loop | 23.3 lookups/s (sample of 200) |  |  |"
        );
        assert_eq!(
            lines[3],
            "| B3 | max RSS, 1000000 input lines | 17.7 MiB | <= 64.0 MiB | pass |"
        );
        assert_eq!(
            lines[4],
            "| B5 | cprlink CPU / Python CPU | 0.018 | <= 0.200 | pass |"
        );
        assert_eq!(
            lines[5],
            "| P3 | share of the bound | 94.0% | >= 95.0% | FAIL |"
        );
    }

    #[test]
    fn values_keep_a_readable_number_of_digits() {
        assert_eq!(fmt_value(20102.4, "lookups/s"), "20102 lookups/s");
        assert_eq!(fmt_value(23.26, "lookups/s"), "23.3 lookups/s");
        assert_eq!(fmt_value(0.59, "s"), "0.590 s");
        assert_eq!(fmt_value(1.5, "s"), "1.50 s");
        assert_eq!(fmt_value(862.0, "x"), "862x");
        assert_eq!(fmt_value(3.44, "x"), "3.4x");
        assert_eq!(fmt_value(50.0, "x"), "50x");
        assert_eq!(fmt_value(93.66, "%"), "93.7%");
        assert_eq!(fmt_value(0.0, "MiB"), "0.00 MiB");
    }
}
