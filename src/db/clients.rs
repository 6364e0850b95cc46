//! The `clients` table: one row per mobile app.

use crate::db::cache::{self, Change};
use crate::db::sql::{self, Conn, Row};
use crate::params;

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

fn from_row(r: &Row<'_>) -> sql::Result<Client> {
    Ok(Client {
        id: r.get(0)?,
        developer_id: r.get(1)?,
        name: r.get(2)?,
        secret_sealed: r.get(3)?,
        secret_hash: r.get(4)?,
        secret_generation: generation(r.get(5)?),
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

/// Inserts the client; the other nodes learn of it at commit.
pub fn insert(conn: &Conn<'_>, c: &NewClient<'_>) -> sql::Result<()> {
    conn.notify_change()?;
    conn.execute(
        "INSERT INTO clients (id, developer_id, name, secret_sealed, secret_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        params![
            c.id,
            c.developer_id,
            c.name,
            c.secret_sealed,
            c.secret_hash,
            c.now
        ],
    )?;
    Ok(())
}

/// The client, if `developer_id` owns it.
pub fn find_owned(conn: &Conn<'_>, id: &str, developer_id: &str) -> sql::Result<Option<Client>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM clients c WHERE c.id = $1 AND c.developer_id = $2"),
        params![id, developer_id],
        from_row,
    )
}

/// The client and whether its owner's email is verified, for credential checks.
pub fn find_for_auth(conn: &Conn<'_>, id: &str) -> sql::Result<Option<ClientAuth>> {
    conn.query_opt(
        &format!(
            "SELECT {COLUMNS}, d.email_verified_at IS NOT NULL
         FROM clients c JOIN developers d ON d.id = c.developer_id WHERE c.id = $1"
        ),
        params![id],
        |r| {
            Ok(ClientAuth {
                client: from_row(r)?,
                owner_verified: r.get(8)?,
            })
        },
    )
}

/// The developer's clients, oldest first, each with its user count.
pub fn list_owned(conn: &Conn<'_>, developer_id: &str) -> sql::Result<Vec<(Client, i64)>> {
    conn.query_all(
        &format!(
            "SELECT {COLUMNS}, (SELECT count(*) FROM users u WHERE u.client_id = c.id)
         FROM clients c WHERE c.developer_id = $1 ORDER BY c.created_at, c.id"
        ),
        params![developer_id],
        |r| Ok((from_row(r)?, r.get(8)?)),
    )
}

pub fn user_count(conn: &Conn<'_>, id: &str) -> sql::Result<i64> {
    conn.query_one(
        "SELECT count(*) FROM users WHERE client_id = $1",
        params![id],
        |r| r.get(0),
    )
}

pub fn rename(conn: &Conn<'_>, id: &str, name: &str) -> sql::Result<()> {
    cache::changed(Change::Client(id.to_owned()));
    conn.execute(
        "UPDATE clients SET name = $1 WHERE id = $2",
        params![name, id],
    )?;
    Ok(())
}

/// Stores a new secret and bumps the generation; returns the new generation. The other
/// nodes learn of it at commit.
pub fn set_secret(conn: &Conn<'_>, id: &str, sealed: &[u8], hash: &[u8]) -> sql::Result<u32> {
    conn.notify_change()?;
    cache::changed(Change::Client(id.to_owned()));
    conn.query_one(
        "UPDATE clients SET secret_sealed = $1, secret_hash = $2,
                secret_generation = secret_generation + 1
         WHERE id = $3 RETURNING secret_generation",
        params![sealed, hash, id],
        |r| Ok(generation(r.get(0)?)),
    )
}

/// Deletes the client; its users, families, events, stats and integrations cascade.
pub fn delete(conn: &Conn<'_>, id: &str) -> sql::Result<()> {
    cache::changed(Change::Client(id.to_owned()));
    cache::changed(Change::AllUsers);
    cache::changed(Change::AllIntegrations);
    conn.execute("DELETE FROM clients WHERE id = $1", params![id])?;
    Ok(())
}

/// A stored generation (BIGINT on PostgreSQL), as the `u32` tokens carry.
fn generation(stored: i64) -> u32 {
    u32::try_from(stored).unwrap_or(u32::MAX)
}

/// Every enabled client's id and secret generation, for the in-memory revocation state.
pub fn list_live(conn: &Conn<'_>) -> sql::Result<Vec<(String, u32)>> {
    conn.query_all(
        "SELECT id, secret_generation FROM clients WHERE disabled_at IS NULL",
        params![],
        |r| Ok((r.get(0)?, generation(r.get(1)?))),
    )
}

/// The ids of a developer's clients (to revoke them when the account is deleted).
pub fn ids_owned(conn: &Conn<'_>, developer_id: &str) -> sql::Result<Vec<String>> {
    conn.query_all(
        "SELECT id FROM clients WHERE developer_id = $1",
        params![developer_id],
        |r| r.get(0),
    )
}
