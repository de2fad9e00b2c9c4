//! The transport under both back-ends: one reqwest client (one connection pool per
//! process) presenting our TLS identity (none with an OAuth shared secret), the bound
//! on requests in flight, the rate limit, the retry loop, and what a failure or a
//! refusal means.
//!
//! It knows nothing of CPR numbers, persons or the back-ends' formats: `rest`,
//! `graphql` and `token` build the requests and read the answers, and the facade in
//! `client` sits on top of them. It must never log or put into an error a CPR number or
//! a URL holding one (`reqwest::Error::without_url` before anything is turned into
//! text), and never weaken TLS verification: the TLS configuration (trust anchors,
//! our identity) comes from `tls`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderMap;
use tokio::sync::Semaphore;

use crate::error::{Credential, Error, TlsAlert, Transient, excerpt};
use crate::identity::ClientIdentity;
use crate::retry::{self, Backoff};

/// What the transport needs from the settings.
pub(crate) struct TransportOptions<'a> {
    pub timeout: Duration,
    /// Requests in flight, for every task together.
    pub concurrency: usize,
    pub retries: u32,
    /// Requests per second; 0 = unlimited.
    pub rate_limit_per_sec: u32,
    pub backoff: Backoff,
    /// The only trust anchors (PEM), from `ca_file`; `None` = the system's.
    pub ca_pem: Option<&'a [u8]>,
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
    /// 401 `DAF-AUTH-0005` answers retried within `auth_grace_secs`.
    pub auth_retries: AtomicU64,
    /// Numbers missing from a batch answer and asked again before `not_found`
    /// (each counted once, however often it was asked).
    pub reasked: AtomicU64,
    /// Requests sent to ask those numbers again (shared by every batch in flight).
    pub reask_requests: AtomicU64,
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

/// One connection pool and the rules every request follows.
pub(crate) struct Transport {
    http: reqwest::Client,
    permits: Semaphore,
    limiter: Option<RateLimiter>,
    retries: u32,
    backoff: Backoff,
    /// Our certificate's SHA-1 thumbprint, for the errors that concern it; `None`
    /// without a client certificate (GraphQL with a shared secret).
    thumbprint: Option<String>,
    stats: Stats,
}

impl Transport {
    pub(crate) fn new(
        identity: Option<&ClientIdentity>,
        o: TransportOptions<'_>,
    ) -> Result<Transport, Error> {
        let tls = crate::tls::client_config(identity, o.ca_pem)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(o.timeout)
            .connect_timeout(o.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(o.concurrency.max(1) * 2)
            .pool_idle_timeout(Duration::from_secs(50))
            .tcp_nodelay(true)
            // CPR answers are never redirected; a redirect would be a misconfiguration.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cprlink/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::HttpClient {
                source: e.without_url().into(),
            })?;
        let limiter = (o.rate_limit_per_sec > 0).then(|| RateLimiter {
            interval: Duration::from_secs_f64(1.0 / f64::from(o.rate_limit_per_sec)),
            next: std::sync::Mutex::new(Instant::now()),
        });
        Ok(Transport {
            http,
            permits: Semaphore::new(o.concurrency.max(1)),
            limiter,
            retries: o.retries,
            backoff: o.backoff,
            thumbprint: identity.map(|i| i.thumbprint.clone()),
            stats: Stats::default(),
        })
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Our certificate's SHA-1 thumbprint, for hints; `None` without one.
    pub(crate) fn thumbprint(&self) -> Option<&str> {
        self.thumbprint.as_deref()
    }

    /// Our certificate, as the credential a refusal names. Only asked where the
    /// certificate was presented (REST, the certificate token endpoint), which
    /// `Client::new` makes sure has one.
    pub(crate) fn certificate(&self) -> Credential {
        Credential::Certificate {
            thumbprint: self.thumbprint.clone().unwrap_or_default(),
        }
    }

    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Sends a request with the retry policy: transient failures (5xx, 429, timeouts,
    /// broken connections) are retried with backoff; everything else is returned.
    /// `host` names the server in messages; `make` builds a fresh request per attempt.
    pub(crate) async fn send(
        &self,
        host: &str,
        make: &(dyn Fn() -> reqwest::RequestBuilder + Send + Sync),
    ) -> Result<Answer, Error> {
        let mut retry = 0u32;
        loop {
            if let Some(l) = &self.limiter {
                l.wait().await;
            }
            let outcome = {
                let _permit = self
                    .permits
                    .acquire()
                    .await
                    .map_err(|_| Error::Interrupted)?;
                self.stats.requests.fetch_add(1, Ordering::Relaxed);
                attempt(make()).await
            };
            // The permit just freed wakes the next request onto this worker's slot, where
            // it would wait until our caller is done with the answer (parsing 20 persons
            // took about 0.9 ms: 2% of every 50 ms round trip). Let it go out first.
            tokio::task::yield_now().await;
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
                Err(e) => match classify(host, e, self.thumbprint.as_deref()) {
                    Failure::Fatal(err) => return Err(err),
                    Failure::Transient(t) => (t, None),
                },
            };
            self.stats.transient(&transient);
            tracing::debug!(host, retry, error = %transient, "transient failure");
            if retry >= self.retries {
                return Err(Error::Unavailable {
                    host: host.to_owned(),
                    attempts: retry + 1,
                    last: transient,
                });
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(self.backoff.delay(retry, retry_after, fastrand::f64())).await;
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

/// The text of `first` and every cause after it, joined with `: `, for messages and
/// (the doctor's OpenSSL handshake) recognising TLS alerts and failed verification in
/// OpenSSL's words. A reqwest error is stripped of its URL (it may hold CPR numbers)
/// before it gets here.
pub(crate) fn chain_text(first: Option<&(dyn std::error::Error + 'static)>) -> String {
    let mut parts = Vec::new();
    let mut cur = first;
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

fn classify(host: &str, e: reqwest::Error, thumbprint: Option<&str>) -> Failure {
    let e = e.without_url();
    match crate::tls::failure_in(&e) {
        Some(crate::tls::Failure::NotTrusted(detail)) => {
            return Failure::Fatal(Error::ServerNotTrusted {
                host: host.to_owned(),
                detail,
            });
        }
        Some(crate::tls::Failure::Alert(alert)) => {
            return Failure::Fatal(Error::TlsRefused {
                host: host.to_owned(),
                alert,
                thumbprint: thumbprint.map(str::to_owned),
            });
        }
        None => {}
    }
    // The causes only: reqwest's own message says no more than "error sending request".
    let text = chain_text(std::error::Error::source(&e));
    let short = shorten(&text);
    if e.is_timeout() {
        Failure::Transient(Transient::Timeout)
    } else if e.is_connect() {
        Failure::Transient(Transient::Connect(short))
    } else if e.is_builder() {
        Failure::Fatal(Error::BuildRequest { source: e.into() })
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

/// `DAF-AUTH-0005`: no authentication method found (datafordeler.md 5.2).
pub(crate) const NO_AUTHENTICATION: &str = "DAF-AUTH-0005";

/// `DAF-AUTH-0001`: authenticated, not authorised for this resource (5.2).
pub(crate) const NOT_AUTHORISED: &str = "DAF-AUTH-0001";

/// Maps an HTTP 401/403/4xx answer to the error it means; `credential` is what the
/// request was made with.
pub(crate) fn refusal(host: &str, answer: &Answer, credential: Credential) -> Error {
    let text = String::from_utf8_lossy(&answer.body);
    let code = daf_code(&text);
    match (answer.status, code.as_deref()) {
        (401, Some(NO_AUTHENTICATION)) => Error::NotAllowlisted {
            host: host.to_owned(),
            code: NO_AUTHENTICATION.to_owned(),
            credential,
            waited_secs: 0,
        },
        // The code says what it is, whatever the status: the data access.
        (401 | 403, Some(NOT_AUTHORISED)) | (403, _) => Error::Forbidden {
            host: host.to_owned(),
            status: answer.status,
            code,
            excerpt: excerpt(&answer.body),
        },
        (401, _) => Error::Unauthorized {
            host: host.to_owned(),
            code,
            excerpt: excerpt(&answer.body),
            credential,
        },
        (status, _) => Error::Rejected {
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
}
