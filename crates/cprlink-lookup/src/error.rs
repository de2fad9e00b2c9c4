//! The one error type of `cprlink-lookup`, in the user's terms.
//!
//! Variants say what went wrong and carry, as structured facts, what the binary needs
//! for a hint: the TLS alert, the `DAF-*` code, which [`Credential`] was shown (with
//! our certificate's thumbprint), and through [`Error::revisit`] which part of the
//! onboarding to revisit ([`Revisit`], the same on both routes). The hints themselves
//! are worded by the binary, which knows the route. Variants never carry a secret, a
//! CPR number, a URL with a CPR number in it, or a full server response: at most a
//! short excerpt passed through [`excerpt`].

use std::fmt;
use std::path::PathBuf;

/// A TLS alert the server sent while refusing our client certificate (RFC 8446 6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsAlert {
    /// 40: no common ground, often a missing client certificate on older servers.
    HandshakeFailure,
    /// 42.
    BadCertificate,
    /// 43.
    UnsupportedCertificate,
    /// 44.
    CertificateRevoked,
    /// 45.
    CertificateExpired,
    /// 46.
    CertificateUnknown,
    /// 48: the server does not know the CA that issued our certificate.
    UnknownCa,
    /// 49.
    AccessDenied,
    /// 116: the server wanted a client certificate and got none.
    CertificateRequired,
    Other(u16),
}

impl TlsAlert {
    pub fn from_number(n: u16) -> TlsAlert {
        match n {
            40 => TlsAlert::HandshakeFailure,
            42 => TlsAlert::BadCertificate,
            43 => TlsAlert::UnsupportedCertificate,
            44 => TlsAlert::CertificateRevoked,
            45 => TlsAlert::CertificateExpired,
            46 => TlsAlert::CertificateUnknown,
            48 => TlsAlert::UnknownCa,
            49 => TlsAlert::AccessDenied,
            116 => TlsAlert::CertificateRequired,
            n => TlsAlert::Other(n),
        }
    }

    pub fn number(&self) -> u16 {
        match self {
            TlsAlert::HandshakeFailure => 40,
            TlsAlert::BadCertificate => 42,
            TlsAlert::UnsupportedCertificate => 43,
            TlsAlert::CertificateRevoked => 44,
            TlsAlert::CertificateExpired => 45,
            TlsAlert::CertificateUnknown => 46,
            TlsAlert::UnknownCa => 48,
            TlsAlert::AccessDenied => 49,
            TlsAlert::CertificateRequired => 116,
            TlsAlert::Other(n) => *n,
        }
    }

    /// What the alert means for the operator's certificate.
    pub fn meaning(&self) -> &'static str {
        match self {
            TlsAlert::UnknownCa => {
                "unknown CA: the server does not trust our certificate's issuer (the intermediate CA is missing from the .p12, or it is a test certificate used against production or the other way round)"
            }
            TlsAlert::CertificateExpired => {
                "certificate expired: our client certificate is out of date"
            }
            TlsAlert::BadCertificate => {
                "bad certificate: the server rejected our client certificate"
            }
            TlsAlert::CertificateRequired => {
                "certificate required: the server got no client certificate from us"
            }
            TlsAlert::CertificateRevoked => {
                "certificate revoked: our client certificate was revoked"
            }
            TlsAlert::UnsupportedCertificate => {
                "unsupported certificate: the server cannot use our certificate's type or key usage"
            }
            TlsAlert::CertificateUnknown => {
                "certificate unknown: the server could not accept our certificate"
            }
            TlsAlert::HandshakeFailure => {
                "handshake failure: the server ended the handshake (often a missing or unacceptable client certificate)"
            }
            TlsAlert::AccessDenied => "access denied: the server refused our certificate",
            TlsAlert::Other(_) => "the server ended the handshake",
        }
    }
}

impl fmt::Display for TlsAlert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS alert {}, {}", self.number(), self.meaning())
    }
}

/// The credential Datafordeler was shown when it refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// Our client certificate (mutual TLS, or OAuth with the certificate), by its SHA-1
    /// thumbprint (upper-case hex): what Datafordeler registers.
    Certificate { thumbprint: String },
    /// The OAuth shared secret of `client_secret_file`.
    SharedSecret,
}

/// The part of the onboarding a refusal points back to. The same on both routes: the
/// binary names the step of the route the config is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revisit {
    /// The credential registered at Datafordeler for this client (the certificate or
    /// shared secret, and the client id it belongs to).
    Credential,
    /// This machine's fixed external IPv4 address on Datafordeler's allowlist.
    IpAllowlist,
    /// The CPR approval and the access to CPR data it grants.
    DataAccess,
    /// The .p12 installed for DPG: its certificate and its chain.
    Handover,
}

/// A failure that a retry might cure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transient {
    Timeout,
    Connect(String),
    /// 5xx or 429.
    Status(u16),
    /// The connection broke while the answer was being read.
    Body(String),
}

impl Transient {
    /// The label used by metrics: `timeout`, `connect`, `http_5xx`, `http_429`, `body`.
    pub fn kind(&self) -> &'static str {
        match self {
            Transient::Timeout => "timeout",
            Transient::Connect(_) => "connect",
            Transient::Status(429) => "http_429",
            Transient::Status(_) => "http_5xx",
            Transient::Body(_) => "body",
        }
    }
}

impl fmt::Display for Transient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transient::Timeout => f.write_str("timed out"),
            Transient::Connect(why) => write!(f, "cannot connect ({why})"),
            Transient::Status(429) => f.write_str("HTTP 429 Too Many Requests"),
            Transient::Status(code) => write!(f, "HTTP {code}"),
            Transient::Body(why) => {
                write!(f, "the connection broke while reading the answer ({why})")
            }
        }
    }
}

/// Everything that can go wrong between a CPR number and a name.
///
/// Not `#[non_exhaustive]`: the binary maps every variant to an exit code and a hint
/// with no catch-all, so a new variant does not compile until both are decided.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A key is missing or unusable.
    #[error("config: {key}: {problem}")]
    Config { key: &'static str, problem: String },

    #[error("cannot use ca_file {}: {source}", path.display())]
    CaFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `ca_file` was read but holds nothing usable as trust anchors.
    #[error("cannot use ca_file {}: {reason}", path.display())]
    CaFileUnusable { path: PathBuf, reason: String },

    #[error("cannot read client_secret_file {}: {source}", path.display())]
    ClientSecret {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot read client_secret_file {}: the file is empty", path.display())]
    ClientSecretEmpty { path: PathBuf },

    /// The .p12 opened but cannot serve as a TLS client identity.
    #[error("the client certificate cannot be used: {reason}")]
    Identity { reason: String },

    /// A bug: the identity read from the .p12 could not be written out for TLS.
    #[error("cannot encode the client certificate for TLS: {source}")]
    IdentityEncoding {
        #[source]
        source: openssl::error::ErrorStack,
    },

    /// The server refused our client certificate (or the lack of one) during the TLS
    /// handshake.
    #[error("{host} refused {} in the TLS handshake ({alert})", if thumbprint.is_some() { "our client certificate" } else { "the connection (we have no client certificate: OAuth shared secret)" })]
    TlsRefused {
        host: String,
        alert: TlsAlert,
        /// Our certificate's SHA-1 thumbprint; `None` without a client certificate.
        thumbprint: Option<String>,
    },

    /// We do not trust the server's certificate.
    #[error("the server certificate of {host} is not trusted ({detail})")]
    ServerNotTrusted { host: String, detail: String },

    /// 401 `DAF-AUTH-0005` ("no authentication method found"): IP not allowlisted,
    /// credential not registered, or a credential too new to work yet.
    #[error(
        "{host} refused the call: HTTP 401 {code} (no authentication method found): this machine's IP address is not allowlisted, or the {} is not registered or too new to work yet{}",
        match credential { Credential::Certificate { .. } => "certificate", Credential::SharedSecret => "shared secret" },
        if *waited_secs > 0 { format!(" (still refused after retrying for {waited_secs} s)") } else { String::new() }
    )]
    NotAllowlisted {
        host: String,
        code: String,
        credential: Credential,
        /// How long it was retried before we gave up (`auth_grace_secs`); 0 when it
        /// was not retried.
        waited_secs: u64,
    },

    /// Any other 401.
    #[error("{host} refused the call: HTTP 401{}{}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(), excerpt_suffix(excerpt))]
    Unauthorized {
        host: String,
        /// The `DAF-*` code of the answer, if it has one.
        code: Option<String>,
        excerpt: String,
        credential: Credential,
    },

    /// 403, or `DAF-AUTH-0001` in a GraphQL error: we are known but have no access
    /// to the CPR data (the data access, or the CPR approval).
    #[error(
        "{host} refused the call: {} (authenticated, but without access to the CPR data){}",
        match (status, code.as_deref()) {
            (403, Some(c)) => format!("HTTP 403 {c}"),
            (403, None) => "HTTP 403".to_owned(),
            (s @ 200..=299, Some(c)) => format!("{c} in a GraphQL error (HTTP {s})"),
            (s, Some(c)) => format!("HTTP {s} {c}"),
            (s, None) => format!("HTTP {s}"),
        },
        excerpt_suffix(excerpt)
    )]
    Forbidden {
        host: String,
        /// 403, or the status of a GraphQL answer carrying `DAF-AUTH-0001`.
        status: u16,
        /// The `DAF-*` code of the answer, if it has one (`DAF-AUTH-0001`).
        code: Option<String>,
        excerpt: String,
    },

    /// The OAuth token endpoint said no.
    #[error(
        "the token endpoint {host} refused to issue a token: HTTP {status}{}",
        excerpt_suffix(excerpt)
    )]
    TokenRefused {
        host: String,
        status: u16,
        excerpt: String,
        /// What we asked with: the certificate or the shared secret.
        credential: Credential,
    },

    /// Transient failures that outlived the retries.
    #[error("{host} is unavailable: {last} (after {attempts} attempt{})", if *attempts == 1 { "" } else { "s" })]
    Unavailable {
        host: String,
        attempts: u32,
        last: Transient,
    },

    /// A 4xx that is neither 401, 403 nor 404: our request is wrong.
    #[error(
        "{host} rejected the request: HTTP {status}{}",
        excerpt_suffix(excerpt)
    )]
    Rejected {
        host: String,
        status: u16,
        excerpt: String,
    },

    /// An answer we cannot read.
    #[error("unexpected answer from {host}: {reason}")]
    Protocol { host: String, reason: String },

    /// The GraphQL server refused the query (`DAF-GQL-*` and other validation errors):
    /// its message, excerpted. Not an authentication problem (datafordeler.md 5.2).
    #[error("{host} refused the GraphQL query{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    QueryRejected {
        host: String,
        code: Option<String>,
        /// The server's message, passed through [`excerpt`].
        message: String,
    },

    /// `batch_size` (or `--batch-size`) larger than the API takes in one request.
    #[error(
        "batch size {batch_size} is too large for GraphQL: Datafordeler's GraphQL filters take at most {max} numbers in one `in` list (MaxListSize)"
    )]
    BatchTooLarge { batch_size: usize, max: usize },

    #[error("cannot read graphql_query_file {}: {source}", path.display())]
    QueryFileRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `graphql_query_file` is not a query cprlink can use.
    #[error("graphql_query_file {}: {problem}", path.display())]
    QueryFile { path: PathBuf, problem: String },

    #[error("cannot read or write the audit trail {}: {source}", path.display())]
    Audit {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The audit trail's key cannot be used, or sits where the log's readers find it.
    #[error("audit trail key {}: {problem}", path.display())]
    AuditKey { path: PathBuf, problem: String },

    /// A trail of an older cprlink (salted hashes, no chain): not continued.
    #[error(
        "the audit trail {} is in the old format (salted hashes, no chain): cprlink does not add keyed, chained entries to it",
        path.display()
    )]
    AuditOldFormat { path: PathBuf },

    /// An audit trail that cannot be read or continued.
    #[error("the audit trail {}: line {line}: {problem}", path.display())]
    AuditFormat {
        path: PathBuf,
        line: u64,
        problem: String,
    },

    /// Reading the input or writing the output of a batch.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },

    /// The input file is not one CPR per line nor a CSV we can read.
    #[error("{0}")]
    Input(String),

    /// The earlier output taken up (`--resume`, `--retry-errors`) is not cprlink's
    /// output of this input: found before anything was written.
    #[error("{0}")]
    Earlier(String),

    #[error("interrupted")]
    Interrupted,

    /// A bug: the HTTP client did not build from checked settings.
    #[error("cannot start the HTTP client: {source}")]
    HttpClient {
        /// Without its URL (`reqwest::Error::without_url`). Shared, so that one failed
        /// request can answer every batch waiting on it ([`Error::duplicate`]).
        #[source]
        source: std::sync::Arc<reqwest::Error>,
    },

    /// A bug: a request could not be built.
    #[error("cannot build the request: {source}")]
    BuildRequest {
        /// Without its URL, which may hold CPR numbers.
        #[source]
        source: std::sync::Arc<reqwest::Error>,
    },

    /// A bug: the HTTP client's TLS configuration did not build from checked settings.
    #[error("cannot set up TLS for the HTTP client: {source}")]
    TlsConfig {
        #[source]
        source: rustls::Error,
    },

    /// A bug: the doctor's own TLS handshake could not be set up from our identity.
    #[error("cannot set up the TLS check: {source}")]
    TlsSetup {
        #[source]
        source: openssl::error::ErrorStack,
    },

    /// A bug: a lookup task ended without an answer (it panicked).
    #[error("a lookup task failed: {source}")]
    TaskFailed {
        #[source]
        source: tokio::task::JoinError,
    },

    /// A bug: a task the lookup waited for ended without an answer (the confirmation
    /// of numbers missing from a batch answer, or a copy of a [`Error::TaskFailed`]).
    #[error("a lookup task ended without an answer: {what}")]
    TaskLost { what: &'static str },

    /// `serve` on a non-loopback address without a Bearer token.
    #[error(
        "refusing to serve CPR data on {addr} without a Bearer token: the address is reachable from other machines"
    )]
    TokenRequired { addr: std::net::SocketAddr },

    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

fn excerpt_suffix(excerpt: &str) -> String {
    if excerpt.is_empty() {
        String::new()
    } else {
        format!(": {excerpt}")
    }
}

/// What kind of failure, for exit codes and for the batch runner's decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad config, input or local files: exit 2.
    Usage,
    /// TLS refusal, 401, 403, token refused: stop at once, exit 3.
    Auth,
    /// Network, timeout, 5xx/429 after retries: exit 4 (or `error` rows).
    Unavailable,
    /// The server answered something we cannot use: `error` rows.
    Answer,
    Interrupted,
    /// A bug in cprlink: stop, exit 5.
    Internal,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config { .. }
            | Error::CaFile { .. }
            | Error::CaFileUnusable { .. }
            | Error::ClientSecret { .. }
            | Error::ClientSecretEmpty { .. }
            | Error::Identity { .. }
            | Error::BatchTooLarge { .. }
            | Error::QueryFileRead { .. }
            | Error::QueryFile { .. }
            | Error::Audit { .. }
            | Error::AuditKey { .. }
            | Error::AuditOldFormat { .. }
            | Error::AuditFormat { .. }
            | Error::Io { .. }
            | Error::Input(_)
            | Error::Earlier(_)
            | Error::TokenRequired { .. }
            | Error::Listen { .. } => ErrorKind::Usage,
            Error::TlsRefused { .. }
            | Error::ServerNotTrusted { .. }
            | Error::NotAllowlisted { .. }
            | Error::Unauthorized { .. }
            | Error::Forbidden { .. }
            | Error::TokenRefused { .. } => ErrorKind::Auth,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::Rejected { .. } | Error::Protocol { .. } | Error::QueryRejected { .. } => {
                ErrorKind::Answer
            }
            Error::Interrupted => ErrorKind::Interrupted,
            Error::IdentityEncoding { .. }
            | Error::HttpClient { .. }
            | Error::BuildRequest { .. }
            | Error::TlsConfig { .. }
            | Error::TlsSetup { .. }
            | Error::TaskFailed { .. }
            | Error::TaskLost { .. } => ErrorKind::Internal,
        }
    }

    /// Which parts of the onboarding to revisit, most likely first; empty when the
    /// error is not about the onboarding (config, network, a bug).
    pub fn revisit(&self) -> &'static [Revisit] {
        use Revisit::{Credential, DataAccess, Handover, IpAllowlist};
        match self {
            Error::TlsRefused { alert, .. } => match alert {
                TlsAlert::UnknownCa => &[Handover],
                // A new certificate: registered again, handed over again.
                TlsAlert::CertificateExpired | TlsAlert::CertificateRevoked => {
                    &[Credential, Handover]
                }
                TlsAlert::HandshakeFailure
                | TlsAlert::BadCertificate
                | TlsAlert::UnsupportedCertificate
                | TlsAlert::CertificateUnknown
                | TlsAlert::AccessDenied
                | TlsAlert::CertificateRequired
                | TlsAlert::Other(_) => &[Credential],
            },
            // Datafordeler does not say which of the two it is (datafordeler.md 1.3).
            Error::NotAllowlisted { .. } => &[IpAllowlist, Credential],
            Error::Unauthorized { .. } => &[Credential, IpAllowlist],
            Error::Forbidden { .. } => &[DataAccess],
            // A token endpoint refusing a call from an IP that is not allowlisted says
            // `invalid_client` like a wrong credential (the sandbox does; what
            // Datafordeler does there is unknown): both parts are possible.
            Error::TokenRefused { .. } => &[Credential, IpAllowlist],
            Error::Config { .. }
            | Error::CaFile { .. }
            | Error::CaFileUnusable { .. }
            | Error::ClientSecret { .. }
            | Error::ClientSecretEmpty { .. }
            | Error::Identity { .. }
            | Error::IdentityEncoding { .. }
            | Error::ServerNotTrusted { .. }
            | Error::Unavailable { .. }
            | Error::Rejected { .. }
            | Error::Protocol { .. }
            | Error::QueryRejected { .. }
            | Error::BatchTooLarge { .. }
            | Error::QueryFileRead { .. }
            | Error::QueryFile { .. }
            | Error::Audit { .. }
            | Error::AuditKey { .. }
            | Error::AuditOldFormat { .. }
            | Error::AuditFormat { .. }
            | Error::Io { .. }
            | Error::Input(_)
            | Error::Earlier(_)
            | Error::Interrupted
            | Error::HttpClient { .. }
            | Error::BuildRequest { .. }
            | Error::TlsConfig { .. }
            | Error::TlsSetup { .. }
            | Error::TaskFailed { .. }
            | Error::TaskLost { .. }
            | Error::TokenRequired { .. }
            | Error::Listen { .. } => &[],
        }
    }

    /// The same error again, for the second and later batches that waited on one
    /// request (the pooled confirmation of missing numbers). I/O errors keep their kind
    /// and text; a panicked task becomes [`Error::TaskLost`].
    pub fn duplicate(&self) -> Error {
        let io = |e: &std::io::Error| std::io::Error::new(e.kind(), e.to_string());
        match self {
            Error::Config { key, problem } => Error::Config {
                key,
                problem: problem.clone(),
            },
            Error::CaFile { path, source } => Error::CaFile {
                path: path.clone(),
                source: io(source),
            },
            Error::CaFileUnusable { path, reason } => Error::CaFileUnusable {
                path: path.clone(),
                reason: reason.clone(),
            },
            Error::ClientSecret { path, source } => Error::ClientSecret {
                path: path.clone(),
                source: io(source),
            },
            Error::ClientSecretEmpty { path } => Error::ClientSecretEmpty { path: path.clone() },
            Error::Identity { reason } => Error::Identity {
                reason: reason.clone(),
            },
            Error::IdentityEncoding { source } => Error::IdentityEncoding {
                source: source.clone(),
            },
            Error::TlsRefused {
                host,
                alert,
                thumbprint,
            } => Error::TlsRefused {
                host: host.clone(),
                alert: alert.clone(),
                thumbprint: thumbprint.clone(),
            },
            Error::ServerNotTrusted { host, detail } => Error::ServerNotTrusted {
                host: host.clone(),
                detail: detail.clone(),
            },
            Error::NotAllowlisted {
                host,
                code,
                credential,
                waited_secs,
            } => Error::NotAllowlisted {
                host: host.clone(),
                code: code.clone(),
                credential: credential.clone(),
                waited_secs: *waited_secs,
            },
            Error::Unauthorized {
                host,
                code,
                excerpt,
                credential,
            } => Error::Unauthorized {
                host: host.clone(),
                code: code.clone(),
                excerpt: excerpt.clone(),
                credential: credential.clone(),
            },
            Error::Forbidden {
                host,
                status,
                code,
                excerpt,
            } => Error::Forbidden {
                host: host.clone(),
                status: *status,
                code: code.clone(),
                excerpt: excerpt.clone(),
            },
            Error::TokenRefused {
                host,
                status,
                excerpt,
                credential,
            } => Error::TokenRefused {
                host: host.clone(),
                status: *status,
                excerpt: excerpt.clone(),
                credential: credential.clone(),
            },
            Error::Unavailable {
                host,
                attempts,
                last,
            } => Error::Unavailable {
                host: host.clone(),
                attempts: *attempts,
                last: last.clone(),
            },
            Error::Rejected {
                host,
                status,
                excerpt,
            } => Error::Rejected {
                host: host.clone(),
                status: *status,
                excerpt: excerpt.clone(),
            },
            Error::Protocol { host, reason } => Error::Protocol {
                host: host.clone(),
                reason: reason.clone(),
            },
            Error::QueryRejected {
                host,
                code,
                message,
            } => Error::QueryRejected {
                host: host.clone(),
                code: code.clone(),
                message: message.clone(),
            },
            Error::BatchTooLarge { batch_size, max } => Error::BatchTooLarge {
                batch_size: *batch_size,
                max: *max,
            },
            Error::QueryFileRead { path, source } => Error::QueryFileRead {
                path: path.clone(),
                source: io(source),
            },
            Error::QueryFile { path, problem } => Error::QueryFile {
                path: path.clone(),
                problem: problem.clone(),
            },
            Error::Audit { path, source } => Error::Audit {
                path: path.clone(),
                source: io(source),
            },
            Error::AuditKey { path, problem } => Error::AuditKey {
                path: path.clone(),
                problem: problem.clone(),
            },
            Error::AuditOldFormat { path } => Error::AuditOldFormat { path: path.clone() },
            Error::AuditFormat {
                path,
                line,
                problem,
            } => Error::AuditFormat {
                path: path.clone(),
                line: *line,
                problem: problem.clone(),
            },
            Error::Io { what, source } => Error::Io {
                what: what.clone(),
                source: io(source),
            },
            Error::Input(text) => Error::Input(text.clone()),
            Error::Earlier(text) => Error::Earlier(text.clone()),
            Error::Interrupted => Error::Interrupted,
            Error::HttpClient { source } => Error::HttpClient {
                source: source.clone(),
            },
            Error::BuildRequest { source } => Error::BuildRequest {
                source: source.clone(),
            },
            Error::TlsConfig { source } => Error::TlsConfig {
                source: source.clone(),
            },
            Error::TlsSetup { source } => Error::TlsSetup {
                source: source.clone(),
            },
            Error::TaskFailed { .. } => Error::TaskLost {
                what: "a lookup task panicked",
            },
            Error::TaskLost { what } => Error::TaskLost { what },
            Error::TokenRequired { addr } => Error::TokenRequired { addr: *addr },
            Error::Listen { addr, source } => Error::Listen {
                addr: *addr,
                source: io(source),
            },
        }
    }
}

/// A short, safe piece of a server's answer for a message: CPR-looking digit runs
/// masked, control characters dropped, at most 160 characters.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let masked = mask_digit_runs(flat.trim());
    let mut out: String = masked.chars().take(160).collect();
    if masked.chars().count() > 160 {
        out.push('…');
    }
    out
}

/// Replaces every run of exactly ten digits (or six, `-`, four) with its masked form.
pub fn mask_digit_runs(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_digit()) {
            let mut j = i;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            let run = j - i;
            let dashed = run == 6
                && chars.get(j) == Some(&'-')
                && j + 5 <= chars.len()
                && chars[j + 1..j + 5].iter().all(char::is_ascii_digit)
                && chars.get(j + 5).is_none_or(|c| !c.is_ascii_digit());
            if run == 10 || dashed {
                out.extend(&chars[i..i + 6]);
                out.push_str("-xxxx");
                i = if dashed { j + 5 } else { j };
                continue;
            }
            out.extend(&chars[i..j]);
            i = j;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_mask_cpr_numbers_and_stay_short() {
        assert_eq!(
            mask_digit_runs("no person 0101011234 here"),
            "no person 010101-xxxx here"
        );
        assert_eq!(mask_digit_runs("x 010101-1234."), "x 010101-xxxx.");
        assert_eq!(
            mask_digit_runs("code 401 and 12345678901"),
            "code 401 and 12345678901"
        );
        let long = format!("{{\"detail\": \"{}\"}}", "a".repeat(500));
        assert!(excerpt(long.as_bytes()).chars().count() <= 161);
        assert_eq!(excerpt(b"line1\nline2"), "line1 line2");
    }

    #[test]
    fn alerts_explain_themselves() {
        assert_eq!(TlsAlert::from_number(48), TlsAlert::UnknownCa);
        assert!(TlsAlert::UnknownCa.to_string().contains("intermediate"));
        assert_eq!(TlsAlert::from_number(116).number(), 116);
    }
}
