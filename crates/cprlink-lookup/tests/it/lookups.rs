//! Every person of the sandbox answered correctly, over both back-ends.

use cprlink_lookup::config::Api;
use cprlink_lookup::{Cpr, Status};

use crate::support::{APIS, client, expected, shared};

#[test]
fn every_person_is_answered_as_persons_csv_says() {
    let run = shared();
    let want = expected(&run.sb);
    assert!(want.len() >= 300);
    for api in APIS {
        let c = client(&run.sb, api, |_| {});
        let cprs: Vec<Cpr> = want.iter().map(|w| Cpr::parse(&w.0).unwrap()).collect();
        let mut got = Vec::new();
        run.rt.block_on(async {
            for chunk in cprs.chunks(20) {
                got.extend(c.lookup_records(chunk).await.unwrap());
            }
        });
        for (w, r) in want.iter().zip(&got) {
            assert_eq!(r.cpr, w.0);
            assert_eq!(r.status, Status::Found, "{api:?} {}", w.0);
            assert_eq!(
                r.name.as_deref().unwrap_or(""),
                w.1,
                "{api:?} name of {}",
                w.0
            );
            assert_eq!(r.name_protected, w.2, "{api:?} protection of {}", w.0);
            assert_eq!(
                r.person_status.as_deref(),
                Some(w.3.as_str()),
                "{api:?} status of {}",
                w.0
            );
        }
    }
}

#[test]
fn batches_larger_than_the_default_page_are_paged_not_truncated() {
    let run = shared();
    let want = expected(&run.sb);
    let c = client(&run.sb, Api::Rest, |s| s.batch_size = 100);
    let cprs: Vec<Cpr> = want
        .iter()
        .take(100)
        .map(|w| Cpr::parse(&w.0).unwrap())
        .collect();
    let got = run.rt.block_on(c.lookup_records(&cprs)).unwrap();
    assert_eq!(got.len(), 100);
    assert!(
        got.iter().all(|r| r.status == Status::Found),
        "a person was lost to paging"
    );
}

#[test]
fn unknown_numbers_are_not_found_and_repeats_answered_each_time() {
    let run = shared();
    let want = expected(&run.sb);
    let known = Cpr::parse(&want[0].0).unwrap();
    let unknown = Cpr::parse(&run.sb.population().unknown_cpr(7)).unwrap();
    for api in APIS {
        let c = client(&run.sb, api, |_| {});
        for asked in [vec![unknown], vec![known, unknown, known]] {
            let got = run.rt.block_on(c.lookup_records(&asked)).unwrap();
            assert_eq!(got.len(), asked.len());
            for (a, r) in asked.iter().zip(&got) {
                assert_eq!(r.cpr, a.as_str());
                let status = if *a == known {
                    Status::Found
                } else {
                    Status::NotFound
                };
                assert_eq!(r.status, status, "{api:?}");
            }
        }
    }
}

#[test]
fn an_expired_token_is_renewed_once_and_the_lookup_succeeds() {
    let run = shared();
    let want = expected(&run.sb);
    let c = client(&run.sb, Api::Graphql, |_| {});
    let cpr = Cpr::parse(&want[1].0).unwrap();
    run.rt.block_on(c.lookup_records(&[cpr])).unwrap();
    run.sb.expire_tokens();
    let got = run.rt.block_on(c.lookup_records(&[cpr])).unwrap();
    assert_eq!(got[0].status, Status::Found);
}

#[test]
fn graphql_with_a_shared_secret_instead_of_the_certificate() {
    let run = shared();
    let want = expected(&run.sb);
    let secret = std::fs::read_to_string(&run.sb.files().client_secret).unwrap();
    let c = client(&run.sb, Api::Graphql, |s| {
        s.client_secret = Some(secret.trim().into());
        s.endpoints.token_url = run.sb.shared_secret_token_url();
    });
    let cpr = Cpr::parse(&want[2].0).unwrap();
    let got = run.rt.block_on(c.lookup_records(&[cpr])).unwrap();
    assert_eq!(got[0].status, Status::Found);
    // A wrong secret is refused by the token endpoint, which says it was the secret.
    let c = client(&run.sb, Api::Graphql, |s| {
        s.client_secret = Some("wrong".into());
        s.endpoints.token_url = run.sb.shared_secret_token_url();
    });
    let err = run.rt.block_on(c.lookup_records(&[cpr])).unwrap_err();
    assert!(
        matches!(
            err,
            cprlink_lookup::Error::TokenRefused {
                credential: cprlink_lookup::error::Credential::SharedSecret,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn the_rate_limit_spaces_requests() {
    let run = shared();
    let want = expected(&run.sb);
    let c = client(&run.sb, Api::Rest, |s| s.rate_limit_per_sec = 20);
    let cprs: Vec<Cpr> = want
        .iter()
        .take(11)
        .map(|w| Cpr::parse(&w.0).unwrap())
        .collect();
    let started = std::time::Instant::now();
    run.rt.block_on(async {
        for c1 in &cprs {
            c.lookup_records(std::slice::from_ref(c1)).await.unwrap();
        }
    });
    // 11 requests at 20/s: the last may go no earlier than 10 x 50 ms after the first.
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(480),
        "{:?}",
        started.elapsed()
    );
}
