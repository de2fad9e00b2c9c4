//! The facade over both back-ends (REST over mutual TLS, GraphQL with OAuth): the
//! settings, the one [`Client`] per process, and mapping batch answers back to the
//! numbers asked.
//!
//! Layers, lowest first: `identity` (our certificate), `transport` (the connection
//! pool, bounds, retries, what failures mean), the back-ends `rest`, `graphql` and
//! `token` (requests and answers), then this module, which picks the back-end, asks
//! each number once and counts outcomes. Nothing below depends on this module.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use openssl::x509::X509;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{Api, Config, Endpoints};
use crate::cpr::Cpr;
use crate::error::Error;
use crate::identity::ClientIdentity;
use crate::person::Person;
use crate::record::Record;
use crate::retry::Backoff;
use crate::token::Tokens;
use crate::transport::{Stats, Transport, TransportOptions};

/// Everything the client needs, resolved from the config (and the command's flags).
#[derive(Clone)]
pub struct Settings {
    pub api: Api,
    pub endpoints: Endpoints,
    pub client_id: String,
    /// Shared-secret OAuth; `None` = the certificate variant.
    pub client_secret: Option<SecretString>,
    /// Extra trust anchors (PEM), from `ca_file`.
    pub ca_pem: Option<Vec<u8>>,
    pub concurrency: usize,
    pub batch_size: usize,
    pub timeout: Duration,
    pub retries: u32,
    /// Requests per second; 0 = unlimited.
    pub rate_limit_per_sec: u32,
    pub backoff: Backoff,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("api", &self.api)
            .field("endpoints", &self.endpoints)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("concurrency", &self.concurrency)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

/// The largest batch we send in one request.
pub const MAX_BATCH_SIZE: usize = 500;

impl Settings {
    /// Reads the config's files (`ca_file`, `client_secret_file`, relative to
    /// `base_dir`) and checks that the chosen API has its URLs.
    pub fn from_config(cfg: &Config, base_dir: &Path) -> Result<Settings, Error> {
        let d = &cfg.datafordeler;
        let l = &cfg.lookup;
        let ca_pem = match crate::config::resolve_path(base_dir, &d.ca_file) {
            Some(path) => {
                let pem = std::fs::read(&path).map_err(|source| Error::CaFile {
                    path: path.clone(),
                    source,
                })?;
                let unusable = |reason: String| Error::CaFileUnusable {
                    path: path.clone(),
                    reason,
                };
                if X509::stack_from_pem(&pem)
                    .map(|v| v.is_empty())
                    .unwrap_or(true)
                {
                    return Err(unusable("no PEM certificate in it".to_owned()));
                }
                // The transport reads it again with reqwest: refuse here, naming the
                // file, what it would refuse there.
                reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| unusable(e.without_url().to_string()))?;
                Some(pem)
            }
            None => None,
        };
        let client_secret = match crate::config::resolve_path(base_dir, &d.client_secret_file) {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map(SecretString::from)
                    .map_err(|source| Error::ClientSecret {
                        path: path.clone(),
                        source,
                    })?;
                let secret = text.expose_secret().lines().next().unwrap_or("").trim();
                if secret.is_empty() {
                    return Err(Error::ClientSecretEmpty { path });
                }
                Some(SecretString::from(secret))
            }
            None => None,
        };
        let s = Settings {
            api: d.api,
            endpoints: d.endpoints(),
            client_id: d.client_id.clone(),
            client_secret,
            ca_pem,
            concurrency: l.concurrency as usize,
            batch_size: l.batch_size as usize,
            timeout: Duration::from_secs(l.timeout_secs),
            retries: l.retries,
            rate_limit_per_sec: l.rate_limit_per_sec,
            backoff: Backoff::default(),
        };
        Ok(s)
    }

    /// Checks the values after flags were applied.
    pub fn validate(&self) -> Result<(), Error> {
        let need_url = |key: &'static str, v: &str| -> Result<(), Error> {
            if v.is_empty() {
                return Err(Error::Config {
                    key,
                    problem: "not set (environment `sandbox`/`custom` has no default)".to_owned(),
                });
            }
            let url = reqwest::Url::parse(v).map_err(|e| Error::Config {
                key,
                problem: format!("not a URL ({e})"),
            })?;
            if url.scheme() != "https" {
                return Err(Error::Config {
                    key,
                    problem: "must be an https:// URL".to_owned(),
                });
            }
            Ok(())
        };
        match self.api {
            Api::Rest => {
                need_url("datafordeler.rest_base_url", &self.endpoints.rest_base_url)?;
                if !self.endpoints.rest_path.starts_with('/') {
                    return Err(Error::Config {
                        key: "datafordeler.rest_path",
                        problem: "must start with /".to_owned(),
                    });
                }
            }
            Api::Graphql => {
                need_url("datafordeler.graphql_url", &self.endpoints.graphql_url)?;
                need_url("datafordeler.token_url", &self.endpoints.token_url)?;
                if self.client_id.trim().is_empty() {
                    return Err(Error::Config {
                        key: "datafordeler.client_id",
                        problem: "the IT-system's client id is needed for GraphQL".to_owned(),
                    });
                }
            }
        }
        let range = |key: &'static str, v: usize, lo: usize, hi: usize| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(Error::Config {
                    key,
                    problem: format!("{v} is out of range ({lo}..={hi})"),
                })
            }
        };
        range("lookup.concurrency", self.concurrency, 1, 1024)?;
        range("lookup.batch_size", self.batch_size, 1, MAX_BATCH_SIZE)?;
        if self.timeout.is_zero() {
            return Err(Error::Config {
                key: "lookup.timeout_secs",
                problem: "must be at least 1".to_owned(),
            });
        }
        Ok(())
    }
}

struct Inner {
    transport: Transport,
    tokens: Tokens,
    settings: Settings,
    identity_not_after: DateTime<Utc>,
}

/// The Datafordeler client. Cheap to clone; one per process (one connection pool).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(settings: Settings, identity: &ClientIdentity) -> Result<Client, Error> {
        settings.validate()?;
        let transport = Transport::new(
            identity,
            TransportOptions {
                timeout: settings.timeout,
                concurrency: settings.concurrency,
                retries: settings.retries,
                rate_limit_per_sec: settings.rate_limit_per_sec,
                backoff: settings.backoff,
                ca_pem: settings.ca_pem.as_deref(),
            },
        )?;
        let tokens = Tokens::new(
            &settings.endpoints.token_url,
            &settings.client_id,
            settings.client_secret.clone(),
        );
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                tokens,
                settings,
                identity_not_after: identity.not_after,
            }),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn stats(&self) -> &Stats {
        self.inner.transport.stats()
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    pub(crate) fn tokens(&self) -> &Tokens {
        &self.inner.tokens
    }

    /// Our certificate's SHA-1 thumbprint, for hints.
    pub fn thumbprint(&self) -> &str {
        self.inner.transport.thumbprint()
    }

    /// When our client certificate expires.
    pub fn identity_not_after(&self) -> DateTime<Utc> {
        self.inner.identity_not_after
    }

    /// Gets (or reuses) a GraphQL access token: proves the token endpoint accepts us.
    pub async fn ensure_token(&self) -> Result<(), Error> {
        match self.inner.settings.api {
            Api::Graphql => self
                .inner
                .tokens
                .get(&self.inner.transport, false)
                .await
                .map(|_| ()),
            Api::Rest => Ok(()),
        }
    }

    /// Looks up the persons of `cprs` in one request (REST `wi`/`eq` with paging, or one
    /// GraphQL `in` list). The answer has one entry per asked number, in order.
    pub async fn lookup_batch(&self, cprs: &[Cpr]) -> Result<Vec<Option<Person>>, Error> {
        if cprs.is_empty() {
            return Ok(Vec::new());
        }
        // Ask each number once, even when the input repeats it.
        let mut unique: Vec<Cpr> = Vec::with_capacity(cprs.len());
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(cprs.len());
        for c in cprs {
            if !index.contains_key(c.as_str()) {
                index.insert(c.as_str(), unique.len());
                unique.push(*c);
            }
        }
        let result = match self.inner.settings.api {
            Api::Rest => {
                crate::rest::lookup(
                    &self.inner.transport,
                    &self.inner.settings.endpoints,
                    &unique,
                )
                .await
            }
            Api::Graphql => {
                crate::graphql::lookup(
                    &self.inner.transport,
                    &self.inner.tokens,
                    &self.inner.settings.endpoints.graphql_url,
                    &unique,
                )
                .await
            }
        };
        let persons = match result {
            Ok(p) => p,
            Err(e) => {
                match e.kind() {
                    crate::error::ErrorKind::Auth => {
                        self.stats().auth_errors.fetch_add(1, Ordering::Relaxed);
                        self.stats().auth_failing.store(true, Ordering::Relaxed);
                    }
                    crate::error::ErrorKind::Answer => {
                        self.stats().answer_errors.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
                return Err(e);
            }
        };
        self.stats().any_success.store(true, Ordering::Relaxed);
        self.stats().auth_failing.store(false, Ordering::Relaxed);
        let found = assign(&unique, persons);
        Ok(cprs
            .iter()
            .map(|c| index.get(c.as_str()).and_then(|&i| found[i].clone()))
            .collect())
    }

    /// Like [`Client::lookup_batch`], as records.
    pub async fn lookup_records(&self, cprs: &[Cpr]) -> Result<Vec<Record>, Error> {
        let persons = self.lookup_batch(cprs).await?;
        Ok(cprs
            .iter()
            .zip(persons)
            .map(|(c, p)| match p {
                Some(p) => Record::found(c, &p),
                None => Record::not_found(c),
            })
            .collect())
    }
}

/// Matches persons to the numbers asked: by any of the person's CPR numbers (the
/// current one first); a lone answer to a lone question with no numbers on it is taken
/// as that person. Numbers nobody answered are `None` (not found).
fn assign(asked: &[Cpr], persons: Vec<Person>) -> Vec<Option<Person>> {
    let mut out: Vec<Option<Person>> = vec![None; asked.len()];
    let index: HashMap<&str, usize> = asked
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let lone = asked.len() == 1 && persons.len() == 1;
    for p in persons {
        if lone && p.cprs.is_empty() {
            out[0] = Some(p);
            break;
        }
        if let Some(&i) = p.cprs.iter().find_map(|c| index.get(c.as_str()))
            && out[i].is_none()
        {
            out[i] = Some(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_answers_map_back_to_the_numbers_asked() {
        let a = Cpr::parse("0101011234").unwrap();
        let b = Cpr::parse("0202021234").unwrap();
        let c = Cpr::parse("0303031234").unwrap();
        let p = |nums: &[&str], name: &str| Person {
            cprs: nums.iter().map(|s| (*s).to_owned()).collect(),
            name: Some(name.to_owned()),
            ..Person::default()
        };
        // Out of order, one missing, one matched through a historic number.
        let got = assign(
            &[a, b, c],
            vec![
                p(&["0303031234"], "C"),
                p(&["9999999999", "0101011234"], "A"),
            ],
        );
        assert_eq!(got[0].as_ref().unwrap().name.as_deref(), Some("A"));
        assert!(got[1].is_none());
        assert_eq!(got[2].as_ref().unwrap().name.as_deref(), Some("C"));
        // A lone answer without numbers.
        let got = assign(&[a], vec![p(&[], "X")]);
        assert_eq!(got[0].as_ref().unwrap().name.as_deref(), Some("X"));
        // Without numbers in a batch nothing can be matched.
        assert!(
            assign(&[a, b], vec![p(&[], "X")])
                .iter()
                .all(Option::is_none)
        );
    }
}
