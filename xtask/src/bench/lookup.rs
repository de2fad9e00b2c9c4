//! `cargo xtask bench throughput` (B1, B5) and `memory` (B3, P5): `cprlink lookup
//! --input` against the sandbox without added latency.
//!
//! B1/B5: the same input through `cprlink lookup`, the Python peer (`requests.Session`,
//! one CPR per request) and a `curl` loop (one process and handshake per CPR; a sample,
//! said in the row). B3/P5: the max RSS of long runs streamed to a file, over REST and
//! over GraphQL, at two sizes to show it stays flat. Every contender's names are checked
//! against `persons.csv`.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use super::measure::{Measured, measure, show, write_lines};
use super::report::{Row, Target};
use super::{Bench, Fixture, check};

const REST_PATH: &str = "/CPR/CprPersonSmallSimple/1/REST/PersonSmallCurrentListSimple";

/// B1 and B5.
pub(crate) fn throughput(bench: &mut Bench, fx: &Fixture) -> Result<(), String> {
    let n = bench.sizes.b1;
    let work = &bench.work;
    let cprs: Vec<String> = fx.cprs.iter().take(n).cloned().collect();
    let input = work.join("b1.txt");
    write_lines(&input, cprs.iter().cloned())?;

    eprintln!("\nB1/B5: {n} CPR numbers over REST, no added latency");
    let out_cprlink = work.join("b1-cprlink.csv");
    let m_cprlink = measure(
        Command::new(&bench.bin)
            .arg("--config")
            .arg(&fx.config)
            .args([
                "lookup", "--api", "rest", "--format", "csv", "--force", "--input",
            ])
            .arg(&input)
            .arg("--output")
            .arg(&out_cprlink),
        work,
    )?;
    check::names(
        "cprlink lookup",
        &cprs,
        &check::names_from_csv(&out_cprlink)?,
        &fx.want,
    )?;

    let out_py = work.join("b1-python.csv");
    let m_py = measure(
        Command::new("python3")
            .arg(bench.scripts.join("peer.py"))
            .args(["lookup", "--base", &fx.base, "--path", REST_PATH])
            .arg("--cert")
            .arg(&fx.cert_pem)
            .arg("--key")
            .arg(&fx.key_pem)
            .arg("--ca")
            .arg(&fx.ca)
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&out_py),
        work,
    )?;
    check::names(
        "python requests.Session",
        &cprs,
        &check::names_from_csv(&out_py)?,
        &fx.want,
    )?;

    let n_curl = bench.sizes.curl.min(n);
    let sample: Vec<String> = cprs
        .iter()
        .step_by(n / n_curl)
        .take(n_curl)
        .cloned()
        .collect();
    let curl_dir = work.join("curl");
    fs::create_dir_all(&curl_dir).map_err(|e| e.to_string())?;
    let base = &fx.base;
    let script = format!(
        "for c in {}; do curl -s --fail --cert {} --key {} --cacert {} -o {}/$c.json \"{base}{REST_PATH}?pnr.personnummer.eq=$c&format=json\" || exit 1; done",
        sample.join(" "),
        fx.cert_pem.display(),
        fx.key_pem.display(),
        fx.ca.display(),
        curl_dir.display()
    );
    show(format!(
        "sh -c 'for c in <{n_curl} CPR numbers>; do curl -s --fail --cert client.pem --key client.key --cacert ca.pem -o curl/$c.json \"{base}{REST_PATH}?pnr.personnummer.eq=$c&format=json\"; done'"
    ));
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
    parse_rest_answers(bench, &out_curl, &files)?;
    check::names(
        "curl loop",
        &sample,
        &check::names_from_csv(&out_curl)?,
        &fx.want,
    )?;

    let rate = |n: usize, secs: f64| n as f64 / secs;
    let r_cprlink = rate(n, m_cprlink.wall);
    let r_py = rate(n, m_py.wall);
    let r_curl = rate(n_curl, curl_wall);
    let rows = &mut bench.rows;
    rows.push(Row::figure(
        "B1",
        "cprlink lookup --input (REST)",
        r_cprlink,
        "lookups/s",
    ));
    rows.push(
        Row::figure(
            "B1",
            "curl loop (1 process+handshake each)",
            r_curl,
            "lookups/s",
        )
        .with_detail(format!("sample of {n_curl}")),
    );
    rows.push(Row::figure(
        "B1",
        "Python requests.Session, sequential",
        r_py,
        "lookups/s",
    ));
    rows.push(Row::judged(
        "B1",
        "cprlink / curl loop",
        r_cprlink / r_curl,
        "x",
        Target::at_least(50.0),
    ));
    rows.push(Row::judged(
        "B1",
        "cprlink / Python",
        r_cprlink / r_py,
        "x",
        Target::at_least(10.0),
    ));
    let per10k = |m: &Measured| m.cpu * 10_000.0 / n as f64;
    rows.push(Row::figure(
        "B5",
        "CPU per 10,000 lookups: cprlink",
        per10k(&m_cprlink),
        "s",
    ));
    rows.push(Row::figure(
        "B5",
        "CPU per 10,000 lookups: Python",
        per10k(&m_py),
        "s",
    ));
    let cpu_ratio = m_cprlink.cpu / m_py.cpu;
    rows.push(
        Row::judged(
            "B5",
            "cprlink CPU / Python CPU",
            cpu_ratio,
            "",
            Target::at_most(0.2),
        )
        .with_detail(format!("1/{:.0}", 1.0 / cpu_ratio)),
    );
    Ok(())
}

/// `peer.py parse`: `cpr,name` from saved REST answers (the curl contenders').
pub(crate) fn parse_rest_answers(
    bench: &Bench,
    out: &std::path::Path,
    files: &[PathBuf],
) -> Result<(), String> {
    let st = Command::new("python3")
        .arg(bench.scripts.join("peer.py"))
        .args(["parse", "--output"])
        .arg(out)
        .args(files)
        .status()
        .map_err(|e| e.to_string())?;
    if st.success() {
        Ok(())
    } else {
        Err("cannot read curl's answers".to_owned())
    }
}

/// B3 (REST) and P5 (GraphQL): peak memory of streamed runs at two sizes.
pub(crate) fn memory(bench: &mut Bench, fx: &Fixture) -> Result<(), String> {
    for (id, api, sizes) in [
        ("B3", "rest", bench.sizes.b3),
        ("P5", "graphql", bench.sizes.p5),
    ] {
        eprintln!("\n{id}: peak memory for a streamed bulk run over {api}");
        let mut rss = Vec::new();
        for n in sizes {
            let big = bench.work.join(format!("{id}-{n}.txt"));
            let asked = |i: usize| fx.cprs[i % fx.cprs.len()].clone();
            write_lines(&big, (0..n).map(asked))?;
            let out = bench.work.join(format!("{id}-{n}.jsonl"));
            let m = measure(
                Command::new(&bench.bin)
                    .arg("--config")
                    .arg(&fx.config)
                    .args(["lookup", "--api", api, "--force", "--input"])
                    .arg(&big)
                    .arg("--output")
                    .arg(&out),
                &bench.work,
            )?;
            check::jsonl_output(
                &format!("cprlink lookup --api {api}"),
                &out,
                n,
                asked,
                &fx.want,
            )?;
            eprintln!("  {n} lines at {:.0} lookups/s", n as f64 / m.wall);
            let _ = fs::remove_file(&big);
            let _ = fs::remove_file(&out);
            rss.push((n, m.max_rss_kib as f64 / 1024.0));
        }
        let label = if api == "rest" { "" } else { ", GraphQL" };
        for (n, mib) in &rss {
            bench.rows.push(Row::judged(
                id,
                format!("max RSS{label}, {n} input lines"),
                *mib,
                "MiB",
                Target::at_most(64.0),
            ));
        }
        if id == "P5"
            && let [(n0, small), (n1, large)] = rss[..]
        {
            // "Flat" has no number in performance.md: the growth is shown, the 64 MiB
            // at the larger size is what is judged.
            bench.rows.push(Row::figure(
                id,
                format!("max RSS growth, GraphQL, {n0} to {n1} lines"),
                large - small,
                "MiB",
            ));
        }
    }
    Ok(())
}
