//! `cargo xtask bench latency` (B2, P3, P4): `cprlink lookup` with the sandbox at
//! `--latency-ms 50`, against the Little's-law bound and with unknown numbers.
//!
//! With `-j J --batch-size B` and every answer taking L, no client can do better than
//! J x B / L lookups per second: B2 (10,000 lines) and P3 (40,000) are shares of that
//! bound, so what they show is the time lost outside the round trips (start-up, the
//! first handshakes, the tail of the run). P4 asks B2's input with every tenth line
//! replaced by a valid number the sandbox does not know (taken from the sandbox's own
//! population, so it is known to be absent), checks that each is answered `not_found`,
//! and compares its throughput with B2's run. Extra requests that confirm a missing
//! number before `not_found` are part of what P4 measures, however the client makes
//! them.

use std::collections::HashSet;
use std::process::Command;

use cprlink_sandbox::Population;

use super::measure::{Measured, measure, write_lines};
use super::report::{Row, Target};
use super::{Bench, Fixture, check};

pub(crate) const LATENCY_MS: u64 = 50;
const CONCURRENCY: u32 = 8;
const BATCH: u32 = 20;

pub(crate) fn run(bench: &mut Bench, fx: &Fixture) -> Result<(), String> {
    let bound = f64::from(CONCURRENCY * BATCH) / (LATENCY_MS as f64 / 1000.0);
    let (n2, n3) = (bench.sizes.b2, bench.sizes.p3);
    if fx.cprs.len() < n3 {
        return Err(format!(
            "the latency sandbox knows {} numbers, P3 asks {n3} distinct ones",
            fx.cprs.len()
        ));
    }

    eprintln!("\nB2: {n2} lookups with --latency-ms {LATENCY_MS}");
    let known: Vec<String> = fx.cprs[..n2].to_vec();
    let m2 = lookup(bench, fx, "b2", &known)?;
    check::names(
        "cprlink lookup (latency)",
        &known,
        &check::names_from_csv(&bench.work.join("b2.csv"))?,
        &fx.want,
    )?;
    let r2 = n2 as f64 / m2.wall;
    let what = format!("-j {CONCURRENCY} --batch-size {BATCH}, {LATENCY_MS} ms latency");
    bench.rows.push(Row::figure(
        "B2",
        format!("cprlink lookup, {n2} lines, {what}"),
        r2,
        "lookups/s",
    ));
    bench.rows.push(
        Row::judged(
            "B2",
            "share of the Little's-law bound (j x batch / latency)",
            100.0 * r2 / bound,
            "%",
            Target::at_least(90.0),
        )
        .with_detail(format!("of {bound:.0}/s")),
    );

    eprintln!("\nP4: {n2} lookups of which 10% unknown, with --latency-ms {LATENCY_MS}");
    let unknown = unknown_numbers(fx, n2 / 10)?;
    let mixed: Vec<String> = (0..n2)
        .map(|i| {
            if i % 10 == 9 {
                unknown[i / 10].clone()
            } else {
                known[i].clone()
            }
        })
        .collect();
    let m4 = lookup(bench, fx, "p4", &mixed)?;
    if m4.code != Some(0) {
        return Err(format!(
            "P4: cprlink lookup exited {:?}; not_found rows must leave it 0",
            m4.code
        ));
    }
    let known4: Vec<String> = mixed
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 10 != 9)
        .map(|(_, c)| c.clone())
        .collect();
    check::found_and_not_found(
        "cprlink lookup (10% unknown)",
        &check::answers_from_csv(&bench.work.join("p4.csv"))?,
        &known4,
        &unknown,
        &fx.want,
    )?;
    let r4 = n2 as f64 / m4.wall;
    bench.rows.push(Row::figure(
        "P4",
        format!("cprlink lookup, {n2} lines, 10% unknown, {what}"),
        r4,
        "lookups/s",
    ));
    bench.rows.push(
        Row::judged(
            "P4",
            "10% unknown against all known (B2's run)",
            100.0 * r4 / r2,
            "%",
            Target::at_least(70.0),
        )
        .with_detail(format!("of {r2:.0}/s")),
    );

    eprintln!("\nP3: {n3} lookups with --latency-ms {LATENCY_MS}");
    let asked: Vec<String> = fx.cprs[..n3].to_vec();
    let m3 = lookup(bench, fx, "p3", &asked)?;
    check::names(
        "cprlink lookup (latency, P3)",
        &asked,
        &check::names_from_csv(&bench.work.join("p3.csv"))?,
        &fx.want,
    )?;
    let r3 = n3 as f64 / m3.wall;
    bench.rows.push(Row::figure(
        "P3",
        format!("cprlink lookup, {n3} lines, {what}"),
        r3,
        "lookups/s",
    ));
    bench.rows.push(
        Row::judged(
            "P3",
            "share of the Little's-law bound (j x batch / latency)",
            100.0 * r3 / bound,
            "%",
            Target::at_least(95.0),
        )
        .with_detail(format!("of {bound:.0}/s")),
    );
    Ok(())
}

/// `cprlink lookup -j J --batch-size B` of `lines`, CSV into `<name>.csv`.
fn lookup(bench: &Bench, fx: &Fixture, name: &str, lines: &[String]) -> Result<Measured, String> {
    let input = bench.work.join(format!("{name}.txt"));
    write_lines(&input, lines.iter().cloned())?;
    measure(
        Command::new(&bench.bin)
            .arg("--config")
            .arg(&fx.config)
            .args([
                "lookup",
                "-j",
                &CONCURRENCY.to_string(),
                "--batch-size",
                &BATCH.to_string(),
                "--format",
                "csv",
                "--force",
                "--input",
            ])
            .arg(&input)
            .arg("--output")
            .arg(bench.work.join(format!("{name}.csv"))),
        &bench.work,
    )
}

/// `n` valid CPR numbers the running sandbox does not know: its population (the same
/// size and seed) says which numbers it will never hold, current or historic.
fn unknown_numbers(fx: &Fixture, n: usize) -> Result<Vec<String>, String> {
    let persons = fx.sb.info["persons"]
        .as_u64()
        .and_then(|p| u32::try_from(p).ok())
        .ok_or("sandbox.json has no persons")?;
    let seed = fx.sb.info["seed"]
        .as_u64()
        .ok_or("sandbox.json has no seed")?;
    let pop = Population::new(persons, seed);
    let known: HashSet<&str> = fx.cprs.iter().map(String::as_str).collect();
    let out: Vec<String> = (0..n as u64).map(|k| pop.unknown_cpr(k)).collect();
    if let Some(c) = out.iter().find(|c| known.contains(c.as_str())) {
        return Err(format!(
            "the sandbox's unknown number {}-xxxx is in persons.csv",
            &c[..6]
        ));
    }
    Ok(out)
}
