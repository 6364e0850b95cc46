//! After a run: SQLite's own checks, and no record written only in part.

use set_server::params;

use crate::world::World;

impl World {
    /// Every consistency problem in the database: SQLite's own checks, then records that
    /// only make sense whole.
    pub fn problems(&self) -> Vec<String> {
        self.db
            .read_blocking(|c| {
                let mut problems = Vec::new();
                let integrity: Vec<String> =
                    c.query_all("PRAGMA integrity_check", params![], |r| r.get(0usize))?;
                if integrity != ["ok"] {
                    problems.push(format!("integrity_check: {integrity:?}"));
                }
                let fk: Vec<String> = c.query_all("PRAGMA foreign_key_check", params![], |r| {
                    Ok(format!(
                        "{}: rowid {:?}",
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<i64>>(1)?
                    ))
                })?;
                if !fk.is_empty() {
                    problems.push(format!("foreign_key_check: {fk:?}"));
                }
                for (what, sql) in HALF_WRITTEN {
                    let rows: Vec<String> = c.query_all(sql, params![], |r| r.get(0usize))?;
                    if !rows.is_empty() {
                        problems.push(format!("{what}: {rows:?}"));
                    }
                }
                Ok(problems)
            })
            .expect("the database reads")
    }

    /// How many rows each table has, to show the run wrote something.
    pub fn counts(&self) -> Vec<(String, i64)> {
        self.db
            .read_blocking(|c| {
                let mut out = Vec::new();
                for t in [
                    "developers",
                    "clients",
                    "users",
                    "events",
                    "refresh_families",
                    "integrations",
                ] {
                    let n: i64 = c.value(&format!("SELECT count(*) FROM {t}"), params![])?;
                    out.push((t.to_owned(), n));
                }
                Ok(out)
            })
            .expect("the database reads")
    }
}

/// Queries that list records that were written only in part. Each names the offending
/// row; an empty result is a consistent database.
const HALF_WRITTEN: &[(&str, &str)] = &[
    (
        "a user without a refresh family",
        "SELECT id FROM users u
         WHERE NOT EXISTS (SELECT 1 FROM refresh_families f WHERE f.user_id = u.id)",
    ),
    (
        "a live family (not revoked, user enabled) without exactly one unused refresh token",
        "SELECT f.id FROM refresh_families f JOIN users u ON u.id = f.user_id
         WHERE f.revoked_at IS NULL AND u.disabled_at IS NULL
           AND (SELECT count(*) FROM refresh_tokens t
                WHERE t.family_id = f.id AND t.used_at IS NULL) <> 1",
    ),
    (
        "a family of another client than its user's",
        "SELECT f.id FROM refresh_families f JOIN users u ON u.id = f.user_id
         WHERE f.client_id <> u.client_id",
    ),
    (
        "a client without a secret",
        "SELECT id FROM clients
         WHERE length(secret_sealed) = 0 OR length(secret_hash) = 0 OR secret_generation < 1",
    ),
    (
        "an integration without a secret, a redirect URI or a scope",
        "SELECT id FROM integrations
         WHERE length(secret_sealed) = 0 OR length(secret_hash) = 0
            OR NOT json_valid(redirect_uris) OR json_array_length(redirect_uris) = 0
            OR trim(scopes) = ''
            OR (service_key_sealed IS NULL) <> (service_key_hash IS NULL)",
    ),
    (
        "a link without the refresh family it was granted with",
        "SELECT l.integration_id || ' ' || l.user_id FROM links l
         WHERE NOT EXISTS (SELECT 1 FROM refresh_families f
                           WHERE f.integration_id = l.integration_id AND f.user_id = l.user_id)",
    ),
    (
        "a user whose metadata is not a JSON object",
        "SELECT id FROM users WHERE NOT json_valid(metadata) OR json_type(metadata) <> 'object'",
    ),
    (
        "an event whose data is not JSON",
        "SELECT CAST(id AS TEXT) FROM events WHERE NOT json_valid(data)",
    ),
    (
        "a developer whose email is not normalised",
        "SELECT id FROM developers WHERE email <> lower(trim(email)) OR email = ''",
    ),
];
