//! The `clients` table: one row per mobile app.

use rusqlite::{params, Connection, OptionalExtension, Row};

#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub developer_id: String,
    pub name: String,
    pub secret_sealed: Vec<u8>,
    pub secret_hash: Vec<u8>,
    pub secret_generation: u32,
    pub disabled: bool,
    pub created_at: i64,
}

/// A client with what its credentials check needs about its owner.
#[derive(Debug, Clone)]
pub struct ClientAuth {
    pub client: Client,
    pub owner_verified: bool,
}

const COLUMNS: &str = "c.id, c.developer_id, c.name, c.secret_sealed, c.secret_hash, \
                       c.secret_generation, c.disabled_at IS NOT NULL, c.created_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Client> {
    Ok(Client {
        id: r.get(0)?,
        developer_id: r.get(1)?,
        name: r.get(2)?,
        secret_sealed: r.get(3)?,
        secret_hash: r.get(4)?,
        secret_generation: r.get(5)?,
        disabled: r.get(6)?,
        created_at: r.get(7)?,
    })
}

pub struct NewClient<'a> {
    pub id: &'a str,
    pub developer_id: &'a str,
    pub name: &'a str,
    pub secret_sealed: &'a [u8],
    pub secret_hash: &'a [u8],
    pub now: i64,
}

pub fn insert(conn: &Connection, c: &NewClient<'_>) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO clients (id, developer_id, name, secret_sealed, secret_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        c.id,
        c.developer_id,
        c.name,
        c.secret_sealed,
        c.secret_hash,
        c.now
    ])?;
    Ok(())
}

/// The client, if `developer_id` owns it.
pub fn find_owned(
    conn: &Connection,
    id: &str,
    developer_id: &str,
) -> rusqlite::Result<Option<Client>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM clients c WHERE c.id = ?1 AND c.developer_id = ?2"
    ))?
    .query_row(params![id, developer_id], from_row)
    .optional()
}

/// The client and whether its owner's email is verified, for credential checks.
pub fn find_for_auth(conn: &Connection, id: &str) -> rusqlite::Result<Option<ClientAuth>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, d.email_verified_at IS NOT NULL
         FROM clients c JOIN developers d ON d.id = c.developer_id WHERE c.id = ?1"
    ))?
    .query_row([id], |r| {
        Ok(ClientAuth {
            client: from_row(r)?,
            owner_verified: r.get(8)?,
        })
    })
    .optional()
}

/// The developer's clients, oldest first, each with its user count.
pub fn list_owned(conn: &Connection, developer_id: &str) -> rusqlite::Result<Vec<(Client, i64)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, (SELECT count(*) FROM users u WHERE u.client_id = c.id)
         FROM clients c WHERE c.developer_id = ?1 ORDER BY c.created_at, c.id"
    ))?;
    let rows = stmt.query_map([developer_id], |r| Ok((from_row(r)?, r.get(8)?)))?;
    rows.collect()
}

pub fn user_count(conn: &Connection, id: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT count(*) FROM users WHERE client_id = ?1")?
        .query_row([id], |r| r.get(0))
}

pub fn rename(conn: &Connection, id: &str, name: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE clients SET name = ?2 WHERE id = ?1")?
        .execute(params![id, name])?;
    Ok(())
}

/// Stores a new secret and bumps the generation; returns the new generation.
pub fn set_secret(
    conn: &Connection,
    id: &str,
    sealed: &[u8],
    hash: &[u8],
) -> rusqlite::Result<u32> {
    conn.prepare_cached(
        "UPDATE clients SET secret_sealed = ?2, secret_hash = ?3,
                secret_generation = secret_generation + 1
         WHERE id = ?1 RETURNING secret_generation",
    )?
    .query_row(params![id, sealed, hash], |r| r.get(0))
}

/// Deletes the client; its users, families, events and stats cascade.
pub fn delete(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM clients WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Every enabled client's id and secret generation, for the in-memory revocation state.
pub fn list_live(conn: &Connection) -> rusqlite::Result<Vec<(String, u32)>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, secret_generation FROM clients WHERE disabled_at IS NULL")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// The ids of a developer's clients (to revoke them when the account is deleted).
pub fn ids_owned(conn: &Connection, developer_id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM clients WHERE developer_id = ?1")?;
    let rows = stmt.query_map([developer_id], |r| r.get(0))?;
    rows.collect()
}
