//! `cargo xtask bench cold` (P1): the CPU one cold `cprlink lookup CPR` costs, against
//! `curl` doing the same REST request with the client certificate.
//!
//! Both are fresh processes asking the sandbox (no added latency) for one number over
//! REST; cprlink reads its `.p12` and config as a user's run would, curl takes the PEM
//! files. The runs alternate (cprlink, curl, cprlink, ...) so a change in the machine's
//! load falls on both; one unmeasured run of each comes first so both start from a warm
//! page cache. Each run asks another number, and every answer is checked. The CPU is
//! user + system time from the child's rusage, to the millisecond (bash's `time`); the
//! median of the runs counts.

use std::process::Command;

use super::lookup::parse_rest_answers;
use super::measure::{command_line, cpu_of, median, show};
use super::report::{Row, Target};
use super::{Bench, Fixture, check};

const REST_PATH: &str = "/CPR/CprPersonSmallSimple/1/REST/PersonSmallCurrentListSimple";

pub(crate) fn run(bench: &mut Bench, fx: &Fixture) -> Result<(), String> {
    let runs = bench.sizes.p1_runs;
    eprintln!("\nP1: CPU of one cold lookup, cprlink against curl, median of {runs} runs each");
    let dir = bench.work.join("p1");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    // Numbers from the end of the sorted list: B1 asks the first ones.
    let numbers: Vec<String> = fx.cprs.iter().rev().take(runs + 1).cloned().collect();
    let cprlink = |cpr: &str| {
        let mut c = Command::new(&bench.bin);
        c.arg("--config")
            .arg(&fx.config)
            .args(["lookup", "--api", "rest", "--format", "jsonl", cpr]);
        c
    };
    let curl = |cpr: &str| {
        let mut c = Command::new("curl");
        c.args(["-s", "--fail", "--cert"])
            .arg(&fx.cert_pem)
            .arg("--key")
            .arg(&fx.key_pem)
            .arg("--cacert")
            .arg(&fx.ca)
            .arg(format!(
                "{}{REST_PATH}?pnr.personnummer.eq={cpr}&format=json",
                fx.base
            ));
        c
    };
    // Shown with double quotes, so that a shell expands $CPR.
    let line = |c: &Command| command_line(c).replace('\'', "\"");
    show(format!(
        "{} > p1/$CPR.jsonl   (timed with bash's time; CPR: another number of persons.csv each run)",
        line(&cprlink("$CPR"))
    ));
    show(format!("{} > p1/$CPR.json", line(&curl("$CPR"))));
    let (mut cpu_cprlink, mut cpu_curl) = (Vec::new(), Vec::new());
    let (mut wall_cprlink, mut wall_curl) = (Vec::new(), Vec::new());
    let mut curl_files = Vec::new();
    for (k, cpr) in numbers.iter().enumerate() {
        let ours = dir.join(format!("{cpr}.jsonl"));
        let theirs = dir.join(format!("{cpr}.json"));
        let (w1, c1) = cpu_of(&cprlink(cpr), &ours, &bench.work)?;
        let (w2, c2) = cpu_of(&curl(cpr), &theirs, &bench.work)?;
        let text = std::fs::read_to_string(&ours).map_err(|e| e.to_string())?;
        let name = fx.want.get(cpr).map(String::as_str).unwrap_or_default();
        if !text.starts_with(&check::record_prefix(cpr, name)) {
            return Err(format!(
                "P1: cprlink lookup answered something else than persons.csv: {text}"
            ));
        }
        // The first run of each warms the page cache and is not counted.
        if k > 0 {
            cpu_cprlink.push(c1);
            cpu_curl.push(c2);
            wall_cprlink.push(w1);
            wall_curl.push(w2);
            curl_files.push(theirs);
        }
    }
    let asked: Vec<String> = numbers[1..].to_vec();
    let out_curl = dir.join("curl.csv");
    parse_rest_answers(bench, &out_curl, &curl_files)?;
    check::names("curl", &asked, &check::names_from_csv(&out_curl)?, &fx.want)?;
    eprintln!("  checked: cprlink lookup answered the expected name in all {runs} runs");

    let ms = |s: f64| 1000.0 * s;
    let (ours, theirs) = (median(&cpu_cprlink), median(&cpu_curl));
    let fmt_range = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(0.0, f64::max);
        format!("{:.0}-{:.0} ms", ms(lo), ms(hi))
    };
    bench.rows.push(
        Row::figure(
            "P1",
            format!("CPU of a cold `cprlink lookup CPR` (REST), median of {runs}"),
            ms(ours),
            "ms",
        )
        .with_detail(format!(
            "range {}, wall {:.0} ms",
            fmt_range(&cpu_cprlink),
            ms(median(&wall_cprlink))
        )),
    );
    bench.rows.push(
        Row::figure(
            "P1",
            format!("CPU of `curl` doing the same request, median of {runs}"),
            ms(theirs),
            "ms",
        )
        .with_detail(format!(
            "range {}, wall {:.0} ms",
            fmt_range(&cpu_curl),
            ms(median(&wall_curl))
        )),
    );
    bench.rows.push(Row::judged(
        "P1",
        "cprlink CPU / curl CPU",
        ours / theirs,
        "x",
        Target::at_most(2.0),
    ));
    Ok(())
}
