//! The files a sandbox writes into its directory, and which of them are its own.
//!
//! Owns writing the test PKI (`ca.pem`, `ca-keys.pem`, `server.pem`, `server.key`,
//! `client.p12` + `.password`; made by `pki.rs`, written only when new), this run's
//! secrets (`admin.token`, `client_secret`), the two ready configs (`cprlink.toml` for
//! the certificate, `cprlink-shared-secret.toml` for the shared secret), `persons.csv`
//! and, last, `sandbox.json`. Every file is written atomically; keys and secrets with
//! mode 0600.
//!
//! The sandbox never replaces a file it did not make: `sandbox-files.json` lists the
//! names it made in the directory, and a start finding one of its names held by a file
//! not on that list refuses (`Error::NotOurs`) before it writes anything.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use cprlink_cert::files::{Overwrite, write_atomic};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::pki::Pki;
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
    /// The test CA's private keys (root, then issuing), kept so the same CA serves
    /// after a restart.
    pub ca_keys: PathBuf,
    /// The server certificate and its key.
    pub server_pem: PathBuf,
    pub server_key: PathBuf,
    /// The client identity (compat profile): leaf + issuing CA.
    pub client_p12: PathBuf,
    pub client_p12_password: PathBuf,
    /// Ready for `cprlink --config DIR/cprlink.toml lookup ...` (the certificate:
    /// REST, and GraphQL with an OAuth certificate).
    pub config_toml: PathBuf,
    /// Ready for GraphQL with the OAuth shared secret (no client certificate).
    pub config_shared_secret_toml: PathBuf,
    /// `cpr,name,name_protected,person_status`: every person with the right answer.
    pub persons_csv: PathBuf,
    /// Bearer token of the admin API.
    pub admin_token: PathBuf,
    /// The shared secret of client `cprlink-sandbox` (shared-secret token variant).
    pub client_secret: PathBuf,
    /// The names of the files the sandbox made here (the ones it may replace).
    pub manifest: PathBuf,
    /// Written last, when the sandbox serves.
    pub sandbox_json: PathBuf,
}

impl SandboxFiles {
    pub fn in_dir(dir: &Path) -> Self {
        SandboxFiles {
            dir: dir.to_path_buf(),
            ca_pem: dir.join("ca.pem"),
            ca_keys: dir.join("ca-keys.pem"),
            server_pem: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            client_p12: dir.join("client.p12"),
            client_p12_password: dir.join("client.p12.password"),
            config_toml: dir.join("cprlink.toml"),
            config_shared_secret_toml: dir.join("cprlink-shared-secret.toml"),
            persons_csv: dir.join("persons.csv"),
            admin_token: dir.join("admin.token"),
            client_secret: dir.join("client_secret"),
            manifest: dir.join(MANIFEST),
            sandbox_json: dir.join("sandbox.json"),
        }
    }

    /// Every file the sandbox writes, but the manifest.
    fn written(&self) -> [&PathBuf; 12] {
        [
            &self.ca_pem,
            &self.ca_keys,
            &self.server_pem,
            &self.server_key,
            &self.client_p12,
            &self.client_p12_password,
            &self.config_toml,
            &self.config_shared_secret_toml,
            &self.persons_csv,
            &self.admin_token,
            &self.client_secret,
            &self.sandbox_json,
        ]
    }
}

/// The `sandbox.json` document: where a running sandbox answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxInfo {
    pub rest_base_url: String,
    pub graphql_url: String,
    /// The certificate token endpoint (mutual TLS, like `auth-oces.datafordeler.dk`).
    pub token_url: String,
    /// The shared-secret token endpoint (TLS on a listener of its own, like
    /// `auth.datafordeler.dk`).
    pub shared_secret_token_url: String,
    pub admin_url: String,
    pub dir: PathBuf,
    pub pid: u32,
    pub persons: u32,
    pub seed: u64,
}

/// This run's secrets (the PKI's are in [`Pki`]).
pub(crate) struct Secrets {
    pub admin_token: String,
    pub client_secret: String,
}

impl Secrets {
    pub(crate) fn new() -> Result<Self, Error> {
        Ok(Secrets {
            admin_token: random_hex(24)?,
            client_secret: random_hex(24)?,
        })
    }
}

/// A random hex secret of `bytes` bytes from OpenSSL's CSPRNG.
pub(crate) fn random_hex(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    openssl::rand::rand_bytes(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

// ---- which files are ours -----------------------------------------------------

const MANIFEST: &str = "sandbox-files.json";

/// What the sandbox writes first, before any other file: the names it will make.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    made_by: String,
    files: Vec<String>,
}

const MADE_BY: &str = "cprlink sandbox";

/// The names an earlier sandbox (before `sandbox-files.json` existed) wrote.
const LEGACY: [&str; 8] = [
    "ca.pem",
    "client.p12",
    "client.p12.password",
    "cprlink.toml",
    "persons.csv",
    "admin.token",
    "client_secret",
    "sandbox.json",
];

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The names in `files.dir` the sandbox made (and so may replace).
fn own_names(files: &SandboxFiles) -> Result<Vec<String>, Error> {
    match fs::read(&files.manifest) {
        Ok(bytes) => match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) if m.made_by == MADE_BY => Ok(m.files),
            _ => Err(Error::NotOurs {
                path: files.manifest.clone(),
            }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A directory of a sandbox from before the manifest: its sandbox.json
            // says so (it names this directory).
            let legacy = fs::read(&files.sandbox_json)
                .ok()
                .and_then(|b| serde_json::from_slice::<SandboxInfo>(&b).ok())
                .is_some_and(|info| info.dir == files.dir);
            Ok(if legacy {
                LEGACY.iter().map(|s| (*s).to_owned()).collect()
            } else {
                Vec::new()
            })
        }
        Err(source) => Err(Error::Dir {
            path: files.dir.clone(),
            source,
        }),
    }
}

/// Makes sure every file the sandbox is about to write is absent or its own, then
/// records them all as its own (before writing any, so a run cut short leaves no file
/// it would later refuse to replace). Nothing is written when a file is not ours.
pub(crate) fn claim(files: &SandboxFiles) -> Result<(), Error> {
    let own = own_names(files)?;
    let mut names = Vec::new();
    for path in files.written() {
        let name = file_name(path);
        if fs::symlink_metadata(path).is_ok() && !own.contains(&name) {
            return Err(Error::NotOurs { path: path.clone() });
        }
        names.push(name);
    }
    let manifest = Manifest {
        made_by: MADE_BY.to_owned(),
        files: names,
    };
    let mut json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    json.push(b'\n');
    put(&files.manifest, &json, PUBLIC)
}

// ---- writing ------------------------------------------------------------------

/// Mode of the files holding keys, passwords and secrets.
const PRIVATE: u32 = 0o600;
/// Mode of the others (certificates, configs, the population's answers).
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

fn keys_pem(keys: &[&openssl::pkey::PKeyRef<openssl::pkey::Private>]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    for k in keys {
        out.extend_from_slice(&k.private_key_to_pem_pkcs8()?);
    }
    Ok(out)
}

/// Writes the parts of the PKI that are new this run (nothing when it was reused).
pub(crate) fn write_pki(files: &SandboxFiles, pki: &Pki) -> Result<(), Error> {
    if pki.is_new() {
        put(&files.ca_pem, &pki.ca.ca_bundle_pem()?, PUBLIC)?;
        put(
            &files.ca_keys,
            &keys_pem(&[&pki.ca.root.key, &pki.ca.issuing.key])?,
            PRIVATE,
        )?;
        put(&files.client_p12, &pki.client_p12, PRIVATE)?;
        put(
            &files.client_p12_password,
            format!("{}\n", pki.client_p12_password).as_bytes(),
            PRIVATE,
        )?;
    }
    if pki.server_is_new() {
        put(&files.server_pem, &pki.server.cert.to_pem()?, PUBLIC)?;
        put(&files.server_key, &keys_pem(&[&pki.server.key])?, PRIVATE)?;
    }
    Ok(())
}

/// Writes this run's secrets and the two configs.
pub(crate) fn write_run(
    files: &SandboxFiles,
    secrets: &Secrets,
    info: &SandboxInfo,
) -> Result<(), Error> {
    put(
        &files.admin_token,
        format!("{}\n", secrets.admin_token).as_bytes(),
        PRIVATE,
    )?;
    put(
        &files.client_secret,
        format!("{}\n", secrets.client_secret).as_bytes(),
        PRIVATE,
    )?;
    put(
        &files.config_toml,
        config_toml(files, info).as_bytes(),
        PUBLIC,
    )?;
    put(
        &files.config_shared_secret_toml,
        shared_secret_toml(files, info).as_bytes(),
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

fn toml_path(p: &Path) -> String {
    toml_str(&p.to_string_lossy())
}

/// How every config the sandbox writes starts: cprlink tells a stopped sandbox's
/// config by it.
pub const CONFIG_MARK: &str = "# Written by `cprlink sandbox`";

/// `cprlink.toml` for this sandbox with the certificate (the schema of
/// `cprlink_lookup::config::Config`). Every URL explicit: `token_url` is the
/// certificate endpoint, which is also the default when `client_secret_file` is unset.
fn config_toml(files: &SandboxFiles, info: &SandboxInfo) -> String {
    format!(
        "{mark} for this run: the ports change every run.\n\
         # Use: cprlink --config {config} lookup [--api rest|graphql] CPR...\n\
         # With the OAuth shared secret instead of the certificate: {other}\n\
         [datafordeler]\n\
         environment = \"sandbox\"\n\
         api = \"rest\"\n\
         rest_base_url = {rest}\n\
         rest_path = {rest_path}\n\
         graphql_url = {graphql}\n\
         # The certificate token endpoint (mutual TLS), like auth-oces.datafordeler.dk.\n\
         token_url = {token}\n\
         client_id = {client_id}\n\
         ca_file = {ca}\n\
         \n\
         [certificate]\n\
         p12 = {p12}\n\
         password_file = {password}\n",
        mark = CONFIG_MARK,
        config = files.config_toml.display(),
        other = files.config_shared_secret_toml.display(),
        rest = toml_str(&info.rest_base_url),
        rest_path = toml_str(REST_PATH),
        graphql = toml_str(&info.graphql_url),
        token = toml_str(&info.token_url),
        client_id = toml_str(CLIENT_ID),
        ca = toml_path(&files.ca_pem),
        p12 = toml_path(&files.client_p12),
        password = toml_path(&files.client_p12_password),
    )
}

/// `cprlink-shared-secret.toml`: GraphQL with the sandbox's shared secret and no
/// client certificate. `token_url` is explicit: the shared-secret endpoint, on its
/// own listener.
fn shared_secret_toml(files: &SandboxFiles, info: &SandboxInfo) -> String {
    format!(
        "{mark} for this run: the ports and the secret change every run.\n\
         # GraphQL with the OAuth shared secret of IT-system {client}, no client certificate.\n\
         # Use: cprlink --config {config} lookup CPR...\n\
         [datafordeler]\n\
         environment = \"sandbox\"\n\
         api = \"graphql\"\n\
         graphql_url = {graphql}\n\
         # The shared-secret token endpoint (TLS, no client certificate), like auth.datafordeler.dk.\n\
         token_url = {token}\n\
         client_id = {client_id}\n\
         client_secret_file = {secret}\n\
         ca_file = {ca}\n",
        mark = CONFIG_MARK,
        client = CLIENT_ID,
        config = files.config_shared_secret_toml.display(),
        graphql = toml_str(&info.graphql_url),
        token = toml_str(&info.shared_secret_token_url),
        client_id = toml_str(CLIENT_ID),
        secret = toml_path(&files.client_secret),
        ca = toml_path(&files.ca_pem),
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
    put(path, &json, PUBLIC)
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
