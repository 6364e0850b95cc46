//! Retention: a background job that deletes what can never be used again — ended portal
//! sessions, used or expired email tokens, spent link codes, expired authorization codes,
//! revocations past their life, and refresh families that are dead (every token expired,
//! or revoked longer than `tokens.refresh_ttl` ago).
//!
//! Each delete takes at most [`BATCH`] rows in a transaction of its own, with a pause
//! between batches, so a large backlog never holds the writer for long.

use std::fmt;
use std::time::Duration;

use crate::db::Conn;
use rocket::fairing::AdHoc;
use rocket::tokio;

use crate::config::Config;
use crate::db::{codes, email_tokens, refresh, revocations, sessions, Db};
use crate::error::ApiError;

/// Rows deleted per transaction.
pub const BATCH: usize = 500;

/// The pause between two full batches, so request writes get the writer in between.
const PAUSE: Duration = Duration::from_millis(5);

/// How many rows one pass deleted, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub sessions: usize,
    pub email_tokens: usize,
    pub link_codes: usize,
    pub auth_codes: usize,
    pub revocations: usize,
    pub refresh_families: usize,
    pub rate_limits: usize,
}

impl Swept {
    pub fn total(&self) -> usize {
        self.sessions
            + self.email_tokens
            + self.link_codes
            + self.auth_codes
            + self.revocations
            + self.refresh_families
            + self.rate_limits
    }
}

impl fmt::Display for Swept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sessions, {} email tokens, {} link codes, {} authorization codes, \
             {} revocations, {} refresh families, {} rate-limit windows",
            self.sessions,
            self.email_tokens,
            self.link_codes,
            self.auth_codes,
            self.revocations,
            self.refresh_families,
            self.rate_limits
        )
    }
}

/// One retention pass as of `now` (unix seconds), on the calling thread: deletes every
/// expired row, batch by batch. Fails when the database does; what was deleted before
/// stays deleted.
pub fn sweep(db: &Db, config: &Config, now: i64) -> Result<Swept, ApiError> {
    let idle = secs(config.security.session_idle.0);
    let refresh_ttl = secs(config.tokens.refresh_ttl.0);
    Ok(Swept {
        sessions: drain(db, |c| {
            sessions::delete_expired(c, now, now.saturating_sub(idle), BATCH)
        })?,
        email_tokens: drain(db, |c| email_tokens::delete_spent(c, now, BATCH))?,
        link_codes: drain(db, |c| codes::delete_spent_link_codes(c, now, BATCH))?,
        auth_codes: drain(db, |c| codes::delete_expired_auth_codes(c, now, BATCH))?,
        revocations: drain(db, |c| revocations::delete_expired(c, now, BATCH))?,
        refresh_families: drain(db, |c| {
            refresh::delete_dead_families(c, now, now.saturating_sub(refresh_ttl), BATCH)
        })?,
        // Cluster-wide rate-limit windows (PostgreSQL); a day covers every configured period.
        rate_limits: drain(db, |c| {
            crate::db::rate_limits::delete_before(c, now.saturating_sub(86_400), BATCH)
        })?,
    })
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Runs `batch` in short transactions until it deletes fewer than [`BATCH`] rows.
fn drain(
    db: &Db,
    batch: impl Fn(&Conn<'_>) -> crate::db::sql::Result<usize> + Sync,
) -> Result<usize, ApiError> {
    let mut total = 0;
    loop {
        let n = db.write_blocking(|tx| Ok(batch(tx)?))?;
        total += n;
        if n < BATCH {
            return Ok(total);
        }
        std::thread::sleep(PAUSE);
    }
}

/// The fairing that sweeps at liftoff and then every `[retention] interval` until
/// shutdown; nothing when the interval is `"0s"`.
pub fn fairing() -> AdHoc {
    AdHoc::on_liftoff("retention", |rocket| {
        Box::pin(async move {
            let (Some(config), Some(db)) = (
                rocket.state::<Config>().cloned(),
                rocket.state::<Db>().cloned(),
            ) else {
                return;
            };
            let Some(every) = config.retention.interval.every() else {
                return;
            };
            let mut shutdown = rocket.shutdown();
            tokio::spawn(async move {
                loop {
                    let (d, c) = (db.clone(), config.clone());
                    // Once per period for the cluster: other nodes sharing the database
                    // skip the period one of them already swept.
                    let swept = tokio::task::spawn_blocking(move || {
                        if !d.claim_job("retention", every)? {
                            return Ok(Swept::default());
                        }
                        sweep(&d, &c, crate::clock::now())
                    })
                    .await;
                    match swept {
                        Ok(Ok(s)) if s.total() > 0 => tracing::info!("retention: deleted {s}"),
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => tracing::warn!("retention: {e}"),
                        Err(e) => tracing::warn!("retention: the job failed: {e}"),
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(every) => {}
                        _ = &mut shutdown => return,
                    }
                }
            });
        })
    })
}
