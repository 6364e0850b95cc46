//! HTTPS built in (`[server.tls]`): with a certificate made here (a test CA and a leaf
//! for localhost), the real binary answers over HTTPS only, a client that trusts the CA
//! completes the SDK journey, and the portal's session cookie is Secure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/journey.rs"]
mod journey;
#[path = "support/process.rs"]
mod process;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use reqwest::blocking::Client;
use serde_json::json;

use journey::{Journey, PASSWORD};
use process::Server;

/// Writes `certs.pem` (leaf, then CA) and `key.pem` into `dir`; returns the CA's PEM.
fn make_certificate(dir: &Path) -> String {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Set test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    std::fs::write(dir.join("certs.pem"), format!("{}{}", leaf.pem(), ca.pem())).unwrap();
    std::fs::write(dir.join("key.pem"), leaf_key.serialize_pem()).unwrap();
    ca.pem()
}

fn trusting(ca_pem: &str) -> Client {
    Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Starts the binary with TLS on; waits until `/healthz` answers over HTTPS.
fn start_tls(dir: &Path, client: &Client) -> Server {
    let port = process::free_port();
    let child = process::command(dir)
        .env("SET_SERVER__PORT", port.to_string())
        // An http public URL on purpose: the cookie must be Secure because the server
        // itself speaks HTTPS, whatever the URL says.
        .env("SET_SERVER__PUBLIC_URL", format!("http://localhost:{port}"))
        .env("SET_SERVER__TLS__CERTS", dir.join("certs.pem"))
        .env("SET_SERVER__TLS__KEY", dir.join("key.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("set-server exited early with {status}");
        }
        let url = format!("https://localhost:{port}/healthz");
        if client.get(url).send().is_ok_and(|r| r.status() == 200) {
            return server;
        }
        assert!(Instant::now() < deadline, "no HTTPS answer in 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn over_https_a_trusting_client_completes_the_sdk_journey() {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_certificate(dir.path());
    let http = trusting(&ca);
    let server = start_tls(dir.path(), &http);
    let base = format!("https://localhost:{}", server.port);

    let j = Journey::start_with(
        http.clone(),
        &base,
        &dir.path().join("data/outbox"),
        "tls@example.com",
    );
    let (status, body) = j.create_user(&http, json!({"plan": "pro"})).unwrap();
    assert_eq!(status, 201, "{body}");
    let user = Journey::user_from(&body);
    let me: serde_json::Value = http
        .get(j.url("/v1/me"))
        .bearer_auth(&user.access)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(me["id"], user.id.as_str());
    assert_eq!(me["metadata"]["plan"], "pro");
    let (status, _) = j.refresh(&http, &user.refresh).unwrap();
    assert_eq!(status, 200);

    // The portal's session cookie is Secure.
    let login = http
        .post(j.url("/api/portal/login"))
        .header("X-Requested-With", "set-portal")
        .json(&json!({"email": "tls@example.com", "password": PASSWORD}))
        .send()
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");

    // Plain HTTP on the same port is refused (the TLS handshake fails).
    let plain = Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{}/healthz", server.port))
        .send();
    assert!(
        plain.is_err(),
        "plain HTTP answered: {:?}",
        plain.map(|r| r.status())
    );

    // A client that does not trust the test CA refuses the server.
    let stranger = Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("{base}/healthz"))
        .send();
    assert!(stranger.is_err());
}

#[test]
fn tls_with_a_missing_key_file_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    make_certificate(dir.path());
    let out = process::command(dir.path())
        .env("SET_SERVER__TLS__CERTS", dir.path().join("certs.pem"))
        .env("SET_SERVER__TLS__KEY", dir.path().join("missing.pem"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("server.tls.key") && stderr.contains("no such file"),
        "{stderr}"
    );
    let out = process::command(dir.path())
        .env("SET_SERVER__TLS__CERTS", dir.path().join("certs.pem"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("server.tls.key: must be set too"),
        "{stderr}"
    );
}
