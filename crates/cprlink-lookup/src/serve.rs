//! The lookup runtime behind `cprlink serve`: a small HTTP service over the client.
//!
//! Owns the routes (`GET /v1/persons/{cpr}/name`, `POST /v1/names`, `/healthz`,
//! `/readyz`, `/metrics`), the Bearer check, the in-memory TTL cache (CPR data changes
//! at most daily: datafordeler.md 1, "freshness"), the coalescing of single lookups
//! into batches, Prometheus metrics, and an access log that masks the CPR number in
//! the path. The bound on requests towards Datafordeler is the client's, shared by
//! every request. It refuses to listen beyond loopback without a token.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use crate::audit::AuditLog;
use crate::client::Client;
use crate::cpr::{Cpr, mask_input};
use crate::error::{Error, ErrorKind};
use crate::record::{Record, Status};

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

// ---- cache --------------------------------------------------------------------------

const SHARDS: usize = 16;

struct Entry {
    record: Record,
    json: Bytes,
    expires: Instant,
}

/// Answers by CPR number, sharded so concurrent readers rarely meet.
struct Cache {
    ttl: Duration,
    shards: Vec<RwLock<HashMap<Cpr, Arc<Entry>>>>,
}

impl Cache {
    fn new(ttl: Duration) -> Cache {
        Cache {
            ttl,
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, cpr: &Cpr) -> &RwLock<HashMap<Cpr, Arc<Entry>>> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        cpr.hash(&mut h);
        &self.shards[(h.finish() as usize) % SHARDS]
    }

    fn get(&self, cpr: &Cpr) -> Option<Arc<Entry>> {
        if self.ttl.is_zero() {
            return None;
        }
        let shard = self.shard(cpr).read().ok()?;
        let e = shard.get(cpr)?;
        (e.expires > Instant::now()).then(|| e.clone())
    }

    /// Keeps found and not-found answers; never errors.
    fn put(&self, cpr: &Cpr, record: &Record) -> Arc<Entry> {
        let entry = Arc::new(Entry {
            record: record.clone(),
            json: Bytes::from(serde_json::to_vec(record).unwrap_or_default()),
            expires: Instant::now() + self.ttl,
        });
        if !self.ttl.is_zero()
            && matches!(record.status, Status::Found | Status::NotFound)
            && let Ok(mut shard) = self.shard(cpr).write()
        {
            if shard.len() > 100_000 {
                let now = Instant::now();
                shard.retain(|_, e| e.expires > now);
            }
            shard.insert(*cpr, entry.clone());
        }
        entry
    }

    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().map(|m| m.len()).unwrap_or(0))
            .sum()
    }
}

// ---- metrics ------------------------------------------------------------------------

const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    sum_micros: AtomicU64,
    count: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
}

impl Metrics {
    fn observe(&self, route: &'static str, status: u16, elapsed: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route, status)).or_insert(0) += 1;
        }
        let secs = elapsed.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

// ---- state --------------------------------------------------------------------------

type Waiter = oneshot::Sender<Result<Record, Arc<Error>>>;

struct AppState {
    client: Client,
    cache: Cache,
    metrics: Metrics,
    token: Option<Vec<u8>>,
    audit: Option<Arc<AuditLog>>,
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
    tokio::spawn(coalesce(state.clone(), rx, opts.coalesce_wait));
    let router = Router::new()
        .route("/v1/persons/{cpr}/name", get(person_name))
        .route("/v1/names", post(names))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found_route)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state);
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

// ---- middleware: token, metrics, access log --------------------------------------------

fn route_label(path: &str) -> &'static str {
    if path.starts_with("/v1/persons/") {
        "/v1/persons/{cpr}/name"
    } else {
        match path {
            "/v1/names" => "/v1/names",
            "/healthz" => "/healthz",
            "/readyz" => "/readyz",
            "/metrics" => "/metrics",
            _ => "other",
        }
    }
}

/// The path for the access log: the CPR segment masked.
fn masked_path(path: &str) -> String {
    match path.strip_prefix("/v1/persons/") {
        Some(rest) => {
            let (cpr, tail) = rest.split_once('/').unwrap_or((rest, ""));
            format!("/v1/persons/{}/{tail}", mask_input(cpr))
        }
        None => crate::error::mask_digit_runs(path),
    }
}

async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_label(req.uri().path());
    let needs_token = !matches!(route, "/healthz" | "/readyz");
    let resp = if needs_token && !authorised(&state, &req) {
        let mut r = error_response(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid Bearer token is required",
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        r
    } else {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let resp = next.run(req).await;
        if tracing::enabled!(tracing::Level::INFO) {
            tracing::info!(
                "{method} {} {} {:.1}ms",
                masked_path(&path),
                resp.status().as_u16(),
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
        resp
    };
    state
        .metrics
        .observe(route, resp.status().as_u16(), started.elapsed());
    resp
}

fn authorised(state: &AppState, req: &Request) -> bool {
    let Some(want) = &state.token else {
        return true;
    };
    let Some(got) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(got) = got.strip_prefix("Bearer ") else {
        return false;
    };
    let got = got.trim().as_bytes();
    got.len() == want.len() && openssl::memcmp::eq(got, want)
}

// ---- handlers -----------------------------------------------------------------------

fn json_response(status: StatusCode, body: Bytes) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    json_response(
        status,
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
    )
}

/// The HTTP status for an upstream failure.
fn upstream_status(e: &Error) -> StatusCode {
    match e.kind() {
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    }
}

async fn person_name(State(state): State<Arc<AppState>>, Path(raw): Path<String>) -> Response {
    let cpr = match Cpr::parse(&raw) {
        Ok(c) => c,
        Err(reason) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_cpr",
                &format!("invalid CPR number: {reason}"),
            );
        }
    };
    let entry = if let Some(e) = state.cache.get(&cpr) {
        state.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
        e
    } else {
        state.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if state.singles.send((cpr, tx)).await.is_err() {
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the service is stopping",
            );
        }
        match rx.await {
            Ok(Ok(record)) => state.cache.put(&cpr, &record),
            Ok(Err(e)) => {
                let record = Record::error(&cpr, e.to_string());
                let body = Bytes::from(serde_json::to_vec(&record).unwrap_or_default());
                return json_response(upstream_status(&e), body);
            }
            Err(_) => {
                return error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "shutting_down",
                    "the service is stopping",
                );
            }
        }
    };
    let status = match entry.record.status {
        Status::NotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    };
    json_response(status, entry.json.clone())
}

/// Gathers single lookups for up to `wait` (or a full batch) and sends them as one
/// request; each waiter gets its own record.
async fn coalesce(state: Arc<AppState>, mut rx: mpsc::Receiver<(Cpr, Waiter)>, wait: Duration) {
    let batch_size = state.client.settings().batch_size.max(1);
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + wait;
        while batch.len() < batch_size {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(item)) => batch.push(item),
                _ => break,
            }
        }
        let state = state.clone();
        tokio::spawn(async move {
            let cprs: Vec<Cpr> = batch.iter().map(|(c, _)| *c).collect();
            let result = state.client.lookup_records(&cprs).await;
            match result {
                Ok(records) => {
                    for ((cpr, waiter), record) in batch.into_iter().zip(records) {
                        audit(&state, &cpr, record.status);
                        let _ = waiter.send(Ok(record));
                    }
                }
                Err(e) => {
                    let e = Arc::new(e);
                    for (cpr, waiter) in batch {
                        audit(&state, &cpr, Status::Error);
                        let _ = waiter.send(Err(e.clone()));
                    }
                }
            }
        });
    }
}

fn audit(state: &AppState, cpr: &Cpr, status: Status) {
    if let Some(a) = &state.audit
        && let Err(e) = a.record(cpr, status, state.client.settings().api.as_str())
    {
        tracing::error!("{e}");
    }
}

#[derive(Deserialize)]
struct NamesRequest {
    cprs: Vec<String>,
}

async fn names(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let req: NamesRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "expected a JSON body {\"cprs\": [\"DDMMYYSSSS\", ...]}",
            );
        }
    };
    if req.cprs.len() > state.max_post {
        return error_response(
            StatusCode::BAD_REQUEST,
            "too_many",
            &format!("at most {} CPR numbers per request", state.max_post),
        );
    }
    let mut cprs = Vec::with_capacity(req.cprs.len());
    for (i, raw) in req.cprs.iter().enumerate() {
        match Cpr::parse(raw) {
            Ok(c) => cprs.push(c),
            Err(reason) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "invalid_cpr",
                    &format!(
                        "cprs[{i}] ({}) is not a valid CPR number: {reason}",
                        mask_input(raw)
                    ),
                );
            }
        }
    }
    let mut records: Vec<Option<Record>> = vec![None; cprs.len()];
    let mut misses: Vec<(usize, Cpr)> = Vec::new();
    for (i, c) in cprs.iter().enumerate() {
        match state.cache.get(c) {
            Some(e) => {
                state.metrics.cache_hits.fetch_add(1, Ordering::Relaxed);
                records[i] = Some(e.record.clone());
            }
            None => {
                state.metrics.cache_misses.fetch_add(1, Ordering::Relaxed);
                misses.push((i, *c));
            }
        }
    }
    let batch_size = state.client.settings().batch_size.max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in misses.chunks(batch_size) {
        let chunk = chunk.to_vec();
        let state = state.clone();
        tasks.spawn(async move {
            let cprs: Vec<Cpr> = chunk.iter().map(|(_, c)| *c).collect();
            (chunk, state.client.lookup_records(&cprs).await)
        });
    }
    let mut auth_failure: Option<Error> = None;
    while let Some(joined) = tasks.join_next().await {
        let Ok((chunk, result)) = joined else {
            continue;
        };
        match result {
            Ok(found) => {
                for ((i, c), rec) in chunk.into_iter().zip(found) {
                    audit(&state, &c, rec.status);
                    state.cache.put(&c, &rec);
                    records[i] = Some(rec);
                }
            }
            Err(e) => {
                for (i, c) in chunk {
                    audit(&state, &c, Status::Error);
                    records[i] = Some(Record::error(&c, e.to_string()));
                }
                if e.kind() == ErrorKind::Auth {
                    auth_failure = Some(e);
                }
            }
        }
    }
    if let Some(e) = auth_failure {
        return error_response(StatusCode::BAD_GATEWAY, "upstream_refused", &e.to_string());
    }
    let records: Vec<Record> = records
        .into_iter()
        .zip(&cprs)
        .map(|(r, c)| r.unwrap_or_else(|| Record::error(c, "no answer")))
        .collect();
    let body = serde_json::json!({ "records": records });
    json_response(
        StatusCode::OK,
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
    )
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, Bytes::from_static(b"{\"status\":\"ok\"}"))
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let mut checks = serde_json::Map::new();
    let mut ready = true;
    let identity_ok = state.client.identity_not_after() > chrono::Utc::now();
    ready &= identity_ok;
    checks.insert(
        "tls_identity".into(),
        (if identity_ok {
            "ok"
        } else {
            "the client certificate has expired"
        })
        .into(),
    );
    let token =
        match tokio::time::timeout(Duration::from_secs(10), state.client.ensure_token()).await {
            Ok(Ok(())) if state.client.settings().api == crate::config::Api::Rest => {
                "ok (REST uses no token)".to_owned()
            }
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(e)) => {
                ready = false;
                e.to_string()
            }
            Err(_) => {
                ready = false;
                "the token endpoint did not answer in 10 s".to_owned()
            }
        };
    checks.insert("token".into(), token.into());
    let refused = state.client.stats().auth_failing.load(Ordering::Relaxed);
    ready &= !refused;
    checks.insert(
        "upstream_auth".into(),
        (if refused {
            "the last upstream call was refused (401/403/TLS)"
        } else {
            "ok"
        })
        .into(),
    );
    let body = serde_json::json!({ "ready": ready, "checks": checks });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(
        status,
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
    )
}

/// One Prometheus metric without labels: HELP, TYPE and the value.
fn scalar(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut out = String::with_capacity(4096);
    let m = &state.metrics;
    out.push_str("# HELP cprlink_http_requests_total HTTP requests served, by route and status.\n");
    out.push_str("# TYPE cprlink_http_requests_total counter\n");
    if let Ok(reqs) = m.requests.lock() {
        for ((route, status), n) in reqs.iter() {
            let _ = writeln!(
                out,
                "cprlink_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
    }
    out.push_str("# HELP cprlink_http_request_duration_seconds Time to answer a request.\n");
    out.push_str("# TYPE cprlink_http_request_duration_seconds histogram\n");
    let mut cumulative = 0u64;
    for (i, le) in BUCKETS.iter().enumerate() {
        cumulative += m.buckets[i].load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "cprlink_http_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
        );
    }
    let count = m.count.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "cprlink_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(
        out,
        "cprlink_http_request_duration_seconds_sum {}",
        m.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "cprlink_http_request_duration_seconds_count {count}");
    let stats = state.client.stats();
    scalar(
        &mut out,
        "cprlink_upstream_requests_total",
        "counter",
        "HTTP requests sent to Datafordeler (each attempt).",
        stats.requests.load(Ordering::Relaxed),
    );
    scalar(
        &mut out,
        "cprlink_upstream_retries_total",
        "counter",
        "Retries after transient failures.",
        stats.retries.load(Ordering::Relaxed),
    );
    out.push_str("# HELP cprlink_upstream_errors_total Failed upstream attempts, by kind.\n");
    out.push_str("# TYPE cprlink_upstream_errors_total counter\n");
    for (kind, n) in stats.error_counts() {
        let _ = writeln!(out, "cprlink_upstream_errors_total{{kind=\"{kind}\"}} {n}");
    }
    scalar(
        &mut out,
        "cprlink_cache_hits_total",
        "counter",
        "Lookups answered from the cache.",
        m.cache_hits.load(Ordering::Relaxed),
    );
    scalar(
        &mut out,
        "cprlink_cache_misses_total",
        "counter",
        "Lookups that went to Datafordeler.",
        m.cache_misses.load(Ordering::Relaxed),
    );
    scalar(
        &mut out,
        "cprlink_cache_entries",
        "gauge",
        "Answers held in the cache.",
        state.cache.len() as u64,
    );
    out.push_str("# HELP cprlink_uptime_seconds Seconds since the service started.\n");
    out.push_str("# TYPE cprlink_uptime_seconds gauge\n");
    let _ = writeln!(
        out,
        "cprlink_uptime_seconds {}",
        state.started.elapsed().as_secs()
    );
    let mut r = Response::new(Body::from(out));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

async fn not_found_route() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "no_such_route",
        "see docs/serve.md for the routes",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_log_paths_are_masked() {
        assert_eq!(
            masked_path("/v1/persons/0101011234/name"),
            "/v1/persons/010101-xxxx/name"
        );
        assert_eq!(
            masked_path("/v1/persons/010101-1234/name"),
            "/v1/persons/010101-xxxx/name"
        );
        assert_eq!(masked_path("/x/0101011234"), "/x/010101-xxxx");
        assert_eq!(
            route_label("/v1/persons/0101011234/name"),
            "/v1/persons/{cpr}/name"
        );
        assert_eq!(route_label("/nope"), "other");
    }

    #[test]
    fn cache_keeps_answers_not_errors_and_expires() {
        let c = Cpr::parse("0101011234").unwrap();
        let cache = Cache::new(Duration::from_millis(50));
        cache.put(&c, &Record::error(&c, "x"));
        assert!(cache.get(&c).is_none());
        cache.put(&c, &Record::not_found(&c));
        assert_eq!(cache.get(&c).unwrap().record.status, Status::NotFound);
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get(&c).is_none());
        let off = Cache::new(Duration::ZERO);
        off.put(&c, &Record::not_found(&c));
        assert!(off.get(&c).is_none());
    }
}
