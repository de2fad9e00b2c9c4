//! The files a sandbox writes into its directory, and the test PKI behind them.
//!
//! Owns making the sandbox's test CA, server and client certificates
//! (`cprlink_cert::testpki`, OCES3-shaped, RSASSA-PSS) and writing `ca.pem`,
//! `client.p12` (+ `.password`), `admin.token`, `client_secret`, `cprlink.toml`,
//! `persons.csv` and, last, `sandbox.json`. Every file is written atomically; the
//! secrets with mode 0600. Existing files from an earlier run are replaced (each run
//! has new ports and secrets; the keys are made once per process).

use std::fs;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cprlink_cert::files::{Overwrite, write_atomic};
use cprlink_cert::testpki::{Issued, LeafSpec, TestPki, issue_leaf_for_key, rsa_key};
use openssl::pkey::{PKey, Private};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::population::Population;
use crate::rest::REST_PATH;

/// The IT-system client id the sandbox knows (GraphQL tokens).
pub const CLIENT_ID: &str = "cprlink-sandbox";

/// A synthetic CVR number (passes the CVR modulus-11 check) for the sandbox's client
/// certificate. Not a real authority.
pub const SANDBOX_CVR: &str = "12345674";

/// Where the sandbox's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxFiles {
    pub dir: PathBuf,
    /// The test CA chain (root + issuing CA), to trust the server.
    pub ca_pem: PathBuf,
    /// The client identity (compat profile): leaf + issuing CA.
    pub client_p12: PathBuf,
    pub client_p12_password: PathBuf,
    /// Ready for `cprlink --config DIR/cprlink.toml lookup ...`.
    pub config_toml: PathBuf,
    /// `cpr,name,name_protected,person_status`: every person with the right answer.
    pub persons_csv: PathBuf,
    /// Bearer token of the admin API.
    pub admin_token: PathBuf,
    /// The shared secret of client `cprlink-sandbox` (shared-secret token variant).
    pub client_secret: PathBuf,
    /// Written last, when the sandbox serves.
    pub sandbox_json: PathBuf,
}

impl SandboxFiles {
    pub fn in_dir(dir: &Path) -> Self {
        SandboxFiles {
            dir: dir.to_path_buf(),
            ca_pem: dir.join("ca.pem"),
            client_p12: dir.join("client.p12"),
            client_p12_password: dir.join("client.p12.password"),
            config_toml: dir.join("cprlink.toml"),
            persons_csv: dir.join("persons.csv"),
            admin_token: dir.join("admin.token"),
            client_secret: dir.join("client_secret"),
            sandbox_json: dir.join("sandbox.json"),
        }
    }
}

/// The `sandbox.json` document: where a running sandbox answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxInfo {
    pub rest_base_url: String,
    pub graphql_url: String,
    pub token_url: String,
    pub shared_secret_token_url: String,
    pub admin_url: String,
    pub dir: PathBuf,
    pub pid: u32,
    pub persons: u32,
    pub seed: u64,
}

/// Certificates and secrets of one sandbox run.
pub(crate) struct Material {
    pub pki: TestPki,
    pub server: Issued,
    pub client: Issued,
    pub client_thumbprint: String,
    pub client_p12_password: String,
    pub admin_token: String,
    pub client_secret: String,
}

/// A random hex secret of `bytes` bytes from OpenSSL's CSPRNG.
pub(crate) fn random_hex(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The slow part of the test PKI: the keys. Made once per process (in parallel) and
/// shared by every sandbox the process starts; RSA key generation dominates start-up
/// (seconds), and test suites start many sandboxes.
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

/// The test PKI of a sandbox: root and issuing CA and an OCES3-shaped system
/// certificate for the client (shared per process, see [`keys`]), a server
/// certificate for `127.0.0.1`, `::1`, `localhost` (and `ip`), and fresh secrets.
pub(crate) fn make_material(ip: IpAddr) -> Result<Material, Error> {
    let keys = keys()?;
    let mut ips = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    if !ip.is_unspecified() && !ips.contains(&ip) {
        ips.push(ip);
    }
    let spec = LeafSpec::tls_server("localhost", &["localhost"], &ips);
    let server = Issued {
        cert: issue_leaf_for_key(&keys.pki.issuing, &spec, &keys.server_key)?,
        key: keys.server_key.clone(),
    };
    let client_thumbprint = cprlink_cert::facts::sha1_thumbprint(&keys.client.cert)?;
    Ok(Material {
        client_thumbprint,
        client_p12_password: cprlink_cert::p12::generate_password()?,
        admin_token: random_hex(24)?,
        client_secret: random_hex(24)?,
        pki: keys.pki.clone(),
        server,
        client: keys.client.clone(),
    })
}

/// Mode of the files holding keys, passwords and secrets.
const PRIVATE: u32 = 0o600;
/// Mode of the others (certificates, config, the population's answers).
const PUBLIC: u32 = 0o644;

/// Writes atomically through `cprlink_cert::files`, keeping a failed write our
/// [`Error::Write`]: a directory the user cannot write to is their problem, not a bug
/// in the test PKI.
fn put(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    write_atomic(path, bytes, mode, Overwrite::Replace).map_err(|e| match e {
        cprlink_cert::Error::Write { path, source } => Error::Write { path, source },
        other => Error::Pki(other),
    })
}

/// Writes everything but `persons.csv` and `sandbox.json`.
pub(crate) fn write_identity(
    files: &SandboxFiles,
    m: &Material,
    info: &SandboxInfo,
) -> Result<(), Error> {
    put(&files.ca_pem, &m.pki.ca_bundle_pem()?, PUBLIC)?;
    let p12 = cprlink_cert::p12::build(
        &m.client.key,
        &m.client.cert,
        std::slice::from_ref(&m.pki.issuing.cert),
        Some("cprlink sandbox client"),
        &m.client_p12_password,
        cprlink_cert::Profile::Compat,
    )?;
    put(&files.client_p12, &p12, PRIVATE)?;
    put(
        &files.client_p12_password,
        format!("{}\n", m.client_p12_password).as_bytes(),
        PRIVATE,
    )?;
    put(
        &files.admin_token,
        format!("{}\n", m.admin_token).as_bytes(),
        PRIVATE,
    )?;
    put(
        &files.client_secret,
        format!("{}\n", m.client_secret).as_bytes(),
        PRIVATE,
    )?;
    put(
        &files.config_toml,
        config_toml(files, info).as_bytes(),
        PUBLIC,
    )?;
    Ok(())
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `cprlink.toml` for this sandbox (the schema of `cprlink_lookup::config::Config`).
fn config_toml(files: &SandboxFiles, info: &SandboxInfo) -> String {
    let path = |p: &Path| toml_str(&p.to_string_lossy());
    format!(
        "# Written by `cprlink sandbox` for this run: the ports change every run.\n\
         # Use: cprlink --config {config} lookup [--api rest|graphql] CPR...\n\
         [datafordeler]\n\
         environment = \"sandbox\"\n\
         api = \"rest\"\n\
         rest_base_url = {rest}\n\
         rest_path = {rest_path}\n\
         graphql_url = {graphql}\n\
         token_url = {token}\n\
         client_id = {client_id}\n\
         ca_file = {ca}\n\
         \n\
         [certificate]\n\
         p12 = {p12}\n\
         password_file = {password}\n",
        config = files.config_toml.display(),
        rest = toml_str(&info.rest_base_url),
        rest_path = toml_str(REST_PATH),
        graphql = toml_str(&info.graphql_url),
        token = toml_str(&info.token_url),
        client_id = toml_str(CLIENT_ID),
        ca = path(&files.ca_pem),
        p12 = path(&files.client_p12),
        password = path(&files.client_p12_password),
    )
}

/// A CSV field, quoted when it has to be (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// `persons.csv`: streamed through a temporary file and renamed into place, so a
/// million rows never sit in memory and a reader never sees half a file.
pub(crate) fn write_persons_csv(path: &Path, pop: &Population) -> Result<(), Error> {
    let wrap = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_file_name(".persons.csv.tmp");
    let file = fs::File::create(&tmp).map_err(wrap)?;
    let mut w = BufWriter::with_capacity(1 << 16, file);
    w.write_all(b"cpr,name,name_protected,person_status\n")
        .map_err(wrap)?;
    for i in 0..pop.len() {
        let e = pop.expected(i);
        writeln!(
            w,
            "{},{},{},{}",
            e.cpr,
            csv_field(&e.name),
            e.name_protected,
            e.person_status
        )
        .map_err(wrap)?;
    }
    let file = w.into_inner().map_err(|e| wrap(e.into_error()))?;
    file.sync_all().map_err(wrap)?;
    fs::rename(&tmp, path).map_err(wrap)?;
    Ok(())
}

/// `sandbox.json`, atomically: its appearance means "ready".
pub(crate) fn write_info(path: &Path, info: &SandboxInfo) -> Result<(), Error> {
    let mut json = serde_json::to_vec_pretty(info).unwrap_or_default();
    json.push(b'\n');
    put(path, &json, PUBLIC)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(csv_field("Søren Ærø-Østergaard"), "Søren Ærø-Østergaard");
        assert_eq!(csv_field("Jensen,Mikkel"), "\"Jensen,Mikkel\"");
        assert_eq!(toml_str("/a \"b\"\\c"), "\"/a \\\"b\\\"\\\\c\"");
    }
}
