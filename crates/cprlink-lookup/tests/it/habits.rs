//! Datafordeler as seen in practice (datafordeler.md 5.2), shown by the sandbox: new
//! credentials inert for a while (401 `DAF-AUTH-0005`, retried for `auth_grace`), an
//! IT-system without the data access (403 or a GraphQL error, `DAF-AUTH-0001`), a
//! schema that lost a field (`DAF-GQL-*`, the server's message; `graphql_query_file`
//! and the doctor's schema check), and GraphQL with a shared secret and no client
//! certificate.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use cprlink_lookup::config::Api;
use cprlink_lookup::doctor::{self, CheckId, CheckStatus, DoctorInput, Finding};
use cprlink_lookup::error::Revisit;
use cprlink_lookup::{Client, Cpr, Error, ErrorKind, Settings, Status};
use cprlink_sandbox::{Behaviour, NoAccessAnswer, SchemaChange};

use crate::support::{APIS, client, config, expected, identity, start};

#[test]
fn new_credentials_inert_for_a_few_seconds_and_the_run_still_succeeds() {
    let run = start(20, |o| {
        o.behaviour = Behaviour {
            inert_secs: 3,
            ..Behaviour::default()
        };
    });
    let want = expected(&run.sb);
    let cprs: Vec<Cpr> = want
        .iter()
        .take(5)
        .map(|w| Cpr::parse(&w.0).unwrap())
        .collect();
    for api in APIS {
        let c = client(&run.sb, api, |s| {
            s.auth_backoff.base = Duration::from_millis(200);
        });
        let got = run.rt.block_on(c.lookup_records(&cprs)).unwrap();
        assert!(got.iter().all(|r| r.status == Status::Found), "{api:?}");
        if api == APIS[0] {
            // The first API met the inert credential: it was retried, not reported.
            assert!(
                c.stats().auth_retries.load(Ordering::Relaxed) > 0,
                "the credential was never inert: the test proves nothing"
            );
        }
    }
}

#[test]
fn a_grace_shorter_than_the_inert_time_gives_up_and_says_how_long_it_tried() {
    let run = start(5, |o| {
        o.behaviour = Behaviour {
            inert_secs: 600,
            ..Behaviour::default()
        };
    });
    let want = expected(&run.sb);
    let cpr = Cpr::parse(&want[0].0).unwrap();
    let c = client(&run.sb, Api::Rest, |s| {
        s.auth_grace = Duration::from_secs(1);
        s.auth_backoff.base = Duration::from_millis(100);
    });
    let started = Instant::now();
    let err = run.rt.block_on(c.lookup_records(&[cpr])).unwrap_err();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not retried"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    match &err {
        Error::NotAllowlisted { waited_secs, .. } => assert!(*waited_secs >= 1, "{err}"),
        other => panic!("expected DAF-AUTH-0005, got {other}"),
    }
    assert!(
        err.to_string().contains("still refused after retrying for"),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.revisit(), [Revisit::IpAllowlist, Revisit::Credential]);
}

#[test]
fn without_the_data_access_both_shapes_name_the_data_access() {
    let run = start(5, |o| o.data_access = false);
    let want = expected(&run.sb);
    let cpr = Cpr::parse(&want[0].0).unwrap();
    let refused = |api: Api| {
        let c = client(&run.sb, api, |s| s.auth_grace = Duration::ZERO);
        run.rt.block_on(c.lookup_records(&[cpr])).unwrap_err()
    };
    for api in APIS {
        let err = refused(api);
        assert!(
            matches!(err, Error::Forbidden { status: 403, .. }),
            "{api:?}: {err}"
        );
        assert_eq!(err.revisit(), [Revisit::DataAccess], "{api:?}");
    }
    // GraphQL's other shape: HTTP 200 with `DAF-AUTH-0001` in `errors`.
    run.sb
        .set_behaviour(Behaviour {
            no_access_answer: NoAccessAnswer::GraphqlError,
            ..Behaviour::default()
        })
        .unwrap();
    let err = refused(Api::Graphql);
    match &err {
        Error::Forbidden {
            status: 200, code, ..
        } => {
            assert_eq!(code.as_deref(), Some("DAF-AUTH-0001"));
        }
        other => panic!("expected the data access, got {other}"),
    }
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.revisit(), [Revisit::DataAccess]);
}

/// A query without `mellemnavn`, as an operator would write it after Datafordeler
/// dropped that field.
const WITHOUT_MIDDLE_NAME: &str = "# The built-in query without navne.mellemnavn.
query($cpr: [String!]!) {
  CPRCustom_PublicSectorPerson(input: {personnummer: {personnummer: {in: $cpr}}}) {
    nodes {
      status
      personnumre { personnummer status }
      navne { fornavne efternavn adresseringsnavn status virkningfra virkningtil }
      beskyttelser { beskyttelsestype status virkningfra virkningtil }
    }
  }
}
";

fn doctor_report(run: &crate::support::Running, query_file: &str) -> doctor::Report {
    let mut cfg = config(&run.sb);
    cfg.datafordeler.api = Some(Api::Graphql);
    cfg.datafordeler.graphql_query_file = query_file.to_owned();
    let pw = std::fs::read_to_string(&run.sb.files().client_p12_password).unwrap();
    run.rt.block_on(doctor::run(DoctorInput {
        config: cfg,
        base_dir: run.sb.files().dir.clone(),
        config_source: "test".to_owned(),
        password: Some(pw.trim().to_owned().into()),
        probe: None,
    }))
}

#[test]
fn a_dropped_field_is_reported_in_the_servers_words_and_a_query_file_fixes_it() {
    let run = start(40, |o| {
        o.schema = vec![SchemaChange::Drop {
            path: "navne.mellemnavn".to_owned(),
        }];
    });
    let want = expected(&run.sb);
    let cprs: Vec<Cpr> = want
        .iter()
        .take(10)
        .map(|w| Cpr::parse(&w.0).unwrap())
        .collect();
    // The built-in query selects the dropped field: the server refuses the query.
    let c = client(&run.sb, Api::Graphql, |_| {});
    let err = run.rt.block_on(c.lookup_records(&cprs)).unwrap_err();
    assert!(matches!(err, Error::QueryRejected { .. }), "{err}");
    assert!(err.to_string().contains("mellemnavn"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Answer);
    assert!(err.revisit().is_empty(), "not an authentication problem");

    // The doctor names the field and the query it came from.
    let report = doctor_report(&run, "");
    assert!(!report.ok);
    let check = report
        .checks
        .iter()
        .find(|c| c.id == CheckId::Schema)
        .unwrap();
    assert_eq!(check.status, CheckStatus::Fail, "{}", check.detail);
    assert!(
        check
            .detail
            .contains("CPRCustom_PublicSectorPerson.nodes.navne.mellemnavn"),
        "{}",
        check.detail
    );
    match &check.finding {
        Some(Finding::SchemaFieldsMissing { missing, .. }) => {
            assert_eq!(missing.len(), 1);
            assert_eq!(missing[0].on_type, "CPRCustom_PublicSectorNavn");
        }
        other => panic!("{other:?}"),
    }

    // The operator's own query, without the field: checked, and it works.
    let file = run.sb.files().dir.join("without-middle-name.graphql");
    std::fs::write(&file, WITHOUT_MIDDLE_NAME).unwrap();
    let mut cfg = config(&run.sb);
    cfg.datafordeler.graphql_query_file = file.display().to_string();
    let mut s = Settings::from_config(&cfg, &run.sb.files().dir).unwrap();
    s.api = Api::Graphql;
    let c = Client::new(s, Some(&identity(&run.sb))).unwrap();
    let got = run.rt.block_on(c.lookup_records(&cprs)).unwrap();
    for (w, r) in want.iter().zip(&got) {
        assert_eq!(r.status, Status::Found);
        assert_eq!(r.middle_name, None);
        // Without the middle name the display name lacks it, and nothing else.
        let expected_parts: Vec<&str> = w.1.split(' ').collect();
        for part in r.name.as_deref().unwrap_or("").split(' ') {
            assert!(expected_parts.contains(&part), "{} vs {}", w.1, part);
        }
    }
    let report = doctor_report(&run, &file.display().to_string());
    let check = report
        .checks
        .iter()
        .find(|c| c.id == CheckId::Schema)
        .unwrap();
    assert_eq!(check.status, CheckStatus::Pass, "{}", check.detail);
    assert!(
        check.detail.contains("graphql_query_file"),
        "{}",
        check.detail
    );
    assert!(report.ok, "{report:?}");

    // A query file that is not usable is refused at start, naming the file.
    std::fs::write(
        &file,
        "query { CPRCustom_PublicSectorPerson { nodes { status } } }",
    )
    .unwrap();
    let err = Settings::from_config(&cfg, &run.sb.files().dir).unwrap_err();
    assert!(matches!(err, Error::QueryFile { .. }), "{err}");
    assert!(
        err.to_string().contains("without-middle-name.graphql"),
        "{err}"
    );
    assert!(err.to_string().contains("$cpr"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Usage);
}

#[test]
fn graphql_with_a_shared_secret_needs_no_client_certificate() {
    let run = start(10, |_| {});
    let want = expected(&run.sb);
    let text = std::fs::read_to_string(&run.sb.files().config_shared_secret_toml).unwrap();
    let cfg: cprlink_lookup::config::Config = toml::from_str(&text).unwrap();
    assert!(!cfg.datafordeler.needs_certificate());
    let s = Settings::from_config(&cfg, &run.sb.files().dir).unwrap();
    assert!(!s.needs_certificate());
    let c = Client::new(s.clone(), None).unwrap();
    assert_eq!(c.thumbprint(), None);
    assert_eq!(c.identity_not_after(), None);
    let cpr = Cpr::parse(&want[0].0).unwrap();
    let got = run.rt.block_on(c.lookup_records(&[cpr])).unwrap();
    assert_eq!(got[0].status, Status::Found);
    assert_eq!(got[0].name.as_deref(), Some(want[0].1.as_str()));
    // REST is mutual TLS: without a certificate the client is refused at once.
    let mut rest = s;
    rest.api = Api::Rest;
    rest.endpoints.rest_base_url = run.sb.rest_base_url();
    let err = Client::new(rest, None).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config {
                key: "certificate.p12",
                ..
            }
        ),
        "{err}"
    );

    // The doctor checks the same chain without a certificate.
    let report = run.rt.block_on(doctor::run(DoctorInput {
        config: cfg,
        base_dir: run.sb.files().dir.clone(),
        config_source: "test".to_owned(),
        password: None,
        probe: Some(cpr),
    }));
    assert!(report.ok, "{report:?}");
    let cert = &report.checks[1];
    assert_eq!(cert.id, CheckId::Certificate);
    assert!(
        cert.detail.contains("no client certificate needed"),
        "{}",
        cert.detail
    );
    for check in &report.checks {
        assert_eq!(
            check.status,
            CheckStatus::Pass,
            "{:?}: {}",
            check.id,
            check.detail
        );
    }
}
