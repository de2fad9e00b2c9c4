//! `cprlink lookup` and `doctor` against Datafordeler's habits (datafordeler.md 5),
//! shown by the sandbox: answers cut short, `in` lists capped at 100, new credentials
//! inert, no data access, a schema that lost a field; and the sandbox's shared-secret
//! config, which needs no client certificate.

use cprlink_sandbox::{Behaviour, NoAccessAnswer, SchemaChange};

use crate::lookup::{cpr_like, jsonl, shared, start};
use crate::support::cprlink;

#[test]
fn the_sandboxs_shared_secret_config_looks_up_without_a_certificate() {
    let run = shared();
    let want = run.expected();
    let out = cprlink()
        .arg("--config")
        .arg(&run.sb.files().config_shared_secret_toml)
        // No password source anywhere: none may be asked for.
        .env("CPRLINK_NO_INPUT", "1")
        .args(["lookup", &want[0].0, &want[1].0])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let rows = jsonl(&out.stdout);
    assert_eq!(rows.len(), 2);
    for (r, w) in rows.iter().zip(&want) {
        assert_eq!(r["status"], "found");
        assert_eq!(r["name"], w.1.as_str());
    }
    let out = cprlink()
        .arg("--config")
        .arg(&run.sb.files().config_shared_secret_toml)
        .args(["--json", "doctor", "--probe-cpr", &want[0].0])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["api"], "graphql");
}

#[test]
fn a_graphql_batch_over_100_is_refused_with_the_reason() {
    let run = shared();
    let want = run.expected();
    let out = run
        .cprlink()
        .args([
            "lookup",
            "--api",
            "graphql",
            "--batch-size",
            "150",
            &want[0].0,
        ])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("batch size 150 is too large for GraphQL"), "{e}");
    assert!(
        e.contains("at most 100") && e.contains("MaxListSize"),
        "{e}"
    );
    assert!(e.contains("--batch-size 100 or less"), "{e}");
    assert!(out.stdout.is_empty());
    // The same from the config file's key.
    run.cprlink()
        .env("CPRLINK_LOOKUP_BATCH_SIZE", "101")
        .args(["lookup", "--api", "graphql", &want[0].0])
        .assert()
        .code(2);
    // REST keeps its own maximum.
    run.cprlink()
        .args(["lookup", "--api", "rest", "--batch-size", "150", &want[0].0])
        .assert()
        .code(0);
}

#[test]
fn answers_cut_to_three_lose_nobody_and_the_summary_counts_the_re_asks() {
    let run = start(120, |o| {
        o.behaviour = Behaviour {
            max_nodes: Some(3),
            ..Behaviour::default()
        };
    });
    let want = run.expected();
    let unknown: Vec<String> = (0..6).map(|k| run.sb.population().unknown_cpr(k)).collect();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let mut lines: Vec<(String, &str)> = want.iter().map(|w| (w.0.clone(), "found")).collect();
    for (k, u) in unknown.iter().enumerate() {
        lines.insert(k * 17 + 5, (u.clone(), "not_found"));
    }
    std::fs::write(
        &input,
        lines
            .iter()
            .map(|l| format!("{}\n", l.0))
            .collect::<String>(),
    )
    .unwrap();
    for api in ["rest", "graphql"] {
        let out = run
            .cprlink()
            .args(["lookup", "--api", api, "--input"])
            .arg(&input)
            .assert()
            .code(0)
            .get_output()
            .clone();
        let rows = jsonl(&out.stdout);
        let got: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r["cpr"].as_str().unwrap(), r["status"].as_str().unwrap()))
            .collect();
        let expect: Vec<(&str, &str)> = lines.iter().map(|l| (l.0.as_str(), l.1)).collect();
        assert_eq!(got, expect, "{api}");
        let e = String::from_utf8_lossy(&out.stderr);
        let summary = e.lines().last().unwrap_or("");
        assert!(summary.contains("120 found, 6 not found"), "{api}: {e}");
        // Each batch of 20 got 3 answers: far more than the 6 unknown were re-asked.
        let reasked: u64 = summary
            .rsplit("; ")
            .next()
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(
            reasked > 6 && summary.ends_with("re-asked before not_found"),
            "{api}: {summary}"
        );
        assert!(cpr_like(&e).is_empty(), "{e}");
    }
}

#[test]
fn new_credentials_inert_for_a_few_seconds_and_the_lookup_still_succeeds() {
    let run = start(10, |o| {
        o.behaviour = Behaviour {
            inert_secs: 3,
            ..Behaviour::default()
        };
    });
    let want = run.expected();
    let started = std::time::Instant::now();
    let out = run
        .cprlink()
        .args(["lookup", "--api", "graphql", &want[0].0])
        .assert()
        .code(0)
        .get_output()
        .clone();
    assert_eq!(jsonl(&out.stdout)[0]["name"], want[0].1.as_str());
    // It was really refused first (the sandbox started less than 3 s ago).
    assert!(started.elapsed() >= std::time::Duration::from_millis(500));
}

#[test]
fn inert_past_the_grace_exits_3_saying_new_credentials_take_time() {
    let run = start(5, |o| {
        o.behaviour = Behaviour {
            inert_secs: 600,
            ..Behaviour::default()
        };
    });
    let want = run.expected();
    let out = run
        .cprlink()
        .env("CPRLINK_DATAFORDELER_AUTH_GRACE_SECS", "1")
        .args(["lookup", "--api", "graphql", &want[0].0])
        .assert()
        .code(3)
        .get_output()
        .clone();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("DAF-AUTH-0005"), "{e}");
    assert!(e.contains("still refused after retrying for 1 s"), "{e}");
    assert!(
        e.contains("Hint: new credentials take up to about 20 minutes to work"),
        "{e}"
    );
    assert!(
        e.contains("step 3 (ip-allowlist)") && e.contains("step 2 (credential)"),
        "{e}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn no_data_access_in_a_graphql_error_names_the_data_access_step() {
    let run = start(5, |o| {
        o.data_access = false;
        o.behaviour = Behaviour {
            no_access_answer: NoAccessAnswer::GraphqlError,
            ..Behaviour::default()
        };
    });
    let want = run.expected();
    let out = run
        .cprlink()
        .args(["lookup", "--api", "graphql", &want[0].0])
        .assert()
        .code(3)
        .get_output()
        .clone();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("DAF-AUTH-0001 in a GraphQL error"), "{e}");
    assert!(
        e.contains("Hint: step 6 (data-access): the IT-system needs the data access CustomPublicSectorPerson"),
        "{e}"
    );
}

#[test]
fn a_dropped_field_fails_the_schema_check_and_a_query_file_fixes_it() {
    let run = start(10, |o| {
        o.schema = vec![SchemaChange::Drop {
            path: "navne.mellemnavn".to_owned(),
        }];
    });
    let want = run.expected();
    let out = run
        .cprlink()
        .args(["--json", "doctor", "--api", "graphql"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema = &v["checks"][7];
    assert_eq!(schema["id"], "schema", "{v}");
    assert_eq!(schema["status"], "fail", "{v}");
    let detail = schema["detail"].as_str().unwrap();
    assert!(
        detail.contains("navne.mellemnavn (no field on CPRCustom_PublicSectorNavn)"),
        "{detail}"
    );
    let fix = schema["fix"].as_str().unwrap();
    assert!(fix.contains("`graphql_query_file`"), "{fix}");
    assert_eq!(v["checks"][8]["status"], "skip");
    // Lookups with the built-in query report the server's words, row by row.
    let out = run
        .cprlink()
        .args(["lookup", "--api", "graphql", &want[0].0])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let row = &jsonl(&out.stdout)[0];
    assert_eq!(row["status"], "error");
    assert!(
        row["error"]
            .as_str()
            .unwrap()
            .contains("refused the GraphQL query"),
        "{row}"
    );

    // The operator's query without the field.
    let dir = tempfile::tempdir().unwrap();
    let query = dir.path().join("query.graphql");
    std::fs::write(
        &query,
        "query($cpr:[String!]!){CPRCustom_PublicSectorPerson(input:{personnummer:{personnummer:{in:$cpr}}}){nodes{status personnumre{personnummer status} navne{fornavne efternavn adresseringsnavn status virkningfra virkningtil} beskyttelser{beskyttelsestype status virkningfra virkningtil}}}}\n",
    )
    .unwrap();
    let out = run
        .cprlink()
        .env("CPRLINK_DATAFORDELER_GRAPHQL_QUERY_FILE", &query)
        .args([
            "--json",
            "doctor",
            "--api",
            "graphql",
            "--probe-cpr",
            &want[0].0,
        ])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["checks"][7]["status"], "pass", "{v}");
    run.cprlink()
        .env("CPRLINK_DATAFORDELER_GRAPHQL_QUERY_FILE", &query)
        .args(["lookup", "--api", "graphql", &want[0].0])
        .assert()
        .code(0);

    // A query file that takes no $cpr is refused at start, naming the file.
    std::fs::write(
        &query,
        "{ CPRCustom_PublicSectorPerson { nodes { status } } }",
    )
    .unwrap();
    let out = run
        .cprlink()
        .env("CPRLINK_DATAFORDELER_GRAPHQL_QUERY_FILE", &query)
        .args(["lookup", "--api", "graphql", &want[0].0])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("graphql_query_file") && e.contains("query.graphql"),
        "{e}"
    );
    assert!(e.contains("does not take $cpr"), "{e}");
    assert!(e.contains("Hint: fix the query"), "{e}");
}
