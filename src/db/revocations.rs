//! The `revocations` table: the durable side of the in-memory revocation state.

use rusqlite::{params, Connection};

pub fn insert(
    conn: &Connection,
    kind: &str,
    subject: &str,
    now: i64,
    expires_at: i64,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO revocations (kind, subject, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4) RETURNING seq",
    )?
    .query_row(params![kind, subject, now, expires_at], |r| r.get(0))
}

/// Every revocation still in force: (seq, kind, subject, expires_at).
pub fn list_live(conn: &Connection, now: i64) -> rusqlite::Result<Vec<(i64, String, String, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, kind, subject, expires_at FROM revocations WHERE expires_at > ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    rows.collect()
}

/// Deletes up to `limit` revocations no longer in force. Returns how many.
pub fn delete_expired(conn: &Connection, now: i64, limit: usize) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM revocations WHERE seq IN (
             SELECT seq FROM revocations WHERE expires_at <= ?1 LIMIT ?2)",
    )?
    .execute(params![now, limit as i64])
}
