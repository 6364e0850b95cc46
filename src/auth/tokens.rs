//! Access tokens: JWTs signed with the current key of the [`KeyRing`], with the claims
//! API.md fixes ("Tokens").
//!
//! - `iss` is the configured public URL, and so is `aud`: the API that accepts these
//!   tokens is this server at that URL. A token minted by another Set Server (another
//!   URL) is refused even if it were signed with a copied key, and a verifier elsewhere
//!   checks `aud` against the same URL it fetches JWKS from.
//! - [`Tokens::verify`] looks the key up by `kid` and accepts only that key's algorithm:
//!   `alg: none`, HS256 keyed with a public key, or any algorithm swap is refused before a
//!   signature is checked. Then signature, `exp` and `nbf` (with [`LEEWAY`]), `iss`, `aud`.
//!   Revocation is not checked here; the request guard does that on top.

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::{Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::KeyRing;
use super::secrets::random_token;
use crate::clock;
use crate::config::Config;
use crate::error::ApiError;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY: u64 = 30;

/// The longest token looked at. Ours are under 1 KiB (RS256 included).
pub const MAX_TOKEN_LEN: usize = 4096;

/// Every scope a token can carry, as RFC 8414 metadata lists them.
pub const SCOPES_SUPPORTED: [&str; 6] = [
    "users:create",
    "profile:read",
    "profile:write",
    "events:read",
    "events:write",
    "integrations:link",
];

/// Who a token speaks for: `typ` in the claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// A client (app) token: `sub` = `cid` = the client id.
    Client,
    /// A user token: `sub` = the user id.
    User,
    /// An integration token: `sub` = the user id, `azp` = the integration id.
    Integration,
}

/// The claims of every access token, exactly as API.md lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    /// The client id.
    pub cid: String,
    pub typ: TokenType,
    /// Space-separated scopes.
    pub scope: String,
    /// The integration id, on integration tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Client tokens: the client secret's generation when issued. Rotating the secret
    /// raises it, so older client tokens fail at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gen: Option<u32>,
    /// User and integration tokens: the refresh family (sign-in) they came from, so
    /// revoking the family ends its access tokens too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
}

impl Claims {
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_ascii_whitespace()
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }
}

/// What to put in a new token; the rest (`iss`, `aud`, times, `jti`) is filled in.
#[derive(Debug, Clone, Copy)]
pub struct NewToken<'a> {
    pub typ: TokenType,
    pub sub: &'a str,
    pub cid: &'a str,
    pub scope: &'a str,
    /// Required for [`TokenType::Integration`], refused otherwise.
    pub azp: Option<&'a str>,
    /// See [`Claims::gen`].
    pub gen: Option<u32>,
    /// See [`Claims::fam`].
    pub fam: Option<&'a str>,
}

/// A signed token and what it says. `Debug` hides the token itself.
#[derive(Clone)]
pub struct IssuedToken {
    pub access_token: String,
    /// Seconds until `exp`, for the `expires_in` field of responses.
    pub expires_in: u64,
    pub claims: Claims,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &"***")
            .field("expires_in", &self.expires_in)
            .field("claims", &self.claims)
            .finish()
    }
}

/// Why a token was refused (or could not be made). Every variant but `Signing` is a
/// 401 `invalid_token`; the texts never repeat the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token was not signed by a key this server publishes")]
    UnknownKey,
    #[error("the token's algorithm is not its key's algorithm")]
    WrongAlgorithm,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the token's claims are missing or malformed")]
    BadClaims,
    /// Signing failed: a server fault (500), never the caller's.
    #[error("cannot sign the token: {0}")]
    Signing(String),
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Signing(_) => ApiError::internal(e),
            other => ApiError::InvalidToken(other.to_string()),
        }
    }
}

/// Issues and verifies access tokens. Rocket state; cheap to clone.
#[derive(Clone)]
pub struct Tokens {
    keys: KeyRing,
    settings: Arc<Settings>,
}

struct Settings {
    issuer: String,
    audience: String,
    access_ttl: u64,
    /// One per algorithm we sign with, each accepting that algorithm only.
    validations: [(jsonwebtoken::Algorithm, Validation); 3],
}

impl Tokens {
    /// Tokens for the server at `config.server.public_url`, living `tokens.access_ttl`.
    pub fn new(keys: KeyRing, config: &Config) -> Tokens {
        let issuer = config.server.public_url.as_str().to_owned();
        let audience = issuer.clone();
        let validation = |alg| {
            let mut v = Validation::new(alg);
            v.leeway = LEEWAY;
            v.validate_exp = true;
            v.validate_nbf = true;
            v.validate_aud = true;
            v.set_issuer(&[&issuer]);
            v.set_audience(&[&audience]);
            v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
            (alg, v)
        };
        use jsonwebtoken::Algorithm as A;
        let validations = [
            validation(A::EdDSA),
            validation(A::ES256),
            validation(A::RS256),
        ];
        Tokens {
            keys,
            settings: Arc::new(Settings {
                issuer: issuer.clone(),
                audience: audience.clone(),
                access_ttl: config.tokens.access_ttl.secs(),
                validations,
            }),
        }
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    pub fn audience(&self) -> &str {
        &self.settings.audience
    }

    /// Access-token lifetime in seconds.
    pub fn access_ttl(&self) -> u64 {
        self.settings.access_ttl
    }

    /// Signs a new access token with the current key (its `kid` in the header). Fails
    /// with `BadClaims` when `azp` does not match `typ`, `Signing` if the key fails.
    pub fn issue(&self, new: &NewToken<'_>) -> Result<IssuedToken, TokenError> {
        if (new.typ == TokenType::Integration) != new.azp.is_some() {
            return Err(TokenError::BadClaims);
        }
        let now = clock::now();
        let ttl = self.settings.access_ttl;
        let claims = Claims {
            iss: self.settings.issuer.clone(),
            sub: new.sub.to_owned(),
            aud: self.settings.audience.clone(),
            exp: now.saturating_add(ttl as i64),
            iat: now,
            nbf: now,
            jti: random_token(16),
            cid: new.cid.to_owned(),
            typ: new.typ,
            scope: new.scope.to_owned(),
            azp: new.azp.map(str::to_owned),
            gen: new.gen,
            fam: new.fam.map(str::to_owned),
        };
        let signer = self.keys.signer();
        let mut header = Header::new(signer.algorithm());
        header.kid = Some(signer.kid().to_owned());
        let access_token = jsonwebtoken::encode(&header, &claims, signer.encoding_key())
            .map_err(|e| TokenError::Signing(format!("{:?}", e.kind())))?;
        Ok(IssuedToken {
            access_token,
            expires_in: ttl,
            claims,
        })
    }

    /// Checks a token: known `kid`, that key's algorithm only, signature, `exp`/`nbf`
    /// within [`LEEWAY`], `iss`, `aud`, and well-formed claims. Not revocation.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        // The header is read unverified only to pick the key; nothing else trusts it.
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
        let verifier = self.keys.verifier(kid).ok_or(TokenError::UnknownKey)?;
        if header.alg != verifier.algorithm() {
            return Err(TokenError::WrongAlgorithm);
        }
        let validation = self
            .settings
            .validations
            .iter()
            .find(|(alg, _)| *alg == verifier.algorithm())
            .map(|(_, v)| v)
            .ok_or(TokenError::WrongAlgorithm)?;
        let data = jsonwebtoken::decode::<Claims>(token, verifier.decoding_key(), validation)
            .map_err(|e| classify(e.kind()))?;
        let claims = data.claims;
        if (claims.typ == TokenType::Integration) != claims.azp.is_some() {
            return Err(TokenError::BadClaims);
        }
        Ok(claims)
    }
}

fn classify(kind: &jsonwebtoken::errors::ErrorKind) -> TokenError {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::InvalidSignature => TokenError::BadSignature,
        K::ExpiredSignature => TokenError::Expired,
        K::ImmatureSignature => TokenError::NotYetValid,
        K::InvalidIssuer => TokenError::WrongIssuer,
        K::InvalidAudience => TokenError::WrongAudience,
        K::InvalidAlgorithm | K::MissingAlgorithm => TokenError::WrongAlgorithm,
        K::MissingRequiredClaim(_) | K::InvalidClaimFormat(_) | K::InvalidSubject => {
            TokenError::BadClaims
        }
        // A payload that parses as JSON but not as our claims lands here too.
        K::Json(_) => TokenError::BadClaims,
        _ => TokenError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_serialize_with_the_api_names_and_without_empty_azp() {
        let c = Claims {
            iss: "https://a".into(),
            sub: "usr_1".into(),
            aud: "https://a".into(),
            exp: 2,
            iat: 1,
            nbf: 1,
            jti: "j".into(),
            cid: "cl_1".into(),
            typ: TokenType::User,
            scope: "profile:read events:read".into(),
            azp: None,
            gen: None,
            fam: None,
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["typ"], "user");
        assert!(v.get("azp").is_none());
        assert!(c.has_scope("events:read"));
        assert!(!c.has_scope("events"));
        let i = Claims {
            typ: TokenType::Integration,
            azp: Some("int_1".into()),
            ..c
        };
        assert_eq!(serde_json::to_value(&i).unwrap()["azp"], "int_1");
    }

    #[test]
    fn api_error_mapping_hides_internals() {
        let e: ApiError = TokenError::Expired.into();
        assert_eq!(e.code(), "invalid_token");
        let e: ApiError = TokenError::Signing("detail".into()).into();
        assert_eq!(e.code(), "server_error");
    }
}
