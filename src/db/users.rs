//! The `users` table: the end users of one client.

use rusqlite::{params, Connection, OptionalExtension, Row};

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub client_id: String,
    pub metadata: String,
    pub disabled: bool,
    pub created_at: i64,
}

const COLUMNS: &str = "id, client_id, metadata, disabled_at IS NOT NULL, created_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        client_id: r.get(1)?,
        metadata: r.get(2)?,
        disabled: r.get(3)?,
        created_at: r.get(4)?,
    })
}

pub fn insert(
    conn: &Connection,
    id: &str,
    client_id: &str,
    metadata: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO users (id, client_id, metadata, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, client_id, metadata, now])?;
    Ok(())
}

/// The user, only if they belong to `client_id`: every lookup is siloed by client.
pub fn find(conn: &Connection, client_id: &str, id: &str) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users WHERE id = ?1 AND client_id = ?2"
    ))?
    .query_row(params![id, client_id], from_row)
    .optional()
}

/// A page of the client's users in id order, after `after` when given.
pub fn list(
    conn: &Connection,
    client_id: &str,
    after: Option<&str>,
    limit: u32,
) -> rusqlite::Result<Vec<User>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users WHERE client_id = ?1 AND id > coalesce(?2, '')
         ORDER BY id LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![client_id, after, limit], from_row)?;
    rows.collect()
}

pub fn set_metadata(
    conn: &Connection,
    client_id: &str,
    id: &str,
    metadata: &str,
) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("UPDATE users SET metadata = ?3 WHERE id = ?1 AND client_id = ?2")?
        .execute(params![id, client_id, metadata])?
        == 1)
}

pub fn disable(conn: &Connection, client_id: &str, id: &str, now: i64) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE users SET disabled_at = coalesce(disabled_at, ?3) WHERE id = ?1 AND client_id = ?2",
        )?
        .execute(params![id, client_id, now])?
        == 1)
}

/// Deletes the user; events and refresh families cascade.
pub fn delete(conn: &Connection, client_id: &str, id: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM users WHERE id = ?1 AND client_id = ?2")?
        .execute(params![id, client_id])?
        == 1)
}

/// New users per unix day since `since_day`.
pub fn daily_new(
    conn: &Connection,
    client_id: &str,
    since: i64,
) -> rusqlite::Result<Vec<(i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT created_at / 86400 AS day, count(*) FROM users
         WHERE client_id = ?1 AND created_at >= ?2 GROUP BY day",
    )?;
    let rows = stmt.query_map(params![client_id, since], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Inserts the user unless one with this id exists (for fixed ids such as IFTTT's test user).
pub fn insert_if_absent(
    conn: &Connection,
    id: &str,
    client_id: &str,
    metadata: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO users (id, client_id, metadata, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![id, client_id, metadata, now])?
        == 1)
}
