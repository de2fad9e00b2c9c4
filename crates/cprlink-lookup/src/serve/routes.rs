//! The routes of `serve`: `GET /v1/persons/{cpr}/name`, `POST /v1/names`, `/healthz`,
//! `/readyz`, `/metrics`, and the middleware in front of them (the Bearer check,
//! metrics, and an access log that masks the CPR number in the path).
//!
//! Owns the HTTP shapes: the JSON of answers and errors (`{"error": {"code",
//! "message"}}`), status codes, and which routes need the token. It must never log a
//! CPR number unmasked.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tokio::sync::oneshot;

use super::AppState;
use crate::cpr::{Cpr, mask_input};
use crate::error::{Error, ErrorKind};
use crate::record::{Record, Status};

/// The routes, behind the middleware that checks the token, counts and logs.
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

// ---- middleware: token, metrics, access log ------------------------------------------

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
                    state.audit(&c, rec.status);
                    state.cache.put(&c, &rec);
                    records[i] = Some(rec);
                }
            }
            Err(e) => {
                for (i, c) in chunk {
                    state.audit(&c, Status::Error);
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
    // No client certificate (GraphQL with a shared secret): nothing to expire here.
    let identity_ok = state
        .client
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

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let out = state.metrics.render(
        state.client.stats(),
        state.cache.len(),
        state.started.elapsed(),
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
}
