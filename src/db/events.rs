//! The `events` table: what a user's app records, paged by id.

use crate::db::sql::{self, Conn, Row};
use crate::params;

#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    pub data: String,
    pub occurred_at: Option<i64>,
    pub created_at: i64,
}

fn from_row(r: &Row<'_>) -> sql::Result<Event> {
    Ok(Event {
        id: r.get(0)?,
        kind: r.get(1)?,
        data: r.get(2)?,
        occurred_at: r.get(3)?,
        created_at: r.get(4)?,
    })
}

pub fn insert(
    conn: &Conn<'_>,
    user_id: &str,
    kind: &str,
    data: &str,
    occurred_at: Option<i64>,
    now: i64,
) -> sql::Result<i64> {
    conn.query_one(
        "INSERT INTO events (user_id, type, data, occurred_at, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        params![user_id, kind, data, occurred_at, now],
        |r| r.get(0),
    )
}

/// The user's events after `after`, oldest first.
pub fn list(conn: &Conn<'_>, user_id: &str, after: i64, limit: u32) -> sql::Result<Vec<Event>> {
    conn.query_all(
        "SELECT id, type, data, occurred_at, created_at FROM events
         WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        params![user_id, after, i64::from(limit)],
        from_row,
    )
}

/// The user's newest events first (IFTTT's trigger order).
pub fn list_newest(conn: &Conn<'_>, user_id: &str, limit: u32) -> sql::Result<Vec<Event>> {
    conn.query_all(
        "SELECT id, type, data, occurred_at, created_at FROM events
         WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
        params![user_id, i64::from(limit)],
        from_row,
    )
}
