//! The `email_tokens` table: single-use verification and reset tokens, stored hashed.

use crate::db::sql::{self, Conn};
use crate::params;

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
    conn: &Conn<'_>,
    token_hash: &str,
    developer_id: &str,
    purpose: Purpose,
    now: i64,
    expires_at: i64,
) -> sql::Result<()> {
    conn.execute(
        "INSERT INTO email_tokens (token_hash, developer_id, purpose, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        params![token_hash, developer_id, purpose.as_str(), now, expires_at],
    )?;
    Ok(())
}

/// Marks the token used and returns its developer, in one statement so that two requests
/// racing with the same token cannot both win. `None` for unknown, used or expired tokens.
pub fn consume(
    conn: &Conn<'_>,
    token_hash: &str,
    purpose: Purpose,
    now: i64,
) -> sql::Result<Option<String>> {
    conn.query_opt(
        "UPDATE email_tokens SET used_at = $1
         WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1
         RETURNING developer_id",
        params![now, token_hash, purpose.as_str()],
        |r| r.get(0),
    )
}

/// Voids every unused token of this purpose (a reset that succeeded ends the others).
pub fn void_all(
    conn: &Conn<'_>,
    developer_id: &str,
    purpose: Purpose,
    now: i64,
) -> sql::Result<()> {
    conn.execute(
        "UPDATE email_tokens SET used_at = $1
         WHERE developer_id = $2 AND purpose = $3 AND used_at IS NULL",
        params![now, developer_id, purpose.as_str()],
    )?;
    Ok(())
}

/// Deletes up to `limit` tokens that were used or have expired. Returns how many.
pub fn delete_spent(conn: &Conn<'_>, now: i64, limit: usize) -> sql::Result<usize> {
    conn.execute(
        "DELETE FROM email_tokens WHERE token_hash IN (
             SELECT token_hash FROM email_tokens WHERE used_at IS NOT NULL OR expires_at <= $1
             LIMIT $2)",
        params![now, limit as i64],
    )
}
