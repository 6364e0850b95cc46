//! The portal: CSRF, session fixation, and developers kept apart on every route.

use rocket::http::{ContentType, Cookie, Method, Status};
use serde_json::json;

use crate::helpers::{read, TestApp};

const PASSWORD: &str = "correct horse battery";

/// Every mounted portal route, each `<…>` segment filled by `fill(previous segment)`.
fn portal_routes(app: &TestApp, fill: impl Fn(&str) -> String) -> Vec<(Method, String)> {
    app.client
        .rocket()
        .routes()
        .filter(|r| r.uri.path().starts_with("/api/portal"))
        .map(|r| {
            let segs: Vec<&str> = r.uri.path().split('/').collect();
            let path: Vec<String> = segs
                .iter()
                .enumerate()
                .map(|(i, seg)| {
                    if seg.starts_with('<') {
                        fill(segs[i - 1])
                    } else {
                        (*seg).to_owned()
                    }
                })
                .collect();
            (r.method, path.join("/"))
        })
        .collect()
}

#[rocket::async_test]
async fn state_changing_calls_without_the_csrf_header_are_refused() {
    let app = TestApp::spawn().await;
    let session = app.verified_developer("a@example.com", PASSWORD).await;
    let creds = app.new_client(&session, "App").await;
    let routes = portal_routes(&app, |before| match before {
        "clients" => creds.id.clone(),
        _ => "x".into(),
    });
    let mut checked = 0;
    for (method, path) in routes.into_iter().filter(|(m, _)| *m != Method::Get) {
        let res = app
            .client
            .req(method, path.clone())
            .header(ContentType::JSON)
            .cookie(Cookie::new("set_session", session.clone()))
            .body(r#"{"email":"a@example.com","password":"correct horse battery","name":"x"}"#)
            .dispatch()
            .await;
        let r = read(res).await;
        assert_eq!(
            (r.status, r.code()),
            (Status::Forbidden, "forbidden".into()),
            "{method} {path}"
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} state-changing routes");
    // Nothing happened: the client and the session are intact.
    let r = app
        .portal(
            Method::Get,
            &format!("/clients/{}", creds.id),
            None,
            Some(&session),
        )
        .await;
    assert_eq!(r.status, Status::Ok);
    assert_eq!(r.body["client_secret"], creds.secret.as_str());
}

#[rocket::async_test]
async fn login_issues_a_fresh_session_whatever_cookie_came_in() {
    let app = TestApp::spawn().await;
    app.verified_developer("a@example.com", PASSWORD).await;
    let planted = "attacker-chosen-session-value-0123456789abcdef";
    let res = app
        .client
        .post("/api/portal/login")
        .header(ContentType::JSON)
        .header(rocket::http::Header::new("X-Requested-With", "set-portal"))
        .cookie(Cookie::new("set_session", planted))
        .body(json!({"email": "a@example.com", "password": PASSWORD}).to_string())
        .dispatch()
        .await;
    let r = read(res).await;
    assert_eq!(r.status, Status::Ok);
    let fresh = r.session.unwrap();
    assert_ne!(fresh, planted);
    assert!(fresh.len() >= 43);
    let me = app.portal(Method::Get, "/me", None, Some(planted)).await;
    assert_eq!(
        me.status,
        Status::Unauthorized,
        "the planted value is no session"
    );
    let me = app.portal(Method::Get, "/me", None, Some(&fresh)).await;
    assert_eq!(me.status, Status::Ok);
}

#[rocket::async_test]
async fn a_developer_reaches_none_of_another_developers_clients() {
    let app = TestApp::spawn().await;
    let a = app.verified_developer("a@example.com", PASSWORD).await;
    let b = app.verified_developer("b@example.com", PASSWORD).await;
    let creds = app.new_client(&a, "A's app").await;
    let token = app.client_token(&creds).await;
    let (user, _, _) = app.new_user(&token).await;
    let r = app
        .portal(
            Method::Post,
            &format!("/clients/{}/integrations", creds.id),
            Some(json!({"name": "I", "redirect_uris": ["https://x.example/cb"]})),
            Some(&a),
        )
        .await;
    let integration = r.body["id"].as_str().unwrap().to_owned();
    let routes = portal_routes(&app, |before| match before {
        "clients" => creds.id.clone(),
        "users" => user.clone(),
        _ => integration.clone(),
    });
    let mut checked = 0;
    for (method, path) in routes.into_iter().filter(|(_, p)| p.contains(&creds.id)) {
        let path = path.trim_start_matches("/api/portal").to_owned();
        let body = (method != Method::Get && method != Method::Delete)
            .then(|| json!({"name": "stolen", "redirect_uris": ["https://evil.example/cb"]}));
        let r = app.portal(method, &path, body, Some(&b)).await;
        assert_eq!(
            (r.status, r.code()),
            (Status::NotFound, "not_found".into()),
            "{method} {path}"
        );
        checked += 1;
    }
    assert!(checked >= 14, "only {checked} client routes");
    let r = app
        .portal(
            Method::Get,
            &format!("/clients/{}", creds.id),
            None,
            Some(&a),
        )
        .await;
    assert_eq!(r.body["name"], "A's app", "untouched");
    assert_eq!(r.body["user_count"], 1);
}
