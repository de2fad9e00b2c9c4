//! `--online`: a real OCSP responder (`openssl ocsp`) on 127.0.0.1 answering good and
//! revoked, and servers that cannot answer, which must never make verify hang.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cprlink_cert::p12::Profile;
use cprlink_cert::verify::{CheckId, CheckStatus, VerifyOptions, verify_file};

use crate::support::{PASSWORD, fx, leaf, p12_of, spec, tmp};

/// `openssl ocsp` as responder for the fixture PKI; returns it and its URL.
fn responder(dir: &std::path::Path, index: &str, requests: u32) -> (Child, String) {
    let ca = dir.join("issuing.pem");
    let key = dir.join("issuing.key");
    let idx = dir.join("index.txt");
    std::fs::write(&ca, fx().pki.issuing.cert.to_pem().unwrap()).unwrap();
    std::fs::write(
        &key,
        fx().pki.issuing.key.private_key_to_pem_pkcs8().unwrap(),
    )
    .unwrap();
    std::fs::write(&idx, index).unwrap();
    let mut child = Command::new("openssl")
        .args(["ocsp", "-index"])
        .arg(&idx)
        .args(["-port", "0", "-nrequest", &requests.to_string(), "-rsigner"])
        .arg(&ca)
        .arg("-rkey")
        .arg(&key)
        .arg("-CA")
        .arg(&ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // "ACCEPT [::]:PORT PID=..." tells the port it bound.
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split_whitespace()
        .nth(1)
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("unexpected openssl ocsp output {line:?}"));
    (child, format!("http://127.0.0.1:{port}"))
}

fn index_line(flag: char, cert: &cprlink_cert::openssl::x509::X509) -> String {
    let serial = cert
        .serial_number()
        .to_bn()
        .unwrap()
        .to_hex_str()
        .unwrap()
        .to_string();
    let revoked = if flag == 'R' { "240101000000Z" } else { "" };
    format!("{flag}\t491231235959Z\t{revoked}\t{serial}\tunknown\t/CN=x\n")
}

fn online(url: &str) -> VerifyOptions {
    let mut o = VerifyOptions::new();
    o.extra_trust = vec![fx().pki.root.cert.clone()];
    o.online = true;
    o.ocsp_url = Some(url.to_owned());
    o.online_timeout = Duration::from_secs(5);
    o
}

#[test]
fn ocsp_good_and_revoked_from_a_real_responder() {
    let dir = tmp();
    let good = fx().good.clone();
    let revoked = leaf(&spec());
    let index = format!("{}{}", index_line('V', &good), index_line('R', &revoked));
    let (mut child, url) = responder(dir.path(), &index, 2);
    let chain = [fx().pki.issuing.cert.clone()];
    let good_path = dir.path().join("good.p12");
    let bad_path = dir.path().join("revoked.p12");
    std::fs::write(&good_path, p12_of(&good, &chain, Profile::Compat)).unwrap();
    std::fs::write(&bad_path, p12_of(&revoked, &chain, Profile::Compat)).unwrap();

    let r = verify_file(&good_path, Some(PASSWORD), &online(&url)).unwrap();
    let check = r.check(CheckId::Revocation).unwrap();
    assert_eq!(check.status, CheckStatus::Pass, "{}", check.detail);
    assert!(check.detail.contains("OCSP"), "{}", check.detail);

    let r = verify_file(&bad_path, Some(PASSWORD), &online(&url)).unwrap();
    let check = r.check(CheckId::Revocation).unwrap();
    assert_eq!(check.status, CheckStatus::Fail, "{}", check.detail);
    assert!(check.detail.contains("revoked"), "{}", check.detail);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn unreachable_or_silent_responders_warn_quickly() {
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
    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}/ocsp", closed.local_addr().unwrap());
    drop(closed);
    // This one accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/ocsp", silent.local_addr().unwrap());
    for url in [closed_url, silent_url] {
        let mut o = online(&url);
        o.online_timeout = Duration::from_millis(800);
        let started = Instant::now();
        let r = verify_file(&path, Some(PASSWORD), &o).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{url}: {:?}",
            started.elapsed()
        );
        let check = r.check(CheckId::Revocation).unwrap();
        assert_eq!(check.status, CheckStatus::Warn, "{url}: {}", check.detail);
        assert!(
            check.detail.starts_with("could not check"),
            "{}",
            check.detail
        );
        assert_eq!(r.verdict, cprlink_cert::Verdict::Warn);
    }
    drop(silent);
}
