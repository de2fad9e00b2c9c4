//! The Prometheus metrics of `serve`: requests by route and status, a latency
//! histogram, cache hits and misses, and the client's upstream counters, rendered as
//! Prometheus text for `/metrics`.
//!
//! Owns the metric names, their HELP texts and the buckets (the names are documented in
//! docs/serve.md: change them only with the docs). Labels never hold a CPR number: the
//! route label is the route's pattern.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::transport::Stats;

const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The service's own counters; the upstream ones are the client's [`Stats`].
#[derive(Default)]
pub(super) struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    sum_micros: AtomicU64,
    count: AtomicU64,
    pub(super) cache_hits: AtomicU64,
    pub(super) cache_misses: AtomicU64,
}

impl Metrics {
    pub(super) fn observe(&self, route: &'static str, status: u16, elapsed: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route, status)).or_insert(0) += 1;
        }
        let secs = elapsed.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text of `/metrics`: ours, the upstream counters of `stats`, the
    /// cache's size and the uptime.
    pub(super) fn render(&self, stats: &Stats, cache_entries: usize, uptime: Duration) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP cprlink_http_requests_total HTTP requests served, by route and status.\n",
        );
        out.push_str("# TYPE cprlink_http_requests_total counter\n");
        if let Ok(reqs) = self.requests.lock() {
            for ((route, status), n) in reqs.iter() {
                let _ = writeln!(
                    out,
                    "cprlink_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP cprlink_http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE cprlink_http_request_duration_seconds histogram\n");
        let mut cumulative = 0u64;
        for (i, le) in BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "cprlink_http_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "cprlink_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "cprlink_http_request_duration_seconds_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "cprlink_http_request_duration_seconds_count {count}");
        scalar(
            &mut out,
            "cprlink_upstream_requests_total",
            "counter",
            "HTTP requests sent to Datafordeler (each attempt).",
            stats.requests.load(Ordering::Relaxed),
        );
        scalar(
            &mut out,
            "cprlink_upstream_retries_total",
            "counter",
            "Retries after transient failures.",
            stats.retries.load(Ordering::Relaxed),
        );
        out.push_str("# HELP cprlink_upstream_errors_total Failed upstream attempts, by kind.\n");
        out.push_str("# TYPE cprlink_upstream_errors_total counter\n");
        for (kind, n) in stats.error_counts() {
            let _ = writeln!(out, "cprlink_upstream_errors_total{{kind=\"{kind}\"}} {n}");
        }
        scalar(
            &mut out,
            "cprlink_cache_hits_total",
            "counter",
            "Lookups answered from the cache.",
            self.cache_hits.load(Ordering::Relaxed),
        );
        scalar(
            &mut out,
            "cprlink_cache_misses_total",
            "counter",
            "Lookups that went to Datafordeler.",
            self.cache_misses.load(Ordering::Relaxed),
        );
        scalar(
            &mut out,
            "cprlink_cache_entries",
            "gauge",
            "Answers held in the cache.",
            cache_entries as u64,
        );
        out.push_str("# HELP cprlink_uptime_seconds Seconds since the service started.\n");
        out.push_str("# TYPE cprlink_uptime_seconds gauge\n");
        let _ = writeln!(out, "cprlink_uptime_seconds {}", uptime.as_secs());
        out
    }
}

/// One Prometheus metric without labels: HELP, TYPE and the value.
fn scalar(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}
