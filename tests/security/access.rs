//! Who can reach what: token types, scopes, clients and users kept apart.

use rocket::http::{Method, Status};
use serde_json::{json, Value};

use crate::helpers::{basic, bearer, TestApp};

const PASSWORD: &str = "correct horse battery";
const REDIRECT: &str = "https://partner.example/cb";

/// A developer's client with an integration and a user; the user linked to it.
struct Tenant {
    client_id: String,
    client_secret: String,
    client_token: String,
    user_id: String,
    user_access: String,
    user_refresh: String,
    integration_id: String,
    integration_secret: String,
    integration_access: String,
    integration_refresh: String,
}

async fn tenant(app: &TestApp, email: &str) -> Tenant {
    let dev = app.verified_developer(email, PASSWORD).await;
    let creds = app.new_client(&dev, "App").await;
    let client_token = app.client_token(&creds).await;
    let (user_id, user_access, user_refresh) = app.new_user(&client_token).await;
    let r = app
        .portal(
            Method::Post,
            &format!("/clients/{}/integrations", creds.id),
            Some(
                json!({"name": "Partner", "redirect_uris": [REDIRECT], "scopes": ["profile:read"]}),
            ),
            Some(&dev),
        )
        .await;
    let integration_id = r.body["client_id"].as_str().unwrap().to_owned();
    let integration_secret = r.body["client_secret"].as_str().unwrap().to_owned();
    let r = app
        .call(
            Method::Post,
            "/v1/me/authorize",
            bearer(&user_access),
            Some(json!({"client_id": integration_id, "redirect_uri": REDIRECT})),
        )
        .await;
    let to = r.body["redirect_to"].as_str().unwrap();
    let code = to.split("code=").nth(1).unwrap().split('&').next().unwrap();
    let r = app
        .form(
            "/oauth/token",
            &format!("grant_type=authorization_code&code={code}"),
            Some(basic(&integration_id, &integration_secret)),
        )
        .await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    Tenant {
        client_id: creds.id,
        client_secret: creds.secret,
        client_token,
        user_id,
        user_access,
        user_refresh,
        integration_id,
        integration_secret,
        integration_access: r.body["access_token"].as_str().unwrap().to_owned(),
        integration_refresh: r.body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

/// Every `/v1` user route, called with `token`: (status, error code).
async fn v1_answers(app: &TestApp, token: &str) -> Vec<(String, u16)> {
    let calls: [(Method, &str, Option<Value>); 9] = [
        (Method::Get, "/v1/me", None),
        (Method::Patch, "/v1/me", Some(json!({"metadata": {}}))),
        (
            Method::Post,
            "/v1/me/events",
            Some(json!({"type": "t", "data": 1})),
        ),
        (Method::Get, "/v1/me/events", None),
        (Method::Post, "/v1/me/link-codes", None),
        (
            Method::Post,
            "/v1/me/authorize",
            Some(json!({"client_id": "int_x", "redirect_uri": REDIRECT})),
        ),
        (Method::Get, "/v1/me/integrations", None),
        (Method::Post, "/v1/users", None),
        (Method::Delete, "/v1/me", None),
    ];
    let mut out = Vec::new();
    for (method, path, body) in calls {
        let r = app.call(method, path, bearer(token), body).await;
        out.push((format!("{method} {path}"), r.status.code));
    }
    out
}

#[rocket::async_test]
async fn tokens_of_one_typ_are_refused_where_another_is_needed() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "a@example.com").await;
    // A client token creates users and reaches nothing else.
    for (call, status) in v1_answers(&app, &t.client_token).await {
        let expected = if call == "POST /v1/users" { 201 } else { 403 };
        assert_eq!(status, expected, "client token: {call}");
    }
    // An integration token reads the profile it was granted, and nothing else: it cannot
    // write, link further, list or delete, or create users.
    for (call, status) in v1_answers(&app, &t.integration_access).await {
        let expected = if call == "GET /v1/me" { 200 } else { 403 };
        assert_eq!(status, expected, "integration token: {call}");
    }
    // A user token does everything but create users (DELETE last: it erases the user).
    for (call, status) in v1_answers(&app, &t.user_access).await {
        let expected = match call.as_str() {
            "POST /v1/users" => 403,
            "POST /v1/me/authorize" => 400,
            "POST /v1/me/events" | "POST /v1/me/link-codes" => 201,
            "DELETE /v1/me" => 204,
            _ => 200,
        };
        assert_eq!(status, expected, "user token: {call}");
    }
}

#[rocket::async_test]
async fn no_client_or_user_reaches_another() {
    let app = TestApp::spawn().await;
    let a = tenant(&app, "a@example.com").await;
    let b = tenant(&app, "b@example.com").await;
    app.call(
        Method::Post,
        "/v1/me/events",
        bearer(&a.user_access),
        Some(json!({"type": "private", "data": "a"})),
    )
    .await;
    let events = app
        .call(Method::Get, "/v1/me/events", bearer(&b.user_access), None)
        .await;
    assert_eq!(events.body["events"], json!([]));
    let me = app
        .call(Method::Get, "/v1/me", bearer(&b.user_access), None)
        .await;
    assert_eq!(me.body["id"], b.user_id.as_str());
    // B cannot unlink A's link, nor link A's integration.
    let r = app
        .call(
            Method::Delete,
            &format!("/v1/me/integrations/{}", a.integration_id),
            bearer(&b.user_access),
            None,
        )
        .await;
    assert_eq!(r.status, Status::NotFound);
    let r = app
        .call(
            Method::Post,
            "/v1/me/authorize",
            bearer(&b.user_access),
            Some(json!({"client_id": a.integration_id, "redirect_uri": REDIRECT})),
        )
        .await;
    assert_eq!(r.status, Status::BadRequest);
    // B's credentials see none of A's tokens.
    for token in [
        &a.user_access,
        &a.user_refresh,
        &a.client_token,
        &a.integration_access,
    ] {
        let r = app
            .form(
                "/oauth/introspect",
                &format!("token={token}"),
                Some(basic(&b.client_id, &b.client_secret)),
            )
            .await;
        assert_eq!(r.body, json!({"active": false}));
        let r = app
            .form(
                "/oauth/introspect",
                &format!("token={token}"),
                Some(basic(&b.integration_id, &b.integration_secret)),
            )
            .await;
        assert_eq!(r.body, json!({"active": false}));
    }
    // B's credentials cannot revoke A's tokens or rotate A's refresh tokens.
    app.form(
        "/oauth/revoke",
        &format!("token={}", a.user_refresh),
        Some(basic(&b.client_id, &b.client_secret)),
    )
    .await;
    let r = app
        .form(
            "/oauth/token",
            &format!(
                "grant_type=refresh_token&refresh_token={}",
                a.integration_refresh
            ),
            Some(basic(&b.integration_id, &b.integration_secret)),
        )
        .await;
    assert_eq!(r.code(), "invalid_grant");
    let r = app
        .form(
            "/oauth/token",
            &format!("grant_type=refresh_token&refresh_token={}", a.user_refresh),
            None,
        )
        .await;
    assert_eq!(
        r.status,
        Status::Ok,
        "A's refresh token survived B's attempts"
    );
    // A's client token cannot create users for B's client: the user lands in A's client.
    let r = app
        .call(Method::Post, "/v1/users", bearer(&a.client_token), None)
        .await;
    let token = r.body["access_token"].as_str().unwrap().to_owned();
    let me = app.call(Method::Get, "/v1/me", bearer(&token), None).await;
    assert_eq!(me.body["client_id"], a.client_id.as_str());
}

#[rocket::async_test]
async fn refresh_and_linking_never_widen_a_scope() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "a@example.com").await;
    // Refresh ignores a wider `scope`.
    let r = app
        .form(
            "/oauth/token",
            &format!(
                "grant_type=refresh_token&refresh_token={}&scope=users:create",
                t.user_refresh
            ),
            None,
        )
        .await;
    assert_eq!(r.status, Status::Ok);
    assert!(!r.body["scope"].as_str().unwrap().contains("users:create"));
    let r = app
        .form(
            "/oauth/token",
            &format!(
                "grant_type=refresh_token&refresh_token={}&scope=profile:read%20events:write",
                t.integration_refresh
            ),
            Some(basic(&t.integration_id, &t.integration_secret)),
        )
        .await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    assert_eq!(
        r.body["scope"], "profile:read",
        "the integration keeps what was granted"
    );
    // Linking cannot ask for more than the integration registered.
    let r = app
        .call(
            Method::Post,
            "/v1/me/authorize",
            bearer(&t.user_access),
            Some(json!({"client_id": t.integration_id, "redirect_uri": REDIRECT, "scope": "profile:read events:write"})),
        )
        .await;
    assert_eq!(r.code(), "invalid_scope");
    // A client token never widens: client_credentials with a user scope is refused.
    let r = app
        .form(
            "/oauth/token",
            "grant_type=client_credentials&scope=profile:read",
            Some(basic(&t.client_id, &t.client_secret)),
        )
        .await;
    assert_eq!(r.code(), "invalid_scope");
}

#[rocket::async_test]
async fn reused_refresh_tokens_and_codes_revoke_what_they_issued() {
    let app = TestApp::spawn().await;
    let t = tenant(&app, "a@example.com").await;
    let first = app
        .form(
            "/oauth/token",
            &format!("grant_type=refresh_token&refresh_token={}", t.user_refresh),
            None,
        )
        .await;
    let newer = first.body["access_token"].as_str().unwrap().to_owned();
    let replay = app
        .form(
            "/oauth/token",
            &format!("grant_type=refresh_token&refresh_token={}", t.user_refresh),
            None,
        )
        .await;
    assert_eq!(replay.code(), "invalid_grant");
    assert_eq!(
        app.call(Method::Get, "/v1/me", bearer(&newer), None)
            .await
            .status,
        Status::Unauthorized
    );

    let r = app
        .call(
            Method::Post,
            "/v1/me/authorize",
            bearer(
                &app.client_token(&crate::helpers::Creds {
                    id: t.client_id.clone(),
                    secret: t.client_secret.clone(),
                })
                .await,
            ),
            Some(json!({"client_id": t.integration_id, "redirect_uri": REDIRECT})),
        )
        .await;
    assert_eq!(r.status, Status::Forbidden, "a client token cannot link");
}

#[rocket::async_test]
async fn brute_force_is_rate_limited() {
    let app = TestApp::spawn_with(|c| {
        c.security.login_rate = set_server::config::Rate::parse("5/min").unwrap();
    })
    .await;
    app.post(
        "/signup",
        json!({"email": "a@example.com", "password": PASSWORD}),
    )
    .await;
    let mut last = 0;
    for i in 0..8 {
        let r = app
            .post(
                "/login",
                json!({"email": "a@example.com", "password": format!("guess number {i}")}),
            )
            .await;
        last = r.status.code;
    }
    assert_eq!(last, 429);
    // Link codes: wrong guesses on the authorization page are limited per address too
    // (a fresh server: this address is blocked from signing in on the first one).
    let app = TestApp::spawn_with(|c| {
        c.security.login_rate = set_server::config::Rate::parse("5/min").unwrap();
    })
    .await;
    let t = tenant(&app, "b@example.com").await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let res = app
            .client
            .post("/oauth/authorize")
            .header(rocket::http::ContentType::Form)
            .body(format!(
                "response_type=code&client_id={}&redirect_uri={}&link_code=AAAA-AAAA&decision=approve",
                t.integration_id,
                "https%3A%2F%2Fpartner.example%2Fcb"
            ))
            .dispatch()
            .await;
        statuses.push(res.status().code);
    }
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
}
