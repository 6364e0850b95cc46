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
//! - Tokens that passed those checks are remembered (a bounded cache keyed by the SHA-256
//!   of the token), so a token presented again skips the signature check: a hit is
//!   accepted only while the token is unexpired (same [`LEEWAY`]) and its key is still
//!   published. Revocation is never cached: the guard asks [`Revocations`] every time.
//!
//! [`Revocations`]: super::revocation::Revocations

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::Validation;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keys::KeyRing;
use super::secrets::random_nonce;
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
    verified: Arc<VerifiedCache>,
}

/// How many verified tokens are remembered: shards × entries per shard. An entry is a
/// few hundred bytes, so the cache stays under a few MiB.
const CACHE_SHARDS: usize = 16;
const CACHE_PER_SHARD: usize = 512;

/// A token that passed [`Tokens::verify`], and the key that signed it.
struct Verified {
    claims: Claims,
    kid: String,
}

/// Tokens already verified, by SHA-256 of the token, in shards so that concurrent
/// requests rarely wait on the same lock. Bounded: a full shard first drops its expired
/// entries, then an arbitrary one.
struct VerifiedCache {
    shards: Vec<Mutex<HashMap<[u8; 32], Arc<Verified>>>>,
}

impl VerifiedCache {
    fn new() -> VerifiedCache {
        VerifiedCache {
            shards: (0..CACHE_SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    fn shard(&self, key: &[u8; 32]) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Arc<Verified>>> {
        // The key is a hash already: its first byte picks a shard evenly.
        self.shards[usize::from(key[0]) % CACHE_SHARDS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, key: &[u8; 32]) -> Option<Arc<Verified>> {
        self.shard(key).get(key).cloned()
    }

    fn remove(&self, key: &[u8; 32]) {
        self.shard(key).remove(key);
    }

    fn insert(&self, key: [u8; 32], entry: Verified) {
        let mut shard = self.shard(&key);
        if shard.len() >= CACHE_PER_SHARD {
            let now = clock::now();
            shard.retain(|_, v| !expired(&v.claims, now));
            if shard.len() >= CACHE_PER_SHARD {
                if let Some(k) = shard.keys().next().copied() {
                    shard.remove(&k);
                }
            }
        }
        shard.insert(key, Arc::new(entry));
    }
}

/// `exp` checked as jsonwebtoken checks it: expired once `exp < now - LEEWAY`.
fn expired(claims: &Claims, now: i64) -> bool {
    claims.exp < now.saturating_sub(LEEWAY as i64)
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
            verified: Arc::new(VerifiedCache::new()),
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
            jti: random_nonce(),
            cid: new.cid.to_owned(),
            typ: new.typ,
            scope: new.scope.to_owned(),
            azp: new.azp.map(str::to_owned),
            gen: new.gen,
            fam: new.fam.map(str::to_owned),
        };
        let signer = self.keys.signer();
        let json = |e: serde_json::Error| TokenError::Signing(e.to_string());
        let mut access_token = String::with_capacity(512);
        access_token.push_str(signer.encoded_header());
        access_token.push('.');
        URL_SAFE_NO_PAD.encode_string(
            serde_json::to_vec(&claims).map_err(json)?,
            &mut access_token,
        );
        let signature = signer
            .sign(access_token.as_bytes())
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        access_token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut access_token);
        Ok(IssuedToken {
            access_token,
            expires_in: ttl,
            claims,
        })
    }

    /// Checks a token: known `kid`, that key's algorithm only, signature, `exp`/`nbf`
    /// within [`LEEWAY`], `iss`, `aud`, and well-formed claims. Not revocation.
    /// A token verified before is answered from the cache while unexpired and its key
    /// still published.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(hit) = self.verified.get(&key) {
            if expired(&hit.claims, clock::now()) {
                self.verified.remove(&key);
                return Err(TokenError::Expired);
            }
            if self.keys.verifier(&hit.kid).is_some() {
                return Ok(hit.claims.clone());
            }
            self.verified.remove(&key);
        }
        let (claims, kid) = self.verify_signed(token)?;
        self.verified.insert(
            key,
            Verified {
                claims: claims.clone(),
                kid,
            },
        );
        Ok(claims)
    }

    /// The full check, without the cache; returns the claims and the signing key's kid.
    fn verify_signed(&self, token: &str) -> Result<(Claims, String), TokenError> {
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
        Ok((claims, kid.to_owned()))
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
pub(crate) mod tests {
    use super::*;
    use crate::db::Db;

    pub(crate) struct Fixture {
        _dir: tempfile::TempDir,
        pub db: Db,
        pub tokens: Tokens,
    }

    /// Tokens over a fresh database with a new EdDSA key.
    pub(crate) fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::load(None).unwrap();
        config.database.path = dir.path().join("set.db");
        let db = Db::open((&config.database).into()).unwrap();
        let mk = crate::auth::master_key::MasterKey::load_or_create(
            &dir.path().join("master.key"),
            true,
        )
        .unwrap();
        let secrets = crate::auth::secrets::Secrets::new(&mk);
        let keys = KeyRing::open(db.clone(), secrets, &config.tokens).unwrap();
        Fixture {
            _dir: dir,
            db,
            tokens: Tokens::new(keys, &config),
        }
    }

    fn user_token(tokens: &Tokens) -> IssuedToken {
        tokens
            .issue(&NewToken {
                typ: TokenType::User,
                sub: "usr_1",
                cid: "cl_1",
                scope: "profile:read",
                azp: None,
                gen: None,
                fam: Some("fam_1"),
            })
            .unwrap()
    }

    fn cache_key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    #[test]
    fn issued_tokens_verify_and_are_cached_after_the_first_check() {
        let f = fixture();
        let issued = user_token(&f.tokens);
        let key = cache_key(&issued.access_token);
        assert!(f.tokens.verified.get(&key).is_none());
        assert_eq!(
            f.tokens.verify(&issued.access_token).unwrap(),
            issued.claims
        );
        assert!(f.tokens.verified.get(&key).is_some());
        assert_eq!(
            f.tokens.verify(&issued.access_token).unwrap(),
            issued.claims
        );
        // A token with one character changed is another key: fully checked, refused.
        let mut forged = issued.access_token.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        assert!(f.tokens.verify(&forged).is_err());
    }

    #[test]
    fn an_expired_cached_token_is_refused() {
        let f = fixture();
        let issued = user_token(&f.tokens);
        f.tokens.verify(&issued.access_token).unwrap();
        // Time passes: the cached entry now holds an `exp` beyond the leeway.
        let key = cache_key(&issued.access_token);
        let mut claims = issued.claims.clone();
        claims.exp = clock::now() - LEEWAY as i64 - 1;
        let kid = f.tokens.keys().signer().kid().to_owned();
        f.tokens.verified.insert(key, Verified { claims, kid });
        assert_eq!(
            f.tokens.verify(&issued.access_token),
            Err(TokenError::Expired)
        );
        assert!(
            f.tokens.verified.get(&key).is_none(),
            "dropped from the cache"
        );
    }

    #[test]
    fn a_cached_token_whose_key_is_gone_is_checked_again() {
        let f = fixture();
        let issued = user_token(&f.tokens);
        let key = cache_key(&issued.access_token);
        f.tokens.verify(&issued.access_token).unwrap();
        let mut entry = Verified {
            claims: issued.claims.clone(),
            kid: "gone".into(),
        };
        entry.claims.sub = "usr_other".into();
        f.tokens.verified.insert(key, entry);
        // The entry names an unpublished key: ignored, and the token verified afresh.
        assert_eq!(f.tokens.verify(&issued.access_token).unwrap().sub, "usr_1");
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = VerifiedCache::new();
        let claims = Claims {
            iss: "i".into(),
            sub: "s".into(),
            aud: "a".into(),
            exp: i64::MAX,
            iat: 0,
            nbf: 0,
            jti: "j".into(),
            cid: "c".into(),
            typ: TokenType::User,
            scope: String::new(),
            azp: None,
            gen: None,
            fam: None,
        };
        for i in 0..(CACHE_SHARDS * CACHE_PER_SHARD * 3) as u32 {
            let key = cache_key(&i.to_string());
            cache.insert(
                key,
                Verified {
                    claims: claims.clone(),
                    kid: "k".into(),
                },
            );
        }
        let total: usize = cache.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= CACHE_SHARDS * CACHE_PER_SHARD, "{total}");
    }

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
