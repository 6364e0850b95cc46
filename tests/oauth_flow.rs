//! A real OAuth 2.0 client library (the `oauth2` crate) links an integration against the
//! spawned binary: authorization code + PKCE through the browser page and app-to-app,
//! then refresh, then revoke.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/process.rs"]
mod process;

use std::time::{Duration, Instant};

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    RedirectUrl, RevocationUrl, Scope, StandardRevocableToken, TokenResponse, TokenUrl,
};
use serde_json::{json, Value};

use process::Server;

const PASSWORD: &str = "correct horse battery";
const REDIRECT: &str = "http://localhost:9999/callback";

struct Fixture {
    server: Base,
    http: oauth2::reqwest::Client,
    integration_id: String,
    integration_secret: String,
    user_token: String,
}

/// The spawned server's address (the process itself is owned outside the async part: its
/// drop waits for the exit).
struct Base(u16);

impl Base {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.0)
    }
}

fn cookie_of(res: &oauth2::reqwest::Response) -> String {
    let set = res.headers().get("set-cookie").unwrap().to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// Reads the newest verification link's token from the outbox.
fn verification_token(dir: &std::path::Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let files: Vec<_> = std::fs::read_dir(dir.join("data/outbox"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        if let Some(path) = files
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == "eml"))
        {
            let raw = std::fs::read(path).unwrap();
            let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
            let text = msg.body_text(0).unwrap().into_owned();
            let start = text.find("verify-email?token=").unwrap() + "verify-email?token=".len();
            return text[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
        }
        assert!(Instant::now() < deadline, "no verification email");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn fixture(port: u16, dir: &std::path::Path) -> Fixture {
    let server = Base(port);
    let http = oauth2::reqwest::ClientBuilder::new()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let portal = |path: &str| server.url(&format!("/api/portal{path}"));
    let post = |url: String, body: Value, cookie: Option<&str>| {
        let mut req = http
            .post(url)
            .header("X-Requested-With", "set-portal")
            .json(&body);
        if let Some(c) = cookie {
            req = req.header("Cookie", c.to_owned());
        }
        req.send()
    };
    let creds = json!({"email": "dev@example.com", "password": PASSWORD});
    assert_eq!(
        post(portal("/signup"), creds.clone(), None)
            .await
            .unwrap()
            .status(),
        201
    );
    let token = verification_token(dir);
    assert_eq!(
        post(portal("/verify-email"), json!({ "token": token }), None)
            .await
            .unwrap()
            .status(),
        200
    );
    let login = post(portal("/login"), creds, None).await.unwrap();
    let cookie = cookie_of(&login);
    let client: Value = post(portal("/clients"), json!({"name": "App"}), Some(&cookie))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let integration: Value = post(
        portal(&format!("/clients/{client_id}/integrations")),
        json!({"name": "Smart Home", "redirect_uris": [REDIRECT], "scopes": ["profile:read", "events:read", "events:write"]}),
        Some(&cookie),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let registered: Value = http
        .post(server.url("/v1/client/register"))
        .basic_auth(&client_id, client["client_secret"].as_str())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user: Value = http
        .post(server.url("/v1/users"))
        .bearer_auth(registered["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Fixture {
        integration_id: integration["client_id"].as_str().unwrap().to_owned(),
        integration_secret: integration["client_secret"].as_str().unwrap().to_owned(),
        user_token: user["access_token"].as_str().unwrap().to_owned(),
        server,
        http,
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The hidden inputs of the consent form, as a browser would submit them.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .map(|part| {
            let name = part
                .split("name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let value = part
                .split("value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            (name.to_owned(), unescape(value))
        })
        .collect()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = oauth2::url::Url::parse(url).ok()?;
    parsed
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn me_status(f: &Fixture, token: &str) -> u16 {
    f.http
        .get(f.server.url("/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn browser_and_app_to_app_linking_with_a_real_oauth2_client() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let runtime = rocket::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(journey(server.port, dir.path()));
}

async fn journey(port: u16, dir: &std::path::Path) {
    let f = fixture(port, dir).await;
    let oauth = BasicClient::new(ClientId::new(f.integration_id.clone()))
        .set_client_secret(ClientSecret::new(f.integration_secret.clone()))
        .set_auth_uri(AuthUrl::new(f.server.url("/oauth/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(f.server.url("/oauth/token")).unwrap())
        .set_revocation_url(RevocationUrl::new(f.server.url("/oauth/revoke")).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());

    // 1. The browser page: the person types the link code their app shows.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = oauth
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("profile:read".into()))
        .add_scope(Scope::new("events:read".into()))
        .set_pkce_challenge(challenge)
        .url();
    let page = f.http.get(url.as_str()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Smart Home"));
    let code: Value = f
        .http
        .post(f.server.url("/v1/me/link-codes"))
        .bearer_auth(&f.user_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut form = hidden_fields(&html);
    form.push((
        "link_code".into(),
        code["code"].as_str().unwrap().to_owned(),
    ));
    form.push(("decision".into(), "approve".into()));
    let approved = f
        .http
        .post(f.server.url("/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 303);
    let location = approved.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    let code = query_param(&location, "code").unwrap();
    let tokens = oauth
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&f.http)
        .await
        .unwrap();
    let scopes: Vec<String> = tokens
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, vec!["profile:read", "events:read"]);
    assert_eq!(me_status(&f, tokens.access_token().secret()).await, 200);

    // 2. Refresh, then revoke: the revoked family's tokens stop at once.
    let refreshed = oauth
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .request_async(&f.http)
        .await
        .unwrap();
    assert_eq!(me_status(&f, refreshed.access_token().secret()).await, 200);
    let old = oauth
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .request_async(&f.http)
        .await;
    assert!(old.is_err(), "the first refresh token is spent");
    // Its reuse revoked the family: the newer token and its access token die too.
    let newer = oauth
        .exchange_refresh_token(refreshed.refresh_token().unwrap())
        .request_async(&f.http)
        .await;
    assert!(newer.is_err());
    assert_eq!(me_status(&f, refreshed.access_token().secret()).await, 401);

    // 3. App-to-app, authenticating with client_secret_post this time.
    let oauth = oauth.set_auth_type(AuthType::RequestBody);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let answer: Value = f
        .http
        .post(f.server.url("/v1/me/authorize"))
        .bearer_auth(&f.user_token)
        .json(&json!({
            "client_id": f.integration_id,
            "redirect_uri": REDIRECT,
            "scope": "events:write",
            "state": "app-state",
            "code_challenge": challenge.as_str(),
            "code_challenge_method": "S256",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let to = answer["redirect_to"].as_str().unwrap();
    assert_eq!(query_param(to, "state").as_deref(), Some("app-state"));
    let tokens = oauth
        .exchange_code(AuthorizationCode::new(query_param(to, "code").unwrap()))
        .set_pkce_verifier(verifier)
        .request_async(&f.http)
        .await
        .unwrap();
    let events = f
        .http
        .post(f.server.url("/v1/me/events"))
        .bearer_auth(tokens.access_token().secret())
        .json(&json!({"type": "lights_on", "data": {"room": "hall"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 201);
    assert_eq!(
        me_status(&f, tokens.access_token().secret()).await,
        403,
        "only events:write was granted"
    );

    let refresh = tokens.refresh_token().unwrap().clone();
    // The library refuses a revocation endpoint without TLS (RFC 7009 §2 asks for it), so
    // over this test's plain loopback HTTP the RFC 7009 request is sent by hand.
    assert!(oauth
        .revoke_token(StandardRevocableToken::RefreshToken(refresh.clone()))
        .is_err());
    let revoked = f
        .http
        .post(f.server.url("/oauth/revoke"))
        .basic_auth(&f.integration_id, Some(&f.integration_secret))
        .form(&[
            ("token", refresh.secret().as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let after = oauth
        .exchange_refresh_token(&refresh)
        .request_async(&f.http)
        .await;
    assert!(after.is_err(), "a revoked refresh token is refused");
    let write = f
        .http
        .post(f.server.url("/v1/me/events"))
        .bearer_auth(tokens.access_token().secret())
        .json(&json!({"type": "x", "data": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        write.status(),
        401,
        "revoking the refresh token ended its access token too"
    );
    assert_eq!(
        me_status(&f, &f.user_token).await,
        200,
        "the user's own token is unaffected"
    );
}
