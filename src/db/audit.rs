//! The `audit_events` table: who did what, from where, when.

use crate::db::sql::{self, Conn, Row};
use crate::params;

/// One security event as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub at: i64,
    pub developer_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
}

/// What to record; `at` is now.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub ip: Option<&'a str>,
}

fn from_row(r: &Row<'_>) -> sql::Result<Event> {
    Ok(Event {
        id: r.get(0)?,
        at: r.get(1)?,
        developer_id: r.get(2)?,
        actor: r.get(3)?,
        action: r.get(4)?,
        target: r.get(5)?,
        ip: r.get(6)?,
    })
}

/// Records an event on `developer_id`'s activity (None: the server's own, e.g. keys).
pub fn record(conn: &Conn<'_>, developer_id: Option<&str>, e: &Entry<'_>) -> sql::Result<()> {
    conn.execute(
        "INSERT INTO audit_events (at, developer_id, actor, action, target, ip)
         VALUES ($1, $2, $3, $4, $5, $6)",
        params![
            crate::clock::now(),
            developer_id,
            e.actor,
            e.action,
            e.target,
            e.ip
        ],
    )?;
    Ok(())
}

/// Records an event on the activity of the developer who owns `client_id`.
pub fn record_for_client(conn: &Conn<'_>, client_id: &str, e: &Entry<'_>) -> sql::Result<()> {
    conn.execute(
        "INSERT INTO audit_events (at, developer_id, actor, action, target, ip)
         SELECT $1, developer_id, $2, $3, $4, $5 FROM clients WHERE id = $6",
        params![
            crate::clock::now(),
            e.actor,
            e.action,
            e.target,
            e.ip,
            client_id
        ],
    )?;
    Ok(())
}

const COLUMNS: &str = "id, at, developer_id, actor, action, target, ip";

/// A developer's events, newest first, before the event id `before` when given.
pub fn list_for_developer(
    conn: &Conn<'_>,
    developer_id: &str,
    before: Option<i64>,
    limit: u32,
) -> sql::Result<Vec<Event>> {
    conn.query_all(&format!(
        "SELECT {COLUMNS} FROM audit_events WHERE developer_id = $1 AND id < coalesce($2, 9223372036854775807)
         ORDER BY id DESC LIMIT $3"
    ), params![developer_id, before, i64::from(limit)], from_row)
}

/// Every event since `since` (unix seconds), oldest first, for operators.
pub fn list_since(conn: &Conn<'_>, since: i64) -> sql::Result<Vec<Event>> {
    conn.query_all(
        &format!("SELECT {COLUMNS} FROM audit_events WHERE at >= $1 ORDER BY id"),
        params![since],
        from_row,
    )
}
