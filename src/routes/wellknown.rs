//! Discovery documents: the public keys that verify our tokens (JWKS, RFC 7517) and the
//! authorization server metadata (RFC 8414), both public and cacheable.

use rocket::http::Header;
use rocket::serde::json::Json;
use rocket::{get, routes, Responder, Route, State};
use serde::Serialize;

use crate::auth::keys::{KeyRing, PublishedJwk};
use crate::auth::tokens::{Tokens, SCOPES_SUPPORTED};

/// Short, so a verifier that caches JWKS picks up a rotation within a minute. Verifiers
/// should also refetch on an unknown `kid`, as the old key stays published meanwhile.
const JWKS_CACHE: &str = "public, max-age=60";
const METADATA_CACHE: &str = "public, max-age=3600";

#[derive(Responder)]
struct Cached<T> {
    inner: Json<T>,
    cache: Header<'static>,
}

fn cached<T>(body: T, policy: &'static str) -> Cached<T> {
    Cached {
        inner: Json(body),
        cache: Header::new("Cache-Control", policy),
    }
}

#[derive(Serialize)]
struct Jwks {
    keys: Vec<PublishedJwk>,
}

/// The current key and every retired key whose tokens may still be valid.
#[get("/.well-known/jwks.json")]
fn jwks(keys: &State<KeyRing>) -> Cached<Jwks> {
    cached(Jwks { keys: keys.jwks() }, JWKS_CACHE)
}

#[derive(Serialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    jwks_uri: String,
    grant_types_supported: [&'static str; 3],
    response_types_supported: [&'static str; 1],
    token_endpoint_auth_methods_supported: [&'static str; 2],
    revocation_endpoint_auth_methods_supported: [&'static str; 3],
    introspection_endpoint_auth_methods_supported: [&'static str; 2],
    code_challenge_methods_supported: [&'static str; 1],
    scopes_supported: [&'static str; 6],
}

/// RFC 8414 authorization server metadata; every URL is built on the public URL.
#[get("/.well-known/oauth-authorization-server")]
fn metadata(tokens: &State<Tokens>) -> Cached<Metadata> {
    let base = tokens.issuer();
    let url = |path: &str| format!("{base}{path}");
    cached(
        Metadata {
            issuer: base.to_owned(),
            authorization_endpoint: url("/oauth/authorize"),
            token_endpoint: url("/oauth/token"),
            revocation_endpoint: url("/oauth/revoke"),
            introspection_endpoint: url("/oauth/introspect"),
            jwks_uri: url("/.well-known/jwks.json"),
            grant_types_supported: ["client_credentials", "refresh_token", "authorization_code"],
            response_types_supported: ["code"],
            token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
            // SDK users revoke their own refresh tokens without client authentication.
            revocation_endpoint_auth_methods_supported: [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            introspection_endpoint_auth_methods_supported: [
                "client_secret_basic",
                "client_secret_post",
            ],
            code_challenge_methods_supported: ["S256"],
            scopes_supported: SCOPES_SUPPORTED,
        },
        METADATA_CACHE,
    )
}

pub fn routes() -> Vec<Route> {
    routes![jwks, metadata]
}
