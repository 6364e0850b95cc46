//! The `integrations` and `links` tables. Every change to an integration row records it
//! for the row cache (`db::cache`); inserts need not, absent rows are never cached.

use crate::db::cache::{self, Change};
use crate::db::sql::{self, Conn, Row};
use crate::params;

#[derive(Debug, Clone)]
pub struct Integration {
    pub id: String,
    pub client_id: String,
    pub name: String,
    /// JSON array text.
    pub redirect_uris: String,
    pub scopes: String,
    pub secret_sealed: Vec<u8>,
    pub secret_hash: Vec<u8>,
    pub has_service_key: bool,
    pub created_at: i64,
}

impl Integration {
    pub fn redirect_uris(&self) -> Vec<String> {
        serde_json::from_str(&self.redirect_uris).unwrap_or_default()
    }
}

const COLUMNS: &str = "id, client_id, name, redirect_uris, scopes, secret_sealed, secret_hash, \
                       service_key_hash IS NOT NULL, created_at";

fn from_row(r: &Row<'_>) -> sql::Result<Integration> {
    Ok(Integration {
        id: r.get(0)?,
        client_id: r.get(1)?,
        name: r.get(2)?,
        redirect_uris: r.get(3)?,
        scopes: r.get(4)?,
        secret_sealed: r.get(5)?,
        secret_hash: r.get(6)?,
        has_service_key: r.get(7)?,
        created_at: r.get(8)?,
    })
}

pub struct NewIntegration<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    pub name: &'a str,
    pub redirect_uris: &'a str,
    pub scopes: &'a str,
    pub secret_sealed: &'a [u8],
    pub secret_hash: &'a [u8],
    pub service_key: Option<(Vec<u8>, Vec<u8>)>,
    pub now: i64,
}

pub fn insert(conn: &Conn<'_>, i: &NewIntegration<'_>) -> sql::Result<()> {
    let (sk_sealed, sk_hash) = match &i.service_key {
        Some((s, h)) => (Some(s.as_slice()), Some(h.as_slice())),
        None => (None, None),
    };
    conn.execute(
        "INSERT INTO integrations (id, client_id, name, redirect_uris, scopes, secret_sealed,
                                   secret_hash, service_key_sealed, service_key_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        params![
            i.id,
            i.client_id,
            i.name,
            i.redirect_uris,
            i.scopes,
            i.secret_sealed,
            i.secret_hash,
            sk_sealed,
            sk_hash,
            i.now
        ],
    )?;
    Ok(())
}

pub fn find(conn: &Conn<'_>, id: &str) -> sql::Result<Option<Integration>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM integrations WHERE id = $1"),
        params![id],
        from_row,
    )
}

/// The integration only if it belongs to `client_id`.
pub fn find_in_client(
    conn: &Conn<'_>,
    client_id: &str,
    id: &str,
) -> sql::Result<Option<Integration>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM integrations WHERE id = $1 AND client_id = $2"),
        params![id, client_id],
        from_row,
    )
}

pub fn find_by_service_key(conn: &Conn<'_>, hash: &[u8]) -> sql::Result<Option<Integration>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM integrations WHERE service_key_hash = $1"),
        params![hash],
        from_row,
    )
}

/// The client's integrations, oldest first, each with its number of linked users.
pub fn list(conn: &Conn<'_>, client_id: &str) -> sql::Result<Vec<(Integration, i64)>> {
    conn.query_all(
        &format!(
        "SELECT {COLUMNS}, (SELECT count(*) FROM links l WHERE l.integration_id = integrations.id)
         FROM integrations WHERE client_id = $1 ORDER BY created_at, id"
    ),
        params![client_id],
        |r| Ok((from_row(r)?, r.get(9)?)),
    )
}

pub fn linked_users(conn: &Conn<'_>, id: &str) -> sql::Result<i64> {
    conn.query_one(
        "SELECT count(*) FROM links WHERE integration_id = $1",
        params![id],
        |r| r.get(0),
    )
}

pub fn update(
    conn: &Conn<'_>,
    id: &str,
    name: &str,
    redirect_uris: &str,
    scopes: &str,
) -> sql::Result<()> {
    cache::changed(Change::Integration(id.to_owned()));
    conn.execute(
        "UPDATE integrations SET name = $1, redirect_uris = $2, scopes = $3 WHERE id = $4",
        params![name, redirect_uris, scopes, id],
    )?;
    Ok(())
}

pub fn set_service_key(
    conn: &Conn<'_>,
    id: &str,
    key: Option<(Vec<u8>, Vec<u8>)>,
) -> sql::Result<()> {
    cache::changed(Change::Integration(id.to_owned()));
    let (sealed, hash) = match key {
        Some((s, h)) => (Some(s), Some(h)),
        None => (None, None),
    };
    conn.execute(
        "UPDATE integrations SET service_key_sealed = $1, service_key_hash = $2 WHERE id = $3",
        params![sealed, hash, id],
    )?;
    Ok(())
}

pub fn set_secret(conn: &Conn<'_>, id: &str, sealed: &[u8], hash: &[u8]) -> sql::Result<()> {
    cache::changed(Change::Integration(id.to_owned()));
    conn.execute(
        "UPDATE integrations SET secret_sealed = $1, secret_hash = $2 WHERE id = $3",
        params![sealed, hash, id],
    )?;
    Ok(())
}

pub fn delete(conn: &Conn<'_>, id: &str) -> sql::Result<()> {
    cache::changed(Change::Integration(id.to_owned()));
    conn.execute("DELETE FROM integrations WHERE id = $1", params![id])?;
    Ok(())
}

/// Records (or widens/narrows to) what `user_id` granted the integration.
pub fn upsert_link(
    conn: &Conn<'_>,
    integration_id: &str,
    user_id: &str,
    scopes: &str,
    now: i64,
) -> sql::Result<()> {
    conn.execute(
        "INSERT INTO links (integration_id, user_id, scopes, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (integration_id, user_id) DO UPDATE SET scopes = excluded.scopes",
        params![integration_id, user_id, scopes, now],
    )?;
    Ok(())
}

/// A user's links: (integration id, name, granted scopes, linked at).
pub fn links_of(conn: &Conn<'_>, user_id: &str) -> sql::Result<Vec<(String, String, String, i64)>> {
    conn.query_all(
        "SELECT i.id, i.name, l.scopes, l.created_at FROM links l
         JOIN integrations i ON i.id = l.integration_id
         WHERE l.user_id = $1 ORDER BY l.created_at",
        params![user_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
}

pub fn delete_link(conn: &Conn<'_>, integration_id: &str, user_id: &str) -> sql::Result<bool> {
    Ok(conn.execute(
        "DELETE FROM links WHERE integration_id = $1 AND user_id = $2",
        params![integration_id, user_id],
    )? == 1)
}
