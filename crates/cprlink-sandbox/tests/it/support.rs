//! Starting sandboxes and the independent clients that talk to them.

use std::path::Path;
use std::process::Output;

use cprlink_sandbox::{Sandbox, SandboxOptions};
use tempfile::TempDir;

/// A sandbox in a fresh directory (kept alive with it).
pub(crate) async fn start(persons: u32, seed: u64) -> (TempDir, Sandbox) {
    start_with(persons, seed, |_| {}).await
}

/// A sandbox in a fresh directory, with options changed by `f`.
pub(crate) async fn start_with(
    persons: u32,
    seed: u64,
    f: impl FnOnce(&mut SandboxOptions),
) -> (TempDir, Sandbox) {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SandboxOptions::new(dir.path().join("sb"));
    opts.persons = persons;
    opts.seed = seed;
    f(&mut opts);
    let sb = Sandbox::start(opts).await.unwrap();
    (dir, sb)
}

/// A token from the shared-secret variant of the token endpoint (no client
/// certificate).
pub(crate) async fn secret_token(sb: &Sandbox, client_id: &str, secret: &str) -> String {
    let r = client_with(sb, None)
        .post(sb.shared_secret_token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// An admin API request: `method` on `/admin{path}` with a JSON body (or none);
/// returns (status, body as JSON or Null).
pub(crate) async fn admin(
    sb: &Sandbox,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let token = password(&sb.files().admin_token);
    let mut req = client_with(sb, None)
        .request(method, format!("{}{path}", sb.admin_url()))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let v = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, v)
}

pub(crate) fn password(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

fn ca(sb: &Sandbox) -> Vec<reqwest::Certificate> {
    reqwest::Certificate::from_pem_bundle(&std::fs::read(&sb.files().ca_pem).unwrap()).unwrap()
}

/// reqwest with the sandbox's client.p12 (mutual TLS) and only its CA trusted.
pub(crate) fn client(sb: &Sandbox) -> reqwest::Client {
    let p12 = std::fs::read(&sb.files().client_p12).unwrap();
    let pw = password(&sb.files().client_p12_password);
    client_with(
        sb,
        Some(reqwest::Identity::from_pkcs12_der(&p12, &pw).unwrap()),
    )
}

/// reqwest trusting the sandbox CA, with the given identity (or none).
pub(crate) fn client_with(sb: &Sandbox, identity: Option<reqwest::Identity>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .tls_backend_native()
        .tls_certs_only(ca(sb))
        .http1_only();
    if let Some(id) = identity {
        b = b.identity(id);
    }
    b.build().unwrap()
}

/// A fresh client certificate from the sandbox's test CA, as a reqwest identity,
/// with its SHA-1 thumbprint. Not registered.
pub(crate) fn new_identity(sb: &Sandbox) -> (reqwest::Identity, String) {
    let leaf = sb
        .pki()
        .issue(&cprlink_cert::testpki::LeafSpec::oces3_system(
            "Other system",
            "Other Kommune",
            "12345674",
        ))
        .unwrap();
    let der = cprlink_cert::p12::build(
        &leaf.key,
        &leaf.cert,
        std::slice::from_ref(&sb.pki().issuing.cert),
        None,
        "pw",
        cprlink_cert::Profile::Compat,
    )
    .unwrap();
    let thumb = cprlink_cert::facts::sha1_thumbprint(&leaf.cert).unwrap();
    (
        reqwest::Identity::from_pkcs12_der(&der, "pw").unwrap(),
        thumb,
    )
}

/// `REST_PATH?query` on the mutual-TLS listener.
pub(crate) fn rest_url(sb: &Sandbox, query: &str) -> String {
    format!(
        "{}{}?{}",
        sb.rest_base_url(),
        cprlink_sandbox::REST_PATH,
        query
    )
}

/// GET a REST query with the sandbox's own identity: (status, body as JSON or Null).
pub(crate) async fn rest(sb: &Sandbox, query: &str) -> (u16, serde_json::Value) {
    let r = client(sb).get(rest_url(sb, query)).send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// A token from the certificate variant of the token endpoint.
pub(crate) async fn cert_token(sb: &Sandbox) -> String {
    let r = client(sb)
        .post(sb.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "cprlink-sandbox"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    v["access_token"].as_str().unwrap().to_owned()
}

/// POST a GraphQL request with a Bearer token: (status, headers, body).
pub(crate) async fn graphql(
    sb: &Sandbox,
    token: &str,
    body: serde_json::Value,
) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let r = client_with(sb, None)
        .post(sb.graphql_url())
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let v = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, headers, v)
}

/// Runs curl off the async runtime (the server shares it) and returns its output.
pub(crate) async fn curl(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "20"])
            .args(&args)
            .output()
            .expect("curl is installed")
    })
    .await
    .unwrap()
}

/// curl's mutual-TLS arguments for the sandbox's own identity.
pub(crate) fn curl_identity(sb: &Sandbox) -> Vec<String> {
    let f = sb.files();
    vec![
        "--cert".into(),
        format!(
            "{}:{}",
            f.client_p12.display(),
            password(&f.client_p12_password)
        ),
        "--cert-type".into(),
        "P12".into(),
        "--cacert".into(),
        f.ca_pem.display().to_string(),
    ]
}
