//! The `users` table: the end users of one client.

use crate::db::cache::{self, Change};
use crate::db::sql::{self, Conn, Row};
use crate::params;

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub client_id: String,
    pub metadata: String,
    pub disabled: bool,
    pub created_at: i64,
}

const COLUMNS: &str = "id, client_id, metadata, disabled_at IS NOT NULL, created_at";

fn from_row(r: &Row<'_>) -> sql::Result<User> {
    Ok(User {
        id: r.get(0)?,
        client_id: r.get(1)?,
        metadata: r.get(2)?,
        disabled: r.get(3)?,
        created_at: r.get(4)?,
    })
}

pub fn insert(
    conn: &Conn<'_>,
    id: &str,
    client_id: &str,
    metadata: &str,
    now: i64,
) -> sql::Result<()> {
    conn.execute(
        "INSERT INTO users (id, client_id, metadata, created_at) VALUES ($1, $2, $3, $4)",
        params![id, client_id, metadata, now],
    )?;
    Ok(())
}

/// The user, only if they belong to `client_id`: every lookup is siloed by client.
pub fn find(conn: &Conn<'_>, client_id: &str, id: &str) -> sql::Result<Option<User>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM users WHERE id = $1 AND client_id = $2"),
        params![id, client_id],
        from_row,
    )
}

/// A page of the client's users in id order, after `after` when given.
pub fn list(
    conn: &Conn<'_>,
    client_id: &str,
    after: Option<&str>,
    limit: u32,
) -> sql::Result<Vec<User>> {
    conn.query_all(
        &format!(
            "SELECT {COLUMNS} FROM users WHERE client_id = $1 AND id > coalesce($2, '')
         ORDER BY id LIMIT $3"
        ),
        params![client_id, after, i64::from(limit)],
        from_row,
    )
}

pub fn set_metadata(
    conn: &Conn<'_>,
    client_id: &str,
    id: &str,
    metadata: &str,
) -> sql::Result<bool> {
    cache::changed(Change::User(id.to_owned()));
    Ok(conn.execute(
        "UPDATE users SET metadata = $1 WHERE id = $2 AND client_id = $3",
        params![metadata, id, client_id],
    )? == 1)
}

pub fn disable(conn: &Conn<'_>, client_id: &str, id: &str, now: i64) -> sql::Result<bool> {
    cache::changed(Change::User(id.to_owned()));
    Ok(conn.execute(
        "UPDATE users SET disabled_at = coalesce(disabled_at, $1) WHERE id = $2 AND client_id = $3",
        params![now, id, client_id],
    )? == 1)
}

/// Deletes the user; events and refresh families cascade.
pub fn delete(conn: &Conn<'_>, client_id: &str, id: &str) -> sql::Result<bool> {
    cache::changed(Change::User(id.to_owned()));
    Ok(conn.execute(
        "DELETE FROM users WHERE id = $1 AND client_id = $2",
        params![id, client_id],
    )? == 1)
}

/// New users per unix day since `since_day`.
pub fn daily_new(conn: &Conn<'_>, client_id: &str, since: i64) -> sql::Result<Vec<(i64, i64)>> {
    conn.query_all(
        "SELECT created_at / 86400 AS day, count(*) FROM users
         WHERE client_id = $1 AND created_at >= $2 GROUP BY day",
        params![client_id, since],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Inserts the user unless one with this id exists (for fixed ids such as IFTTT's test user).
pub fn insert_if_absent(
    conn: &Conn<'_>,
    id: &str,
    client_id: &str,
    metadata: &str,
    now: i64,
) -> sql::Result<bool> {
    Ok(conn.execute(
        "INSERT INTO users (id, client_id, metadata, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO NOTHING",
        params![id, client_id, metadata, now],
    )? == 1)
}
