//! The `signing_keys` table: every SQL statement about token signing keys.
//! What the columns hold and why is in `migrations/0003_signing_keys.sql`.

use crate::db::sql::{self, Conn, Row};
use crate::params;

/// One stored key. No `Debug`: even sealed, key bytes have no business in a log.
#[derive(Clone)]
pub struct SigningKeyRow {
    pub kid: String,
    pub algorithm: String,
    /// Sealed with the master key; `None` once retired.
    pub private_key: Option<Vec<u8>>,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub not_after: Option<i64>,
}

/// A key to insert as the current one.
pub struct NewSigningKey<'a> {
    pub kid: &'a str,
    pub algorithm: &'a str,
    pub sealed_private_key: &'a [u8],
    pub public_jwk: &'a str,
    pub created_at: i64,
}

const COLUMNS: &str = "kid, algorithm, private_key, public_jwk, created_at, retired_at, not_after";

fn from_row(r: &Row<'_>) -> sql::Result<SigningKeyRow> {
    Ok(SigningKeyRow {
        kid: r.get(0)?,
        algorithm: r.get(1)?,
        private_key: r.get(2)?,
        public_jwk: r.get(3)?,
        created_at: r.get(4)?,
        retired_at: r.get(5)?,
        not_after: r.get(6)?,
    })
}

/// Inserts `key` as the current key. Fails on a unique-index violation while another key
/// is current: retire it first, in the same transaction.
pub fn insert(conn: &Conn<'_>, key: &NewSigningKey<'_>) -> sql::Result<()> {
    conn.notify_change()?;
    conn.execute(
        "INSERT INTO signing_keys (kid, algorithm, private_key, public_jwk, created_at)
         VALUES ($1, $2, $3, $4, $5)",
        params![
            key.kid,
            key.algorithm,
            key.sealed_private_key,
            key.public_jwk,
            key.created_at
        ],
    )?;
    Ok(())
}

/// The current key, if any.
pub fn find_current(conn: &Conn<'_>) -> sql::Result<Option<SigningKeyRow>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM signing_keys WHERE retired_at IS NULL"),
        params![],
        from_row,
    )
}

/// The current key and every retired key still published at `now` (`not_after > now`):
/// the current key first, then the most recently retired.
pub fn list_published(conn: &Conn<'_>, now: i64) -> sql::Result<Vec<SigningKeyRow>> {
    conn.query_all(
        &format!(
            "SELECT {COLUMNS} FROM signing_keys
         WHERE retired_at IS NULL OR not_after > $1
         ORDER BY retired_at IS NOT NULL, retired_at DESC, created_at DESC, kid DESC"
        ),
        params![now],
        from_row,
    )
}

/// Retires the current key: stamps `retired_at` and `not_after` and erases its private
/// half. Returns the retired key's kid, or `None` when no key was current.
pub fn retire_current(
    conn: &Conn<'_>,
    retired_at: i64,
    not_after: i64,
) -> sql::Result<Option<String>> {
    conn.query_opt(
        "UPDATE signing_keys SET retired_at = $1, not_after = $2, private_key = NULL
         WHERE retired_at IS NULL RETURNING kid",
        params![retired_at, not_after],
        |r| r.get(0),
    )
}

/// Deletes retired keys whose every token has expired (`not_after <= now`).
pub fn prune_retired(conn: &Conn<'_>, now: i64) -> sql::Result<usize> {
    conn.execute(
        "DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND not_after <= $1",
        params![now],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> rusqlite::Connection {
        let mut c = rusqlite::Connection::open_in_memory().unwrap();
        crate::db::migrate::apply(&mut c).unwrap();
        c
    }

    fn key<'a>(kid: &'a str, at: i64) -> NewSigningKey<'a> {
        NewSigningKey {
            kid,
            algorithm: "EdDSA",
            sealed_private_key: b"sealed",
            public_jwk: "{}",
            created_at: at,
        }
    }

    #[test]
    fn one_current_key_at_a_time_and_retired_keys_publish_until_not_after() {
        let raw = conn();
        let c = Conn::Sqlite(&raw);
        assert!(find_current(&c).unwrap().is_none());
        assert_eq!(retire_current(&c, 1, 2).unwrap(), None);
        insert(&c, &key("a", 10)).unwrap();
        assert!(insert(&c, &key("b", 11)).is_err(), "two current keys");
        assert_eq!(retire_current(&c, 20, 100).unwrap().as_deref(), Some("a"));
        insert(&c, &key("b", 20)).unwrap();
        let current = find_current(&c).unwrap().unwrap();
        assert_eq!(current.kid, "b");
        assert_eq!(current.private_key.as_deref(), Some(&b"sealed"[..]));
        let kids = |now| -> Vec<String> {
            list_published(&c, now)
                .unwrap()
                .into_iter()
                .map(|r| r.kid)
                .collect()
        };
        assert_eq!(kids(99), ["b", "a"]);
        assert_eq!(kids(100), ["b"]);
        let all: Vec<SigningKeyRow> = list_published(&c, 0).unwrap();
        let a = all.iter().find(|r| r.kid == "a").unwrap();
        assert!(a.private_key.is_none(), "retired private key erased");
        assert_eq!((a.retired_at, a.not_after), (Some(20), Some(100)));
    }

    #[test]
    fn unknown_algorithm_is_refused_by_the_schema() {
        let raw = conn();
        let c = Conn::Sqlite(&raw);
        let mut k = key("a", 1);
        k.algorithm = "HS256";
        assert!(insert(&c, &k).is_err());
    }
}
