//! What the token endpoints hand out: client tokens, and user sessions made of a short
//! access token plus a rotating refresh token in a family.

use rocket::serde::json::{json, Value};
use rusqlite::Connection;

use crate::auth::revocation::{Kind, Revocations};
use crate::auth::secrets::{random_token, token_hash};
use crate::auth::tokens::{IssuedToken, NewToken, TokenType, Tokens};
use crate::clock;
use crate::config::Config;
use crate::db::{refresh, users};
use crate::error::ApiError;
use crate::stats::TokenCounter;

/// The only scope a client token carries: an extracted client secret must never reach an
/// existing user's data.
pub const CLIENT_SCOPE: &str = "users:create";

/// Every scope of a user's own token.
pub const USER_SCOPE: &str =
    "profile:read profile:write events:read events:write integrations:link";

/// Issues a client token for `client_id` at secret generation `generation`.
pub fn client_token(
    tokens: &Tokens,
    counter: &TokenCounter,
    client_id: &str,
    generation: u32,
) -> Result<IssuedToken, ApiError> {
    let issued = tokens.issue(&NewToken {
        typ: TokenType::Client,
        sub: client_id,
        cid: client_id,
        scope: CLIENT_SCOPE,
        azp: None,
        gen: Some(generation),
        fam: None,
    })?;
    counter.count(client_id);
    Ok(issued)
}

/// The RFC 6749 §5.1 body for an access token (and a refresh token, when there is one).
pub fn token_body(issued: &IssuedToken, refresh_token: Option<&str>) -> Value {
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.claims.scope,
    });
    if let Some(r) = refresh_token {
        body["refresh_token"] = json!(r);
    }
    body
}

/// A user (or integration) sign-in: a new family, its first refresh token, an access token.
pub struct Session {
    pub access: IssuedToken,
    pub refresh_token: String,
}

/// The subject of a family.
pub struct Grant<'a> {
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub integration_id: Option<&'a str>,
    pub scope: &'a str,
}

fn typ_of(grant: &Grant<'_>) -> TokenType {
    if grant.integration_id.is_some() {
        TokenType::Integration
    } else {
        TokenType::User
    }
}

fn new_refresh(tx: &Connection, config: &Config, family_id: &str) -> Result<String, ApiError> {
    let token = format!("rt_{}", random_token(32));
    let now = clock::now();
    let expires = now + config.tokens.refresh_ttl.secs() as i64;
    refresh::insert_token(tx, &token_hash(&token), family_id, now, expires)?;
    Ok(token)
}

fn access(
    tokens: &Tokens,
    counter: &TokenCounter,
    grant: &Grant<'_>,
    family: &str,
) -> Result<IssuedToken, ApiError> {
    let issued = tokens.issue(&NewToken {
        typ: typ_of(grant),
        sub: grant.user_id,
        cid: grant.client_id,
        scope: grant.scope,
        azp: grant.integration_id,
        gen: None,
        fam: Some(family),
    })?;
    counter.count(grant.client_id);
    Ok(issued)
}

/// Starts a family for `grant` in the caller's transaction.
pub fn start(
    tx: &Connection,
    tokens: &Tokens,
    counter: &TokenCounter,
    config: &Config,
    grant: &Grant<'_>,
) -> Result<Session, ApiError> {
    let family = crate::ids::new_id("fam");
    refresh::insert_family(
        tx,
        &refresh::NewFamily {
            id: &family,
            user_id: grant.user_id,
            client_id: grant.client_id,
            integration_id: grant.integration_id,
            scope: grant.scope,
            now: clock::now(),
        },
    )?;
    let refresh_token = new_refresh(tx, config, &family)?;
    let access = access(tokens, counter, grant, &family)?;
    Ok(Session {
        access,
        refresh_token,
    })
}

/// How a refresh attempt ended. `Reused` must still be committed: it revoked a family.
pub enum Refreshed {
    Rotated(Box<Session>),
    Refused(&'static str),
    Reused,
}

/// Why a refresh token is refused, in RFC 6749 terms.
pub fn invalid_grant(why: &str) -> ApiError {
    ApiError::Custom {
        status: rocket::http::Status::BadRequest,
        code: "invalid_grant",
        description: why.to_owned(),
    }
}

/// Rotates `presented` in the caller's transaction. `integration` must be the integration
/// that authenticated the call (None for SDK users, who present no credentials).
pub fn rotate(
    tx: &Connection,
    tokens: &Tokens,
    counter: &TokenCounter,
    revocations: &Revocations,
    config: &Config,
    presented: &str,
    integration: Option<&str>,
) -> Result<Refreshed, ApiError> {
    let hash = token_hash(presented);
    let now = clock::now();
    let Some(row) = refresh::find(tx, &hash)? else {
        return Ok(Refreshed::Refused("the refresh token is unknown"));
    };
    if row.integration_id.as_deref() != integration {
        return Ok(Refreshed::Refused(
            "the refresh token was not issued to this client",
        ));
    }
    if row.family_revoked {
        return Ok(Refreshed::Refused("the refresh token has been revoked"));
    }
    if row.used || !refresh::mark_used(tx, &hash, now)? {
        // A spent token presented again: someone holds a copy. End the whole family,
        // including the newer tokens descended from it.
        refresh::revoke_family(tx, &row.family_id, now)?;
        let until = now + tokens.access_ttl() as i64 + 60;
        revocations.revoke(tx, Kind::Family, &row.family_id, until)?;
        return Ok(Refreshed::Reused);
    }
    if row.expires_at <= now {
        return Ok(Refreshed::Refused("the refresh token has expired"));
    }
    match users::find(tx, &row.client_id, &row.user_id)? {
        Some(u) if !u.disabled && revocations.client_generation(&row.client_id).is_some() => {}
        _ => {
            return Ok(Refreshed::Refused(
                "the user or client no longer exists or is disabled",
            ))
        }
    }
    let grant = Grant {
        user_id: &row.user_id,
        client_id: &row.client_id,
        integration_id: row.integration_id.as_deref(),
        scope: &row.scope,
    };
    let refresh_token = new_refresh(tx, config, &row.family_id)?;
    let access = access(tokens, counter, &grant, &row.family_id)?;
    Ok(Refreshed::Rotated(Box::new(Session {
        access,
        refresh_token,
    })))
}
