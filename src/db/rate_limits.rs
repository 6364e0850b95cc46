//! The `rate_limits` table: cluster-wide counters, one per limited key per fixed window.

use crate::db::sql::{self, Conn};
use crate::params;

/// Adds a hit to `key`'s window starting at `window_start` (when `hit`) and returns the
/// window's count.
pub fn count(conn: &Conn<'_>, key: &str, window_start: i64, hit: bool) -> sql::Result<i64> {
    if !hit {
        return Ok(conn
            .query_opt(
                "SELECT hits FROM rate_limits WHERE key = $1 AND window_start = $2",
                params![key, window_start],
                |r| r.get(0usize),
            )?
            .unwrap_or(0));
    }
    conn.value(
        "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1)
         ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1
         RETURNING hits",
        params![key, window_start],
    )
}

/// Deletes up to `limit` windows that started before `before`. Returns how many.
pub fn delete_before(conn: &Conn<'_>, before: i64, limit: usize) -> sql::Result<usize> {
    conn.execute(
        "DELETE FROM rate_limits WHERE (key, window_start) IN (
             SELECT key, window_start FROM rate_limits WHERE window_start < $1 LIMIT $2)",
        params![before, limit as i64],
    )
}
