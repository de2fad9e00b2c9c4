//! The routes of `serve`: `GET /v1/persons/{cpr}/name`, `POST /v1/names`, `/healthz`,
//! `/readyz`, `/metrics`, and the middleware in front of them: the `Host` check on
//! loopback (421: a web page that rebinds its DNS name to 127.0.0.1 sends its own
//! name), the Bearer check (the scheme in any case), metrics, and an access log that
//! masks the CPR number in the path (refused and failed requests at `warn`, so they
//! show without `-v`).
//!
//! Owns the HTTP shapes: the JSON of answers and errors (`{"error": {"code",
//! "message"}}`: every error answer, including the ones the framework makes, such as
//! 405), status codes, which routes need the token, and the body rules of `POST`
//! (`application/json` or 415, at most [`MAX_BODY`] bytes or 413, sent within the
//! header timeout or 408). It must never log a CPR number unmasked.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tokio::sync::oneshot;

use super::AppState;
use super::metrics::Snapshot;
use crate::cpr::{Cpr, mask_input};
use crate::error::{Error, ErrorKind};
use crate::record::{Record, Status};

/// The largest `POST /v1/names` body: 1000 numbers with room to spare.
pub(super) const MAX_BODY: usize = 256 * 1024;

/// The routes, behind the middleware that checks Host and token, counts and logs.
pub(super) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/persons/{cpr}/name", get(person_name))
        .route("/v1/names", post(names))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found_route)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

// ---- middleware: Host, token, JSON errors, metrics, access log ---------------------

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

/// The name of a `Host` value, without its port: `[::1]:8080` -> `[::1]`.
pub(super) fn host_name(host: &str) -> &str {
    let host = host.trim();
    let name = if host.starts_with('[') {
        host.find(']').map_or(host, |end| &host[..=end])
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.strip_suffix('.').unwrap_or(name)
}

/// On loopback, only our own names: a page that rebinds its DNS name to 127.0.0.1
/// still sends that name. A request without `Host` (HTTP/1.0) comes from no browser.
fn host_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    if !state.loopback {
        return true;
    }
    let Some(host) = headers.get(header::HOST) else {
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = host_name(host).to_ascii_lowercase();
    matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]")
        || state.allowed_hosts.contains(&name)
}

async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_label(req.uri().path());
    let method = req.method().clone();
    // A refcount copy: the masked path is built only when a line is logged.
    let uri = req.uri().clone();
    let needs_token = !matches!(route, "/healthz" | "/readyz");
    let resp = if !host_allowed(&state, req.headers()) {
        error_response(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected_request",
            "this service answers only to localhost, 127.0.0.1, [::1] and the names in [serve] allowed_hosts",
        )
    } else if needs_token && !authorised(&state, &req) {
        let mut r = error_response(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid Bearer token is required",
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        r
    } else {
        as_json_error(next.run(req).await)
    };
    let status = resp.status();
    let elapsed = started.elapsed();
    // An unknown person is an answer, not a failure.
    let failed = (status.is_client_error() || status.is_server_error())
        && !(route == "/v1/persons/{cpr}/name" && status == StatusCode::NOT_FOUND);
    if failed {
        let path = masked_path(uri.path());
        tracing::warn!(
            "{method} {path} {} {:.1}ms",
            status.as_u16(),
            elapsed.as_secs_f64() * 1000.0
        );
    } else if tracing::enabled!(tracing::Level::INFO) {
        let path = masked_path(uri.path());
        tracing::info!(
            "{method} {path} {} {:.1}ms",
            status.as_u16(),
            elapsed.as_secs_f64() * 1000.0
        );
    }
    state.metrics.observe(route, status.as_u16(), elapsed);
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
    // RFC 9110 11.1: the scheme is case-insensitive.
    let Some((scheme, got)) = got.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return false;
    }
    let got = got.trim().as_bytes();
    got.len() == want.len() && openssl::memcmp::eq(got, want)
}

/// An error answer the framework made (405, a rejected path) as our JSON error.
fn as_json_error(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let reason = status.canonical_reason().unwrap_or("error");
    let code = reason.to_ascii_lowercase().replace([' ', '-'], "_");
    let (mut parts, _) = resp.into_parts();
    let json = error_response(status, &code, reason);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, json.into_body())
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
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::Usage | ErrorKind::Auth | ErrorKind::Answer | ErrorKind::Interrupted => {
            StatusCode::BAD_GATEWAY
        }
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

#[derive(Deserialize)]
struct NamesRequest {
    cprs: Vec<String>,
}

/// The body of a `POST`, within the limits: JSON, at most [`MAX_BODY`] bytes, and
/// sent within the header timeout (a client that stops half-way holds no slot for
/// long).
async fn json_body(state: &AppState, req: Request) -> Result<Bytes, Response> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ));
    }
    let too_large = || {
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("the body may be at most {MAX_BODY} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(with_close(too_large()));
    }
    let read = axum::body::to_bytes(req.into_body(), MAX_BODY);
    match tokio::time::timeout(state.header_timeout, read).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(e)) => {
            let limit = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            Err(with_close(if limit {
                too_large()
            } else {
                error_response(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the request body could not be read",
                )
            }))
        }
        Err(_) => Err(with_close(error_response(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            &format!(
                "the body did not arrive within {} s",
                state.header_timeout.as_secs_f64()
            ),
        ))),
    }
}

/// Ends the connection after this answer: the rest of the body is not read.
fn with_close(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

async fn names(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let body = match json_body(&state, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
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
    // One client for the whole request, even if a reload replaces it meanwhile.
    let client = state.client();
    let api = client.settings().api.as_str();
    let batch_size = client.settings().batch_size.max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in misses.chunks(batch_size) {
        let chunk = chunk.to_vec();
        let client = client.clone();
        tasks.spawn(async move {
            let cprs: Vec<Cpr> = chunk.iter().map(|(_, c)| *c).collect();
            (chunk, client.lookup_records(&cprs).await)
        });
    }
    let mut auth_failure: Option<Error> = None;
    while let Some(joined) = tasks.join_next().await {
        let Ok((chunk, result)) = joined else {
            continue;
        };
        state.upstream_outcome(&result);
        match result {
            Ok(found) => {
                let entries: Vec<(Cpr, Status)> = chunk
                    .iter()
                    .zip(&found)
                    .map(|((_, c), r)| (*c, r.status))
                    .collect();
                state.audit(&entries, api);
                for ((i, c), rec) in chunk.into_iter().zip(found) {
                    state.cache.put(&c, &rec);
                    records[i] = Some(rec);
                }
            }
            Err(e) => {
                let entries: Vec<(Cpr, Status)> =
                    chunk.iter().map(|(_, c)| (*c, Status::Error)).collect();
                state.audit(&entries, api);
                for (i, c) in chunk {
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

/// Whether a TCP connection to the API's host opens within two seconds.
async fn upstream_reachable(client: &crate::Client) -> Result<(), String> {
    let s = client.settings();
    let url = match s.api {
        crate::config::Api::Rest => &s.endpoints.rest_base_url,
        crate::config::Api::Graphql => &s.endpoints.graphql_url,
    };
    let (host, port) = crate::doctor::host_port(url)?;
    match tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("{host}:{port} refuses connections ({e})")),
        Err(_) => Err(format!("{host}:{port} did not answer in 2 s")),
    }
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let client = state.client();
    let mut checks = serde_json::Map::new();
    let mut ready = true;
    // No client certificate (GraphQL with a shared secret): nothing to expire here.
    let identity_ok = client
        .identity_not_after()
        .is_none_or(|t| t > chrono::Utc::now());
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
    let token = match tokio::time::timeout(Duration::from_secs(10), client.ensure_token()).await {
        Ok(Ok(())) if client.settings().api == crate::config::Api::Rest => {
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
    let refused = client.stats().auth_failing.load(Ordering::Relaxed);
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
    let upstream = match upstream_reachable(&client).await {
        Err(why) => Err(why),
        Ok(()) if state.upstream_failing() => Err(
            "the last lookup could not reach Datafordeler (timeouts, 5xx or 429 after the retries)"
                .to_owned(),
        ),
        Ok(()) => Ok(()),
    };
    ready &= upstream.is_ok();
    checks.insert(
        "upstream".into(),
        upstream.err().unwrap_or_else(|| "ok".to_owned()).into(),
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

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let client = state.client();
    let out = state.metrics.render(&Snapshot {
        stats: client.stats(),
        cache_entries: state.cache.len(),
        uptime: state.started.elapsed(),
        certificate_expiry: client.identity_not_after().map(|t| t.timestamp()),
    });
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
    fn host_names_lose_their_port() {
        assert_eq!(host_name("localhost:8080"), "localhost");
        assert_eq!(host_name("[::1]:8080"), "[::1]");
        assert_eq!(host_name("[::1]"), "[::1]");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_name("localhost.:80"), "localhost");
        assert_eq!(host_name("evil.example:8080"), "evil.example");
    }
}
