//! The facade over both back-ends (REST over mutual TLS, GraphQL with OAuth): the
//! settings, the one [`Client`] per process, and mapping batch answers back to the
//! numbers asked.
//!
//! Layers, lowest first: `identity` (our certificate, none with a shared secret),
//! `tls` (the trust anchors and the TLS configuration), `transport` (the connection
//! pool, bounds, retries, what failures mean), the
//! back-ends `rest`, `graphql` and `token` (requests and answers), then this module,
//! which picks the back-end, asks each number once in requests of at most `batch_size`,
//! retries 401 `DAF-AUTH-0005` for `auth_grace_secs` (new credentials are inert at
//! first, datafordeler.md 5.2), hands the numbers missing from an answer to `confirm`
//! before any is called not found (5.1), and counts outcomes. Nothing below depends on
//! this module but `confirm`, which asks through it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{Api, Config, Endpoints};
use crate::confirm::{self, Pool, Producer};
use crate::cpr::Cpr;
use crate::error::{Error, ErrorKind};
use crate::graphql::MAX_IN_LIST;
use crate::identity::ClientIdentity;
use crate::person::Person;
use crate::query::Query;
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
    /// The GraphQL query: built-in, or `graphql_query_file` (checked).
    pub query: Query,
    /// The trust anchors (PEM) from `ca_file`: with it set, the only ones (the
    /// system store is not read); `None` = the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    pub concurrency: usize,
    pub batch_size: usize,
    pub timeout: Duration,
    pub retries: u32,
    /// Requests per second; 0 = unlimited.
    pub rate_limit_per_sec: u32,
    pub backoff: Backoff,
    /// How long 401 `DAF-AUTH-0005` is retried (`auth_grace_secs`), counted from the
    /// first in a row; 0 = not retried.
    pub auth_grace: Duration,
    /// The waits between those retries.
    pub auth_backoff: Backoff,
    /// How long numbers missing from an answer wait for the missing numbers of other
    /// batches, to share a confirmation request with them.
    pub confirm_linger: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("api", &self.api)
            .field("endpoints", &self.endpoints)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("query", &self.query.source())
            .field("concurrency", &self.concurrency)
            .field("batch_size", &self.batch_size)
            .field("auth_grace", &self.auth_grace)
            .finish_non_exhaustive()
    }
}

/// The largest batch we send in one REST request (GraphQL: [`MAX_IN_LIST`]).
pub const MAX_BATCH_SIZE: usize = 500;

/// The waits between retries of `DAF-AUTH-0005`: from about half a second, doubling,
/// to about five.
pub const AUTH_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(500),
    cap: Duration::from_secs(5),
    max_retry_after: Duration::from_secs(5),
};

/// The default of [`Settings::confirm_linger`]: about a request's time on a
/// loaded pool, short next to Datafordeler's tens of milliseconds per answer.
pub const CONFIRM_LINGER: Duration = Duration::from_millis(20);

impl Settings {
    /// Reads the config's files (`ca_file`, `client_secret_file`,
    /// `graphql_query_file`, relative to `base_dir`; the query is checked). Call
    /// [`Settings::validate`] after applying flags.
    pub fn from_config(cfg: &Config, base_dir: &Path) -> Result<Settings, Error> {
        let d = &cfg.datafordeler;
        let l = &cfg.lookup;
        let ca_pem = match crate::config::resolve_path(base_dir, &d.ca_file) {
            Some(path) => {
                let pem = std::fs::read(&path).map_err(|source| Error::CaFile {
                    path: path.clone(),
                    source,
                })?;
                // The transport reads it again: refuse here, naming the file, what
                // it would refuse there.
                crate::tls::roots_from_pem(&pem).map_err(|reason| Error::CaFileUnusable {
                    path: path.clone(),
                    reason,
                })?;
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
        let query = match crate::config::resolve_path(base_dir, &d.graphql_query_file) {
            Some(path) => Query::from_file(&path)?,
            None => Query::builtin(),
        };
        let s = Settings {
            api: d.api(),
            endpoints: d.endpoints(),
            client_id: d.client_id.clone(),
            client_secret,
            query,
            ca_pem,
            concurrency: l.concurrency as usize,
            batch_size: l.batch_size as usize,
            timeout: Duration::from_secs(l.timeout_secs),
            retries: l.retries,
            rate_limit_per_sec: l.rate_limit_per_sec,
            backoff: Backoff::default(),
            auth_grace: Duration::from_secs(d.auth_grace_secs),
            auth_backoff: AUTH_BACKOFF,
            confirm_linger: CONFIRM_LINGER,
        };
        Ok(s)
    }

    /// Whether the client certificate is needed: for REST (mutual TLS) and for the
    /// OAuth certificate; GraphQL with a shared secret goes without.
    pub fn needs_certificate(&self) -> bool {
        self.api == Api::Rest || self.client_secret.is_none()
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
        if self.api == Api::Graphql && self.batch_size > MAX_IN_LIST {
            return Err(Error::BatchTooLarge {
                batch_size: self.batch_size,
                max: MAX_IN_LIST,
            });
        }
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
    identity_not_after: Option<DateTime<Utc>>,
    /// Since when `DAF-AUTH-0005` has been answered without a success in between.
    refused_since: std::sync::Mutex<Option<Instant>>,
    pool: Pool,
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
    /// A client for `settings`, presenting `identity` (required unless GraphQL runs
    /// with a shared secret, [`Settings::needs_certificate`]).
    pub fn new(settings: Settings, identity: Option<&ClientIdentity>) -> Result<Client, Error> {
        settings.validate()?;
        if identity.is_none() && settings.needs_certificate() {
            return Err(Error::Config {
                key: "certificate.p12",
                problem: format!(
                    "no client certificate: {} needs one (only GraphQL with client_secret_file goes without)",
                    match settings.api {
                        Api::Rest => "REST (mutual TLS)",
                        Api::Graphql => "the OAuth certificate",
                    }
                ),
            });
        }
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
        let pool = Pool::new(settings.confirm_linger);
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                tokens,
                settings,
                identity_not_after: identity.map(|i| i.not_after),
                refused_since: std::sync::Mutex::new(None),
                pool,
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

    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Our certificate's SHA-1 thumbprint, for hints; `None` without a client
    /// certificate (GraphQL with a shared secret).
    pub fn thumbprint(&self) -> Option<&str> {
        self.inner.transport.thumbprint()
    }

    /// When our client certificate expires; `None` without one (a shared secret's
    /// expiry is not known to cprlink: `cprlink onboard status` tracks it).
    pub fn identity_not_after(&self) -> Option<DateTime<Utc>> {
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

    /// One request for `cprs` (REST `wi`/`eq` with paging, or one GraphQL `in` list),
    /// with 401 `DAF-AUTH-0005` retried for `auth_grace` (from the first such answer
    /// in a row, for every task together), and the counters kept.
    pub(crate) async fn ask(&self, cprs: &[Cpr]) -> Result<Vec<Person>, Error> {
        let s = &self.inner.settings;
        let mut attempt = 0u32;
        loop {
            let result = match s.api {
                Api::Rest => crate::rest::lookup(&self.inner.transport, &s.endpoints, cprs).await,
                Api::Graphql => {
                    crate::graphql::lookup(
                        &self.inner.transport,
                        &self.inner.tokens,
                        &s.endpoints.graphql_url,
                        s.query.text(),
                        cprs,
                    )
                    .await
                }
            };
            match result {
                Ok(persons) => {
                    *self.refused_since() = None;
                    self.stats().any_success.store(true, Ordering::Relaxed);
                    self.stats().auth_failing.store(false, Ordering::Relaxed);
                    return Ok(persons);
                }
                Err(Error::NotAllowlisted {
                    host,
                    code,
                    credential,
                    ..
                }) => {
                    let waited = self
                        .refused_since()
                        .get_or_insert_with(Instant::now)
                        .elapsed();
                    if waited >= s.auth_grace {
                        let e = Error::NotAllowlisted {
                            host,
                            code,
                            credential,
                            waited_secs: if s.auth_grace.is_zero() {
                                0
                            } else {
                                waited.as_secs().max(1)
                            },
                        };
                        return Err(self.counted(e));
                    }
                    // Equal jitter: never hammer, never all at once.
                    let pause = s
                        .auth_backoff
                        .delay(attempt, None, 0.5 + fastrand::f64() / 2.0)
                        .min(s.auth_grace - waited);
                    tracing::debug!(%host, attempt, ?pause, "401 DAF-AUTH-0005: new credentials are inert at first; retrying");
                    self.stats().auth_retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(pause).await;
                    attempt = attempt.saturating_add(1);
                }
                Err(e) => return Err(self.counted(e)),
            }
        }
    }

    fn refused_since(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.inner
            .refused_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn counted(&self, e: Error) -> Error {
        match e.kind() {
            ErrorKind::Auth => {
                self.stats().auth_errors.fetch_add(1, Ordering::Relaxed);
                self.stats().auth_failing.store(true, Ordering::Relaxed);
            }
            ErrorKind::Answer => {
                self.stats().answer_errors.fetch_add(1, Ordering::Relaxed);
            }
            ErrorKind::Usage
            | ErrorKind::Unavailable
            | ErrorKind::Interrupted
            | ErrorKind::Internal => {}
        }
        e
    }

    /// Looks up the persons of `cprs`: each number once, in requests of at most
    /// `batch_size` (normally one); a number missing from an answer is confirmed
    /// (`confirm`) before it is reported not found. The answer has one entry per asked
    /// number, in order.
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
        let size = self.inner.settings.batch_size.max(1);
        let mut found: Vec<Option<Person>> = Vec::with_capacity(unique.len());
        for chunk in unique.chunks(size) {
            found.extend(self.lookup_chunk(chunk).await?);
        }
        Ok(cprs
            .iter()
            .map(|c| index.get(c.as_str()).and_then(|&i| found[i].clone()))
            .collect())
    }

    /// One request of distinct numbers, then the confirmation of those it lacks.
    async fn lookup_chunk(&self, chunk: &[Cpr]) -> Result<Vec<Option<Person>>, Error> {
        // While it is in flight, and until its missing numbers are in the pool, its
        // answer may add numbers there.
        let producer = Producer::start(self);
        let persons = self.ask(chunk).await?;
        // No persons at all is conclusive (a cap of zero is not a cap), and so is the
        // answer to a number asked alone.
        let conclusive = persons.is_empty() || chunk.len() == 1;
        let mut found = assign(chunk, persons);
        if conclusive {
            return Ok(found);
        }
        let missing: Vec<Cpr> = chunk
            .iter()
            .zip(&found)
            .filter(|(_, p)| p.is_none())
            .map(|(c, _)| *c)
            .collect();
        if missing.is_empty() {
            return Ok(found);
        }
        self.stats()
            .reasked
            .fetch_add(missing.len() as u64, Ordering::Relaxed);
        let outcomes =
            confirm::confirm(self, &missing, self.inner.settings.batch_size, producer).await;
        let mut outcomes = outcomes.into_iter();
        for slot in found.iter_mut().filter(|p| p.is_none()) {
            match outcomes.next() {
                Some(Ok(person)) => *slot = person,
                Some(Err(shared)) => {
                    return Err(Arc::try_unwrap(shared).unwrap_or_else(|e| e.duplicate()));
                }
                None => {
                    return Err(Error::TaskLost {
                        what: "the confirmation of numbers missing from a batch answer",
                    });
                }
            }
        }
        Ok(found)
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
pub(crate) fn assign(asked: &[Cpr], persons: Vec<Person>) -> Vec<Option<Person>> {
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
