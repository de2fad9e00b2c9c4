//! The lookup runtime behind `cprlink serve`: a small HTTP service over the client.
//!
//! This module owns the options, the shared state and the server loop, and the limits
//! that keep it up under misuse: it refuses to listen beyond loopback without a token;
//! it serves at most `max_connections` at once (the next ones wait in the listen
//! backlog until a slot frees); a client that has not sent its request head within
//! `header_timeout` is cut off (hyper's header timer, which also ends idle keep-alive
//! connections); and a stop ends within `shutdown_grace` whatever clients do
//! (requests in progress get that long, then every connection is dropped). The parts:
//! `routes` (handlers, the Host and Bearer checks, body limits, JSON errors, the
//! access log that masks the CPR number in the path), `cache` (bounded, TTL),
//! `coalesce` (single lookups gathered into batches) and `metrics` (Prometheus). The
//! bound on requests towards Datafordeler is the client's, shared by every request.
//!
//! The client can be replaced while serving ([`ServeHandle::replace_client`], for
//! SIGHUP): requests in flight finish on the one they started with.

mod cache;
mod coalesce;
mod metrics;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::{Semaphore, mpsc, watch};

use crate::audit::AuditLog;
use crate::client::Client;
use crate::cpr::Cpr;
use crate::error::{Error, ErrorKind};
use crate::record::Status;
use cache::Cache;
use coalesce::Waiter;
use metrics::Metrics;

/// How long a failed lookup upstream keeps `/readyz` not ready.
const UPSTREAM_FAILURE_MEMORY: Duration = Duration::from_secs(60);

/// How the service runs.
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// Bearer token clients must send; required beyond loopback.
    pub token: Option<String>,
    /// How long an answer is reused; zero turns the cache off.
    pub cache_ttl: Duration,
    /// The cache never holds more answers than this.
    pub cache_max_entries: usize,
    /// `Host` names accepted on loopback besides localhost, 127.0.0.1 and `[::1]`.
    pub allowed_hosts: Vec<String>,
    /// A client must send its request head within this; a request body too.
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    pub audit: Option<Arc<AuditLog>>,
    /// How long a single lookup waits for others to share its request.
    pub coalesce_wait: Duration,
    /// Most CPR numbers in one `POST /v1/names`.
    pub max_post: usize,
    /// After a stop, how long requests in progress may take before every connection
    /// is dropped.
    pub shutdown_grace: Duration,
}

impl ServeOptions {
    pub fn new(listen: SocketAddr) -> ServeOptions {
        let d = crate::config::Serve::default();
        ServeOptions {
            listen,
            token: None,
            cache_ttl: Duration::from_secs(d.cache_ttl_secs),
            cache_max_entries: d.cache_max_entries as usize,
            allowed_hosts: d.allowed_hosts,
            header_timeout: Duration::from_secs(d.header_timeout_secs),
            max_connections: d.max_connections as usize,
            audit: None,
            coalesce_wait: Duration::from_millis(2),
            max_post: 1000,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// What every request shares.
struct AppState {
    client: RwLock<Client>,
    cache: Cache,
    metrics: Metrics,
    token: Option<Vec<u8>>,
    audit: Option<Arc<AuditLog>>,
    /// Single lookups on their way to the coalescer.
    singles: mpsc::Sender<(Cpr, Waiter)>,
    max_post: usize,
    started: Instant,
    /// Listening on loopback: the `Host` header is checked (DNS rebinding).
    loopback: bool,
    /// Lower case, without port.
    allowed_hosts: Vec<String>,
    /// Also the bound on reading a request body.
    header_timeout: Duration,
    /// When the last lookup upstream could not reach Datafordeler; `None` once one
    /// got through.
    upstream_failed_at: Mutex<Option<Instant>>,
}

impl AppState {
    /// The client to start a request with (cheap: a shared pool).
    fn client(&self) -> Client {
        match self.client.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Audit-trail entries; a failure to write them is logged, not answered.
    fn audit(&self, entries: &[(Cpr, Status)], api: &str) {
        if let Some(a) = &self.audit
            && let Err(e) = a.record_all(entries, api)
        {
            tracing::error!("{e}");
        }
    }

    /// Notes how a lookup upstream went, for `/readyz`.
    fn upstream_outcome<T>(&self, result: &Result<T, Error>) {
        let failed = match result {
            Ok(_) => None,
            Err(e) if e.kind() == ErrorKind::Unavailable => Some(Instant::now()),
            Err(_) => return,
        };
        if let Ok(mut at) = self.upstream_failed_at.lock() {
            *at = failed;
        }
    }

    /// The last lookup upstream failed, and not long ago: a failure that old says
    /// little about now (and `/readyz` probes the connection itself too).
    fn upstream_failing(&self) -> bool {
        self.upstream_failed_at
            .lock()
            .ok()
            .and_then(|at| *at)
            .is_some_and(|at| at.elapsed() < UPSTREAM_FAILURE_MEMORY)
    }
}

/// A bound, not yet running, service.
pub struct Bound {
    listener: tokio::net::TcpListener,
    router: Router,
    addr: SocketAddr,
    state: Arc<AppState>,
    max_connections: usize,
    shutdown_grace: Duration,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Binds the listener. Refuses a non-loopback address without a token.
pub async fn bind(client: Client, opts: ServeOptions) -> Result<Bound, Error> {
    if !opts.listen.ip().is_loopback() && opts.token.as_deref().is_none_or(str::is_empty) {
        return Err(Error::TokenRequired { addr: opts.listen });
    }
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| Error::Listen {
            addr: opts.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Listen {
        addr: opts.listen,
        source,
    })?;
    // One value for the head and the body: at least 1 ms, and at most a day (hyper adds
    // it to the clock, which a huge value would overflow).
    let header_timeout = opts
        .header_timeout
        .clamp(Duration::from_millis(1), Duration::from_secs(24 * 3600));
    let (tx, rx) = mpsc::channel(4096);
    let state = Arc::new(AppState {
        cache: Cache::new(opts.cache_ttl, opts.cache_max_entries),
        metrics: Metrics::default(),
        token: opts.token.map(String::into_bytes),
        audit: opts.audit,
        singles: tx,
        max_post: opts.max_post,
        started: Instant::now(),
        loopback: opts.listen.ip().is_loopback(),
        allowed_hosts: opts
            .allowed_hosts
            .iter()
            .map(|h| routes::host_name(h).to_ascii_lowercase())
            .collect(),
        header_timeout,
        upstream_failed_at: Mutex::new(None),
        client: RwLock::new(client),
    });
    tokio::spawn(coalesce::run(state.clone(), rx, opts.coalesce_wait));
    let router = routes::router(state.clone());
    Ok(Bound {
        listener,
        router,
        addr,
        state,
        max_connections: opts.max_connections.max(1),
        shutdown_grace: opts.shutdown_grace,
    })
}

/// Changes a running service: the client it sends lookups with.
#[derive(Clone)]
pub struct ServeHandle {
    state: Arc<AppState>,
}

impl std::fmt::Debug for ServeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeHandle").finish_non_exhaustive()
    }
}

impl ServeHandle {
    /// New requests use `client`; requests in flight finish on the old one. Its
    /// upstream counters carry on in `/metrics`.
    pub fn replace_client(&self, client: Client) {
        let old = match self.state.client.write() {
            Ok(mut c) => std::mem::replace(&mut *c, client),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), client),
        };
        self.state.metrics.retire(old.stats());
        self.state.metrics.count_reload(true);
    }

    /// A reload failed: the old client stays; counted in `/metrics`.
    pub fn reload_failed(&self) {
        self.state.metrics.count_reload(false);
    }
}

impl Bound {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle to change the service while it runs.
    pub fn handle(&self) -> ServeHandle {
        ServeHandle {
            state: self.state.clone(),
        }
    }

    /// Serves until `shutdown` completes, then lets requests in progress finish for up
    /// to the grace period and drops every connection left.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let slots = Arc::new(Semaphore::new(self.max_connections));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut conns = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            // A slot first: beyond max_connections, clients wait in the backlog.
            let permit = tokio::select! {
                p = slots.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            let stream = tokio::select! {
                r = self.listener.accept() => match r {
                    Ok((s, _)) => s,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, do not spin.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            while conns.try_join_next().is_some() {}
            let service = TowerToHyperService::new(self.router.clone());
            let header_timeout = self.state.header_timeout;
            let mut stop = stop_rx.clone();
            conns.spawn(async move {
                let _slot = permit;
                let _ = stream.set_nodelay(true);
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout);
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                tokio::pin!(conn);
                tokio::select! {
                    _ = conn.as_mut() => {}
                    _ = stop.changed() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
        }
        drop(self.listener);
        let _ = stop_tx.send(true);
        let finished = tokio::time::timeout(self.shutdown_grace, async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                "stopping: {} connection(s) still open after {} s are dropped",
                conns.len(),
                self.shutdown_grace.as_secs()
            );
        }
        conns.abort_all();
        Ok(())
    }
}
