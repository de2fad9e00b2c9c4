//! The lookup runtime behind `cprlink serve`: a small HTTP service over the client.
//!
//! This module owns the options, the shared state and the server loop (bind, serve,
//! graceful shutdown), and refuses to listen beyond loopback without a token. The
//! parts: `routes` (handlers, the Bearer check, the access log that masks the CPR
//! number in the path), `cache` (the in-memory TTL cache), `coalesce` (single lookups
//! gathered into batches) and `metrics` (Prometheus). The bound on requests towards
//! Datafordeler is the client's, shared by every request.

mod cache;
mod coalesce;
mod metrics;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use tokio::sync::mpsc;

use crate::audit::AuditLog;
use crate::client::Client;
use crate::cpr::Cpr;
use crate::error::Error;
use crate::record::Status;
use cache::Cache;
use coalesce::Waiter;
use metrics::Metrics;

/// How the service runs.
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// Bearer token clients must send; required beyond loopback.
    pub token: Option<String>,
    /// How long an answer is reused; zero turns the cache off.
    pub cache_ttl: Duration,
    pub audit: Option<Arc<AuditLog>>,
    /// How long a single lookup waits for others to share its request.
    pub coalesce_wait: Duration,
    /// Most CPR numbers in one `POST /v1/names`.
    pub max_post: usize,
}

impl ServeOptions {
    pub fn new(listen: SocketAddr) -> ServeOptions {
        ServeOptions {
            listen,
            token: None,
            cache_ttl: Duration::from_secs(3600),
            audit: None,
            coalesce_wait: Duration::from_millis(2),
            max_post: 1000,
        }
    }
}

/// What every request shares.
struct AppState {
    client: Client,
    cache: Cache,
    metrics: Metrics,
    token: Option<Vec<u8>>,
    audit: Option<Arc<AuditLog>>,
    /// Single lookups on their way to the coalescer.
    singles: mpsc::Sender<(Cpr, Waiter)>,
    max_post: usize,
    started: Instant,
}

/// A bound, not yet running, service.
pub struct Bound {
    listener: tokio::net::TcpListener,
    router: Router,
    addr: SocketAddr,
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
    let (tx, rx) = mpsc::channel(4096);
    let state = Arc::new(AppState {
        cache: Cache::new(opts.cache_ttl),
        metrics: Metrics::default(),
        token: opts.token.map(String::into_bytes),
        audit: opts.audit,
        singles: tx,
        max_post: opts.max_post,
        started: Instant::now(),
        client,
    });
    tokio::spawn(coalesce::run(state.clone(), rx, opts.coalesce_wait));
    let router = routes::router(state);
    Ok(Bound {
        listener,
        router,
        addr,
    })
}

impl Bound {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then finishes the requests in progress.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let addr = self.addr;
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| Error::Listen { addr, source })
    }
}

impl AppState {
    /// One audit-trail entry; a failure to write it is logged, not answered.
    fn audit(&self, cpr: &Cpr, status: Status) {
        if let Some(a) = &self.audit
            && let Err(e) = a.record(cpr, status, self.client.settings().api.as_str())
        {
            tracing::error!("{e}");
        }
    }
}
