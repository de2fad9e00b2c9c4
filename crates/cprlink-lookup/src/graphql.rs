//! GraphQL with OAuth: one `POST` per batch with the numbers as a variable, never
//! interpolated into the query text.
//!
//! Owns the request (the checked query of `query`, built-in or the operator's), the one
//! renewal after a 401 `invalid_token`, and what the `errors` of an answer mean:
//! `DAF-AUTH-*` codes are refusals (0001, like HTTP 403, is the data access), anything
//! else is the server refusing the query, reported with its message (datafordeler.md
//! 5.2). Datafordeler: lists are plain and keys lower-case here (2).

use chrono::Utc;
use serde_json::{Value, json};

use crate::cpr::Cpr;
use crate::error::{Credential, Error, excerpt};
use crate::person::{Person, field, graphql_persons};
use crate::token::Tokens;
use crate::transport::{Answer, NO_AUTHENTICATION, NOT_AUTHORISED, Transport, host_of, refusal};

/// Most numbers in one `in` list: the `MaxListSize` of Datafordeler's GraphQL filter
/// inputs (`DafStringOperationFilterInput.in`, datafordeler.md 5.1).
pub const MAX_IN_LIST: usize = 100;

/// The request body for `cprs` with `query`.
pub(crate) fn body(query: &str, cprs: &[Cpr]) -> Value {
    let list: Vec<&str> = cprs.iter().map(Cpr::as_str).collect();
    json!({ "query": query, "variables": { "cpr": list } })
}

fn is_invalid_token(answer: &Answer) -> bool {
    if answer.status != 401 {
        return false;
    }
    let header = answer
        .headers
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    header.contains("invalid_token")
        || String::from_utf8_lossy(&answer.body).contains("invalid_token")
}

pub(crate) async fn lookup(
    transport: &Transport,
    tokens: &Tokens,
    url: &str,
    query: &str,
    cprs: &[Cpr],
) -> Result<Vec<Person>, Error> {
    let url = url.to_owned();
    let host = host_of(&url);
    let payload = serde_json::to_vec(&body(query, cprs)).map_err(|e| Error::Protocol {
        host: host.clone(),
        reason: e.to_string(),
    })?;
    let mut token = tokens.get(transport, false).await?;
    let mut renewed = false;
    let answer = loop {
        let http = transport.http().clone();
        let (u, p, t) = (url.clone(), payload.clone(), token.clone());
        let make = move || {
            http.post(&u)
                .bearer_auth(&t)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(p.clone())
        };
        let answer = transport.send(&host, &make).await?;
        if is_invalid_token(&answer) && !renewed {
            // Datafordeler: on 401 invalid_token renew once and retry.
            token = tokens.get_checked(transport, true, Some(&token)).await?;
            renewed = true;
            continue;
        }
        break answer;
    };
    let value: Option<Value> = serde_json::from_slice(&answer.body).ok();
    if !(200..=299).contains(&answer.status) {
        // A validation error may come with a 4xx; 401 and 403 are refusals.
        return Err(match &value {
            Some(v) if !matches!(answer.status, 401 | 403) && has_errors(v) => {
                graphql_error(&host, v, answer.status, tokens.credential(transport))
            }
            _ => refusal(&host, &answer, tokens.credential(transport)),
        });
    }
    let Some(value) = value else {
        return Err(Error::Protocol {
            host,
            reason: "the answer is not JSON".to_owned(),
        });
    };
    if let Some(persons) = graphql_persons(&value, Utc::now()) {
        return Ok(persons);
    }
    Err(graphql_error(
        &host,
        &value,
        answer.status,
        tokens.credential(transport),
    ))
}

fn has_errors(value: &Value) -> bool {
    field(value, "errors")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

/// The `errors` of a GraphQL answer as our error: `DAF-AUTH-0005` the allowlist or
/// the credential, `DAF-AUTH-0001` the data access (as a 403), other `DAF-AUTH-*`
/// codes a refusal; any other error is the server refusing the query, with its
/// message.
fn graphql_error(host: &str, value: &Value, status: u16, credential: Credential) -> Error {
    let first = field(value, "errors")
        .and_then(Value::as_array)
        .and_then(|a| a.first());
    let Some(first) = first else {
        return Error::Protocol {
            host: host.to_owned(),
            reason: format!("HTTP {status} with neither data nor errors"),
        };
    };
    let message = excerpt(
        field(first, "message")
            .and_then(Value::as_str)
            .unwrap_or("(no message)")
            .as_bytes(),
    );
    let code = field(first, "extensions")
        .and_then(|x| field(x, "code"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    match code.as_deref() {
        Some(NO_AUTHENTICATION) => Error::NotAllowlisted {
            host: host.to_owned(),
            code: NO_AUTHENTICATION.to_owned(),
            credential,
            waited_secs: 0,
        },
        Some(NOT_AUTHORISED) => Error::Forbidden {
            host: host.to_owned(),
            status,
            code,
            excerpt: message,
        },
        Some(c) if c.starts_with("DAF-AUTH") => Error::Unauthorized {
            host: host.to_owned(),
            code,
            excerpt: message,
            credential,
        },
        _ => Error::QueryRejected {
            host: host.to_owned(),
            code,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_travel_as_variables() {
        let a = Cpr::parse("0101011234").unwrap();
        let b = body(crate::query::BUILTIN, &[a]);
        assert_eq!(b["variables"]["cpr"][0], "0101011234");
        assert!(!b["query"].as_str().unwrap().contains("0101011234"));
    }

    #[test]
    fn codes_in_graphql_errors() {
        let v = json!({"errors": [{"message": "No authentication method found", "extensions": {"code": "DAF-AUTH-0005"}}]});
        assert!(matches!(
            graphql_error("h", &v, 401, Credential::SharedSecret),
            Error::NotAllowlisted { .. }
        ));
        // DAF-AUTH-0001 in a 200 is the data access, as a 403 is.
        let v = json!({"errors": [{"message": "The current user is not authorized to access this resource", "extensions": {"code": "DAF-AUTH-0001"}}]});
        let e = graphql_error("h", &v, 200, Credential::SharedSecret);
        assert!(matches!(e, Error::Forbidden { status: 200, .. }), "{e}");
        assert_eq!(e.revisit(), [crate::error::Revisit::DataAccess]);
        assert!(
            e.to_string().contains("DAF-AUTH-0001 in a GraphQL error"),
            "{e}"
        );
        // Validation errors report the server's message, masked, and are no refusal.
        let v = json!({"errors": [{"message": "The field `mellemnavn` does not exist (0101011234)", "extensions": {"code": "DAF-GQL-0002"}}]});
        let e = graphql_error("h", &v, 200, Credential::SharedSecret);
        assert!(matches!(e, Error::QueryRejected { .. }), "{e}");
        assert_eq!(e.kind(), crate::error::ErrorKind::Answer);
        assert!(e.revisit().is_empty());
        let text = e.to_string();
        assert!(text.contains("DAF-GQL-0002") && text.contains("`mellemnavn` does not exist"));
        assert!(
            text.contains("010101-xxxx") && !text.contains("0101011234"),
            "{text}"
        );
        let v = json!({"errors": [{"message": "Required fields are missing in query selection: beskyttelser"}]});
        let e = graphql_error("h", &v, 200, Credential::SharedSecret);
        assert!(matches!(e, Error::QueryRejected { code: None, .. }));
        assert!(e.to_string().contains("beskyttelser"));
    }
}
