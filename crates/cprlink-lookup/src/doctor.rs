//! The go-live checks behind `cprlink doctor`, in order: config, certificate (or the
//! shared secret), DNS, TCP, TLS with the client certificate, the HTTP status of an
//! authenticated call, the GraphQL token, the GraphQL schema (every field the query
//! selects exists in `<graphql_url>/schema`, datafordeler.md 5.1), and one lookup of a
//! probe number.
//!
//! Owns the checks and what each failure means, as a [`Finding`] the binary words into
//! a fix (naming the step of the config's onboarding route). It stops at the first
//! failure that makes the rest meaningless and marks those as skipped. It never
//! prints; the probe number appears only masked.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::client::{Client, Settings};
use crate::config::{Api, Config};
use crate::cpr::Cpr;
use crate::error::Error;
use crate::identity::ClientIdentity;
use crate::query::{MissingField, QuerySource};
use crate::record::Status;
use crate::transport::{chain_text, host_of, refusal, server_not_trusted_in, tls_alert_in};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Warn,
    Fail,
    Skip,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
            CheckStatus::Skip => "skip",
        }
    }
}

/// The checks, in the order they run; serialised as the ids of the SPEC and docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    Config,
    Certificate,
    Dns,
    Tcp,
    Tls,
    Http,
    Token,
    /// GraphQL: every field the query selects is in the server's SDL.
    Schema,
    Lookup,
}

impl CheckId {
    /// Every check, in order.
    pub const ALL: [CheckId; 9] = [
        CheckId::Config,
        CheckId::Certificate,
        CheckId::Dns,
        CheckId::Tcp,
        CheckId::Tls,
        CheckId::Http,
        CheckId::Token,
        CheckId::Schema,
        CheckId::Lookup,
    ];

    /// The id as the SPEC writes it (the same as its JSON form).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::Config => "config",
            CheckId::Certificate => "certificate",
            CheckId::Dns => "dns",
            CheckId::Tcp => "tcp",
            CheckId::Tls => "tls",
            CheckId::Http => "http",
            CheckId::Token => "token",
            CheckId::Schema => "schema",
            CheckId::Lookup => "lookup",
        }
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that width and alignment apply (`{:<11}` in the report's columns).
        f.pad(self.as_str())
    }
}

/// What a failed or warning check found, for the binary to word what to do.
#[derive(Debug)]
pub enum Finding {
    /// The client failed as a lookup would: the fix is the lookup's hint.
    Failed(Error),
    /// `[certificate] p12` is not set.
    NoCertificate,
    /// The .p12 needs a password and the config names no source for one.
    PasswordMissing,
    /// The password from the config's sources does not open the .p12.
    WrongPassword,
    /// The .p12 does not open, or holds no usable identity: `cert verify` says why.
    CertificateUnusable { p12: PathBuf },
    /// Our certificate has expired: a new one is registered and handed over.
    CertificateExpired,
    /// Our certificate is not valid yet: the clock is wrong, or it is too new.
    CertificateNotYetValid,
    /// Fewer than 30 days are left: a renewal is due.
    CertificateExpiresSoon,
    /// The .p12 carries no intermediate CA.
    NoIntermediate,
    /// The server's name does not resolve.
    DnsFailed,
    /// Resolving took too long.
    DnsTimeout,
    /// No TCP connection to the server.
    TcpFailed,
    /// Connecting took too long.
    TcpTimeout,
    /// The chain works, but the probe number is unknown in this environment.
    ProbeNotFound,
    /// Fields the query selects that the server's schema lacks (renamed or dropped).
    SchemaFieldsMissing {
        missing: Vec<MissingField>,
        /// The query checked: the built-in one, or `graphql_query_file`.
        query: QuerySource,
    },
    /// The server publishes no schema we can read at `<graphql_url>/schema`, so the
    /// query could not be checked.
    SchemaUnavailable,
}

/// One line of the doctor's report.
#[derive(Debug)]
pub struct Check {
    pub id: CheckId,
    pub status: CheckStatus,
    pub detail: String,
    /// What a failure or warning found; `None` when there is nothing to fix.
    pub finding: Option<Finding>,
}

/// The whole report.
#[derive(Debug)]
pub struct Report {
    pub api: &'static str,
    pub ok: bool,
    pub checks: Vec<Check>,
}

/// What the doctor is given.
pub struct DoctorInput {
    pub config: Config,
    /// Relative paths in the config are taken from here.
    pub base_dir: PathBuf,
    /// Where the config came from, for the report.
    pub config_source: String,
    /// The .p12 password, resolved by the caller from the config's sources.
    pub password: Option<SecretString>,
    pub probe: Option<Cpr>,
}

struct Run {
    checks: Vec<Check>,
}

impl Run {
    fn push(
        &mut self,
        id: CheckId,
        status: CheckStatus,
        detail: impl Into<String>,
        finding: Option<Finding>,
    ) {
        self.checks.push(Check {
            id,
            status,
            detail: detail.into(),
            finding,
        });
    }

    fn fail_from(&mut self, id: CheckId, e: Error) {
        self.push(
            id,
            CheckStatus::Fail,
            e.to_string(),
            Some(Finding::Failed(e)),
        );
    }

    /// Marks every check after the failed one as skipped, saying why.
    fn stop(mut self, api: Api) -> Report {
        let failed = self.checks.last().map_or(CheckId::Config, |c| c.id);
        for id in CheckId::ALL.into_iter().skip(self.checks.len()) {
            self.push(
                id,
                CheckStatus::Skip,
                format!("not run: `{failed}` failed, so this check would say nothing"),
                None,
            );
        }
        self.finish(api)
    }

    fn finish(self, api: Api) -> Report {
        let ok = self.checks.iter().all(|c| c.status != CheckStatus::Fail);
        Report {
            api: api.as_str(),
            ok,
            checks: self.checks,
        }
    }
}

/// The host, port and whether the client certificate is presented, for the network
/// checks: REST's server, or for GraphQL the token endpoint (mutual TLS in the
/// certificate variant).
fn network_target(settings: &Settings) -> Result<(String, u16, String), Error> {
    let url = match settings.api {
        Api::Rest => &settings.endpoints.rest_base_url,
        Api::Graphql => &settings.endpoints.token_url,
    };
    let (host, port) = host_port(url).map_err(|problem| Error::Config {
        key: "datafordeler",
        problem,
    })?;
    Ok((host, port, url.clone()))
}

/// The host (an IPv6 address without its brackets) and port of a URL, as a TCP
/// connection takes them; HTTPS's 443 where the URL names none.
pub(crate) fn host_port(url: &str) -> Result<(String, u16), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Ok((host, parsed.port_or_known_default().unwrap_or(443)))
}

/// Runs the checks.
pub async fn run(input: DoctorInput) -> Report {
    let api = input.config.datafordeler.api();
    let mut run = Run { checks: Vec::new() };

    // 1. config
    let settings = match Settings::from_config(&input.config, &input.base_dir)
        .and_then(|s| s.validate().map(|()| s))
    {
        Ok(s) => s,
        Err(e) => {
            run.fail_from(CheckId::Config, e);
            return run.stop(api);
        }
    };
    let p12 = crate::config::resolve_path(&input.base_dir, &input.config.certificate.p12);
    let p12 = match (settings.needs_certificate(), p12) {
        (false, _) => None,
        (true, Some(p12)) => Some(p12),
        (true, None) => {
            run.push(
                CheckId::Config,
                CheckStatus::Fail,
                "[certificate] p12 is not set",
                Some(Finding::NoCertificate),
            );
            return run.stop(api);
        }
    };
    let target_url = match api {
        Api::Rest => format!(
            "{}{}",
            settings.endpoints.rest_base_url, settings.endpoints.rest_path
        ),
        Api::Graphql => settings.endpoints.graphql_url.clone(),
    };
    let query = match (api, settings.query.source()) {
        (Api::Graphql, QuerySource::File(path)) => {
            format!("; the query of graphql_query_file {}", path.display())
        }
        (Api::Graphql, QuerySource::Builtin) | (Api::Rest, _) => String::new(),
    };
    run.push(
        CheckId::Config,
        CheckStatus::Pass,
        format!(
            "{}; api {}; {}{query}",
            input.config_source,
            api.as_str(),
            host_of(&target_url)
        ),
        None,
    );

    // 2. certificate (or the shared secret, which Settings has read)
    let identity = match &p12 {
        None => {
            let file = crate::config::resolve_path(
                &input.base_dir,
                &input.config.datafordeler.client_secret_file,
            )
            .map(|p| p.display().to_string())
            .unwrap_or_default();
            run.push(
                CheckId::Certificate,
                CheckStatus::Pass,
                format!(
                    "no client certificate needed: GraphQL with the OAuth shared secret of client_secret_file {file}"
                ),
                None,
            );
            None
        }
        Some(p12) => {
            let password = input.password.as_ref().map(|p| p.expose_secret());
            match certificate(p12, password) {
                Ok((identity, status, detail, finding)) => {
                    run.push(CheckId::Certificate, status, detail, finding);
                    if status == CheckStatus::Fail {
                        return run.stop(api);
                    }
                    Some(identity)
                }
                Err((detail, finding)) => {
                    run.push(
                        CheckId::Certificate,
                        CheckStatus::Fail,
                        detail,
                        Some(finding),
                    );
                    return run.stop(api);
                }
            }
        }
    };

    // 3. DNS
    let (host, port, url) = match network_target(&settings) {
        Ok(t) => t,
        Err(e) => {
            run.fail_from(CheckId::Dns, e);
            return run.stop(api);
        }
    };
    let addrs: Vec<SocketAddr> = match tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(a)) => a.collect(),
        Ok(Err(e)) => {
            run.push(
                CheckId::Dns,
                CheckStatus::Fail,
                format!("{host} does not resolve: {e}"),
                Some(Finding::DnsFailed),
            );
            return run.stop(api);
        }
        Err(_) => {
            run.push(
                CheckId::Dns,
                CheckStatus::Fail,
                format!("resolving {host} timed out"),
                Some(Finding::DnsTimeout),
            );
            return run.stop(api);
        }
    };
    let Some(addr) = addrs.first().copied() else {
        run.push(
            CheckId::Dns,
            CheckStatus::Fail,
            format!("{host} has no address"),
            None,
        );
        return run.stop(api);
    };
    let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    run.push(
        CheckId::Dns,
        CheckStatus::Pass,
        format!("{host} -> {}", list.join(", ")),
        None,
    );

    // 4. TCP
    match tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(addr),
    )
    .await
    {
        Ok(Ok(_)) => run.push(
            CheckId::Tcp,
            CheckStatus::Pass,
            format!("connected to {addr}"),
            None,
        ),
        Ok(Err(e)) => {
            run.push(
                CheckId::Tcp,
                CheckStatus::Fail,
                format!("cannot connect to {addr}: {e}"),
                Some(Finding::TcpFailed),
            );
            return run.stop(api);
        }
        Err(_) => {
            run.push(
                CheckId::Tcp,
                CheckStatus::Fail,
                format!("connecting to {addr} timed out"),
                Some(Finding::TcpTimeout),
            );
            return run.stop(api);
        }
    }

    // 5. TLS with the client certificate
    let tls = {
        let identity = identity.clone();
        let ca = settings.ca_pem.clone();
        let host = host.clone();
        tokio::task::spawn_blocking(move || {
            tls_probe(addr, &host, identity.as_ref(), ca.as_deref())
        })
        .await
    };
    match tls {
        Ok(Ok(detail)) => run.push(CheckId::Tls, CheckStatus::Pass, detail, None),
        Ok(Err(e)) => {
            run.fail_from(CheckId::Tls, e);
            return run.stop(api);
        }
        Err(_) => {
            run.push(
                CheckId::Tls,
                CheckStatus::Fail,
                "the TLS check crashed",
                None,
            );
            return run.stop(api);
        }
    }

    let client = match Client::new(settings.clone(), identity.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            run.fail_from(CheckId::Http, e);
            return run.stop(api);
        }
    };

    // 6. HTTP status of an authenticated call; 7. token
    match api {
        Api::Rest => {
            // The method without a CPR number: the status alone says whether the
            // certificate and the IP are accepted (401/403) or not.
            let probe_url = format!("{url}{}?format=json", settings.endpoints.rest_path);
            let host = host_of(&url);
            let transport = client.transport();
            let http = transport.http().clone();
            let make = move || http.get(&probe_url);
            match transport.send(&host, &make).await {
                Ok(a) if matches!(a.status, 401 | 403) => {
                    run.fail_from(CheckId::Http, refusal(&host, &a, transport.certificate()));
                    return run.stop(api);
                }
                Ok(a) => run.push(
                    CheckId::Http,
                    CheckStatus::Pass,
                    format!(
                        "HTTP {} from {host}: the certificate and this IP address are accepted",
                        a.status
                    ),
                    None,
                ),
                Err(e) => {
                    run.fail_from(CheckId::Http, e);
                    return run.stop(api);
                }
            }
            run.push(
                CheckId::Token,
                CheckStatus::Skip,
                "REST uses the certificate itself; no token needed",
                None,
            );
        }
        Api::Graphql => {
            match client.tokens().get(client.transport(), true).await {
                Ok(_) => run.push(
                    CheckId::Http,
                    CheckStatus::Pass,
                    format!(
                        "{} issued a token to client_id {}",
                        host_of(&url),
                        settings.client_id
                    ),
                    None,
                ),
                Err(e) => {
                    run.fail_from(CheckId::Http, e);
                    return run.stop(api);
                }
            }
            // An empty `in` list: the GraphQL endpoint must accept the token.
            match graphql_accepts_token(&client).await {
                Ok(status) => run.push(
                    CheckId::Token,
                    CheckStatus::Pass,
                    format!(
                        "{} accepts the token (HTTP {status})",
                        host_of(&settings.endpoints.graphql_url)
                    ),
                    None,
                ),
                Err(e) => {
                    run.fail_from(CheckId::Token, e);
                    return run.stop(api);
                }
            }
        }
    }

    // 8. the schema
    match api {
        Api::Rest => run.push(
            CheckId::Schema,
            CheckStatus::Skip,
            "REST has no schema to check",
            None,
        ),
        Api::Graphql => {
            if schema(&mut run, &client).await == CheckStatus::Fail {
                return run.stop(api);
            }
        }
    }

    // 9. one lookup
    match input.probe {
        None => run.push(
            CheckId::Lookup,
            CheckStatus::Skip,
            "pass --probe-cpr CPR to look up one number",
            None,
        ),
        Some(cpr) => match client.lookup_records(&[cpr]).await {
            Ok(records) => match records.first().map(|r| r.status) {
                Some(Status::Found) => run.push(
                    CheckId::Lookup,
                    CheckStatus::Pass,
                    format!("{} found, with a name", cpr.masked()),
                    None,
                ),
                _ => run.push(
                    CheckId::Lookup,
                    CheckStatus::Warn,
                    format!("{} is not known to this environment", cpr.masked()),
                    Some(Finding::ProbeNotFound),
                ),
            },
            Err(e) => {
                run.fail_from(CheckId::Lookup, e);
                return run.stop(api);
            }
        },
    }
    run.finish(api)
}

/// `<graphql_url>/schema` (the SDL, datafordeler.md 5.1) checked against the fields
/// the query selects. A schema that cannot be had is a warning (the query may still
/// work); a field it lacks is a failure, named.
async fn schema(run: &mut Run, client: &Client) -> CheckStatus {
    let settings = client.settings();
    let url = format!(
        "{}/schema",
        settings.endpoints.graphql_url.trim_end_matches('/')
    );
    let host = host_of(&url);
    let which = match settings.query.source() {
        QuerySource::Builtin => "the built-in query".to_owned(),
        QuerySource::File(p) => format!("the query of graphql_query_file {}", p.display()),
    };
    let transport = client.transport();
    let sdl = match client.tokens().get(transport, false).await {
        Ok(token) => {
            let http = transport.http().clone();
            let target = url.clone();
            let make = move || http.get(&target).bearer_auth(&token);
            transport.send(&host, &make).await
        }
        Err(e) => Err(e),
    };
    let answer = match sdl {
        Ok(a) if (200..=299).contains(&a.status) => a,
        Ok(a) => {
            run.push(
                CheckId::Schema,
                CheckStatus::Warn,
                format!(
                    "{host} answered HTTP {} for /schema: {which} could not be checked",
                    a.status
                ),
                Some(Finding::SchemaUnavailable),
            );
            return CheckStatus::Warn;
        }
        Err(e) => {
            run.push(
                CheckId::Schema,
                CheckStatus::Warn,
                format!("{e}: {which} could not be checked"),
                Some(Finding::SchemaUnavailable),
            );
            return CheckStatus::Warn;
        }
    };
    let selected = settings.query.selected_fields();
    let sdl = String::from_utf8_lossy(&answer.body);
    match crate::query::missing_in_sdl(&selected, &sdl) {
        Err(reason) => {
            run.push(
                CheckId::Schema,
                CheckStatus::Warn,
                format!("{reason} ({host}/schema): {which} could not be checked"),
                Some(Finding::SchemaUnavailable),
            );
            CheckStatus::Warn
        }
        Ok(missing) if missing.is_empty() => {
            run.push(
                CheckId::Schema,
                CheckStatus::Pass,
                format!(
                    "every field {which} selects ({}) is in the schema at {host}",
                    selected.len()
                ),
                None,
            );
            CheckStatus::Pass
        }
        Ok(missing) => {
            let named: Vec<String> = missing
                .iter()
                .map(|m| format!("{} (no field on {})", m.path, m.on_type))
                .collect();
            run.push(
                CheckId::Schema,
                CheckStatus::Fail,
                format!(
                    "the schema at {host} lacks {} that {which} selects: {}",
                    if missing.len() == 1 {
                        "a field"
                    } else {
                        "fields"
                    },
                    named.join(", ")
                ),
                Some(Finding::SchemaFieldsMissing {
                    missing,
                    query: settings.query.source().clone(),
                }),
            );
            CheckStatus::Fail
        }
    }
}

async fn graphql_accepts_token(client: &Client) -> Result<u16, Error> {
    let url = client.settings().endpoints.graphql_url.clone();
    let host = host_of(&url);
    let transport = client.transport();
    let token = client.tokens().get(transport, false).await?;
    let body = serde_json::to_vec(&crate::graphql::body(client.settings().query.text(), &[]))
        .unwrap_or_default();
    let http = transport.http().clone();
    let make = move || {
        http.post(&url)
            .bearer_auth(&token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
    };
    let answer = transport.send(&host, &make).await?;
    if matches!(answer.status, 401 | 403) {
        return Err(refusal(
            &host,
            &answer,
            client.tokens().credential(transport),
        ));
    }
    Ok(answer.status)
}

type CertOutcome = (ClientIdentity, CheckStatus, String, Option<Finding>);

fn certificate(p12: &Path, password: Option<&str>) -> Result<CertOutcome, (String, Finding)> {
    let unusable = || Finding::CertificateUnusable {
        p12: p12.to_path_buf(),
    };
    let loaded = cprlink_cert::load(p12, password).map_err(|e| {
        let finding = match e {
            cprlink_cert::Error::PasswordRequired { .. } => Finding::PasswordMissing,
            cprlink_cert::Error::WrongPassword { .. } => Finding::WrongPassword,
            _ => unusable(),
        };
        (e.to_string(), finding)
    })?;
    let identity = ClientIdentity::from_loaded(&loaded).map_err(|e| (e.to_string(), unusable()))?;
    let now = chrono::Utc::now();
    let days = (identity.not_after - now).num_days();
    let intermediates = loaded.certificates.len().saturating_sub(1);
    let detail = format!(
        "{}; SHA-1 {}; expires {} ({} days); {} CA certificate(s) in the file",
        identity.subject,
        identity.thumbprint,
        identity.not_after.format("%Y-%m-%d"),
        days,
        intermediates
    );
    let not_before = loaded
        .leaf()
        .and_then(|c| cprlink_cert::facts::asn1_to_utc(c.not_before()).ok())
        .unwrap_or(now);
    let (status, finding) = if identity.not_after <= now {
        (CheckStatus::Fail, Some(Finding::CertificateExpired))
    } else if not_before > now {
        (CheckStatus::Fail, Some(Finding::CertificateNotYetValid))
    } else if days < 30 {
        (CheckStatus::Warn, Some(Finding::CertificateExpiresSoon))
    } else if intermediates == 0 {
        (CheckStatus::Warn, Some(Finding::NoIntermediate))
    } else {
        (CheckStatus::Pass, None)
    };
    Ok((identity, status, detail, finding))
}

/// A TLS handshake with the client certificate (none with a shared secret), then one
/// small request so that a refusal sent after the handshake (TLS 1.3 sends it with the
/// first read) is seen.
fn tls_probe(
    addr: SocketAddr,
    host: &str,
    identity: Option<&ClientIdentity>,
    ca_pem: Option<&[u8]>,
) -> Result<String, Error> {
    use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
    use std::io::{Read, Write};
    // Our own identity and the checked `ca_file` are read back here: a failure is a bug.
    let fail = |source| Error::TlsSetup { source };
    let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(fail)?;
    if let Some(identity) = identity {
        let chain = openssl::x509::X509::stack_from_pem(identity.chain_pem()).map_err(fail)?;
        let key = openssl::pkey::PKey::private_key_from_pem(identity.key_pem()).map_err(fail)?;
        let mut certs = chain.into_iter();
        let leaf = certs.next().ok_or_else(|| Error::Identity {
            reason: "the file holds no certificate".to_owned(),
        })?;
        b.set_certificate(&leaf).map_err(fail)?;
        for c in certs {
            b.add_extra_chain_cert(c).map_err(fail)?;
        }
        b.set_private_key(&key).map_err(fail)?;
    }
    if let Some(pem) = ca_pem {
        // As the transport (`tls`): with `ca_file` set, its CAs are the only anchors.
        let mut store = openssl::x509::store::X509StoreBuilder::new().map_err(fail)?;
        for c in openssl::x509::X509::stack_from_pem(pem).map_err(fail)? {
            store.add_cert(c).map_err(fail)?;
        }
        b.set_cert_store(store.build());
    }
    b.set_verify(SslVerifyMode::PEER);
    let connector = b.build();
    let tcp =
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| {
            Error::Unavailable {
                host: addr.to_string(),
                attempts: 1,
                last: crate::error::Transient::Connect(e.to_string()),
            }
        })?;
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = tcp.set_write_timeout(Some(Duration::from_secs(10)));
    let hostport = format!("{host}:{}", addr.port());
    let classify = |text: String| -> Error {
        if let Some(detail) = server_not_trusted_in(&text) {
            return Error::ServerNotTrusted {
                host: hostport.clone(),
                detail,
            };
        }
        if let Some(alert) = tls_alert_in(&text) {
            return Error::TlsRefused {
                host: hostport.clone(),
                alert,
                thumbprint: identity.map(|i| i.thumbprint.clone()),
            };
        }
        Error::Unavailable {
            host: hostport.clone(),
            attempts: 1,
            last: crate::error::Transient::Connect(crate::error::mask_digit_runs(&text)),
        }
    };
    let mut stream = connector
        .connect(host, tcp)
        .map_err(|e| classify(handshake_text(&e)))?;
    let version = stream.ssl().version_str().to_owned();
    let cipher = stream
        .ssl()
        .current_cipher()
        .map(|c| c.name().to_owned())
        .unwrap_or_default();
    let server = stream
        .ssl()
        .peer_certificate()
        .map(|c| cprlink_cert::facts::name_text(c.subject_name()))
        .unwrap_or_default();
    let request = format!("HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| classify(chain_text(Some(&e))))?;
    let mut first = [0u8; 12];
    match stream.read(&mut first) {
        Ok(_) => {}
        Err(e) => {
            let text = chain_text(Some(&e));
            if tls_alert_in(&text).is_some() {
                return Err(classify(text));
            }
        }
    }
    Ok(format!(
        "{version} {cipher}; server {server}; {}",
        if identity.is_some() {
            "our certificate was accepted"
        } else {
            "no client certificate (OAuth shared secret)"
        }
    ))
}

fn handshake_text<S>(e: &openssl::ssl::HandshakeError<S>) -> String {
    match e {
        openssl::ssl::HandshakeError::Failure(m) | openssl::ssl::HandshakeError::WouldBlock(m) => {
            let err = m.error();
            let mut s = err.to_string();
            if let Some(stack) = err.ssl_error() {
                s.push_str(": ");
                s.push_str(&stack.to_string());
            }
            let v = m.ssl().verify_result();
            if v != openssl::x509::X509VerifyResult::OK {
                s.push_str(&format!(
                    ": certificate verify failed ({})",
                    v.error_string()
                ));
            }
            s
        }
        openssl::ssl::HandshakeError::SetupFailure(stack) => stack.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_ids_serialise_as_the_spec_writes_them() {
        let json = serde_json::to_value(CheckId::ALL).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                "config",
                "certificate",
                "dns",
                "tcp",
                "tls",
                "http",
                "token",
                "schema",
                "lookup"
            ])
        );
        for id in CheckId::ALL {
            assert_eq!(serde_json::to_value(id).unwrap(), id.as_str());
        }
        assert_eq!(format!("{:<6}|", CheckId::Tls), "tls   |");
    }
}
