//! Helpers: fixed clocks, certificate evidence, and "nothing changed on disk".

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cprlink_cert::{Environment, Generation, Kind};
use cprlink_onboard::{
    Case, CertificateEvidence, Error, HandoverEvidence, NewCase, Route, Stamp, TargetEnvironment,
    VerifyVerdict,
};

pub(crate) const CVR: &str = "29189846";

pub(crate) fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// A stamp at noon UTC of `date`, by "tester".
pub(crate) fn at(date: &str) -> Stamp {
    let today = day(date);
    Stamp {
        who: "tester".to_owned(),
        at: Utc.from_utc_datetime(&today.and_hms_opt(12, 0, 0).unwrap()),
        today,
    }
}

pub(crate) fn utc(date: &str) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day(date).and_hms_opt(23, 59, 59).unwrap())
}

/// A production OCES3 system certificate of the test authority, expiring on `not_after`.
pub(crate) fn cert(thumb: &str, not_after: &str) -> CertificateEvidence {
    CertificateEvidence {
        file: "dpg.cer".to_owned(),
        subject: format!("C=DK, organizationIdentifier=NTRDK-{CVR}, O=Aarhus Kommune, CN=DPG CPR"),
        cvr: Some(CVR.to_owned()),
        kind: Kind::SystemOrOrganisation,
        generation: Generation::Oces3,
        environment: Environment::Production,
        not_after: utc(not_after),
        sha1_thumbprint: thumb.to_owned(),
        sha256_fingerprint: "AA:BB".to_owned(),
        chain_problem: None,
    }
}

pub(crate) fn handover(
    cert: CertificateEvidence,
    verdict: VerifyVerdict,
    failed: &[&str],
) -> HandoverEvidence {
    HandoverEvidence {
        certificate: CertificateEvidence {
            file: "/secure/dpg-handover.p12".to_owned(),
            ..cert
        },
        verdict,
        failed_checks: failed.iter().map(|s| (*s).to_owned()).collect(),
        warned_checks: Vec::new(),
    }
}

pub(crate) fn new_case(dir: &Path, route: Route, date: &str) -> (Case, PathBuf) {
    let path = dir.join("onboarding.toml");
    let case = Case::init(
        &path,
        NewCase {
            authority: "Aarhus Kommune".to_owned(),
            cvr: CVR.to_owned(),
            route,
            environment: TargetEnvironment::Production,
            contact_name: Some("Ida Ærø".to_owned()),
            contact_email: Some("it@aarhus.dk".to_owned()),
        },
        &at(date),
    )
    .unwrap();
    (case, path)
}

/// Runs `f`, which must fail, and checks the file is byte for byte the same and no
/// temporary file was left beside it. Returns the error.
pub(crate) fn refused<T: std::fmt::Debug>(
    path: &Path,
    f: impl FnOnce() -> Result<T, Error>,
) -> Error {
    let before = std::fs::read(path).unwrap();
    let err = f().expect_err("the change should be refused");
    assert_eq!(
        std::fs::read(path).unwrap(),
        before,
        "refused change altered the file: {err}"
    );
    no_temp_files(path.parent().unwrap());
    err
}

pub(crate) fn no_temp_files(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "left behind: {name}");
    }
}

/// The project's test data (`testdata/` at the root: the real public OCES3 certificates).
pub(crate) fn testdata_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// A letter's text with its line breaks as spaces (phrases may wrap).
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
