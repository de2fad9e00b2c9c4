//! The client's TLS against another implementation: `openssl s_server` (the CLI) with
//! certificates from a test PKI. Mutual TLS with an OCES3-shaped RSA-3072 identity
//! over TLS 1.2 and TLS 1.3, and the server certificates we must refuse (wrong name,
//! expired, from a CA that `ca_file` does not hold), each with its reason.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use cprlink_cert::testpki::{LeafSpec, TestPki};
use cprlink_lookup::config::Api;
use cprlink_lookup::{Client, ClientIdentity, Cpr, Error};

use crate::support::{settings, shared};

/// `openssl s_server` on 127.0.0.1, asking for a client certificate from `pki`'s CA;
/// killed on drop.
struct SServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl SServer {
    fn start(pki: &TestPki, server: &LeafSpec, version: &str) -> SServer {
        let dir = tempfile::tempdir().unwrap();
        let issued = pki.issue(server).unwrap();
        let write = |name: &str, bytes: Vec<u8>| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let cert = write("server.pem", issued.cert.to_pem().unwrap());
        let key = write("server.key", issued.key.private_key_to_pem_pkcs8().unwrap());
        let ca = write("ca.pem", pki.ca_bundle_pem().unwrap());
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("openssl")
            .arg("s_server")
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .arg("-CAfile")
            .arg(&ca)
            .args(["-Verify", "2", "-verify_return_error", version, "-www"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("openssl s_server starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        SServer {
            child,
            port,
            _dir: dir,
        }
    }

    /// Stops the server and returns what it wrote to stderr (its verification of our
    /// certificate).
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        err
    }
}

fn oces3_identity(pki: &TestPki, cn: &str) -> ClientIdentity {
    let issued = pki
        .issue(&LeafSpec::oces3_system(cn, "Testkommune", "29189846"))
        .unwrap();
    assert_eq!(issued.key.bits(), 3072, "OCES3-shaped: RSA 3072");
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
        openssl::x509::X509::stack_from_pem(&pki.ca_bundle_pem().unwrap()).unwrap_or_default(),
    );
    ClientIdentity::from_loaded(&loaded).unwrap()
}

fn server_for_127() -> LeafSpec {
    LeafSpec::tls_server(
        "localhost",
        &["localhost"],
        &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
    )
}

/// One REST lookup against `server`, trusting only `trust`'s CA.
fn lookup(server: &SServer, trust: &TestPki, id: &ClientIdentity) -> Error {
    let run = shared();
    let mut s = settings(&run.sb, Api::Rest);
    s.endpoints.rest_base_url = format!("https://127.0.0.1:{}", server.port);
    s.ca_pem = Some(trust.ca_bundle_pem().unwrap());
    s.retries = 0;
    let c = Client::new(s, Some(id)).unwrap();
    let cpr = Cpr::parse("0101011234").unwrap();
    run.rt.block_on(c.lookup_records(&[cpr])).unwrap_err()
}

#[test]
fn mutual_tls_with_an_oces3_rsa_key_over_tls_1_2_and_1_3() {
    let pki = TestPki::generate("s_server").unwrap();
    let id = oces3_identity(&pki, "Mutual TLS test");
    for version in ["-tls1_2", "-tls1_3"] {
        let server = SServer::start(&pki, &server_for_127(), version);
        let err = lookup(&server, &pki, &id);
        let log = server.stop();
        // The handshake held, both ways: `-www` answers with its HTML status page,
        // which is not Datafordeler's JSON.
        assert!(
            matches!(&err, Error::Protocol { reason, .. } if reason.contains("not JSON")),
            "{version}: {err}"
        );
        assert!(
            log.contains("depth=0 CN = Mutual TLS test") && log.contains("verify return:1"),
            "{version}: s_server did not verify our certificate:\n{log}"
        );
        assert!(!log.contains("verify error"), "{version}:\n{log}");
    }
}

#[test]
fn server_certificates_we_refuse_say_why() {
    let pki = TestPki::generate("refuse").unwrap();
    let id = oces3_identity(&pki, "Refusal test");
    let not_trusted = |spec: &LeafSpec, trust: &TestPki| -> String {
        let server = SServer::start(&pki, spec, "-tls1_3");
        let err = lookup(&server, trust, &id);
        server.stop();
        match err {
            Error::ServerNotTrusted { detail, .. } => detail,
            other => panic!("expected ServerNotTrusted, got {other}"),
        }
    };
    // Issued for other names than the address we asked.
    let elsewhere = LeafSpec::tls_server("elsewhere", &["elsewhere.example"], &[]);
    let detail = not_trusted(&elsewhere, &pki);
    assert!(detail.starts_with("hostname mismatch"), "{detail}");
    // Expired yesterday.
    let now = Utc::now();
    let expired = server_for_127().valid(
        now - chrono::Duration::days(30),
        now - chrono::Duration::days(1),
    );
    assert_eq!(not_trusted(&expired, &pki), "certificate has expired");
    // `ca_file` holds another CA: it is the only trust, the system's is not added.
    let other = TestPki::generate("other").unwrap();
    let detail = not_trusted(&server_for_127(), &other);
    assert!(detail.starts_with("unknown issuer"), "{detail}");
}
