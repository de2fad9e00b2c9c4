//! What a sandbox is started with: [`SandboxOptions`] and the injected [`Faults`].
//!
//! Plain data with defaults and a validity check; nothing here runs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::population::MAX_PERSONS;

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// The mutual-TLS listener (REST, certificate token endpoint); port 0 = any free
    /// port. The second listener (GraphQL, shared-secret tokens, admin) takes a free
    /// port on the same IP.
    pub listen: SocketAddr,
    /// Files are written here (created if missing).
    pub dir: PathBuf,
    /// Population size, up to 1,000,000.
    pub persons: u32,
    /// Population and faults are deterministic under it.
    pub seed: u64,
    /// Added to every API answer (REST, GraphQL, token endpoints).
    pub latency_ms: u64,
    /// Injected faults; `Faults::default()` = none.
    pub faults: Faults,
}

impl SandboxOptions {
    /// `127.0.0.1:0`, 1000 persons, seed 1, no latency, no faults.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SandboxOptions {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            dir: dir.into(),
            persons: 1000,
            seed: 1,
            latency_ms: 0,
            faults: Faults::default(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.persons == 0 || self.persons > MAX_PERSONS {
            return Err(Error::PopulationSize {
                persons: self.persons,
                max: MAX_PERSONS,
            });
        }
        self.faults.validate()
    }
}

/// Faults injected into API answers (REST and GraphQL), decided per request from a
/// hash of (seed, request content, how often that same request was seen), so a run is
/// reproducible and a retried request eventually succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Share of requests answered `503 Service Unavailable`.
    pub rate_503: f64,
    /// Share of requests answered `429 Too Many Requests` with `Retry-After`.
    pub rate_429: f64,
    /// The `Retry-After` value of a 429, in seconds.
    pub retry_after_secs: u64,
    /// Share of requests whose connection is dropped halfway through the body.
    pub rate_reset: f64,
    /// Share of requests whose body trickles out over `slow_body_ms`.
    pub rate_slow_body: f64,
    pub slow_body_ms: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rate_503: 0.0,
            rate_429: 0.0,
            retry_after_secs: 1,
            rate_reset: 0.0,
            rate_slow_body: 0.0,
            slow_body_ms: 500,
        }
    }
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Faults::default()
    }

    /// Only 503s, at `rate` (what `--fault-rate` sets).
    pub fn unavailable(rate: f64) -> Self {
        Faults {
            rate_503: rate,
            ..Faults::default()
        }
    }

    /// The total share of requests that get some fault.
    pub fn total_rate(&self) -> f64 {
        self.rate_503 + self.rate_429 + self.rate_reset + self.rate_slow_body
    }

    pub fn is_none(&self) -> bool {
        self.total_rate() <= 0.0
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        for (name, rate) in [
            ("rate_503", self.rate_503),
            ("rate_429", self.rate_429),
            ("rate_reset", self.rate_reset),
            ("rate_slow_body", self.rate_slow_body),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(Error::FaultRate {
                    name,
                    value: rate.to_string(),
                });
            }
        }
        if self.total_rate() > 1.0 + 1e-9 {
            return Err(Error::FaultRate {
                name: "sum of the rates",
                value: self.total_rate().to_string(),
            });
        }
        Ok(())
    }
}
