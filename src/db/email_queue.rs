//! The `email_queue` table: outgoing email waiting for the delivery worker.
//!
//! Callers queue a message with [`enqueue`] inside the write transaction that creates the
//! record it is about (a verification token, a reset token), so the two commit or roll
//! back together. `next_attempt_at` is in unix milliseconds; the other times in seconds.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::db::sql::{self, Conn, Row};
use crate::params;

use crate::email::Email;

/// A row id in `email_queue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueuedEmailId(pub i64);

impl std::fmt::Display for QueuedEmailId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One queued message and its delivery state.
#[derive(Debug, Clone)]
pub struct QueuedEmail {
    pub id: QueuedEmailId,
    /// The message; its bodies are empty once it was sent or given up.
    pub email: Email,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// When the worker tries next (unix ms); `None` once sent or given up.
    pub next_attempt_at: Option<i64>,
    /// Why the last attempt failed; never holds a body.
    pub last_error: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; `None` until delivered.
    pub sent_at: Option<i64>,
}

impl QueuedEmail {
    fn from_row(r: &Row<'_>) -> Result<QueuedEmail, sql::Error> {
        Ok(QueuedEmail {
            id: QueuedEmailId(r.get("id")?),
            email: Email {
                to: r.get("to_addr")?,
                subject: r.get("subject")?,
                text: r.get("text_body")?,
                html: r.get("html_body")?,
            },
            attempts: u32::try_from(r.get::<_, i64>("attempts")?).unwrap_or(u32::MAX),
            next_attempt_at: r.get("next_attempt_at")?,
            last_error: r.get("last_error")?,
            created_at: r.get("created_at")?,
            sent_at: r.get("sent_at")?,
        })
    }

    /// Neither sent nor given up.
    pub fn is_pending(&self) -> bool {
        self.sent_at.is_none() && self.next_attempt_at.is_some()
    }
}

const COLUMNS: &str = "id, to_addr, subject, text_body, html_body, attempts, next_attempt_at, \
                       last_error, created_at, sent_at";

/// Unix milliseconds, the unit of `next_attempt_at`.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Queues `email` for delivery as soon as the worker sees it. Call it inside the write
/// transaction that creates the record the email is about, then wake the worker with
/// [`crate::email::Mailer::wake`] once that transaction committed.
///
/// Fails only when the database does.
pub fn enqueue(conn: &Conn<'_>, email: &Email) -> Result<(), sql::Error> {
    insert(conn, email, now_ms()).map(|_| ())
}

/// Inserts a pending row due at `now_ms` and returns its id.
pub fn insert(conn: &Conn<'_>, email: &Email, now_ms: i64) -> Result<QueuedEmailId, sql::Error> {
    let id = conn.value("INSERT INTO email_queue (to_addr, subject, text_body, html_body, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id", params![
        email.to,
        email.subject,
        email.text,
        email.html,
        now_ms,
        now_ms.div_euclid(1000)
    ])?;
    Ok(QueuedEmailId(id))
}

pub fn find_by_id(conn: &Conn<'_>, id: QueuedEmailId) -> Result<Option<QueuedEmail>, sql::Error> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM email_queue WHERE id = $1"),
        params![id.0],
        QueuedEmail::from_row,
    )
}

/// Claims up to `limit` messages due at `now_ms`, oldest first, by moving their next
/// attempt `lease_ms` into the future: whoever claims a message sends it, so several
/// nodes draining one queue send each message once. On PostgreSQL, rows another node is
/// claiming at that moment are skipped, not waited for. A node that dies mid-send leaves
/// its claims to expire, and the message is sent again after `lease_ms` (at least once,
/// never lost).
pub fn claim_due(
    conn: &Conn<'_>,
    now_ms: i64,
    limit: usize,
    lease_ms: i64,
) -> Result<Vec<QueuedEmail>, sql::Error> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let skip_locked = match conn.engine() {
        sql::Engine::Postgres => "FOR UPDATE SKIP LOCKED",
        sql::Engine::Sqlite => "",
    };
    let mut claimed = conn.query_all(
        &format!(
            "UPDATE email_queue SET next_attempt_at = $1
             WHERE id IN (SELECT id FROM email_queue
                          WHERE sent_at IS NULL AND next_attempt_at IS NOT NULL
                            AND next_attempt_at <= $2
                          ORDER BY id LIMIT $3 {skip_locked})
             RETURNING {COLUMNS}"
        ),
        params![now_ms.saturating_add(lease_ms), now_ms, limit],
        QueuedEmail::from_row,
    )?;
    claimed.sort_by_key(|q| q.id.0);
    Ok(claimed)
}

/// Hands claimed messages that were not attempted (the node is stopping) back to the
/// queue, due at `now_ms`.
pub fn release(conn: &Conn<'_>, id: QueuedEmailId, now_ms: i64) -> Result<(), sql::Error> {
    conn.execute(
        "UPDATE email_queue SET next_attempt_at = $1 WHERE id = $2 AND sent_at IS NULL",
        params![now_ms, id.0],
    )?;
    Ok(())
}

/// Pending rows due at `now_ms`, oldest first, at most `limit`.
pub fn list_due(
    conn: &Conn<'_>,
    now_ms: i64,
    limit: usize,
) -> Result<Vec<QueuedEmail>, sql::Error> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    conn.query_all(
        &format!(
            "SELECT {COLUMNS} FROM email_queue
         WHERE sent_at IS NULL AND next_attempt_at IS NOT NULL AND next_attempt_at <= $1
         ORDER BY id LIMIT $2"
        ),
        params![now_ms, limit],
        QueuedEmail::from_row,
    )
}

/// The most recent rows, newest first, at most `limit`, whatever their state.
pub fn list_recent(conn: &Conn<'_>, limit: usize) -> Result<Vec<QueuedEmail>, sql::Error> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    conn.query_all(
        &format!("SELECT {COLUMNS} FROM email_queue ORDER BY id DESC LIMIT $1"),
        params![limit],
        QueuedEmail::from_row,
    )
}

/// Records a delivery: counts the attempt, stamps `sent_at` and blanks the bodies, which
/// carry single-use tokens that have no business staying in the database.
pub fn mark_sent(conn: &Conn<'_>, id: QueuedEmailId, now_ms: i64) -> Result<(), sql::Error> {
    conn.execute(
        "UPDATE email_queue
         SET attempts = attempts + 1, sent_at = $1, next_attempt_at = NULL, last_error = NULL,
             text_body = '', html_body = ''
         WHERE id = $2",
        params![now_ms.div_euclid(1000), id.0],
    )?;
    Ok(())
}

/// Records a failed attempt and when to try again (unix ms). `None` gives up: the row
/// stays, with its error and without its bodies.
pub fn mark_failed(
    conn: &Conn<'_>,
    id: QueuedEmailId,
    error: &str,
    next_attempt_at: Option<i64>,
) -> Result<(), sql::Error> {
    conn.execute(
        "UPDATE email_queue
         SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2,
             text_body = CASE WHEN CAST($2 AS BIGINT) IS NULL THEN '' ELSE text_body END,
             html_body = CASE WHEN CAST($2 AS BIGINT) IS NULL THEN '' ELSE html_body END
         WHERE id = $3",
        params![error, next_attempt_at, id.0],
    )?;
    Ok(())
}

/// Deletes rows that were sent or given up and were created before `cutoff` (unix
/// seconds); returns how many.
pub fn delete_finished_before(conn: &Conn<'_>, cutoff: i64) -> Result<usize, sql::Error> {
    conn.execute(
        "DELETE FROM email_queue
         WHERE (sent_at IS NOT NULL OR next_attempt_at IS NULL) AND created_at < $1",
        params![cutoff],
    )
}

/// How many messages wait, wait after a failed attempt, or were given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCounts {
    pub pending: i64,
    pub retrying: i64,
    pub given_up: i64,
}

/// The queue's counts, for `/metrics`.
pub fn counts(conn: &Conn<'_>) -> Result<QueueCounts, sql::Error> {
    conn.query_one(
        "SELECT count(*) FILTER (WHERE sent_at IS NULL AND next_attempt_at IS NOT NULL),
                count(*) FILTER (WHERE sent_at IS NULL AND next_attempt_at IS NOT NULL
                                 AND attempts > 0),
                count(*) FILTER (WHERE sent_at IS NULL AND next_attempt_at IS NULL)
         FROM email_queue",
        params![],
        |r| {
            Ok(QueueCounts {
                pending: r.get(0)?,
                retrying: r.get(1)?,
                given_up: r.get(2)?,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> rusqlite::Connection {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        crate::db::migrate::apply(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        conn
    }

    fn email(to: &str) -> Email {
        Email {
            to: to.into(),
            subject: "Hello".into(),
            text: "token abc".into(),
            html: "<p>token abc</p>".into(),
        }
    }

    fn ok<T>(r: Result<T, sql::Error>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn due_rows_come_oldest_first_and_only_when_due() {
        let raw = conn();
        let c = Conn::Sqlite(&raw);
        let a = ok(insert(&c, &email("a@x.test"), 1_000));
        let b = ok(insert(&c, &email("b@x.test"), 1_000));
        let later = ok(insert(&c, &email("c@x.test"), 5_000));
        let due: Vec<_> = ok(list_due(&c, 2_000, 10)).iter().map(|q| q.id).collect();
        assert_eq!(due, vec![a, b]);
        ok(mark_failed(&c, a, "refused", Some(9_000)));
        let due: Vec<_> = ok(list_due(&c, 6_000, 10)).iter().map(|q| q.id).collect();
        assert_eq!(due, vec![b, later]);
        assert_eq!(ok(list_due(&c, 6_000, 1)).len(), 1);
    }

    #[test]
    fn sent_and_given_up_rows_lose_their_bodies_and_leave_the_queue() {
        let raw = conn();
        let c = Conn::Sqlite(&raw);
        let sent = ok(insert(&c, &email("a@x.test"), 1_000));
        let dropped = ok(insert(&c, &email("b@x.test"), 1_000));
        ok(mark_failed(&c, sent, "refused", Some(1_500)));
        ok(mark_sent(&c, sent, 2_000));
        ok(mark_failed(&c, dropped, "refused", None));

        let s = ok(find_by_id(&c, sent)).unwrap_or_else(|| panic!("row"));
        assert_eq!(
            (s.attempts, s.sent_at, s.next_attempt_at),
            (2, Some(2), None)
        );
        assert_eq!((s.email.text.as_str(), s.email.html.as_str()), ("", ""));
        assert_eq!(s.last_error, None);
        let d = ok(find_by_id(&c, dropped)).unwrap_or_else(|| panic!("row"));
        assert!(!d.is_pending());
        assert_eq!(d.last_error.as_deref(), Some("refused"));
        assert_eq!(d.email.text, "");
        assert!(ok(list_due(&c, i64::MAX, 10)).is_empty());

        let pending = ok(insert(&c, &email("c@x.test"), 1_000));
        assert_eq!(ok(delete_finished_before(&c, 10)), 2);
        let left: Vec<_> = ok(list_recent(&c, 10)).iter().map(|q| q.id).collect();
        assert_eq!(left, vec![pending]);
    }
}
