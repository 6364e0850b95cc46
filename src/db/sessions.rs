//! The `sessions` table: portal sign-ins, keyed by the hash of the cookie value.

use rusqlite::{params, Connection, OptionalExtension};

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
    conn: &Connection,
    token_hash: &str,
    developer_id: &str,
    now: i64,
    expires_at: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO sessions (token_hash, developer_id, created_at, last_seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?3, ?4)",
    )?
    .execute(params![token_hash, developer_id, now, expires_at])?;
    Ok(())
}

pub fn find(conn: &Connection, token_hash: &str) -> rusqlite::Result<Option<SessionRow>> {
    conn.prepare_cached(
        "SELECT d.id, d.email, d.email_verified_at, d.created_at, s.last_seen_at, s.expires_at
         FROM sessions s JOIN developers d ON d.id = s.developer_id
         WHERE s.token_hash = ?1",
    )?
    .query_row([token_hash], |r| {
        Ok(SessionRow {
            developer_id: r.get(0)?,
            email: r.get(1)?,
            email_verified_at: r.get(2)?,
            developer_created_at: r.get(3)?,
            last_seen_at: r.get(4)?,
            expires_at: r.get(5)?,
        })
    })
    .optional()
}

pub fn touch(conn: &Connection, token_hash: &str, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1")?
        .execute(params![token_hash, now])?;
    Ok(())
}

pub fn delete(conn: &Connection, token_hash: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM sessions WHERE token_hash = ?1")?
        .execute([token_hash])?;
    Ok(())
}

/// Ends every session of the developer except `keep` (the caller's own, if any).
pub fn delete_others(
    conn: &Connection,
    developer_id: &str,
    keep: Option<&str>,
) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM sessions WHERE developer_id = ?1 AND token_hash IS NOT ?2")?
        .execute(params![developer_id, keep])
}

/// Deletes up to `limit` sessions that ended: past `expires_at`, or unused since
/// `idle_before`. Returns how many.
pub fn delete_expired(
    conn: &Connection,
    now: i64,
    idle_before: i64,
    limit: usize,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM sessions WHERE token_hash IN (
             SELECT token_hash FROM sessions WHERE expires_at <= ?1 OR last_seen_at <= ?2
             LIMIT ?3)",
    )?
    .execute(params![now, idle_before, limit as i64])
}
