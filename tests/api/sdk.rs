//! The SDK's journey and the promises around it: siloing, revocation, refresh rotation.

use std::sync::atomic::{AtomicBool, Ordering};

use rocket::http::{Header, Method, Status};
use serde_json::json;

use crate::helpers::{basic, bearer, TestApp};

const PASSWORD: &str = "correct horse battery";

fn basic_token(token: &str) -> Header<'static> {
    basic(token, "")
}

#[rocket::async_test]
async fn the_whole_sdk_journey() {
    let app = TestApp::spawn().await;
    let session = app.verified_developer("dev@example.com", PASSWORD).await;
    let creds = app.new_client(&session, "My App").await;
    assert!(creds.id.len() >= 22 + 3, "128-bit id: {}", creds.id);
    assert!(creds.secret.len() >= 43 + 3, "256-bit secret");

    let r = app.register(&creds.id, &creds.secret).await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["scope"], "users:create");
    assert_eq!(r.body["expires_in"], 900);
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    let client_token = r.body["access_token"].as_str().unwrap().to_owned();

    let r = app
        .call(
            Method::Post,
            "/v1/users",
            basic_token(&client_token),
            Some(json!({"metadata": {"name": "Ada"}})),
        )
        .await;
    assert_eq!(r.status, Status::Created, "{}", r.body);
    assert_eq!(r.body["user"]["metadata"]["name"], "Ada");
    assert_eq!(r.body["token_type"], "Bearer");
    assert!(r.body["scope"].as_str().unwrap().contains("events:write"));
    let user_id = r.body["user"]["id"].as_str().unwrap().to_owned();
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();

    // Both ways of presenting the token work.
    for auth in [basic_token(&access), bearer(&access)] {
        let me = app.call(Method::Get, "/v1/me", auth, None).await;
        assert_eq!(me.status, Status::Ok, "{}", me.body);
        assert_eq!(me.body["id"], user_id.as_str());
        assert_eq!(me.body["client_id"], creds.id.as_str());
    }
    let r = app
        .call(
            Method::Patch,
            "/v1/me",
            bearer(&access),
            Some(json!({"metadata": {"name": "Grace"}})),
        )
        .await;
    assert_eq!(r.body["metadata"], json!({"name": "Grace"}));
    // `GET /v1/me` was answered above (and cached, on SQLite): it shows the change at once.
    let me = app.call(Method::Get, "/v1/me", bearer(&access), None).await;
    assert_eq!(me.body["metadata"], json!({"name": "Grace"}));

    for i in 0..3 {
        let r = app
            .call(
                Method::Post,
                "/v1/me/events",
                bearer(&access),
                Some(
                    json!({"type": "tap", "data": {"n": i}, "occurred_at": "2026-12-01T10:00:00Z"}),
                ),
            )
            .await;
        assert_eq!(r.status, Status::Created, "{}", r.body);
        assert_eq!(r.body["occurred_at"], "2026-12-01T10:00:00Z");
    }
    let page = app
        .call(Method::Get, "/v1/me/events?limit=2", bearer(&access), None)
        .await;
    assert_eq!(page.body["events"].as_array().unwrap().len(), 2);
    assert_eq!(page.body["events"][0]["data"]["n"], 0);
    let next = page.body["next"].as_str().unwrap().to_owned();
    let rest = app
        .call(
            Method::Get,
            &format!("/v1/me/events?after={next}&limit=2"),
            bearer(&access),
            None,
        )
        .await;
    assert_eq!(rest.body["events"].as_array().unwrap().len(), 1);
    assert_eq!(rest.body["events"][0]["data"]["n"], 2);
    assert!(rest.body["next"].is_null());

    let r = app
        .form(
            "/oauth/token",
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
            None,
        )
        .await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    let access2 = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh2 = r.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, refresh);
    assert_eq!(
        app.call(Method::Get, "/v1/me", bearer(&access2), None)
            .await
            .status,
        Status::Ok
    );

    let r = app
        .form("/oauth/revoke", &format!("token={refresh2}"), None)
        .await;
    assert_eq!(r.status, Status::Ok);
    let me = app
        .call(Method::Get, "/v1/me", bearer(&access2), None)
        .await;
    assert_eq!(
        me.status,
        Status::Unauthorized,
        "revoking the refresh token ends its sign-in"
    );
    assert_eq!(me.code(), "invalid_token");
    let r = app
        .form(
            "/oauth/token",
            &format!("grant_type=refresh_token&refresh_token={refresh2}"),
            None,
        )
        .await;
    assert_eq!(r.code(), "invalid_grant");

    // The portal sees the user and the tokens.
    let o = app
        .portal(
            Method::Get,
            &format!("/clients/{}", creds.id),
            None,
            Some(&session),
        )
        .await;
    assert_eq!(o.body["user_count"], 1);
    assert_eq!(o.body["client_secret"], creds.secret.as_str());
    let stats = app
        .portal(
            Method::Get,
            &format!("/clients/{}/stats?days=30", creds.id),
            None,
            Some(&session),
        )
        .await;
    let days = stats.body["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    let today = days.last().unwrap();
    assert_eq!(today["new_users"], 1);
    assert_eq!(
        today["tokens_issued"], 3,
        "client token, user token, refreshed token"
    );
    assert_eq!(today["active_users"], 1);
}

#[rocket::async_test]
async fn oauth_client_credentials_grant_with_basic_and_post() {
    let app = TestApp::spawn().await;
    let session = app.verified_developer("dev@example.com", PASSWORD).await;
    let creds = app.new_client(&session, "App").await;
    let r = app
        .form(
            "/oauth/token",
            "grant_type=client_credentials",
            Some(basic(&creds.id, &creds.secret)),
        )
        .await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    assert_eq!(r.body["scope"], "users:create");
    assert_eq!(r.header("Pragma"), Some("no-cache"));
    let r = app
        .form(
            "/oauth/token",
            &format!(
                "grant_type=client_credentials&client_id={}&client_secret={}",
                creds.id, creds.secret
            ),
            None,
        )
        .await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    let wrong = app
        .form(
            "/oauth/token",
            "grant_type=client_credentials",
            Some(basic(&creds.id, "cs_wrong")),
        )
        .await;
    assert_eq!(wrong.status, Status::Unauthorized);
    assert_eq!(wrong.code(), "invalid_client");
    assert_eq!(
        wrong.header("WWW-Authenticate"),
        Some(r#"Basic realm="set""#)
    );
    let r = app.form("/oauth/token", "grant_type=password", None).await;
    assert_eq!(r.code(), "unsupported_grant_type");
    let r = app
        .form("/oauth/token", "grant_type=a&grant_type=b", None)
        .await;
    assert_eq!(r.code(), "invalid_request");
    let r = app.form("/oauth/token", "", None).await;
    assert_eq!(r.status, Status::BadRequest);
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .contains("grant_type"));
}

#[rocket::async_test]
async fn registration_refuses_wrong_secrets_unverified_owners_and_junk() {
    let app = TestApp::spawn().await;
    app.post(
        "/signup",
        json!({"email": "new@example.com", "password": PASSWORD}),
    )
    .await;
    let session = app.login("new@example.com", PASSWORD).await;
    let creds = app.new_client(&session, "Unverified").await;
    let r = app.register(&creds.id, &creds.secret).await;
    assert_eq!(r.status, Status::Forbidden);
    assert_eq!(r.code(), "email_unverified");

    let r = app.register(&creds.id, "cs_nope").await;
    assert_eq!(
        (r.status, r.code()),
        (Status::Unauthorized, "invalid_client".into())
    );
    // Verifying the owner's email lets the client in at once (the refusal above must not
    // be remembered).
    let mail = app.emails(1).await.pop().unwrap();
    let token = mail.token("verify-email");
    let r = app.post("/verify-email", json!({ "token": token })).await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    let r = app.register(&creds.id, &creds.secret).await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);

    let r = app.register("cl_nobody", &creds.secret).await;
    assert_eq!(
        (r.status, r.code()),
        (Status::Unauthorized, "invalid_client".into())
    );
    let r = crate::helpers::read(app.client.post("/v1/client/register").dispatch().await).await;
    assert_eq!(
        (r.status, r.code()),
        (Status::Unauthorized, "invalid_client".into())
    );
    let r = crate::helpers::read(
        app.client
            .post("/v1/client/register")
            .header(Header::new("Authorization", "Basic !!!"))
            .dispatch()
            .await,
    )
    .await;
    assert_eq!(r.status, Status::Unauthorized);
    assert!(!r.body.to_string().contains(&creds.secret));
}

#[rocket::async_test]
async fn users_are_siloed_from_each_other_and_clients_from_each_other() {
    let app = TestApp::spawn().await;
    let alice_dev = app.verified_developer("alice@example.com", PASSWORD).await;
    let bob_dev = app.verified_developer("bob@example.com", PASSWORD).await;
    let a = app.new_client(&alice_dev, "A").await;
    let b = app.new_client(&bob_dev, "B").await;
    let a_token = app.client_token(&a).await;
    let b_token = app.client_token(&b).await;
    let (u1, u1_access, _) = app.new_user(&a_token).await;
    let (_u2, u2_access, _) = app.new_user(&a_token).await;

    app.call(
        Method::Post,
        "/v1/me/events",
        bearer(&u1_access),
        Some(json!({"type": "secret", "data": 1})),
    )
    .await;
    let other = app
        .call(Method::Get, "/v1/me/events", bearer(&u2_access), None)
        .await;
    assert_eq!(
        other.body["events"],
        json!([]),
        "user 2 sees none of user 1's events"
    );
    let me2 = app
        .call(Method::Get, "/v1/me", bearer(&u2_access), None)
        .await;
    assert_ne!(me2.body["id"], u1.as_str());

    // A client token reaches no user's data.
    let r = app
        .call(Method::Get, "/v1/me", bearer(&a_token), None)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (Status::Forbidden, "insufficient_scope".into())
    );
    let r = app
        .call(Method::Get, "/v1/me/events", bearer(&a_token), None)
        .await;
    assert_eq!(r.status, Status::Forbidden);
    // A user token cannot create users.
    let r = app
        .call(Method::Post, "/v1/users", bearer(&u1_access), None)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (Status::Forbidden, "insufficient_scope".into())
    );
    // Client B's token creates users for B only.
    let (_b_user, b_access, _) = app.new_user(&b_token).await;
    let me = app
        .call(Method::Get, "/v1/me", bearer(&b_access), None)
        .await;
    assert_eq!(me.body["client_id"], b.id.as_str());

    // Introspection answers only for the caller's own client.
    let mine = app
        .form(
            "/oauth/introspect",
            &format!("token={u1_access}"),
            Some(basic(&a.id, &a.secret)),
        )
        .await;
    assert_eq!(mine.body["active"], true, "{}", mine.body);
    assert_eq!(mine.body["sub"], u1.as_str());
    let theirs = app
        .form(
            "/oauth/introspect",
            &format!("token={u1_access}"),
            Some(basic(&b.id, &b.secret)),
        )
        .await;
    assert_eq!(theirs.body, json!({"active": false}));
    let junk = app
        .form(
            "/oauth/introspect",
            "token=junk",
            Some(basic(&b.id, &b.secret)),
        )
        .await;
    assert_eq!(junk.body, json!({"active": false}));
    let anonymous = app
        .form("/oauth/introspect", &format!("token={u1_access}"), None)
        .await;
    assert_eq!(anonymous.status, Status::Unauthorized);

    // Developer B cannot see, rename, rotate or delete developer A's client.
    let path = format!("/clients/{}", a.id);
    for (method, p, body) in [
        (Method::Get, path.clone(), None),
        (
            Method::Patch,
            path.clone(),
            Some(json!({"name": "mine now"})),
        ),
        (Method::Post, format!("{path}/rotate-secret"), None),
        (Method::Get, format!("{path}/users"), None),
        (Method::Get, format!("{path}/stats"), None),
        (Method::Post, format!("{path}/users/{u1}/disable"), None),
        (Method::Delete, format!("{path}/users/{u1}"), None),
        (Method::Delete, path.clone(), None),
    ] {
        let r = app.portal(method, &p, body, Some(&bob_dev)).await;
        assert_eq!(
            (r.status, r.code()),
            (Status::NotFound, "not_found".into()),
            "{method} {p}"
        );
    }
    let list = app
        .portal(Method::Get, "/clients", None, Some(&bob_dev))
        .await;
    assert_eq!(list.body["clients"].as_array().unwrap().len(), 1);
    assert!(
        !app.client_token(&a).await.is_empty(),
        "A's client is untouched"
    );
}

#[rocket::async_test]
async fn deleting_a_client_disabling_a_user_and_rotating_a_secret_take_effect_at_once() {
    let app = TestApp::spawn().await;
    let dev = app.verified_developer("dev@example.com", PASSWORD).await;
    let creds = app.new_client(&dev, "App").await;
    let client_token = app.client_token(&creds).await;
    let (u1, u1_access, u1_refresh) = app.new_user(&client_token).await;
    let (_u2, u2_access, _) = app.new_user(&client_token).await;

    // Disable user 1: their access token and refresh token die; user 2 is fine.
    let r = app
        .portal(
            Method::Post,
            &format!("/clients/{}/users/{u1}/disable", creds.id),
            None,
            Some(&dev),
        )
        .await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    assert_eq!(r.body["user"]["disabled"], true);
    assert_eq!(
        app.call(Method::Get, "/v1/me", bearer(&u1_access), None)
            .await
            .status,
        Status::Unauthorized
    );
    let r = app
        .form(
            "/oauth/token",
            &format!("grant_type=refresh_token&refresh_token={u1_refresh}"),
            None,
        )
        .await;
    assert_eq!(r.code(), "invalid_grant");
    assert_eq!(
        app.call(Method::Get, "/v1/me", bearer(&u2_access), None)
            .await
            .status,
        Status::Ok
    );

    // Rotate the secret: the old secret and old client tokens fail, the new ones work.
    let r = app
        .portal(
            Method::Post,
            &format!("/clients/{}/rotate-secret", creds.id),
            None,
            Some(&dev),
        )
        .await;
    let new_secret = r.body["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, creds.secret);
    assert_eq!(
        app.register(&creds.id, &creds.secret).await.status,
        Status::Unauthorized
    );
    let r = app
        .call(Method::Post, "/v1/users", bearer(&client_token), None)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (Status::Unauthorized, "invalid_token".into())
    );
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
    let fresh = app.register(&creds.id, &new_secret).await;
    assert_eq!(fresh.status, Status::Ok);
    let fresh_token = fresh.body["access_token"].as_str().unwrap().to_owned();
    let r = app
        .call(Method::Post, "/v1/users", bearer(&fresh_token), None)
        .await;
    assert_eq!(
        r.status,
        Status::Created,
        "an empty body is fine: {}",
        r.body
    );

    // Delete the client: every token of it dies, and so do its users.
    let r = app
        .portal(
            Method::Delete,
            &format!("/clients/{}", creds.id),
            None,
            Some(&dev),
        )
        .await;
    assert_eq!(r.status, Status::NoContent);
    assert_eq!(
        app.call(Method::Get, "/v1/me", bearer(&u2_access), None)
            .await
            .status,
        Status::Unauthorized
    );
    assert_eq!(
        app.call(Method::Post, "/v1/users", bearer(&fresh_token), None)
            .await
            .status,
        Status::Unauthorized
    );
    assert_eq!(
        app.register(&creds.id, &new_secret).await.status,
        Status::Unauthorized
    );
    let users = app.sql_i64("SELECT count(*) FROM users").await;
    assert_eq!(users, 0, "users go with their client");
}

#[rocket::async_test]
async fn reusing_a_refresh_token_revokes_the_family() {
    let app = TestApp::spawn().await;
    let dev = app.verified_developer("dev@example.com", PASSWORD).await;
    let creds = app.new_client(&dev, "App").await;
    let token = app.client_token(&creds).await;
    let (_, _, first) = app.new_user(&token).await;
    let r = app
        .form(
            "/oauth/token",
            &format!("grant_type=refresh_token&refresh_token={first}"),
            None,
        )
        .await;
    let second = r.body["refresh_token"].as_str().unwrap().to_owned();
    let second_access = r.body["access_token"].as_str().unwrap().to_owned();
    // A thief replays the first token.
    let replay = app
        .form(
            "/oauth/token",
            &format!("grant_type=refresh_token&refresh_token={first}"),
            None,
        )
        .await;
    assert_eq!(
        (replay.status, replay.code()),
        (Status::BadRequest, "invalid_grant".into())
    );
    // The newer token of the family is dead too, and so is its access token.
    let r = app
        .form(
            "/oauth/token",
            &format!("grant_type=refresh_token&refresh_token={second}"),
            None,
        )
        .await;
    assert_eq!(r.code(), "invalid_grant");
    assert_eq!(
        app.call(Method::Get, "/v1/me", bearer(&second_access), None)
            .await
            .status,
        Status::Unauthorized
    );
    let unknown = app
        .form(
            "/oauth/token",
            "grant_type=refresh_token&refresh_token=rt_unknown",
            None,
        )
        .await;
    assert_eq!(unknown.code(), "invalid_grant");
}

/// Refresh tokens are stored under a key that starts with their creation time (so that new
/// rows share index pages). A token stored before that, under its hash alone, must keep
/// working after an upgrade; and the key never holds the token's random part.
#[rocket::async_test]
async fn a_refresh_token_stored_under_its_hash_alone_still_rotates() {
    use set_server::auth::secrets::{random_token, token_hash, token_key};
    let app = TestApp::spawn().await;
    let dev = app.verified_developer("dev@example.com", PASSWORD).await;
    let creds = app.new_client(&dev, "App").await;
    let token = app.client_token(&creds).await;
    let (_, _, issued) = app.new_user(&token).await;
    let keys = app.sql_texts("SELECT token_hash FROM refresh_tokens").await;
    assert_eq!(keys, vec![token_key(&issued)]);
    assert!(
        !keys[0].contains(&issued["rt_".len() + 8..]),
        "the stored key holds the token"
    );
    assert_ne!(token_key(&issued), token_hash(&issued));

    // What the previous version issued and stored: `rt_` and 43 random characters, keyed
    // by the hash alone.
    let old = format!("rt_{}", random_token(32));
    let sql = format!(
        "UPDATE refresh_tokens SET token_hash = '{}' WHERE token_hash = '{}'",
        token_hash(&old),
        token_key(&issued)
    );
    app.sql_execute(Box::leak(sql.into_boxed_str())).await;

    let rotated = app
        .form(
            "/oauth/token",
            &format!("grant_type=refresh_token&refresh_token={old}"),
            None,
        )
        .await;
    assert_eq!(rotated.status, Status::Ok, "{}", rotated.body);
    let next = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(next.len(), "rt_".len() + 8 + 43, "{next}");
    let after = app
        .form(
            "/oauth/token",
            &format!("grant_type=refresh_token&refresh_token={next}"),
            None,
        )
        .await;
    assert_eq!(after.status, Status::Ok, "{}", after.body);
    // Single use holds for the old shape too.
    let replay = app
        .form(
            "/oauth/token",
            &format!("grant_type=refresh_token&refresh_token={old}"),
            None,
        )
        .await;
    assert_eq!(replay.code(), "invalid_grant");
}

#[rocket::async_test]
async fn deleting_me_erases_the_user_and_their_events() {
    let app = TestApp::spawn().await;
    let dev = app.verified_developer("dev@example.com", PASSWORD).await;
    let creds = app.new_client(&dev, "App").await;
    let token = app.client_token(&creds).await;
    let (_, access, refresh) = app.new_user(&token).await;
    app.call(
        Method::Post,
        "/v1/me/events",
        bearer(&access),
        Some(json!({"type": "x", "data": null})),
    )
    .await;
    let r = app
        .call(Method::Delete, "/v1/me", bearer(&access), None)
        .await;
    assert_eq!(r.status, Status::NoContent);
    assert_eq!(
        app.call(Method::Get, "/v1/me", bearer(&access), None)
            .await
            .status,
        Status::Unauthorized
    );
    let r = app
        .form(
            "/oauth/token",
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
            None,
        )
        .await;
    assert_eq!(r.code(), "invalid_grant");
    let n = app
        .sql_i64("SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM events)")
        .await;
    assert_eq!(n, 0);
}

#[rocket::async_test]
async fn bad_sdk_input_gets_named_errors_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let dev = app.verified_developer("dev@example.com", PASSWORD).await;
    let creds = app.new_client(&dev, "App").await;
    let token = app.client_token(&creds).await;
    let big = "x".repeat(5000);
    for (body, field) in [
        (json!({"metadata": [1, 2]}), "metadata"),
        (json!({"metadata": {"a": big}}), "metadata"),
        (json!({"metadata": "text"}), "metadata"),
    ] {
        let r = app
            .call(Method::Post, "/v1/users", bearer(&token), Some(body))
            .await;
        assert_eq!(r.status, Status::BadRequest, "{}", r.body);
        assert!(r.body["error_description"]
            .as_str()
            .unwrap()
            .contains(field));
    }
    let (_, access, _) = app.new_user(&token).await;
    for (body, field) in [
        (json!({"type": "", "data": 1}), "type"),
        (json!({"type": "t".repeat(65), "data": 1}), "type"),
        (json!({"type": "t", "data": "d".repeat(17 * 1024)}), "data"),
        (
            json!({"type": "t", "data": 1, "occurred_at": "yesterday"}),
            "occurred_at",
        ),
        (json!({"data": 1}), "type"),
    ] {
        let r = app
            .call(Method::Post, "/v1/me/events", bearer(&access), Some(body))
            .await;
        assert_eq!(r.status, Status::BadRequest, "{}", r.body);
        assert!(
            r.body["error_description"]
                .as_str()
                .unwrap()
                .contains(field),
            "{}",
            r.body
        );
    }
    for q in ["limit=0", "limit=501", "limit=x", "after=-1", "after=abc"] {
        let r = app
            .call(
                Method::Get,
                &format!("/v1/me/events?{q}"),
                bearer(&access),
                None,
            )
            .await;
        assert_eq!(r.status, Status::BadRequest, "{q}");
    }
    let users = app.sql_i64("SELECT count(*) FROM users").await;
    let events = app.sql_i64("SELECT count(*) FROM events").await;
    assert_eq!((users, events), (1, 0));
}

/// Event data is stored as JSON text and sent back as that text, not re-parsed: it must
/// come back as the same JSON, whatever it holds, and stored text that is not JSON (a
/// row edited by hand) shows as `null` without failing the page.
#[rocket::async_test]
async fn event_data_comes_back_as_it_was_sent() {
    let app = TestApp::spawn().await;
    let dev = app.verified_developer("dev@example.com", PASSWORD).await;
    let creds = app.new_client(&dev, "App").await;
    let token = app.client_token(&creds).await;
    let (_, access, _) = app.new_user(&token).await;
    let sent = [
        json!({"s": "é \" \\ \u{2028} </script>", "a": [1, 2.5, -7, 1e300, true, null], "o": {}}),
        json!("just a string"),
        json!(12345678901234567_i64),
        json!(null),
        json!([[], {"deep": {"er": [0]}}]),
    ];
    for data in &sent {
        let r = app
            .call(
                Method::Post,
                "/v1/me/events",
                bearer(&access),
                Some(json!({"type": "t", "data": data})),
            )
            .await;
        assert_eq!(r.status, Status::Created, "{}", r.body);
        assert_eq!(&r.body["data"], data);
    }
    let page = app
        .call(Method::Get, "/v1/me/events", bearer(&access), None)
        .await;
    assert_eq!(page.status, Status::Ok);
    assert_eq!(page.header("Content-Type"), Some("application/json"));
    let events = page.body["events"].as_array().unwrap();
    let got: Vec<&serde_json::Value> = events.iter().map(|e| &e["data"]).collect();
    assert_eq!(got, sent.iter().collect::<Vec<_>>());
    let mut keys: Vec<&str> = events[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["created_at", "data", "id", "occurred_at", "type"]);
    assert!(page.body["next"].is_null());

    app.sql_execute(
        "UPDATE events SET data = 'not json {' WHERE id = (SELECT min(id) FROM events)",
    )
    .await;
    let page = app
        .call(Method::Get, "/v1/me/events", bearer(&access), None)
        .await;
    assert_eq!(page.status, Status::Ok, "{}", page.body);
    assert!(page.body["events"][0]["data"].is_null());
    assert_eq!(page.body["events"][1]["data"], sent[1]);
}

#[rocket::async_test]
async fn portal_client_management() {
    let app = TestApp::spawn().await;
    let dev = app.verified_developer("dev@example.com", PASSWORD).await;
    let empty = app.portal(Method::Get, "/clients", None, Some(&dev)).await;
    assert_eq!(empty.body, json!({"clients": []}));
    let r = app
        .portal(
            Method::Post,
            "/clients",
            Some(json!({"name": "  "})),
            Some(&dev),
        )
        .await;
    assert_eq!(r.status, Status::BadRequest);
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("name:"));
    let creds = app.new_client(&dev, "First").await;
    let r = app
        .portal(
            Method::Patch,
            &format!("/clients/{}", creds.id),
            Some(json!({"name": "Renamed"})),
            Some(&dev),
        )
        .await;
    assert_eq!(r.body["name"], "Renamed");
    let list = app.portal(Method::Get, "/clients", None, Some(&dev)).await;
    assert_eq!(list.body["clients"][0]["name"], "Renamed");
    assert!(
        list.body["clients"][0].get("client_secret").is_none(),
        "the list never shows secrets"
    );

    let token = app.client_token(&creds).await;
    for _ in 0..3 {
        app.new_user(&token).await;
    }
    let page = app
        .portal(
            Method::Get,
            &format!("/clients/{}/users?limit=2", creds.id),
            None,
            Some(&dev),
        )
        .await;
    assert_eq!(page.body["users"].as_array().unwrap().len(), 2);
    let next = page.body["next"].as_str().unwrap();
    let rest = app
        .portal(
            Method::Get,
            &format!("/clients/{}/users?limit=2&after={next}", creds.id),
            None,
            Some(&dev),
        )
        .await;
    assert_eq!(rest.body["users"].as_array().unwrap().len(), 1);
    let victim = rest.body["users"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .portal(
            Method::Delete,
            &format!("/clients/{}/users/{victim}", creds.id),
            None,
            Some(&dev),
        )
        .await;
    assert_eq!(r.status, Status::NoContent);
    let o = app
        .portal(
            Method::Get,
            &format!("/clients/{}", creds.id),
            None,
            Some(&dev),
        )
        .await;
    assert_eq!(o.body["user_count"], 2);
    let r = app
        .portal(
            Method::Get,
            &format!("/clients/{}/users?limit=1000", creds.id),
            None,
            Some(&dev),
        )
        .await;
    assert_eq!(r.status, Status::BadRequest);

    // Deleting the account deletes its clients, and their tokens stop at once.
    let r = app.portal(Method::Delete, "/me", None, Some(&dev)).await;
    assert_eq!(r.status, Status::NoContent);
    let r = app
        .call(Method::Post, "/v1/users", bearer(&token), None)
        .await;
    assert_eq!(r.status, Status::Unauthorized);
}

/// Profile reads racing profile writes: once the last write is answered, every read shows
/// it (a read that began before a write ended must not leave its older row behind).
#[rocket::async_test]
async fn reads_racing_writes_never_leave_an_old_profile_behind() {
    let app = TestApp::spawn().await;
    let dev = app.verified_developer("dev@example.com", PASSWORD).await;
    let creds = app.new_client(&dev, "App").await;
    let client_token = app.client_token(&creds).await;
    let (_, access, _) = app.new_user(&client_token).await;
    let done = AtomicBool::new(false);
    let writes = async {
        for round in 0..200 {
            let r = app
                .call(
                    Method::Patch,
                    "/v1/me",
                    bearer(&access),
                    Some(json!({"metadata": {"round": round}})),
                )
                .await;
            assert_eq!(r.status, Status::Ok, "{}", r.body);
            let me = app.call(Method::Get, "/v1/me", bearer(&access), None).await;
            assert_eq!(me.body["metadata"]["round"], round, "read after write");
        }
        done.store(true, Ordering::Release);
    };
    let (a, b, c, ()) = rocket::tokio::join!(
        read_until(&app, &access, &done),
        read_until(&app, &access, &done),
        read_until(&app, &access, &done),
        writes
    );
    assert!(a + b + c > 0, "the reads ran");
    let me = app.call(Method::Get, "/v1/me", bearer(&access), None).await;
    assert_eq!(me.body["metadata"]["round"], 199);
}

/// Reads the profile until `done`; how many reads were made.
async fn read_until(app: &TestApp, access: &str, done: &AtomicBool) -> usize {
    let mut n = 0;
    while !done.load(Ordering::Acquire) {
        let me = app.call(Method::Get, "/v1/me", bearer(access), None).await;
        assert_eq!(me.status, Status::Ok, "{}", me.body);
        n += 1;
        // A read answered from memory never waits: let the others run.
        rocket::tokio::task::yield_now().await;
    }
    n
}
