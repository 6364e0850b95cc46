//! The `revocations` table: the durable side of the in-memory revocation state.

use crate::db::sql::{self, Conn};
use crate::params;

/// Records a revocation and tells the other nodes. Revocations are written one
/// transaction at a time across the cluster (see [`sql::locks::REVOCATIONS`]).
pub fn insert(
    conn: &Conn<'_>,
    kind: &str,
    subject: &str,
    now: i64,
    expires_at: i64,
) -> sql::Result<i64> {
    conn.lock_for_transaction(sql::locks::REVOCATIONS)?;
    conn.notify_change()?;
    conn.query_one(
        "INSERT INTO revocations (kind, subject, created_at, expires_at)
         VALUES ($1, $2, $3, $4) RETURNING seq",
        params![kind, subject, now, expires_at],
        |r| r.get(0),
    )
}

/// Every revocation still in force: (seq, kind, subject, expires_at).
pub fn list_live(conn: &Conn<'_>, now: i64) -> sql::Result<Vec<(i64, String, String, i64)>> {
    conn.query_all(
        "SELECT seq, kind, subject, expires_at FROM revocations WHERE expires_at > $1 ORDER BY seq",
        params![now],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
}

/// Revocations recorded after `seq`, oldest first: what another node added since this
/// one last looked.
pub fn list_since(conn: &Conn<'_>, seq: i64) -> sql::Result<Vec<(i64, String, String, i64)>> {
    conn.query_all(
        "SELECT seq, kind, subject, expires_at FROM revocations WHERE seq > $1 ORDER BY seq",
        params![seq],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
}

/// Deletes up to `limit` revocations no longer in force. Returns how many.
pub fn delete_expired(conn: &Conn<'_>, now: i64, limit: usize) -> sql::Result<usize> {
    conn.execute(
        "DELETE FROM revocations WHERE seq IN (
             SELECT seq FROM revocations WHERE expires_at <= $1 LIMIT $2)",
        params![now, limit as i64],
    )
}
