//! The admin API (`/admin/...` on the listener without client certificates).
//!
//! Owns the out-of-process controls of a running sandbox, behind the Bearer token in
//! `DIR/admin.token`: registering certificates (by thumbprint, or by uploading the CER
//! itself as Datafordeler Self-Service does), IT-systems with their data access and
//! shared secrets, the IP allowlist, Datafordeler's behaviour (limits, inert period),
//! faults, latency, token lifetime and expiry, and a status document. The in-process
//! API on `Sandbox` does the same things directly.
//!
//! Routes (JSON in and out):
//! - `GET /admin`: status (`request_count`, `latency_ms`, `faults`, `behaviour`,
//!   `certificates`, `clients`, `allowed_ips`, `token_lifetime_secs`, `persons`, `seed`)
//! - `POST /admin/certificates`: `{"sha1_thumbprint": "...", "cpr_access": true}`, or a
//!   certificate (PEM or DER) as the body with `?cpr_access=false` to refuse CPR
//! - `DELETE /admin/certificates/{thumbprint}`
//! - `GET /admin/clients`, `PUT /admin/clients/{client_id}` `{"data_access": false}`,
//!   `DELETE /admin/clients/{client_id}`, `POST /admin/clients/{client_id}/secrets`
//!   (answers the new secret, once)
//! - `POST /admin/ips` `{"ip": "..."}`, `DELETE /admin/ips/{ip}`
//! - `PUT /admin/behaviour` (the `Behaviour` fields), `PUT /admin/faults` (the `Faults`
//!   fields), `PUT /admin/latency` `{"latency_ms": N}`
//! - `PUT /admin/token-lifetime` `{"secs": N}`, `POST /admin/tokens/expire`

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use openssl::x509::X509;
use serde::Deserialize;

use crate::access::normalize_thumbprint;
use crate::files::random_hex;
use crate::http::{self, Resp};
use crate::options::{Behaviour, Faults};
use crate::server::{Shared, read_body};

fn no_content() -> Resp {
    let mut r = http::respond(StatusCode::NO_CONTENT, http::JSON, Vec::new());
    r.headers_mut().remove(hyper::header::CONTENT_LENGTH);
    r
}

fn error(status: StatusCode, message: &str) -> Resp {
    http::json_value(status, &serde_json::json!({ "error": message }))
}

pub(crate) async fn handle(shared: &Shared, req: Request<Incoming>) -> Resp {
    let authorised =
        http::bearer(req.headers()).is_some_and(|t| http::same_secret(t, &shared.admin_token));
    if !authorised {
        return error(
            StatusCode::UNAUTHORIZED,
            "admin API: send `Authorization: Bearer <contents of DIR/admin.token>`",
        );
    }
    let method = req.method().clone();
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = match read_body(req.into_body()).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let tail = path.strip_prefix("/admin").unwrap_or("");
    let segments: Vec<&str> = tail.split('/').filter(|s| !s.is_empty()).collect();
    tracing::debug!("sandbox: admin {method} {path}");
    match (&method, segments.as_slice()) {
        (&Method::GET, []) => status(shared),
        (&Method::POST, ["certificates"]) => register(shared, &query, &content_type, &body),
        (&Method::GET, ["certificates"]) => http::json_value(StatusCode::OK, &certificates(shared)),
        (&Method::DELETE, ["certificates", thumbprint]) => {
            match normalize_thumbprint(&http::decode_component(thumbprint)) {
                Some(t) => {
                    shared.access.unregister(&t);
                    no_content()
                }
                None => error(
                    StatusCode::BAD_REQUEST,
                    "not a SHA-1 thumbprint (40 hex digits)",
                ),
            }
        }
        (&Method::POST, ["ips"]) => {
            #[derive(Deserialize)]
            struct Ip {
                ip: IpAddr,
            }
            match serde_json::from_slice::<Ip>(&body) {
                Ok(ip) => {
                    shared.access.allow_ip(ip.ip);
                    no_content()
                }
                Err(e) => error(
                    StatusCode::BAD_REQUEST,
                    &format!("expected {{\"ip\": \"...\"}}: {e}"),
                ),
            }
        }
        (&Method::GET, ["ips"]) => http::json_value(StatusCode::OK, &shared.access.ips()),
        (&Method::GET, ["clients"]) => http::json_value(StatusCode::OK, &shared.access.clients()),
        (&Method::PUT, ["clients", id]) => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Client {
                #[serde(default = "yes")]
                data_access: bool,
            }
            fn yes() -> bool {
                true
            }
            let id = http::decode_component(id);
            match serde_json::from_slice::<Client>(&body) {
                Ok(c) if !id.is_empty() => {
                    shared.access.register_client(&id, c.data_access);
                    no_content()
                }
                Ok(_) => error(StatusCode::BAD_REQUEST, "the client id is empty"),
                Err(e) => error(
                    StatusCode::BAD_REQUEST,
                    &format!("expected {{\"data_access\": true|false}}: {e}"),
                ),
            }
        }
        (&Method::DELETE, ["clients", id]) => {
            shared.access.unregister_client(&http::decode_component(id));
            no_content()
        }
        (&Method::POST, ["clients", id, "secrets"]) => {
            let id = http::decode_component(id);
            let Ok(secret) = random_hex(24) else {
                return error(StatusCode::INTERNAL_SERVER_ERROR, "cannot make a secret");
            };
            if shared.access.add_secret(&id, secret.clone()) {
                http::json_value(
                    StatusCode::CREATED,
                    &serde_json::json!({"client_id": id, "client_secret": secret}),
                )
            } else {
                error(
                    StatusCode::NOT_FOUND,
                    "no such client: create it first with PUT /admin/clients/{client_id}",
                )
            }
        }
        (&Method::PUT, ["behaviour"]) => match serde_json::from_slice::<Behaviour>(&body) {
            Ok(b) => match b.validate() {
                Ok(()) => {
                    shared.set_behaviour(b);
                    no_content()
                }
                Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
            },
            Err(e) => error(
                StatusCode::BAD_REQUEST,
                &format!("bad behaviour document: {e}"),
            ),
        },
        (&Method::DELETE, ["ips", ip]) => match http::decode_component(ip).parse::<IpAddr>() {
            Ok(ip) => {
                shared.access.deny_ip(ip);
                no_content()
            }
            Err(_) => error(StatusCode::BAD_REQUEST, "not an IP address"),
        },
        (&Method::PUT, ["faults"]) => match serde_json::from_slice::<Faults>(&body) {
            Ok(f) => match f.validate() {
                Ok(()) => {
                    shared.faults.set(f);
                    no_content()
                }
                Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
            },
            Err(e) => error(
                StatusCode::BAD_REQUEST,
                &format!("bad faults document: {e}"),
            ),
        },
        (&Method::PUT, ["latency"]) => {
            #[derive(Deserialize)]
            struct Latency {
                latency_ms: u64,
            }
            match serde_json::from_slice::<Latency>(&body) {
                Ok(l) => {
                    shared.latency_ms.store(l.latency_ms, Ordering::Relaxed);
                    no_content()
                }
                Err(e) => error(
                    StatusCode::BAD_REQUEST,
                    &format!("expected {{\"latency_ms\": N}}: {e}"),
                ),
            }
        }
        (&Method::PUT, ["token-lifetime"]) => {
            #[derive(Deserialize)]
            struct Lifetime {
                secs: u64,
            }
            match serde_json::from_slice::<Lifetime>(&body) {
                Ok(l) if l.secs > 0 => {
                    shared.tokens.set_lifetime(Duration::from_secs(l.secs));
                    no_content()
                }
                _ => error(
                    StatusCode::BAD_REQUEST,
                    "expected {\"secs\": N} with N >= 1",
                ),
            }
        }
        (&Method::POST, ["tokens", "expire"]) => {
            shared.tokens.expire_all();
            no_content()
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "no such admin route (see docs/sandbox.md)",
        ),
    }
}

fn certificates(shared: &Shared) -> Vec<serde_json::Value> {
    shared
        .access
        .certificates()
        .into_iter()
        .map(|(t, cpr)| serde_json::json!({"sha1_thumbprint": t, "cpr_access": cpr}))
        .collect()
}

fn status(shared: &Shared) -> Resp {
    http::json_value(
        StatusCode::OK,
        &serde_json::json!({
            "request_count": shared.requests.load(Ordering::Relaxed),
            "latency_ms": shared.latency_ms.load(Ordering::Relaxed),
            "faults": shared.faults.get(),
            "behaviour": shared.behaviour(),
            "certificates": certificates(shared),
            "clients": shared.access.clients(),
            "allowed_ips": shared.access.ips(),
            "token_lifetime_secs": shared.tokens.lifetime().as_secs(),
            "persons": shared.population.len(),
            "seed": shared.seed,
        }),
    )
}

/// Registers by thumbprint (JSON) or by the certificate itself (PEM or DER).
fn register(shared: &Shared, query: &str, content_type: &str, body: &[u8]) -> Resp {
    let json_body = content_type.contains("json") || body.first() == Some(&b'{');
    let (thumbprint, cpr_access) = if json_body {
        #[derive(Deserialize)]
        struct Reg {
            sha1_thumbprint: String,
            #[serde(default = "yes")]
            cpr_access: bool,
        }
        fn yes() -> bool {
            true
        }
        match serde_json::from_slice::<Reg>(body) {
            Ok(r) => (r.sha1_thumbprint, r.cpr_access),
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "expected {{\"sha1_thumbprint\": \"...\", \"cpr_access\": true}}: {e}"
                    ),
                );
            }
        }
    } else {
        let cert = X509::from_pem(body).or_else(|_| X509::from_der(body));
        let Ok(cert) = cert else {
            return error(
                StatusCode::BAD_REQUEST,
                "the body is neither JSON nor a certificate (PEM or DER)",
            );
        };
        let Ok(thumbprint) = cprlink_cert::facts::sha1_thumbprint(&cert) else {
            return error(StatusCode::BAD_REQUEST, "cannot hash the certificate");
        };
        let cpr_access = !form_urlencoded::parse(query.as_bytes())
            .any(|(k, v)| k == "cpr_access" && v == "false");
        (thumbprint, cpr_access)
    };
    match shared.access.register(&thumbprint, cpr_access) {
        Some(t) => http::json_value(
            StatusCode::OK,
            &serde_json::json!({"sha1_thumbprint": t, "cpr_access": cpr_access}),
        ),
        None => error(
            StatusCode::BAD_REQUEST,
            "not a SHA-1 thumbprint (40 hex digits)",
        ),
    }
}
