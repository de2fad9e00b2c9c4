//! Chains: the real OCES3 certificates against the embedded roots, test PKIs through
//! extra anchors, and what does not verify.

use chrono::Utc;
use cprlink_cert::testpki::{CaSpec, self_signed_ca};
use cprlink_cert::trust::{self, AnchorKind};
use cprlink_cert::{CertFacts, Environment, Kind};

use crate::support::{fx, oces3, read_cert};

#[test]
fn the_real_production_certificate_verifies_to_the_production_root() {
    let leaf = read_cert(&oces3("example-prod-system-cert.pem"));
    let f = CertFacts::of(&leaf, Utc::now()).unwrap();
    assert_eq!(f.cvr.as_deref(), Some("19552101"));
    assert_eq!(f.kind, Kind::SystemOrOrganisation);
    assert_eq!(f.environment, Environment::Production);
    assert_eq!(
        f.sha1_thumbprint,
        "B5F8788F38F90980DB36EEB45BC87D849508DF68"
    );
    let chain = trust::build_chain(&leaf, &[], &[], Utc::now()).unwrap();
    assert!(chain.verified, "{chain:?}");
    assert_eq!(chain.anchor, Some(AnchorKind::Oces3Production));
    assert_eq!(chain.path.len(), 3);
    // The file holds only the leaf: the issuing CA came from the embedded ones.
    assert!(chain.needed_outside_intermediate);
    let issuing = trust::embedded_issuing_ca_for(&leaf).unwrap();
    assert_eq!(
        issuing.to_der().unwrap(),
        read_cert(&oces3("prod-issuing-ca-1.pem")).to_der().unwrap()
    );
    // With the issuing CA in the file, nothing is needed from outside.
    let chain = trust::build_chain(&leaf, &[issuing], &[], Utc::now()).unwrap();
    assert!(chain.verified && !chain.needed_outside_intermediate);
}

#[test]
fn the_real_test_certificate_verifies_to_the_test_root() {
    let leaf = read_cert(&oces3("example-test-system-cert.pem"));
    let f = CertFacts::of(&leaf, Utc::now()).unwrap();
    assert_eq!(f.environment, Environment::Test);
    let chain = trust::build_chain(&leaf, &[], &[], Utc::now()).unwrap();
    assert_eq!(chain.anchor, Some(AnchorKind::Oces3Test), "{chain:?}");
    let issuing = trust::embedded_issuing_ca_for(&leaf).unwrap();
    assert_eq!(
        issuing.to_der().unwrap(),
        read_cert(&oces3("test-issuing-ca-1.pem")).to_der().unwrap()
    );
}

#[test]
fn an_expired_leaf_still_chains_but_an_expired_ca_does_not() {
    // In 2030 the production leaf (until 2029-03-24) has expired, the issuing CA (until
    // 2031-11-08) has not: the path is fine, the dates are `verify`'s business.
    let leaf = read_cert(&oces3("example-prod-system-cert.pem"));
    let at = |s: &str| -> chrono::DateTime<Utc> {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().into()
    };
    let chain = trust::build_chain(&leaf, &[], &[], at("2030-01-01T00:00:00Z")).unwrap();
    assert!(chain.verified, "{chain:?}");
    // In 2040 the issuing CA has expired too.
    let chain = trust::build_chain(&leaf, &[], &[], at("2040-01-01T00:00:00Z")).unwrap();
    assert!(!chain.verified);
    assert!(chain.problem.unwrap().contains("expired"));
}

#[test]
fn a_test_pki_verifies_only_with_its_root_as_an_extra_anchor() {
    let fx = fx();
    let issuing = fx.pki.issuing.cert.clone();
    let none =
        trust::build_chain(&fx.good, std::slice::from_ref(&issuing), &[], Utc::now()).unwrap();
    assert!(!none.verified);
    assert!(
        none.problem.unwrap().contains("no trusted root"),
        "problem text"
    );
    let with_root = trust::build_chain(
        &fx.good,
        std::slice::from_ref(&issuing),
        std::slice::from_ref(&fx.pki.root.cert),
        Utc::now(),
    )
    .unwrap();
    assert!(with_root.verified, "{with_root:?}");
    assert_eq!(with_root.anchor, Some(AnchorKind::Extra));
    assert!(with_root.describe().contains("--trust"));
    // An intermediate given as the only anchor works too (a partial chain).
    let partial = trust::build_chain(&fx.good, &[], &[issuing], Utc::now()).unwrap();
    assert!(partial.verified, "{partial:?}");
    assert_eq!(partial.anchor, Some(AnchorKind::Extra));
}

#[test]
fn a_foreign_root_is_named_as_untrusted() {
    let mut spec = CaSpec::oces3_shaped("Fremmed", "Fremmed rod-CA", None);
    spec.key_bits = 2048;
    let foreign = self_signed_ca(&spec).unwrap();
    let leaf =
        cprlink_cert::testpki::issue_leaf_for_key(&foreign, &crate::support::spec(), &fx().key)
            .unwrap();
    let chain =
        trust::build_chain(&leaf, std::slice::from_ref(&foreign.cert), &[], Utc::now()).unwrap();
    assert!(!chain.verified);
    assert!(
        chain.describe().contains("Fremmed rod-CA"),
        "{}",
        chain.describe()
    );
}
