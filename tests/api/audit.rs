//! The audit log: a row for each security event, each developer sees only their own, and
//! no secret in any of it.

use rocket::http::{Method, Status};
use serde_json::{json, Value};

use crate::helpers::{basic, bearer, TestApp};

const PASSWORD: &str = "correct horse battery";
const REDIRECT: &str = "https://partner.example/cb";

async fn actions(app: &TestApp, session: &str) -> Vec<String> {
    let r = app
        .portal(Method::Get, "/activity?limit=200", None, Some(session))
        .await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .rev()
        .collect()
}

#[rocket::async_test]
async fn every_security_event_is_recorded_for_its_developer_only() {
    let app = TestApp::spawn().await;
    let dev = app.verified_developer("dev@example.com", PASSWORD).await;
    let other = app.verified_developer("other@example.com", PASSWORD).await;
    app.post(
        "/login",
        json!({"email": "dev@example.com", "password": "wrong password!"}),
    )
    .await;
    let creds = app.new_client(&dev, "App").await;
    let path = format!("/clients/{}", creds.id);
    app.portal(
        Method::Patch,
        &path,
        Some(json!({"name": "Renamed"})),
        Some(&dev),
    )
    .await;
    let rotated = app
        .portal(
            Method::Post,
            &format!("{path}/rotate-secret"),
            None,
            Some(&dev),
        )
        .await;
    let secret = rotated.body["client_secret"].as_str().unwrap().to_owned();
    let token = app
        .client_token(&crate::helpers::Creds {
            id: creds.id.clone(),
            secret: secret.clone(),
        })
        .await;
    let (u1, access, _) = app.new_user(&token).await;
    let (u2, _, _) = app.new_user(&token).await;
    app.portal(
        Method::Post,
        &format!("{path}/users/{u1}/disable"),
        None,
        Some(&dev),
    )
    .await;
    app.portal(
        Method::Delete,
        &format!("{path}/users/{u2}"),
        None,
        Some(&dev),
    )
    .await;
    let r = app
        .portal(
            Method::Post,
            &format!("{path}/integrations"),
            Some(json!({"name": "Partner", "redirect_uris": [REDIRECT]})),
            Some(&dev),
        )
        .await;
    let (iid, isecret) = (
        r.body["client_id"].as_str().unwrap().to_owned(),
        r.body["client_secret"].as_str().unwrap().to_owned(),
    );
    let (_, access3, _) = app.new_user(&token).await;
    let r = app
        .call(
            Method::Post,
            "/v1/me/authorize",
            bearer(&access3),
            Some(json!({"client_id": iid, "redirect_uri": REDIRECT})),
        )
        .await;
    let code = r.body["redirect_to"]
        .as_str()
        .unwrap()
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let r = app
        .form(
            "/oauth/token",
            &format!("grant_type=authorization_code&code={code}"),
            Some(basic(&iid, &isecret)),
        )
        .await;
    assert_eq!(r.status, Status::Ok);
    let r = app
        .call(
            Method::Delete,
            &format!("/v1/me/integrations/{iid}"),
            bearer(&access3),
            None,
        )
        .await;
    assert_eq!(r.status, Status::NoContent);
    app.call(Method::Delete, "/v1/me", bearer(&access3), None)
        .await;
    app.portal(
        Method::Post,
        &format!("{path}/integrations/{iid}/rotate-secret"),
        None,
        Some(&dev),
    )
    .await;
    app.portal(
        Method::Delete,
        &format!("{path}/integrations/{iid}"),
        None,
        Some(&dev),
    )
    .await;
    app.portal(
        Method::Post,
        "/password/change",
        Some(json!({"current_password": PASSWORD, "new_password": "another passphrase"})),
        Some(&dev),
    )
    .await;
    app.portal(Method::Delete, &path, None, Some(&dev)).await;
    assert_eq!(
        app.call(Method::Get, "/v1/me", bearer(&access), None)
            .await
            .status,
        Status::Unauthorized
    );

    let got = actions(&app, &dev).await;
    let expected = [
        "login.succeeded",
        "login.failed",
        "client.created",
        "client.renamed",
        "client.secret_rotated",
        "user.disabled",
        "user.deleted",
        "integration.registered",
        "integration.linked",
        "integration.unlinked",
        "user.deleted",
        "integration.secret_rotated",
        "integration.deleted",
        "password.changed",
        "client.deleted",
    ];
    assert_eq!(got, expected);
    // The other developer sees only their own sign-in.
    assert_eq!(actions(&app, &other).await, vec!["login.succeeded"]);

    let r = app
        .portal(Method::Get, "/activity?limit=2", None, Some(&dev))
        .await;
    assert_eq!(r.body["events"].as_array().unwrap().len(), 2);
    let next = r.body["next"].as_str().unwrap().to_owned();
    let r = app
        .portal(
            Method::Get,
            &format!("/activity?limit=2&before={next}"),
            None,
            Some(&dev),
        )
        .await;
    assert_eq!(
        r.body["events"][0]["action"], expected[12],
        "the page before the newest two"
    );
    let event: &Value = &r.body["events"][0];
    assert_eq!(event["ip"], "127.0.0.1");
    assert!(event["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        app.portal(Method::Get, "/activity?limit=0", None, Some(&dev))
            .await
            .status,
        Status::BadRequest
    );

    // Never a secret in the table.
    let all = app
        .sql_texts(
            "SELECT coalesce(actor,'') || coalesce(action,'') || coalesce(target,'') || coalesce(ip,'') FROM audit_events",
        )
        .await
        .join("|");
    for secret in [
        PASSWORD,
        "wrong password!",
        &secret,
        &creds.secret,
        &isecret,
        &token,
        &code,
    ] {
        assert!(!all.contains(secret));
    }
}
