//! Refusals: unregistered certificates, denied IPs, no CPR access, untrusted servers,
//! certificates from another CA. Each maps to the error, with the structured facts
//! (credential, thumbprint, the part of the onboarding to revisit) the binary's hint
//! is worded from.

use std::net::{IpAddr, Ipv4Addr};

use cprlink_cert::testpki::{LeafSpec, TestPki};
use cprlink_lookup::config::Api;
use cprlink_lookup::error::{Credential, Revisit, TlsAlert};
use cprlink_lookup::{Client, ClientIdentity, Cpr, Error, ErrorKind};

use crate::support::{expected, identity, settings, start};

fn identity_from(pki: &TestPki, cn: &str) -> ClientIdentity {
    let issued = pki
        .issue(&LeafSpec::oces3_system(cn, "Testkommune", "29189846"))
        .unwrap();
    let mut loaded = cprlink_cert::load::load_bytes(
        std::path::Path::new("x.pem"),
        [
            issued.cert.to_pem().unwrap(),
            issued.key.private_key_to_pem_pkcs8().unwrap(),
        ]
        .concat(),
        None,
    )
    .unwrap();
    loaded.certificates.extend(
        pki.ca_bundle_pem()
            .ok()
            .and_then(|p| openssl::x509::X509::stack_from_pem(&p).ok())
            .unwrap_or_default(),
    );
    ClientIdentity::from_loaded(&loaded).unwrap()
}

#[test]
fn refusals_say_what_to_revisit_and_with_which_credential() {
    let run = start(20, |_| {});
    let want = expected(&run.sb);
    let cpr = Cpr::parse(&want[0].0).unwrap();
    let lookup = |id: &ClientIdentity, api: Api| -> Result<_, Error> {
        let mut s = settings(&run.sb, api);
        // DAF-AUTH-0005 at once, without the grace for new credentials (`inert.rs`).
        s.auth_grace = std::time::Duration::ZERO;
        let c = Client::new(s, Some(id))?;
        run.rt.block_on(c.lookup_records(&[cpr]))
    };
    // A certificate from the sandbox's CA that was never registered: 401 DAF-AUTH-0005.
    let unregistered = identity_from(run.sb.pki(), "Ikke registreret");
    let err = lookup(&unregistered, Api::Rest).unwrap_err();
    match &err {
        Error::NotAllowlisted {
            code,
            credential: Credential::Certificate { thumbprint },
            ..
        } => {
            assert_eq!(code, "DAF-AUTH-0005");
            assert_eq!(thumbprint, &unregistered.thumbprint);
        }
        other => panic!("expected 401 DAF-AUTH-0005, got {other}"),
    }
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.revisit(), [Revisit::IpAllowlist, Revisit::Credential]);
    // GraphQL: the token endpoint refuses the certificate (OAuth `invalid_client`).
    let err = lookup(&unregistered, Api::Graphql).unwrap_err();
    match &err {
        Error::TokenRefused {
            credential: Credential::Certificate { thumbprint },
            ..
        } => assert_eq!(thumbprint, &unregistered.thumbprint),
        other => panic!("expected a token refusal, got {other}"),
    }
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.revisit(), [Revisit::Credential, Revisit::IpAllowlist]);
    // Registered without CPR access: 403, the CPR approval.
    run.sb.register_certificate(&unregistered.thumbprint, false);
    let err = lookup(&unregistered, Api::Rest).unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err}");
    assert_eq!(err.revisit(), [Revisit::DataAccess]);
    // The sandbox's own certificate from a denied IP: 401 DAF-AUTH-0005 again.
    run.sb.deny_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let err = lookup(&identity(&run.sb), Api::Rest).unwrap_err();
    assert!(matches!(err, Error::NotAllowlisted { .. }), "{err}");
    run.sb.allow_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert!(lookup(&identity(&run.sb), Api::Rest).is_ok());
}

#[test]
fn a_certificate_from_another_ca_is_refused_in_the_handshake() {
    let run = start(5, |_| {});
    let stranger = TestPki::generate("stranger").unwrap();
    let id = identity_from(&stranger, "Fremmed");
    let want = expected(&run.sb);
    let c = Client::new(settings(&run.sb, Api::Rest), Some(&id)).unwrap();
    let err = run
        .rt
        .block_on(c.lookup_records(&[Cpr::parse(&want[0].0).unwrap()]))
        .unwrap_err();
    match &err {
        Error::TlsRefused {
            alert, thumbprint, ..
        } => {
            assert_eq!(*alert, TlsAlert::UnknownCa, "{err}");
            assert_eq!(thumbprint.as_deref(), Some(id.thumbprint.as_str()));
        }
        other => panic!("expected a TLS refusal, got {other}"),
    }
    assert_eq!(err.kind(), ErrorKind::Auth);
    // An unknown CA is the .p12's chain: the handover.
    assert_eq!(err.revisit(), [Revisit::Handover]);
}

#[test]
fn a_server_we_do_not_trust_points_to_ca_file() {
    let run = start(5, |_| {});
    let mut s = settings(&run.sb, Api::Rest);
    s.ca_pem = None;
    let c = Client::new(s, Some(&identity(&run.sb))).unwrap();
    let want = expected(&run.sb);
    let err = run
        .rt
        .block_on(c.lookup_records(&[Cpr::parse(&want[0].0).unwrap()]))
        .unwrap_err();
    assert!(matches!(err, Error::ServerNotTrusted { .. }), "{err}");
    // Our side's trust (`ca_file`), not the onboarding.
    assert!(err.revisit().is_empty());
}
