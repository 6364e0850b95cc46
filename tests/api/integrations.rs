//! Integrations: registration, linking (app-to-app and the browser page), the
//! authorization-code grant with PKCE, unlinking, and the IFTTT service API.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rocket::http::{ContentType, Header, Method, Status};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{basic, bearer, read, Creds, Reply, TestApp};

const PASSWORD: &str = "correct horse battery";
const REDIRECT: &str = "https://ifttt.example/channels/set/authorize";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const SERVICE_KEY: &str = "ifttt-service-key-0123456789";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

struct World {
    app: TestApp,
    dev: String,
    client: Creds,
    integration: Creds,
    user_access: String,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let dev = app.verified_developer("dev@example.com", PASSWORD).await;
    let client = app.new_client(&dev, "App").await;
    let r = app
        .portal(
            Method::Post,
            &format!("/clients/{}/integrations", client.id),
            Some(json!({
                "name": "IFTTT",
                "redirect_uris": [REDIRECT, "http://localhost:9999/cb"],
                "scopes": ["profile:read", "events:read"],
                "ifttt_service_key": SERVICE_KEY,
            })),
            Some(&dev),
        )
        .await;
    assert_eq!(r.status, Status::Created, "{}", r.body);
    let integration = Creds {
        id: r.body["client_id"].as_str().unwrap().to_owned(),
        secret: r.body["client_secret"].as_str().unwrap().to_owned(),
    };
    let token = app.client_token(&client).await;
    let (_, user_access, _) = app.new_user(&token).await;
    World {
        app,
        dev,
        client,
        integration,
        user_access,
    }
}

impl World {
    async fn app_authorize(&self, body: Value) -> Reply {
        self.app
            .call(
                Method::Post,
                "/v1/me/authorize",
                bearer(&self.user_access),
                Some(body),
            )
            .await
    }

    /// App-to-app linking with PKCE; returns the code.
    async fn code(&self, scope: &str) -> String {
        let r = self
            .app_authorize(json!({
                "client_id": self.integration.id,
                "redirect_uri": REDIRECT,
                "scope": scope,
                "state": "xyz",
                "code_challenge": challenge(VERIFIER),
                "code_challenge_method": "S256",
            }))
            .await;
        assert_eq!(r.status, Status::Ok, "{}", r.body);
        let to = r.body["redirect_to"].as_str().unwrap();
        assert!(to.starts_with(&format!("{REDIRECT}?code=")), "{to}");
        assert!(to.ends_with("&state=xyz"), "{to}");
        query_param(to, "code").unwrap()
    }

    async fn exchange(&self, code: &str, verifier: &str) -> Reply {
        let form = format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={verifier}",
            urlencode(REDIRECT)
        );
        self.app
            .form(
                "/oauth/token",
                &form,
                Some(basic(&self.integration.id, &self.integration.secret)),
            )
            .await
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

#[rocket::async_test]
async fn app_to_app_link_exchange_refresh_and_the_token_shape() {
    let w = world().await;
    let code = w.code("profile:read events:read").await;
    let r = w.exchange(&code, VERIFIER).await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    assert_eq!(r.body["scope"], "profile:read events:read");
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["typ"], "integration");
    assert_eq!(claims["azp"], w.integration.id.as_str());
    assert_eq!(claims["cid"], w.client.id.as_str());

    // What the user granted, and nothing more: profile yes, events:write no.
    assert_eq!(
        w.app
            .call(Method::Get, "/v1/me", bearer(&access), None)
            .await
            .status,
        Status::Ok
    );
    let r = w
        .app
        .call(
            Method::Post,
            "/v1/me/events",
            bearer(&access),
            Some(json!({"type": "x", "data": 1})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (Status::Forbidden, "insufficient_scope".into())
    );
    // An integration token cannot mint link codes or delete the user.
    let r = w
        .app
        .call(Method::Post, "/v1/me/link-codes", bearer(&access), None)
        .await;
    assert_eq!(r.status, Status::Forbidden);
    let r = w
        .app
        .call(Method::Delete, "/v1/me", bearer(&access), None)
        .await;
    assert_eq!(r.status, Status::Forbidden);

    // Refresh needs the integration's credentials and keeps the granted scope.
    let anonymous = w
        .app
        .form(
            "/oauth/token",
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
            None,
        )
        .await;
    assert_eq!(anonymous.code(), "invalid_grant");
    let by_app = w
        .app
        .form(
            "/oauth/token",
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
            Some(basic(&w.client.id, &w.client.secret)),
        )
        .await;
    assert_eq!(by_app.code(), "invalid_grant");
    let r = w
        .app
        .form(
            "/oauth/token",
            &format!(
                "grant_type=refresh_token&refresh_token={refresh}&client_id={}&client_secret={}",
                w.integration.id, w.integration.secret
            ),
            None,
        )
        .await;
    assert_eq!(r.status, Status::Ok, "client_secret_post works: {}", r.body);
    assert_eq!(r.body["scope"], "profile:read events:read");

    // The user and the developer both see the link.
    let links = w
        .app
        .call(
            Method::Get,
            "/v1/me/integrations",
            bearer(&w.user_access),
            None,
        )
        .await;
    assert_eq!(
        links.body["integrations"][0]["id"],
        w.integration.id.as_str()
    );
    assert_eq!(
        links.body["integrations"][0]["scopes"],
        json!(["profile:read", "events:read"])
    );
    let list = w
        .app
        .portal(
            Method::Get,
            &format!("/clients/{}/integrations", w.client.id),
            None,
            Some(&w.dev),
        )
        .await;
    assert_eq!(list.body["integrations"][0]["linked_users"], 1);
}

#[rocket::async_test]
async fn a_reused_code_is_refused_and_kills_what_its_first_use_issued() {
    let w = world().await;
    let code = w.code("profile:read").await;
    let first = w.exchange(&code, VERIFIER).await;
    assert_eq!(first.status, Status::Ok);
    let access = first.body["access_token"].as_str().unwrap().to_owned();
    let refresh = first.body["refresh_token"].as_str().unwrap().to_owned();
    let second = w.exchange(&code, VERIFIER).await;
    assert_eq!(
        (second.status, second.code()),
        (Status::BadRequest, "invalid_grant".into())
    );
    assert_eq!(
        w.app
            .call(Method::Get, "/v1/me", bearer(&access), None)
            .await
            .status,
        Status::Unauthorized
    );
    let r = w
        .app
        .form(
            "/oauth/token",
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
            Some(basic(&w.integration.id, &w.integration.secret)),
        )
        .await;
    assert_eq!(r.code(), "invalid_grant");
}

#[rocket::async_test]
async fn bad_authorization_requests_are_refused() {
    let w = world().await;
    let base = json!({
        "client_id": w.integration.id,
        "redirect_uri": REDIRECT,
        "scope": "profile:read",
        "state": "s",
        "code_challenge": challenge(VERIFIER),
        "code_challenge_method": "S256",
    });
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, code) in [
        (
            with("redirect_uri", json!("https://evil.example/cb")),
            "invalid_request",
        ),
        (with("scope", json!("events:write")), "invalid_scope"),
        (with("scope", json!("users:create")), "invalid_scope"),
        (
            with("code_challenge_method", json!("plain")),
            "invalid_request",
        ),
        (with("client_id", json!("int_unknown")), "invalid_request"),
    ] {
        let r = w.app_authorize(body.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (Status::BadRequest, code.into()),
            "{body}"
        );
    }

    // An integration of another client (another developer's app) is unknown here.
    let other_dev = w
        .app
        .verified_developer("other@example.com", PASSWORD)
        .await;
    let other = w.app.new_client(&other_dev, "Other").await;
    let r = w
        .app
        .portal(
            Method::Post,
            &format!("/clients/{}/integrations", other.id),
            Some(json!({"name": "Theirs", "redirect_uris": [REDIRECT]})),
            Some(&other_dev),
        )
        .await;
    let theirs = r.body["client_id"].as_str().unwrap().to_owned();
    let r = w.app_authorize(with("client_id", json!(theirs))).await;
    assert_eq!(r.status, Status::BadRequest);

    // Wrong PKCE verifier, and a missing one.
    let code = w.code("profile:read").await;
    let r = w
        .exchange(&code, "wrong-verifier-wrong-verifier-wrong-verifier-x")
        .await;
    assert_eq!(r.code(), "invalid_grant");
    let code = w.code("profile:read").await;
    let form = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}",
        urlencode(REDIRECT)
    );
    let r = w
        .app
        .form(
            "/oauth/token",
            &form,
            Some(basic(&w.integration.id, &w.integration.secret)),
        )
        .await;
    assert_eq!(r.code(), "invalid_grant");
    // A code exchanged by another integration, or with the app's own credentials.
    let code = w.code("profile:read").await;
    let form = format!("grant_type=authorization_code&code={code}&code_verifier={VERIFIER}");
    let r = w
        .app
        .form(
            "/oauth/token",
            &form,
            Some(basic(&w.client.id, &w.client.secret)),
        )
        .await;
    assert_eq!(r.code(), "unauthorized_client");
    let r = w
        .app
        .portal(
            Method::Get,
            &format!("/clients/{}/integrations/{theirs}", other.id),
            None,
            Some(&other_dev),
        )
        .await;
    let their_secret = r.body["client_secret"].as_str().unwrap().to_owned();
    let r = w
        .app
        .form("/oauth/token", &form, Some(basic(&theirs, &their_secret)))
        .await;
    assert_eq!(r.code(), "invalid_grant");
    let r = w
        .app
        .form(
            "/oauth/token",
            &form,
            Some(basic(&w.integration.id, "is_wrong")),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (Status::Unauthorized, "invalid_client".into())
    );
}

/// The browser page: unknown clients and unregistered redirect URIs never redirect.
#[rocket::async_test]
async fn the_authorization_page_never_redirects_to_an_untrusted_uri() {
    let w = world().await;
    let get = |q: String| {
        let client = &w.app.client;
        async move { client.get(format!("/oauth/authorize?{q}")).dispatch().await }
    };
    let res = get(format!(
        "response_type=code&client_id=int_nobody&redirect_uri={}&state=s",
        urlencode(REDIRECT)
    ))
    .await;
    assert_eq!(res.status(), Status::BadRequest);
    assert!(res.headers().get_one("Location").is_none());
    let res = get(format!(
        "response_type=code&client_id={}&redirect_uri={}&state=s",
        w.integration.id,
        urlencode("https://evil.example/steal")
    ))
    .await;
    assert_eq!(res.status(), Status::BadRequest);
    assert!(res.headers().get_one("Location").is_none());
    // A registered URI gets RFC 6749 §4.1.2.1 errors, with state.
    let res = get(format!(
        "response_type=token&client_id={}&redirect_uri={}&state=s%20t",
        w.integration.id,
        urlencode(REDIRECT)
    ))
    .await;
    let to = res.headers().get_one("Location").unwrap().to_owned();
    assert!(
        to.starts_with(REDIRECT)
            && to.contains("error=unsupported_response_type")
            && to.contains("state=s%20t"),
        "{to}"
    );
    let res = get(format!(
        "response_type=code&client_id={}&redirect_uri={}&code_challenge={}&code_challenge_method=plain",
        w.integration.id,
        urlencode(REDIRECT),
        challenge(VERIFIER)
    ))
    .await;
    assert!(res
        .headers()
        .get_one("Location")
        .unwrap()
        .contains("error=invalid_request"));
    // A good request shows the integration's name and scopes, under a strict CSP.
    let res = get(format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=profile:read&state=s",
        w.integration.id,
        urlencode(REDIRECT)
    ))
    .await;
    assert_eq!(res.status(), Status::Ok);
    let csp = res
        .headers()
        .get_one("Content-Security-Policy")
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"));
    let html = res.into_string().await.unwrap();
    assert!(
        html.contains("IFTTT") && html.contains("See your profile"),
        "{html}"
    );
    assert!(
        !html.contains("activity events"),
        "only the requested scope is shown"
    );
}

async fn submit(app: &TestApp, fields: &[(&str, &str)]) -> (Status, Option<String>, String) {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
    let res = app
        .client
        .post("/oauth/authorize")
        .header(ContentType::Form)
        .body(body.join("&"))
        .dispatch()
        .await;
    let status = res.status();
    let location = res.headers().get_one("Location").map(str::to_owned);
    (
        status,
        location,
        res.into_string().await.unwrap_or_default(),
    )
}

#[rocket::async_test]
async fn link_codes_are_single_use_and_wrong_ones_are_refused() {
    let w = world().await;
    let r = w
        .app
        .call(
            Method::Post,
            "/v1/me/link-codes",
            bearer(&w.user_access),
            None,
        )
        .await;
    assert_eq!(r.status, Status::Created, "{}", r.body);
    assert_eq!(r.body["expires_in"], 600);
    let code = r.body["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 9, "short and easy to type: {code}");
    let id = w.integration.id.clone();
    let fields = |link: &'static str, decision: &'static str| -> Vec<(&'static str, String)> {
        vec![
            ("response_type", "code".into()),
            ("client_id", id.clone()),
            ("redirect_uri", REDIRECT.into()),
            ("scope", "profile:read".into()),
            ("state", "st8".into()),
            ("link_code", link.into()),
            ("decision", decision.into()),
        ]
    };
    let as_refs = |v: &Vec<(&'static str, String)>| -> Vec<(&'static str, String)> { v.clone() };
    let send = |v: Vec<(&'static str, String)>| {
        let app = &w.app;
        async move {
            let refs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
            submit(app, &refs).await
        }
    };
    let (status, location, html) = send(as_refs(&fields("ZZZZ-ZZZZ", "approve"))).await;
    assert_eq!(status, Status::BadRequest);
    assert!(location.is_none());
    assert!(html.contains("not right"), "{html}");
    let (status, _, _) = send(as_refs(&fields("nonsense", "approve"))).await;
    assert_eq!(status, Status::BadRequest);
    // Deny: back to the integration with access_denied and the state.
    let (status, location, _) = send(as_refs(&fields("ZZZZ-ZZZZ", "deny"))).await;
    assert_eq!(status, Status::SeeOther);
    let location = location.unwrap();
    assert!(
        location.contains("error=access_denied") && location.contains("state=st8"),
        "{location}"
    );

    let mut good = fields("", "approve");
    good[5].1 = code.to_lowercase();
    let (status, location, _) = send(good.clone()).await;
    assert_eq!(status, Status::SeeOther);
    let location = location.unwrap();
    assert!(
        location.starts_with(REDIRECT)
            && location.contains("code=ac_")
            && location.ends_with("state=st8"),
        "{location}"
    );
    let (status, location, _) = send(good).await;
    assert_eq!(status, Status::BadRequest, "a link code is single use");
    assert!(location.is_none());
}

#[rocket::async_test]
async fn expired_link_codes_are_refused() {
    let w = world().await;
    let r = w
        .app
        .call(
            Method::Post,
            "/v1/me/link-codes",
            bearer(&w.user_access),
            None,
        )
        .await;
    let code = r.body["code"].as_str().unwrap().to_owned();
    w.app
        .sql_execute("UPDATE link_codes SET expires_at = expires_at - 601")
        .await;
    let (status, location, _) = submit(
        &w.app,
        &[
            ("response_type", "code"),
            ("client_id", &w.integration.id),
            ("redirect_uri", REDIRECT),
            ("link_code", &code),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!(status, Status::BadRequest);
    assert!(location.is_none());
}

#[rocket::async_test]
async fn unlinking_kills_the_integration_tokens_but_not_the_users_own() {
    let w = world().await;
    let code = w.code("profile:read").await;
    let r = w.exchange(&code, VERIFIER).await;
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    let r = w
        .app
        .call(
            Method::Delete,
            &format!("/v1/me/integrations/{}", w.integration.id),
            bearer(&w.user_access),
            None,
        )
        .await;
    assert_eq!(r.status, Status::NoContent);
    assert_eq!(
        w.app
            .call(Method::Get, "/v1/me", bearer(&access), None)
            .await
            .status,
        Status::Unauthorized
    );
    assert_eq!(
        w.app
            .call(Method::Get, "/v1/me", bearer(&w.user_access), None)
            .await
            .status,
        Status::Ok
    );
    let links = w
        .app
        .call(
            Method::Get,
            "/v1/me/integrations",
            bearer(&w.user_access),
            None,
        )
        .await;
    assert_eq!(links.body["integrations"], json!([]));
    let again = w
        .app
        .call(
            Method::Delete,
            &format!("/v1/me/integrations/{}", w.integration.id),
            bearer(&w.user_access),
            None,
        )
        .await;
    assert_eq!(again.status, Status::NotFound);
}

#[rocket::async_test]
async fn deleting_an_integration_and_rotating_its_secret() {
    let w = world().await;
    let code = w.code("profile:read").await;
    let r = w.exchange(&code, VERIFIER).await;
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    let path = format!("/clients/{}/integrations/{}", w.client.id, w.integration.id);
    let r = w
        .app
        .portal(
            Method::Post,
            &format!("{path}/rotate-secret"),
            None,
            Some(&w.dev),
        )
        .await;
    let new_secret = r.body["client_secret"].as_str().unwrap().to_owned();
    let code = w.code("profile:read").await;
    let r = w.exchange(&code, VERIFIER).await;
    assert_eq!(r.code(), "invalid_client", "the old secret fails at once");
    let form = format!("grant_type=authorization_code&code={code}&code_verifier={VERIFIER}");
    let r = w
        .app
        .form(
            "/oauth/token",
            &form,
            Some(basic(&w.integration.id, &new_secret)),
        )
        .await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    let r = w
        .app
        .portal(
            Method::Patch,
            &path,
            Some(json!({"redirect_uris": ["http://evil.example/cb"]})),
            Some(&w.dev),
        )
        .await;
    assert_eq!(r.status, Status::BadRequest, "http only on localhost");
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("redirect_uris[0]"));
    let r = w
        .app
        .portal(Method::Delete, &path, None, Some(&w.dev))
        .await;
    assert_eq!(r.status, Status::NoContent);
    assert_eq!(
        w.app
            .call(Method::Get, "/v1/me", bearer(&access), None)
            .await
            .status,
        Status::Unauthorized
    );
}

/// Integrations are kept in memory once read (`db::cache`): every change made through the
/// portal reaches the authorization and token endpoints at once, and a kept integration is
/// still unknown to another app's users.
#[rocket::async_test]
async fn changes_to_an_integration_apply_at_once_after_it_was_read() {
    let w = world().await;
    // Both lookups (`/v1/me/authorize` and the exchange) have read the integration.
    let code = w.code("profile:read").await;
    assert_eq!(w.exchange(&code, VERIFIER).await.status, Status::Ok);

    let other_dev = w
        .app
        .verified_developer("other@example.com", PASSWORD)
        .await;
    let other = w.app.new_client(&other_dev, "Other").await;
    let other_token = w.app.client_token(&other).await;
    let (_, other_user, _) = w.app.new_user(&other_token).await;
    let request = json!({
        "client_id": w.integration.id,
        "redirect_uri": REDIRECT,
        "scope": "profile:read",
        "code_challenge": challenge(VERIFIER),
        "code_challenge_method": "S256",
    });
    let r = w
        .app
        .call(
            Method::Post,
            "/v1/me/authorize",
            bearer(&other_user),
            Some(request.clone()),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (Status::BadRequest, "invalid_request".into()),
        "another app's integration: {}",
        r.body
    );

    let path = format!("/clients/{}/integrations/{}", w.client.id, w.integration.id);
    let r = w
        .app
        .portal(
            Method::Patch,
            &path,
            Some(json!({"redirect_uris": ["http://localhost:9999/cb"]})),
            Some(&w.dev),
        )
        .await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    let r = w.app_authorize(request.clone()).await;
    assert_eq!(
        (r.status, r.code()),
        (Status::BadRequest, "invalid_request".into()),
        "the redirect URI taken off is refused at once: {}",
        r.body
    );

    // Deleting the app deletes its integrations: the kept one is gone too.
    let r = w
        .app
        .portal(
            Method::Delete,
            &format!("/clients/{}", w.client.id),
            None,
            Some(&w.dev),
        )
        .await;
    assert!(r.status.class().is_success(), "{}", r.body);
    let r = w
        .app
        .form(
            "/oauth/token",
            "grant_type=authorization_code&code=ac_whatever&code_verifier=x",
            Some(basic(&w.integration.id, &w.integration.secret)),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (Status::Unauthorized, "invalid_client".into()),
        "{}",
        r.body
    );
}

fn service_key(key: &str) -> Header<'static> {
    Header::new("IFTTT-Service-Key", key.to_owned())
}

#[rocket::async_test]
async fn ifttt_service_endpoints() {
    let w = world().await;
    let status = read(
        w.app
            .client
            .get("/ifttt/v1/status")
            .header(service_key(SERVICE_KEY))
            .dispatch()
            .await,
    )
    .await;
    assert_eq!(status.status, Status::Ok);
    for key in [Some("wrong-key-wrong-key-wrong"), None] {
        let mut req = w.app.client.get("/ifttt/v1/status");
        if let Some(k) = key {
            req = req.header(service_key(k));
        }
        let r = read(req.dispatch().await).await;
        assert_eq!(r.status, Status::Unauthorized);
        assert!(
            r.body["errors"][0]["message"].is_string(),
            "IFTTT's shape: {}",
            r.body
        );
    }
    let setup = read(
        w.app
            .client
            .post("/ifttt/v1/test/setup")
            .header(service_key(SERVICE_KEY))
            .dispatch()
            .await,
    )
    .await;
    assert_eq!(setup.status, Status::Ok, "{}", setup.body);
    let test_token = setup.body["data"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(setup.body["data"]["samples"]["triggers"]["new_event"].is_object());

    let info = w
        .app
        .call(
            Method::Get,
            "/ifttt/v1/user/info",
            bearer(&test_token),
            None,
        )
        .await;
    assert_eq!(
        info.body["data"]["name"], "IFTTT test user",
        "{}",
        info.body
    );
    let trigger = w
        .app
        .call(
            Method::Post,
            "/ifttt/v1/triggers/new_event",
            bearer(&test_token),
            Some(json!({"limit": 2, "triggerFields": {}})),
        )
        .await;
    let items = trigger.body["data"].as_array().unwrap();
    assert_eq!(items.len(), 2, "limit honoured: {}", trigger.body);
    assert_eq!(items[0]["type"], "sample_three", "newest first");
    assert!(items[0]["meta"]["id"].is_string() && items[0]["meta"]["timestamp"].is_number());
    let none = w
        .app
        .call(
            Method::Post,
            "/ifttt/v1/triggers/new_event",
            bearer(&test_token),
            Some(json!({"limit": 0})),
        )
        .await;
    assert_eq!(none.body["data"], json!([]));

    // A user token (here of another client) is refused, in IFTTT's shape.
    let other_dev = w
        .app
        .verified_developer("other@example.com", PASSWORD)
        .await;
    let other = w.app.new_client(&other_dev, "Other").await;
    let t = w.app.client_token(&other).await;
    let (_, foreign_user, _) = w.app.new_user(&t).await;
    for token in [&foreign_user, &w.user_access] {
        let r = w
            .app
            .call(Method::Get, "/ifttt/v1/user/info", bearer(token), None)
            .await;
        assert_eq!(r.status, Status::Unauthorized);
        assert!(r.body["errors"][0]["message"].is_string());
        let r = w
            .app
            .call(
                Method::Post,
                "/ifttt/v1/triggers/new_event",
                bearer(token),
                Some(json!({})),
            )
            .await;
        assert_eq!(r.status, Status::Unauthorized);
    }
    let r = w
        .app
        .call(Method::Get, "/ifttt/v1/nothing", bearer(&test_token), None)
        .await;
    assert_eq!(r.status, Status::NotFound);
    assert!(r.body["errors"][0]["message"].is_string());
}

/// A `client_id` holding U+0000 names no integration: the same 400 page on both engines
/// (PostgreSQL cannot even look such a value up), never a 500.
#[rocket::async_test]
async fn an_authorization_request_for_a_nul_client_id_is_a_400_page() {
    let w = world().await;
    let (status, location, body) = submit(
        &w.app,
        &[
            ("response_type", "code"),
            ("client_id", "int_\u{0}"),
            ("redirect_uri", REDIRECT),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!(status, Status::BadRequest, "{body}");
    assert_eq!(location, None, "never redirected");
    assert!(body.contains("This link can't be used"), "{body}");
}
