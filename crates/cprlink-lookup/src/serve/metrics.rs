//! The Prometheus metrics of `serve`: requests by route and status, a latency
//! histogram, cache hits and misses and size, the client's upstream counters (summed
//! over the clients a reload replaced), identity reloads and the certificate's expiry,
//! rendered as Prometheus text for `/metrics`.
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
    /// Upstream counters of the clients replaced by a reload, so counters never drop.
    retired: Mutex<Retired>,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
}

/// The upstream counters of replaced clients.
#[derive(Default)]
struct Retired {
    requests: u64,
    retries: u64,
    errors: [u64; 7],
}

/// What `/metrics` shows besides the counters of [`Metrics`].
pub(super) struct Snapshot<'a> {
    pub(super) stats: &'a Stats,
    pub(super) cache_entries: usize,
    pub(super) uptime: Duration,
    /// When the client certificate expires (unix seconds); `None` with no certificate.
    pub(super) certificate_expiry: Option<i64>,
}

impl Metrics {
    /// Keeps the upstream counters of a client that a reload replaced.
    pub(super) fn retire(&self, stats: &Stats) {
        if let Ok(mut r) = self.retired.lock() {
            r.requests += stats.requests.load(Ordering::Relaxed);
            r.retries += stats.retries.load(Ordering::Relaxed);
            for (i, (_, n)) in stats.error_counts().iter().enumerate() {
                r.errors[i] += n;
            }
        }
    }

    pub(super) fn count_reload(&self, ok: bool) {
        let c = if ok {
            &self.reloads
        } else {
            &self.reload_failures
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

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

    /// The Prometheus text of `/metrics`.
    pub(super) fn render(&self, now: &Snapshot<'_>) -> String {
        let stats = now.stats;
        let (gone_requests, gone_retries, gone_errors) = match self.retired.lock() {
            Ok(r) => (r.requests, r.retries, r.errors),
            Err(_) => (0, 0, [0; 7]),
        };
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
            gone_requests + stats.requests.load(Ordering::Relaxed),
        );
        scalar(
            &mut out,
            "cprlink_upstream_retries_total",
            "counter",
            "Retries after transient failures.",
            gone_retries + stats.retries.load(Ordering::Relaxed),
        );
        out.push_str("# HELP cprlink_upstream_errors_total Failed upstream attempts, by kind.\n");
        out.push_str("# TYPE cprlink_upstream_errors_total counter\n");
        for (i, (kind, n)) in stats.error_counts().into_iter().enumerate() {
            let n = n + gone_errors[i];
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
            now.cache_entries as u64,
        );
        scalar(
            &mut out,
            "cprlink_identity_reloads_total",
            "counter",
            "Identities (certificate or shared secret) re-read on SIGHUP and put to use.",
            self.reloads.load(Ordering::Relaxed),
        );
        scalar(
            &mut out,
            "cprlink_identity_reload_failures_total",
            "counter",
            "SIGHUP re-reads that failed; the identity before stayed in use.",
            self.reload_failures.load(Ordering::Relaxed),
        );
        if let Some(expiry) = now.certificate_expiry {
            out.push_str("# HELP cprlink_certificate_expiry_timestamp_seconds When the client certificate in use expires (unix time).\n");
            out.push_str("# TYPE cprlink_certificate_expiry_timestamp_seconds gauge\n");
            let _ = writeln!(out, "cprlink_certificate_expiry_timestamp_seconds {expiry}");
        }
        out.push_str("# HELP cprlink_uptime_seconds Seconds since the service started.\n");
        out.push_str("# TYPE cprlink_uptime_seconds gauge\n");
        let _ = writeln!(out, "cprlink_uptime_seconds {}", now.uptime.as_secs());
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
