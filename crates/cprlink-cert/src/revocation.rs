//! Online revocation checking: OCSP first, the CRL as a fallback.
//!
//! Owns asking the CA whether a certificate is revoked, only when the caller asks
//! (`cert verify --online`). OCES3 publishes OCSP and CRLs over plain HTTP
//! (`http://ca1.gov.dk/ocsp`; certificates.md §4), as RFC 5280 intends, so a tiny
//! HTTP/1.0 client on `std::net` does; answers are trusted only after their signature
//! verifies. The whole exchange runs on a helper thread behind a deadline: DNS, a
//! silent server or a slow link yield "could not check", never a hang. It never
//! decides the verdict: `verify` maps the outcome to a check.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use openssl::hash::MessageDigest;
use openssl::ocsp::{
    OcspCertId, OcspCertStatus, OcspFlag, OcspRequest, OcspResponse, OcspResponseStatus,
};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{CrlStatus, X509, X509Crl, X509Ref};

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// Not revoked, according to `source` (`OCSP http://...` or `CRL http://...`).
    Good { source: String },
    /// Revoked.
    Revoked { source: String, detail: String },
    /// No trustworthy answer: the reason, in words.
    Unknown { reason: String },
}

/// Where to ask and for how long.
#[derive(Debug, Clone)]
pub struct RevocationOptions {
    /// Ask this OCSP responder instead of the one the certificate names.
    pub ocsp_url: Option<String>,
    /// Overall time limit for each of the OCSP and the CRL attempt.
    pub timeout: Duration,
}

impl Default for RevocationOptions {
    fn default() -> Self {
        RevocationOptions {
            ocsp_url: None,
            timeout: Duration::from_secs(5),
        }
    }
}

/// The OCES3 production OCSP responder, used when a production certificate names none.
pub const OCES3_OCSP: &str = "http://ca1.gov.dk/ocsp";

/// Asks whether `leaf` (issued by `issuer`) is revoked. `trusted` are the anchors that
/// may sign (or issue the signer of) the answers.
pub fn check(
    leaf: &X509Ref,
    issuer: &X509Ref,
    trusted: &[X509],
    opts: &RevocationOptions,
) -> Revocation {
    let ocsp_urls: Vec<String> = match &opts.ocsp_url {
        Some(u) => vec![u.clone()],
        None => leaf
            .ocsp_responders()
            .map(|s| s.iter().map(|u| u.to_string()).collect())
            .unwrap_or_default(),
    };
    let mut reasons = Vec::new();
    for url in &ocsp_urls {
        match ocsp(leaf, issuer, trusted, url, opts.timeout) {
            Ok(answer) => return answer,
            Err(reason) => reasons.push(format!("OCSP {url}: {reason}")),
        }
    }
    for url in crl_urls(leaf) {
        match crl(leaf, issuer, &url, opts.timeout) {
            Ok(answer) => return answer,
            Err(reason) => reasons.push(format!("CRL {url}: {reason}")),
        }
    }
    if reasons.is_empty() {
        reasons.push("the certificate names no OCSP responder and no CRL".to_owned());
    }
    Revocation::Unknown {
        reason: reasons.join("; "),
    }
}

fn crl_urls(cert: &X509Ref) -> Vec<String> {
    let Some(points) = cert.crl_distribution_points() else {
        return Vec::new();
    };
    points
        .iter()
        .filter_map(|p| p.distpoint())
        .filter_map(|n| n.fullname())
        .flat_map(|names| {
            names
                .iter()
                .filter_map(|g| g.uri().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .filter(|u| u.starts_with("http://"))
        .collect()
}

fn ocsp(
    leaf: &X509Ref,
    issuer: &X509Ref,
    trusted: &[X509],
    url: &str,
    timeout: Duration,
) -> Result<Revocation, String> {
    let e = |what: &str, err: openssl::error::ErrorStack| format!("{what}: {err}");
    let id = OcspCertId::from_cert(MessageDigest::sha1(), leaf, issuer)
        .map_err(|err| e("cannot build the request", err))?;
    let mut request = OcspRequest::new().map_err(|err| e("cannot build the request", err))?;
    request
        .add_id(id)
        .map_err(|err| e("cannot build the request", err))?;
    let body = request
        .to_der()
        .map_err(|err| e("cannot build the request", err))?;
    let answer = http_with_deadline(
        url,
        Some(("application/ocsp-request", body)),
        timeout,
        64 * 1024,
    )?;
    let response = OcspResponse::from_der(&answer)
        .map_err(|_| "the answer is not an OCSP response".to_owned())?;
    if response.status() != OcspResponseStatus::SUCCESSFUL {
        return Err(format!(
            "the responder answered status {}",
            response.status().as_raw()
        ));
    }
    let basic = response
        .basic()
        .map_err(|err| e("the answer has no basic response", err))?;
    let mut store = X509StoreBuilder::new().map_err(|err| e("store", err))?;
    for t in trusted {
        let _ = store.add_cert(t.clone());
    }
    let _ = store.add_cert(issuer.to_owned());
    let store = store.build();
    let mut certs = Stack::new().map_err(|err| e("stack", err))?;
    certs
        .push(issuer.to_owned())
        .map_err(|err| e("stack", err))?;
    basic
        .verify(&certs, &store, OcspFlag::empty())
        .map_err(|_| "the answer's signature does not verify".to_owned())?;
    let id = OcspCertId::from_cert(MessageDigest::sha1(), leaf, issuer)
        .map_err(|err| e("cannot build the request", err))?;
    let status = basic
        .find_status(&id)
        .ok_or_else(|| "the answer does not mention this certificate".to_owned())?;
    status
        .check_validity(300, None)
        .map_err(|_| "the answer is outdated".to_owned())?;
    let source = format!("OCSP {url}");
    if status.status == OcspCertStatus::GOOD {
        Ok(Revocation::Good { source })
    } else if status.status == OcspCertStatus::REVOKED {
        let when = status
            .revocation_time
            .map(|t| format!(" on {t}"))
            .unwrap_or_default();
        Ok(Revocation::Revoked {
            source,
            detail: format!("revoked{when} (reason code {})", status.reason.as_raw()),
        })
    } else {
        Err("the responder does not know this certificate".to_owned())
    }
}

fn crl(
    leaf: &X509Ref,
    issuer: &X509Ref,
    url: &str,
    timeout: Duration,
) -> Result<Revocation, String> {
    // OCES3 CRLs are a few hundred kilobytes; 32 MiB is a generous ceiling.
    let bytes = http_with_deadline(url, None, timeout, 32 * 1024 * 1024)?;
    let crl = X509Crl::from_der(&bytes)
        .or_else(|_| X509Crl::from_pem(&bytes))
        .map_err(|_| "the answer is not a CRL".to_owned())?;
    let key = issuer
        .public_key()
        .map_err(|_| "the issuer's key cannot be read".to_owned())?;
    if !crl.verify(&key).unwrap_or(false) {
        return Err("the CRL's signature does not verify".to_owned());
    }
    if let Some(next) = crl.next_update() {
        let now = openssl::asn1::Asn1Time::days_from_now(0).map_err(|e| e.to_string())?;
        if next < now {
            return Err("the CRL is outdated".to_owned());
        }
    }
    let source = format!("CRL {url}");
    match crl.get_by_serial(leaf.serial_number()) {
        CrlStatus::Revoked(entry) => Ok(Revocation::Revoked {
            source,
            detail: format!("revoked on {}", entry.revocation_date()),
        }),
        CrlStatus::NotRevoked | CrlStatus::RemoveFromCrl(_) => Ok(Revocation::Good { source }),
    }
}

/// One HTTP/1.0 exchange on a helper thread; gives up after `timeout` whatever happens.
fn http_with_deadline(
    url: &str,
    post: Option<(&str, Vec<u8>)>,
    timeout: Duration,
    max_body: usize,
) -> Result<Vec<u8>, String> {
    let (tx, rx) = mpsc::channel();
    let url = url.to_owned();
    let post = post.map(|(t, b)| (t.to_owned(), b));
    let deadline = Instant::now() + timeout;
    // A thread, not a socket timeout alone: name resolution has no timeout of its own.
    // A stuck thread is left behind; it ends with the process.
    std::thread::Builder::new()
        .name("cprlink-revocation".to_owned())
        .spawn(move || {
            let _ = tx.send(http(&url, post, deadline, max_body));
        })
        .map_err(|e| format!("cannot start: {e}"))?;
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(_) => Err(format!(
            "no answer within {} seconds",
            timeout.as_secs_f32()
        )),
    }
}

fn http(
    url: &str,
    post: Option<(String, Vec<u8>)>,
    deadline: Instant,
    max_body: usize,
) -> Result<Vec<u8>, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| "only http:// addresses are supported".to_owned())?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    // `host:port`, `[v6]:port`, or a bare host meaning port 80.
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(h, p)| p.parse::<u16>().is_ok() && (!h.contains(':') || h.ends_with(']')));
    let target = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let left = |d: Instant| {
        d.checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| "timed out".to_owned())
    };
    let addrs: Vec<_> = target
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {authority}: {e}"))?
        .collect();
    let mut stream = None;
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, left(deadline)?) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    let mut stream = stream.ok_or(last)?;
    stream
        .set_write_timeout(Some(left(deadline)?))
        .map_err(|e| e.to_string())?;
    let mut head = match &post {
        Some((ctype, body)) => format!(
            "POST {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nUser-Agent: cprlink\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes(),
        None => format!(
            "GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: cprlink\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
    };
    if let Some((_, body)) = &post {
        head.extend_from_slice(body);
    }
    stream
        .write_all(&head)
        .map_err(|e| format!("cannot send: {e}"))?;
    let mut response = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        stream
            .set_read_timeout(Some(left(deadline)?))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                response.extend_from_slice(&buf[..n]);
                if response.len() > max_body + 64 * 1024 {
                    return Err("the answer is too large".to_owned());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("cannot read the answer: {e}")),
        }
    }
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| "the answer is not HTTP".to_owned())?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let body = response[split + 4..].to_vec();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "the answer is not HTTP".to_owned())?;
    if status != 200 {
        return Err(format!("HTTP status {status}"));
    }
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        return dechunk(&body).ok_or_else(|| "broken chunked answer".to_owned());
    }
    Ok(body)
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunks() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(dechunk(b"zz\r\n").is_none());
    }

    #[test]
    fn a_silent_server_times_out_quickly() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/ocsp", listener.local_addr().unwrap());
        let started = Instant::now();
        let err = http_with_deadline(&url, None, Duration::from_millis(500), 1024).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3), "{err}");
        drop(listener);
    }
}
