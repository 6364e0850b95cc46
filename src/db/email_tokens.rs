//! The `email_tokens` table: single-use verification and reset tokens, stored hashed.

use rusqlite::{params, Connection, OptionalExtension};

/// What an emailed token is for; stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
        }
    }
}

pub fn insert(
    conn: &Connection,
    token_hash: &str,
    developer_id: &str,
    purpose: Purpose,
    now: i64,
    expires_at: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO email_tokens (token_hash, developer_id, purpose, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        token_hash,
        developer_id,
        purpose.as_str(),
        now,
        expires_at
    ])?;
    Ok(())
}

/// Marks the token used and returns its developer, in one statement so that two requests
/// racing with the same token cannot both win. `None` for unknown, used or expired tokens.
pub fn consume(
    conn: &Connection,
    token_hash: &str,
    purpose: Purpose,
    now: i64,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "UPDATE email_tokens SET used_at = ?3
         WHERE token_hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3
         RETURNING developer_id",
    )?
    .query_row(params![token_hash, purpose.as_str(), now], |r| r.get(0))
    .optional()
}

/// Voids every unused token of this purpose (a reset that succeeded ends the others).
pub fn void_all(
    conn: &Connection,
    developer_id: &str,
    purpose: Purpose,
    now: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE email_tokens SET used_at = ?3
         WHERE developer_id = ?1 AND purpose = ?2 AND used_at IS NULL",
    )?
    .execute(params![developer_id, purpose.as_str(), now])?;
    Ok(())
}

/// Deletes up to `limit` tokens that were used or have expired. Returns how many.
pub fn delete_spent(conn: &Connection, now: i64, limit: usize) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM email_tokens WHERE token_hash IN (
             SELECT token_hash FROM email_tokens WHERE used_at IS NOT NULL OR expires_at <= ?1
             LIMIT ?2)",
    )?
    .execute(params![now, limit as i64])
}
