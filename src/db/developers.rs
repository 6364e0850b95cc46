//! The `developers` table: portal accounts.

use crate::db::cache::{self, Change};
use crate::db::sql::{self, Conn, Row};
use crate::params;

/// A developer account as stored.
#[derive(Debug, Clone)]
pub struct Developer {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub email_verified_at: Option<i64>,
    pub created_at: i64,
}

const COLUMNS: &str = "id, email, password_hash, email_verified_at, created_at";

fn from_row(r: &Row<'_>) -> sql::Result<Developer> {
    Ok(Developer {
        id: r.get(0)?,
        email: r.get(1)?,
        password_hash: r.get(2)?,
        email_verified_at: r.get(3)?,
        created_at: r.get(4)?,
    })
}

/// Inserts a developer; `Ok(false)` when the email is already taken.
pub fn insert(conn: &Conn<'_>, id: &str, email: &str, hash: &str, now: i64) -> sql::Result<bool> {
    let n = conn.execute(
        "INSERT INTO developers (id, email, password_hash, created_at, password_changed_at)
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (email) DO NOTHING",
        params![id, email, hash, now],
    )?;
    Ok(n == 1)
}

pub fn find_by_email(conn: &Conn<'_>, email: &str) -> sql::Result<Option<Developer>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM developers WHERE email = $1"),
        params![email],
        from_row,
    )
}

pub fn find(conn: &Conn<'_>, id: &str) -> sql::Result<Option<Developer>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM developers WHERE id = $1"),
        params![id],
        from_row,
    )
}

pub fn set_password(conn: &Conn<'_>, id: &str, hash: &str, now: i64) -> sql::Result<()> {
    conn.execute(
        "UPDATE developers SET password_hash = $1, password_changed_at = $2 WHERE id = $3",
        params![hash, now, id],
    )?;
    Ok(())
}

/// Replaces the hash only if it is still `old` (a rehash must not undo a password change
/// that raced with the login that triggered it).
pub fn rehash(conn: &Conn<'_>, id: &str, old: &str, new: &str) -> sql::Result<()> {
    conn.execute(
        "UPDATE developers SET password_hash = $1 WHERE id = $2 AND password_hash = $3",
        params![new, id, old],
    )?;
    Ok(())
}

pub fn mark_verified(conn: &Conn<'_>, id: &str, now: i64) -> sql::Result<()> {
    // The developer's clients' cached credential records carry the owner's state.
    cache::changed(Change::AllClients);
    conn.execute(
        "UPDATE developers SET email_verified_at = $1 WHERE id = $2 AND email_verified_at IS NULL",
        params![now, id],
    )?;
    Ok(())
}

/// Deletes the account; sessions, email tokens, clients and their users go with it
/// (foreign keys cascade).
pub fn delete(conn: &Conn<'_>, id: &str) -> sql::Result<bool> {
    cache::changed(Change::AllClients);
    cache::changed(Change::AllUsers);
    cache::changed(Change::AllIntegrations);
    Ok(conn.execute("DELETE FROM developers WHERE id = $1", params![id])? == 1)
}
