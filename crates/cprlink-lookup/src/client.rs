//! The one interface over both back-ends (REST over mutual TLS, GraphQL with OAuth):
//! settings, the TLS identity, one connection pool per process, the bound on work in
//! flight, the rate limit, retries, and mapping batch answers back to the numbers asked.
//!
//! It must never log or put into an error a CPR number or a URL holding one
//! (`reqwest::Error::without_url` before anything is turned into text), and never
//! weaken TLS verification: extra trust comes only from `ca_file`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use cprlink_cert::Loaded;
use openssl::x509::X509;
use reqwest::header::HeaderMap;
use tokio::sync::Semaphore;

use crate::config::{Api, Config, Endpoints};
use crate::cpr::Cpr;
use crate::error::{Error, TlsAlert, Transient, excerpt};
use crate::person::Person;
use crate::record::Record;
use crate::retry::{self, Backoff};
use crate::token::TokenCache;

/// The client certificate and key, read once per process and kept as PEM for reqwest
/// (native-tls' own PKCS#12 reader fails on legacy RC2 files; `cprlink_cert::load`
/// does not).
#[derive(Clone)]
pub struct ClientIdentity {
    chain_pem: Vec<u8>,
    key_pem: Vec<u8>,
    /// SHA-1 thumbprint (upper-case hex): what Datafordeler registers.
    pub thumbprint: String,
    pub subject: String,
    pub not_after: DateTime<Utc>,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("thumbprint", &self.thumbprint)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl ClientIdentity {
    /// From an opened .p12: the leaf and its key, plus the CA certificates that are not
    /// self-signed roots (the server has those; intermediates it may not).
    pub fn from_loaded(loaded: &Loaded) -> Result<ClientIdentity, Error> {
        let bad = |reason: String| Error::Identity { reason };
        let key = loaded
            .key
            .as_ref()
            .ok_or_else(|| bad("the file holds no private key".to_owned()))?;
        let leaf = loaded
            .leaf()
            .ok_or_else(|| bad("the file holds no certificate".to_owned()))?;
        let leaf_key = leaf
            .public_key()
            .map_err(|e| bad(format!("unreadable public key ({e})")))?;
        if !leaf_key.public_eq(key) {
            return Err(bad(
                "the private key does not match the certificate".to_owned()
            ));
        }
        let mut chain_pem = leaf.to_pem().map_err(|e| bad(e.to_string()))?;
        let leaf_der = leaf.to_der().map_err(|e| bad(e.to_string()))?;
        for cert in &loaded.certificates {
            if cert.to_der().ok().as_deref() == Some(leaf_der.as_slice()) || is_self_signed(cert) {
                continue;
            }
            chain_pem.extend(cert.to_pem().map_err(|e| bad(e.to_string()))?);
        }
        let key_pem = key
            .private_key_to_pem_pkcs8()
            .map_err(|e| bad(e.to_string()))?;
        let thumbprint =
            cprlink_cert::facts::sha1_thumbprint(leaf).map_err(|e| bad(e.to_string()))?;
        let not_after =
            cprlink_cert::facts::asn1_to_utc(leaf.not_after()).map_err(|e| bad(e.to_string()))?;
        Ok(ClientIdentity {
            chain_pem,
            key_pem,
            thumbprint,
            subject: short_subject(leaf),
            not_after,
        })
    }

    fn reqwest_identity(&self) -> Result<reqwest::Identity, Error> {
        reqwest::Identity::from_pkcs8_pem(&self.chain_pem, &self.key_pem).map_err(|e| {
            Error::Identity {
                reason: e.to_string(),
            }
        })
    }

    /// The certificate chain as PEM (leaf first), for the doctor's own handshake.
    pub fn chain_pem(&self) -> &[u8] {
        &self.chain_pem
    }

    /// The private key as PKCS#8 PEM, for the doctor's own handshake.
    pub fn key_pem(&self) -> &[u8] {
        &self.key_pem
    }
}

/// `CN=..., O=...`: enough to recognise a certificate in a message.
fn short_subject(cert: &X509) -> String {
    use cprlink_cert::facts::entry;
    use openssl::nid::Nid;
    let name = cert.subject_name();
    let parts: Vec<String> = [("CN", Nid::COMMONNAME), ("O", Nid::ORGANIZATIONNAME)]
        .iter()
        .filter_map(|(k, nid)| entry(name, *nid).map(|v| format!("{k}={v}")))
        .collect();
    if parts.is_empty() {
        cprlink_cert::testpki::name_text(name)
    } else {
        parts.join(", ")
    }
}

fn is_self_signed(cert: &X509) -> bool {
    match (cert.subject_name().to_der(), cert.issuer_name().to_der()) {
        (Ok(s), Ok(i)) => s == i,
        _ => false,
    }
}

/// Everything the client needs, resolved from the config (and the command's flags).
#[derive(Clone)]
pub struct Settings {
    pub api: Api,
    pub endpoints: Endpoints,
    pub client_id: String,
    /// Shared-secret OAuth; `None` = the certificate variant.
    pub client_secret: Option<String>,
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
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
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
                let pem = std::fs::read(&path).map_err(|e| Error::CaFile {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                if X509::stack_from_pem(&pem)
                    .map(|v| v.is_empty())
                    .unwrap_or(true)
                {
                    return Err(Error::CaFile {
                        path,
                        reason: "no PEM certificate in it".to_owned(),
                    });
                }
                Some(pem)
            }
            None => None,
        };
        let client_secret = match crate::config::resolve_path(base_dir, &d.client_secret_file) {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| Error::ClientSecret {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                let secret = text.lines().next().unwrap_or("").trim().to_owned();
                if secret.is_empty() {
                    return Err(Error::ClientSecret {
                        path,
                        reason: "the file is empty".to_owned(),
                    });
                }
                Some(secret)
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

/// Counters for metrics and the batch runner's "could the service be reached at all".
#[derive(Debug, Default)]
pub struct Stats {
    /// HTTP requests sent (each attempt).
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub timeouts: AtomicU64,
    pub connect_errors: AtomicU64,
    pub body_errors: AtomicU64,
    pub http_5xx: AtomicU64,
    pub http_429: AtomicU64,
    pub auth_errors: AtomicU64,
    pub answer_errors: AtomicU64,
    /// At least one lookup got a usable answer.
    pub any_success: AtomicBool,
    /// The last request ended in an authentication failure (for `/readyz`).
    pub auth_failing: AtomicBool,
}

impl Stats {
    fn transient(&self, t: &Transient) {
        let c = match t {
            Transient::Timeout => &self.timeouts,
            Transient::Connect(_) => &self.connect_errors,
            Transient::Body(_) => &self.body_errors,
            Transient::Status(429) => &self.http_429,
            Transient::Status(_) => &self.http_5xx,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// `(kind, count)` of upstream errors, for `/metrics`.
    pub fn error_counts(&self) -> [(&'static str, u64); 7] {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        [
            ("timeout", g(&self.timeouts)),
            ("connect", g(&self.connect_errors)),
            ("body", g(&self.body_errors)),
            ("http_5xx", g(&self.http_5xx)),
            ("http_429", g(&self.http_429)),
            ("auth", g(&self.auth_errors)),
            ("answer", g(&self.answer_errors)),
        ]
    }
}

/// An HTTP answer read in full.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Spaces requests at most `rate` per second, shared by every task.
struct RateLimiter {
    interval: Duration,
    next: std::sync::Mutex<Instant>,
}

impl RateLimiter {
    async fn wait(&self) {
        let at = {
            let Ok(mut next) = self.next.lock() else {
                return;
            };
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
    }
}

struct Inner {
    http: reqwest::Client,
    settings: Settings,
    thumbprint: String,
    identity_not_after: DateTime<Utc>,
    permits: Semaphore,
    limiter: Option<RateLimiter>,
    pub(crate) token: TokenCache,
    stats: Stats,
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
        let mut builder = reqwest::Client::builder()
            .identity(identity.reqwest_identity()?)
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(settings.concurrency.max(1) * 2)
            .pool_idle_timeout(Duration::from_secs(50))
            .tcp_nodelay(true)
            // CPR answers are never redirected; a redirect would be a misconfiguration.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cprlink/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &settings.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| Error::HttpClient(format!("ca_file: {}", e.without_url())))?;
            // SPEC: extra trust anchors, next to the system's roots.
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| Error::HttpClient(e.without_url().to_string()))?;
        let limiter = (settings.rate_limit_per_sec > 0).then(|| RateLimiter {
            interval: Duration::from_secs_f64(1.0 / f64::from(settings.rate_limit_per_sec)),
            next: std::sync::Mutex::new(Instant::now()),
        });
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                permits: Semaphore::new(settings.concurrency.max(1)),
                settings,
                thumbprint: identity.thumbprint.clone(),
                identity_not_after: identity.not_after,
                limiter,
                token: TokenCache::default(),
                stats: Stats::default(),
            }),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub(crate) fn token_cache(&self) -> &TokenCache {
        &self.inner.token
    }

    /// Our certificate's SHA-1 thumbprint, for hints.
    pub fn thumbprint(&self) -> &str {
        &self.inner.thumbprint
    }

    /// When our client certificate expires.
    pub fn identity_not_after(&self) -> DateTime<Utc> {
        self.inner.identity_not_after
    }

    /// Gets (or reuses) a GraphQL access token: proves the token endpoint accepts us.
    pub async fn ensure_token(&self) -> Result<(), Error> {
        match self.inner.settings.api {
            Api::Graphql => crate::token::get(self, false).await.map(|_| ()),
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
            Api::Rest => crate::rest::lookup(self, &unique).await,
            Api::Graphql => crate::graphql::lookup(self, &unique).await,
        };
        let persons = match result {
            Ok(p) => p,
            Err(e) => {
                match e.kind() {
                    crate::error::ErrorKind::Auth => {
                        self.inner.stats.auth_errors.fetch_add(1, Ordering::Relaxed);
                        self.inner.stats.auth_failing.store(true, Ordering::Relaxed);
                    }
                    crate::error::ErrorKind::Answer => {
                        self.inner
                            .stats
                            .answer_errors
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
                return Err(e);
            }
        };
        self.inner.stats.any_success.store(true, Ordering::Relaxed);
        self.inner
            .stats
            .auth_failing
            .store(false, Ordering::Relaxed);
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

    /// Sends a request with the retry policy: transient failures (5xx, 429, timeouts,
    /// broken connections) are retried with backoff; everything else is returned.
    /// `host` names the server in messages; `make` builds a fresh request per attempt.
    pub(crate) async fn send(
        &self,
        host: &str,
        make: &(dyn Fn() -> reqwest::RequestBuilder + Send + Sync),
    ) -> Result<Answer, Error> {
        let s = &self.inner.settings;
        let mut retry = 0u32;
        loop {
            if let Some(l) = &self.inner.limiter {
                l.wait().await;
            }
            let outcome = {
                let _permit = self
                    .inner
                    .permits
                    .acquire()
                    .await
                    .map_err(|_| Error::Interrupted)?;
                self.inner.stats.requests.fetch_add(1, Ordering::Relaxed);
                attempt(make()).await
            };
            let (transient, retry_after) = match outcome {
                Ok(answer) if retry::status_is_transient(answer.status) => {
                    let after = answer
                        .headers
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
                    (Transient::Status(answer.status), after)
                }
                Ok(answer) => return Ok(answer),
                Err(e) => match classify(host, &e, &self.inner.thumbprint) {
                    Failure::Fatal(err) => return Err(err),
                    Failure::Transient(t) => (t, None),
                },
            };
            self.inner.stats.transient(&transient);
            tracing::debug!(host, retry, error = %transient, "transient failure");
            if retry >= s.retries {
                return Err(Error::Unavailable {
                    host: host.to_owned(),
                    attempts: retry + 1,
                    last: transient,
                });
            }
            self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(s.backoff.delay(retry, retry_after, retry::jitter_unit())).await;
            retry += 1;
        }
    }
}

async fn attempt(req: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await?.to_vec();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

enum Failure {
    Fatal(Error),
    Transient(Transient),
}

/// The text of an error and all its causes, for recognising TLS alerts. The URL is
/// stripped first: it may hold CPR numbers.
fn chain_text(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = cur {
        parts.push(err.to_string());
        cur = err.source();
    }
    parts.join(": ")
}

/// A TLS alert in OpenSSL's words ("SSL alert number 48", "tlsv1 alert unknown ca").
pub(crate) fn tls_alert_in(text: &str) -> Option<TlsAlert> {
    let lower = text.to_ascii_lowercase();
    if let Some(pos) = lower.find("alert number ") {
        let digits: String = lower[pos + 13..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(n) = digits.parse::<u16>() {
            return Some(TlsAlert::from_number(n));
        }
    }
    let named = [
        ("alert unknown ca", 48),
        ("alert certificate expired", 45),
        ("alert bad certificate", 42),
        ("alert certificate required", 116),
        ("alert certificate revoked", 44),
        ("alert unsupported certificate", 43),
        ("alert certificate unknown", 46),
        ("alert handshake failure", 40),
        ("alert access denied", 49),
    ];
    named
        .iter()
        .find(|(needle, _)| lower.contains(needle))
        .map(|&(_, n)| TlsAlert::from_number(n))
}

/// Our side refusing the server's certificate.
pub(crate) fn server_not_trusted_in(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("certificate verify failed") {
        return None;
    }
    for reason in [
        "self-signed certificate in certificate chain",
        "self signed certificate in certificate chain",
        "unable to get local issuer certificate",
        "certificate has expired",
        "hostname mismatch",
        "ip address mismatch",
        "self-signed certificate",
        "self signed certificate",
    ] {
        if lower.contains(reason) {
            return Some(reason.to_owned());
        }
    }
    Some("certificate verify failed".to_owned())
}

fn classify(host: &str, e: &reqwest::Error, thumbprint: &str) -> Failure {
    let text = chain_text(e);
    if let Some(detail) = server_not_trusted_in(&text) {
        return Failure::Fatal(Error::ServerNotTrusted {
            host: host.to_owned(),
            detail,
        });
    }
    if let Some(alert) = tls_alert_in(&text) {
        return Failure::Fatal(Error::TlsRefused {
            host: host.to_owned(),
            alert,
            thumbprint: Some(thumbprint.to_owned()),
        });
    }
    let short = shorten(&text);
    if e.is_timeout() {
        Failure::Transient(Transient::Timeout)
    } else if e.is_connect() {
        Failure::Transient(Transient::Connect(short))
    } else if e.is_builder() {
        Failure::Fatal(Error::HttpClient("cannot build the request".to_owned()))
    } else {
        Failure::Transient(Transient::Body(short))
    }
}

/// The innermost cause, short: for `error` rows and messages.
fn shorten(text: &str) -> String {
    let last = text.rsplit(": ").next().unwrap_or(text);
    crate::error::mask_digit_runs(&last.chars().take(100).collect::<String>())
}

/// `host:port` of a URL, for messages (never the path or query).
pub fn host_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => "the server".to_owned(),
        },
        Err(_) => "the server".to_owned(),
    }
}

/// Maps an HTTP 401/403/4xx answer to the error it means.
pub(crate) fn refusal(host: &str, answer: &Answer, thumbprint: &str) -> Error {
    let text = String::from_utf8_lossy(&answer.body);
    let code = daf_code(&text);
    match answer.status {
        401 => {
            if code.as_deref() == Some("DAF-AUTH-0005") {
                Error::NotAllowlisted {
                    host: host.to_owned(),
                    code: "DAF-AUTH-0005".to_owned(),
                    thumbprint: Some(thumbprint.to_owned()),
                }
            } else {
                Error::Unauthorized {
                    host: host.to_owned(),
                    code,
                    excerpt: excerpt(&answer.body),
                }
            }
        }
        403 => Error::Forbidden {
            host: host.to_owned(),
            excerpt: excerpt(&answer.body),
        },
        status => Error::Rejected {
            host: host.to_owned(),
            status,
            excerpt: excerpt(&answer.body),
        },
    }
}

/// The first `DAF-XXXX-NNNN` code in a body (problem+json `code`, GraphQL
/// `extensions.code`, or plain text).
pub(crate) fn daf_code(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let start = text.find("DAF-")?;
    let mut end = start + 4;
    while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'-') {
        end += 1;
    }
    Some(text[start..end].to_owned())
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
    fn alerts_in_openssl_words() {
        let t = "error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:../ssl/record/rec_layer_s3.c:1605:SSL alert number 48";
        assert_eq!(tls_alert_in(t), Some(TlsAlert::UnknownCa));
        assert_eq!(
            tls_alert_in("ssl3_read_bytes:tlsv13 alert certificate required"),
            Some(TlsAlert::CertificateRequired)
        );
        assert_eq!(
            tls_alert_in("sslv3 alert certificate expired"),
            Some(TlsAlert::CertificateExpired)
        );
        assert_eq!(
            tls_alert_in("sslv3 alert bad certificate:SSL alert number 42"),
            Some(TlsAlert::BadCertificate)
        );
        assert_eq!(tls_alert_in("connection reset by peer"), None);
        assert_eq!(
            server_not_trusted_in(
                "certificate verify failed: (unable to get local issuer certificate)"
            )
            .as_deref(),
            Some("unable to get local issuer certificate")
        );
    }

    #[test]
    fn daf_codes_and_hosts() {
        assert_eq!(
            daf_code(r#"{"type":"x","code":"DAF-AUTH-0005","title":"No auth"}"#).as_deref(),
            Some("DAF-AUTH-0005")
        );
        assert_eq!(daf_code("nothing"), None);
        assert_eq!(
            host_of("https://127.0.0.1:8443/CPR/x?pnr.personnummer.eq=0101011234"),
            "127.0.0.1:8443"
        );
        assert_eq!(
            host_of("https://s5-certservices.datafordeler.dk/CPR"),
            "s5-certservices.datafordeler.dk"
        );
    }

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
