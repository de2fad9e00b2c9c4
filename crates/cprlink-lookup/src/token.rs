//! OAuth access tokens for GraphQL: `client_credentials` over mutual TLS with the OCES3
//! certificate ("OAuth Certifikat"), or with a shared secret (`client_secret_file`).
//!
//! Owns the cache: one token per process, renewed shortly before it expires and on
//! demand after a 401 `invalid_token`; one renewal at a time. Tokens and secrets never
//! reach a log or a message. Datafordeler: `{"access_token", "expires_in", "token_type"}`
//! (datafordeler.md 2.1).

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::{Credential, Error, excerpt};
use crate::transport::{Transport, daf_code, host_of, refusal};

/// Where tokens come from and the one cached: one per process, shared by every task.
pub(crate) struct Tokens {
    url: String,
    client_id: String,
    /// Shared-secret OAuth; `None` = the certificate variant.
    client_secret: Option<SecretString>,
    state: tokio::sync::Mutex<Option<Token>>,
}

#[derive(Clone)]
struct Token {
    access: String,
    renew_at: Instant,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// When to renew a token that lives `expires_in` seconds: 30 s early, or a fifth of its
/// life early for short-lived tokens.
pub(crate) fn renew_after(expires_in: u64) -> Duration {
    let margin = (expires_in / 5).min(30);
    Duration::from_secs(expires_in.saturating_sub(margin))
}

impl Tokens {
    pub(crate) fn new(url: &str, client_id: &str, client_secret: Option<SecretString>) -> Tokens {
        Tokens {
            url: url.to_owned(),
            client_id: client_id.to_owned(),
            client_secret,
            state: tokio::sync::Mutex::new(None),
        }
    }

    /// What tokens are asked with: the shared secret, or our certificate.
    pub(crate) fn credential(&self, transport: &Transport) -> Credential {
        match self.client_secret {
            Some(_) => Credential::SharedSecret,
            None => transport.certificate(),
        }
    }

    /// A valid token; `force` renews even a cached one (after 401 `invalid_token`).
    /// `stale` is the token the caller saw rejected: when another task renewed it
    /// already, that newer token is used instead of asking again.
    pub(crate) async fn get_checked(
        &self,
        transport: &Transport,
        force: bool,
        stale: Option<&str>,
    ) -> Result<String, Error> {
        let mut guard = self.state.lock().await;
        if let Some(t) = guard.as_ref() {
            let renewed_meanwhile = stale.is_some_and(|s| s != t.access);
            if (!force || renewed_meanwhile) && Instant::now() < t.renew_at {
                return Ok(t.access.clone());
            }
        }
        let token = self.fetch(transport).await?;
        let access = token.access.clone();
        *guard = Some(token);
        Ok(access)
    }

    pub(crate) async fn get(&self, transport: &Transport, force: bool) -> Result<String, Error> {
        self.get_checked(transport, force, None).await
    }

    async fn fetch(&self, transport: &Transport) -> Result<Token, Error> {
        let url = self.url.clone();
        let host = host_of(&url);
        let (client_id, secret) = (self.client_id.clone(), self.client_secret.clone());
        let http = transport.http().clone();
        // The secret stays in its zeroizing wrapper; each attempt exposes it to the form.
        let make = move || {
            let mut form = vec![
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
            ];
            if let Some(secret) = &secret {
                form.push(("client_secret", secret.expose_secret()));
            }
            http.post(&url).form(&form)
        };
        let started = Instant::now();
        let answer = transport.send(&host, &make).await?;
        if !(200..=299).contains(&answer.status) {
            if answer.status == 401 && daf_code(&String::from_utf8_lossy(&answer.body)).is_some() {
                return Err(refusal(&host, &answer, self.credential(transport)));
            }
            return Err(Error::TokenRefused {
                host,
                status: answer.status,
                excerpt: oauth_error(&answer.body),
                credential: self.credential(transport),
            });
        }
        let parsed: TokenAnswer =
            serde_json::from_slice(&answer.body).map_err(|_| Error::Protocol {
                host: host.clone(),
                reason: "the token answer has no access_token".to_owned(),
            })?;
        if parsed.access_token.is_empty() {
            return Err(Error::Protocol {
                host,
                reason: "the token answer has an empty access_token".to_owned(),
            });
        }
        // Datafordeler tokens live 300 s when `expires_in` is missing.
        let life = parsed.expires_in.unwrap_or(300);
        Ok(Token {
            access: parsed.access_token,
            renew_at: started + renew_after(life),
        })
    }
}

/// `error` and `error_description` of an OAuth error answer (RFC 6749 5.2), else an
/// excerpt.
fn oauth_error(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    match serde_json::from_slice::<OAuthError>(body) {
        Ok(e) => excerpt(
            match e.error_description {
                Some(d) => format!("{} ({d})", e.error),
                None => e.error,
            }
            .as_bytes(),
        ),
        Err(_) => excerpt(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_margin() {
        assert_eq!(renew_after(300), Duration::from_secs(270));
        assert_eq!(renew_after(60), Duration::from_secs(48));
        assert_eq!(renew_after(0), Duration::ZERO);
    }

    #[test]
    fn oauth_errors_are_short() {
        assert_eq!(
            oauth_error(
                br#"{"error":"invalid_client","error_description":"Invalid client credentials"}"#
            ),
            "invalid_client (Invalid client credentials)"
        );
        assert_eq!(oauth_error(b"<html>nope</html>"), "<html>nope</html>");
    }
}
