//! Counts of access tokens issued, per client per day, for the portal's charts.
//!
//! Counting happens in memory (issuing a client token writes nothing else), and a
//! background task adds the counts to `token_stats` every few seconds and at shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rocket::fairing::AdHoc;

use crate::auth::tokens::TokenType;
use crate::clock;
use crate::db::{token_stats, Db};

const FLUSH_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone, Default)]
pub struct TokenCounter {
    pending: Arc<Mutex<HashMap<(String, i64), i64>>>,
    /// Every access token issued since start, by type (client, user, integration), for
    /// `/metrics`; never stored.
    by_type: Arc<[AtomicU64; 3]>,
}

impl TokenCounter {
    pub fn count(&self, client_id: &str) {
        let day = clock::now() / 86_400;
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        *pending.entry((client_id.to_owned(), day)).or_default() += 1;
    }

    /// Counts one access token of type `typ` for `/metrics`.
    pub fn count_type(&self, typ: TokenType) {
        let i = match typ {
            TokenType::Client => 0,
            TokenType::User => 1,
            TokenType::Integration => 2,
        };
        self.by_type[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Access tokens issued since start, by type.
    pub fn issued_by_type(&self) -> [(&'static str, u64); 3] {
        let n = |i: usize| self.by_type[i].load(Ordering::Relaxed);
        [("client", n(0)), ("user", n(1)), ("integration", n(2))]
    }

    /// Counts not yet written, for one client: (day, count).
    pub fn unflushed(&self, client_id: &str) -> Vec<(i64, i64)> {
        let pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending
            .iter()
            .filter(|((c, _), _)| c == client_id)
            .map(|((_, day), n)| (*day, *n))
            .collect()
    }

    /// Writes the pending counts in one transaction; on failure they are kept.
    pub fn flush(&self, db: &Db) {
        let batch: Vec<_> = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            pending.drain().collect()
        };
        if batch.is_empty() {
            return;
        }
        let written = db.write_blocking(|tx| {
            for ((client, day), n) in &batch {
                token_stats::add(tx, client, *day, *n)?;
            }
            Ok(())
        });
        if let Err(e) = written {
            tracing::warn!("saving token counts: {e}");
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            for (key, n) in batch {
                *pending.entry(key).or_default() += n;
            }
        }
    }

    /// The fairing that flushes periodically while the server runs, and once at shutdown.
    pub fn fairing(&self) -> AdHoc {
        let counter = self.clone();
        AdHoc::on_liftoff("token counts", move |rocket| {
            Box::pin(async move {
                let Some(db) = rocket.state::<Db>().cloned() else {
                    return;
                };
                let mut shutdown = rocket.shutdown();
                rocket::tokio::spawn(async move {
                    loop {
                        rocket::tokio::select! {
                            _ = rocket::tokio::time::sleep(FLUSH_EVERY) => {}
                            _ = &mut shutdown => {
                                let (c, d) = (counter.clone(), db.clone());
                                let _ = rocket::tokio::task::spawn_blocking(move || c.flush(&d)).await;
                                return;
                            }
                        }
                        let (c, d) = (counter.clone(), db.clone());
                        let _ = rocket::tokio::task::spawn_blocking(move || c.flush(&d)).await;
                    }
                });
            })
        })
    }
}
