//! `cargo xtask bench sandbox`: how many CPR numbers per second the sandbox answers.
//!
//! Starts `target/release/cprlink sandbox --persons 100000` and drives it with a
//! keep-alive load generator on the same machine: `--connections` requests in flight
//! (default 24), each a REST `wi` batch of 20 known numbers from `persons.csv`, for
//! `--secs` seconds (default 5) after a 1-second warm-up. Every answer is checked (HTTP
//! 200 and a whole `Personer` document; every 16th also for its 20 persons). Prints CPR
//! numbers and requests per second and adds them to the rows (id `sandbox`); the target
//! is at least 20,000 CPR/s on 2 cores.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::report::{Row, Target};
use super::{Bench, SandboxProcess, cpu_time};

const BATCH: usize = 20;
const TARGET_CPR_PER_SEC: f64 = 20_000.0;

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    cprs: AtomicU64,
    errors: AtomicU64,
}

pub(crate) fn run(bench: &mut Bench, connections: usize, persons: u32) -> Result<(), String> {
    let secs = bench.sizes.sandbox_secs;
    eprintln!("\nsandbox: its own throughput");
    let sandbox = SandboxProcess::start(&bench.bin, &["--persons", &persons.to_string()])?;
    let cprs = sandbox.cprs()?;
    if cprs.len() < BATCH {
        return Err("persons.csv holds too few numbers".into());
    }
    let client = sandbox.client(connections)?;
    let url = format!(
        "{}/CPR/CprPersonSmallSimple/1/REST/PersonSmallCurrentListSimple",
        sandbox.url("rest_base_url")
    );
    let batches: Arc<Vec<String>> = Arc::new(
        cprs.chunks_exact(BATCH)
            .map(|c| {
                format!(
                    "{url}?pnr.personnummer.wi={}&pageSize={BATCH}&format=json",
                    c.join("%7C")
                )
            })
            .collect(),
    );
    eprintln!(
        "load: {connections} connections in flight, wi batches of {BATCH}, {secs} s after a 1 s warm-up"
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let server_pid = Some(sandbox.pid());
    let (counters, elapsed, server_cpu, own_cpu) = rt.block_on(async {
        let counters = Arc::new(Counters::default());
        let measuring = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for worker in 0..connections {
            let (client, batches, counters, measuring, stop) = (
                client.clone(),
                batches.clone(),
                counters.clone(),
                measuring.clone(),
                stop.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut k = worker * 7919;
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let u = &batches[k % batches.len()];
                    k += connections;
                    n += 1;
                    let ok = match client.get(u).send().await {
                        Ok(r) if r.status() == 200 => match r.bytes().await {
                            Ok(body) => checked(&body, n),
                            Err(_) => false,
                        },
                        _ => false,
                    };
                    if measuring.load(Ordering::Relaxed) {
                        counters.requests.fetch_add(1, Ordering::Relaxed);
                        if ok {
                            counters.cprs.fetch_add(BATCH as u64, Ordering::Relaxed);
                        } else {
                            counters.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let cpu0 = (cpu_time(server_pid), cpu_time(None));
        measuring.store(true, Ordering::Relaxed);
        let t = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        measuring.store(false, Ordering::Relaxed);
        let elapsed = t.elapsed();
        let cpu1 = (cpu_time(server_pid), cpu_time(None));
        let diff =
            |a: Option<Duration>, b: Option<Duration>| b.zip(a).map(|(b, a)| b.saturating_sub(a));
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
        (
            counters,
            elapsed,
            diff(cpu0.0, cpu1.0),
            diff(cpu0.1, cpu1.1),
        )
    });
    drop(sandbox);

    let s = elapsed.as_secs_f64();
    let requests = counters.requests.load(Ordering::Relaxed) as f64;
    let cpr = counters.cprs.load(Ordering::Relaxed) as f64;
    let errors = counters.errors.load(Ordering::Relaxed);
    println!(
        "sandbox throughput ({persons} persons, {connections} connections, wi batches of {BATCH}, {s:.1} s)"
    );
    println!("  requests/s   {:>10.0}", requests / s);
    println!(
        "  CPR/s        {:>10.0}   (target >= {TARGET_CPR_PER_SEC:.0})",
        cpr / s
    );
    println!("  errors       {errors:>10}");
    if let Some(cpu) = server_cpu.filter(|c| !c.is_zero()) {
        let c = cpu.as_secs_f64();
        println!(
            "  sandbox CPU  {c:>10.2} s   ({:.0}% of one core; {:.0} CPR per CPU-second)",
            100.0 * c / s,
            cpr / c
        );
    }
    if let Some(cpu) = own_cpu {
        let c = cpu.as_secs_f64();
        println!(
            "  load CPU     {c:>10.2} s   ({:.0}% of one core, the load generator)",
            100.0 * c / s
        );
    }
    if errors > 0 {
        return Err(format!(
            "{errors} requests failed or returned the wrong number of persons"
        ));
    }
    let what = format!("{persons} persons, {connections} connections, wi batches of {BATCH}");
    bench.rows.push(Row::figure(
        "sandbox",
        format!("requests per second ({what})"),
        requests / s,
        "req/s",
    ));
    bench.rows.push(Row::judged(
        "sandbox",
        format!("CPR numbers per second ({what})"),
        cpr / s,
        "CPR/s",
        Target::at_least(TARGET_CPR_PER_SEC),
    ));
    Ok(())
}

/// Whether an answer is whole: every answer must be a `Personer` document, and every
/// 16th is counted person by person (counting every one would make this load
/// generator, built without optimisation by `cargo xtask`, the bottleneck).
fn checked(body: &[u8], n: usize) -> bool {
    let whole = body.starts_with(b"{\"Personer\":[{\"Person\":") && body.ends_with(b"}}]}");
    whole && (!n.is_multiple_of(16) || count_persons(body) == BATCH)
}

/// Persons in a REST answer (`{"Person":` occurs once per person).
fn count_persons(body: &[u8]) -> usize {
    body.windows(10).filter(|w| *w == b"{\"Person\":").count()
}
