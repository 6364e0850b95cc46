//! Access tokens end to end over a real SQLite file: issue and verify with every algorithm,
//! every kind of forgery refused, independent verification (jwt-simple) against the JWKS
//! served over HTTP, and key rotation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{EncodingKey, Header};
use jwt_simple::prelude::{
    ECDSAP256PublicKeyLike, ES256PublicKey, Ed25519PublicKey, EdDSAPublicKeyLike, JWTClaims,
    RS256PublicKey, RSAPublicKeyLike, VerificationOptions,
};
use rocket::http::Status;
use rocket::local::asynchronous::Client;
use serde::Deserialize;
use serde_json::{json, Value};
use set_server::auth::jwk;
use set_server::auth::tokens::{NewToken, TokenError, TokenType, Tokens};
use set_server::config::{Algorithm, Config};
use tempfile::TempDir;

struct Setup {
    client: Client,
    _dir: TempDir,
}

impl Setup {
    async fn spawn(alg: Algorithm) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::load(None).unwrap();
        config.database.path = dir.path().join("set.db");
        config.email.outbox_dir = dir.path().join("outbox");
        config.tokens.algorithm = alg;
        let app = set_server::App::open(config).unwrap();
        let client = Client::tracked(set_server::build(app)).await.unwrap();
        Setup { client, _dir: dir }
    }

    fn tokens(&self) -> &Tokens {
        self.client.rocket().state::<Tokens>().unwrap()
    }

    async fn jwks(&self) -> Value {
        let res = self.client.get("/.well-known/jwks.json").dispatch().await;
        assert_eq!(res.status(), Status::Ok);
        assert_eq!(
            res.headers().get_one("Cache-Control"),
            Some("public, max-age=60")
        );
        res.into_json().await.unwrap()
    }
}

const USER: NewToken<'static> = NewToken {
    typ: TokenType::User,
    sub: "usr_1",
    cid: "cl_1",
    scope: "profile:read profile:write events:read events:write integrations:link",
    azp: None,
    gen: None,
    fam: None,
};

fn now() -> i64 {
    set_server::clock::now()
}

/// Valid claims for `tokens`, to be spoiled one field at a time.
fn claims(tokens: &Tokens) -> Value {
    json!({
        "iss": tokens.issuer(), "sub": "usr_1", "aud": tokens.audience(),
        "exp": now() + 300, "iat": now(), "nbf": now(), "jti": "j1",
        "cid": "cl_1", "typ": "user", "scope": "profile:read",
    })
}

/// Signs `claims` with the server's real current key, as a thief of the key would not
/// need to: isolates the claim checks from the signature check.
fn sign_with_server_key(tokens: &Tokens, claims: &Value) -> String {
    let signer = tokens.keys().signer();
    let mut header = Header::new(signer.algorithm());
    header.kid = Some(signer.kid().to_owned());
    jsonwebtoken::encode(&header, claims, signer.encoding_key()).unwrap()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn header_of(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[derive(Debug, Deserialize)]
struct Extra {
    cid: String,
    typ: String,
    scope: String,
}

/// Verifies `token` with jwt-simple, using only the JWKS document and the issuer URL.
fn verify_independently(jwks: &Value, token: &str, issuer: &str) -> JWTClaims<Extra> {
    let meta = jwt_simple::token::Token::decode_metadata(token).unwrap();
    let kid = meta.key_id().expect("a kid in the header");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} is not in {jwks}"));
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], meta.algorithm());
    let options = VerificationOptions {
        allowed_issuers: Some(HashSet::from([issuer.to_owned()])),
        allowed_audiences: Some(HashSet::from([issuer.to_owned()])),
        ..Default::default()
    };
    let text = key.to_string();
    // jwt-simple computes the RFC 7638 thumbprint itself: it must be our kid.
    let (thumbprint, claims) = match meta.algorithm() {
        "EdDSA" => {
            let k = Ed25519PublicKey::from_jwk(&text).unwrap();
            (
                k.jwk_thumbprint(),
                k.verify_token::<Extra>(token, Some(options)),
            )
        }
        "ES256" => {
            let k = ES256PublicKey::from_jwk(&text).unwrap();
            (
                k.jwk_thumbprint(),
                k.verify_token::<Extra>(token, Some(options)),
            )
        }
        "RS256" => {
            let k = RS256PublicKey::from_jwk(&text).unwrap();
            (
                k.jwk_thumbprint(),
                k.verify_token::<Extra>(token, Some(options)),
            )
        }
        other => panic!("unexpected alg {other}"),
    };
    assert_eq!(thumbprint, kid);
    claims.expect("jwt-simple accepts the token")
}

async fn issued_tokens_verify_here_and_independently(alg: Algorithm, name: &str) {
    let s = Setup::spawn(alg).await;
    let t = s.tokens();
    let issued = t.issue(&USER).unwrap();
    let header = header_of(&issued.access_token);
    assert_eq!(header["alg"], name);
    assert_eq!(header["kid"], t.keys().signer().kid());

    let claims = t.verify(&issued.access_token).unwrap();
    assert_eq!(claims, issued.claims);
    assert_eq!(claims.iss, "http://127.0.0.1:8080");
    assert_eq!(claims.aud, claims.iss);
    assert_eq!(claims.exp - claims.iat, 900);
    assert_eq!(issued.expires_in, 900);

    let jwks = s.jwks().await;
    let other = verify_independently(&jwks, &issued.access_token, t.issuer());
    assert_eq!(other.subject.as_deref(), Some("usr_1"));
    assert_eq!(other.jwt_id.as_deref(), Some(claims.jti.as_str()));
    assert_eq!(other.custom.cid, "cl_1");
    assert_eq!(other.custom.typ, "user");
    assert_eq!(other.custom.scope, USER.scope);

    // A payload altered after signing fails here and there.
    let parts: Vec<&str> = issued.access_token.split('.').collect();
    let mut altered = claims_json(&issued.access_token);
    altered["sub"] = json!("usr_2");
    let forged = format!("{}.{}.{}", parts[0], b64(&altered), parts[2]);
    assert_eq!(t.verify(&forged), Err(TokenError::BadSignature));
}

fn claims_json(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[rocket::async_test]
async fn eddsa_tokens_verify_here_and_with_an_independent_implementation() {
    issued_tokens_verify_here_and_independently(Algorithm::EdDSA, "EdDSA").await;
}

#[rocket::async_test]
async fn es256_tokens_verify_here_and_with_an_independent_implementation() {
    issued_tokens_verify_here_and_independently(Algorithm::ES256, "ES256").await;
}

/// The only RS256 test: RSA key generation is slow in debug builds.
#[rocket::async_test]
async fn rs256_tokens_verify_here_and_with_an_independent_implementation() {
    issued_tokens_verify_here_and_independently(Algorithm::RS256, "RS256").await;
}

#[rocket::async_test]
async fn integration_tokens_carry_azp_and_client_tokens_do_not() {
    let s = Setup::spawn(Algorithm::EdDSA).await;
    let t = s.tokens();
    let integration = NewToken {
        typ: TokenType::Integration,
        scope: "profile:read",
        azp: Some("int_1"),
        ..USER
    };
    let verified = t
        .verify(&t.issue(&integration).unwrap().access_token)
        .unwrap();
    assert_eq!(verified.azp.as_deref(), Some("int_1"));
    assert_eq!(verified.typ, TokenType::Integration);
    let client = NewToken {
        typ: TokenType::Client,
        sub: "cl_1",
        scope: "users:create",
        ..USER
    };
    let issued = t.issue(&client).unwrap();
    assert!(claims_json(&issued.access_token).get("azp").is_none());
    assert_eq!(
        t.verify(&issued.access_token).unwrap().typ,
        TokenType::Client
    );
    // azp must match typ, both when issuing and when verifying.
    let bad = NewToken {
        azp: None,
        ..integration
    };
    assert_eq!(t.issue(&bad).err(), Some(TokenError::BadClaims));
    let mut c = claims(t);
    c["azp"] = json!("int_1");
    assert_eq!(
        t.verify(&sign_with_server_key(t, &c)),
        Err(TokenError::BadClaims)
    );
}

#[rocket::async_test]
async fn forged_signatures_are_rejected() {
    let s = Setup::spawn(Algorithm::EdDSA).await;
    let t = s.tokens();
    let token = t.issue(&USER).unwrap().access_token;
    let (head, sig) = token.rsplit_once('.').unwrap();
    // Flip one character in the middle of the signature.
    let mut bytes = sig.as_bytes().to_vec();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    let flipped = format!("{head}.{}", String::from_utf8(bytes).unwrap());
    assert_eq!(t.verify(&flipped), Err(TokenError::BadSignature));
    assert!(t.verify(&format!("{head}.")).is_err());

    // Signed by another Ed25519 key that claims the server's kid.
    let other = jwk::generate(Algorithm::EdDSA).unwrap();
    let mut header = Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(t.keys().signer().kid().to_owned());
    let key = other.private.encoding_key(Algorithm::EdDSA);
    let impostor = jsonwebtoken::encode(&header, &claims(t), &key).unwrap();
    assert_eq!(t.verify(&impostor), Err(TokenError::BadSignature));

    for garbage in ["", "a.b", "a.b.c", "....", "not a token"] {
        assert!(t.verify(garbage).is_err(), "{garbage:?}");
    }
    let huge = format!("{}.{}.{}", "a".repeat(3000), "b".repeat(3000), "c");
    assert_eq!(t.verify(&huge), Err(TokenError::Malformed));
}

#[rocket::async_test]
async fn expired_and_not_yet_valid_tokens_are_rejected_beyond_the_leeway() {
    let s = Setup::spawn(Algorithm::EdDSA).await;
    let t = s.tokens();
    let mut c = claims(t);
    c["exp"] = json!(now() - 120);
    assert_eq!(
        t.verify(&sign_with_server_key(t, &c)),
        Err(TokenError::Expired)
    );
    c["exp"] = json!(now() - 5);
    assert!(
        t.verify(&sign_with_server_key(t, &c)).is_ok(),
        "within leeway"
    );
    let mut c = claims(t);
    c["nbf"] = json!(now() + 120);
    assert_eq!(
        t.verify(&sign_with_server_key(t, &c)),
        Err(TokenError::NotYetValid)
    );
    for missing in [
        "exp", "nbf", "iss", "aud", "sub", "cid", "typ", "scope", "jti",
    ] {
        let mut c = claims(t);
        c.as_object_mut().unwrap().remove(missing);
        assert_eq!(
            t.verify(&sign_with_server_key(t, &c)),
            Err(TokenError::BadClaims),
            "without {missing}"
        );
    }
}

#[rocket::async_test]
async fn wrong_issuer_or_audience_is_rejected() {
    let s = Setup::spawn(Algorithm::EdDSA).await;
    let t = s.tokens();
    let mut c = claims(t);
    c["iss"] = json!("https://evil.example");
    assert_eq!(
        t.verify(&sign_with_server_key(t, &c)),
        Err(TokenError::WrongIssuer)
    );
    let mut c = claims(t);
    c["aud"] = json!("https://other.example");
    assert_eq!(
        t.verify(&sign_with_server_key(t, &c)),
        Err(TokenError::WrongAudience)
    );
    assert!(t.verify(&sign_with_server_key(t, &claims(t))).is_ok());
}

#[rocket::async_test]
async fn unknown_or_missing_kid_is_rejected() {
    let s = Setup::spawn(Algorithm::EdDSA).await;
    let t = s.tokens();
    let signer = t.keys().signer();
    for kid in [Some("no-such-kid".to_owned()), None] {
        let mut header = Header::new(signer.algorithm());
        header.kid = kid;
        let token = jsonwebtoken::encode(&header, &claims(t), signer.encoding_key()).unwrap();
        assert_eq!(t.verify(&token), Err(TokenError::UnknownKey));
    }
}

#[rocket::async_test]
async fn alg_none_is_rejected() {
    let s = Setup::spawn(Algorithm::EdDSA).await;
    let t = s.tokens();
    let kid = t.keys().signer().kid().to_owned();
    let body = b64(&claims(t));
    for alg in ["none", "None", "NONE"] {
        let head = b64(&json!({"alg": alg, "kid": kid, "typ": "JWT"}));
        for sig in ["", "AAAA"] {
            let token = format!("{head}.{body}.{sig}");
            assert!(t.verify(&token).is_err(), "alg {alg} sig {sig:?}");
        }
    }
}

#[rocket::async_test]
async fn hs256_signed_with_the_public_key_is_rejected() {
    let s = Setup::spawn(Algorithm::EdDSA).await;
    let t = s.tokens();
    let jwks = s.jwks().await;
    let key = &jwks["keys"][0];
    let kid = key["kid"].as_str().unwrap().to_owned();
    let x = key["x"].as_str().unwrap();
    // Every form an attacker might guess the verifier uses as the HMAC secret.
    let secrets: Vec<Vec<u8>> = vec![
        URL_SAFE_NO_PAD.decode(x).unwrap(),
        x.as_bytes().to_vec(),
        key.to_string().into_bytes(),
    ];
    for secret in secrets {
        for alg in [
            jsonwebtoken::Algorithm::HS256,
            jsonwebtoken::Algorithm::HS384,
            jsonwebtoken::Algorithm::HS512,
        ] {
            let mut header = Header::new(alg);
            header.kid = Some(kid.clone());
            let enc = EncodingKey::from_secret(&secret).unwrap();
            let token = jsonwebtoken::encode(&header, &claims(t), &enc).unwrap();
            assert_eq!(t.verify(&token), Err(TokenError::WrongAlgorithm));
        }
    }
    // Another asymmetric algorithm with the right kid is refused before any signature check.
    let es = jwk::generate(Algorithm::ES256).unwrap();
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid);
    let token = jsonwebtoken::encode(
        &header,
        &claims(t),
        &es.private.encoding_key(Algorithm::ES256),
    )
    .unwrap();
    assert_eq!(t.verify(&token), Err(TokenError::WrongAlgorithm));
}

#[rocket::async_test]
async fn after_rotation_old_tokens_still_verify_and_new_ones_carry_the_new_kid() {
    let s = Setup::spawn(Algorithm::EdDSA).await;
    let t = s.tokens();
    let before = t.issue(&USER).unwrap().access_token;
    let old_kid = t.keys().signer().kid().to_owned();

    let keys = t.keys().clone();
    let rotation = rocket::tokio::task::spawn_blocking(move || keys.rotate())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rotation.retired_kid.as_deref(), Some(old_kid.as_str()));
    assert_ne!(rotation.new_kid, old_kid);

    let after = t.issue(&USER).unwrap().access_token;
    assert_eq!(header_of(&after)["kid"], rotation.new_kid);
    assert_eq!(header_of(&before)["kid"], old_kid);
    assert!(t.verify(&before).is_ok());
    assert!(t.verify(&after).is_ok());

    let jwks = s.jwks().await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [rotation.new_kid.as_str(), old_kid.as_str()]);
    verify_independently(&jwks, &before, t.issuer());
    verify_independently(&jwks, &after, t.issuer());
}

#[rocket::async_test]
async fn authorization_server_metadata_follows_rfc_8414() {
    let s = Setup::spawn(Algorithm::EdDSA).await;
    let res = s
        .client
        .get("/.well-known/oauth-authorization-server")
        .dispatch()
        .await;
    assert_eq!(res.status(), Status::Ok);
    assert!(res.headers().get_one("Cache-Control").is_some());
    let m: Value = res.into_json().await.unwrap();
    let base = "http://127.0.0.1:8080";
    assert_eq!(m["issuer"], base);
    assert_eq!(m["token_endpoint"], format!("{base}/oauth/token"));
    assert_eq!(
        m["authorization_endpoint"],
        format!("{base}/oauth/authorize")
    );
    assert_eq!(m["revocation_endpoint"], format!("{base}/oauth/revoke"));
    assert_eq!(
        m["introspection_endpoint"],
        format!("{base}/oauth/introspect")
    );
    assert_eq!(m["jwks_uri"], format!("{base}/.well-known/jwks.json"));
    assert_eq!(
        m["grant_types_supported"],
        json!(["client_credentials", "refresh_token", "authorization_code"])
    );
    assert_eq!(m["response_types_supported"], json!(["code"]));
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    let scopes = m["scopes_supported"].as_array().unwrap();
    assert!(scopes.contains(&json!("users:create")));
    assert!(scopes.contains(&json!("events:write")));
}
