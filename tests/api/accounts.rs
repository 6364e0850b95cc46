//! Developer accounts: sign-up, verification, sessions, reset, change, delete, limits.

use std::time::Duration;

use rocket::http::{Method, Status};
use serde_json::json;

use crate::helpers::TestApp;

const PASSWORD: &str = "correct horse battery";

#[rocket::async_test]
async fn signup_verify_and_sign_in() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/signup",
            json!({"email": " Dev@Example.COM ", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, Status::Created);
    assert_eq!(r.body, json!({"status": "verification_sent"}));
    assert!(r.session.is_none(), "sign-up does not sign in");

    let mail = app.emails(1).await.remove(0);
    assert_eq!(mail.to, "dev@example.com");
    assert!(
        mail.subject.to_lowercase().contains("verify"),
        "{}",
        mail.subject
    );
    assert!(mail.html.contains("verify-email?token="), "{}", mail.html);
    let token = mail.token("verify-email");
    assert!(token.len() >= 43, "256-bit token: {token}");

    let session = app.login("DEV@example.com", PASSWORD).await;
    let me = app.portal(Method::Get, "/me", None, Some(&session)).await;
    assert_eq!(me.status, Status::Ok);
    assert_eq!(me.body["developer"]["email"], "dev@example.com");
    assert_eq!(me.body["developer"]["email_verified"], false);

    let r = app.post("/verify-email", json!({ "token": token })).await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    let me = app.portal(Method::Get, "/me", None, Some(&session)).await;
    assert_eq!(me.body["developer"]["email_verified"], true);

    let again = app.post("/verify-email", json!({ "token": token })).await;
    assert_eq!(again.status, Status::BadRequest, "single use");
    assert_eq!(again.code(), "invalid_request");
}

#[rocket::async_test]
async fn session_cookie_is_httponly_strict_and_secure_on_https() {
    let app = TestApp::spawn_with(|c| {
        c.server.public_url =
            set_server::config::PublicUrl::parse("https://auth.example.com").unwrap();
    })
    .await;
    app.post(
        "/signup",
        json!({"email": "a@example.com", "password": PASSWORD}),
    )
    .await;
    let r = app
        .post(
            "/login",
            json!({"email": "a@example.com", "password": PASSWORD}),
        )
        .await;
    let cookie = r.header("Set-Cookie").unwrap().to_owned();
    for part in [
        "set_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
        "Path=/",
    ] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    let token = r.session.unwrap();
    assert!(token.len() >= 43);
    let app = TestApp::spawn().await;
    app.post(
        "/signup",
        json!({"email": "a@example.com", "password": PASSWORD}),
    )
    .await;
    let r = app
        .post(
            "/login",
            json!({"email": "a@example.com", "password": PASSWORD}),
        )
        .await;
    assert!(
        !r.header("Set-Cookie").unwrap().contains("Secure"),
        "plain http"
    );
}

#[rocket::async_test]
async fn taken_and_new_addresses_get_identical_answers_and_the_owner_is_told() {
    let app = TestApp::spawn().await;
    let first = app
        .post(
            "/signup",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    let taken = app
        .post(
            "/signup",
            json!({"email": "OWNER@example.com", "password": "another password"}),
        )
        .await;
    let fresh = app
        .post(
            "/signup",
            json!({"email": "new@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!((first.status, &first.body), (taken.status, &taken.body));
    assert_eq!((fresh.status, &fresh.body), (taken.status, &taken.body));
    let strip = |h: &[(String, String)]| {
        let mut h: Vec<_> = h.iter().filter(|(k, _)| k != "date").cloned().collect();
        h.sort();
        h
    };
    assert_eq!(strip(&taken.headers), strip(&fresh.headers));

    let mails = app.emails(3).await;
    let notice = mails
        .iter()
        .find(|m| m.to == "owner@example.com" && !m.text.contains("verify-email?token="))
        .expect("the owner gets a notice, not a second verification");
    assert!(
        notice.text.to_lowercase().contains("sign"),
        "{}",
        notice.text
    );
    // The original password still works: the second sign-up changed nothing.
    app.login("owner@example.com", PASSWORD).await;
}

#[rocket::async_test]
async fn wrong_password_and_unknown_email_are_the_same_401() {
    let app = TestApp::spawn().await;
    app.post(
        "/signup",
        json!({"email": "dev@example.com", "password": PASSWORD}),
    )
    .await;
    let wrong = app
        .post(
            "/login",
            json!({"email": "dev@example.com", "password": "not the password"}),
        )
        .await;
    let unknown = app
        .post(
            "/login",
            json!({"email": "ghost@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(wrong.status, Status::Unauthorized);
    assert_eq!(wrong.code(), "invalid_credentials");
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));
    assert_eq!(
        wrong.header("WWW-Authenticate"),
        unknown.header("WWW-Authenticate")
    );
    assert!(wrong.session.is_none() && unknown.session.is_none());
}

#[rocket::async_test]
async fn bad_fields_are_named() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/signup",
            json!({"email": "not-an-email", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, Status::BadRequest);
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("email:"));
    let r = app
        .post(
            "/signup",
            json!({"email": "a@example.com", "password": "short"}),
        )
        .await;
    assert_eq!(r.status, Status::BadRequest);
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("password:"));
    let r = app
        .post(
            "/signup",
            json!({"email": "a@example.com", "password": "x".repeat(257)}),
        )
        .await;
    assert_eq!(r.status, Status::BadRequest);
    let r = app.post("/signup", json!({"email": "a@example.com"})).await;
    assert_eq!(r.status, Status::BadRequest);
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .contains("password"));
    let r = app
        .post("/verify-email", json!({"token": "../../etc"}))
        .await;
    assert_eq!(r.status, Status::BadRequest);
    assert!(app.emails(0).await.is_empty(), "nothing was sent");
}

#[rocket::async_test]
async fn unknown_and_expired_verification_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let r = app
        .post("/verify-email", json!({"token": "A".repeat(43)}))
        .await;
    assert_eq!(r.status, Status::BadRequest);
    app.post(
        "/signup",
        json!({"email": "late@example.com", "password": PASSWORD}),
    )
    .await;
    let token = app.emails(1).await[0].token("verify-email");
    // A day passes: the link's expiry is now behind us.
    app.sql_execute("UPDATE email_tokens SET expires_at = expires_at - 86400")
        .await;
    let r = app.post("/verify-email", json!({ "token": token })).await;
    assert_eq!(r.status, Status::BadRequest, "expired");
    let session = app.login("late@example.com", PASSWORD).await;
    let me = app.portal(Method::Get, "/me", None, Some(&session)).await;
    assert_eq!(me.body["developer"]["email_verified"], false);

    // Resend issues a fresh link that works.
    let r = app
        .post("/resend-verification", json!({"email": "late@example.com"}))
        .await;
    assert_eq!(r.status, Status::Accepted);
    let token = app.emails(2).await[1].token("verify-email");
    let r = app.post("/verify-email", json!({ "token": token })).await;
    assert_eq!(r.status, Status::Ok);
    // Unknown addresses get the same 202 and no email.
    let r = app
        .post(
            "/resend-verification",
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(r.status, Status::Accepted);
    rocket::tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.emails(0).await.len(), 2);
}

#[rocket::async_test]
async fn password_reset_ends_every_session_and_is_single_use() {
    let app = TestApp::spawn().await;
    let laptop = app.verified_developer("dev@example.com", PASSWORD).await;
    let phone = app.login("dev@example.com", PASSWORD).await;

    let r = app
        .post("/password/forgot", json!({"email": "dev@example.com"}))
        .await;
    assert_eq!(r.status, Status::Accepted);
    let unknown = app
        .post("/password/forgot", json!({"email": "ghost@example.com"}))
        .await;
    assert_eq!((unknown.status, &unknown.body), (r.status, &r.body));
    let mail = app.emails(2).await.pop().unwrap();
    assert_eq!(mail.to, "dev@example.com");
    let token = mail.token("reset-password");

    let new_password = "a brand new passphrase";
    let r = app
        .post(
            "/password/reset",
            json!({"token": token, "password": new_password}),
        )
        .await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    for s in [&laptop, &phone] {
        let me = app.portal(Method::Get, "/me", None, Some(s)).await;
        assert_eq!(me.status, Status::Unauthorized, "reset ends every session");
    }
    let again = app
        .post(
            "/password/reset",
            json!({"token": token, "password": "yet another passphrase"}),
        )
        .await;
    assert_eq!(again.status, Status::BadRequest, "reused token refused");
    let old = app
        .post(
            "/login",
            json!({"email": "dev@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(old.status, Status::Unauthorized);
    app.login("dev@example.com", new_password).await;
    let unknown = app
        .post(
            "/password/reset",
            json!({"token": "B".repeat(43), "password": new_password}),
        )
        .await;
    assert_eq!(unknown.status, Status::BadRequest);
}

#[rocket::async_test]
async fn change_password_keeps_this_session_and_ends_the_others() {
    let app = TestApp::spawn().await;
    let mine = app.verified_developer("dev@example.com", PASSWORD).await;
    let other = app.login("dev@example.com", PASSWORD).await;
    let r = app
        .portal(
            Method::Post,
            "/password/change",
            Some(
                json!({"current_password": "wrong password!", "new_password": "a new passphrase"}),
            ),
            Some(&mine),
        )
        .await;
    assert_eq!(r.status, Status::BadRequest);
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("current_password"));
    let r = app
        .portal(
            Method::Post,
            "/password/change",
            Some(json!({"current_password": PASSWORD, "new_password": "a new passphrase"})),
            Some(&mine),
        )
        .await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    assert_eq!(
        app.portal(Method::Get, "/me", None, Some(&mine))
            .await
            .status,
        Status::Ok
    );
    assert_eq!(
        app.portal(Method::Get, "/me", None, Some(&other))
            .await
            .status,
        Status::Unauthorized
    );
    app.login("dev@example.com", "a new passphrase").await;
}

#[rocket::async_test]
async fn logout_ends_the_session_on_the_server() {
    let app = TestApp::spawn().await;
    let s = app.verified_developer("dev@example.com", PASSWORD).await;
    let r = app.portal(Method::Post, "/logout", None, Some(&s)).await;
    assert_eq!(r.status, Status::NoContent);
    let me = app.portal(Method::Get, "/me", None, Some(&s)).await;
    assert_eq!(me.status, Status::Unauthorized);
    assert_eq!(me.code(), "unauthorized");
    assert_eq!(
        me.header("WWW-Authenticate"),
        Some(r#"Bearer realm="set-portal""#)
    );
    let none = app.portal(Method::Get, "/me", None, None).await;
    assert_eq!(none.status, Status::Unauthorized);
}

#[rocket::async_test]
async fn idle_sessions_expire() {
    let app = TestApp::spawn_with(|c| {
        c.security.session_idle = set_server::config::Ttl::parse("1s").unwrap();
    })
    .await;
    let s = app.verified_developer("dev@example.com", PASSWORD).await;
    assert_eq!(
        app.portal(Method::Get, "/me", None, Some(&s)).await.status,
        Status::Ok
    );
    rocket::tokio::time::sleep(Duration::from_millis(2100)).await;
    let me = app.portal(Method::Get, "/me", None, Some(&s)).await;
    assert_eq!(me.status, Status::Unauthorized);
    assert!(me.body["error_description"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[rocket::async_test]
async fn delete_account_removes_it_and_its_sessions() {
    let app = TestApp::spawn().await;
    let s = app.verified_developer("dev@example.com", PASSWORD).await;
    let r = app.portal(Method::Delete, "/me", None, Some(&s)).await;
    assert_eq!(r.status, Status::NoContent);
    assert_eq!(
        app.portal(Method::Get, "/me", None, Some(&s)).await.status,
        Status::Unauthorized
    );
    let r = app
        .post(
            "/login",
            json!({"email": "dev@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, Status::Unauthorized);
    assert_eq!(app.sql_i64("SELECT count(*) FROM developers").await, 0);
}

#[rocket::async_test]
async fn repeated_failed_logins_reach_429_with_retry_after() {
    let app = TestApp::spawn_with(|c| {
        c.security.login_rate = set_server::config::Rate::parse("3/min").unwrap();
    })
    .await;
    app.post(
        "/signup",
        json!({"email": "dev@example.com", "password": PASSWORD}),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = app
            .post(
                "/login",
                json!({"email": "dev@example.com", "password": "wrong password"}),
            )
            .await;
        statuses.push(r.status.code);
        if r.status == Status::TooManyRequests {
            assert_eq!(r.code(), "rate_limited");
            let retry: u64 = r.header("Retry-After").unwrap().parse().unwrap();
            assert!((1..=60).contains(&retry));
        }
    }
    assert_eq!(&statuses[..3], &[401, 401, 401]);
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
    // Even the right password is refused while the address is blocked.
    let r = app
        .post(
            "/login",
            json!({"email": "dev@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, Status::TooManyRequests);
}

#[rocket::async_test]
async fn forgot_and_resend_are_rate_limited_per_address() {
    let app = TestApp::spawn_with(|c| {
        c.security.email_rate = set_server::config::Rate::parse("2/hour").unwrap();
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = app
            .post("/password/forgot", json!({"email": "someone@example.com"}))
            .await;
        statuses.push(r.status.code);
    }
    assert_eq!(statuses, vec![202, 202, 429]);
}

/// Every state-changing portal route refuses a call without `X-Requested-With`.
#[rocket::async_test]
async fn state_changing_portal_calls_without_the_csrf_header_are_403() {
    let app = TestApp::spawn().await;
    let session = app.verified_developer("dev@example.com", PASSWORD).await;
    let routes: Vec<_> = app
        .client
        .rocket()
        .routes()
        .filter(|r| r.uri.path().starts_with("/api/portal") && r.method != Method::Get)
        .map(|r| {
            let path: Vec<&str> = r
                .uri
                .path()
                .split('/')
                .map(|seg| if seg.starts_with('<') { "x" } else { seg })
                .collect();
            (r.method, path.join("/"))
        })
        .collect();
    assert!(routes.len() >= 9, "{routes:?}");
    for (method, path) in routes {
        let res = app
            .client
            .req(method, path.clone())
            .header(rocket::http::ContentType::JSON)
            .cookie(rocket::http::Cookie::new("set_session", session.clone()))
            .body(r#"{"email":"dev@example.com","password":"correct horse battery"}"#)
            .dispatch()
            .await;
        let r = crate::helpers::read(res).await;
        assert_eq!(r.status, Status::Forbidden, "{method} {path}");
        assert_eq!(r.code(), "forbidden");
    }
    // The session is still alive: none of those calls did anything.
    assert_eq!(
        app.portal(Method::Get, "/me", None, Some(&session))
            .await
            .status,
        Status::Ok
    );
}

#[rocket::async_test]
async fn login_rehashes_a_password_stored_with_old_parameters() {
    let weak = |c: &mut set_server::config::Config| {
        c.security.argon2_memory_kib = 64;
        c.security.argon2_iterations = 1;
    };
    let app = TestApp::spawn_with(weak).await;
    app.post(
        "/signup",
        json!({"email": "dev@example.com", "password": PASSWORD}),
    )
    .await;
    let stored = "SELECT password_hash FROM developers";
    assert!(app.sql_texts(stored).await[0].starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
    let TestApp { client, dir, .. } = app;
    client.terminate().await;
    let app = TestApp::spawn_in(dir, |_| {}, |r| r).await;
    app.login("dev@example.com", PASSWORD).await;
    assert!(
        app.sql_texts(stored).await[0].starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "rehashed with the configured OWASP parameters"
    );
    app.login("dev@example.com", PASSWORD).await;
}
