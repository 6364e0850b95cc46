//! The `token_stats` table: access tokens issued per client per day.

use crate::db::sql::{self, Conn};
use crate::params;

/// Adds `n` to the client's count for `day`; a deleted client's counts are dropped.
pub fn add(conn: &Conn<'_>, client_id: &str, day: i64, n: i64) -> sql::Result<()> {
    conn.execute("INSERT INTO token_stats (client_id, day, tokens_issued)
         SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM clients WHERE id = $1)
         ON CONFLICT (client_id, day) DO UPDATE SET tokens_issued = token_stats.tokens_issued + excluded.tokens_issued", params![client_id, day, n])?;
    Ok(())
}

pub fn daily(conn: &Conn<'_>, client_id: &str, since_day: i64) -> sql::Result<Vec<(i64, i64)>> {
    conn.query_all(
        "SELECT day, tokens_issued FROM token_stats WHERE client_id = $1 AND day >= $2",
        params![client_id, since_day],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}
