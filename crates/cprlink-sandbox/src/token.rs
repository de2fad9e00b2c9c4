//! OAuth 2.0 client-credentials tokens, as Datafordeler's Keycloak issues them.
//!
//! Owns the token endpoint in its two variants (datafordeler.md 2.1, 5.2): "OAuth
//! Certifikat" on the mutual-TLS listener, like `auth-oces.datafordeler.dk` (a
//! registered certificate plus a known `client_id`, no secret), and the shared secret
//! on a listener of its own without client certificates, like `auth.datafordeler.dk`
//! (`client_id` + `client_secret` in the form or as HTTP Basic). Also owns the issued
//! tokens: opaque, expiring (`expires_in` 300 by default, settable for tests), each
//! remembering its IT-system and credential, checked by the GraphQL endpoint. Wrong
//! credentials get 401 `{"error": "invalid_client"}`. An inert credential still gets a
//! token: Datafordeler's gateway refuses the call made with it (`access`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyper::StatusCode;

use crate::access::Access;
use crate::files::random_hex;
use crate::http::{self, Resp};

/// Keycloak's token path (datafordeler.md 2.1).
pub const TOKEN_PATH: &str = "/realms/distribution/protocol/openid-connect/token";

/// Datafordeler's token lifetime (datafordeler.md 2.1).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// Who a token was issued to: an IT-system, through one of its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Holder {
    pub client_id: String,
    pub credential: Credential,
}

/// The credential a token was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credential {
    /// The certificate variant: the SHA-1 thumbprint of the client certificate.
    Certificate(String),
    /// The shared-secret variant: which of the IT-system's secrets.
    SharedSecret(u64),
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    Unknown,
    Expired,
}

#[derive(Debug)]
struct Entry {
    holder: Holder,
    expires: Instant,
}

/// The issued tokens.
#[derive(Debug)]
pub(crate) struct Tokens {
    map: Mutex<HashMap<String, Entry>>,
    lifetime_ms: AtomicU64,
}

impl Default for Tokens {
    fn default() -> Self {
        Tokens {
            map: Mutex::new(HashMap::new()),
            lifetime_ms: AtomicU64::new(DEFAULT_LIFETIME.as_millis() as u64),
        }
    }
}

impl Tokens {
    pub(crate) fn set_lifetime(&self, lifetime: Duration) {
        let ms = lifetime.as_millis().clamp(1, u128::from(u64::MAX)) as u64;
        self.lifetime_ms.store(ms, Ordering::Relaxed);
    }

    pub(crate) fn lifetime(&self) -> Duration {
        Duration::from_millis(self.lifetime_ms.load(Ordering::Relaxed))
    }

    /// A new token for `holder`, and its lifetime in whole seconds (at least 1).
    pub(crate) fn issue(&self, holder: Holder) -> Option<(String, u64)> {
        let token = random_hex(32).ok()?;
        let lifetime = self.lifetime();
        let now = Instant::now();
        if let Ok(mut map) = self.map.lock() {
            if map.len() > 10_000 {
                // Forget tokens that expired long ago; they would be "unknown" now.
                map.retain(|_, e| e.expires + Duration::from_secs(600) > now);
            }
            map.insert(
                token.clone(),
                Entry {
                    holder,
                    expires: now + lifetime,
                },
            );
        }
        Some((token, lifetime.as_secs().max(1)))
    }

    pub(crate) fn check(&self, token: &str) -> Result<Holder, TokenProblem> {
        let map = self.map.lock().map_err(|_| TokenProblem::Unknown)?;
        let entry = map.get(token).ok_or(TokenProblem::Unknown)?;
        if Instant::now() >= entry.expires {
            return Err(TokenProblem::Expired);
        }
        Ok(entry.holder.clone())
    }

    /// Makes every issued token expire now (clients must renew).
    pub(crate) fn expire_all(&self) {
        let now = Instant::now();
        if let Ok(mut map) = self.map.lock() {
            for e in map.values_mut() {
                e.expires = e.expires.min(now);
            }
        }
    }
}

fn token_response(tokens: &Tokens, holder: Holder) -> Resp {
    match tokens.issue(holder) {
        Some((token, expires_in)) => http::json_value(
            StatusCode::OK,
            // Keycloak's shape for client credentials.
            &serde_json::json!({
                "access_token": token,
                "expires_in": expires_in,
                "refresh_expires_in": 0,
                "token_type": "Bearer",
                "not-before-policy": 0,
                "scope": "",
            }),
        ),
        None => http::oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "cannot make a token",
        ),
    }
}

/// The form fields the token endpoint reads.
#[derive(Debug, Default)]
struct Form {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn form(body: &[u8]) -> Form {
    let mut f = Form::default();
    for (k, v) in form_urlencoded::parse(body) {
        match k.as_ref() {
            "grant_type" => f.grant_type = Some(v.into_owned()),
            "client_id" => f.client_id = Some(v.into_owned()),
            "client_secret" => f.client_secret = Some(v.into_owned()),
            _ => {}
        }
    }
    f
}

/// The refusal of a form without `grant_type=client_credentials`, if it is one.
fn refuse_grant(f: &Form) -> Option<Resp> {
    match f.grant_type.as_deref() {
        Some("client_credentials") => None,
        None => Some(http::oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing form parameter: grant_type",
        )),
        Some(_) => Some(http::oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Only client_credentials is supported",
        )),
    }
}

fn invalid_client(description: &str) -> Resp {
    http::oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

/// The certificate variant: the TLS client certificate must be registered, the
/// `client_id` an IT-system the sandbox knows.
pub(crate) fn certificate_variant(
    tokens: &Tokens,
    access: &Access,
    ip: std::net::IpAddr,
    thumbprint: Option<&str>,
    body: &[u8],
) -> Resp {
    let f = form(body);
    if let Some(r) = refuse_grant(&f) {
        return r;
    }
    let Some(client_id) = f.client_id.filter(|id| access.client_known(id)) else {
        return invalid_client("Invalid client or Invalid client credentials");
    };
    if !access.ip_allowed(ip) {
        return invalid_client("Client IP address is not allowlisted");
    }
    match thumbprint {
        Some(t) if access.certificate(t).is_some() => token_response(
            tokens,
            Holder {
                client_id,
                credential: Credential::Certificate(t.to_owned()),
            },
        ),
        _ => invalid_client("The client certificate is not registered for this client"),
    }
}

/// The shared-secret variant: `client_id` and `client_secret` in the form, or HTTP
/// Basic authentication.
pub(crate) fn secret_variant(
    tokens: &Tokens,
    access: &Access,
    headers: &hyper::HeaderMap,
    body: &[u8],
) -> Resp {
    let mut f = form(body);
    if let Some(r) = refuse_grant(&f) {
        return r;
    }
    if let Some((id, sec)) = basic_auth(headers) {
        f.client_id = Some(id);
        f.client_secret = Some(sec);
    }
    let (Some(client_id), Some(secret)) = (f.client_id, f.client_secret) else {
        return invalid_client("Invalid client or Invalid client credentials");
    };
    match access.secret_id(&client_id, &secret) {
        Some(id) => token_response(
            tokens,
            Holder {
                client_id,
                credential: Credential::SharedSecret(id),
            },
        ),
        None => invalid_client("Invalid client or Invalid client credentials"),
    }
}

fn basic_auth(headers: &hyper::HeaderMap) -> Option<(String, String)> {
    let v = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = openssl::base64::decode_block(b64.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    // RFC 6749 2.3.1: both parts are form-encoded before Basic encoding.
    Some((http::decode_component(id), http::decode_component(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire() {
        let t = Tokens::default();
        t.set_lifetime(Duration::from_millis(30));
        let holder = Holder {
            client_id: "it".into(),
            credential: Credential::SharedSecret(7),
        };
        let (tok, secs) = t.issue(holder.clone()).unwrap();
        assert_eq!(secs, 1);
        assert_eq!(t.check(&tok), Ok(holder.clone()));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(t.check(&tok), Err(TokenProblem::Expired));
        assert_eq!(t.check("nope"), Err(TokenProblem::Unknown));
        t.set_lifetime(Duration::from_secs(300));
        let (tok, secs) = t.issue(holder).unwrap();
        assert_eq!(secs, 300);
        t.expire_all();
        assert_eq!(t.check(&tok), Err(TokenProblem::Expired));
    }
}
