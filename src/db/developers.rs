//! The `developers` table: portal accounts.

use rusqlite::{params, Connection, OptionalExtension, Row};

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

fn from_row(r: &Row<'_>) -> rusqlite::Result<Developer> {
    Ok(Developer {
        id: r.get(0)?,
        email: r.get(1)?,
        password_hash: r.get(2)?,
        email_verified_at: r.get(3)?,
        created_at: r.get(4)?,
    })
}

/// Inserts a developer; `Ok(false)` when the email is already taken.
pub fn insert(
    conn: &Connection,
    id: &str,
    email: &str,
    hash: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT INTO developers (id, email, password_hash, created_at, password_changed_at)
         VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (email) DO NOTHING",
        )?
        .execute(params![id, email, hash, now])?;
    Ok(n == 1)
}

pub fn find_by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<Developer>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM developers WHERE email = ?1"
    ))?
    .query_row([email], from_row)
    .optional()
}

pub fn find(conn: &Connection, id: &str) -> rusqlite::Result<Option<Developer>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM developers WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

pub fn set_password(conn: &Connection, id: &str, hash: &str, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE developers SET password_hash = ?2, password_changed_at = ?3 WHERE id = ?1",
    )?
    .execute(params![id, hash, now])?;
    Ok(())
}

/// Replaces the hash only if it is still `old` (a rehash must not undo a password change
/// that raced with the login that triggered it).
pub fn rehash(conn: &Connection, id: &str, old: &str, new: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE developers SET password_hash = ?3 WHERE id = ?1 AND password_hash = ?2",
    )?
    .execute(params![id, old, new])?;
    Ok(())
}

pub fn mark_verified(conn: &Connection, id: &str, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE developers SET email_verified_at = ?2 WHERE id = ?1 AND email_verified_at IS NULL",
    )?
    .execute(params![id, now])?;
    Ok(())
}

/// Deletes the account; sessions and email tokens go with it (foreign keys cascade).
pub fn delete(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM developers WHERE id = ?1")?
        .execute([id])?
        == 1)
}
