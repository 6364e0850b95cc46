//! Client credentials: how a client secret is made, stored and checked.
//!
//! The secret is 256 random bits, so it is checked with a keyed hash (HMAC-SHA-256 under a
//! key derived from the master key) compared in constant time, not with argon2: a slow
//! hash protects guessable passwords, while nothing can guess 256 random bits, and
//! argon2 on every registration would let anyone burn the server's CPU with a client id.
//! It is also sealed with the master key (AEAD) so the portal can show it again.

use rocket::http::Status;

use crate::auth::header::ClientCredentials;
use crate::auth::secrets::{random_token, Secrets};
use crate::db::clients::{self, Client, ClientAuth};
use crate::db::Db;
use crate::error::ApiError;

const HASH_PURPOSE: &str = "client_secret";

fn aad(client_id: &str) -> Vec<u8> {
    format!("client_secret:{client_id}").into_bytes()
}

/// A new client id: `cl_` and 128 random bits, URL-safe.
pub fn new_client_id() -> String {
    crate::ids::new_id("cl")
}

/// A new secret, its sealed form and its keyed hash.
pub fn new_secret(
    secrets: &Secrets,
    client_id: &str,
) -> Result<(String, Vec<u8>, Vec<u8>), ApiError> {
    let secret = format!("cs_{}", random_token(32));
    let sealed = secrets
        .seal(secret.as_bytes(), &aad(client_id))
        .map_err(ApiError::internal)?;
    let hash = secrets.keyed_hash(HASH_PURPOSE, secret.as_bytes()).to_vec();
    Ok((secret, sealed, hash))
}

/// The client's secret in clear, for its owner's overview.
pub fn reveal(secrets: &Secrets, client: &Client) -> Result<String, ApiError> {
    let plain = secrets
        .open(&client.secret_sealed, &aad(&client.id))
        .map_err(ApiError::internal)?;
    String::from_utf8(plain.to_vec()).map_err(ApiError::internal)
}

pub fn invalid_client() -> ApiError {
    ApiError::Custom {
        status: Status::Unauthorized,
        code: "invalid_client",
        description: "the client id or client secret is not correct".into(),
    }
}

/// Checks client credentials: 401 `invalid_client` when wrong, 403 `email_unverified`
/// while the owner has not verified their email, 403 `client_disabled`.
pub async fn authenticate(
    db: &Db,
    secrets: &Secrets,
    creds: &ClientCredentials,
) -> Result<ClientAuth, ApiError> {
    let id = creds.client_id.clone();
    let found = db
        .read(move |c| Ok(clients::find_for_auth(c, &id)?))
        .await?;
    let Some(auth) = found else {
        return Err(invalid_client());
    };
    let secret = creds.client_secret.expose().as_bytes();
    if !secrets.verify_keyed_hash(HASH_PURPOSE, secret, &auth.client.secret_hash) {
        return Err(invalid_client());
    }
    if !auth.owner_verified {
        return Err(ApiError::Custom {
            status: Status::Forbidden,
            code: "email_unverified",
            description: "the developer who owns this client has not verified their email \
                          address yet; open the link in the verification email"
                .into(),
        });
    }
    if auth.client.disabled {
        return Err(ApiError::Custom {
            status: Status::Forbidden,
            code: "client_disabled",
            description: "this client is disabled".into(),
        });
    }
    Ok(auth)
}
