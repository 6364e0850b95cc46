//! Rate limits for the portal's front door (governor's GCRA, keyed by IP or by email).
//!
//! Sign-ups and emails count every request. Logins count only failures, so a developer
//! who signs in correctly is never slowed: a key that has used up its failures is blocked
//! until the next one would be allowed, and while blocked its attempts are refused before
//! any password is hashed (an argon2 flood costs nothing).
//!
//! On PostgreSQL, where several nodes sit behind one load balancer, the counts live in
//! the shared `rate_limits` table instead (fixed windows of the configured period), so an
//! attacker spreading attempts over the nodes still meets one limit.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::{Rate, Security};
use crate::db::{rate_limits, Db};
use crate::error::ApiError;

/// Entries kept before expired ones are swept.
const SWEEP_AT: usize = 10_000;

fn quota(rate: Rate) -> Quota {
    let count = NonZeroU32::new(rate.count).unwrap_or(NonZeroU32::MIN);
    let period = rate.per / count.get();
    Quota::with_period(period.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(count))
        .allow_burst(count)
}

/// A keyed limiter that refuses with the time until the next request is allowed.
pub struct Limiter {
    inner: DefaultKeyedRateLimiter<String>,
    shared: Option<Shared>,
}

/// The cluster-wide form of a limit: counts in the database, per fixed window.
struct Shared {
    db: Db,
    name: &'static str,
    rate: Rate,
}

impl Shared {
    /// Counts one hit (when `hit`) and returns the window's count and the seconds until
    /// the window ends.
    async fn count(&self, key: &str, hit: bool) -> Result<(u32, u64), ApiError> {
        let per = self.rate.per.as_secs().max(1) as i64;
        let now = crate::clock::now();
        let start = now - now.rem_euclid(per);
        let key = format!("{}:{key}", self.name);
        let hits = self
            .db
            .write(move |c| Ok(rate_limits::count(c, &key, start, hit)?))
            .await?;
        let retry_after = (start + per - now).max(1) as u64;
        Ok((u32::try_from(hits).unwrap_or(u32::MAX), retry_after))
    }
}

impl Limiter {
    pub fn new(rate: Rate) -> Limiter {
        Limiter {
            inner: RateLimiter::keyed(quota(rate)),
            shared: None,
        }
    }

    /// The limit counted in `db`, for every node sharing it.
    fn shared(rate: Rate, db: Db, name: &'static str) -> Limiter {
        Limiter {
            shared: Some(Shared { db, name, rate }),
            ..Limiter::new(rate)
        }
    }

    /// Counts one request for `key`; 429 `rate_limited` when over the limit.
    pub async fn check(&self, key: &str) -> Result<(), ApiError> {
        if let Some(shared) = &self.shared {
            let (hits, retry_after) = shared.count(key, true).await?;
            return match hits > shared.rate.count {
                true => Err(ApiError::RateLimited { retry_after }),
                false => Ok(()),
            };
        }
        self.check_local(key)
    }

    fn check_local(&self, key: &str) -> Result<(), ApiError> {
        if self.inner.len() > SWEEP_AT {
            self.inner.retain_recent();
        }
        self.inner.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited {
                retry_after: wait.as_secs().max(1),
            }
        })
    }
}

/// Counts failures only; see the module comment.
pub struct FailureLimiter {
    counter: Limiter,
    blocked: Mutex<HashMap<String, Instant>>,
}

impl FailureLimiter {
    pub fn new(rate: Rate) -> FailureLimiter {
        FailureLimiter {
            counter: Limiter::new(rate),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses while `key` is blocked; counts nothing.
    pub async fn check(&self, key: &str) -> Result<(), ApiError> {
        if let Some(shared) = &self.counter.shared {
            let (failures, retry_after) = shared.count(key, false).await?;
            return match failures > shared.rate.count {
                true => Err(ApiError::RateLimited { retry_after }),
                false => Ok(()),
            };
        }
        let blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        match blocked.get(key) {
            Some(until) if *until > Instant::now() => Err(ApiError::RateLimited {
                retry_after: until.duration_since(Instant::now()).as_secs().max(1),
            }),
            _ => Ok(()),
        }
    }

    /// Counts a failure for `key`, blocking it once its allowance is used up.
    pub async fn failed(&self, key: &str) {
        if let Some(shared) = &self.counter.shared {
            if let Err(e) = shared.count(key, true).await {
                tracing::warn!("counting a failed login: {e}");
            }
            return;
        }
        if let Err(ApiError::RateLimited { retry_after }) = self.counter.check_local(key) {
            let mut blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
            if blocked.len() > SWEEP_AT {
                let now = Instant::now();
                blocked.retain(|_, until| *until > now);
            }
            blocked.insert(
                key.to_owned(),
                Instant::now() + Duration::from_secs(retry_after),
            );
        }
    }
}

/// Every limit of the portal, shared as Rocket state.
pub struct RateLimits {
    /// Failed logins, keyed `ip:<addr>` and `email:<address>`.
    pub login: FailureLimiter,
    /// Sign-ups per IP.
    pub signup: Limiter,
    /// Verification resends and reset emails per address, and per IP at the sign-up rate
    /// (so one client cannot mail many addresses).
    pub email: Limiter,
    pub email_ip: Limiter,
}

impl RateLimits {
    /// In-memory limits for a lone SQLite node; limits in the database on PostgreSQL,
    /// where other nodes share them.
    pub fn new(s: &Security, db: &Db) -> RateLimits {
        if db.engine() == crate::db::Engine::Sqlite {
            return RateLimits {
                login: FailureLimiter::new(s.login_rate),
                signup: Limiter::new(s.signup_rate),
                email: Limiter::new(s.email_rate),
                email_ip: Limiter::new(s.signup_rate),
            };
        }
        let shared = |rate, name| Limiter::shared(rate, db.clone(), name);
        RateLimits {
            login: FailureLimiter {
                counter: shared(s.login_rate, "login"),
                blocked: Mutex::new(HashMap::new()),
            },
            signup: shared(s.signup_rate, "signup"),
            email: shared(s.email_rate, "email"),
            email_ip: shared(s.signup_rate, "email_ip"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rocket::async_test]
    async fn failures_block_after_the_allowance_and_other_keys_stay_free() {
        let rate = Rate::parse("3/min").unwrap();
        let l = FailureLimiter::new(rate);
        for _ in 0..3 {
            assert!(l.check("a").await.is_ok());
            l.failed("a").await;
        }
        assert!(l.check("a").await.is_ok(), "three failures are allowed");
        l.failed("a").await;
        match l.check("a").await {
            Err(ApiError::RateLimited { retry_after }) => assert!((1..=20).contains(&retry_after)),
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(l.check("b").await.is_ok());
    }

    #[rocket::async_test]
    async fn plain_limiter_counts_every_request() {
        let l = Limiter::new(Rate::parse("2/hour").unwrap());
        assert!(l.check("x").await.is_ok());
        assert!(l.check("x").await.is_ok());
        assert!(
            matches!(l.check("x").await, Err(ApiError::RateLimited { retry_after }) if retry_after > 1000)
        );
    }
}
