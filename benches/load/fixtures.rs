//! Fixtures made through the public API only, as a developer and an app would: sign up,
//! verify the email from the outbox, sign in, create a client, register, create users.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{json, Value};

/// One end user of the benchmark's client, used by one worker.
pub struct User {
    pub access: String,
    /// The head of this user's refresh chain: every refresh replaces it, so a spent token
    /// is never presented again (that would revoke the whole family).
    pub refresh: Mutex<String>,
}

/// Everything the scenarios need.
pub struct Fixture {
    pub base: String,
    pub client_id: String,
    pub client_secret: String,
    pub client_token: String,
    pub users: Vec<User>,
    /// An integration of the client (for `code_exchange`): id, secret, redirect URI.
    pub integration: (String, String, String),
}

async fn send(req: reqwest::RequestBuilder, what: &str) -> (reqwest::StatusCode, Value, String) {
    let res = req.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = res.status();
    let cookie = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("set_session="))
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_owned();
    let body = res.text().await.unwrap_or_default();
    let value = serde_json::from_str(&body).unwrap_or(Value::Null);
    assert!(status.is_success(), "{what}: {status} {body}");
    (status, value, cookie)
}

fn portal(http: &Client, base: &str, path: &str, body: Value) -> reqwest::RequestBuilder {
    http.post(format!("{base}/api/portal{path}"))
        .header("X-Requested-With", "set-portal")
        .json(&body)
}

/// The token of the verification link in the first email of `outbox` (waits up to 10 s).
fn verification_token(outbox: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mail = std::fs::read_dir(outbox).ok().and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|e| e == "eml"))
        });
        if let Some(path) = mail {
            let raw = std::fs::read(&path).expect("read the email");
            let msg = mail_parser::MessageParser::default()
                .parse(&raw)
                .expect("a parsable email");
            let text = msg.body_text(0).expect("a text part").into_owned();
            let marker = "verify-email?token=";
            let start = text.find(marker).expect("a verification link") + marker.len();
            return text[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
        }
        assert!(Instant::now() < deadline, "no verification email in 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Creates a verified developer, a client, its client token and `users` users, each with
/// `events` events already stored.
pub async fn create(
    http: &Client,
    base: &str,
    outbox: &Path,
    users: usize,
    events: usize,
) -> Fixture {
    let (email, password) = ("bench@example.com", "bench-password-0123");
    let creds = json!({"email": email, "password": password});
    send(portal(http, base, "/signup", creds.clone()), "sign-up").await;
    let token = verification_token(outbox);
    send(
        portal(http, base, "/verify-email", json!({ "token": token })),
        "verify email",
    )
    .await;
    let (_, _, session) = send(portal(http, base, "/login", creds), "sign in").await;
    let cookie = format!("set_session={session}");
    let (_, client, _) = send(
        portal(http, base, "/clients", json!({"name": "bench"})).header("Cookie", &cookie),
        "create a client",
    )
    .await;
    let client_id = client["client_id"].as_str().expect("client_id").to_owned();
    let redirect_uri = "https://bench.example.com/callback".to_owned();
    let (_, int, _) = send(
        portal(
            http,
            base,
            &format!("/clients/{client_id}/integrations"),
            json!({"name": "bench", "redirect_uris": [redirect_uri], "scopes": ["profile:read"]}),
        )
        .header("Cookie", &cookie),
        "register an integration",
    )
    .await;
    let integration = (
        int["client_id"]
            .as_str()
            .expect("integration id")
            .to_owned(),
        int["client_secret"]
            .as_str()
            .expect("integration secret")
            .to_owned(),
        redirect_uri,
    );
    let client_secret = client["client_secret"]
        .as_str()
        .expect("client_secret")
        .to_owned();
    let (_, reg, _) = send(
        http.post(format!("{base}/v1/client/register"))
            .basic_auth(&client_id, Some(&client_secret)),
        "register",
    )
    .await;
    let client_token = reg["access_token"].as_str().expect("token").to_owned();
    let mut made = Vec::with_capacity(users);
    for _ in 0..users {
        let (_, u, _) = send(
            http.post(format!("{base}/v1/users"))
                .bearer_auth(&client_token)
                .json(&json!({"metadata": {"plan": "free"}})),
            "create a user",
        )
        .await;
        let access = u["access_token"].as_str().expect("access").to_owned();
        for i in 0..events {
            send(
                http.post(format!("{base}/v1/me/events"))
                    .bearer_auth(&access)
                    .json(&json!({"type": "seed", "data": {"i": i}})),
                "store an event",
            )
            .await;
        }
        made.push(User {
            access,
            refresh: Mutex::new(u["refresh_token"].as_str().expect("refresh").to_owned()),
        });
    }
    Fixture {
        base: base.to_owned(),
        client_id,
        client_secret,
        client_token,
        users: made,
        integration,
    }
}
