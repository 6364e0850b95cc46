//! Tokens that must never pass the auth guard: each is refused with 401 `invalid_token`
//! on a real route, while the genuine article passes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rocket::http::{Method, Status};
use serde_json::{json, Value};

use crate::helpers::{bearer, TestApp};

const PASSWORD: &str = "correct horse battery";

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// Decodes a token's payload (no verification: the test only copies its claims).
fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn sign(app: &TestApp, claims: &Value, kid: Option<&str>) -> String {
    let signer = app.tokens.keys().signer();
    let mut header = Header::new(signer.algorithm());
    header.kid = kid
        .map(str::to_owned)
        .or_else(|| Some(signer.kid().to_owned()));
    jsonwebtoken::encode(&header, claims, signer.encoding_key()).unwrap()
}

#[rocket::async_test]
async fn forged_expired_misissued_and_confused_tokens_are_401() {
    let app = TestApp::spawn().await;
    let dev = app.verified_developer("dev@example.com", PASSWORD).await;
    let creds = app.new_client(&dev, "App").await;
    let client_token = app.client_token(&creds).await;
    let (_, access, _) = app.new_user(&client_token).await;
    let genuine = payload(&access);
    let kid = app.tokens.keys().signer().kid().to_owned();

    // Sanity: our own re-signing of the genuine claims passes, so a refusal below is
    // caused by the one thing each case changes.
    let resigned = sign(&app, &genuine, None);
    assert_eq!(
        app.call(Method::Get, "/v1/me", bearer(&resigned), None)
            .await
            .status,
        Status::Ok
    );

    let now = set_server::clock::now();
    let mut cases: Vec<(&str, String)> = Vec::new();
    let with = |k: &str, v: Value| {
        let mut c = genuine.clone();
        c[k] = v;
        c
    };
    cases.push(("expired", sign(&app, &with("exp", json!(now - 3600)), None)));
    cases.push((
        "not yet valid",
        sign(&app, &with("nbf", json!(now + 3600)), None),
    ));
    cases.push((
        "wrong iss",
        sign(&app, &with("iss", json!("https://evil.example")), None),
    ));
    cases.push((
        "wrong aud",
        sign(&app, &with("aud", json!("https://other.example")), None),
    ));
    cases.push(("unknown kid", sign(&app, &genuine, Some("no-such-kid"))));
    cases.push((
        "kid injection",
        sign(&app, &genuine, Some("../../etc/passwd' OR 1=1 --")),
    ));

    // A forged signature: the genuine header and claims, another signature.
    let mut parts: Vec<&str> = access.split('.').collect();
    let forged_sig = URL_SAFE_NO_PAD.encode([7u8; 64]);
    parts[2] = &forged_sig;
    cases.push(("forged signature", parts.join(".")));
    // Claims changed after signing (another user's id).
    let tampered = format!(
        "{}.{}.{}",
        access.split('.').next().unwrap(),
        b64(&with("sub", json!("usr_other"))),
        access.split('.').nth(2).unwrap()
    );
    cases.push(("tampered claims", tampered));

    // alg: none, with and without a kid.
    let none_header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    cases.push((
        "alg none",
        format!("{}.{}.", b64(&none_header), b64(&genuine)),
    ));
    cases.push((
        "alg none without kid",
        format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&genuine)),
    ));

    // HS256 keyed with the public key, as served in JWKS.
    let jwks =
        crate::helpers::read(app.client.get("/.well-known/jwks.json").dispatch().await).await;
    let jwk = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap()
        .clone();
    let public = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
    for secret in [public.clone(), jwk.to_string().into_bytes()] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        let t = jsonwebtoken::encode(
            &header,
            &genuine,
            &EncodingKey::from_secret(&secret).unwrap(),
        )
        .unwrap();
        cases.push(("HS256 with the public key", t));
    }
    cases.push(("garbage", "not.a.jwt".to_owned()));
    cases.push(("empty segments", "..".to_owned()));

    for (what, token) in cases {
        let r = app.call(Method::Get, "/v1/me", bearer(&token), None).await;
        assert_eq!(r.status, Status::Unauthorized, "{what}: {}", r.body);
        assert_eq!(r.code(), "invalid_token", "{what}");
        assert_eq!(
            r.header("WWW-Authenticate"),
            Some(r#"Bearer error="invalid_token""#),
            "{what}"
        );
    }
    // No Authorization, or a wrong scheme, is refused the same way.
    let r = crate::helpers::read(app.client.get("/v1/me").dispatch().await).await;
    assert_eq!(
        (r.status, r.code()),
        (Status::Unauthorized, "invalid_token".into())
    );
    let r = app
        .call(
            Method::Get,
            "/v1/me",
            rocket::http::Header::new("Authorization", format!("Digest {access}")),
            None,
        )
        .await;
    assert_eq!(r.status, Status::Unauthorized);
    let r = app
        .call(
            Method::Get,
            "/v1/me",
            crate::helpers::basic(&access, "password"),
            None,
        )
        .await;
    assert_eq!(
        r.status,
        Status::Unauthorized,
        "Basic with a non-empty password"
    );
    // A user token whose typ claims "client" cannot create users: typ is signed too.
    let r = app
        .call(Method::Post, "/v1/users", bearer(&access), None)
        .await;
    assert_eq!(r.status, Status::Forbidden);
}

#[rocket::async_test]
async fn jwks_never_exposes_private_key_material() {
    use set_server::config::Algorithm as Alg;
    for alg in [Alg::EdDSA, Alg::ES256, Alg::RS256] {
        let app = TestApp::spawn_with(|c| c.tokens.algorithm = alg).await;
        let jwks =
            crate::helpers::read(app.client.get("/.well-known/jwks.json").dispatch().await).await;
        let keys = jwks.body["keys"].as_array().unwrap();
        assert!(!keys.is_empty());
        for key in keys {
            for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
                assert!(
                    key.get(private).is_none(),
                    "{alg:?} JWKS has {private}: {key}"
                );
            }
        }
        // At rest the private key is sealed: no PKCS#8 structure in the clear.
        let db = rusqlite::Connection::open(app.dir.path().join("set.db")).unwrap();
        let sealed: Vec<u8> = db
            .query_row(
                "SELECT private_key FROM signing_keys WHERE retired_at IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!sealed.windows(3).any(|w| w == [0x30, 0x82, 0x04]) || alg != Alg::RS256);
        assert!(
            !sealed.starts_with(&[0x30]),
            "{alg:?} private key stored in the clear"
        );
    }
}
