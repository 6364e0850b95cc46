//! The `refresh_families` and `refresh_tokens` tables: opaque, single-use refresh tokens
//! grouped by the sign-in they descend from.
//!
//! `refresh_tokens.token_hash` holds `auth::secrets::token_key`: for tokens made since
//! keys became time-ordered, 8 characters of the creation time before the SHA-256.

use crate::db::sql::{self, Conn};
use crate::params;

/// A refresh token joined with its family.
#[derive(Debug, Clone)]
pub struct RefreshRow {
    pub family_id: String,
    pub user_id: String,
    pub client_id: String,
    pub integration_id: Option<String>,
    pub scope: String,
    pub expires_at: i64,
    pub used: bool,
    pub family_revoked: bool,
}

pub struct NewFamily<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub integration_id: Option<&'a str>,
    pub scope: &'a str,
    pub now: i64,
}

pub fn insert_family(conn: &Conn<'_>, f: &NewFamily<'_>) -> sql::Result<()> {
    conn.execute(
        "INSERT INTO refresh_families (id, user_id, client_id, integration_id, scope, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        params![
            f.id,
            f.user_id,
            f.client_id,
            f.integration_id,
            f.scope,
            f.now
        ],
    )?;
    Ok(())
}

pub fn insert_token(
    conn: &Conn<'_>,
    hash: &str,
    family_id: &str,
    now: i64,
    expires_at: i64,
) -> sql::Result<()> {
    conn.execute(
        "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4)",
        params![hash, family_id, now, expires_at],
    )?;
    Ok(())
}

pub fn find(conn: &Conn<'_>, hash: &str) -> sql::Result<Option<RefreshRow>> {
    conn.query_opt(
        "SELECT f.id, f.user_id, f.client_id, f.integration_id, f.scope, t.expires_at,
                t.used_at IS NOT NULL, f.revoked_at IS NOT NULL
         FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
         WHERE t.token_hash = $1",
        params![hash],
        |r| {
            Ok(RefreshRow {
                family_id: r.get(0)?,
                user_id: r.get(1)?,
                client_id: r.get(2)?,
                integration_id: r.get(3)?,
                scope: r.get(4)?,
                expires_at: r.get(5)?,
                used: r.get(6)?,
                family_revoked: r.get(7)?,
            })
        },
    )
}

/// Spends the token: true only for the one caller that flips it from unused.
pub fn mark_used(conn: &Conn<'_>, hash: &str, now: i64) -> sql::Result<bool> {
    Ok(conn.execute(
        "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
        params![now, hash],
    )? == 1)
}

pub fn revoke_family(conn: &Conn<'_>, family_id: &str, now: i64) -> sql::Result<()> {
    conn.execute(
        "UPDATE refresh_families SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2",
        params![now, family_id],
    )?;
    Ok(())
}

/// Revokes every family an integration holds (when the integration is deleted).
pub fn revoke_integration_families(
    conn: &Conn<'_>,
    integration_id: &str,
    now: i64,
) -> sql::Result<()> {
    conn.execute("UPDATE refresh_families SET revoked_at = $1 WHERE integration_id = $2 AND revoked_at IS NULL", params![now, integration_id])?;
    Ok(())
}

/// The refresh families the integration holds for the user (to revoke them on unlink).
pub fn families_of_link(
    conn: &Conn<'_>,
    integration_id: &str,
    user_id: &str,
) -> sql::Result<Vec<String>> {
    conn.query_all("SELECT id FROM refresh_families WHERE integration_id = $1 AND user_id = $2 AND revoked_at IS NULL", params![integration_id, user_id], |r| r.get(0))
}

/// Users who received tokens per unix day since `since` (user creation or refresh).
pub fn daily_active(conn: &Conn<'_>, client_id: &str, since: i64) -> sql::Result<Vec<(i64, i64)>> {
    conn.query_all(
        "SELECT t.created_at / 86400 AS day, count(DISTINCT f.user_id)
         FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
         WHERE f.client_id = $1 AND t.created_at >= $2 GROUP BY day",
        params![client_id, since],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Deletes up to `limit` families that can never be used again (and, by cascade, their
/// tokens): every token of theirs has expired, or they were revoked before
/// `revoked_before`. Returns how many families.
pub fn delete_dead_families(
    conn: &Conn<'_>,
    now: i64,
    revoked_before: i64,
    limit: usize,
) -> sql::Result<usize> {
    conn.execute(
        "DELETE FROM refresh_families WHERE id IN (
             SELECT f.id FROM refresh_families f
             WHERE f.revoked_at <= $1
                OR NOT EXISTS (SELECT 1 FROM refresh_tokens t
                               WHERE t.family_id = f.id AND t.expires_at > $2)
             LIMIT $3)",
        params![revoked_before, now, limit as i64],
    )
}
