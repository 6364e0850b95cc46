//! `set-server doctor` against the real binary serving on a free port: every line ✓ and
//! exit 0 for a healthy deployment; a clear ✗ line and exit 1 for a wrong secret, an
//! unverified developer and an unreachable URL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/process.rs"]
mod process;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use process::Server;

const PASSWORD: &str = "correct horse battery";

/// The newest verification token sent to `email`, from the outbox.
fn verification_token(dir: &Path, email: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let files: Vec<_> = std::fs::read_dir(dir.join("data/outbox"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        for path in files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        {
            let raw = std::fs::read(path).unwrap();
            let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
            let to = msg
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default();
            if to != email {
                continue;
            }
            let text = msg.body_text(0).unwrap().into_owned();
            let start = text.find("verify-email?token=").unwrap() + "verify-email?token=".len();
            return text[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "no verification email for {email}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Signs `email` up (verified or not), signs in, creates a client: (id, secret).
fn client_of(server: &Server, dir: &Path, email: &str, verified: bool) -> (String, String) {
    let http = reqwest::blocking::Client::new();
    let portal = |path: &str, body: Value, cookie: Option<&str>| {
        let mut req = http
            .post(server.url(&format!("/api/portal{path}")))
            .header("X-Requested-With", "set-portal")
            .json(&body);
        if let Some(c) = cookie {
            req = req.header("Cookie", c);
        }
        req.send().unwrap()
    };
    let creds = json!({ "email": email, "password": PASSWORD });
    assert_eq!(portal("/signup", creds.clone(), None).status(), 201);
    if verified {
        let token = verification_token(dir, email);
        assert_eq!(
            portal("/verify-email", json!({ "token": token }), None).status(),
            200
        );
    }
    let login = portal("/login", creds, None);
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let client: Value = portal("/clients", json!({ "name": "App" }), Some(&cookie))
        .json()
        .unwrap();
    (
        client["client_id"].as_str().unwrap().to_owned(),
        client["client_secret"].as_str().unwrap().to_owned(),
    )
}

fn doctor(dir: &Path, url: &str, id: &str, secret: &str) -> (Output, Vec<String>) {
    let out = process::run(
        dir,
        &[
            "doctor",
            "--url",
            url,
            "--client-id",
            id,
            "--client-secret",
            secret,
        ],
    );
    let lines = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    (out, lines)
}

fn line<'a>(lines: &'a [String], step: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l[l.char_indices().nth(2).map_or(0, |(i, _)| i)..].starts_with(step))
        .unwrap_or_else(|| panic!("no {step} line in {lines:#?}"))
}

#[test]
fn a_healthy_deployment_passes_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (id, secret) = client_of(&server, dir.path(), "dev@example.com", true);
    let (out, lines) = doctor(dir.path(), &server.url(""), &id, &secret);
    assert!(out.status.success(), "{lines:#?}\n{:?}", out.stderr);
    assert_eq!(lines.len(), 11, "{lines:#?}");
    for l in &lines {
        assert!(l.starts_with("✓ "), "{l}");
    }
    assert!(line(&lines, "TLS").contains("plain http on 127.0.0.1 (loopback"));
    assert!(line(&lines, "revocation").contains("refused at once"));
    assert!(line(&lines, "token verified locally").contains("EdDSA"));
    // The test user is gone again.
    assert!(line(&lines, "cleanup").contains("was deleted"));
}

#[test]
fn a_wrong_secret_fails_registration_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (id, _) = client_of(&server, dir.path(), "dev@example.com", true);
    let (out, lines) = doctor(dir.path(), &server.url(""), &id, "cs_wrong");
    assert_eq!(out.status.code(), Some(1), "{lines:#?}");
    let failed = line(&lines, "client registration");
    assert!(failed.starts_with("✗ "), "{failed}");
    assert!(failed.contains("401 invalid_client"), "{failed}");
    assert!(
        failed.contains("Hint: copy the clientId and clientSecret"),
        "{failed}"
    );
    // What came before passed; what needs a client token did not run.
    assert!(line(&lines, "JWKS").starts_with("✓ "));
    assert!(line(&lines, "user creation").starts_with("– "));
    assert!(line(&lines, "refresh").starts_with("– "));
}

#[test]
fn an_unverified_developer_fails_registration_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (id, secret) = client_of(&server, dir.path(), "new@example.com", false);
    let (out, lines) = doctor(dir.path(), &server.url(""), &id, &secret);
    assert_eq!(out.status.code(), Some(1), "{lines:#?}");
    let failed = line(&lines, "client registration");
    assert!(failed.starts_with("✗ "), "{failed}");
    assert!(failed.contains("403 email_unverified"), "{failed}");
    assert!(failed.contains("verification email"), "{failed}");
}

#[test]
fn an_unreachable_url_fails_the_first_step_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let url = format!("http://127.0.0.1:{}", process::free_port());
    let (out, lines) = doctor(dir.path(), &url, "cl_x", "cs_x");
    assert_eq!(out.status.code(), Some(1), "{lines:#?}");
    let failed = line(&lines, "reachable");
    assert!(
        failed.starts_with("✗ reachable: cannot connect to"),
        "{failed}"
    );
    assert!(failed.contains("Hint: is set-server running"), "{failed}");
    assert_eq!(lines.len(), 11, "{lines:#?}");
    assert!(lines[1..].iter().all(|l| l.starts_with("– ")), "{lines:#?}");
}

#[test]
fn a_public_url_that_differs_from_the_url_used_fails_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (id, secret) = client_of(&server, dir.path(), "dev@example.com", true);
    // Reached as localhost, while tokens name 127.0.0.1.
    let url = server.url("").replace("127.0.0.1", "localhost");
    let (out, lines) = doctor(dir.path(), &url, &id, &secret);
    assert_eq!(out.status.code(), Some(1), "{lines:#?}");
    let failed = line(&lines, "metadata");
    assert!(failed.contains("set server.public_url"), "{failed}");
}
