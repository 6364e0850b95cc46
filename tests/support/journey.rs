#![allow(dead_code)] // shared by several test binaries; each uses a part
//! The public-API fixture over real HTTP (blocking): a verified developer with a client,
//! its credentials and a client token, and helpers for users, events and refreshes.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{json, Value};

pub const PASSWORD: &str = "correct horse battery";

pub struct Journey {
    pub base: String,
    pub http: Client,
    pub session: String,
    pub client_id: String,
    pub client_secret: String,
    pub client_token: String,
}

/// A user as the SDK holds it.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub access: String,
    pub refresh: String,
}

/// The token of the newest `/<page>?token=` link in the outbox under `outbox`.
pub fn outbox_token(outbox: &Path, page: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let marker = format!("/{page}?token=");
    loop {
        let mut files: Vec<_> = std::fs::read_dir(outbox)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        for path in files.iter().rev() {
            let raw = std::fs::read(path).unwrap();
            let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
            let text = msg.body_text(0).unwrap_or_default().into_owned();
            if let Some(at) = text.find(&marker) {
                return text[at + marker.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
            }
        }
        assert!(
            Instant::now() < deadline,
            "no {page} email in {}",
            outbox.display()
        );
        std::thread::sleep(Duration::from_millis(30));
    }
}

impl Journey {
    /// Signs up `email`, verifies it from the outbox, signs in, creates a client and
    /// registers it.
    pub fn start(base: &str, outbox: &Path, email: &str) -> Journey {
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Journey::start_with(http, base, outbox, email)
    }

    /// [`Journey::start`] with a client of the caller's (e.g. one that trusts a test
    /// certificate).
    pub fn start_with(http: Client, base: &str, outbox: &Path, email: &str) -> Journey {
        let portal = |path: &str| format!("{base}/api/portal{path}");
        let creds = json!({"email": email, "password": PASSWORD});
        let r = http
            .post(portal("/signup"))
            .header("X-Requested-With", "set-portal")
            .json(&creds)
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
        let token = outbox_token(outbox, "verify-email");
        let r = http
            .post(portal("/verify-email"))
            .header("X-Requested-With", "set-portal")
            .json(&json!({ "token": token }))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = http
            .post(portal("/login"))
            .header("X-Requested-With", "set-portal")
            .json(&creds)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        let set = r.headers()["set-cookie"].to_str().unwrap();
        let session = set.split(';').next().unwrap().to_owned();
        let client: Value = http
            .post(portal("/clients"))
            .header("X-Requested-With", "set-portal")
            .header("Cookie", &session)
            .json(&json!({"name": "App"}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let client_id = client["client_id"].as_str().unwrap().to_owned();
        let client_secret = client["client_secret"].as_str().unwrap().to_owned();
        let registered: Value = http
            .post(format!("{base}/v1/client/register"))
            .basic_auth(&client_id, Some(&client_secret))
            .send()
            .unwrap()
            .json()
            .unwrap();
        Journey {
            base: base.to_owned(),
            client_token: registered["access_token"].as_str().unwrap().to_owned(),
            http,
            session,
            client_id,
            client_secret,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST /v1/users`: the answer's status and body (errors are returned, not panics).
    pub fn create_user(&self, http: &Client, metadata: Value) -> reqwest::Result<(u16, Value)> {
        let r = http
            .post(self.url("/v1/users"))
            .bearer_auth(&self.client_token)
            .json(&json!({ "metadata": metadata }))
            .send()?;
        let status = r.status().as_u16();
        Ok((status, r.json().unwrap_or(Value::Null)))
    }

    pub fn user_from(body: &Value) -> User {
        User {
            id: body["user"]["id"].as_str().unwrap().to_owned(),
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    pub fn post_event(
        &self,
        http: &Client,
        access: &str,
        data: Value,
    ) -> reqwest::Result<(u16, Value)> {
        let r = http
            .post(self.url("/v1/me/events"))
            .bearer_auth(access)
            .json(&json!({"type": "load", "data": data}))
            .send()?;
        let status = r.status().as_u16();
        Ok((status, r.json().unwrap_or(Value::Null)))
    }

    /// `GET /v1/me` with `access`: the status and the JSON body (null when none).
    pub fn me(&self, access: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url("/v1/me"))
            .bearer_auth(access)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(Value::Null))
    }

    pub fn refresh(&self, http: &Client, refresh: &str) -> reqwest::Result<(u16, Value)> {
        let r = http
            .post(self.url("/oauth/token"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
            .send()?;
        let status = r.status().as_u16();
        Ok((status, r.json().unwrap_or(Value::Null)))
    }
}
