//! The delivery loop: every due message, oldest first, then a wait for a wake-up, the
//! next poll or shutdown. A failed attempt is retried after a delay that doubles up to a
//! cap; a message still failing a day after it was queued is given up.

use std::sync::Arc;
use std::time::Duration;

use rocket::futures::FutureExt;
use rocket::tokio::sync::Notify;
use rocket::tokio::{self, time};
use rocket::Shutdown;

use super::transport::{SendError, Sender};
use super::WorkerSettings;
use crate::db::email_queue::{self, QueuedEmail};
use crate::db::Db;

/// `last_error` is bounded: a chatty server's reply need not fill the database.
const MAX_ERROR_CHARS: usize = 500;

/// How long a claimed message is reserved for this node's attempt before another node
/// may try it (see [`email_queue::claim_due`]): far longer than one SMTP conversation.
const LEASE_MS: i64 = 120_000;

/// How often finished rows are cleared out.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

pub(crate) async fn run(
    db: Db,
    sender: Sender,
    settings: WorkerSettings,
    notify: Arc<Notify>,
    shutdown: Shutdown,
) {
    tracing::info!("email delivery via {}", sender.describe());
    if let Some(problem) = sender.problem() {
        tracing::error!("email cannot be delivered until the config is fixed: {problem}");
    }
    sender.tidy().await;
    let mut last_purge: Option<time::Instant> = None;
    loop {
        if last_purge.is_none_or(|t| t.elapsed() >= PURGE_EVERY) {
            purge(&db, &settings).await;
            last_purge = Some(time::Instant::now());
        }
        deliver_due(&db, &sender, &settings, &shutdown).await;
        tokio::select! {
            biased;
            _ = shutdown.clone() => break,
            _ = notify.notified() => {}
            _ = time::sleep(settings.poll_interval) => {}
        }
    }
    tracing::debug!("email worker stopped");
}

/// Delivers every message due now, batch by batch, until none is left or shutdown starts.
/// The shutdown check sits between messages, so an attempt is never cut in half.
async fn deliver_due(db: &Db, sender: &Sender, settings: &WorkerSettings, shutdown: &Shutdown) {
    loop {
        let now = email_queue::now_ms();
        let limit = settings.batch.max(1);
        let due = db
            .write(move |c| Ok(email_queue::claim_due(c, now, limit, LEASE_MS)?))
            .await;
        let due = match due {
            Ok(due) => due,
            Err(e) => {
                tracing::error!("email queue unreadable: {e}");
                return;
            }
        };
        let full = due.len() >= limit;
        for (i, q) in due.iter().enumerate() {
            if shutdown.clone().now_or_never().is_some() {
                release(db, &due[i..]).await;
                return;
            }
            let outcome = sender.send(q).await;
            if !record(db, settings, q, outcome).await {
                // The database refuses writes: stop here rather than resend the batch.
                return;
            }
        }
        if !full {
            return;
        }
    }
}

/// Returns claimed, unattempted messages to the queue so a restart (or another node)
/// sends them at once rather than after the lease.
async fn release(db: &Db, rest: &[QueuedEmail]) {
    let ids: Vec<_> = rest.iter().map(|q| q.id).collect();
    let now = email_queue::now_ms();
    let released = db
        .write(move |tx| {
            for id in ids {
                email_queue::release(tx, id, now)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = released {
        tracing::warn!("returning unsent email to the queue: {e}");
    }
}

/// Stores the outcome of one attempt and logs it (recipient masked, no body); false when
/// the database could not store it.
async fn record(
    db: &Db,
    settings: &WorkerSettings,
    q: &QueuedEmail,
    outcome: Result<(), SendError>,
) -> bool {
    let id = q.id;
    let attempt = q.attempts + 1;
    let to = mask(&q.email.to);
    let now = email_queue::now_ms();
    let stored = match outcome {
        Ok(()) => {
            tracing::info!("email {id} to {to} sent (attempt {attempt})");
            db.write(move |tx| Ok(email_queue::mark_sent(tx, id, now)?))
                .await
        }
        Err(err) => {
            let message = truncate(&err.message);
            let next = next_attempt(settings, q, now, err.permanent);
            match next {
                Some(at) => tracing::warn!(
                    "email {id} to {to}: attempt {attempt} failed, retrying in {}s: {message}",
                    (at - now + 999) / 1000
                ),
                None => tracing::error!(
                    "email {id} to {to}: attempt {attempt} failed, giving up: {message}"
                ),
            }
            db.write(move |tx| Ok(email_queue::mark_failed(tx, id, &message, next)?))
                .await
        }
    };
    if let Err(e) = &stored {
        // The message stays due and is tried again: at worst a duplicate, never a loss.
        tracing::error!("email {id}: recording the attempt failed: {e}");
    }
    stored.is_ok()
}

/// When to try again after a failure (unix ms), or `None` to give up.
fn next_attempt(
    settings: &WorkerSettings,
    q: &QueuedEmail,
    now_ms: i64,
    permanent: bool,
) -> Option<i64> {
    let age_ms = now_ms.saturating_sub(q.created_at.saturating_mul(1000));
    if permanent || age_ms >= millis(settings.give_up_after) {
        return None;
    }
    Some(now_ms.saturating_add(millis(backoff(settings, q.attempts + 1))))
}

/// The wait after the `failures`-th failed attempt: `first_retry`, doubled each time,
/// capped at `max_retry`.
fn backoff(settings: &WorkerSettings, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(32);
    settings
        .first_retry
        .checked_mul(1u32 << doublings.min(31))
        .unwrap_or(settings.max_retry)
        .min(settings.max_retry)
}

async fn purge(db: &Db, settings: &WorkerSettings) {
    let keep = i64::try_from(settings.keep_finished.as_secs()).unwrap_or(i64::MAX);
    let cutoff = crate::clock::now().saturating_sub(keep);
    match db
        .write(move |tx| Ok(email_queue::delete_finished_before(tx, cutoff)?))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!("email queue: removed {n} finished messages"),
        Err(e) => tracing::warn!("email queue: purge failed: {e}"),
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(MAX_ERROR_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// `j***@example.com`: enough to tell messages apart in a log, not to harvest addresses.
fn mask(addr: &str) -> String {
    match addr.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> WorkerSettings {
        WorkerSettings {
            first_retry: Duration::from_secs(5),
            max_retry: Duration::from_secs(600),
            ..WorkerSettings::default()
        }
    }

    #[test]
    fn backoff_doubles_from_the_first_retry_up_to_the_cap() {
        let s = settings();
        let secs: Vec<u64> = (1..=10).map(|n| backoff(&s, n).as_secs()).collect();
        assert_eq!(secs, vec![5, 10, 20, 40, 80, 160, 320, 600, 600, 600]);
        assert_eq!(backoff(&s, u32::MAX).as_secs(), 600);
    }

    #[test]
    fn a_message_is_given_up_a_day_after_it_was_queued_or_at_once_when_hopeless() {
        let s = settings();
        let q = QueuedEmail {
            id: email_queue::QueuedEmailId(1),
            email: crate::email::Email {
                to: "a@x.test".into(),
                subject: String::new(),
                text: String::new(),
                html: String::new(),
            },
            attempts: 2,
            next_attempt_at: Some(0),
            last_error: None,
            created_at: 1_000,
            sent_at: None,
        };
        let soon = 1_000_000 + 60_000;
        assert_eq!(next_attempt(&s, &q, soon, false), Some(soon + 20_000));
        assert_eq!(next_attempt(&s, &q, soon, true), None);
        let day_later = 1_000_000 + 86_400_000;
        assert_eq!(next_attempt(&s, &q, day_later, false), None);
    }

    #[test]
    fn logs_mask_addresses_and_bound_errors() {
        assert_eq!(mask("jane@example.com"), "j***@example.com");
        assert_eq!(mask("nonsense"), "***");
        assert_eq!(
            truncate(&"é".repeat(600)).chars().count(),
            MAX_ERROR_CHARS + 1
        );
    }
}
