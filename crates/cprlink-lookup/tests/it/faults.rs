//! Injected 503s, 429s, resets and slow bodies: retried, zero rows lost.

use cprlink_lookup::batch::{self, BatchOptions};
use cprlink_lookup::input::InputReader;
use cprlink_lookup::{ErrorKind, Status};
use cprlink_sandbox::Faults;

use crate::batch::Memory;
use crate::support::{APIS, client, expected, start};

#[test]
fn transient_faults_are_retried_and_no_row_is_lost() {
    let run = start(200, |o| {
        o.faults = Faults {
            rate_503: 0.15,
            rate_429: 0.1,
            retry_after_secs: 0,
            rate_reset: 0.1,
            rate_slow_body: 0.05,
            slow_body_ms: 50,
        };
    });
    let want = expected(&run.sb);
    let text: String = want.iter().map(|w| format!("{}\n", w.0)).collect();
    for api in APIS {
        let before = run.sb.request_count();
        // The sandbox lets the 9th attempt through: 8 retries always suffice.
        let c = client(&run.sb, api, |s| {
            s.retries = 8;
            s.batch_size = 10;
            s.backoff.base = std::time::Duration::from_millis(5);
        });
        let sink = Memory::default();
        let input = InputReader::new(std::io::Cursor::new(text.clone().into_bytes()));
        let s = run
            .rt
            .block_on(batch::run(
                &c,
                input,
                Box::new(sink.clone()),
                BatchOptions::default(),
                None,
                std::future::pending(),
            ))
            .unwrap();
        let got = sink.0.lock().unwrap().clone();
        assert_eq!(got.len(), want.len(), "{api:?}");
        for (w, r) in want.iter().zip(&got) {
            assert_eq!(
                (r.cpr.as_str(), r.status),
                (w.0.as_str(), Status::Found),
                "{api:?}"
            );
            assert_eq!(r.name.as_deref().unwrap_or(""), w.1);
        }
        assert_eq!(s.error, 0);
        let retries = c.stats().retries.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            retries > 0,
            "{api:?}: no fault was injected, the test proves nothing"
        );
        assert!(run.sb.request_count() - before > 20, "{api:?}");
    }
}

#[test]
fn retry_after_is_honoured_and_exhausted_retries_are_unavailable() {
    let run = start(50, |o| {
        o.faults = Faults {
            rate_429: 1.0,
            retry_after_secs: 1,
            ..Faults::default()
        };
    });
    let want = expected(&run.sb);
    let cpr = cprlink_lookup::Cpr::parse(&want[0].0).unwrap();
    let c = client(&run.sb, APIS[0], |s| {
        s.retries = 1;
        s.backoff.base = std::time::Duration::from_millis(1);
    });
    let started = std::time::Instant::now();
    let err = run.rt.block_on(c.lookup_records(&[cpr])).unwrap_err();
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(950),
        "Retry-After: 1 was not honoured"
    );
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.to_string().contains("429"), "{err}");
    assert!(!err.to_string().contains(&want[0].0));
}

#[test]
fn a_service_that_cannot_be_reached_stops_the_batch_before_any_row() {
    let run = start(20, |o| o.faults = Faults::unavailable(1.0));
    let want = expected(&run.sb);
    let text: String = want.iter().map(|w| format!("{}\n", w.0)).collect();
    let c = client(&run.sb, APIS[0], |s| {
        s.retries = 1;
        s.backoff.base = std::time::Duration::from_millis(1);
    });
    let sink = Memory::default();
    let input = InputReader::new(std::io::Cursor::new(text.into_bytes()));
    let stopped = run
        .rt
        .block_on(batch::run(
            &c,
            input,
            Box::new(sink.clone()),
            BatchOptions::default(),
            None,
            std::future::pending(),
        ))
        .unwrap_err();
    assert_eq!(stopped.error.kind(), ErrorKind::Unavailable);
    assert!(sink.0.lock().unwrap().is_empty());
}

#[test]
fn our_timeout_applies_because_datafordeler_has_none() {
    let run = start(5, |o| o.latency_ms = 3000);
    let want = expected(&run.sb);
    let c = client(&run.sb, APIS[0], |s| {
        s.timeout = std::time::Duration::from_millis(300);
        s.retries = 1;
        s.backoff.base = std::time::Duration::from_millis(1);
    });
    let started = std::time::Instant::now();
    let err = run
        .rt
        .block_on(c.lookup_records(&[cprlink_lookup::Cpr::parse(&want[0].0).unwrap()]))
        .unwrap_err();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            &err,
            cprlink_lookup::Error::Unavailable {
                last: cprlink_lookup::error::Transient::Timeout,
                attempts: 2,
                ..
            }
        ),
        "{err}"
    );
}
