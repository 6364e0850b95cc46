//! The `sessions` table: portal sign-ins, keyed by the hash of the cookie value.

use crate::db::sql::{self, Conn};
use crate::params;

/// A live session joined with the fields of its developer that guards need.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub developer_id: String,
    pub email: String,
    pub email_verified_at: Option<i64>,
    pub developer_created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

pub fn insert(
    conn: &Conn<'_>,
    token_hash: &str,
    developer_id: &str,
    now: i64,
    expires_at: i64,
) -> sql::Result<()> {
    conn.execute(
        "INSERT INTO sessions (token_hash, developer_id, created_at, last_seen_at, expires_at)
         VALUES ($1, $2, $3, $3, $4)",
        params![token_hash, developer_id, now, expires_at],
    )?;
    Ok(())
}

pub fn find(conn: &Conn<'_>, token_hash: &str) -> sql::Result<Option<SessionRow>> {
    conn.query_opt(
        "SELECT d.id, d.email, d.email_verified_at, d.created_at, s.last_seen_at, s.expires_at
         FROM sessions s JOIN developers d ON d.id = s.developer_id
         WHERE s.token_hash = $1",
        params![token_hash],
        |r| {
            Ok(SessionRow {
                developer_id: r.get(0)?,
                email: r.get(1)?,
                email_verified_at: r.get(2)?,
                developer_created_at: r.get(3)?,
                last_seen_at: r.get(4)?,
                expires_at: r.get(5)?,
            })
        },
    )
}

pub fn touch(conn: &Conn<'_>, token_hash: &str, now: i64) -> sql::Result<()> {
    conn.execute(
        "UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2",
        params![now, token_hash],
    )?;
    Ok(())
}

pub fn delete(conn: &Conn<'_>, token_hash: &str) -> sql::Result<()> {
    conn.execute(
        "DELETE FROM sessions WHERE token_hash = $1",
        params![token_hash],
    )?;
    Ok(())
}

/// Ends every session of the developer except `keep` (the caller's own, if any).
pub fn delete_others(
    conn: &Conn<'_>,
    developer_id: &str,
    keep: Option<&str>,
) -> sql::Result<usize> {
    conn.execute(
        "DELETE FROM sessions WHERE developer_id = $1 AND token_hash IS DISTINCT FROM $2",
        params![developer_id, keep],
    )
}

/// Deletes up to `limit` sessions that ended: past `expires_at`, or unused since
/// `idle_before`. Returns how many.
pub fn delete_expired(
    conn: &Conn<'_>,
    now: i64,
    idle_before: i64,
    limit: usize,
) -> sql::Result<usize> {
    conn.execute(
        "DELETE FROM sessions WHERE token_hash IN (
             SELECT token_hash FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2
             LIMIT $3)",
        params![now, idle_before, limit as i64],
    )
}
