//! Access control: registration, IP allowlist, CPR access, the TLS handshake.

use std::net::IpAddr;

use crate::support::{self, client_with, curl, new_identity, rest_url, start};

async fn get(client: &reqwest::Client, url: &str) -> (u16, String, serde_json::Value) {
    let r = client.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let v = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, ct, v)
}

#[tokio::test]
async fn unregistered_certificate_then_registered_without_and_with_cpr_access() {
    let (_d, sb) = start(100, 21).await;
    let (identity, thumbprint) = new_identity(&sb);
    let client = client_with(&sb, Some(identity));
    let url = rest_url(
        &sb,
        &format!("pnr.personnummer.eq={}", sb.population().cpr(0)),
    );

    let (status, ct, v) = get(&client, &url).await;
    assert_eq!(status, 401);
    assert!(ct.starts_with("application/problem+json"), "{ct}");
    assert_eq!(v["code"], "DAF-AUTH-0005");

    // Registered, no CPR approval yet: 403 DAF-AUTH-0001.
    sb.register_certificate(&thumbprint.to_lowercase(), false);
    let (status, ct, v) = get(&client, &url).await;
    assert_eq!(status, 403);
    assert!(ct.starts_with("application/problem+json"));
    assert_eq!(v["code"], "DAF-AUTH-0001");

    sb.register_certificate(&thumbprint, true);
    let (status, _, v) = get(&client, &url).await;
    assert_eq!(status, 200);
    assert_eq!(v["Personer"].as_array().unwrap().len(), 1);

    sb.unregister_certificate(&thumbprint);
    assert_eq!(get(&client, &url).await.0, 401);
    // The certificate token endpoint refuses it too, in OAuth's shape.
    let r = client
        .post(sb.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "cprlink-sandbox"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_client");
}

#[tokio::test]
async fn a_denied_ip_gets_daf_auth_0005() {
    let (_d, sb) = start(100, 22).await;
    let url = rest_url(
        &sb,
        &format!("pnr.personnummer.eq={}", sb.population().cpr(0)),
    );
    let client = support::client(&sb);
    assert_eq!(get(&client, &url).await.0, 200);
    let localhost: IpAddr = "127.0.0.1".parse().unwrap();
    sb.deny_ip(localhost);
    let (status, _, v) = get(&client, &url).await;
    assert_eq!(status, 401);
    assert_eq!(v["code"], "DAF-AUTH-0005");
    sb.allow_ip(localhost);
    assert_eq!(get(&client, &url).await.0, 200);
}

#[tokio::test]
async fn no_client_certificate_fails_in_the_handshake() {
    let (_d, sb) = start(100, 23).await;
    let url = rest_url(
        &sb,
        &format!("pnr.personnummer.eq={}", sb.population().cpr(0)),
    );
    // curl trusting the CA but without --cert: no HTTP exchange happens at all.
    let out = curl(vec![
        "--cacert".into(),
        sb.files().ca_pem.display().to_string(),
        "--write-out".into(),
        "%{http_code}".into(),
        url.clone(),
    ])
    .await;
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "000");
    // openssl s_client names the refusal: TLS alert 116, certificate required.
    let hostport = sb.rest_base_url().trim_start_matches("https://").to_owned();
    let ca = sb.files().ca_pem.clone();
    let out = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new("openssl")
            .args(["s_client", "-ign_eof", "-connect", &hostport, "-CAfile"])
            .arg(&ca)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // s_client reads the alert after sending; give it a request line.
        use std::io::Write as _;
        let _ = child
            .stdin
            .take()
            .unwrap()
            .write_all(b"GET / HTTP/1.1\r\n\r\n");
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_lowercase()
        + &String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        text.contains("alert certificate required") || text.contains("alert number 116"),
        "{text}"
    );
    // reqwest without an identity fails the same way.
    assert!(client_with(&sb, None).get(&url).send().await.is_err());
    // A certificate from another CA is refused in the handshake too.
    let other = cprlink_cert::testpki::TestPki::generate("stranger").unwrap();
    let leaf = other
        .issue(&cprlink_cert::testpki::LeafSpec::oces3_system(
            "X", "Y", "12345674",
        ))
        .unwrap();
    let der = cprlink_cert::p12::build(
        &leaf.key,
        &leaf.cert,
        &[],
        None,
        "pw",
        cprlink_cert::Profile::Compat,
    )
    .unwrap();
    let stranger = client_with(
        &sb,
        Some(reqwest::Identity::from_pkcs12_der(&der, "pw").unwrap()),
    );
    assert!(stranger.get(&url).send().await.is_err());
    // And no request was answered.
    assert_eq!(sb.request_count(), 0);
}

#[tokio::test]
async fn the_admin_api_registers_an_uploaded_cer() {
    let (_d, sb) = start(100, 24).await;
    let leaf = sb
        .pki()
        .issue(&cprlink_cert::testpki::LeafSpec::oces3_system(
            "Up", "Load", "12345674",
        ))
        .unwrap();
    let token = support::password(&sb.files().admin_token);
    let admin = client_with(&sb, None);
    // Without the admin token: refused.
    let r = admin.get(sb.admin_url()).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // Upload the certificate itself (DER, "CER format").
    let r = admin
        .post(format!("{}/certificates?cpr_access=true", sb.admin_url()))
        .bearer_auth(&token)
        .header("content-type", "application/pkix-cert")
        .body(leaf.cert.to_der().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let thumb = cprlink_cert::facts::sha1_thumbprint(&leaf.cert).unwrap();
    assert_eq!(v["sha1_thumbprint"], thumb.as_str());
    // Now the holder of that certificate gets answers.
    let der = cprlink_cert::p12::build(
        &leaf.key,
        &leaf.cert,
        std::slice::from_ref(&sb.pki().issuing.cert),
        None,
        "pw",
        cprlink_cert::Profile::Compat,
    )
    .unwrap();
    let client = client_with(
        &sb,
        Some(reqwest::Identity::from_pkcs12_der(&der, "pw").unwrap()),
    );
    let url = rest_url(
        &sb,
        &format!("pnr.personnummer.eq={}", sb.population().cpr(0)),
    );
    assert_eq!(get(&client, &url).await.0, 200);
    // Deny the IP through the admin API, then look at the status document.
    let r = admin
        .delete(format!("{}/ips/127.0.0.1", sb.admin_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(get(&client, &url).await.0, 401);
    let status: serde_json::Value = admin
        .get(sb.admin_url())
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["request_count"], 2);
    assert!(status["certificates"].as_array().unwrap().len() >= 2);
    assert!(
        !status["allowed_ips"]
            .as_array()
            .unwrap()
            .iter()
            .any(|ip| ip == "127.0.0.1")
    );
}
