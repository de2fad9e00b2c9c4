//! Faults and latency: 503/429 that retries get through, dropped connections, slow
//! bodies, all reproducible under the seed.

use std::time::{Duration, Instant};

use cprlink_sandbox::{Faults, MAX_FAULTY_ATTEMPTS, Sandbox};

use crate::support::{client, curl, curl_identity, rest_url, start};

/// Status codes of `n` distinct requests, each retried until it succeeds; returns the
/// first-try statuses and the number of tries each needed.
async fn run(sb: &Sandbox, n: u32) -> (Vec<u16>, Vec<u32>) {
    let c = client(sb);
    let mut first = Vec::new();
    let mut tries = Vec::new();
    for i in 0..n {
        let url = rest_url(
            sb,
            &format!("pnr.personnummer.eq={}", sb.population().cpr(i)),
        );
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r = c.get(&url).send().await.unwrap();
            let status = r.status().as_u16();
            if attempt == 1 {
                first.push(status);
            }
            if status == 429 {
                assert_eq!(r.headers()["retry-after"], "1");
            }
            if status == 200 {
                break;
            }
            assert!(matches!(status, 503 | 429), "{status}");
            assert!(
                attempt <= MAX_FAULTY_ATTEMPTS,
                "request {i} never got through"
            );
        }
        tries.push(attempt);
    }
    (first, tries)
}

#[tokio::test]
async fn unavailable_and_too_many_requests_then_retries_succeed() {
    let (_d, sb) = start(100, 41).await;
    let faults = Faults {
        rate_503: 0.3,
        rate_429: 0.2,
        retry_after_secs: 1,
        ..Faults::default()
    };
    sb.set_faults(faults);
    let (first, tries) = run(&sb, 60).await;
    let n503 = first.iter().filter(|s| **s == 503).count();
    let n429 = first.iter().filter(|s| **s == 429).count();
    assert!(n503 > 5 && n429 > 2, "{n503} x 503, {n429} x 429");
    assert!(tries.iter().any(|t| *t > 1));

    // Another sandbox with the same seed misbehaves identically.
    let (_d2, twin) = start(100, 41).await;
    twin.set_faults(faults);
    assert_eq!(run(&twin, 60).await, (first, tries));
}

#[tokio::test]
async fn fault_rate_one_never_lets_through() {
    let (_d, sb) = start(100, 42).await;
    sb.set_faults(Faults::unavailable(1.0));
    let c = client(&sb);
    let url = rest_url(
        &sb,
        &format!("pnr.personnummer.eq={}", sb.population().cpr(0)),
    );
    for _ in 0..(MAX_FAULTY_ATTEMPTS + 3) {
        assert_eq!(c.get(&url).send().await.unwrap().status(), 503);
    }
    sb.set_faults(Faults::none());
    assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn connection_reset_mid_body() {
    let (_d, sb) = start(100, 43).await;
    sb.set_faults(Faults {
        rate_reset: 1.0,
        ..Faults::default()
    });
    let wi: Vec<String> = (0..10).map(|i| sb.population().cpr(i)).collect();
    let url = rest_url(&sb, &format!("pnr.personnummer.wi={}", wi.join("|")));
    let r = client(&sb).get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200, "headers arrive");
    assert!(r.bytes().await.is_err(), "the body is cut off");
    // curl sees a transfer that ended early.
    let mut args = curl_identity(&sb);
    args.push(url);
    let out = curl(args).await;
    assert!(!out.status.success());
    assert!(serde_json::from_slice::<serde_json::Value>(&out.stdout).is_err());
}

#[tokio::test]
async fn slow_bodies_and_latency() {
    let (_d, sb) = start(100, 44).await;
    let c = client(&sb);
    let url = rest_url(
        &sb,
        &format!("pnr.personnummer.eq={}", sb.population().cpr(0)),
    );
    let fast = c.get(&url).send().await.unwrap().bytes().await.unwrap();

    sb.set_faults(Faults {
        rate_slow_body: 1.0,
        slow_body_ms: 400,
        ..Faults::default()
    });
    let t = Instant::now();
    let slow = c.get(&url).send().await.unwrap().bytes().await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(350),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(slow, fast, "same bytes, only slower");

    sb.set_faults(Faults::none());
    sb.set_latency_ms(250);
    let t = Instant::now();
    assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(250));
}
