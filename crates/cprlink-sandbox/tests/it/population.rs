//! persons.csv against what the server serves, read back through REST and GraphQL
//! with the name rule of datafordeler.md 1.2 implemented here, independently.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::support::{cert_token, graphql, rest, start};

/// One row of persons.csv.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    cpr: String,
    name: String,
    name_protected: bool,
    person_status: String,
}

fn read_csv(path: &std::path::Path) -> Vec<Row> {
    let mut r = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        ["cpr", "name", "name_protected", "person_status"]
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            Row {
                cpr: rec[0].to_owned(),
                name: rec[1].to_owned(),
                name_protected: match &rec[2] {
                    "true" => true,
                    "false" => false,
                    other => panic!("name_protected {other}"),
                },
                person_status: rec[3].to_owned(),
            }
        })
        .collect()
}

fn part(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_owned()
}

/// datafordeler.md 1.2: the aktuel name's non-empty parts joined by one space, else
/// its addressing name read as first names, then surname.
fn display_name(navne: &[&Value]) -> String {
    let cur = navne
        .iter()
        .find(|n| n["status"] == "aktuel")
        .expect("an aktuel name");
    let parts: Vec<String> = ["fornavne", "mellemnavn", "efternavn"]
        .iter()
        .map(|k| part(cur, k))
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        let addressing = part(cur, "adresseringsnavn");
        let (last, first) = addressing.split_once(',').expect("Efternavn,Fornavne");
        format!("{first} {last}")
    } else {
        parts.join(" ")
    }
}

/// In force now: no end, or an end in the future.
fn protected(beskyttelser: &[&Value], to_key: &str) -> bool {
    let now = Utc::now();
    beskyttelser.iter().any(|b| {
        b["beskyttelsestype"] == "navne_og_adresse"
            && match b.get(to_key).and_then(Value::as_str) {
                None => true,
                Some(t) => DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.6f%:z").unwrap() > now,
            }
    })
}

fn current_cpr(numbers: &[&Value]) -> String {
    numbers
        .iter()
        .find(|n| n["status"] == "aktuel")
        .map(|n| part(n, "personnummer"))
        .unwrap()
}

#[tokio::test]
async fn every_row_matches_rest_and_graphql() {
    let (_d, sb) = start(1000, 1).await;
    let rows = read_csv(&sb.files().persons_csv);
    assert_eq!(rows.len(), 1000);

    // REST, in wi batches of 20.
    let mut via_rest: HashMap<String, Row> = HashMap::new();
    let mut seen_middle = [false; 3]; // absent, null, ""
    let mut newborn = false;
    for batch in rows.chunks(20) {
        let wi: Vec<&str> = batch.iter().map(|r| r.cpr.as_str()).collect();
        let (status, v) = rest(
            &sb,
            &format!("pnr.personnummer.wi={}&pageSize=20", wi.join("%7C")),
        )
        .await;
        assert_eq!(status, 200);
        for p in v["Personer"].as_array().unwrap() {
            let p = &p["Person"];
            let unwrap = |list: &str, entity: &str| -> Vec<&Value> {
                p.get(list)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(|i| &i[entity]).collect())
                    .unwrap_or_default()
            };
            let navne = unwrap("Navne", "Navn");
            for n in &navne {
                match n.get("mellemnavn") {
                    None => seen_middle[0] = true,
                    Some(Value::Null) => seen_middle[1] = true,
                    Some(Value::String(s)) if s.is_empty() => seen_middle[2] = true,
                    _ => {}
                }
                newborn |= n.get("fornavne") == Some(&json!(""));
            }
            let row = Row {
                cpr: current_cpr(&unwrap("Personnumre", "Personnummer")),
                name: display_name(&navne),
                name_protected: protected(&unwrap("Beskyttelser", "Beskyttelse"), "virkningTil"),
                person_status: part(p, "status"),
            };
            via_rest.insert(row.cpr.clone(), row);
        }
    }
    assert_eq!(
        seen_middle, [true; 3],
        "middle names absent, null and empty all occur"
    );
    assert!(newborn, "a newborn with fornavne \"\" occurs");

    // GraphQL, in batches of 100.
    let token = cert_token(&sb).await;
    let query = "query($cpr:[String!]!){CPRCustom_PublicSectorPerson(input:{personnummer:{personnummer:{in:$cpr}}}){nodes{status personnumre{personnummer status} navne{fornavne mellemnavn efternavn adresseringsnavn status} beskyttelser{beskyttelsestype virkningfra virkningtil}}}}";
    let mut via_graphql: HashMap<String, Row> = HashMap::new();
    for batch in rows.chunks(100) {
        let cprs: Vec<&str> = batch.iter().map(|r| r.cpr.as_str()).collect();
        let (status, _, v) = graphql(
            &sb,
            &token,
            json!({"query": query, "variables": {"cpr": cprs}}),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        for node in v["data"]["CPRCustom_PublicSectorPerson"]["nodes"]
            .as_array()
            .unwrap()
        {
            let list = |k: &str| -> Vec<&Value> { node[k].as_array().unwrap().iter().collect() };
            let row = Row {
                cpr: current_cpr(&list("personnumre")),
                name: display_name(&list("navne")),
                name_protected: protected(&list("beskyttelser"), "virkningtil"),
                person_status: part(node, "status"),
            };
            via_graphql.insert(row.cpr.clone(), row);
        }
    }

    let mut stats = (0, 0, 0, 0);
    for row in &rows {
        assert_eq!(via_rest.get(&row.cpr), Some(row), "REST disagrees");
        assert_eq!(via_graphql.get(&row.cpr), Some(row), "GraphQL disagrees");
        stats.0 += usize::from(row.name_protected);
        stats.1 += usize::from(row.person_status == "doed");
        stats.2 += usize::from(row.person_status == "udrejst");
        stats.3 += usize::from(row.name.chars().any(|c| "æøåÆØÅ".contains(c)));
    }
    assert!(
        stats.0 > 0 && stats.1 > 0 && stats.2 > 0 && stats.3 > 0,
        "{stats:?}"
    );
}

#[tokio::test]
async fn same_seed_same_bytes_other_seed_other_people() {
    let (_a, a) = start(300, 77).await;
    let (_b, b) = start(300, 77).await;
    let (_c, c) = start(300, 78).await;
    assert_eq!(
        std::fs::read(&a.files().persons_csv).unwrap(),
        std::fs::read(&b.files().persons_csv).unwrap()
    );
    assert_ne!(
        std::fs::read(&a.files().persons_csv).unwrap(),
        std::fs::read(&c.files().persons_csv).unwrap()
    );
    let wi: Vec<String> = (0..20).map(|i| a.population().cpr(i * 13)).collect();
    let query = format!("pnr.personnummer.wi={}", wi.join("|"));
    let bytes = |sb: &cprlink_sandbox::Sandbox| {
        let url = crate::support::rest_url(sb, &query);
        let client = crate::support::client(sb);
        async move { client.get(url).send().await.unwrap().bytes().await.unwrap() }
    };
    let (x, y) = (bytes(&a).await, bytes(&b).await);
    assert_eq!(x, y);
    assert!(x.len() > 2000);
    let q = json!({"query": "query($c:[String!]!){CPRCustom_PublicSectorPerson(input:{personnummer:{personnummer:{in:$c}}}){nodes{id navne{fornavne efternavn} beskyttelser{beskyttelsestype}}}}", "variables": {"c": wi}});
    let ga = graphql(&a, &cert_token(&a).await, q.clone()).await.2;
    let gb = graphql(&b, &cert_token(&b).await, q).await.2;
    assert_eq!(ga, gb);
}

#[tokio::test]
async fn unknown_numbers_are_not_served() {
    let (_d, sb) = start(200, 5).await;
    let pop = sb.population();
    let unknown: Vec<String> = (0..20).map(|k| pop.unknown_cpr(k)).collect();
    for u in &unknown {
        assert!(cprlink_sandbox::cpr::birth_date(u).is_some(), "looks valid");
    }
    let (status, v) = rest(&sb, &format!("pnr.personnummer.wi={}", unknown.join("|"))).await;
    assert_eq!((status, v), (200, json!({"Personer": []})));
}
