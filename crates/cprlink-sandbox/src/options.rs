//! What a sandbox is started with: [`SandboxOptions`], the injected [`Faults`], the
//! [`Behaviour`] of Datafordeler it shows (datafordeler.md 5) and the changes to its
//! GraphQL schema ([`SchemaChange`]).
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
    /// Datafordeler's limits and habits: `in` lists, answers cut short, inert
    /// credentials, the shape of a refused data access. Changeable while it runs.
    pub behaviour: Behaviour,
    /// Whether the sandbox's own IT-system (`cprlink-sandbox`) and its `client.p12`
    /// have the data access (true); false gives 403 `DAF-AUTH-0001` to every CPR call
    /// made with them, as before the register authority grants it.
    pub data_access: bool,
    /// Fields of the served GraphQL schema dropped or renamed (the SDL at `/schema`
    /// and what queries may select), for testing a client's schema check.
    pub schema: Vec<SchemaChange>,
}

impl SandboxOptions {
    /// `127.0.0.1:0`, 1000 persons, seed 1, no latency, no faults, the default
    /// [`Behaviour`], with data access, the schema as documented.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SandboxOptions {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            dir: dir.into(),
            persons: 1000,
            seed: 1,
            latency_ms: 0,
            faults: Faults::default(),
            behaviour: Behaviour::default(),
            data_access: true,
            schema: Vec::new(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.persons == 0 || self.persons > MAX_PERSONS {
            return Err(Error::PopulationSize {
                persons: self.persons,
                max: MAX_PERSONS,
            });
        }
        self.faults.validate()?;
        self.behaviour.validate()
    }
}

/// Most numbers a GraphQL `in` list may hold by default: the `MaxListSize` of 100 seen
/// on Datafordeler's filter inputs (datafordeler.md 5.1).
pub const DEFAULT_MAX_IN_LIST: u32 = 100;

/// The largest `max_in_list` the sandbox takes.
pub const MAX_IN_LIST_LIMIT: u32 = 10_000;

/// How Datafordeler behaves where section 5 of datafordeler.md says how, and where it
/// is unknown for CPR but seen on other registers. The defaults are the safe picture:
/// `in` lists capped at 100, answers not cut, credentials active at once, a refused
/// data access as HTTP 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviour {
    /// A GraphQL `in` list with more numbers is refused with a validation error
    /// (`DAF-GQL-0003`).
    pub max_in_list: u32,
    /// At most this many persons per answer, cut silently: the first N GraphQL
    /// `nodes` in the order the server returns them, and REST pages of at most N
    /// (`pageSize` is lowered without a word). `None`: no cap.
    pub max_nodes: Option<u32>,
    /// A credential (a registered certificate, a created shared secret, and the
    /// sandbox's own at start) answers 401 `DAF-AUTH-0005` until this many seconds
    /// after it was registered.
    pub inert_secs: u64,
    /// How GraphQL refuses a call without the data access.
    pub no_access_answer: NoAccessAnswer,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            max_in_list: DEFAULT_MAX_IN_LIST,
            max_nodes: None,
            inert_secs: 0,
            no_access_answer: NoAccessAnswer::Http403,
        }
    }
}

impl Behaviour {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if !(1..=MAX_IN_LIST_LIMIT).contains(&self.max_in_list) {
            return Err(Error::Limit {
                name: "max_in_list",
                value: u64::from(self.max_in_list),
                min: 1,
                max: u64::from(MAX_IN_LIST_LIMIT),
            });
        }
        if self.max_nodes == Some(0) {
            return Err(Error::Limit {
                name: "max_nodes",
                value: 0,
                min: 1,
                max: u64::from(u32::MAX),
            });
        }
        Ok(())
    }
}

/// The two shapes of "the IT-system lacks the data access" of datafordeler.md 5.2 ("403,
/// or a GraphQL error, with DAF-AUTH-0001"). REST always answers 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoAccessAnswer {
    /// HTTP 403 with `{"errors": [... "extensions": {"code": "DAF-AUTH-0001"}]}`.
    #[serde(rename = "http_403")]
    Http403,
    /// HTTP 200 with the same `errors` and no `data`.
    GraphqlError,
}

/// A change to the GraphQL schema the sandbox serves. `path` names a field of
/// `CPRCustom_PublicSectorPerson` by its documented (lower-case) name, with a dot
/// into a list: `koen`, `navne`, `navne.mellemnavn`, `beskyttelser.virkningtil`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaChange {
    /// The field is gone: not in the SDL, and a query selecting it is refused.
    Drop { path: String },
    /// The field is served under another name (in the SDL and in answers).
    Rename { path: String, to: String },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaviour_documents_read_as_documented() {
        let b: Behaviour = serde_json::from_str(r#"{"no_access_answer": "http_403"}"#).unwrap();
        assert_eq!(b, Behaviour::default());
        let b: Behaviour =
            serde_json::from_str(r#"{"max_nodes": 5, "no_access_answer": "graphql_error"}"#)
                .unwrap();
        assert_eq!(b.max_nodes, Some(5));
        assert_eq!(b.no_access_answer, NoAccessAnswer::GraphqlError);
        assert_eq!(
            serde_json::to_value(Behaviour::default()).unwrap()["no_access_answer"],
            "http_403"
        );
        assert!(serde_json::from_str::<Behaviour>(r#"{"max_node": 5}"#).is_err());
        assert!(
            Behaviour {
                max_in_list: 0,
                ..Behaviour::default()
            }
            .validate()
            .is_err()
        );
    }
}
