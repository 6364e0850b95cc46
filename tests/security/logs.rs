//! No secret, password, token or cookie ever reaches the log, even at debug level, after
//! a full journey through the real binary.

use std::time::Duration;

use serde_json::json;

use crate::journey::{Journey, PASSWORD};
use crate::process::Server;

#[test]
fn a_full_journey_leaves_no_secret_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let server = Server::start_logging(dir.path(), &[("SET_LOG__LEVEL", "debug")], &log);
    let outbox = dir.path().join("data/outbox");
    let j = Journey::start(&server.url(""), &outbox, "dev@example.com");
    let verification = crate::journey::outbox_token(&outbox, "verify-email");
    let http = reqwest::blocking::Client::new();
    let (_, body) = j.create_user(&http, json!({"name": "Ada"})).unwrap();
    let user = Journey::user_from(&body);
    let (_, refreshed) = j.refresh(&http, &user.refresh).unwrap();
    let r = http
        .post(j.url("/api/portal/password/forgot"))
        .header("X-Requested-With", "set-portal")
        .json(&json!({"email": "dev@example.com"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let reset = crate::journey::outbox_token(&outbox, "reset-password");
    let link: serde_json::Value = http
        .post(j.url("/v1/me/link-codes"))
        .bearer_auth(&user.access)
        .send()
        .unwrap()
        .json()
        .unwrap();
    // Failures log too: a wrong secret, a bad token, a wrong password.
    http.post(j.url("/v1/client/register"))
        .basic_auth(&j.client_id, Some("cs_wrong_secret_value"))
        .send()
        .unwrap();
    http.get(j.url("/v1/me"))
        .bearer_auth("not.a.token")
        .send()
        .unwrap();
    http.post(j.url("/api/portal/login"))
        .header("X-Requested-With", "set-portal")
        .json(&json!({"email": "dev@example.com", "password": "wrong password here"}))
        .send()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(server);

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("POST /v1/users 201"),
        "the log has request lines: {logged}"
    );
    let session = j.session.split('=').nth(1).unwrap();
    let secrets = [
        ("password", PASSWORD),
        ("wrong password", "wrong password here"),
        ("client secret", j.client_secret.as_str()),
        ("wrong client secret", "cs_wrong_secret_value"),
        ("client token", j.client_token.as_str()),
        ("access token", user.access.as_str()),
        ("refresh token", user.refresh.as_str()),
        (
            "rotated refresh token",
            refreshed["refresh_token"].as_str().unwrap(),
        ),
        ("session cookie", session),
        ("verification token", verification.as_str()),
        ("reset token", reset.as_str()),
        ("link code", link["code"].as_str().unwrap()),
    ];
    for (what, value) in secrets {
        assert!(!logged.contains(value), "the log holds the {what}");
    }
    let master = std::fs::read_to_string(dir.path().join("data/master.key")).unwrap();
    assert!(
        !logged.contains(master.trim()),
        "the log holds the master key"
    );
}

/// Log lines are written by a thread of their own (`logging::init`); none may be lost
/// when the server stops, the last ones included.
#[test]
fn every_line_is_in_the_log_when_the_server_exits() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let mut server = Server::start_logging(dir.path(), &[], &log);
    let http = reqwest::blocking::Client::new();
    for _ in 0..200 {
        let r = http
            .get(server.url("/.well-known/jwks.json"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(server.terminate().code(), Some(0));
    let logged = std::fs::read_to_string(&log).unwrap();
    let lines = logged.matches("GET /.well-known/jwks.json 200").count();
    assert_eq!(lines, 200, "{logged}");
    let last = logged.lines().last().unwrap_or_default();
    assert!(last.contains("stopped cleanly"), "the last line: {last}");
}
