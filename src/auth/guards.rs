//! `Authenticated`: the request guard for access tokens.
//!
//! It reads `Authorization` (Bearer, or Basic with the token as user name), verifies the
//! JWT (key by `kid`, algorithm pinned, `iss`/`aud`/`exp`/`nbf`; a token verified before
//! comes from [`Tokens`]' cache) and consults the in-memory revocation state on every
//! request: no database query. The outcome is cached per request.
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
    check(tokens, revocations, &token)
}

/// Verifies `token` (possibly from the cache) and then, always, asks `revocations`.
fn check(
    tokens: &Tokens,
    revocations: &Revocations,
    token: &str,
) -> Result<Authenticated, ApiError> {
    let claims = tokens.verify(token)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::revocation::Kind;
    use crate::auth::tokens::tests::fixture;
    use crate::auth::tokens::NewToken;

    #[test]
    fn a_revoked_token_is_refused_even_after_it_was_cached() {
        let f = fixture();
        let revocations = Revocations::default();
        revocations.set_client("cl_1", 1);
        let issued = f
            .tokens
            .issue(&NewToken {
                typ: TokenType::User,
                sub: "usr_1",
                cid: "cl_1",
                scope: "profile:read",
                azp: None,
                gen: None,
                fam: Some("fam_1"),
            })
            .unwrap();
        let token = issued.access_token.as_str();
        // Twice: the second answer comes from the verification cache.
        for _ in 0..2 {
            assert!(check(&f.tokens, &revocations, token).is_ok());
        }
        f.db.write_blocking(|tx| {
            Ok(revocations.revoke_until(tx, Kind::Jti, &issued.claims.jti, issued.claims.exp)?)
        })
        .unwrap();
        let err = check(&f.tokens, &revocations, token).unwrap_err();
        assert_eq!(err.code(), "invalid_token");
        assert!(f.tokens.verify(token).is_ok(), "still cached as signed");

        // The same for a revoked sign-in (refresh family).
        let other = f
            .tokens
            .issue(&NewToken {
                typ: TokenType::User,
                sub: "usr_2",
                cid: "cl_1",
                scope: "profile:read",
                azp: None,
                gen: None,
                fam: Some("fam_2"),
            })
            .unwrap();
        assert!(check(&f.tokens, &revocations, &other.access_token).is_ok());
        f.db.write_blocking(|tx| {
            Ok(revocations.revoke_until(tx, Kind::Family, "fam_2", i64::MAX)?)
        })
        .unwrap();
        assert!(check(&f.tokens, &revocations, &other.access_token).is_err());
    }
}
