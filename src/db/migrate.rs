//! Schema migrations: the plain SQL files in `migrations/`, embedded in the binary and
//! applied in order, each in its own transaction, recorded in `schema_migrations`.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::db::sql::{Conn, Engine};

/// The suffix of a migration's PostgreSQL variant.
const VARIANT: &str = ".postgres.sql";

/// Taken for the whole migration transaction, so nodes starting together migrate once.
const MIGRATION_LOCK: i64 = 0x5e7_0001;

#[derive(rust_embed::RustEmbed)]
#[folder = "migrations/"]
struct Files;

/// One embedded migration, `NNNN_name.sql`.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    pub sql: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "the database {} was written by a newer set-server (it has migration {version} \
         \"{name}\", which this binary does not know); run the newer set-server, or restore \
         a backup made by this version. The file was not changed.",
        path.display()
    )]
    Newer {
        path: PathBuf,
        version: i64,
        name: String,
    },
    #[error("migration {version} ({name}) failed: {source}")]
    Failed {
        version: i64,
        name: String,
        source: rusqlite::Error,
    },
    #[error("migration file {0} is not named NNNN_name.sql")]
    BadName(String),
    #[error("reading the migration history: {0}")]
    History(#[from] rusqlite::Error),
    #[error("migrating the PostgreSQL database: {0}")]
    Postgres(String),
}

/// Every embedded migration for SQLite, ordered by version.
pub fn all() -> Result<Vec<Migration>, MigrateError> {
    all_for(Engine::Sqlite)
}

/// Every embedded migration for `engine`, ordered by version: `NNNN_name.sql`, or its
/// `NNNN_name.postgres.sql` variant on PostgreSQL where the DDL differs.
pub fn all_for(engine: Engine) -> Result<Vec<Migration>, MigrateError> {
    let mut out = Vec::new();
    for file in Files::iter().filter(|f| f.ends_with(".sql") && !f.ends_with(VARIANT)) {
        let stem = file.trim_end_matches(".sql").to_owned();
        let variant = format!("{stem}{VARIANT}");
        let file = match engine {
            Engine::Postgres if Files::get(&variant).is_some() => variant,
            _ => file.into_owned(),
        };
        let (num, name) = stem
            .split_once('_')
            .ok_or_else(|| MigrateError::BadName(file.to_string()))?;
        let version: i64 = num
            .parse()
            .map_err(|_| MigrateError::BadName(file.to_string()))?;
        let sql = Files::get(&file)
            .map(|f| String::from_utf8_lossy(&f.data).into_owned())
            .ok_or_else(|| MigrateError::BadName(file.to_string()))?;
        out.push(Migration {
            version,
            name: name.to_owned(),
            sql,
        });
    }
    out.sort_by_key(|m| m.version);
    Ok(out)
}

fn history_exists(conn: &Connection) -> Result<bool, rusqlite::Error> {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        [],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
}

/// Refuses a database that records a migration this binary does not have. Reads only.
pub fn refuse_newer(conn: &Connection, path: &Path) -> Result<(), MigrateError> {
    if !history_exists(conn)? {
        return Ok(());
    }
    let known = all()?;
    let mut stmt = conn.prepare("SELECT version, name FROM schema_migrations ORDER BY version")?;
    let applied = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    for row in applied {
        let (version, name) = row?;
        if !known.iter().any(|m| m.version == version) {
            return Err(MigrateError::Newer {
                path: path.to_path_buf(),
                version,
                name,
            });
        }
    }
    Ok(())
}

/// Applies every migration not yet recorded; returns the ones applied now.
pub fn apply(conn: &mut Connection) -> Result<Vec<Migration>, MigrateError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at INTEGER NOT NULL
         )",
    )?;
    let mut applied = Vec::new();
    for m in all()? {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done = tx
            .query_row(
                "SELECT 1 FROM schema_migrations WHERE version = ?1",
                [m.version],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if done {
            continue;
        }
        let failed = |source| MigrateError::Failed {
            version: m.version,
            name: m.name.clone(),
            source,
        };
        tx.execute_batch(&m.sql).map_err(failed)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![m.version, m.name, crate::clock::now()],
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)?;
        applied.push(m);
    }
    Ok(applied)
}

/// Applies every pending PostgreSQL migration inside the caller's transaction (DDL is
/// transactional there: a failure leaves nothing behind), under an advisory lock so that
/// nodes starting at once do not race. Refuses a database migrated by a newer binary.
pub fn apply_postgres(c: &Conn<'_>) -> Result<Vec<Migration>, MigrateError> {
    let pg = |e: crate::db::sql::Error| MigrateError::Postgres(e.to_string());
    c.execute(
        "SELECT pg_advisory_xact_lock($1)",
        crate::params![MIGRATION_LOCK],
    )
    .map_err(pg)?;
    // `IF NOT EXISTS` on an existing table is a NOTICE that every node would log at start.
    c.batch(
        "SET LOCAL client_min_messages = warning;
         CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at BIGINT NOT NULL
         )",
    )
    .map_err(pg)?;
    let known = all_for(Engine::Postgres)?;
    let applied: Vec<(i64, String)> = c
        .query_all(
            "SELECT version, name FROM schema_migrations ORDER BY version",
            crate::params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(pg)?;
    if let Some((version, name)) = applied
        .iter()
        .find(|(v, _)| !known.iter().any(|m| m.version == *v))
    {
        return Err(MigrateError::Postgres(format!(
            "the database was written by a newer set-server (it has migration {version} \
             \"{name}\", which this binary does not know); run the newer set-server. \
             Nothing was changed."
        )));
    }
    let mut done = Vec::new();
    for m in known {
        if applied.iter().any(|(v, _)| *v == m.version) {
            continue;
        }
        let failed = |e: crate::db::sql::Error| {
            MigrateError::Postgres(format!("migration {} ({}) failed: {e}", m.version, m.name))
        };
        c.batch(&m.sql).map_err(failed)?;
        c.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            crate::params![m.version, m.name, crate::clock::now()],
        )
        .map_err(failed)?;
        done.push(m);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_migrations_are_numbered_without_gaps() {
        let all = all().unwrap_or_default();
        assert!(!all.is_empty());
        for (i, m) in all.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
        }
    }
}
