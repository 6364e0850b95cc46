//! Password hashing with argon2id, stored as PHC strings.
//!
//! Hashing is deliberately slow (19 MiB, 2 passes by default), so it runs on blocking
//! threads behind a semaphore sized to half the cores: a flood of logins queues here
//! instead of occupying every core that token requests also need.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rocket::tokio::sync::Semaphore;
use rocket::tokio::task;

use crate::config::Security;
use crate::error::ApiError;

/// Shortest and longest accepted password, in characters.
pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 256;

/// The hasher, shared as Rocket state.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against when the email is unknown so
    /// that an unknown account costs the same time as a wrong password.
    dummy: Arc<String>,
}

/// Whether a password matched, and a fresh hash when the stored one used old parameters.
#[derive(Debug)]
pub struct Verified {
    pub ok: bool,
    pub rehashed: Option<String>,
}

impl Passwords {
    pub fn new(s: &Security) -> Result<Passwords, String> {
        let params = Params::new(
            s.argon2_memory_kib,
            s.argon2_iterations,
            s.argon2_parallelism,
            None,
        )
        .map_err(|e| format!("security.argon2_*: {e}"))?;
        // At most half the cores hash at once (at least one): a login flood then leaves
        // the other half to token requests instead of starving them.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let permits = cores.div_ceil(2).max(1);
        let dummy = hash_with(&params, &crate::auth::secrets::random_token(16))
            .map_err(|e| format!("argon2: {e}"))?;
        Ok(Passwords {
            params,
            permits: Arc::new(Semaphore::new(permits)),
            dummy: Arc::new(dummy),
        })
    }

    /// Checks the length rule (in characters, so non-ASCII passwords are not penalised).
    pub fn validate(password: &str, field: &str) -> Result<(), ApiError> {
        let n = password.chars().count();
        if !(MIN_LEN..=MAX_LEN).contains(&n) {
            return Err(ApiError::bad_request(format!(
                "{field}: must be {MIN_LEN} to {MAX_LEN} characters long"
            )));
        }
        Ok(())
    }

    /// Hashes `password` off the async threads.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let params = self.params.clone();
        self.run(move || hash_with(&params, &password).map_err(ApiError::internal))
            .await
    }

    /// Verifies `password` against `stored`, or against the dummy hash when there is no
    /// account, so both cases cost one hash.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<Verified, ApiError> {
        let params = self.params.clone();
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy.as_ref().clone());
        self.run(move || {
            let parsed = PasswordHash::new(&stored).map_err(ApiError::internal)?;
            let ok = hasher(&params)
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
                && known;
            let outdated = Params::try_from(&parsed).map_or(true, |p| {
                p.m_cost() != params.m_cost()
                    || p.t_cost() != params.t_cost()
                    || p.p_cost() != params.p_cost()
            }) || parsed.algorithm != Algorithm::Argon2id.ident();
            let rehashed = if ok && outdated {
                Some(hash_with(&params, &password).map_err(ApiError::internal)?)
            } else {
                None
            };
            Ok(Verified { ok, rehashed })
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        task::spawn_blocking(f).await.map_err(ApiError::internal)?
    }
}

fn hasher(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_with(params: &Params, password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(hasher(params)
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn security(m: u32, t: u32) -> Security {
        let mut c = crate::config::Config::load(None).unwrap().security;
        c.argon2_memory_kib = m;
        c.argon2_iterations = t;
        c
    }

    #[rocket::async_test]
    async fn hashes_verify_and_old_parameters_are_rehashed() {
        let old = Passwords::new(&security(64, 1)).unwrap();
        let hash = old.hash("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        let v = old
            .verify("correct horse battery".into(), Some(hash.clone()))
            .await
            .unwrap();
        assert!(v.ok && v.rehashed.is_none());
        let wrong = old
            .verify("wrong horse battery".into(), Some(hash.clone()))
            .await
            .unwrap();
        assert!(!wrong.ok && wrong.rehashed.is_none());

        let new = Passwords::new(&security(128, 2)).unwrap();
        let v = new
            .verify("correct horse battery".into(), Some(hash))
            .await
            .unwrap();
        assert!(v.ok);
        assert!(v
            .rehashed
            .unwrap()
            .starts_with("$argon2id$v=19$m=128,t=2,p=1$"));

        let unknown = new
            .verify("correct horse battery".into(), None)
            .await
            .unwrap();
        assert!(
            !unknown.ok,
            "the dummy hash never matches an unknown account"
        );
    }

    #[test]
    fn length_counts_characters() {
        assert!(Passwords::validate("ñññññññññ", "password").is_err());
        assert!(Passwords::validate("ññññññññññ", "password").is_ok());
        assert!(Passwords::validate(&"x".repeat(257), "password").is_err());
    }
}
