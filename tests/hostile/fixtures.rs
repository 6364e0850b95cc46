//! The fixtures every case may use: a verified developer's session, a client, a user,
//! an integration (and a second one) with their credentials and tokens, a link code and
//! an authorization code. Rebuilt, from a new sign-up on, whenever a case destroys them;
//! each set is made with other odd-but-accepted names, metadata and redirect URIs, so
//! later cases meet what earlier ones could store.

use std::time::{Duration, Instant};

use rocket::http::{Header, Method, Status};
use serde_json::{json, Value};

use crate::case::encode;
use crate::text::{Fx, Resolve};
use crate::world::{Answer, World};

pub const REDIRECT: &str = "https://ifttt.example/channels/set/authorize";
const PASSWORD: &str = "correct horse battery staple";
/// The PKCE verifier of every authorization code the fixtures make.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// Its S256 challenge.
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The credentials every case may use.
#[derive(Clone, Debug, Default)]
pub struct Fixtures {
    email: String,
    pub session: String,
    client_id: String,
    client_secret: String,
    client_token: String,
    user_id: String,
    user_token: String,
    refresh_token: String,
    integration_id: String,
    integration_secret: String,
    integration_token: String,
    integration_refresh: String,
    service_key: String,
    other_service_key: String,
    link_code: String,
    auth_code: String,
    /// The integration's first redirect URI: a case may have registered others.
    redirect_uri: String,
}

impl Resolve for World {
    fn fx(&self, f: Fx) -> String {
        let x = &self.fx;
        match f {
            Fx::Email => x.email.clone(),
            Fx::Password => PASSWORD.to_owned(),
            Fx::Session => x.session.clone(),
            Fx::ClientId => x.client_id.clone(),
            Fx::ClientSecret => x.client_secret.clone(),
            Fx::ClientToken => x.client_token.clone(),
            Fx::UserId => x.user_id.clone(),
            Fx::UserToken => x.user_token.clone(),
            Fx::RefreshToken => x.refresh_token.clone(),
            Fx::IntegrationId => x.integration_id.clone(),
            Fx::IntegrationSecret => x.integration_secret.clone(),
            Fx::IntegrationToken => x.integration_token.clone(),
            Fx::IntegrationRefresh => x.integration_refresh.clone(),
            Fx::ServiceKey => x.service_key.clone(),
            Fx::OtherServiceKey => x.other_service_key.clone(),
            Fx::RedirectUri => x.redirect_uri.clone(),
            Fx::LinkCode => x.link_code.clone(),
            Fx::AuthCode => x.auth_code.clone(),
            Fx::CodeVerifier => VERIFIER.to_owned(),
        }
    }
}

fn basic(user: &str, password: &str) -> Header<'static> {
    use base64::Engine;
    let raw = format!("{user}:{password}");
    Header::new(
        "Authorization",
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ),
    )
}

fn bearer(token: &str) -> Header<'static> {
    Header::new("Authorization", format!("Bearer {token}"))
}

impl World {
    fn expect(&self, what: &str, a: Answer, status: Status) -> Value {
        assert_eq!(a.status, status, "fixture step {what}: {}", a.text());
        a.json()
    }

    /// Makes a new set of fixtures, from a new developer's sign-up on.
    pub fn rebuild(&mut self) {
        self.rebuilds += 1;
        self.fx = Fixtures::default();
        let n = self.rebuilds;
        let email = format!("fixture{n}@example.com");
        let creds = json!({ "email": email, "password": PASSWORD }).to_string();
        let r = self.call(
            Method::Post,
            "/api/portal/signup",
            vec![],
            Some(creds.clone()),
        );
        self.expect("signup", r, Status::Created);
        let token = self.verification_token(&email);
        let r = self.call(
            Method::Post,
            "/api/portal/verify-email",
            vec![],
            Some(json!({ "token": token }).to_string()),
        );
        self.expect("verify", r, Status::Ok);
        let r = self.call(Method::Post, "/api/portal/login", vec![], Some(creds));
        let session = r.session.clone().expect("login sets the session cookie");
        self.expect("login", r, Status::Ok);
        self.fx.session = session;
        self.fx.email = email;

        let c = self.first_accepted(
            "new client",
            "/api/portal/clients",
            vec![],
            [
                json!({ "name": pick(NAMES, n) }),
                json!({"name": "Hostile"}),
            ],
        );
        self.fx.client_id = str_of(&c["client_id"]);
        self.fx.client_secret = str_of(&c["client_secret"]);
        let r = self.call(
            Method::Post,
            "/v1/client/register",
            vec![basic(&self.fx.client_id, &self.fx.client_secret)],
            None,
        );
        self.fx.client_token = str_of(&self.expect("register", r, Status::Ok)["access_token"]);
        let u = self.first_accepted(
            "new user",
            "/v1/users",
            vec![bearer(&self.fx.client_token)],
            [
                json!({ "metadata": metadata(n) }),
                json!({"metadata": {"plan": "free"}}),
            ],
        );
        self.fx.user_id = str_of(&u["user"]["id"]);
        self.fx.user_token = str_of(&u["access_token"]);
        self.fx.refresh_token = str_of(&u["refresh_token"]);

        self.fx.service_key = format!("hostile-service-key-{n}-0123456789");
        // The first redirect URI is an odd one when the server takes it: the pages and
        // redirects made from stored values meet it in later cases.
        let odd = pick(ODD_URIS, n);
        let scopes = ["profile:read", "events:read", "events:write"];
        let i = self.first_accepted(
            "new integration",
            &format!("/api/portal/clients/{}/integrations", self.fx.client_id),
            vec![],
            [
                json!({
                    "name": pick(NAMES, n + 1),
                    "redirect_uris": [odd, REDIRECT],
                    "scopes": scopes,
                    "ifttt_service_key": self.fx.service_key,
                }),
                json!({
                    "name": "IFTTT",
                    "redirect_uris": [REDIRECT],
                    "scopes": scopes,
                    "ifttt_service_key": self.fx.service_key,
                }),
            ],
        );
        self.fx.redirect_uri = i["redirect_uris"][0]
            .as_str()
            .unwrap_or(REDIRECT)
            .to_owned();
        // A second integration, whose service key the first must not take.
        self.fx.other_service_key = format!("hostile-other-key-{n}-0123456789");
        let r = self.call(
            Method::Post,
            &format!("/api/portal/clients/{}/integrations", self.fx.client_id),
            vec![],
            Some(
                json!({
                    "name": "Other",
                    "redirect_uris": [REDIRECT],
                    "ifttt_service_key": self.fx.other_service_key,
                })
                .to_string(),
            ),
        );
        self.expect("second integration", r, Status::Created);
        self.fx.integration_id = str_of(&i["client_id"]);
        self.fx.integration_secret = str_of(&i["client_secret"]);
        let r = self.call(
            Method::Post,
            "/v1/me/authorize",
            vec![bearer(&self.fx.user_token)],
            Some(
                json!({
                    "client_id": self.fx.integration_id,
                    "redirect_uri": REDIRECT,
                    "scope": "profile:read events:read events:write",
                    "state": "s",
                })
                .to_string(),
            ),
        );
        let to = str_of(&self.expect("authorize", r, Status::Ok)["redirect_to"]);
        let code = code_in(&to);
        let form = format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}",
            encode(REDIRECT)
        );
        let r = self.call(
            Method::Post,
            "/oauth/token",
            vec![
                basic(&self.fx.integration_id, &self.fx.integration_secret),
                Header::new("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some(form),
        );
        let t = self.expect("code exchange", r, Status::Ok);
        self.fx.integration_token = str_of(&t["access_token"]);
        self.fx.integration_refresh = str_of(&t["refresh_token"]);
        assert!(self.new_codes().is_some(), "fixture step: new codes");
    }

    /// POSTs the bodies in turn until one is answered 201; its answer.
    fn first_accepted(
        &self,
        what: &str,
        uri: &str,
        headers: Vec<Header<'static>>,
        bodies: [Value; 2],
    ) -> Value {
        let [odd, plain] = bodies;
        let r = self.call(Method::Post, uri, headers.clone(), Some(odd.to_string()));
        if r.status == Status::Created {
            return r.json();
        }
        let r = self.call(Method::Post, uri, headers, Some(plain.to_string()));
        self.expect(what, r, Status::Created)
    }

    /// The token of the verification link mailed to `email`.
    fn verification_token(&self, email: &str) -> String {
        let outbox = self.dir.path().join("outbox");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let files: Vec<_> = std::fs::read_dir(&outbox)
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            for path in files {
                let Ok(raw) = std::fs::read(&path) else {
                    continue;
                };
                if !String::from_utf8_lossy(&raw).contains(email) {
                    continue;
                }
                let Some(m) = mail_parser::MessageParser::default().parse(&raw) else {
                    continue;
                };
                let text = m.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
                let marker = "/verify-email?token=";
                if let Some(at) = text.find(marker) {
                    return text[at + marker.len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no verification email for {email}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether every fixture credential still works (a case may have logged out, deleted
    /// the account, rotated a secret, used a refresh token or revoked a token).
    pub fn fixtures_live(&self) -> bool {
        let me = self.call(Method::Get, "/api/portal/me", vec![], None);
        if me.status != Status::Ok {
            return false;
        }
        let active = |creds: Header<'static>, token: &str| {
            let r = self.call(
                Method::Post,
                "/oauth/introspect",
                vec![
                    creds,
                    Header::new("Content-Type", "application/x-www-form-urlencoded"),
                ],
                Some(format!("token={}", encode(token))),
            );
            r.status == Status::Ok && r.json()["active"] == true
        };
        let x = &self.fx;
        let client = || basic(&x.client_id, &x.client_secret);
        let integration = || basic(&x.integration_id, &x.integration_secret);
        let ifttt = self.call(
            Method::Get,
            "/ifttt/v1/status",
            vec![Header::new("IFTTT-Service-Key", x.service_key.clone())],
            None,
        );
        active(client(), &x.client_token)
            && active(client(), &x.user_token)
            && active(client(), &x.refresh_token)
            && active(integration(), &x.integration_token)
            && active(integration(), &x.integration_refresh)
            && ifttt.status == Status::Ok
    }

    /// Rebuilds the fixtures if a case broke them, and makes a new link code and
    /// authorization code (single use, so a case may have used them). A case that edited
    /// the integration (its scopes, its redirect URIs) may leave no code to be had: the
    /// edit stays, for the next cases to meet.
    pub fn restore(&mut self) {
        if !self.fixtures_live() {
            self.rebuild();
            return;
        }
        let r = self.call(
            Method::Get,
            &format!(
                "/api/portal/clients/{}/integrations/{}",
                self.fx.client_id, self.fx.integration_id
            ),
            vec![],
            None,
        );
        if let Some(uri) = r.json()["redirect_uris"][0].as_str() {
            self.fx.redirect_uri = uri.to_owned();
        }
        if self.new_codes().is_none() {
            self.fx.link_code.clear();
            self.fx.auth_code.clear();
        }
    }

    fn new_codes(&mut self) -> Option<()> {
        let r = self.call(
            Method::Post,
            "/v1/me/link-codes",
            vec![bearer(&self.fx.user_token)],
            None,
        );
        if r.status != Status::Created {
            return None;
        }
        self.fx.link_code = str_of(&r.json()["code"]);
        let r = self.call(
            Method::Post,
            "/v1/me/authorize",
            vec![bearer(&self.fx.user_token)],
            Some(
                json!({
                    "client_id": self.fx.integration_id,
                    "redirect_uri": self.fx.redirect_uri,
                    "scope": "profile:read",
                    "state": "s",
                    "code_challenge": CHALLENGE,
                    "code_challenge_method": "S256",
                })
                .to_string(),
            ),
        );
        if r.status != Status::Ok {
            return None;
        }
        self.fx.auth_code = code_in(&str_of(&r.json()["redirect_to"]));
        Some(())
    }
}

/// The `code` parameter of a redirect.
fn code_in(redirect: &str) -> String {
    redirect
        .split_once("code=")
        .and_then(|(_, rest)| rest.split('&').next())
        .expect("a code in the redirect")
        .to_owned()
}

/// Names for the fixtures' client and integration, one per rebuild in turn.
const NAMES: &[&str] = &[
    "IFTTT",
    "<b>Tom & \"Jerry\"</b>'",
    "\u{202E}evil.exe",
    "😀😀😀 𝕏",
    "e\u{301}\u{301}",
    "\u{FEFF}zero\u{200B}width",
    "</title><script>alert(1)</script>",
];

/// Redirect URIs the fixture integration registers first, one per rebuild in turn.
const ODD_URIS: &[&str] = &[
    "https://ifttt.example/cb/\u{fc}",
    "https://ifttt.example/a|b",
    "https://ifttt.example/cb?x=1&code=2",
    "https://ifttt.example/%zz",
    "https://ifttt.example:65535/cb;p?q=\"",
    "http://[::1]:1/cb",
    "https://ifttt.example/cb?a={b}",
];

/// The fixture user's metadata, one kind per rebuild in turn.
fn metadata(n: u32) -> Value {
    let deep = (0..100).fold(json!(1), |v, _| json!([v]));
    match n % 5 {
        0 => json!({"plan": "free"}),
        1 => json!({"name": "\u{0}\u{202E}😀", "a\u{0}b": null}),
        2 => json!({ "deep": deep }),
        3 => json!({"big": "x".repeat(4000)}),
        _ => json!({"n": 1e300, "m": -9_223_372_036_854_775_808_i64, "u": u64::MAX}),
    }
}

fn pick(items: &[&'static str], n: u32) -> &'static str {
    items[n as usize % items.len()]
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}
