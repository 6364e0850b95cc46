//! Open redirects through `redirect_uri`, and authorization-code reuse.

use rocket::http::{Method, Status};
use serde_json::json;

use crate::helpers::{basic, bearer, TestApp};

const PASSWORD: &str = "correct horse battery";
const REDIRECT: &str = "https://partner.example/cb";

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[rocket::async_test]
async fn only_the_exact_registered_redirect_uri_is_ever_used() {
    let app = TestApp::spawn().await;
    let dev = app.verified_developer("a@example.com", PASSWORD).await;
    let creds = app.new_client(&dev, "App").await;
    let r = app
        .portal(
            Method::Post,
            &format!("/clients/{}/integrations", creds.id),
            Some(json!({"name": "Partner", "redirect_uris": [REDIRECT]})),
            Some(&dev),
        )
        .await;
    let id = r.body["client_id"].as_str().unwrap().to_owned();
    let token = app.client_token(&creds).await;
    let (_, access, _) = app.new_user(&token).await;
    for evil in [
        "https://evil.example/cb",
        "https://partner.example/cb/../../evil",
        "https://partner.example/cb?next=https://evil.example",
        "https://partner.example.evil.example/cb",
        "https://partner.example/cb/",
        "HTTPS://PARTNER.EXAMPLE/cb",
        "https://partner.example@evil.example/cb",
        "//evil.example/cb",
    ] {
        let res = app
            .client
            .get(format!(
                "/oauth/authorize?response_type=code&client_id={id}&redirect_uri={}&state=s",
                enc(evil)
            ))
            .dispatch()
            .await;
        assert_eq!(res.status(), Status::BadRequest, "{evil}");
        assert!(res.headers().get_one("Location").is_none(), "{evil}");
        let r = app
            .call(
                Method::Post,
                "/v1/me/authorize",
                bearer(&access),
                Some(json!({"client_id": id, "redirect_uri": evil})),
            )
            .await;
        assert_eq!(r.status, Status::BadRequest, "{evil}");
        assert!(r.body.get("redirect_to").is_none());
    }
    // Even an error about another parameter never goes to an unregistered URI.
    let res = app
        .client
        .get(format!(
            "/oauth/authorize?response_type=token&client_id={id}&redirect_uri={}",
            enc("https://evil.example/cb")
        ))
        .dispatch()
        .await;
    assert!(res.headers().get_one("Location").is_none());

    // A code is single use; its second use revokes what the first issued.
    let r = app
        .call(
            Method::Post,
            "/v1/me/authorize",
            bearer(&access),
            Some(json!({"client_id": id, "redirect_uri": REDIRECT})),
        )
        .await;
    let to = r.body["redirect_to"].as_str().unwrap();
    let code = to
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let secret = app
        .portal(
            Method::Get,
            &format!("/clients/{}/integrations/{id}", creds.id),
            None,
            Some(&dev),
        )
        .await
        .body["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}",
        enc(REDIRECT)
    );
    let first = app
        .form("/oauth/token", &form, Some(basic(&id, &secret)))
        .await;
    assert_eq!(first.status, Status::Ok);
    let again = app
        .form("/oauth/token", &form, Some(basic(&id, &secret)))
        .await;
    assert_eq!(again.code(), "invalid_grant");
    let issued = first.body["access_token"].as_str().unwrap();
    assert_eq!(
        app.call(Method::Get, "/v1/me", bearer(issued), None)
            .await
            .status,
        Status::Unauthorized
    );
}
