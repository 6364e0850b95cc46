//! The `refresh_families` and `refresh_tokens` tables: opaque, single-use refresh tokens
//! grouped by the sign-in they descend from.

use rusqlite::{params, Connection, OptionalExtension};

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

pub fn insert_family(conn: &Connection, f: &NewFamily<'_>) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO refresh_families (id, user_id, client_id, integration_id, scope, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        f.id,
        f.user_id,
        f.client_id,
        f.integration_id,
        f.scope,
        f.now
    ])?;
    Ok(())
}

pub fn insert_token(
    conn: &Connection,
    hash: &str,
    family_id: &str,
    now: i64,
    expires_at: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![hash, family_id, now, expires_at])?;
    Ok(())
}

pub fn find(conn: &Connection, hash: &str) -> rusqlite::Result<Option<RefreshRow>> {
    conn.prepare_cached(
        "SELECT f.id, f.user_id, f.client_id, f.integration_id, f.scope, t.expires_at,
                t.used_at IS NOT NULL, f.revoked_at IS NOT NULL
         FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
         WHERE t.token_hash = ?1",
    )?
    .query_row([hash], |r| {
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
    })
    .optional()
}

/// Spends the token: true only for the one caller that flips it from unused.
pub fn mark_used(conn: &Connection, hash: &str, now: i64) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE refresh_tokens SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL",
        )?
        .execute(params![hash, now])?
        == 1)
}

pub fn revoke_family(conn: &Connection, family_id: &str, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE refresh_families SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
    )?
    .execute(params![family_id, now])?;
    Ok(())
}

/// Revokes every family an integration holds (when the integration is deleted).
pub fn revoke_integration_families(
    conn: &Connection,
    integration_id: &str,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE refresh_families SET revoked_at = ?2 WHERE integration_id = ?1 AND revoked_at IS NULL",
    )?
    .execute(params![integration_id, now])?;
    Ok(())
}

/// The refresh families the integration holds for the user (to revoke them on unlink).
pub fn families_of_link(
    conn: &Connection,
    integration_id: &str,
    user_id: &str,
) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM refresh_families WHERE integration_id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
    )?;
    let rows = stmt.query_map(params![integration_id, user_id], |r| r.get(0))?;
    rows.collect()
}

/// Users who received tokens per unix day since `since` (user creation or refresh).
pub fn daily_active(
    conn: &Connection,
    client_id: &str,
    since: i64,
) -> rusqlite::Result<Vec<(i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.created_at / 86400 AS day, count(DISTINCT f.user_id)
         FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
         WHERE f.client_id = ?1 AND t.created_at >= ?2 GROUP BY day",
    )?;
    let rows = stmt.query_map(params![client_id, since], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Deletes up to `limit` families that can never be used again (and, by cascade, their
/// tokens): every token of theirs has expired, or they were revoked before
/// `revoked_before`. Returns how many families.
pub fn delete_dead_families(
    conn: &Connection,
    now: i64,
    revoked_before: i64,
    limit: usize,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM refresh_families WHERE id IN (
             SELECT f.id FROM refresh_families f
             WHERE f.revoked_at <= ?2
                OR NOT EXISTS (SELECT 1 FROM refresh_tokens t
                               WHERE t.family_id = f.id AND t.expires_at > ?1)
             LIMIT ?3)",
    )?
    .execute(params![now, revoked_before, limit as i64])
}
