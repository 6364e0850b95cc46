//! One SQL surface over both engines, so each table's SQL is written once.
//!
//! The table modules take a [`Conn`] and speak a portable subset: TEXT ids, BIGINT unix
//! times, BOOLEAN, `ON CONFLICT … RETURNING`, and `$N` placeholders numbered in ascending
//! order of first use. That last rule matters: SQLite treats `$1` as a *named*
//! parameter and numbers parameters by first appearance, so `… $2 … $1` would silently
//! bind the values the wrong way round. Debug builds check it on every statement.
//!
//! Values cross through [`Param`] and [`Value`], which are whatever both drivers can bind
//! or read. Integers are `i64` on both sides: PostgreSQL refuses to bind an `i32` or `u32`
//! to a BIGINT column, so callers convert first.
//!
//! PostgreSQL is reached through tokio-postgres on the database's own runtime; the table
//! code stays synchronous and runs on a blocking thread, as it does for SQLite, blocking
//! on each statement.

use rocket::tokio::runtime::Handle;
use tokio_postgres::types::ToSql as PgToSql;

/// The `LISTEN`/`NOTIFY` channel on which nodes announce changes to shared state.
pub const CHANGES_CHANNEL: &str = "set_changes";

/// Advisory lock keys: one per thing that must happen once at a time across the cluster.
pub mod locks {
    /// Revocations are written one transaction at a time, so their `seq` values commit in
    /// order and a node reading `seq > last` never skips one that commits late.
    pub const REVOCATIONS: i64 = 0x5e7_0002;
    pub const KEY_MAINTENANCE: i64 = 0x5e7_0003;
    pub const RETENTION: i64 = 0x5e7_0004;
    pub const BACKUP: i64 = 0x5e7_0005;
}

/// Which engine a [`Conn`] speaks to, for the few statements that differ by dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A value both drivers can bind.
pub trait Param: Sync {
    fn sqlite(&self) -> &dyn rusqlite::ToSql;
    fn postgres(&self) -> &(dyn PgToSql + Sync);
}

impl<T: rusqlite::ToSql + PgToSql + Sync> Param for T {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn postgres(&self) -> &(dyn PgToSql + Sync) {
        self
    }
}

/// A value both drivers can read from a column.
pub trait Value: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a> {}
impl<T: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a>> Value for T {}

/// `params![a, b]`: a parameter list for [`Conn`]'s methods.
#[macro_export]
macro_rules! params {
    () => { &[] as &[&dyn $crate::db::sql::Param] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::db::sql::Param),+] as &[&dyn $crate::db::sql::Param] };
}
pub use crate::params;

/// A storage error from either engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// Shown with the server's own message: tokio-postgres alone says only "db error".
    #[error("{}", postgres_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// No connection could be had from the pool in time: the database is down or saturated.
    #[error("no database connection available: {0}")]
    Pool(String),
    /// `query_one` found no row.
    #[error("the query returned no row")]
    NoRow,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn postgres_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("PostgreSQL: {} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl Error {
    /// A UNIQUE or PRIMARY KEY constraint refused the row.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            Error::Postgres(e) => {
                e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
            }
            _ => false,
        }
    }

    /// Any constraint (unique, foreign key, check, not null) refused the row.
    pub fn is_constraint_violation(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.code == rusqlite::ErrorCode::ConstraintViolation
            }
            Error::Postgres(e) => e.code().is_some_and(|c| c.code().starts_with("23")),
            _ => false,
        }
    }
}

/// A column position or name, as both drivers take it.
pub trait Index: rusqlite::RowIndex + tokio_postgres::row::RowIndex + std::fmt::Display {}
impl<T: rusqlite::RowIndex + tokio_postgres::row::RowIndex + std::fmt::Display> Index for T {}

/// One row of a result, from either engine.
pub enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a tokio_postgres::Row),
}

impl Row<'_> {
    /// The column at `idx`: its position (from 0) or its name.
    pub fn get<I: Index, T: Value>(&self, idx: I) -> Result<T> {
        match self {
            Row::Sqlite(r) => Ok(r.get(idx)?),
            Row::Postgres(r) => Ok(r.try_get(idx)?),
        }
    }
}

/// A connection (inside a transaction, for writes) of either engine.
pub enum Conn<'a> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(Pg<'a>),
}

/// A pooled PostgreSQL connection and the runtime its I/O runs on.
pub struct Pg<'a> {
    pub client: &'a deadpool_postgres::ClientWrapper,
    pub rt: &'a Handle,
}

impl<'a> From<&'a rusqlite::Connection> for Conn<'a> {
    fn from(c: &'a rusqlite::Connection) -> Self {
        Conn::Sqlite(c)
    }
}

impl<'a> From<&'a rusqlite::Transaction<'a>> for Conn<'a> {
    fn from(c: &'a rusqlite::Transaction<'a>) -> Self {
        Conn::Sqlite(c)
    }
}

impl Pg<'_> {
    async fn query(
        &self,
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
        let values: Vec<&(dyn PgToSql + Sync)> = params.iter().map(|p| p.postgres()).collect();
        let stmt = self.client.prepare_cached(sql).await?;
        self.client.query(&stmt, &values).await
    }

    async fn execute(
        &self,
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<u64, tokio_postgres::Error> {
        let values: Vec<&(dyn PgToSql + Sync)> = params.iter().map(|p| p.postgres()).collect();
        let stmt = self.client.prepare_cached(sql).await?;
        self.client.execute(&stmt, &values).await
    }
}

impl Conn<'_> {
    pub fn engine(&self) -> Engine {
        match self {
            Conn::Sqlite(_) => Engine::Sqlite,
            Conn::Postgres(_) => Engine::Postgres,
        }
    }

    /// Runs one statement; returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<usize> {
        debug_check(sql, params.len());
        match self {
            Conn::Sqlite(c) => Ok(c.prepare_cached(sql)?.execute(sqlite_params(params))?),
            Conn::Postgres(pg) => {
                let n = pg.rt.block_on(pg.execute(sql, params))?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }
        }
    }

    /// Every row of a query, each mapped by `f`.
    pub fn query_all<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        debug_check(sql, params.len());
        match self {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(sqlite_params(params))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.push(f(&Row::Sqlite(r))?);
                }
                Ok(out)
            }
            Conn::Postgres(pg) => {
                let rows = pg.rt.block_on(pg.query(sql, params))?;
                rows.iter().map(|r| f(&Row::Postgres(r))).collect()
            }
        }
    }

    /// The first row of a query, if any, mapped by `f`.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        debug_check(sql, params.len());
        match self {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(sqlite_params(params))?;
                match rows.next()? {
                    Some(r) => Ok(Some(f(&Row::Sqlite(r))?)),
                    None => Ok(None),
                }
            }
            Conn::Postgres(pg) => {
                let rows = pg.rt.block_on(pg.query(sql, params))?;
                rows.first().map(|r| f(&Row::Postgres(r))).transpose()
            }
        }
    }

    /// The first row of a query, which must exist (an aggregate, a `RETURNING`).
    pub fn query_one<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.query_opt(sql, params, f)?.ok_or(Error::NoRow)
    }

    /// A single value: `SELECT count(*) …` and the like.
    pub fn value<T: Value>(&self, sql: &str, params: &[&dyn Param]) -> Result<T> {
        self.query_one(sql, params, |r| r.get(0usize))
    }

    /// Tells the other nodes, at commit, that shared state changed (revocations, clients,
    /// signing keys), so they catch up at once instead of at their next poll. PostgreSQL
    /// only (`NOTIFY` is transactional: nothing is said if the transaction rolls back);
    /// a single SQLite node has nobody to tell.
    pub fn notify_change(&self) -> Result<()> {
        match self {
            Conn::Sqlite(_) => Ok(()),
            Conn::Postgres(_) => {
                self.execute("SELECT pg_notify($1, '')", crate::params![CHANGES_CHANNEL])?;
                Ok(())
            }
        }
    }

    /// Holds a cluster-wide lock named `key` until this transaction ends (PostgreSQL); a
    /// no-op on SQLite, whose one writer already serialises every transaction.
    pub fn lock_for_transaction(&self, key: i64) -> Result<()> {
        match self {
            Conn::Sqlite(_) => Ok(()),
            Conn::Postgres(_) => {
                self.execute("SELECT pg_advisory_xact_lock($1)", crate::params![key])?;
                Ok(())
            }
        }
    }

    /// Takes the cluster-wide lock `key` for this transaction if nobody holds it: false
    /// means another node is doing this job right now. Always true on SQLite.
    pub fn try_lock_for_transaction(&self, key: i64) -> Result<bool> {
        match self {
            Conn::Sqlite(_) => Ok(true),
            Conn::Postgres(_) => self.query_one(
                "SELECT pg_try_advisory_xact_lock($1)",
                crate::params![key],
                |r| r.get(0usize),
            ),
        }
    }

    /// Several statements without parameters (DDL, `PRAGMA`s).
    pub fn batch(&self, sql: &str) -> Result<()> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(pg) => Ok(pg.rt.block_on(pg.client.batch_execute(sql))?),
        }
    }
}

/// The values as rusqlite binds them, without collecting them first.
fn sqlite_params<'p>(params: &'p [&'p dyn Param]) -> impl rusqlite::Params + 'p {
    rusqlite::params_from_iter(params.iter().map(|p| p.sqlite()))
}

/// Debug builds refuse a statement whose `$N` placeholders are not numbered 1, 2, 3 … in
/// order of first use, or that uses a number it was not given a value for: on SQLite
/// such a statement binds values to the wrong places without any error.
fn debug_check(sql: &str, given: usize) {
    if cfg!(debug_assertions) {
        if let Err(why) = placeholders_in_order(sql, given) {
            panic!("{why} in: {sql}");
        }
    }
}

/// Checks the placeholder rule (see [`debug_check`]).
pub fn placeholders_in_order(sql: &str, given: usize) -> Result<(), String> {
    let bytes = sql.as_bytes();
    let mut highest = 0usize;
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\'' {
            in_string = !in_string;
        } else if b == b'?' && !in_string {
            return Err("a `?` placeholder (use `$N`)".into());
        } else if b == b'$' && !in_string {
            let digits: String = sql[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            if let Ok(n) = digits.parse::<usize>() {
                if n > highest + 1 {
                    return Err(format!("${n} used before ${}", highest + 1));
                }
                highest = highest.max(n);
                i += digits.len();
            }
        }
        i += 1;
    }
    if highest != given {
        return Err(format!("{highest} placeholders but {given} values"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::placeholders_in_order;

    #[test]
    fn placeholders_must_come_in_order_of_first_use() {
        assert!(placeholders_in_order("SELECT $1, $2, $1", 2).is_ok());
        assert!(placeholders_in_order("UPDATE t SET a = $2 WHERE id = $1", 2).is_err());
        assert!(placeholders_in_order("SELECT ?1", 1).is_err());
        assert!(placeholders_in_order("SELECT $1", 2).is_err());
        assert!(placeholders_in_order("SELECT '$2', $1", 1).is_ok());
    }
}
