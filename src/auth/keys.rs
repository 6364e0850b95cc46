//! The signing keys a server holds in memory: one current key that signs, and the keys
//! that verify (the current one and recently retired ones), kept in step with the
//! `signing_keys` table.
//!
//! The first start generates a key of the configured `tokens.algorithm`; a start with a
//! different algorithm configured rotates to a new key of that algorithm. `set-server keys
//! rotate` (another process, same database) inserts a new current key and retires the old
//! one; the retired key stays for verification and in JWKS until every token it can have
//! signed has expired (`not_after`).
//!
//! How a running server notices a rotation: `cluster::catch_up` re-reads the (tiny) list
//! of published keys every 500 ms (and at once on a PostgreSQL notification) and rebuilds
//! the ring only when it changed. A token with an unknown `kid` does *not* trigger a
//! reload: anyone can send such tokens, and they must not buy database reads. The cost is
//! that for up to that poll after a rotation this server still signs with the old key, which is harmless: the old key
//! stays valid for verification until `not_after`, whose margin ([`RETIREMENT_GRACE`])
//! covers that delay and the clock leeway.
//!
//! Private keys are decrypted and parsed once, when a key becomes current, never per
//! token; a retired key's private half is erased from the table at retirement.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rocket::fairing::AdHoc;
use serde::Serialize;

use super::jwk::{self, JwkError, PrivateKeyDer, PublicJwk};
use super::secrets::{Secrets, SecretsError};
use crate::clock;
use crate::config::{self, Algorithm};
use crate::db::signing_keys::{self, NewSigningKey, SigningKeyRow};
use crate::db::Db;
use crate::error::ApiError;

/// How often a running server rotates and prunes keys when they are due (once per period
/// for a cluster); well above the 500 ms in which it notices another process's rotation.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// Seconds a retired key stays published beyond the access-token lifetime: covers the
/// delay before every server stops signing with it (a 500 ms poll), and clock leeway.
pub const RETIREMENT_GRACE: i64 = 60;

/// Why keys could not be created, loaded or rotated.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing keys: {0}")]
    Db(#[from] ApiError),
    #[error(
        "the signing key {kid} cannot be decrypted ({source}); start with the master key \
         that encrypted it (every node sharing a database needs the same master.key: copy \
         it from the node that created the database)"
    )]
    Decrypt { kid: String, source: SecretsError },
    #[error("the signing key {kid} is unusable: {problem}")]
    Invalid { kid: String, problem: String },
    #[error("cannot generate a signing key: {0}")]
    Generate(#[from] JwkError),
    #[error("the signing_keys table has no current key")]
    NoCurrentKey,
}

/// The key that signs new tokens. `Debug` shows only the kid and algorithm.
pub struct Signer {
    kid: String,
    algorithm: jsonwebtoken::Algorithm,
    /// The JWS header of every token this key signs, serialised and base64url-encoded
    /// once, here, rather than per token.
    encoded_header: String,
    key: EncodingKey,
    ready: ReadyKey,
}

/// The private key parsed once: `jsonwebtoken::encode` re-parses the DER on every token
/// (for RSA that costs more than the signature), so tokens are signed with this instead.
/// aws-lc signs (see `Cargo.toml`); the RustCrypto crates still generate the keys, and
/// the self-test at load checks both against the published key.
enum ReadyKey {
    Ed(aws_lc_rs::signature::Ed25519KeyPair),
    Es(aws_lc_rs::signature::EcdsaKeyPair),
    Rs(aws_lc_rs::signature::RsaKeyPair),
}

impl ReadyKey {
    /// `der` as stored: PKCS#8 for EdDSA and ES256, PKCS#1 for RS256 (`jwk::generate`).
    fn parse(alg: Algorithm, der: &[u8]) -> Option<ReadyKey> {
        use aws_lc_rs::signature as sig;
        Some(match alg {
            Algorithm::EdDSA => {
                ReadyKey::Ed(sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).ok()?)
            }
            Algorithm::ES256 => ReadyKey::Es(
                sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, der).ok()?,
            ),
            Algorithm::RS256 => ReadyKey::Rs(sig::RsaKeyPair::from_der(der).ok()?),
        })
    }
}

/// aws-lc refused to sign (it says no more); ECDSA and RSA draw randomness, which can fail.
#[derive(Debug, thiserror::Error)]
#[error("the signing key could not sign")]
pub struct SignError;

impl Signer {
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> jsonwebtoken::Algorithm {
        self.algorithm
    }

    /// The first part of a token: `{"typ":"JWT","alg":…,"kid":…}` in base64url.
    pub fn encoded_header(&self) -> &str {
        &self.encoded_header
    }

    pub fn encoding_key(&self) -> &EncodingKey {
        &self.key
    }

    /// The JWS signature of `message` (RFC 7518 §3: raw Ed25519, P-256 `r || s`, or
    /// RSASSA-PKCS1-v1_5 with SHA-256), with the key parsed at load.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        use aws_lc_rs::rand::SystemRandom;
        match &self.ready {
            ReadyKey::Ed(k) => Ok(k.sign(message).as_ref().to_vec()),
            ReadyKey::Es(k) => k
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignError),
            ReadyKey::Rs(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut sig,
                )
                .map_err(|_| SignError)?;
                Ok(sig)
            }
        }
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signer({} {:?}, key ***)", self.kid, self.algorithm)
    }
}

/// A key that verifies tokens carrying its `kid`, with the one algorithm it accepts.
pub struct Verifier {
    algorithm: jsonwebtoken::Algorithm,
    key: DecodingKey,
    /// End of publication for a retired key; `None` while current.
    not_after: Option<i64>,
    published: PublishedJwk,
}

impl Verifier {
    pub fn algorithm(&self) -> jsonwebtoken::Algorithm {
        self.algorithm
    }

    pub fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }

    /// Whether the key may still verify at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        self.not_after.is_none_or(|t| now < t)
    }
}

/// One entry of the JWKS document: the public JWK plus `kid`, `alg` and `use`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishedJwk {
    #[serde(flatten)]
    pub jwk: PublicJwk,
    pub kid: String,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub new_kid: String,
    pub algorithm: Algorithm,
    pub retired_kid: Option<String>,
    /// Until when the retired key stays published (unix seconds).
    pub retired_until: Option<i64>,
}

/// The signing keys as Rocket state: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    secrets: Secrets,
    algorithm: Algorithm,
    /// Seconds from retirement to `not_after`: the access-token lifetime plus grace.
    retire_for: i64,
    /// Seconds a key signs before automatic rotation (`tokens.rotate_every`).
    rotate_every: i64,
    loaded: RwLock<Loaded>,
}

struct Loaded {
    signer: Arc<Signer>,
    verifiers: HashMap<String, Arc<Verifier>>,
    /// Kids newest first, for a stable JWKS order.
    order: Vec<String>,
    /// What the table looked like: (kid, retired_at) of every published key.
    fingerprint: Vec<(String, Option<i64>)>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyRing(current {})", self.signer().kid)
    }
}

impl KeyRing {
    /// Makes sure a current key of the configured algorithm exists (generating one on
    /// first start), then loads the ring. Blocking: call it before launch.
    pub fn open(db: Db, secrets: Secrets, tokens: &config::Tokens) -> Result<KeyRing, KeyError> {
        let retire_for = tokens.access_ttl.secs() as i64 + RETIREMENT_GRACE;
        let current = db.read_blocking(|c| Ok(signing_keys::find_current(c)?))?;
        let fits = current
            .as_ref()
            .is_some_and(|row| row.algorithm == jwk::algorithm_name(tokens.algorithm));
        if !fits {
            let rotated = rotate_in(&db, &secrets, tokens.algorithm, retire_for, true)?;
            if let Some(r) = rotated {
                tracing::info!(
                    "new {} signing key {}{}",
                    jwk::algorithm_name(r.algorithm),
                    r.new_kid,
                    r.retired_kid
                        .map(|k| format!(" (retired {k}: tokens.algorithm changed)"))
                        .unwrap_or_default()
                );
            }
        }
        let rows = db.read_blocking(|c| Ok(signing_keys::list_published(c, clock::now())?))?;
        let loaded = build(&rows, &secrets, None)?;
        Ok(KeyRing {
            inner: Arc::new(Inner {
                db,
                secrets,
                algorithm: tokens.algorithm,
                retire_for,
                rotate_every: tokens.rotate_every.secs() as i64,
                loaded: RwLock::new(loaded),
            }),
        })
    }

    /// The key that signs new tokens.
    pub fn signer(&self) -> Arc<Signer> {
        self.read().signer.clone()
    }

    /// The key for `kid`, if it is published and still live.
    pub fn verifier(&self, kid: &str) -> Option<Arc<Verifier>> {
        self.read()
            .verifiers
            .get(kid)
            .filter(|v| v.is_live(clock::now()))
            .cloned()
    }

    /// Every live public key, newest first: the JWKS `keys` array.
    pub fn jwks(&self) -> Vec<PublishedJwk> {
        let now = clock::now();
        let loaded = self.read();
        loaded
            .order
            .iter()
            .filter_map(|kid| loaded.verifiers.get(kid))
            .filter(|v| v.is_live(now))
            .map(|v| v.published.clone())
            .collect()
    }

    /// Makes a new current key of the configured algorithm and retires the old one (which
    /// keeps verifying until its `not_after`), then reloads. Blocking.
    pub fn rotate(&self) -> Result<Rotation, KeyError> {
        let i = &self.inner;
        let rotation = rotate_in(&i.db, &i.secrets, i.algorithm, i.retire_for, false)?
            .ok_or(KeyError::NoCurrentKey)?;
        self.reload_blocking()?;
        Ok(rotation)
    }

    /// Automatic rotation and pruning, run by the reloader: rotates when the current key
    /// is `tokens.rotate_every` old at `now`, and deletes retired keys whose tokens have
    /// all expired. Blocking. Returns the rotation, if one happened.
    pub fn maintain(&self, now: i64) -> Result<Option<Rotation>, KeyError> {
        let i = &self.inner;
        let pruned =
            i.db.write_blocking(move |tx| Ok(signing_keys::prune_retired(tx, now)?))?;
        let current = i.db.read_blocking(|c| Ok(signing_keys::find_current(c)?))?;
        let due = current.is_some_and(|k| now - k.created_at >= i.rotate_every);
        let rotation = if due {
            rotate_in(&i.db, &i.secrets, i.algorithm, i.retire_for, false)?
        } else {
            None
        };
        if let Some(r) = &rotation {
            let kid = r.new_kid.clone();
            i.db.write_blocking(move |tx| {
                Ok(crate::audit::by_server(
                    tx,
                    "system",
                    "key.rotated",
                    Some(&kid),
                    None,
                )?)
            })?;
            tracing::info!("rotated the signing key on schedule; new key {}", r.new_kid);
        }
        if pruned > 0 || rotation.is_some() {
            self.reload_blocking()?;
        }
        Ok(rotation)
    }

    /// Re-reads the published keys and rebuilds the ring if they changed (a rotation by
    /// another process, or a retired key reaching `not_after`). Returns whether it changed.
    pub async fn reload(&self) -> Result<bool, KeyError> {
        let ring = self.clone();
        rocket::tokio::task::spawn_blocking(move || ring.reload_blocking())
            .await
            .map_err(|e| KeyError::Db(ApiError::internal(e)))?
    }

    /// The blocking form of [`KeyRing::reload`].
    pub fn reload_blocking(&self) -> Result<bool, KeyError> {
        let rows = self
            .inner
            .db
            .read_blocking(|c| Ok(signing_keys::list_published(c, clock::now())?))?;
        if fingerprint(&rows) == self.read().fingerprint {
            return Ok(false);
        }
        let next = build(&rows, &self.inner.secrets, Some(&self.read()))?;
        let mut loaded = self
            .inner
            .loaded
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if loaded.signer.kid != next.signer.kid {
            tracing::info!("signing with key {} from now on", next.signer.kid);
        }
        *loaded = next;
        Ok(true)
    }

    /// A fairing that, once the server is up, rotates and prunes keys when due, checked
    /// every [`RELOAD_EVERY`] until shutdown.
    pub fn reloader(&self) -> AdHoc {
        let ring = self.clone();
        AdHoc::on_liftoff("signing key reload", move |rocket| {
            let shutdown = rocket.shutdown();
            Box::pin(async move {
                rocket::tokio::spawn(async move {
                    let mut tick = rocket::tokio::time::interval(RELOAD_EVERY);
                    tick.set_missed_tick_behavior(rocket::tokio::time::MissedTickBehavior::Skip);
                    rocket::tokio::pin!(shutdown);
                    loop {
                        rocket::tokio::select! {
                            _ = &mut shutdown => break,
                            _ = tick.tick() => {
                                // Reloading is `cluster::catch_up`'s, every 500 ms.
                                let maintained = ring.clone();
                                let done = rocket::tokio::task::spawn_blocking(move || {
                                    // One node of a cluster per period: two nodes rotating
                                    // at once would retire each other's new key.
                                    let db = &maintained.inner.db;
                                    if !db.claim_job("key_maintenance", RELOAD_EVERY)? {
                                        return Ok(None);
                                    }
                                    maintained.maintain(clock::now())
                                })
                                .await;
                                if let Ok(Err(e)) = done {
                                    tracing::warn!("rotating or pruning signing keys: {e}");
                                }
                            }
                        }
                    }
                });
            })
        })
    }

    // A panic while holding the lock cannot leave a half-built ring (it is swapped whole),
    // so a poisoned lock still guards a consistent value.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.inner
            .loaded
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn fingerprint(rows: &[SigningKeyRow]) -> Vec<(String, Option<i64>)> {
    rows.iter().map(|r| (r.kid.clone(), r.retired_at)).collect()
}

/// Generates a key and, in one transaction, retires the current key and inserts the new
/// one. With `only_if_missing`, does nothing (returns `None`) when a current key of `alg`
/// already exists by then — two processes starting at once make one key, not two.
/// The key is generated before the transaction: RSA generation is slow, and the write
/// lock is shared with every request.
fn rotate_in(
    db: &Db,
    secrets: &Secrets,
    alg: Algorithm,
    retire_for: i64,
    only_if_missing: bool,
) -> Result<Option<Rotation>, KeyError> {
    let pair = jwk::generate(alg)?;
    let kid = pair.public.thumbprint();
    let sealed = secrets
        .seal(pair.private.as_bytes(), &aad(&kid))
        .map_err(|source| KeyError::Decrypt {
            kid: kid.clone(),
            source,
        })?;
    let public_jwk =
        serde_json::to_string(&pair.public).map_err(|e| KeyError::Db(ApiError::internal(e)))?;
    let name = jwk::algorithm_name(alg);
    let result = db.write_blocking(move |tx| {
        if only_if_missing {
            let current = signing_keys::find_current(tx)?;
            if current.is_some_and(|row| row.algorithm == name) {
                return Ok(None);
            }
        }
        let now = clock::now();
        let retired = signing_keys::retire_current(tx, now, now + retire_for)?;
        signing_keys::insert(
            tx,
            &NewSigningKey {
                kid: &kid,
                algorithm: name,
                sealed_private_key: &sealed,
                public_jwk: &public_jwk,
                created_at: now,
            },
        )?;
        Ok(Some(Rotation {
            new_kid: kid,
            algorithm: alg,
            retired_until: retired.as_ref().map(|_| now + retire_for),
            retired_kid: retired,
        }))
    })?;
    Ok(result)
}

/// Associated data for a sealed private key: binds it to its own row, so a sealed key
/// copied into another row (or another table) does not decrypt.
fn aad(kid: &str) -> Vec<u8> {
    format!("signing_key:{kid}").into_bytes()
}

/// Builds the ring from table rows, reusing what `previous` already parsed.
fn build(
    rows: &[SigningKeyRow],
    secrets: &Secrets,
    previous: Option<&Loaded>,
) -> Result<Loaded, KeyError> {
    let mut verifiers = HashMap::with_capacity(rows.len());
    let mut order = Vec::with_capacity(rows.len());
    for row in rows {
        let reused = previous
            .and_then(|p| p.verifiers.get(&row.kid))
            .filter(|v| v.not_after == row.not_after)
            .cloned();
        let verifier = match reused {
            Some(v) => v,
            None => Arc::new(verifier(row)?),
        };
        verifiers.insert(row.kid.clone(), verifier);
        order.push(row.kid.clone());
    }
    let current = rows
        .iter()
        .find(|r| r.retired_at.is_none())
        .ok_or(KeyError::NoCurrentKey)?;
    let signer = match previous.map(|p| &p.signer) {
        Some(s) if s.kid == current.kid => s.clone(),
        _ => {
            let v = verifiers.get(&current.kid).ok_or(KeyError::NoCurrentKey)?;
            Arc::new(signer(current, secrets, v)?)
        }
    };
    Ok(Loaded {
        signer,
        verifiers,
        order,
        fingerprint: fingerprint(rows),
    })
}

fn invalid(kid: &str, problem: impl Into<String>) -> KeyError {
    KeyError::Invalid {
        kid: kid.to_owned(),
        problem: problem.into(),
    }
}

fn row_algorithm(row: &SigningKeyRow) -> Result<Algorithm, KeyError> {
    jwk::parse_algorithm(&row.algorithm)
        .ok_or_else(|| invalid(&row.kid, format!("unknown algorithm {:?}", row.algorithm)))
}

fn verifier(row: &SigningKeyRow) -> Result<Verifier, KeyError> {
    let alg = row_algorithm(row)?;
    let public: PublicJwk = serde_json::from_str(&row.public_jwk)
        .map_err(|_| invalid(&row.kid, "the public JWK is not valid JSON"))?;
    if !public.fits(alg) {
        return Err(invalid(
            &row.kid,
            "the public key does not fit its algorithm",
        ));
    }
    // The kid is the key's own thumbprint; a mismatch means the row was altered.
    if public.thumbprint() != row.kid {
        return Err(invalid(&row.kid, "the kid is not the key's thumbprint"));
    }
    let key = public
        .decoding_key()
        .map_err(|e| invalid(&row.kid, e.to_string()))?;
    Ok(Verifier {
        algorithm: jwk::jwt_algorithm(alg),
        key,
        not_after: row.not_after,
        published: PublishedJwk {
            jwk: public,
            kid: row.kid.clone(),
            alg: jwk::algorithm_name(alg),
            use_: "sig",
        },
    })
}

/// The header of every token we sign, in jsonwebtoken's member order.
#[derive(Serialize)]
struct JwsHeader<'a> {
    typ: &'static str,
    alg: jsonwebtoken::Algorithm,
    kid: &'a str,
}

/// Decrypts and parses the current private key, then proves it matches the public key by
/// signing a probe and verifying it: a wrong pairing fails at load, not on every token.
fn signer(row: &SigningKeyRow, secrets: &Secrets, verifier: &Verifier) -> Result<Signer, KeyError> {
    let alg = row_algorithm(row)?;
    let sealed = row
        .private_key
        .as_deref()
        .ok_or_else(|| invalid(&row.kid, "the current key has no private key"))?;
    let der = secrets
        .open(sealed, &aad(&row.kid))
        .map_err(|source| KeyError::Decrypt {
            kid: row.kid.clone(),
            source,
        })?;
    let ready = ReadyKey::parse(alg, &der)
        .ok_or_else(|| invalid(&row.kid, "the private key does not parse"))?;
    let key = PrivateKeyDer::new(der).encoding_key(alg);
    let jwt_alg = jwk::jwt_algorithm(alg);
    let probe = b"set-server signing key self-test";
    let header = JwsHeader {
        typ: "JWT",
        alg: jwt_alg,
        kid: &row.kid,
    };
    let header = serde_json::to_vec(&header).map_err(|e| invalid(&row.kid, e.to_string()))?;
    let signer = Signer {
        kid: row.kid.clone(),
        algorithm: jwt_alg,
        encoded_header: URL_SAFE_NO_PAD.encode(header),
        key,
        ready,
    };
    // Both signers are tested: jsonwebtoken's and the ready key tokens are signed with.
    let ready_sig = URL_SAFE_NO_PAD.encode(
        signer
            .sign(probe)
            .map_err(|e| invalid(&row.kid, e.to_string()))?,
    );
    let matches = jsonwebtoken::crypto::sign(probe, &signer.key, jwt_alg)
        .and_then(|sig| jsonwebtoken::crypto::verify(&sig, probe, &verifier.key, jwt_alg))
        .and_then(|ok| {
            Ok(ok && jsonwebtoken::crypto::verify(&ready_sig, probe, &verifier.key, jwt_alg)?)
        })
        .unwrap_or(false);
    if !matches {
        return Err(invalid(
            &row.kid,
            "the private key does not match the public key",
        ));
    }
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    struct Fixture {
        _dir: tempfile::TempDir,
        db: Db,
        secrets: Secrets,
        config: Config,
    }

    fn fixture(alg: Algorithm) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::load(None).unwrap();
        config.database.path = dir.path().join("set.db");
        config.tokens.algorithm = alg;
        let db = Db::open((&config.database).into()).unwrap();
        let mk = crate::auth::master_key::MasterKey::load_or_create(
            &dir.path().join("master.key"),
            true,
        )
        .unwrap();
        Fixture {
            _dir: dir,
            db,
            secrets: Secrets::new(&mk),
            config,
        }
    }

    #[test]
    fn first_open_creates_one_key_and_later_opens_reuse_it() {
        let f = fixture(Algorithm::EdDSA);
        let a = KeyRing::open(f.db.clone(), f.secrets.clone(), &f.config.tokens).unwrap();
        let b = KeyRing::open(f.db.clone(), f.secrets.clone(), &f.config.tokens).unwrap();
        assert_eq!(a.signer().kid(), b.signer().kid());
        assert_eq!(a.jwks().len(), 1);
        assert_eq!(a.jwks()[0].alg, "EdDSA");
        assert!(format!("{:?}", a.signer()).contains("key ***"));
    }

    #[test]
    fn rotation_keeps_the_old_key_for_verification_and_other_rings_notice_it() {
        let f = fixture(Algorithm::EdDSA);
        let a = KeyRing::open(f.db.clone(), f.secrets.clone(), &f.config.tokens).unwrap();
        let b = KeyRing::open(f.db.clone(), f.secrets.clone(), &f.config.tokens).unwrap();
        let old = a.signer().kid().to_owned();
        let r = a.rotate().unwrap();
        assert_eq!(r.retired_kid.as_deref(), Some(old.as_str()));
        assert_eq!(a.signer().kid(), r.new_kid);
        assert!(a.verifier(&old).is_some());
        // `b` still signs with the old key until it reloads.
        assert_eq!(b.signer().kid(), old);
        assert!(b.reload_blocking().unwrap());
        assert!(!b.reload_blocking().unwrap(), "nothing changed since");
        assert_eq!(b.signer().kid(), r.new_kid);
        let kids: Vec<String> = b.jwks().into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, [r.new_kid.clone(), old]);
    }

    #[test]
    fn retired_key_disappears_after_not_after() {
        let f = fixture(Algorithm::EdDSA);
        let ring = KeyRing::open(f.db.clone(), f.secrets.clone(), &f.config.tokens).unwrap();
        let old = ring.signer().kid().to_owned();
        ring.rotate().unwrap();
        f.db.write_blocking(|tx| {
            tx.execute(
                "UPDATE signing_keys SET not_after = $1 WHERE kid = $2",
                crate::params![clock::now() - 1, old],
            )?;
            Ok(())
        })
        .unwrap();
        assert!(ring.reload_blocking().unwrap());
        assert!(ring.verifier(&old).is_none());
        assert_eq!(ring.jwks().len(), 1);
    }

    #[test]
    fn changing_the_configured_algorithm_rotates_at_start() {
        let mut f = fixture(Algorithm::EdDSA);
        let a = KeyRing::open(f.db.clone(), f.secrets.clone(), &f.config.tokens).unwrap();
        f.config.tokens.algorithm = Algorithm::ES256;
        let b = KeyRing::open(f.db.clone(), f.secrets.clone(), &f.config.tokens).unwrap();
        assert_eq!(b.signer().algorithm(), jsonwebtoken::Algorithm::ES256);
        assert!(b.verifier(a.signer().kid()).is_some());
        let algs: Vec<&str> = b.jwks().iter().map(|k| k.alg).collect();
        assert_eq!(algs, ["ES256", "EdDSA"]);
    }

    #[test]
    fn private_key_is_stored_sealed_and_bound_to_its_row() {
        let f = fixture(Algorithm::EdDSA);
        let ring = KeyRing::open(f.db.clone(), f.secrets.clone(), &f.config.tokens).unwrap();
        let row =
            f.db.read_blocking(|c| Ok(signing_keys::find_current(c)?))
                .unwrap()
                .unwrap();
        let sealed = row.private_key.clone().unwrap();
        assert!(f.secrets.open(&sealed, &aad(&row.kid)).is_ok());
        assert!(f.secrets.open(&sealed, &aad("another-kid")).is_err());
        // A ring over a database whose master key is another one refuses to start.
        let other = fixture(Algorithm::EdDSA);
        let wrong = KeyRing::open(f.db.clone(), other.secrets.clone(), &f.config.tokens);
        assert!(matches!(wrong, Err(KeyError::Decrypt { .. })));
        let _ = ring;
    }

    /// The signer is parsed without aws-lc's own pairing check: the probe signed at load
    /// and verified with the published key is what refuses a private key that is not the
    /// public key's, for every algorithm.
    #[test]
    fn a_private_key_that_is_not_the_published_ones_is_refused_at_load() {
        for alg in [Algorithm::EdDSA, Algorithm::ES256] {
            let f = fixture(alg);
            let ring = KeyRing::open(f.db.clone(), f.secrets.clone(), &f.config.tokens).unwrap();
            let kid = ring.signer().kid().to_owned();
            let stranger = jwk::generate(alg).unwrap();
            let sealed = f
                .secrets
                .seal(stranger.private.as_bytes(), &aad(&kid))
                .unwrap();
            f.db.write_blocking(move |c| {
                c.execute(
                    "UPDATE signing_keys SET private_key = $1 WHERE kid = $2",
                    crate::params![sealed, kid],
                )?;
                Ok(())
            })
            .unwrap();
            let refused = KeyRing::open(f.db.clone(), f.secrets.clone(), &f.config.tokens);
            match refused {
                Err(KeyError::Invalid { problem, .. }) => {
                    assert!(problem.contains("does not match"), "{alg:?}: {problem}")
                }
                other => panic!("{alg:?}: {:?}", other.map(|r| r.signer().kid().to_owned())),
            }
        }
    }
}
