//! GraphQL with OAuth: one `POST` per batch with the numbers as a variable, never
//! interpolated into the query text.
//!
//! Owns the query (it always selects `beskyttelser`, which the server requires, and
//! `personnumre`, to map batch answers back) and the one renewal after a 401
//! `invalid_token`. Datafordeler: lists are plain and keys lower-case here
//! (datafordeler.md 2).

use chrono::Utc;
use serde_json::{Value, json};

use crate::cpr::Cpr;
use crate::error::{Credential, Error, excerpt};
use crate::person::{Person, field, graphql_persons};
use crate::token::Tokens;
use crate::transport::{Answer, Transport, host_of, refusal};

/// The query: filter on the `in` list, select what the record needs.
pub const QUERY: &str = "query($cpr:[String!]!){CPRCustom_PublicSectorPerson(input:{personnummer:{personnummer:{in:$cpr}}}){nodes{id status personnumre{personnummer status} navne{fornavne mellemnavn efternavn adresseringsnavn status virkningfra virkningtil} beskyttelser{beskyttelsestype status virkningfra virkningtil}}}}";

/// The request body for `cprs`.
pub(crate) fn body(cprs: &[Cpr]) -> Value {
    let list: Vec<&str> = cprs.iter().map(Cpr::as_str).collect();
    json!({ "query": QUERY, "variables": { "cpr": list } })
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
    cprs: &[Cpr],
) -> Result<Vec<Person>, Error> {
    let url = url.to_owned();
    let host = host_of(&url);
    let payload = serde_json::to_vec(&body(cprs)).map_err(|e| Error::Protocol {
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
    if !(200..=299).contains(&answer.status) {
        return Err(refusal(&host, &answer, tokens.credential(transport)));
    }
    let value: Value = serde_json::from_slice(&answer.body).map_err(|_| Error::Protocol {
        host: host.clone(),
        reason: "the answer is not JSON".to_owned(),
    })?;
    if let Some(persons) = graphql_persons(&value, Utc::now()) {
        return Ok(persons);
    }
    Err(graphql_error(&host, &value, tokens.credential(transport)))
}

/// The `errors` of a GraphQL answer as our error: `DAF-AUTH-*` codes are refusals.
fn graphql_error(host: &str, value: &Value, credential: Credential) -> Error {
    let first = field(value, "errors")
        .and_then(Value::as_array)
        .and_then(|a| a.first());
    let message = first
        .and_then(|e| field(e, "message"))
        .and_then(Value::as_str)
        .unwrap_or("no data in the answer");
    let code = first
        .and_then(|e| field(e, "extensions"))
        .and_then(|x| field(x, "code"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    match code.as_deref() {
        Some("DAF-AUTH-0005") => Error::NotAllowlisted {
            host: host.to_owned(),
            code: "DAF-AUTH-0005".to_owned(),
            credential,
        },
        Some(c) if c.starts_with("DAF-AUTH") => Error::Unauthorized {
            host: host.to_owned(),
            code: Some(c.to_owned()),
            excerpt: excerpt(message.as_bytes()),
            credential,
        },
        _ => Error::Protocol {
            host: host.to_owned(),
            reason: format!("GraphQL error: {}", excerpt(message.as_bytes())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_travel_as_variables() {
        let a = Cpr::parse("0101011234").unwrap();
        let b = body(&[a]);
        assert_eq!(b["variables"]["cpr"][0], "0101011234");
        assert!(!b["query"].as_str().unwrap().contains("0101011234"));
        let q = QUERY;
        assert!(q.contains("beskyttelser{") && q.contains("personnumre{"));
        // Every selection is parseable GraphQL-ish: balanced braces.
        assert_eq!(q.matches('{').count(), q.matches('}').count());
    }

    #[test]
    fn auth_codes_in_graphql_errors() {
        let v = json!({"errors": [{"message": "No authentication method found", "extensions": {"code": "DAF-AUTH-0005"}}]});
        assert!(matches!(
            graphql_error("h", &v, Credential::SharedSecret),
            Error::NotAllowlisted { .. }
        ));
        let v = json!({"errors": [{"message": "Required fields are missing in query selection: beskyttelser"}]});
        let e = graphql_error("h", &v, Credential::SharedSecret);
        assert!(matches!(e, Error::Protocol { .. }));
        assert!(e.to_string().contains("beskyttelser"));
    }
}
