//! What the sandbox serves for seed 1, pinned: the first 20 persons of a population of
//! 1000 (numbers, names record by record, status, protections), the first person of
//! each hard case, and SHA-256 digests of
//! the whole `persons.csv` and of one REST and one GraphQL answer. Moving code around
//! (the population's modules, the renderers) must leave this snapshot untouched; a
//! change to it is a change of what every seed serves, and needs a reason.

use std::fmt::Write as _;

use cprlink_sandbox::population::{HardCase, Population, Text};
use serde_json::json;

use crate::support::{cert_token, client, client_with, rest_url, start};

fn text(t: &Text) -> String {
    match t {
        Text::Absent => "-".to_owned(),
        Text::Null => "null".to_owned(),
        Text::Value(s) => format!("{s:?}"),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    openssl::sha::sha256(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn persons_table(pop: &Population) -> String {
    let mut out = String::new();
    for i in 0..20 {
        let p = pop.person(i);
        let e = p.expected();
        writeln!(
            out,
            "{i:2} {} {} {} protected={} name={:?}",
            p.cpr, p.koen, p.status, e.name_protected, e.name
        )
        .unwrap();
        for n in &p.navne {
            writeln!(
                out,
                "     navn {} fornavne={} mellemnavn={} efternavn={} adresseringsnavn={} fra={} til={}",
                n.status.as_str(),
                text(&n.fornavne),
                text(&n.mellemnavn),
                text(&n.efternavn),
                text(&n.adresseringsnavn),
                n.virkning_fra,
                n.virkning_til.map_or("-".to_owned(), |t| t.to_string()),
            )
            .unwrap();
        }
        for n in &p.personnumre {
            writeln!(
                out,
                "     personnummer {} {}",
                n.status.as_str(),
                n.personnummer
            )
            .unwrap();
        }
        for b in &p.beskyttelser {
            writeln!(
                out,
                "     beskyttelse {} fra={} til={}",
                b.beskyttelsestype,
                b.virkning_fra,
                b.virkning_til.map_or("-".to_owned(), |t| t.to_string()),
            )
            .unwrap();
        }
    }
    out
}

#[tokio::test]
async fn seed_1_is_pinned() {
    let (_d, sb) = start(1000, 1).await;
    let pop = sb.population();
    let mut out = persons_table(pop);
    // The first instance of each hard case: pins the rates at which they occur.
    for case in HardCase::ALL {
        let i = pop.example(case).expect("every hard case occurs");
        writeln!(out, "{case:?}: person {i} {}", pop.cpr(i)).unwrap();
    }

    let csv = std::fs::read(&sb.files().persons_csv).unwrap();
    writeln!(out, "persons.csv sha256 {}", sha256_hex(&csv)).unwrap();

    let first: Vec<String> = (0..20).map(|i| pop.cpr(i)).collect();
    let rest = client(&sb)
        .get(rest_url(
            &sb,
            &format!("pnr.personnummer.wi={}&pageSize=20", first.join("|")),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 200);
    let rest = rest.bytes().await.unwrap();
    writeln!(out, "REST wi answer sha256 {}", sha256_hex(&rest)).unwrap();

    let query = "query($cpr:[String!]!){CPRCustom_PublicSectorPerson(input:{personnummer:{personnummer:{in:$cpr}}}){totalCount nodes{id foedselsdato koen status statusdato personnumre{personnummer status virkningfra virkningtil} navne{fornavne mellemnavn efternavn adresseringsnavn status virkningfra virkningtil} beskyttelser{beskyttelsestype status virkningfra virkningtil}}}}";
    let graphql = client_with(&sb, None)
        .post(sb.graphql_url())
        .bearer_auth(cert_token(&sb).await)
        .json(&json!({"query": query, "variables": {"cpr": first}}))
        .send()
        .await
        .unwrap();
    assert_eq!(graphql.status(), 200);
    let graphql = graphql.bytes().await.unwrap();
    writeln!(out, "GraphQL answer sha256 {}", sha256_hex(&graphql)).unwrap();

    insta::assert_snapshot!(out);
}
