//! What section 5 of datafordeler.md says Datafordeler does, shown by the sandbox and
//! seen by independent clients: `in` lists over 100 refused, answers cut short without
//! a word, IT-systems without data access, inert new credentials, the SDL at
//! `/schema` (with fields dropped or renamed).

use std::time::Duration;

use cprlink_sandbox::{Behaviour, CLIENT_ID, NoAccessAnswer, SchemaChange};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{
    admin, cert_token, client, client_with, graphql, new_identity, password, rest, rest_url,
    secret_token, start, start_with,
};

const QUERY: &str = "query($cpr: [String!]!) { CPRCustom_PublicSectorPerson(input: {personnummer: {personnummer: {in: $cpr}}}) { totalCount nodes { id personnumre { personnummer status } navne { fornavne mellemnavn efternavn status } beskyttelser { beskyttelsestype virkningtil } } } }";

fn nodes(v: &Value) -> &Vec<Value> {
    v["data"]["CPRCustom_PublicSectorPerson"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("no nodes in {v}"))
}

/// The current CPR number of a GraphQL node.
fn cpr_of(node: &Value) -> String {
    node["personnumre"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["status"] == "aktuel")
        .unwrap()["personnummer"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn in_lists_over_100_are_refused_with_a_validation_error() {
    let (_d, sb) = start(300, 61).await;
    let pop = sb.population();
    let token = cert_token(&sb).await;
    let cprs: Vec<String> = (0..101).map(|i| pop.cpr(i)).collect();

    let (status, _, v) = graphql(
        &sb,
        &token,
        json!({"query": QUERY, "variables": {"cpr": &cprs[..100]}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(nodes(&v).len(), 100, "100 is allowed");

    // 101: the GraphQL errors shape, HTTP 200 (GraphQL over HTTP, application/json),
    // no data, and no number echoed.
    let (status, _, v) = graphql(
        &sb,
        &token,
        json!({"query": QUERY, "variables": {"cpr": cprs}}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(v.get("data").is_none(), "{v}");
    assert_eq!(code(&v), "DAF-GQL-0003");
    let message = v["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("101") && message.contains("100"),
        "{message}"
    );
    assert!(!cprs.iter().any(|c| message.contains(&c[..6])), "{message}");

    // A literal list counts the same; the limit can be changed through the admin API.
    let (status, _) = admin(
        &sb,
        Method::PUT,
        "/behaviour",
        Some(json!({"max_in_list": 3})),
    )
    .await;
    assert_eq!(status, 204);
    let literal = format!(
        "{{ CPRCustom_PublicSectorPerson(input: {{personnummer: {{personnummer: {{in: [{}]}}}}}}) {{ nodes {{ id beskyttelser {{ beskyttelsestype }} }} }} }}",
        cprs[..4]
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (_, _, v) = graphql(&sb, &token, json!({"query": literal})).await;
    assert_eq!(code(&v), "DAF-GQL-0003", "{v}");
    let (status, _) = admin(
        &sb,
        Method::PUT,
        "/behaviour",
        Some(json!({"max_in_list": 0})),
    )
    .await;
    assert_eq!(status, 400, "a limit of 0 is refused");
    assert_eq!(sb.behaviour().max_in_list, 3, "and changes nothing");
}

#[tokio::test]
async fn answers_cut_short_drop_the_last_persons_silently() {
    let (_d, sb) = start_with(300, 62, |o| o.behaviour.max_nodes = Some(3)).await;
    let pop = sb.population();
    let asked: Vec<String> = [5, 1, 9, 2, 7, 4, 8].iter().map(|i| pop.cpr(*i)).collect();
    let token = cert_token(&sb).await;

    // GraphQL: the first 3 in the order the server answers (the order asked), a
    // totalCount that agrees, and no error.
    let (status, _, v) = graphql(
        &sb,
        &token,
        json!({"query": QUERY, "variables": {"cpr": asked}}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(v.get("errors").is_none(), "{v}");
    let got: Vec<String> = nodes(&v).iter().map(cpr_of).collect();
    assert_eq!(got, asked[..3]);
    assert_eq!(v["data"]["CPRCustom_PublicSectorPerson"]["totalCount"], 3);

    // REST: pages of at most 3 whatever pageSize says; page 2 goes on from there.
    let wi = asked.join("%7C");
    let (status, v) = rest(&sb, &format!("pnr.personnummer.wi={wi}&pageSize=20")).await;
    assert_eq!(status, 200);
    assert_eq!(v.as_object().unwrap().len(), 1, "only Personer: {v}");
    let page = |v: &Value| -> Vec<String> {
        v["Personer"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                p["Person"]["Personnumre"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| &n["Personnummer"])
                    .find(|n| n["status"] == "aktuel")
                    .unwrap()["personnummer"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(page(&v), asked[..3]);
    let (_, v2) = rest(&sb, &format!("pnr.personnummer.wi={wi}&pageSize=20&page=3")).await;
    assert_eq!(page(&v2), asked[6..]);

    // A client that asks the missing numbers again, alone, finds every one.
    for cpr in &asked[3..] {
        let (_, _, v) = graphql(
            &sb,
            &token,
            json!({"query": QUERY, "variables": {"cpr": [cpr]}}),
        )
        .await;
        assert_eq!(
            nodes(&v).iter().map(cpr_of).collect::<Vec<_>>(),
            std::slice::from_ref(cpr)
        );
    }

    // Switched off at run time: the whole answer again.
    sb.set_behaviour(Behaviour::default()).unwrap();
    let (_, _, v) = graphql(
        &sb,
        &token,
        json!({"query": QUERY, "variables": {"cpr": asked}}),
    )
    .await;
    assert_eq!(nodes(&v).len(), 7);
    assert!(
        sb.set_behaviour(Behaviour {
            max_nodes: Some(0),
            ..Behaviour::default()
        })
        .is_err()
    );
}

#[tokio::test]
async fn an_it_system_without_data_access_gets_daf_auth_0001() {
    let (_d, sb) = start_with(100, 63, |o| o.data_access = false).await;
    let cpr = sb.population().cpr(3);
    let vars = json!({"query": QUERY, "variables": {"cpr": [cpr]}});
    let not_authorized = "The current user is not authorized to access this resource";

    // REST with the sandbox's own certificate: 403 problem+json.
    let (status, v) = rest(&sb, &format!("pnr.personnummer.eq={cpr}")).await;
    assert_eq!((status, v["code"].as_str()), (403, Some("DAF-AUTH-0001")));
    assert_eq!(v["detail"], not_authorized);
    // GraphQL, with a certificate token and with a shared-secret token: tokens are
    // issued (authentication works), the call is refused.
    let secret = password(&sb.files().client_secret);
    for token in [
        cert_token(&sb).await,
        secret_token(&sb, CLIENT_ID, &secret).await,
    ] {
        let (status, _, v) = graphql(&sb, &token, vars.clone()).await;
        assert_eq!(status, 403);
        assert_eq!(code(&v), "DAF-AUTH-0001");
        assert_eq!(v["errors"][0]["message"], not_authorized);
        assert!(v.get("data").is_none());
    }

    // The register authority grants it (in process): answers.
    sb.set_data_access(CLIENT_ID, true);
    sb.register_certificate(sb.client_thumbprint(), true);
    let token = secret_token(&sb, CLIENT_ID, &secret).await;
    assert_eq!(graphql(&sb, &token, vars.clone()).await.0, 200);
    assert_eq!(
        rest(&sb, &format!("pnr.personnummer.eq={cpr}")).await.0,
        200
    );

    // Withdrawn through the admin API, and shown as a GraphQL error in a 200.
    let (status, _) = admin(
        &sb,
        Method::PUT,
        &format!("/clients/{CLIENT_ID}"),
        Some(json!({"data_access": false})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = admin(
        &sb,
        Method::PUT,
        "/behaviour",
        Some(json!({"no_access_answer": "graphql_error"})),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        sb.behaviour().no_access_answer,
        NoAccessAnswer::GraphqlError
    );
    let (status, _, v) = graphql(&sb, &token, vars.clone()).await;
    assert_eq!((status, code(&v)), (200, "DAF-AUTH-0001"));
    assert!(v.get("data").is_none());
    // The certificate alone still has its access (REST has no IT-system).
    assert_eq!(
        rest(&sb, &format!("pnr.personnummer.eq={cpr}")).await.0,
        200
    );

    // Another IT-system, made through the admin API, with a secret of its own.
    let (status, _) = admin(
        &sb,
        Method::PUT,
        "/clients/other-system",
        Some(json!({"data_access": true})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, created) = admin(&sb, Method::POST, "/clients/other-system/secrets", None).await;
    assert_eq!(status, 201);
    let other = created["client_secret"].as_str().unwrap();
    let token = secret_token(&sb, "other-system", other).await;
    assert_eq!(graphql(&sb, &token, vars.clone()).await.0, 200);
    let (_, clients) = admin(&sb, Method::GET, "/clients", None).await;
    assert!(
        clients.as_array().unwrap().contains(
            &json!({"client_id": "other-system", "data_access": true, "shared_secrets": 1})
        ),
        "{clients}"
    );
    // A secret for an IT-system that does not exist: 404.
    assert_eq!(
        admin(&sb, Method::POST, "/clients/nobody/secrets", None)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn new_credentials_are_inert_for_a_while() {
    // A long period first, so what is inert does not depend on how fast this machine
    // is; then a short one, to see it end.
    let (_d, sb) = start_with(100, 64, |o| o.behaviour.inert_secs = 3600).await;
    let cpr = sb.population().cpr(1);
    let vars = json!({"query": QUERY, "variables": {"cpr": [cpr]}});
    let url = rest_url(&sb, &format!("pnr.personnummer.eq={cpr}"));

    // The sandbox's own certificate and secret were registered at start: 401
    // DAF-AUTH-0005 (REST as problem+json), though tokens are issued.
    let (status, v) = rest(&sb, &format!("pnr.personnummer.eq={cpr}")).await;
    assert_eq!((status, v["code"].as_str()), (401, Some("DAF-AUTH-0005")));
    let token = cert_token(&sb).await;
    let own_secret = password(&sb.files().client_secret);
    let t_own = secret_token(&sb, CLIENT_ID, &own_secret).await;
    for t in [&token, &t_own] {
        let (status, headers, v) = graphql(&sb, t, vars.clone()).await;
        assert_eq!((status, code(&v)), (401, "DAF-AUTH-0005"));
        assert!(
            !headers["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token"),
            "renewing the token would not help"
        );
    }
    // So are a certificate registered and a secret created later.
    let (identity, thumbprint) = new_identity(&sb);
    sb.register_certificate(&thumbprint, true);
    let other = client_with(&sb, Some(identity));
    assert_eq!(other.get(&url).send().await.unwrap().status(), 401);
    let second = sb.create_shared_secret(CLIENT_ID).unwrap();
    let t_second = secret_token(&sb, CLIENT_ID, &second).await;
    assert_eq!(graphql(&sb, &t_second, vars.clone()).await.0, 401);

    // 2.5 s later, with a period of 2 s: all of them work.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, _) = admin(
        &sb,
        Method::PUT,
        "/behaviour",
        Some(json!({"inert_secs": 2})),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(client(&sb).get(&url).send().await.unwrap().status(), 200);
    assert_eq!(graphql(&sb, &token, vars.clone()).await.0, 200);
    assert_eq!(graphql(&sb, &t_own, vars.clone()).await.0, 200);
    assert_eq!(graphql(&sb, &t_second, vars.clone()).await.0, 200);
    // Granting the certificate its access again is no new registration.
    sb.register_certificate(&thumbprint, true);
    assert_eq!(other.get(&url).send().await.unwrap().status(), 200);

    // A secret created now is inert while the older ones work, until 2 s have passed.
    let third = sb.create_shared_secret(CLIENT_ID).unwrap();
    let t_third = secret_token(&sb, CLIENT_ID, &third).await;
    assert_eq!(graphql(&sb, &t_third, vars.clone()).await.0, 401);
    assert_eq!(graphql(&sb, &t_second, vars.clone()).await.0, 200);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(graphql(&sb, &t_third, vars.clone()).await.0, 200);

    let (_, status_doc) = admin(&sb, Method::GET, "", None).await;
    assert_eq!(status_doc["behaviour"]["inert_secs"], 2);
}

#[tokio::test]
async fn the_sdl_at_schema_describes_what_is_served() {
    let (_d, sb) = start(100, 65).await;
    // Public: no token needed.
    let r = client_with(&sb, None)
        .get(sb.schema_url())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let sdl = r.text().await.unwrap();
    let doc = async_graphql_parser::parse_schema(&sdl).expect("the SDL parses");
    let fields = fields_of(&doc);
    // Every field the documented query of datafordeler.md 2 selects is there.
    for (ty, field) in [
        ("CPRCustom_PublicSectorPerson", "id"),
        ("CPRCustom_PublicSectorPerson", "status"),
        ("CPRCustom_PublicSectorPerson", "personnumre"),
        ("CPRCustom_PublicSectorPerson", "navne"),
        ("CPRCustom_PublicSectorPerson", "beskyttelser"),
        ("CPRCustom_PublicSectorPersonnummer", "personnummer"),
        ("CPRCustom_PublicSectorNavn", "fornavne"),
        ("CPRCustom_PublicSectorNavn", "mellemnavn"),
        ("CPRCustom_PublicSectorNavn", "efternavn"),
        ("CPRCustom_PublicSectorNavn", "adresseringsnavn"),
        ("CPRCustom_PublicSectorNavn", "virkningfra"),
        ("CPRCustom_PublicSectorBeskyttelse", "beskyttelsestype"),
        ("CPRCustom_PublicSectorBeskyttelse", "virkningtil"),
        ("CPRCustom_PublicSectorPersonConnection", "nodes"),
        ("Query", "CPRCustom_PublicSectorPerson"),
    ] {
        assert!(
            fields.contains(&(ty.to_owned(), field.to_owned())),
            "{ty}.{field} in {sdl}"
        );
    }
    assert!(sdl.contains("At most 100 values"), "{sdl}");
    let r = client_with(&sb, None)
        .post(sb.schema_url())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn a_dropped_or_renamed_field_changes_the_sdl_and_the_queries() {
    let (_d, sb) = start_with(100, 66, |o| {
        o.schema = vec![
            SchemaChange::Drop {
                path: "navne.mellemnavn".into(),
            },
            SchemaChange::Rename {
                path: "koen".into(),
                to: "kon".into(),
            },
        ];
    })
    .await;
    let sdl = client_with(&sb, None)
        .get(sb.schema_url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fields = fields_of(&async_graphql_parser::parse_schema(&sdl).unwrap());
    let has = |t: &str, f: &str| fields.contains(&(t.to_owned(), f.to_owned()));
    assert!(!has("CPRCustom_PublicSectorNavn", "mellemnavn"), "{sdl}");
    assert!(has("CPRCustom_PublicSectorNavn", "fornavne"));
    assert!(has("CPRCustom_PublicSectorPerson", "kon"));
    assert!(!has("CPRCustom_PublicSectorPerson", "koen"));

    let token = cert_token(&sb).await;
    let cpr = sb.population().cpr(4);
    let (status, _, v) = graphql(
        &sb,
        &token,
        json!({"query": QUERY, "variables": {"cpr": [cpr]}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(code(&v), "DAF-GQL-0002");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`mellemnavn` does not exist"),
        "{v}"
    );
    let renamed = "query($cpr: [String!]!) { CPRCustom_PublicSectorPerson(input: {personnummer: {personnummer: {in: $cpr}}}) { nodes { kon navne { fornavne } beskyttelser { beskyttelsestype } } } }";
    let (_, _, v) = graphql(
        &sb,
        &token,
        json!({"query": renamed, "variables": {"cpr": [cpr]}}),
    )
    .await;
    let node = &nodes(&v)[0];
    assert_eq!(node["kon"], sb.population().person(4).koen, "{v}");
    assert!(node.get("koen").is_none());
}

/// (type, field) pairs of the object types in an SDL document.
fn fields_of(doc: &async_graphql_parser::types::ServiceDocument) -> Vec<(String, String)> {
    use async_graphql_parser::types::{TypeKind, TypeSystemDefinition};
    let mut out = Vec::new();
    for def in &doc.definitions {
        if let TypeSystemDefinition::Type(t) = def
            && let TypeKind::Object(o) = &t.node.kind
        {
            for f in &o.fields {
                out.push((t.node.name.node.to_string(), f.node.name.node.to_string()));
            }
        }
    }
    out
}
