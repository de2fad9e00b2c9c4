//! OAuth tokens and GraphQL: round trip, shapes, the observed rules, expiry.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{cert_token, client_with, graphql, new_identity, password, start};

const QUERY: &str = "query($cpr: [String!]!) { CPRCustom_PublicSectorPerson(input: {personnummer: {personnummer: {in: $cpr}}}) { nodes { id status personnumre { personnummer status } navne { fornavne mellemnavn efternavn adresseringsnavn status virkningfra virkningtil } beskyttelser { beskyttelsestype status virkningfra virkningtil } } } }";

#[tokio::test]
async fn certificate_token_then_query_with_variables() {
    let (_d, sb) = start(200, 31).await;
    let pop = sb.population();
    let token = cert_token(&sb).await;
    let asked = vec![pop.cpr(4), pop.unknown_cpr(0), pop.cpr(9)];
    let (status, _, v) = graphql(
        &sb,
        &token,
        json!({"query": QUERY, "variables": {"cpr": asked}}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert!(v.get("errors").is_none(), "{v}");
    let nodes = v["data"]["CPRCustom_PublicSectorPerson"]["nodes"]
        .as_array()
        .unwrap();
    assert_eq!(nodes.len(), 2, "the unknown number is absent");
    for (node, i) in nodes.iter().zip([4, 9]) {
        let person = pop.person(i);
        assert_eq!(node["id"], person.id.as_str());
        // Exactly the selected fields, unwrapped lists, lower-case virkningfra.
        let mut keys: Vec<&String> = node.as_object().unwrap().keys().collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["beskyttelser", "id", "navne", "personnumre", "status"]
        );
        let navn = &node["navne"][0];
        assert!(navn.get("Navn").is_none());
        assert_eq!(navn.as_object().unwrap().len(), 7);
        assert!(navn["virkningfra"].is_string());
        assert!(navn.get("virkningFra").is_none());
        assert!(
            node["personnumre"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["personnummer"] == pop.cpr(i).as_str())
        );
    }
    // Fields come in the order they were selected.
    let raw = client_with(&sb, None)
        .post(sb.graphql_url())
        .bearer_auth(&token)
        .json(&json!({"query": QUERY, "variables": {"cpr": [pop.cpr(4)]}}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = |k: &str| raw.find(&format!("\"{k}\":")).unwrap();
    assert!(
        at("id") < at("status") && at("status") < at("personnumre"),
        "{raw}"
    );
    assert!(
        at("personnumre") < at("navne") && at("navne") < at("beskyttelser"),
        "{raw}"
    );
    // Unknown numbers only: nodes is empty.
    let (status, _, v) = graphql(
        &sb,
        &token,
        json!({"query": QUERY, "variables": {"cpr": [pop.unknown_cpr(5)]}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"data": {"CPRCustom_PublicSectorPerson": {"nodes": []}}})
    );
}

#[tokio::test]
async fn shared_secret_token_and_a_literal_list() {
    let (_d, sb) = start(100, 32).await;
    let secret = password(&sb.files().client_secret);
    let plain = client_with(&sb, None);
    let r = plain
        .post(sb.shared_secret_token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "cprlink-sandbox"),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["expires_in"], 300);
    let token = t["access_token"].as_str().unwrap();
    let cpr = sb.population().cpr(2);
    let q = format!(
        "{{ CPRCustom_PublicSectorPerson(input: {{personnummer: {{personnummer: {{in: [\"{cpr}\"]}}}}}}) {{ nodes {{ navne {{ efternavn status }} beskyttelser {{ beskyttelsestype }} }} }} }}"
    );
    let (status, _, v) = graphql(&sb, token, json!({"query": q})).await;
    assert_eq!(status, 200);
    assert_eq!(
        v["data"]["CPRCustom_PublicSectorPerson"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A wrong secret: 401 in OAuth's shape.
    let r = plain
        .post(sb.shared_secret_token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "cprlink-sandbox"),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    // HTTP Basic works as well.
    let r = plain
        .post(sb.shared_secret_token_url())
        .basic_auth("cprlink-sandbox", Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_observed_rules_beskyttelser_aliases_unknown_fields() {
    let (_d, sb) = start(100, 33).await;
    let token = cert_token(&sb).await;
    let vars = json!({"cpr": [sb.population().cpr(1)]});
    let message = |v: &Value| {
        v["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    let without = QUERY.replace(
        " beskyttelser { beskyttelsestype status virkningfra virkningtil }",
        "",
    );
    let (status, _, v) = graphql(&sb, &token, json!({"query": without, "variables": vars})).await;
    assert_eq!(status, 200);
    assert_eq!(
        message(&v),
        "Required fields are missing in query selection: beskyttelser"
    );
    assert!(v.get("data").is_none());

    let aliased = QUERY.replace("nodes { id", "nodes { uuid: id");
    let (_, _, v) = graphql(&sb, &token, json!({"query": aliased, "variables": vars})).await;
    assert!(message(&v).contains("Aliases are not allowed"), "{v}");

    let unknown = QUERY.replace("nodes { id", "nodes { cpr");
    let (_, _, v) = graphql(&sb, &token, json!({"query": unknown, "variables": vars})).await;
    assert!(message(&v).contains("`cpr` does not exist"), "{v}");
    assert!(v["errors"][0]["extensions"]["code"].is_string());

    let (_, _, v) = graphql(&sb, &token, json!({"query": QUERY})).await;
    assert!(message(&v).contains("$cpr"), "{v}");

    let (_, _, v) = graphql(
        &sb,
        &token,
        json!({"query": "{ CPRCustom_PublicSectorPerson( }"}),
    )
    .await;
    assert!(!message(&v).is_empty());

    let (status, _, _) = graphql(&sb, &token, json!("not a request")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn tokens_are_required_and_expire() {
    let (_d, sb) = start(100, 34).await;
    let vars = json!({"cpr": [sb.population().cpr(1)]});
    // No token at all: no authentication method found.
    let r = client_with(&sb, None)
        .post(sb.graphql_url())
        .json(&json!({"query": QUERY, "variables": vars}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["extensions"]["code"], "DAF-AUTH-0005");
    // A made-up token.
    let (status, headers, _) =
        graphql(&sb, "made-up", json!({"query": QUERY, "variables": vars})).await;
    assert_eq!(status, 401);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );

    // A token that expires: 401 invalid_token, so a client renews.
    sb.set_token_lifetime(Duration::from_millis(1500));
    let token = cert_token(&sb).await;
    let (status, _, _) = graphql(&sb, &token, json!({"query": QUERY, "variables": vars})).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let (status, headers, v) =
        graphql(&sb, &token, json!({"query": QUERY, "variables": vars})).await;
    assert_eq!(status, 401);
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );
    // Not a DAF-AUTH code: those mean "not allowlisted" (0005) and "no data access"
    // (0001), and renewing the token helps with neither.
    assert_eq!(v["errors"][0]["extensions"]["code"], "invalid_token");
    // Renewing works; expire_tokens() ends it at once.
    sb.set_token_lifetime(Duration::from_secs(300));
    let fresh = cert_token(&sb).await;
    assert_eq!(
        graphql(&sb, &fresh, json!({"query": QUERY, "variables": vars}))
            .await
            .0,
        200
    );
    sb.expire_tokens();
    assert_eq!(
        graphql(&sb, &fresh, json!({"query": QUERY, "variables": vars}))
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn a_token_follows_its_certificate_registration() {
    let (_d, sb) = start(100, 35).await;
    let (identity, thumb) = new_identity(&sb);
    sb.register_certificate(&thumb, false);
    let client = client_with(&sb, Some(identity));
    let r = client
        .post(sb.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "cprlink-sandbox"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let vars = json!({"cpr": [sb.population().cpr(1)]});
    // Registered without the data access: 403 DAF-AUTH-0001 (datafordeler.md 5.2).
    let (status, _, v) = graphql(&sb, &token, json!({"query": QUERY, "variables": vars})).await;
    assert_eq!(status, 403);
    assert_eq!(v["errors"][0]["extensions"]["code"], "DAF-AUTH-0001");
    assert_eq!(
        v["errors"][0]["message"],
        "The current user is not authorized to access this resource"
    );
    sb.register_certificate(&thumb, true);
    assert_eq!(
        graphql(&sb, &token, json!({"query": QUERY, "variables": vars}))
            .await
            .0,
        200
    );
    sb.unregister_certificate(&thumb);
    let (status, _, v) = graphql(&sb, &token, json!({"query": QUERY, "variables": vars})).await;
    assert_eq!(status, 401);
    assert_eq!(v["errors"][0]["extensions"]["code"], "DAF-AUTH-0005");
    // A wrong client id is refused at the token endpoint.
    let r = crate::support::client(&sb)
        .post(sb.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "someone-else"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
