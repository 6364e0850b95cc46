//! What the token endpoints hand out: client tokens, and user sessions made of a short
//! access token plus a rotating refresh token in a family.

use crate::db::Conn;
use rocket::serde::json::{json, Value};

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
    counter.count_type(TokenType::Client);
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

fn new_refresh(tx: &Conn<'_>, config: &Config, family_id: &str) -> Result<String, ApiError> {
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
    counter.count_type(typ_of(grant));
    Ok(issued)
}

/// Starts a family for `grant` in the caller's transaction.
pub fn start(
    tx: &Conn<'_>,
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

/// Who presents a refresh token: nobody (an SDK user), the app's own client credentials,
/// or an integration's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presenter<'a> {
    pub client_id: Option<&'a str>,
    pub integration_id: Option<&'a str>,
}

/// Rotates `presented` in the caller's transaction. A token held by an integration must be
/// presented with that integration's credentials, and only by it.
pub fn rotate(
    tx: &Conn<'_>,
    tokens: &Tokens,
    counter: &TokenCounter,
    revocations: &Revocations,
    config: &Config,
    presented: &str,
    by: Presenter<'_>,
) -> Result<Refreshed, ApiError> {
    let hash = token_hash(presented);
    let now = clock::now();
    let Some(row) = refresh::find(tx, &hash)? else {
        return Ok(Refreshed::Refused("the refresh token is unknown"));
    };
    if row.integration_id.as_deref() != by.integration_id
        || by.client_id.is_some_and(|c| c != row.client_id)
    {
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
        revocations.revoke(tx, Kind::Family, &row.family_id)?;
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

/// How a code exchange ended. `Reused` must still be committed: it revoked a family.
pub enum Exchanged {
    Issued(Box<Session>),
    Refused(&'static str),
    Reused,
}

/// Exchanges an authorization code for `integration` (RFC 6749 §4.1.3, RFC 7636 §4.6) in
/// the caller's transaction: single use, bound to the integration and the redirect URI,
/// PKCE-checked when a challenge was sent. A second use revokes what the first issued.
#[allow(clippy::too_many_arguments)]
pub fn exchange_code(
    tx: &Conn<'_>,
    tokens: &Tokens,
    counter: &TokenCounter,
    revocations: &Revocations,
    config: &Config,
    integration: &crate::db::integrations::Integration,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
) -> Result<Exchanged, ApiError> {
    use crate::db::{codes, integrations};
    let hash = token_hash(code);
    let now = clock::now();
    let Some(row) = codes::find_auth_code(tx, &hash)? else {
        return Ok(Exchanged::Refused("the authorization code is unknown"));
    };
    if row.integration_id != integration.id {
        return Ok(Exchanged::Refused(
            "the authorization code was issued to another client",
        ));
    }
    if row.used || !codes::use_auth_code(tx, &hash, now)? {
        if let Some(family) = &row.family_id {
            refresh::revoke_family(tx, family, now)?;
            revocations.revoke(tx, Kind::Family, family)?;
        }
        return Ok(Exchanged::Reused);
    }
    if row.expires_at <= now {
        return Ok(Exchanged::Refused("the authorization code has expired"));
    }
    if redirect_uri.is_some_and(|r| r != row.redirect_uri) {
        return Ok(Exchanged::Refused(
            "redirect_uri does not match the authorization request",
        ));
    }
    if let Some(challenge) = &row.code_challenge {
        match verifier {
            Some(v) if crate::auth::linking::pkce_matches(challenge, v) => {}
            Some(_) => {
                return Ok(Exchanged::Refused(
                    "code_verifier does not match the code_challenge",
                ))
            }
            None => {
                return Ok(Exchanged::Refused(
                    "code_verifier is required for this code",
                ))
            }
        }
    }
    match users::find(tx, &integration.client_id, &row.user_id)? {
        Some(u) if !u.disabled => {}
        _ => {
            return Ok(Exchanged::Refused(
                "the user no longer exists or is disabled",
            ))
        }
    }
    integrations::upsert_link(tx, &integration.id, &row.user_id, &row.scope, now)?;
    let grant = Grant {
        user_id: &row.user_id,
        client_id: &integration.client_id,
        integration_id: Some(&integration.id),
        scope: &row.scope,
    };
    let session = start(tx, tokens, counter, config, &grant)?;
    if let Some(family) = session.access.claims.fam.as_deref() {
        codes::set_auth_code_family(tx, &hash, family)?;
    }
    Ok(Exchanged::Issued(Box::new(session)))
}
