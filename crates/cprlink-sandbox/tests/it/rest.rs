//! REST: shapes, `wi` and paging, not-found, parameters, keep-alive.

use serde_json::Value;

use crate::support::{self, curl, curl_identity, rest, rest_url, start};

fn is_cpr_timestamp(v: &Value) -> bool {
    // 1961-12-07T12:00:00.000000+01:00
    let Some(s) = v.as_str() else { return false };
    let b = s.as_bytes();
    s.len() == 32
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && b[20..26].iter().all(u8::is_ascii_digit)
        && (b[26] == b'+' || b[26] == b'-')
        && b[29] == b':'
}

/// Every item of a REST list is `{"<Entity>": {...}}` and nothing else.
fn wrapped<'a>(list: &'a Value, entity: &str) -> Vec<&'a Value> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let obj = item.as_object().unwrap();
            assert_eq!(obj.len(), 1, "{item}");
            &obj[entity]
        })
        .collect()
}

#[tokio::test]
async fn one_person_through_curl_has_the_documented_shape() {
    let (_d, sb) = start(300, 11).await;
    let pop = sb.population();
    let cpr = pop.cpr(3);
    let mut args = curl_identity(&sb);
    args.push(rest_url(
        &sb,
        &format!("pnr.personnummer.eq={cpr}&format=json"),
    ));
    let out = curl(args).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let personer = v["Personer"].as_array().unwrap();
    assert_eq!(personer.len(), 1);
    let p = &personer[0]["Person"];
    assert!(
        is_cpr_timestamp(&p["foedselsdato"]),
        "{}",
        p["foedselsdato"]
    );
    assert!(is_cpr_timestamp(&p["statusdato"]));
    assert!(p["status"].is_string() && p["koen"].is_string() && p["id"].is_string());
    let numbers = wrapped(&p["Personnumre"], "Personnummer");
    assert!(
        numbers
            .iter()
            .any(|n| n["personnummer"] == cpr.as_str() && n["status"] == "aktuel")
    );
    for n in wrapped(&p["Navne"], "Navn") {
        assert!(is_cpr_timestamp(&n["virkningFra"]));
        assert!(n.get("virkningfra").is_none(), "REST uses virkningFra");
    }
    if let Some(b) = p.get("Beskyttelser") {
        for b in wrapped(b, "Beskyttelse") {
            assert!(b["beskyttelsestype"].is_string());
        }
    }
    // The served person is the population's person.
    let expected = pop.expected(3);
    assert_eq!(p["status"], expected.person_status);
}

#[tokio::test]
async fn wi_with_45_numbers_needs_three_pages_of_20() {
    let (_d, sb) = start(500, 12).await;
    let pop = sb.population();
    // Known numbers in a shuffled order, with two unknown ones and a duplicate mixed in.
    let known: Vec<String> = (0..45).map(|i| pop.cpr((i * 7 + 3) % 500)).collect();
    let mut asked = known.clone();
    asked.insert(10, pop.unknown_cpr(1));
    asked.insert(30, pop.unknown_cpr(2));
    asked.push(known[0].clone());
    let wi = asked.join("%7C");

    let mut served = Vec::new();
    for (page, want) in [(1, 20), (2, 20), (3, 5), (4, 0)] {
        let (status, v) = rest(
            &sb,
            &format!("pnr.personnummer.wi={wi}&page={page}&pageSize=20&format=json"),
        )
        .await;
        assert_eq!(status, 200);
        let personer = v["Personer"].as_array().unwrap();
        assert_eq!(personer.len(), want, "page {page}");
        for p in personer {
            let cur = wrapped(&p["Person"]["Personnumre"], "Personnummer")
                .into_iter()
                .find(|n| n["status"] == "aktuel")
                .unwrap()["personnummer"]
                .as_str()
                .unwrap()
                .to_owned();
            served.push(cur);
        }
    }
    // Every known number once, in request order; unknown ones simply absent.
    assert_eq!(served, known);

    // Without pageSize only the default 20 come back: a client that forgets it loses people.
    let (status, v) = rest(&sb, &format!("pnr.personnummer.wi={wi}")).await;
    assert_eq!(status, 200);
    assert_eq!(v["Personer"].as_array().unwrap().len(), 20);

    // A raw `|` works like %7C.
    let raw = known[..3].join("|");
    let (status, v) = rest(&sb, &format!("pnr.personnummer.wi={raw}")).await;
    assert_eq!(status, 200);
    assert_eq!(v["Personer"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn not_found_is_404_or_an_empty_list() {
    let (_d, sb) = start(100, 13).await;
    let pop = sb.population();
    let (mut n404, mut empty) = (0, 0);
    for k in 0..40 {
        let (status, v) = rest(&sb, &format!("pnr.personnummer.eq={}", pop.unknown_cpr(k))).await;
        match status {
            404 => n404 += 1,
            200 => {
                assert_eq!(v, serde_json::json!({"Personer": []}));
                empty += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(n404 > 0 && empty > 0, "{n404} x 404, {empty} x empty");
    // The same number always gets the same flavour.
    let q = format!("pnr.personnummer.eq={}", pop.unknown_cpr(0));
    assert_eq!(rest(&sb, &q).await.0, rest(&sb, &q).await.0);
    // Only unknown numbers in a wi: an empty list.
    let wi = format!(
        "pnr.personnummer.wi={}|{}",
        pop.unknown_cpr(3),
        pop.unknown_cpr(4)
    );
    assert_eq!(
        rest(&sb, &wi).await,
        (200, serde_json::json!({"Personer": []}))
    );
}

#[tokio::test]
async fn parameters_and_paths() {
    let (_d, sb) = start(100, 14).await;
    let cpr = sb.population().cpr(1);
    // The gateway matches the path case-insensitively.
    let lower = format!(
        "{}{}?pnr.personnummer.eq={cpr}",
        sb.rest_base_url(),
        cprlink_sandbox::REST_PATH.to_lowercase()
    );
    let r = support::client(&sb).get(lower).send().await.unwrap();
    assert_eq!(r.status(), 200);
    for (query, want) in [
        (
            format!("pnr.personnummer.eq={}-{}", &cpr[..6], &cpr[6..]),
            400,
        ),
        ("format=json".to_owned(), 400),
        (format!("pnr.personnummer.eq={cpr}&page=0"), 400),
        (format!("pnr.personnummer.eq={cpr}&format=xml"), 400),
    ] {
        let r = support::client(&sb)
            .get(rest_url(&sb, &query))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "{query}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/problem+json")
        );
        let body = r.text().await.unwrap();
        assert!(
            !body.contains(&cpr[6..]),
            "the number is never echoed: {body}"
        );
    }
    let r = support::client(&sb)
        .post(rest_url(&sb, &format!("pnr.personnummer.eq={cpr}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = support::client(&sb)
        .get(format!("{}/nope", sb.rest_base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn keep_alive_reuses_the_connection() {
    let (_d, sb) = start(100, 15).await;
    let pop = sb.population();
    let mut args = curl_identity(&sb);
    args.extend([
        "--write-out".into(),
        "%{num_connects}\\n".into(),
        "--output".into(),
        "/dev/null".into(),
    ]);
    args.push(rest_url(
        &sb,
        &format!("pnr.personnummer.eq={}", pop.cpr(1)),
    ));
    args.extend(["--output".into(), "/dev/null".into()]);
    args.push(rest_url(
        &sb,
        &format!("pnr.personnummer.eq={}", pop.cpr(2)),
    ));
    let out = curl(args).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let counts: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        counts,
        ["1", "0"],
        "the second request must reuse the first connection"
    );
    assert_eq!(sb.request_count(), 2);
}
