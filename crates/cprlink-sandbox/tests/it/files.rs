//! The files in DIR: present, private where they must be, usable by real tools.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use cprlink_sandbox::{PkiOrigin, Sandbox, SandboxInfo, SandboxOptions};
use serde_json::json;

use crate::support::{client_with, password, start};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn files_are_written_and_private() {
    let (_d, sb) = start(50, 51).await;
    let f = sb.files().clone();
    for p in [
        &f.ca_keys,
        &f.server_key,
        &f.client_p12,
        &f.client_p12_password,
        &f.admin_token,
        &f.client_secret,
    ] {
        assert_eq!(mode(p), 0o600, "{}", p.display());
    }
    for p in [
        &f.ca_pem,
        &f.server_pem,
        &f.config_toml,
        &f.config_shared_secret_toml,
        &f.persons_csv,
        &f.manifest,
        &f.sandbox_json,
    ] {
        assert!(p.is_file(), "{}", p.display());
    }
    // No temporary files left behind.
    for entry in std::fs::read_dir(&f.dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "{name}");
    }
    let info: SandboxInfo =
        serde_json::from_slice(&std::fs::read(&f.sandbox_json).unwrap()).unwrap();
    assert_eq!(&info, sb.info());
    assert_eq!(info.rest_base_url, sb.rest_base_url());
    assert_eq!(info.graphql_url, sb.graphql_url());
    assert_eq!(info.token_url, sb.token_url());
    assert_eq!(info.shared_secret_token_url, sb.shared_secret_token_url());
    assert_eq!(info.pid, std::process::id());
    assert_eq!((info.persons, info.seed), (50, 51));
    assert!(info.dir.is_absolute());
    assert!(info.rest_base_url.starts_with("https://127.0.0.1:"));

    // cprlink.toml: exactly the keys of the contract, absolute paths.
    let toml: toml::Table = std::fs::read_to_string(&f.config_toml)
        .unwrap()
        .parse()
        .unwrap();
    let df = toml["datafordeler"].as_table().unwrap();
    let mut keys: Vec<&str> = df.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "api",
            "ca_file",
            "client_id",
            "environment",
            "graphql_url",
            "rest_base_url",
            "rest_path",
            "token_url"
        ]
    );
    assert_eq!(df["environment"].as_str(), Some("sandbox"));
    assert_eq!(
        df["rest_base_url"].as_str(),
        Some(info.rest_base_url.as_str())
    );
    assert_eq!(df["ca_file"].as_str(), Some(f.ca_pem.to_str().unwrap()));
    let cert = toml["certificate"].as_table().unwrap();
    assert_eq!(cert["p12"].as_str(), Some(f.client_p12.to_str().unwrap()));
    assert_eq!(
        cert["password_file"].as_str(),
        Some(f.client_p12_password.to_str().unwrap())
    );
}

#[tokio::test]
async fn the_openssl_cli_reads_the_p12_and_verifies_the_chain() {
    let (d, sb) = start(10, 52).await;
    let f = sb.files().clone();
    let pass = format!("file:{}", f.client_p12_password.display());
    let out = Command::new("openssl")
        .args(["pkcs12", "-in"])
        .arg(&f.client_p12)
        .args(["-passin", &pass, "-nokeys", "-clcerts"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let leaf = d.path().join("leaf.pem");
    std::fs::write(&leaf, &out.stdout).unwrap();
    let out = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(&f.ca_pem)
        .arg(&leaf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let fp = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha1", "-in"])
        .arg(&leaf)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&fp.stdout).replace(':', "");
    assert!(text.contains(sb.client_thumbprint()), "{text}");
    assert!(!password(&f.client_p12_password).is_empty());
}

#[tokio::test]
async fn shutdown_and_drop_stop_serving_and_keep_the_files() {
    let (_d, sb) = start(10, 53).await;
    let url = crate::support::rest_url(&sb, "pnr.personnummer.eq=0101011234");
    let client = crate::support::client(&sb);
    assert!(client.get(&url).send().await.is_ok());
    let files = sb.files().clone();
    sb.shutdown().await;
    assert!(reqwest::Client::new().get(&url).send().await.is_err());
    assert!(client.get(&url).send().await.is_err());
    assert!(files.persons_csv.is_file() && files.client_p12.is_file());

    // Dropping stops it too (once the runtime gets to run the accept loops).
    let (_d2, sb2) = start(10, 54).await;
    let url2 = crate::support::rest_url(&sb2, "pnr.personnummer.eq=0101011234");
    let client2 = crate::support::client(&sb2);
    drop(sb2);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(client2.get(&url2).send().await.is_err());
}

#[tokio::test]
async fn a_port_in_use_is_reported() {
    let (_d, sb) = start(10, 55).await;
    let taken: std::net::SocketAddr = sb
        .rest_base_url()
        .trim_start_matches("https://")
        .parse()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = cprlink_sandbox::SandboxOptions::new(dir.path());
    opts.listen = taken;
    let err = Sandbox::start(opts).await.unwrap_err();
    assert!(
        matches!(err, cprlink_sandbox::Error::AddressInUse { .. }),
        "{err}"
    );
    let mut opts = cprlink_sandbox::SandboxOptions::new(dir.path());
    opts.persons = 2_000_000;
    assert!(Sandbox::start(opts).await.is_err());
}

#[tokio::test]
async fn a_directory_that_cannot_be_made_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let err = Sandbox::start(cprlink_sandbox::SandboxOptions::new(file.join("sb")))
        .await
        .unwrap_err();
    match err {
        cprlink_sandbox::Error::Dir { path, .. } => assert_eq!(path, file.join("sb")),
        other => panic!("{other}"),
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"not a directory");
}

/// The GraphQL query of datafordeler.md 2, for one number.
fn query(cpr: &str) -> serde_json::Value {
    json!({
        "query": "query($cpr:[String!]!){CPRCustom_PublicSectorPerson(input:{personnummer:{personnummer:{in:$cpr}}}){nodes{id navne{fornavne efternavn status} beskyttelser{beskyttelsestype}}}}",
        "variables": {"cpr": [cpr]},
    })
}

fn port(url: &str) -> u16 {
    reqwest::Url::parse(url).unwrap().port().unwrap()
}

#[tokio::test]
async fn the_shared_secret_token_endpoint_has_a_listener_of_its_own() {
    let (_d, sb) = start(20, 56).await;
    let ports = [
        port(&sb.rest_base_url()),
        port(&sb.graphql_url()),
        port(&sb.shared_secret_token_url()),
    ];
    assert!(ports[0] != ports[1] && ports[1] != ports[2] && ports[0] != ports[2]);
    let plain = client_with(&sb, None);
    let secret = password(&sb.files().client_secret);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "cprlink-sandbox"),
        ("client_secret", secret.as_str()),
    ];
    // No client certificate needed on it (like auth.datafordeler.dk) ...
    let r = plain
        .post(sb.shared_secret_token_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // ... and nothing else is there, nor is the token endpoint on the GraphQL host.
    let auth_base = sb
        .shared_secret_token_url()
        .replace(cprlink_sandbox::TOKEN_PATH, "");
    let r = plain
        .post(format!("{auth_base}{}", cprlink_sandbox::GRAPHQL_PATH))
        .json(&query(&sb.population().cpr(0)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let api_base = sb.graphql_url().replace(cprlink_sandbox::GRAPHQL_PATH, "");
    let r = plain
        .post(format!("{api_base}{}", cprlink_sandbox::TOKEN_PATH))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The certificate variant stays on the mutual-TLS listener (like auth-oces).
    assert!(sb.token_url().starts_with(&sb.rest_base_url()));
}

/// reqwest set up from a `cprlink.toml` written by the sandbox, the way a client
/// reads it: `ca_file`, and `[certificate]` when present.
fn client_from(config: &toml::Table) -> reqwest::Client {
    let df = config["datafordeler"].as_table().unwrap();
    let ca = std::fs::read(df["ca_file"].as_str().unwrap()).unwrap();
    let mut b = reqwest::Client::builder()
        .tls_backend_native()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&ca).unwrap())
        .http1_only();
    if let Some(cert) = config.get("certificate").and_then(|c| c.as_table()) {
        let p12 = std::fs::read(cert["p12"].as_str().unwrap()).unwrap();
        let pw = password(std::path::Path::new(
            cert["password_file"].as_str().unwrap(),
        ));
        b = b.identity(reqwest::Identity::from_pkcs12_der(&p12, &pw).unwrap());
    }
    b.build().unwrap()
}

#[tokio::test]
async fn both_configs_work_with_an_independent_client() {
    let (_d, sb) = start(20, 57).await;
    let cpr = sb.population().cpr(2);
    let f = sb.files();
    for (path, uses_secret) in [
        (&f.config_toml, false),
        (&f.config_shared_secret_toml, true),
    ] {
        let config: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
        let df = config["datafordeler"].as_table().unwrap();
        let client = client_from(&config);
        let client_id = df["client_id"].as_str().unwrap();
        let mut form = vec![
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("client_id".to_owned(), client_id.to_owned()),
        ];
        assert_eq!(df.contains_key("client_secret_file"), uses_secret);
        assert_eq!(config.contains_key("certificate"), !uses_secret);
        if uses_secret {
            let file = df["client_secret_file"].as_str().unwrap();
            form.push((
                "client_secret".to_owned(),
                password(std::path::Path::new(file)),
            ));
            assert_eq!(df["api"].as_str(), Some("graphql"));
            assert_eq!(
                df["token_url"].as_str(),
                Some(sb.shared_secret_token_url().as_str())
            );
        } else {
            assert_eq!(df["token_url"].as_str(), Some(sb.token_url().as_str()));
        }
        let r = client
            .post(df["token_url"].as_str().unwrap())
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", path.display());
        let token: serde_json::Value = r.json().await.unwrap();
        let r = client
            .post(df["graphql_url"].as_str().unwrap())
            .bearer_auth(token["access_token"].as_str().unwrap())
            .json(&query(&cpr))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            v["data"]["CPRCustom_PublicSectorPerson"]["nodes"]
                .as_array()
                .unwrap()
                .len(),
            1,
            "{v}"
        );
    }
}

async fn start_in(dir: &std::path::Path) -> Sandbox {
    let mut opts = SandboxOptions::new(dir);
    opts.persons = 20;
    Sandbox::start(opts).await.unwrap()
}

#[tokio::test]
async fn the_pki_is_kept_across_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sb");
    let first = start_in(&dir).await;
    assert!(matches!(first.pki_origin(), PkiOrigin::Made { .. }));
    let f = first.files().clone();
    let read = |p: &std::path::Path| std::fs::read(p).unwrap();
    let before = [
        read(&f.ca_pem),
        read(&f.ca_keys),
        read(&f.server_pem),
        read(&f.client_p12),
        read(&f.client_p12_password),
    ];
    let thumbprint = first.client_thumbprint().to_owned();
    // A client made from the first run's files ...
    let client = crate::support::client(&first);
    first.shutdown().await;

    let second = start_in(&dir).await;
    assert_eq!(
        second.pki_origin(),
        &PkiOrigin::Reused {
            server_reissued: false
        }
    );
    let after = [
        read(&f.ca_pem),
        read(&f.ca_keys),
        read(&f.server_pem),
        read(&f.client_p12),
        read(&f.client_p12_password),
    ];
    assert!(before == after, "the PKI files are untouched");
    assert_eq!(second.client_thumbprint(), thumbprint);
    // ... still trusts the server and is still registered.
    let url = crate::support::rest_url(
        &second,
        &format!("pnr.personnummer.eq={}", second.population().cpr(0)),
    );
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    // `pki()` is the CA of ca.pem, so what it issues is trusted by the first run's
    // clients too.
    assert!(same_ca(&second, &read(&f.ca_pem)));
    second.shutdown().await;

    // Another listening address: only the server certificate is issued again.
    let mut opts = SandboxOptions::new(&dir);
    opts.persons = 20;
    opts.listen = "127.0.0.2:0".parse().unwrap();
    let third = Sandbox::start(opts).await.unwrap();
    assert_eq!(
        third.pki_origin(),
        &PkiOrigin::Reused {
            server_reissued: true
        }
    );
    assert_eq!(read(&f.client_p12), before[3]);
    assert_ne!(read(&f.server_pem), before[2]);
}

#[tokio::test]
async fn a_pki_that_expires_soon_or_is_broken_is_made_anew() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sb");
    let first = start_in(&dir).await;
    let f = first.files().clone();
    // A client certificate from the same CA that expires in 10 days.
    let now = chrono::Utc::now();
    let leaf = first
        .pki()
        .issue(
            &cprlink_cert::testpki::LeafSpec::oces3_system("Soon", "Gone", "12345674").valid(
                now - chrono::Duration::days(1),
                now + chrono::Duration::days(10),
            ),
        )
        .unwrap();
    let p12 = cprlink_cert::p12::build(
        &leaf.key,
        &leaf.cert,
        std::slice::from_ref(&first.pki().issuing.cert),
        None,
        &password(&f.client_p12_password),
        cprlink_cert::Profile::Compat,
    )
    .unwrap();
    first.shutdown().await;
    std::fs::write(&f.client_p12, &p12).unwrap();

    let second = start_in(&dir).await;
    match second.pki_origin() {
        PkiOrigin::Made { reason } => {
            assert!(reason.contains("expires within 30 days"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_ne!(std::fs::read(&f.client_p12).unwrap(), p12);
    second.shutdown().await;

    // A truncated key file: made anew, and the new files work together.
    let keys = std::fs::read(&f.ca_keys).unwrap();
    std::fs::write(&f.ca_keys, &keys[..keys.len() / 2]).unwrap();
    let third = start_in(&dir).await;
    match third.pki_origin() {
        PkiOrigin::Made { reason } => assert!(reason.contains("ca-keys.pem"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let url = crate::support::rest_url(
        &third,
        &format!("pnr.personnummer.eq={}", third.population().cpr(0)),
    );
    let client = crate::support::client(&third);
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    assert!(same_ca(&third, &std::fs::read(&f.ca_pem).unwrap()));
    third.shutdown().await;
    // ... and are reused on the next start.
    let fourth = start_in(&dir).await;
    assert_eq!(
        fourth.pki_origin(),
        &PkiOrigin::Reused {
            server_reissued: false
        }
    );
}

/// Whether `ca.pem` holds exactly the root and issuing CA of `sb.pki()`.
fn same_ca(sb: &Sandbox, ca_pem: &[u8]) -> bool {
    let certs = openssl::x509::X509::stack_from_pem(ca_pem).unwrap();
    let der = |c: &openssl::x509::X509| c.to_der().unwrap();
    certs.len() == 2
        && der(&certs[0]) == der(&sb.pki().root.cert)
        && der(&certs[1]) == der(&sb.pki().issuing.cert)
}

#[tokio::test]
async fn files_the_sandbox_did_not_make_are_never_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("project");
    std::fs::create_dir(&dir).unwrap();
    let mine = b"[lookup]\nconcurrency = 2\n";
    std::fs::write(dir.join("cprlink.toml"), mine).unwrap();
    let err = Sandbox::start(SandboxOptions::new(&dir)).await.unwrap_err();
    match &err {
        cprlink_sandbox::Error::NotOurs { path } => {
            assert_eq!(path, &dir.canonicalize().unwrap().join("cprlink.toml"))
        }
        other => panic!("{other}"),
    }
    assert_eq!(std::fs::read(dir.join("cprlink.toml")).unwrap(), mine);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["cprlink.toml"], "nothing else was written");

    // Its own files it replaces; a stranger added later is refused again.
    let own = tmp.path().join("own");
    let sb = start_in(&own).await;
    sb.shutdown().await;
    let sb = start_in(&own).await;
    sb.shutdown().await;
    std::fs::remove_file(own.join("client_secret")).unwrap();
    std::fs::create_dir(own.join("client_secret")).unwrap();
    assert!(
        matches!(
            Sandbox::start(SandboxOptions::new(&own)).await,
            Err(cprlink_sandbox::Error::Write { .. })
        ),
        "an own name taken by a directory fails to write, and says so"
    );

    // A directory of an earlier sandbox (no sandbox-files.json yet) is taken over.
    let legacy = tmp.path().join("legacy");
    std::fs::create_dir(&legacy).unwrap();
    let canonical = legacy.canonicalize().unwrap();
    let old_info = json!({
        "rest_base_url": "https://127.0.0.1:1", "graphql_url": "https://127.0.0.1:2/x",
        "token_url": "https://127.0.0.1:1/t", "shared_secret_token_url": "https://127.0.0.1:2/t",
        "admin_url": "https://127.0.0.1:2/admin", "dir": canonical, "pid": 1, "persons": 1, "seed": 1
    });
    std::fs::write(legacy.join("sandbox.json"), old_info.to_string()).unwrap();
    std::fs::write(legacy.join("cprlink.toml"), b"# old").unwrap();
    std::fs::write(legacy.join("ca.pem"), b"old").unwrap();
    let sb = start_in(&legacy).await;
    assert!(
        std::fs::read_to_string(legacy.join("cprlink.toml"))
            .unwrap()
            .starts_with("# Written by `cprlink sandbox`")
    );
    sb.shutdown().await;
}
