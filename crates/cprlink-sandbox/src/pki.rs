//! The sandbox's test PKI: a root and an issuing CA, a server certificate and an
//! OCES3-shaped client certificate (`cprlink_cert::testpki`, RSASSA-PSS), kept in the
//! sandbox's directory and reused across restarts.
//!
//! Owns the decision "reuse or make": the PKI found in DIR is reused when every part
//! is there, readable, consistent (keys match, each certificate signed by its CA) and
//! valid for at least [`MIN_VALIDITY_DAYS`] more days; otherwise a new one is made and
//! the reason logged ([`PkiOrigin`]). A server certificate that is fine except for not
//! covering the listening address is re-issued from the same CA. Making keys is the
//! slow part (seconds), so fresh keys are made once per process and shared by every
//! sandbox that needs a new PKI. Writing the files is `files.rs`'s job.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::{Arc, Mutex};

use cprlink_cert::testpki::{Authority, Issued, LeafSpec, TestPki, issue_leaf_for_key, rsa_key};
use openssl::asn1::Asn1Time;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use crate::error::Error;
use crate::files::{SANDBOX_CVR, SandboxFiles};

/// A PKI whose certificates expire sooner than this is made anew.
pub const MIN_VALIDITY_DAYS: u32 = 30;

/// The friendly name in `client.p12`.
const CLIENT_FRIENDLY_NAME: &str = "cprlink sandbox client";

/// Where this run's test PKI came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PkiOrigin {
    /// Reused from the directory; `server_reissued` when its server certificate had to
    /// be issued again (e.g. for another `--listen` address), from the same CA.
    Reused { server_reissued: bool },
    /// Made anew, for `reason` (none in the directory yet, a part missing, unreadable,
    /// not matching, or expiring within [`MIN_VALIDITY_DAYS`] days).
    Made { reason: String },
}

/// The test PKI of one run.
pub(crate) struct Pki {
    pub ca: TestPki,
    pub server: Issued,
    pub client_thumbprint: String,
    /// `client.p12` as it is (or is to be) on disk.
    pub client_p12: Vec<u8>,
    pub client_p12_password: String,
    pub origin: PkiOrigin,
}

impl Pki {
    /// Whether the CA and client files must be written (a new PKI).
    pub(crate) fn is_new(&self) -> bool {
        matches!(self.origin, PkiOrigin::Made { .. })
    }

    /// Whether the server files must be written.
    pub(crate) fn server_is_new(&self) -> bool {
        match self.origin {
            PkiOrigin::Made { .. } => true,
            PkiOrigin::Reused { server_reissued } => server_reissued,
        }
    }
}

/// The addresses the server certificate must name for a listener on `ip`.
fn server_ips(ip: IpAddr) -> Vec<IpAddr> {
    let mut ips = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    if !ip.is_unspecified() && !ips.contains(&ip) {
        ips.push(ip);
    }
    ips
}

fn issue_server(ca: &TestPki, key: PKey<Private>, ip: IpAddr) -> Result<Issued, Error> {
    let spec = LeafSpec::tls_server("localhost", &["localhost"], &server_ips(ip));
    Ok(Issued {
        cert: issue_leaf_for_key(&ca.issuing, &spec, &key)?,
        key,
    })
}

/// The PKI for a sandbox in `files.dir` listening on `ip`: the one in the directory
/// when it is fit for use, else a new one.
pub(crate) fn obtain(files: &SandboxFiles, ip: IpAddr) -> Result<Pki, Error> {
    match load(files, ip) {
        Ok(Loaded {
            ca,
            client,
            client_p12,
            client_p12_password,
            server,
        }) => {
            let (server, server_reissued) = match server {
                Ok(server) => (server, false),
                Err(reason) => {
                    tracing::info!(
                        "sandbox: issuing a new server certificate from the test CA in {}: {reason}",
                        files.dir.display()
                    );
                    (issue_server(&ca, rsa_key(2048)?, ip)?, true)
                }
            };
            tracing::info!(
                "sandbox: reusing the test PKI in {} (client certificate {})",
                files.dir.display(),
                cprlink_cert::facts::sha1_thumbprint(&client.cert)?
            );
            Ok(Pki {
                client_thumbprint: cprlink_cert::facts::sha1_thumbprint(&client.cert)?,
                ca,
                server,
                client_p12,
                client_p12_password,
                origin: PkiOrigin::Reused { server_reissued },
            })
        }
        Err(reason) => {
            tracing::info!(
                "sandbox: making a new test PKI in {}: {reason}",
                files.dir.display()
            );
            make(ip, reason)
        }
    }
}

/// A new PKI from the per-process keys, with a new server certificate and password.
fn make(ip: IpAddr, reason: String) -> Result<Pki, Error> {
    let keys = keys()?;
    let server = issue_server(&keys.pki, keys.server_key.clone(), ip)?;
    let client_p12_password = cprlink_cert::p12::generate_password()?;
    let client_p12 = cprlink_cert::p12::build(
        &keys.client.key,
        &keys.client.cert,
        std::slice::from_ref(&keys.pki.issuing.cert),
        Some(CLIENT_FRIENDLY_NAME),
        &client_p12_password,
        cprlink_cert::Profile::Compat,
    )?;
    Ok(Pki {
        client_thumbprint: cprlink_cert::facts::sha1_thumbprint(&keys.client.cert)?,
        ca: keys.pki.clone(),
        server,
        client_p12,
        client_p12_password,
        origin: PkiOrigin::Made { reason },
    })
}

/// The slow part of a new test PKI: the keys. Made once per process (in parallel) and
/// shared by every sandbox the process starts without a usable PKI in its directory;
/// RSA key generation dominates start-up (seconds), and test suites start many
/// sandboxes.
struct Keys {
    pki: TestPki,
    client: Issued,
    server_key: PKey<Private>,
}

fn keys() -> Result<Arc<Keys>, Error> {
    static KEYS: Mutex<Option<Arc<Keys>>> = Mutex::new(None);
    let mut slot = KEYS
        .lock()
        .map_err(|_| Error::Task("key cache poisoned".into()))?;
    if let Some(k) = slot.as_ref() {
        return Ok(k.clone());
    }
    let (pki, client_key, server_key) = std::thread::scope(|s| {
        let client = s.spawn(|| rsa_key(3072));
        let server = s.spawn(|| rsa_key(2048));
        let pki = TestPki::generate("cprlink sandbox");
        let join =
            |h: std::thread::ScopedJoinHandle<'_, Result<PKey<Private>, cprlink_cert::Error>>| {
                h.join()
                    .map_err(|_| Error::Task("key generation panicked".into()))?
                    .map_err(Error::from)
            };
        Ok::<_, Error>((pki?, join(client)?, join(server)?))
    })?;
    let spec = LeafSpec::oces3_system(
        "cprlink sandbox client",
        "Sandbox Kommune (test)",
        SANDBOX_CVR,
    );
    let cert = issue_leaf_for_key(&pki.issuing, &spec, &client_key)?;
    let k = Arc::new(Keys {
        pki,
        client: Issued {
            cert,
            key: client_key,
        },
        server_key,
    });
    *slot = Some(k.clone());
    Ok(k)
}

// ---- reading a PKI back ---------------------------------------------------------

/// A PKI read from a directory; the server part may be unusable on its own.
struct Loaded {
    ca: TestPki,
    client: Issued,
    client_p12: Vec<u8>,
    client_p12_password: String,
    server: Result<Issued, String>,
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{} is missing", name(path)),
        _ => format!("{} cannot be read ({e})", name(path)),
    })
}

fn name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The private keys in a PEM file, in order.
fn keys_from_pem(path: &Path, pem: &[u8]) -> Result<Vec<PKey<Private>>, String> {
    const END: &str = "-----END PRIVATE KEY-----";
    let text = std::str::from_utf8(pem).map_err(|_| format!("{} is not PEM", name(path)))?;
    text.split_inclusive(END)
        .filter(|chunk| chunk.contains(END))
        .map(|chunk| {
            PKey::private_key_from_pem(chunk.as_bytes())
                .map_err(|_| format!("{} holds a key that cannot be read", name(path)))
        })
        .collect()
}

/// `cert` is signed by `issuer`, its key is `key` (when given), and it stays valid for
/// [`MIN_VALIDITY_DAYS`] more days.
fn fit(what: &str, cert: &X509, issuer: &X509, key: Option<&PKey<Private>>) -> Result<(), String> {
    let signed = issuer
        .public_key()
        .and_then(|k| cert.verify(&k))
        .unwrap_or(false);
    if !signed {
        return Err(format!("the {what} certificate is not signed by its CA"));
    }
    if let Some(key) = key
        && !cert.public_key().is_ok_and(|p| p.public_eq(key))
    {
        return Err(format!("the {what} key does not match its certificate"));
    }
    let now = Asn1Time::days_from_now(0).map_err(|e| e.to_string())?;
    let soon = Asn1Time::days_from_now(MIN_VALIDITY_DAYS).map_err(|e| e.to_string())?;
    if cert.not_before() > now {
        return Err(format!("the {what} certificate is not valid yet"));
    }
    if cert.not_after() < soon {
        return Err(format!(
            "the {what} certificate expires within {MIN_VALIDITY_DAYS} days ({})",
            cert.not_after()
        ));
    }
    Ok(())
}

/// Whether a server certificate names every address in `ips`.
fn covers(cert: &X509, ips: &[IpAddr]) -> bool {
    let named: Vec<Vec<u8>> = cert
        .subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.ipaddress().map(<[u8]>::to_vec))
                .collect()
        })
        .unwrap_or_default();
    ips.iter().all(|ip| {
        let octets = match ip {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        named.contains(&octets)
    })
}

fn load(files: &SandboxFiles, ip: IpAddr) -> Result<Loaded, String> {
    let parts = [&files.ca_pem, &files.ca_keys, &files.client_p12];
    if parts.iter().all(|p| !p.exists()) {
        return Err("there is none in the directory yet".to_owned());
    }
    let ca_pem = read(&files.ca_pem)?;
    let ca_keys = read(&files.ca_keys)?;
    let certs = X509::stack_from_pem(&ca_pem).map_err(|_| "ca.pem cannot be read".to_owned())?;
    let [root_cert, issuing_cert] = <[X509; 2]>::try_from(certs)
        .map_err(|_| "ca.pem does not hold exactly the root and the issuing CA".to_owned())?;
    let [root_key, issuing_key] =
        <[PKey<Private>; 2]>::try_from(keys_from_pem(&files.ca_keys, &ca_keys)?)
            .map_err(|_| "ca-keys.pem does not hold exactly the two CA keys".to_owned())?;
    fit("root CA", &root_cert, &root_cert, Some(&root_key))?;
    fit("issuing CA", &issuing_cert, &root_cert, Some(&issuing_key))?;
    let ca = TestPki {
        root: Authority {
            cert: root_cert,
            key: root_key,
        },
        issuing: Authority {
            cert: issuing_cert,
            key: issuing_key,
        },
    };

    let p12 = read(&files.client_p12)?;
    let password = String::from_utf8(read(&files.client_p12_password)?)
        .map_err(|_| "client.p12.password is not text".to_owned())?;
    let password = password.lines().next().unwrap_or("").to_owned();
    let contents = cprlink_cert::p12::parse(&files.client_p12, &p12, &password)
        .map_err(|e| format!("client.p12 cannot be opened ({e})"))?;
    let (Some(key), Some(cert)) = (contents.key, contents.cert) else {
        return Err("client.p12 lacks its key or certificate".to_owned());
    };
    fit("client", &cert, &ca.issuing.cert, Some(&key))?;

    let server = (|| {
        let cert = X509::from_pem(&read(&files.server_pem)?)
            .map_err(|_| "server.pem cannot be read".to_owned())?;
        let key = keys_from_pem(&files.server_key, &read(&files.server_key)?)?
            .into_iter()
            .next()
            .ok_or_else(|| "server.key holds no key".to_owned())?;
        fit("server", &cert, &ca.issuing.cert, Some(&key))?;
        if !covers(&cert, &server_ips(ip)) {
            return Err(format!("the server certificate does not name {ip}"));
        }
        Ok(Issued { cert, key })
    })();

    Ok(Loaded {
        ca,
        client: Issued { cert, key },
        client_p12: p12,
        client_p12_password: password,
        server,
    })
}
