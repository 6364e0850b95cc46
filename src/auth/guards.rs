//! `Authenticated`: the request guard for access tokens.
//!
//! It reads `Authorization` (Bearer, or Basic with the token as user name), verifies the
//! JWT (key by `kid`, algorithm pinned, `iss`/`aud`/`exp`/`nbf`) and consults the
//! in-memory revocation state: no database query. The outcome is cached per request.
//! Holding an `Authenticated` is the proof; scopes are checked in the handler with
//! [`Authenticated::require`].

use rocket::request::{FromRequest, Outcome, Request};

use crate::auth::header::parse_authorization;
use crate::auth::revocation::Revocations;
use crate::auth::tokens::{Claims, TokenType, Tokens};
use crate::error::{ApiError, GuardError};

/// The scopes a route can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    UsersCreate,
    ProfileRead,
    ProfileWrite,
    EventsRead,
    EventsWrite,
    IntegrationsLink,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::UsersCreate => "users:create",
            Scope::ProfileRead => "profile:read",
            Scope::ProfileWrite => "profile:write",
            Scope::EventsRead => "events:read",
            Scope::EventsWrite => "events:write",
            Scope::IntegrationsLink => "integrations:link",
        }
    }
}

/// A verified, unrevoked access token.
#[derive(Debug, Clone)]
pub struct Authenticated {
    claims: Claims,
}

impl Authenticated {
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// 403 `insufficient_scope` unless the token carries `scope`.
    pub fn require(&self, scope: Scope) -> Result<&Self, ApiError> {
        if self.claims.has_scope(scope.as_str()) {
            Ok(self)
        } else {
            Err(ApiError::InsufficientScope(format!(
                "this call needs the scope {}",
                scope.as_str()
            )))
        }
    }

    /// The user this token speaks for: (client id, user id). Client tokens have none.
    pub fn user(&self) -> Result<(&str, &str), ApiError> {
        match self.claims.typ {
            TokenType::User | TokenType::Integration => Ok((&self.claims.cid, &self.claims.sub)),
            TokenType::Client => Err(ApiError::InsufficientScope(
                "a client token cannot act for a user; use a user token".into(),
            )),
        }
    }

    /// 403 unless this is a user token (not an integration's).
    pub fn require_user_token(&self) -> Result<(&str, &str), ApiError> {
        match self.claims.typ {
            TokenType::User => self.user(),
            _ => Err(ApiError::InsufficientScope(
                "this call needs a user token".into(),
            )),
        }
    }
}

fn authenticate(req: &Request<'_>) -> Result<Authenticated, ApiError> {
    let header = req
        .headers()
        .get_one("Authorization")
        .ok_or_else(|| ApiError::InvalidToken("an access token is required".into()))?;
    let token = parse_authorization(header).map_err(|e| ApiError::InvalidToken(e.to_string()))?;
    let (tokens, revocations) = match (
        req.rocket().state::<Tokens>(),
        req.rocket().state::<Revocations>(),
    ) {
        (Some(t), Some(r)) => (t, r),
        _ => return Err(ApiError::internal("token guard without state")),
    };
    let claims = tokens.verify(&token)?;
    if let Some(why) = revocations.refusal(&claims) {
        return Err(ApiError::InvalidToken(why.into()));
    }
    Ok(Authenticated { claims })
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Authenticated {
    type Error = ApiError;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match req.local_cache(|| authenticate(req)) {
            Ok(auth) => Outcome::Success(auth.clone()),
            Err(e) => Outcome::Error(GuardError::stash(req, e.duplicate())),
        }
    }
}
