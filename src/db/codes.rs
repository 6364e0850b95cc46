//! The `link_codes` and `auth_codes` tables: short-lived, single-use, stored hashed.
//! `auth_codes.code_hash` holds `auth::secrets::token_key` (creation time, then the hash).

use crate::db::sql::{self, Conn};
use crate::params;

pub fn insert_link_code(
    conn: &Conn<'_>,
    hash: &str,
    user_id: &str,
    client_id: &str,
    now: i64,
    expires_at: i64,
) -> sql::Result<()> {
    conn.execute(
        "INSERT INTO link_codes (code_hash, user_id, client_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        params![hash, user_id, client_id, now, expires_at],
    )?;
    Ok(())
}

/// Spends a live link code of `client_id` and returns its user; `None` when unknown,
/// used, expired, or another client's.
pub fn consume_link_code(
    conn: &Conn<'_>,
    hash: &str,
    client_id: &str,
    now: i64,
) -> sql::Result<Option<String>> {
    conn.query_opt(
        "UPDATE link_codes SET used_at = $1
         WHERE code_hash = $2 AND client_id = $3 AND used_at IS NULL AND expires_at > $1
         RETURNING user_id",
        params![now, hash, client_id],
        |r| r.get(0),
    )
}

pub struct NewAuthCode<'a> {
    pub hash: &'a str,
    pub integration_id: &'a str,
    pub user_id: &'a str,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    pub code_challenge: Option<&'a str>,
    pub now: i64,
    pub expires_at: i64,
}

pub fn insert_auth_code(conn: &Conn<'_>, c: &NewAuthCode<'_>) -> sql::Result<()> {
    conn.execute(
        "INSERT INTO auth_codes (code_hash, integration_id, user_id, redirect_uri, scope,
                                 code_challenge, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        params![
            c.hash,
            c.integration_id,
            c.user_id,
            c.redirect_uri,
            c.scope,
            c.code_challenge,
            c.now,
            c.expires_at
        ],
    )?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct AuthCode {
    pub integration_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub code_challenge: Option<String>,
    pub expires_at: i64,
    pub used: bool,
    pub family_id: Option<String>,
}

pub fn find_auth_code(conn: &Conn<'_>, hash: &str) -> sql::Result<Option<AuthCode>> {
    conn.query_opt(
        "SELECT integration_id, user_id, redirect_uri, scope, code_challenge, expires_at,
                used_at IS NOT NULL, family_id
         FROM auth_codes WHERE code_hash = $1",
        params![hash],
        |r| {
            Ok(AuthCode {
                integration_id: r.get(0)?,
                user_id: r.get(1)?,
                redirect_uri: r.get(2)?,
                scope: r.get(3)?,
                code_challenge: r.get(4)?,
                expires_at: r.get(5)?,
                used: r.get(6)?,
                family_id: r.get(7)?,
            })
        },
    )
}

/// Spends the code: true only for the one caller that flips it from unused.
pub fn use_auth_code(conn: &Conn<'_>, hash: &str, now: i64) -> sql::Result<bool> {
    Ok(conn.execute(
        "UPDATE auth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL",
        params![now, hash],
    )? == 1)
}

pub fn set_auth_code_family(conn: &Conn<'_>, hash: &str, family_id: &str) -> sql::Result<()> {
    conn.execute(
        "UPDATE auth_codes SET family_id = $1 WHERE code_hash = $2",
        params![family_id, hash],
    )?;
    Ok(())
}

/// Deletes up to `limit` link codes that were used or have expired. Returns how many.
pub fn delete_spent_link_codes(conn: &Conn<'_>, now: i64, limit: usize) -> sql::Result<usize> {
    conn.execute(
        "DELETE FROM link_codes WHERE code_hash IN (
             SELECT code_hash FROM link_codes WHERE used_at IS NOT NULL OR expires_at <= $1
             LIMIT $2)",
        params![now, limit as i64],
    )
}

/// Deletes up to `limit` expired authorization codes. A used code is kept until it
/// expires: a second use within its life must still find it (and revoke what the first
/// use issued). Returns how many.
pub fn delete_expired_auth_codes(conn: &Conn<'_>, now: i64, limit: usize) -> sql::Result<usize> {
    conn.execute(
        "DELETE FROM auth_codes WHERE code_hash IN (
             SELECT code_hash FROM auth_codes WHERE expires_at <= $1 LIMIT $2)",
        params![now, limit as i64],
    )
}
