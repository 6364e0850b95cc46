//! What the token endpoints hand out: client tokens, and user sessions made of a short
//! access token plus a rotating refresh token in a family.

use crate::db::Conn;
use rocket::serde::json::{json, Value};

use crate::auth::revocation::{Kind, Revocations};
use crate::auth::secrets::{new_token, token_key};
use crate::auth::tokens::{IssuedToken, NewToken, TokenType, Tokens};
use crate::clock;
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

fn typ_of(integration_id: Option<&str>) -> TokenType {
    if integration_id.is_some() {
        TokenType::Integration
    } else {
        TokenType::User
    }
}

/// A refresh token made before the transaction: random bytes and hashing are CPU work
/// that must not run on the single writer thread, which serialises every write.
pub struct NewRefresh {
    token: String,
    hash: String,
    /// Seconds it lives (`tokens.refresh_ttl`).
    ttl: i64,
}

impl NewRefresh {
    pub fn new(refresh_ttl_secs: u64) -> NewRefresh {
        let token = new_token("rt");
        NewRefresh {
            hash: token_key(&token),
            token,
            ttl: i64::try_from(refresh_ttl_secs).unwrap_or(i64::MAX),
        }
    }

    fn insert(self, tx: &Conn<'_>, family_id: &str) -> Result<String, ApiError> {
        let now = clock::now();
        let expires = now.saturating_add(self.ttl);
        refresh::insert_token(tx, &self.hash, family_id, now, expires)?;
        Ok(self.token)
    }
}

/// A session whose rows are written but whose access token is not signed yet: the caller
/// signs it with [`Unsigned::sign`] once the transaction has committed, off the writer
/// thread, so no token is ever handed out for a session that was rolled back.
pub struct Unsigned {
    user_id: String,
    client_id: String,
    integration_id: Option<String>,
    scope: String,
    family: String,
    refresh_token: String,
}

impl Unsigned {
    fn new(grant: &Grant<'_>, family: String, refresh_token: String) -> Unsigned {
        Unsigned {
            user_id: grant.user_id.to_owned(),
            client_id: grant.client_id.to_owned(),
            integration_id: grant.integration_id.map(str::to_owned),
            scope: grant.scope.to_owned(),
            family,
            refresh_token,
        }
    }

    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// Signs the access token; call only after the session's transaction committed.
    pub fn sign(self, tokens: &Tokens, counter: &TokenCounter) -> Result<Session, ApiError> {
        let typ = typ_of(self.integration_id.as_deref());
        let access = tokens.issue(&NewToken {
            typ,
            sub: &self.user_id,
            cid: &self.client_id,
            scope: &self.scope,
            azp: self.integration_id.as_deref(),
            gen: None,
            fam: Some(&self.family),
        })?;
        counter.count(&self.client_id);
        counter.count_type(typ);
        Ok(Session {
            access,
            refresh_token: self.refresh_token,
        })
    }
}

/// Starts family `family` (a new `fam_` id) for `grant` in the caller's transaction.
pub fn start(
    tx: &Conn<'_>,
    grant: &Grant<'_>,
    family: String,
    refresh: NewRefresh,
) -> Result<Unsigned, ApiError> {
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
    let refresh_token = refresh.insert(tx, &family)?;
    Ok(Unsigned::new(grant, family, refresh_token))
}

/// How a refresh attempt ended. `Reused` must still be committed: it revoked a family.
pub enum Refreshed {
    Rotated(Box<Unsigned>),
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

/// Rotates the refresh token whose [`token_key`] is `hash` in the caller's transaction,
/// replacing it with `next`. A token held by an integration must be presented with that
/// integration's credentials, and only by it.
pub fn rotate(
    tx: &Conn<'_>,
    revocations: &Revocations,
    hash: &str,
    by: Presenter<'_>,
    next: NewRefresh,
) -> Result<Refreshed, ApiError> {
    let now = clock::now();
    let Some(row) = refresh::find(tx, hash)? else {
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
    if row.used || !refresh::mark_used(tx, hash, now)? {
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
    let refresh_token = next.insert(tx, &row.family_id)?;
    let unsigned = Unsigned::new(&grant, row.family_id.clone(), refresh_token);
    Ok(Refreshed::Rotated(Box::new(unsigned)))
}

/// How a code exchange ended. `Reused` must still be committed: it revoked a family.
pub enum Exchanged {
    Issued(Box<Unsigned>),
    Refused(&'static str),
    Reused,
}

/// What a code exchange presents: the code's [`token_key`], the `redirect_uri` and the
/// PKCE `code_verifier` when sent.
pub struct CodeRequest<'a> {
    pub hash: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub verifier: Option<&'a str>,
}

/// Exchanges an authorization code for `integration` (RFC 6749 §4.1.3, RFC 7636 §4.6) in
/// the caller's transaction: single use, bound to the integration and the redirect URI,
/// PKCE-checked when a challenge was sent. A second use revokes what the first issued.
/// The session starts as family `family` with refresh token `refresh`.
pub fn exchange_code(
    tx: &Conn<'_>,
    revocations: &Revocations,
    integration: &crate::db::integrations::Integration,
    code: &CodeRequest<'_>,
    family: String,
    refresh: NewRefresh,
) -> Result<Exchanged, ApiError> {
    use crate::db::{codes, integrations};
    let CodeRequest {
        hash,
        redirect_uri,
        verifier,
    } = *code;
    let now = clock::now();
    let Some(row) = codes::find_auth_code(tx, hash)? else {
        return Ok(Exchanged::Refused("the authorization code is unknown"));
    };
    if row.integration_id != integration.id {
        return Ok(Exchanged::Refused(
            "the authorization code was issued to another client",
        ));
    }
    if row.used || !codes::use_auth_code(tx, hash, now)? {
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
    let session = start(tx, &grant, family, refresh)?;
    codes::set_auth_code_family(tx, hash, &session.family)?;
    Ok(Exchanged::Issued(Box::new(session)))
}
