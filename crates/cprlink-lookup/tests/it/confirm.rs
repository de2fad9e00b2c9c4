//! Numbers missing from a batch answer are confirmed before they are `not_found`
//! (datafordeler.md 5.1): against a sandbox that cuts every answer short
//! (`max_nodes`), every known person is still found, unknown numbers are still not
//! found, and the re-asks of concurrent batches share requests.

use cprlink_lookup::batch::{self, BatchOptions};
use cprlink_lookup::config::Api;
use cprlink_lookup::input::InputReader;
use cprlink_lookup::{Cpr, Error, Status};
use cprlink_sandbox::Behaviour;

use crate::batch::Memory;
use crate::support::{APIS, client, expected, settings, shared, start};

/// Runs `text` through the batch runner with `client`; the records written.
fn run_batch(
    run: &crate::support::Running,
    c: &cprlink_lookup::Client,
    text: &str,
) -> (Vec<cprlink_lookup::Record>, batch::Summary) {
    let sink = Memory::default();
    let input = InputReader::new(std::io::Cursor::new(text.as_bytes().to_vec()));
    let summary = run
        .rt
        .block_on(batch::run(
            c,
            input,
            Box::new(sink.clone()),
            BatchOptions::default(),
            None,
            std::future::pending(),
        ))
        .unwrap();
    let got = sink.0.lock().unwrap().clone();
    (got, summary)
}

#[test]
fn answers_cut_short_lose_no_known_person_and_unknown_numbers_stay_not_found() {
    let run = start(240, |o| {
        o.behaviour = Behaviour {
            max_nodes: Some(3),
            ..Behaviour::default()
        };
    });
    let want = expected(&run.sb);
    // Every eighth row an unknown number, the rest known.
    let mut rows: Vec<(String, Status)> = Vec::new();
    for (i, w) in want.iter().enumerate() {
        if i % 8 == 3 {
            let unknown = run.sb.population().unknown_cpr(i as u64);
            rows.push((unknown, Status::NotFound));
        }
        rows.push((w.0.clone(), Status::Found));
    }
    let text: String = rows.iter().map(|r| format!("{}\n", r.0)).collect();
    for api in APIS {
        let c = client(&run.sb, api, |s| {
            s.batch_size = 20;
            s.concurrency = 4;
        });
        let (got, summary) = run_batch(&run, &c, &text);
        let pairs: Vec<(String, Status)> = got.iter().map(|r| (r.cpr.clone(), r.status)).collect();
        assert_eq!(
            pairs, rows,
            "{api:?}: a person was lost to an answer cut short"
        );
        // The names are the right ones, not just "found".
        let names: std::collections::HashMap<&str, &str> =
            want.iter().map(|w| (w.0.as_str(), w.1.as_str())).collect();
        for r in got.iter().filter(|r| r.status == Status::Found) {
            assert_eq!(
                r.name.as_deref().unwrap_or(""),
                names[r.cpr.as_str()],
                "{api:?}"
            );
        }
        // With 3 answers per request, most numbers of every batch were asked again.
        let unknown = rows.iter().filter(|r| r.1 == Status::NotFound).count() as u64;
        assert!(summary.reasked > unknown, "{api:?}: {summary:?}");
        assert_eq!(summary.not_found, unknown, "{api:?}");
    }
}

#[test]
fn the_re_asks_of_concurrent_batches_share_requests() {
    // 400 rows in batches of 20, two unknown numbers in each (10%, as issue 12's P4).
    let run = start(400, |_| {});
    let want = expected(&run.sb);
    let mut text = String::new();
    let mut unknown = 0u64;
    for (i, w) in want.iter().take(360).enumerate() {
        text.push_str(&w.0);
        text.push('\n');
        if i % 9 == 8 {
            for k in 0..2 {
                text.push_str(&run.sb.population().unknown_cpr(i as u64 * 2 + k));
                text.push('\n');
                unknown += 1;
            }
        }
    }
    assert_eq!(unknown, 80);
    for api in APIS {
        let c = client(&run.sb, api, |s| {
            s.batch_size = 20;
            s.concurrency = 8;
        });
        let before = run.sb.request_count();
        let (got, summary) = run_batch(&run, &c, &text);
        let sent = run.sb.request_count() - before;
        assert_eq!(got.len(), 440);
        assert_eq!(summary.not_found, unknown, "{api:?}");
        assert_eq!(
            summary.reasked, unknown,
            "{api:?}: only the missing are asked again"
        );
        let reask_requests = c
            .stats()
            .reask_requests
            .load(std::sync::atomic::Ordering::Relaxed);
        // One request per unknown number would be 80; pooled they go up to 20 at a time.
        assert!(
            reask_requests <= unknown / 4,
            "{api:?}: {reask_requests} requests to re-ask {unknown} numbers: not pooled"
        );
        // 22 batches, the re-asks, and (GraphQL) a token; on a loaded machine also the
        // retries of attempts that timed out or broke (each one counted by the client).
        let retries = c.stats().retries.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            sent <= 22 + reask_requests + 1 + retries,
            "{api:?}: {sent} requests ({reask_requests} re-asks, {retries} retries)"
        );
    }
}

#[test]
fn graphql_in_lists_stay_within_100_and_larger_batches_are_refused() {
    let run = shared();
    let want = expected(&run.sb);
    let mut s = settings(&run.sb, Api::Graphql);
    s.batch_size = 101;
    match cprlink_lookup::Client::new(s, Some(&crate::support::identity(&run.sb))) {
        Err(Error::BatchTooLarge {
            batch_size: 101,
            max: 100,
        }) => {}
        other => panic!("expected BatchTooLarge, got {other:?}"),
    }
    // REST keeps its own limit.
    let c = client(&run.sb, Api::Rest, |s| s.batch_size = 500);
    assert_eq!(c.settings().batch_size, 500);
    // 250 numbers in one call go out in `in` lists of at most 100, which the sandbox
    // (like Datafordeler) requires.
    let c = client(&run.sb, Api::Graphql, |s| s.batch_size = 100);
    let cprs: Vec<Cpr> = want
        .iter()
        .take(250)
        .map(|w| Cpr::parse(&w.0).unwrap())
        .collect();
    let got = run.rt.block_on(c.lookup_records(&cprs)).unwrap();
    assert!(got.iter().all(|r| r.status == Status::Found));
}
