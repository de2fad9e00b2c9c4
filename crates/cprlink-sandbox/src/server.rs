//! The three TLS listeners, the connections, and the routing of requests.
//!
//! Owns the network side: OpenSSL acceptors (the mutual-TLS one verifies
//! `PEER | FAIL_IF_NO_PEER_CERT` against a store holding only the sandbox's test CA),
//! one hyper HTTP/1.1 connection per TLS stream with keep-alive, the client
//! certificate's SHA-1 thumbprint taken once per connection, and graceful shutdown.
//! The listeners are Datafordeler's hosts in small ([`Listener`]): REST and the
//! certificate token endpoint over mutual TLS (`s5-certservices`, `auth-oces`), GraphQL
//! with its SDL and the admin API (`graphql`), and the shared-secret token endpoint
//! alone (`auth`). Per request it applies what every API answer gets (counting,
//! latency, faults, access control, limits) and hands over to `rest`, `token`,
//! `graphql`, `schema` and `admin`. Logs mask CPR numbers and never contain a raw
//! query string.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::RETRY_AFTER;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use openssl::ssl::{Ssl, SslAcceptor, SslMethod, SslVerifyMode};
use openssl::x509::store::X509StoreBuilder;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_openssl::SslStream;

use crate::access::{Access, Verdict};
use crate::clock::Clock;
use crate::error::Error;
use crate::fault_body::Body;
use crate::faults::{Decision, FaultControl};
use crate::hash;
use crate::http::{self, Resp};
use crate::options::Behaviour;
use crate::pki::Pki;
use crate::population::Population;
use crate::rest::{self, REST_PATH};
use crate::schema::Schema;
use crate::token::{self, TOKEN_PATH, Tokens};

/// The GraphQL path (datafordeler.md 2).
pub const GRAPHQL_PATH: &str = "/CPR/custom/PublicSector/v1";

/// The SDL, under the GraphQL path (datafordeler.md 2, 5.1).
pub const SCHEMA_PATH: &str = "/CPR/custom/PublicSector/v1/schema";

/// Which of the sandbox's hosts a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listener {
    /// Mutual TLS: REST and the certificate token endpoint (`s5-certservices`,
    /// `auth-oces`).
    Mtls,
    /// TLS: GraphQL, its SDL and the admin API (`graphql`).
    Api,
    /// TLS: the shared-secret token endpoint alone (`auth`).
    Auth,
}

/// Largest request body read (GraphQL, token, admin).
const MAX_BODY: usize = 1 << 20;

/// State every connection shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub population: Population,
    pub seed: u64,
    pub access: Access,
    pub tokens: Tokens,
    pub faults: FaultControl,
    pub latency_ms: AtomicU64,
    /// What `latency_ms` is waited with.
    pub clock: Clock,
    pub requests: AtomicU64,
    pub behaviour: RwLock<Behaviour>,
    pub schema: Schema,
    pub admin_token: String,
}

impl Shared {
    /// The behaviour now (it can change while the sandbox runs).
    pub(crate) fn behaviour(&self) -> Behaviour {
        self.behaviour.read().map(|b| *b).unwrap_or_default()
    }

    pub(crate) fn set_behaviour(&self, b: Behaviour) {
        self.access.set_inert(Duration::from_secs(b.inert_secs));
        if let Ok(mut cur) = self.behaviour.write() {
            *cur = b;
        }
    }
}

/// One TLS connection.
#[derive(Debug)]
struct Conn {
    peer: SocketAddr,
    /// SHA-1 thumbprint of the verified client certificate (mutual-TLS listener).
    thumbprint: Option<String>,
    listener: Listener,
}

/// The TLS acceptor of a listener; with `mtls` it requires a client certificate
/// chained to the test CA.
pub(crate) fn acceptor(m: &Pki, mtls: bool) -> Result<SslAcceptor, Error> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    b.set_private_key(&m.server.key)?;
    b.set_certificate(&m.server.cert)?;
    b.add_extra_chain_cert(m.ca.issuing.cert.clone())?;
    b.check_private_key()?;
    // Session resumption with client verification needs a session id context.
    b.set_session_id_context(b"cprlink-sandbox")?;
    if mtls {
        let mut store = X509StoreBuilder::new()?;
        store.add_cert(m.ca.root.cert.clone())?;
        store.add_cert(m.ca.issuing.cert.clone())?;
        b.set_cert_store(store.build());
        b.add_client_ca(&m.ca.root.cert)?;
        b.add_client_ca(&m.ca.issuing.cert)?;
        b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    }
    Ok(b.build())
}

/// Accepts connections until `shutdown` fires (or its sender is dropped), then
/// lets open requests finish for a moment and closes the rest.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    acceptor: Arc<SslAcceptor>,
    shared: Arc<Shared>,
    listener_kind: Listener,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    // Small responses on a kept-alive connection must not wait for Nagle.
                    let _ = tcp.set_nodelay(true);
                    conns.spawn(serve_connection(
                        tcp,
                        peer,
                        acceptor.clone(),
                        shared.clone(),
                        listener_kind,
                        shutdown.clone(),
                    ));
                }
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!("sandbox: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => break,
        }
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    let drain = async { while conns.join_next().await.is_some() {} };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    conns.abort_all();
}

async fn serve_connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: Arc<SslAcceptor>,
    shared: Arc<Shared>,
    listener: Listener,
    mut shutdown: watch::Receiver<bool>,
) {
    let Ok(ssl) = Ssl::new(acceptor.context()) else {
        return;
    };
    let Ok(mut stream) = SslStream::new(ssl, tcp) else {
        return;
    };
    let handshake = tokio::time::timeout(Duration::from_secs(10), Pin::new(&mut stream).accept());
    match handshake.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::debug!("sandbox: TLS handshake with {peer} failed: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!("sandbox: TLS handshake with {peer} timed out");
            return;
        }
    }
    let thumbprint = if listener == Listener::Mtls {
        stream
            .ssl()
            .peer_certificate()
            .and_then(|c| cprlink_cert::facts::sha1_thumbprint(&c).ok())
    } else {
        None
    };
    let conn = Arc::new(Conn {
        peer,
        thumbprint,
        listener,
    });
    let service = service_fn(move |req| {
        let shared = shared.clone();
        let conn = conn.clone();
        async move { Ok::<_, Infallible>(route(&shared, &conn, req).await) }
    });
    let http = http1::Builder::new()
        .keep_alive(true)
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(60))
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(http);
    tokio::select! {
        res = http.as_mut() => {
            if let Err(e) = res {
                tracing::debug!("sandbox: connection from {peer} ended: {e}");
            }
        }
        _ = shutdown.changed() => {
            http.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), http).await;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Rest,
    CertificateToken,
    SecretToken,
    Graphql,
}

async fn route(shared: &Shared, conn: &Conn, req: Request<Incoming>) -> Resp {
    let path = req.uri().path();
    let endpoint = match conn.listener {
        Listener::Mtls if path.eq_ignore_ascii_case(REST_PATH) => Some(Endpoint::Rest),
        Listener::Mtls if path.eq_ignore_ascii_case(TOKEN_PATH) => Some(Endpoint::CertificateToken),
        Listener::Api if path.eq_ignore_ascii_case(GRAPHQL_PATH) => Some(Endpoint::Graphql),
        Listener::Api if path.eq_ignore_ascii_case(SCHEMA_PATH) => return schema(shared, &req),
        Listener::Api if path == "/admin" || path.starts_with("/admin/") => {
            return crate::admin::handle(shared, req).await;
        }
        Listener::Auth if path.eq_ignore_ascii_case(TOKEN_PATH) => Some(Endpoint::SecretToken),
        _ => None,
    };
    let Some(endpoint) = endpoint else {
        tracing::debug!("sandbox: {} (unknown path) -> 404", req.method());
        return http::problem(StatusCode::NOT_FOUND, "No such resource", None);
    };
    api(shared, conn, endpoint, req).await
}

/// `GET <graphql_url>/schema`: the SDL of the served schema. Public, as schema
/// documents are; not an API answer (no latency, faults or count).
fn schema(shared: &Shared, req: &Request<Incoming>) -> Resp {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return method_not_allowed("GET");
    }
    let sdl = shared.schema.sdl(shared.behaviour().max_in_list);
    http::respond(StatusCode::OK, http::TEXT, sdl.into_bytes())
}

/// Reads a request body up to [`MAX_BODY`].
pub(crate) async fn read_body(body: Incoming) -> Result<hyper::body::Bytes, Resp> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(_) => Err(http::problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request body is too large or broken",
            None,
        )),
    }
}

fn method_not_allowed(allowed: &'static str) -> Resp {
    let mut r = http::problem(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed", None);
    r.headers_mut().insert(
        hyper::header::ALLOW,
        hyper::header::HeaderValue::from_static(allowed),
    );
    r
}

/// What every API answer gets: counted, delayed, maybe faulted. `--latency-ms` is the
/// time from the request's arrival to its answer, as a client sees a remote service:
/// the sandbox's own work happens within it rather than on top (at 50 ms its work
/// added about 2%, which a benchmark against Little's law would blame on the client),
/// and it is waited on [`Clock`], which is not late by tokio's millisecond.
async fn api(shared: &Shared, conn: &Conn, endpoint: Endpoint, req: Request<Incoming>) -> Resp {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let arrived = std::time::Instant::now();
    let latency = shared.latency_ms.load(Ordering::Relaxed);
    let answer = answer(shared, conn, endpoint, req).await;
    if latency > 0 {
        shared
            .clock
            .until(arrived + Duration::from_millis(latency))
            .await;
    }
    answer
}

/// The answer of [`api`], before its latency.
async fn answer(shared: &Shared, conn: &Conn, endpoint: Endpoint, req: Request<Incoming>) -> Resp {
    let ip = conn.peer.ip();
    match endpoint {
        Endpoint::Rest => {
            if req.method() != Method::GET {
                return method_not_allowed("GET");
            }
            let query = req.uri().query().unwrap_or("");
            let decision = shared.faults.decide(hash::bytes(query.as_bytes()));
            if let Some(r) = early_fault(decision) {
                tracing::info!("sandbox: REST -> {} (injected)", r.status());
                return r;
            }
            let resp = match shared.access.check(ip, conn.thumbprint.as_deref()) {
                Verdict::Unauthorized => {
                    tracing::info!(
                        "sandbox: REST from {ip} -> 401 (certificate not registered or IP not allowlisted)"
                    );
                    unauthorized_rest()
                }
                Verdict::Inert => {
                    tracing::info!(
                        "sandbox: REST from {ip} -> 401 (the certificate is registered but still inert)"
                    );
                    unauthorized_rest()
                }
                Verdict::Forbidden => http::problem(
                    StatusCode::FORBIDDEN,
                    "The current user is not authorized to access this resource",
                    Some("DAF-AUTH-0001"),
                ),
                Verdict::Allowed => match rest::parse(query) {
                    Err(detail) => http::problem(StatusCode::BAD_REQUEST, detail, None),
                    Ok(mut r) => {
                        // Datafordeler 5.1: a server may page below what was asked and
                        // not say so; the client must notice the missing numbers.
                        if let Some(max) = shared.behaviour().max_nodes {
                            r.page_size =
                                r.page_size.min(usize::try_from(max).unwrap_or(usize::MAX));
                        }
                        let resp = rest::answer(&shared.population, shared.seed, &r);
                        if tracing::enabled!(tracing::Level::INFO) {
                            tracing::info!(
                                "sandbox: REST {} [{}] page {} size {} -> {}",
                                if r.single { "eq" } else { "wi" },
                                rest::masked_summary(&r.numbers),
                                r.page,
                                r.page_size,
                                resp.status()
                            );
                        }
                        resp
                    }
                },
            };
            late_fault(decision, resp)
        }
        Endpoint::CertificateToken | Endpoint::SecretToken => {
            if req.method() != Method::POST {
                return method_not_allowed("POST");
            }
            let headers = req.headers().clone();
            let body = match read_body(req.into_body()).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let resp = if endpoint == Endpoint::CertificateToken {
                token::certificate_variant(
                    &shared.tokens,
                    &shared.access,
                    ip,
                    conn.thumbprint.as_deref(),
                    &body,
                )
            } else {
                token::secret_variant(&shared.tokens, &shared.access, &headers, &body)
            };
            tracing::info!("sandbox: token ({endpoint:?}) -> {}", resp.status());
            resp
        }
        Endpoint::Graphql => {
            if req.method() != Method::POST {
                return method_not_allowed("POST");
            }
            let headers = req.headers().clone();
            let body = match read_body(req.into_body()).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let decision = shared.faults.decide(hash::bytes(&body));
            if let Some(r) = early_fault(decision) {
                tracing::info!("sandbox: GraphQL -> {} (injected)", r.status());
                return r;
            }
            let resp = crate::graphql::handle(shared, ip, &headers, &body);
            tracing::info!("sandbox: GraphQL -> {}", resp.status());
            late_fault(decision, resp)
        }
    }
}

/// 401 `DAF-AUTH-0005` (datafordeler.md 1.3, 5.2): IP not allowlisted, certificate not
/// registered, or registered too recently; Datafordeler does not say which.
fn unauthorized_rest() -> Resp {
    http::problem(
        StatusCode::UNAUTHORIZED,
        "Access denied. No authentication method found. Please verify your use of API key or OAuth.",
        Some("DAF-AUTH-0005"),
    )
}

fn early_fault(decision: Decision) -> Option<Resp> {
    match decision {
        Decision::Unavailable => Some(http::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is temporarily unavailable (injected by the sandbox)",
            None,
        )),
        Decision::TooManyRequests { retry_after_secs } => {
            let mut r = http::problem(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests (injected by the sandbox)",
                None,
            );
            r.headers_mut().insert(
                RETRY_AFTER,
                hyper::header::HeaderValue::from(retry_after_secs),
            );
            Some(r)
        }
        _ => None,
    }
}

fn late_fault(decision: Decision, resp: Resp) -> Resp {
    let (parts, body) = resp.into_parts();
    let Body::Full(Some(bytes)) = body else {
        return Resp::from_parts(parts, body);
    };
    let body = match decision {
        Decision::Reset => Body::reset(bytes),
        Decision::SlowBody { ms } => Body::slow(bytes, Duration::from_millis(ms), 8),
        _ => Body::Full(Some(bytes)),
    };
    Resp::from_parts(parts, body)
}
