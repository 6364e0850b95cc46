//! The `token_stats` table: access tokens issued per client per day.

use rusqlite::{params, Connection};

/// Adds `n` to the client's count for `day`; a deleted client's counts are dropped.
pub fn add(conn: &Connection, client_id: &str, day: i64, n: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO token_stats (client_id, day, tokens_issued)
         SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM clients WHERE id = ?1)
         ON CONFLICT (client_id, day) DO UPDATE SET tokens_issued = tokens_issued + excluded.tokens_issued",
    )?
    .execute(params![client_id, day, n])?;
    Ok(())
}

pub fn daily(
    conn: &Connection,
    client_id: &str,
    since_day: i64,
) -> rusqlite::Result<Vec<(i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, tokens_issued FROM token_stats WHERE client_id = ?1 AND day >= ?2",
    )?;
    let rows = stmt.query_map(params![client_id, since_day], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    rows.collect()
}
