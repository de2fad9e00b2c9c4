//! The files in DIR: present, private where they must be, usable by real tools.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use cprlink_sandbox::{Sandbox, SandboxInfo};

use crate::support::{password, start};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn files_are_written_and_private() {
    let (_d, sb) = start(50, 51).await;
    let f = sb.files().clone();
    for p in [
        &f.client_p12,
        &f.client_p12_password,
        &f.admin_token,
        &f.client_secret,
    ] {
        assert_eq!(mode(p), 0o600, "{}", p.display());
    }
    for p in [&f.ca_pem, &f.config_toml, &f.persons_csv, &f.sandbox_json] {
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
