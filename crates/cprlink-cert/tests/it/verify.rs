//! The checklist through the library API (the onboarding code calls it this way). The
//! full matrix of cases runs through the CLI in `crates/cprlink/tests/it/cert.rs`.

use cprlink_cert::p12::Profile;
use cprlink_cert::verify::{CheckId, CheckStatus, Report, Verdict, VerifyOptions, verify_file};
use cprlink_cert::{Environment, Error};

use crate::support::{PASSWORD, fx, leaf, p12_of, spec, tmp};

fn opts() -> VerifyOptions {
    let mut o = VerifyOptions::new();
    o.extra_trust = vec![fx().pki.root.cert.clone()];
    o
}

fn status(r: &Report, id: CheckId) -> CheckStatus {
    r.check(id)
        .unwrap_or_else(|| panic!("no check {id}"))
        .status
}

#[test]
fn a_good_file_passes_with_every_check_in_order() {
    let dir = tmp();
    let path = dir.path().join("good.p12");
    std::fs::write(
        &path,
        p12_of(
            &fx().good,
            &[fx().pki.issuing.cert.clone()],
            Profile::Compat,
        ),
    )
    .unwrap();
    let mut o = opts();
    o.expected_cvr = Some("29189846".into());
    o.environment = Some(Environment::Test);
    o.uploaded_cer = Some(fx().good.clone());
    let r = verify_file(&path, Some(PASSWORD), &o).unwrap();
    assert_eq!(r.verdict, Verdict::Pass, "{:#?}", r.checks);
    let ids: Vec<CheckId> = r.checks.iter().map(|c| c.id).collect();
    assert_eq!(ids, CheckId::offline(), "no revocation unless online");
    assert_eq!(status(&r, CheckId::CerMatch), CheckStatus::Pass);
    assert_eq!(status(&r, CheckId::Fingerprints), CheckStatus::Info);
    assert_eq!(status(&r, CheckId::Protection), CheckStatus::Info);
    let sha1 = cprlink_cert::facts::sha1_thumbprint(&fx().good).unwrap();
    assert_eq!(r.leaf_sha1(), Some(sha1.as_str()));
    assert!(r.leaf.as_ref().unwrap().days_left > 1000);
    // The JSON document is exactly {verdict, checks}, each check {id, status, detail},
    // the ids spelt as the SPEC spells them.
    let json = serde_json::to_string(&r).unwrap();
    assert!(
        json.starts_with(
            "{\"verdict\":\"pass\",\"checks\":[{\"id\":\"format\",\"status\":\"pass\",\"detail\":\"PKCS#12\"},{\"id\":\"password\","
        ),
        "{json}"
    );
    assert!(
        json.contains("{\"id\":\"legacy_encryption\",\"status\":\"pass\""),
        "{json}"
    );
    assert!(json.ends_with("\"}]}"), "{json}");
}

#[test]
fn wrong_password_and_non_pkcs12_are_errors_with_a_report_for_them() {
    let dir = tmp();
    let path = dir.path().join("good.p12");
    std::fs::write(&path, p12_of(&fx().good, &[], Profile::Modern)).unwrap();
    let err = verify_file(&path, Some("wrong"), &opts()).unwrap_err();
    assert!(matches!(err, Error::WrongPassword { .. }), "{err}");
    let r = Report::for_open_error(&err).unwrap();
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(status(&r, CheckId::Format), CheckStatus::Pass);
    assert_eq!(status(&r, CheckId::Password), CheckStatus::Fail);

    let pem = dir.path().join("cert.pem");
    std::fs::write(&pem, fx().good.to_pem().unwrap()).unwrap();
    let err = verify_file(&pem, None, &opts()).unwrap_err();
    assert!(matches!(err, Error::NotPkcs12 { .. }), "{err}");
    assert!(err.to_string().contains("PEM certificate"), "{err}");
    let r = Report::for_open_error(&err).unwrap();
    assert_eq!(status(&r, CheckId::Format), CheckStatus::Fail);
}

#[test]
fn the_verdict_is_the_worst_status() {
    let dir = tmp();
    // RSA 3072 but only 30 days left: warn, no fail.
    let now = chrono::Utc::now();
    let soon = leaf(&spec().valid(
        now - chrono::Duration::days(300),
        now + chrono::Duration::days(30),
    ));
    let path = dir.path().join("soon.p12");
    std::fs::write(
        &path,
        p12_of(&soon, &[fx().pki.issuing.cert.clone()], Profile::Compat),
    )
    .unwrap();
    let r = verify_file(&path, Some(PASSWORD), &opts()).unwrap();
    assert_eq!(r.verdict, Verdict::Warn, "{:#?}", r.checks);
    assert_eq!(status(&r, CheckId::Validity), CheckStatus::Warn);
    // With --warn-days 20 the same file passes.
    let mut o = opts();
    o.warn_days = 20;
    assert_eq!(
        verify_file(&path, Some(PASSWORD), &o).unwrap().verdict,
        Verdict::Pass
    );
    // Judged after its end, it fails.
    let mut o = opts();
    o.now = now + chrono::Duration::days(31);
    let r = verify_file(&path, Some(PASSWORD), &o).unwrap();
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(status(&r, CheckId::Validity), CheckStatus::Fail);
    assert_eq!(
        status(&r, CheckId::Chain),
        CheckStatus::Pass,
        "the path itself is fine"
    );
}

/// `intermediate` judges the file itself (certificates.md §4): DPG needs the issuing CA
/// in it, even when `--trust` (or cprlink's own anchors) let the chain build here.
#[test]
fn intermediate_warns_when_the_file_lacks_the_issuing_ca_whatever_the_trust() {
    let dir = tmp();
    let path = dir.path().join("no-chain.p12");
    std::fs::write(&path, p12_of(&fx().good, &[], Profile::Compat)).unwrap();
    let trusts = [
        ("the root", vec![fx().pki.root.cert.clone()]),
        ("the issuing CA", vec![fx().pki.issuing.cert.clone()]),
        (
            "root and issuing CA",
            vec![fx().pki.root.cert.clone(), fx().pki.issuing.cert.clone()],
        ),
    ];
    for (what, trust) in trusts {
        let mut o = VerifyOptions::new();
        o.extra_trust = trust;
        let r = verify_file(&path, Some(PASSWORD), &o).unwrap();
        assert_eq!(
            status(&r, CheckId::Intermediate),
            CheckStatus::Warn,
            "--trust {what}: {:#?}",
            r.check(CheckId::Intermediate)
        );
        let detail = &r.check(CheckId::Intermediate).unwrap().detail;
        assert!(detail.contains("lacks the issuing CA"), "{detail}");
    }
    // With --trust naming the issuing CA the chain builds (as a partial chain) and only
    // `intermediate` warns.
    let mut o = VerifyOptions::new();
    o.extra_trust = vec![fx().pki.issuing.cert.clone()];
    let r = verify_file(&path, Some(PASSWORD), &o).unwrap();
    assert_eq!(status(&r, CheckId::Chain), CheckStatus::Pass);

    // With the issuing CA in the file it passes; a leaf the root signed needs none.
    let with = dir.path().join("with-chain.p12");
    std::fs::write(
        &with,
        p12_of(
            &fx().good,
            &[fx().pki.issuing.cert.clone()],
            Profile::Compat,
        ),
    )
    .unwrap();
    let r = verify_file(&with, Some(PASSWORD), &opts()).unwrap();
    assert_eq!(status(&r, CheckId::Intermediate), CheckStatus::Pass);
    let root_signed =
        cprlink_cert::testpki::issue_leaf_for_key(&fx().pki.root, &spec(), &fx().key).unwrap();
    let direct = dir.path().join("root-signed.p12");
    std::fs::write(&direct, p12_of(&root_signed, &[], Profile::Compat)).unwrap();
    let r = verify_file(&direct, Some(PASSWORD), &opts()).unwrap();
    assert_eq!(status(&r, CheckId::Intermediate), CheckStatus::Pass);
    assert!(
        r.check(CheckId::Intermediate)
            .unwrap()
            .detail
            .contains("not needed")
    );
}

#[test]
fn renewal_compares_cvr_organisation_kind_environment_key_and_expiry() {
    use cprlink_cert::testpki::{LeafSpec, issue_leaf, issue_leaf_for_key};
    use cprlink_cert::verify::{RenewalProblem, renewal_check, renewal_problems};
    let now = chrono::Utc::now();
    let days = chrono::Duration::days;
    // The old certificate: the fixture's key, expiring in 100 days.
    let old = leaf(&spec().valid(now - days(1000), now + days(100)));
    // A proper renewal: new key, three years from now.
    let renewed = issue_leaf(&fx().pki.issuing, &spec()).unwrap().cert;
    assert_eq!(renewal_problems(&old, &renewed).unwrap(), vec![]);
    let check = renewal_check(&old, &renewed);
    assert_eq!(check.status, CheckStatus::Pass, "{}", check.detail);
    assert!(check.detail.contains("a new key"), "{}", check.detail);

    let same_key = leaf(&spec());
    assert_eq!(
        renewal_problems(&old, &same_key).unwrap(),
        vec![RenewalProblem::SameKey]
    );
    let other_cvr = issue_leaf(
        &fx().pki.issuing,
        &LeafSpec::oces3_system("DPG CPR", "Testkommune", "12345674"),
    )
    .unwrap()
    .cert;
    assert!(matches!(
        renewal_problems(&old, &other_cvr).unwrap().as_slice(),
        [RenewalProblem::OtherCvr { new: Some(n), .. }] if n == "12345674"
    ));
    let earlier = issue_leaf(
        &fx().pki.issuing,
        &spec().valid(now - days(1), now + days(50)),
    )
    .unwrap()
    .cert;
    assert!(matches!(
        renewal_problems(&old, &earlier).unwrap().as_slice(),
        [RenewalProblem::NotLater { .. }]
    ));
    let employee = issue_leaf(
        &fx().pki.issuing,
        &LeafSpec::oces3_employee("Jens Hansen", "Testkommune", "29189846"),
    )
    .unwrap()
    .cert;
    assert!(
        renewal_problems(&old, &employee)
            .unwrap()
            .contains(&RenewalProblem::OtherKind {
                old: cprlink_cert::Kind::SystemOrOrganisation,
                new: cprlink_cert::Kind::Employee
            })
    );
    // A certificate named like a production one (no `OU=Test`): another environment.
    let mut prod_ca = cprlink_cert::testpki::CaSpec::oces3_shaped(
        "Den Danske Stat",
        "Den Danske Stat OCES udstedende-CA 1",
        Some(0),
    );
    prod_ca.subject.retain(|(k, _)| k != "OU");
    prod_ca.key_bits = 2048;
    let prod_ca = cprlink_cert::testpki::self_signed_ca(&prod_ca).unwrap();
    let production = issue_leaf_for_key(
        &prod_ca,
        &spec(),
        &cprlink_cert::testpki::rsa_key(2048).unwrap(),
    )
    .unwrap();
    let problems = renewal_problems(&old, &production).unwrap();
    assert!(
        problems.contains(&RenewalProblem::OtherEnvironment {
            old: cprlink_cert::Environment::Test,
            new: cprlink_cert::Environment::Production
        }),
        "{problems:?}"
    );
    let check = renewal_check(&old, &production);
    assert_eq!(check.status, CheckStatus::Fail);
    assert!(
        check
            .detail
            .contains("another environment (production here, test on the old one)"),
        "{}",
        check.detail
    );
    assert_eq!(
        renewal_problems(&old, &old).unwrap(),
        vec![RenewalProblem::SameCertificate]
    );

    // Through the checklist: `renewal` is the last check, only when asked.
    let dir = tmp();
    let path = dir.path().join("renewed.p12");
    std::fs::write(
        &path,
        cprlink_cert::p12::build(
            &fx().key,
            &same_key,
            &[fx().pki.issuing.cert.clone()],
            None,
            PASSWORD,
            Profile::Compat,
        )
        .unwrap(),
    )
    .unwrap();
    let mut o = opts();
    o.renewal_of = Some(old.clone());
    let r = verify_file(&path, Some(PASSWORD), &o).unwrap();
    assert_eq!(r.checks.last().unwrap().id, CheckId::Renewal);
    assert_eq!(status(&r, CheckId::Renewal), CheckStatus::Fail);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(
        verify_file(&path, Some(PASSWORD), &opts())
            .unwrap()
            .check(CheckId::Renewal)
            .is_none()
    );
}
