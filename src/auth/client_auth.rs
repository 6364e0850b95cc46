//! Client credentials: how a client secret is made, stored and checked.
//!
//! The secret is 256 random bits, so it is checked with a keyed hash (HMAC-SHA-256 under a
//! key derived from the master key) compared in constant time, not with argon2: a slow
//! hash protects guessable passwords, while nothing can guess 256 random bits, and
//! argon2 on every registration would let anyone burn the server's CPU with a client id.
//! It is also sealed with the master key (AEAD) so the portal can show it again.

use std::sync::Arc;

use rocket::http::Status;

use crate::auth::header::ClientCredentials;
use crate::auth::secrets::{random_token, Secrets};
use crate::db::clients::{Client, ClientAuth};
use crate::db::integrations::Integration;
use crate::db::Db;
use crate::error::ApiError;

const HASH_PURPOSE: &str = "client_secret";

fn aad(client_id: &str) -> Vec<u8> {
    format!("client_secret:{client_id}").into_bytes()
}

/// A new client id: `cl_` and a time-ordered 128-bit id (see `ids`), URL-safe.
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
) -> Result<Arc<ClientAuth>, ApiError> {
    let Some(auth) = db.client_auth(&creds.client_id).await? else {
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

const INTEGRATION_PURPOSE: &str = "integration_secret";

fn integration_aad(id: &str) -> Vec<u8> {
    format!("integration_secret:{id}").into_bytes()
}

/// A new integration secret, sealed and keyed-hashed like a client secret.
pub fn new_integration_secret(
    secrets: &Secrets,
    id: &str,
) -> Result<(String, Vec<u8>, Vec<u8>), ApiError> {
    let secret = format!("is_{}", random_token(32));
    let sealed = secrets
        .seal(secret.as_bytes(), &integration_aad(id))
        .map_err(ApiError::internal)?;
    let hash = secrets
        .keyed_hash(INTEGRATION_PURPOSE, secret.as_bytes())
        .to_vec();
    Ok((secret, sealed, hash))
}

/// The integration's secret in clear, for the developer's portal.
pub fn reveal_integration(secrets: &Secrets, i: &Integration) -> Result<String, ApiError> {
    let plain = secrets
        .open(&i.secret_sealed, &integration_aad(&i.id))
        .map_err(ApiError::internal)?;
    String::from_utf8(plain.to_vec()).map_err(ApiError::internal)
}

/// Who authenticated with client credentials at an OAuth endpoint.
pub enum Caller {
    /// A Set client (a mobile app), with its owner's state checked.
    Client(Arc<ClientAuth>),
    /// An integration (an OAuth client that users link to).
    Integration(Arc<Integration>),
}

impl Caller {
    /// The Set client whose users this caller may act for.
    pub fn client_id(&self) -> &str {
        match self {
            Caller::Client(c) => &c.client.id,
            Caller::Integration(i) => &i.client_id,
        }
    }

    pub fn integration_id(&self) -> Option<&str> {
        match self {
            Caller::Client(_) => None,
            Caller::Integration(i) => Some(&i.id),
        }
    }
}

/// Authenticates client credentials of either kind: integrations' ids start `int_`.
pub async fn authenticate_caller(
    db: &Db,
    secrets: &Secrets,
    creds: &ClientCredentials,
) -> Result<Caller, ApiError> {
    if !creds.client_id.starts_with("int_") {
        return Ok(Caller::Client(authenticate(db, secrets, creds).await?));
    }
    let found = db.integration(&creds.client_id).await?;
    let secret = creds.client_secret.expose().as_bytes();
    match found {
        Some(i) if secrets.verify_keyed_hash(INTEGRATION_PURPOSE, secret, &i.secret_hash) => {
            Ok(Caller::Integration(i))
        }
        _ => Err(invalid_client()),
    }
}

const SERVICE_KEY_PURPOSE: &str = "ifttt_service_key";

/// Seals and keyed-hashes an IFTTT service key; the hash is also its lookup key.
pub fn seal_service_key(
    secrets: &Secrets,
    id: &str,
    key: &str,
) -> Result<(Vec<u8>, Vec<u8>), ApiError> {
    let sealed = secrets
        .seal(key.as_bytes(), format!("ifttt_service_key:{id}").as_bytes())
        .map_err(ApiError::internal)?;
    Ok((sealed, service_key_hash(secrets, key)))
}

pub fn service_key_hash(secrets: &Secrets, key: &str) -> Vec<u8> {
    secrets
        .keyed_hash(SERVICE_KEY_PURPOSE, key.as_bytes())
        .to_vec()
}
