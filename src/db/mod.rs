//! The SQLite store: one writer connection and a small pool of readers, all used from
//! blocking threads so no async worker ever waits on the disk.
//!
//! Every write goes through the single writer inside `BEGIN IMMEDIATE`, so writers queue
//! on a mutex in this process instead of meeting `SQLITE_BUSY`; readers work on WAL
//! snapshots and never block the writer. `busy_timeout` covers other processes (a
//! `set-server backup` or `migrate` run beside the server).
//!
//! With `database.group_commit` (the default), [`Db::write`] hands its closure to a writer
//! thread that runs every write queued meanwhile in one transaction, each closure in its
//! own savepoint, and answers each caller only after that transaction commits: one fsync
//! for many requests, with the same guarantees as one transaction per request (see
//! [`group_commit`]).

pub mod audit;
pub mod backup;
pub mod cache;
pub mod checkpoint;
pub mod clients;
pub mod codes;
pub mod developers;
pub mod email_queue;
pub mod email_tokens;
pub mod events;
pub mod group_commit;
pub mod integrations;
pub mod job_runs;
pub mod migrate;
pub mod postgres;
pub mod rate_limits;
pub mod refresh;
pub mod revocations;
pub mod sessions;
pub mod signing_keys;
pub mod sql;
pub mod token_stats;
pub mod users;

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
// A panic inside a closure drops its transaction (rolled back), so a poisoned lock still
// guards a healthy connection: recover it rather than fail every later request.
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::Duration;

use rocket::tokio::sync::Semaphore;
use rocket::tokio::task;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use sql::{Conn, Engine};

use crate::config::{self, Synchronous};
use crate::error::ApiError;

/// Why the database could not be opened at start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the data directory {}: {source}", path.display())]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the database {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Migrate(#[from] migrate::MigrateError),
    #[error("cannot start the database writer thread: {0}")]
    Writer(std::io::Error),
    #[error(transparent)]
    Postgres(#[from] postgres::PgError),
}

/// Connection settings taken from `[database]`.
#[derive(Debug, Clone)]
pub struct Options {
    pub path: PathBuf,
    pub busy_timeout: Duration,
    pub readers: usize,
    pub synchronous: Synchronous,
    /// Batch concurrent [`Db::write`]s into one transaction (see [`group_commit`]).
    pub group_commit: bool,
    /// PostgreSQL instead of the SQLite file at `path`, when set.
    pub url: Option<String>,
    pub pool: usize,
}

impl From<&config::Database> for Options {
    fn from(c: &config::Database) -> Self {
        Options {
            path: c.path.clone(),
            busy_timeout: c.busy_timeout.0,
            readers: c.readers,
            synchronous: c.synchronous,
            group_commit: c.group_commit,
            url: c.is_postgres().then(|| c.url.expose().trim().to_owned()),
            pool: c.pool,
        }
    }
}

/// A handle to the database, cheap to clone and shared as Rocket state.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Store>,
}

enum Store {
    Sqlite(Inner),
    Postgres(Box<postgres::PgStore>),
}

struct Inner {
    opts: Options,
    writer: Arc<Mutex<Connection>>,
    readers: Mutex<Vec<Connection>>,
    /// One permit per pooled reader: a read waits here, asynchronously, for a connection
    /// rather than taking a blocking thread and opening a connection of its own.
    read_permits: Arc<Semaphore>,
    caches: Arc<cache::Caches>,
    /// Stops the background checkpoint thread when dropped with the last `Db` handle.
    _checkpoints: mpsc::Sender<()>,
    /// The group-commit writer thread's queue; `None` when `group_commit` is off. The
    /// thread ends when this sender is dropped with the last `Db` handle.
    queue: Option<mpsc::Sender<group_commit::Job>>,
}

/// This node's name in `job_runs`: host and process, for an operator reading the table.
fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "node".into());
    format!("{host}:{}", std::process::id())
}

/// Creates the folder holding `path` with mode 0700 (only the server's user may read the
/// database, the master key and the outbox). An existing folder is left as it is.
pub fn create_data_dir(path: &Path) -> Result<(), OpenError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => return Ok(()),
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| OpenError::DataDir {
            path: dir.to_path_buf(),
            source,
        })
}

fn connect(opts: &Options, flags: OpenFlags) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(&opts.path, flags)?;
    conn.busy_timeout(opts.busy_timeout)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    let sync = match opts.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    Ok(conn)
}

impl Db {
    /// Opens the database named by `opts`: the SQLite file (created when absent) or the
    /// PostgreSQL server. Refuses a database written by a newer binary, and applies every
    /// pending migration.
    pub fn open(opts: Options) -> Result<Db, OpenError> {
        if let Some(url) = &opts.url {
            let store = postgres::PgStore::open(url, opts.pool)?;
            let mut failure = None;
            let migrated = postgres::off_runtime(|| {
                store.write(|c| {
                    migrate::apply_postgres(c).map_err(|e| {
                        failure = Some(e);
                        ApiError::internal("the migration failed")
                    })
                })
            });
            if let Err(e) = migrated {
                return Err(failure
                    .unwrap_or_else(|| migrate::MigrateError::Postgres(e.to_string()))
                    .into());
            }
            return Ok(Db {
                inner: Arc::new(Store::Postgres(Box::new(store))),
            });
        }
        create_data_dir(&opts.path)?;
        let sqlite = |source| OpenError::Sqlite {
            path: opts.path.clone(),
            source,
        };
        let mut writer = connect(&opts, OpenFlags::default()).map_err(sqlite)?;
        // Checked before anything writes to the file, so a refused database is untouched.
        migrate::refuse_newer(&writer, &opts.path)?;
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        migrate::apply(&mut writer)?;
        let readers = (0..opts.readers)
            .map(|_| connect(&opts, OpenFlags::SQLITE_OPEN_READ_ONLY))
            .collect::<Result<Vec<_>, _>>()
            .map_err(sqlite)?;
        let read_permits = Arc::new(Semaphore::new(opts.readers));
        let caches = Arc::new(cache::Caches::default());
        let checkpoints = checkpoint::spawn(&opts).map_err(OpenError::Writer)?;
        let writer = Arc::new(Mutex::new(writer));
        let queue = match opts.group_commit {
            true => Some(
                group_commit::spawn(writer.clone(), caches.clone()).map_err(OpenError::Writer)?,
            ),
            false => None,
        };
        Ok(Db {
            inner: Arc::new(Store::Sqlite(Inner {
                opts,
                writer,
                readers: Mutex::new(readers),
                read_permits,
                caches,
                _checkpoints: checkpoints,
                queue,
            })),
        })
    }

    pub fn engine(&self) -> Engine {
        match &*self.inner {
            Store::Sqlite(_) => Engine::Sqlite,
            Store::Postgres(_) => Engine::Postgres,
        }
    }

    /// The SQLite file; `None` on PostgreSQL.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &*self.inner {
            Store::Sqlite(lite) => Some(&lite.opts.path),
            Store::Postgres(_) => None,
        }
    }

    /// Where the data lives, for logs and messages: the file, or the server without its
    /// password.
    pub fn describe(&self) -> String {
        match &*self.inner {
            Store::Sqlite(lite) => lite.opts.path.display().to_string(),
            Store::Postgres(pg) => format!("postgres://{}", postgres::describe(pg.config())),
        }
    }

    /// Claims this period's run of the background job `job` (see [`job_runs::claim`]):
    /// false when another node sharing the database already ran it within `every`.
    /// Always true for a lone SQLite node, whose jobs nobody else runs.
    pub fn claim_job(&self, job: &str, every: std::time::Duration) -> Result<bool, ApiError> {
        let (job, node) = (job.to_owned(), node_name());
        let every = i64::try_from(every.as_secs()).unwrap_or(i64::MAX).max(1);
        // Claimed a second short of the period, so one node's own schedule, which wakes
        // slightly late, never misses its turn.
        self.write_blocking(move |c| {
            Ok(job_runs::claim(
                c,
                &job,
                &node,
                crate::clock::now(),
                every - 1,
            )?)
        })
    }

    /// The PostgreSQL store, for what only a cluster needs (notifications, locks).
    pub fn postgres(&self) -> Option<&postgres::PgStore> {
        match &*self.inner {
            Store::Postgres(pg) => Some(pg),
            Store::Sqlite(_) => None,
        }
    }

    /// Runs `f` on a pooled read connection (on SQLite, a WAL snapshot that never waits
    /// for the writer) on a blocking thread.
    ///
    /// Reads are short indexed lookups, and running them in place on the async worker was
    /// measured faster (`benches/load`: the thread hand-off is a large share of a `me`
    /// request's CPU). They stay off the async workers anyway: a read that meets a slow
    /// disk, a checkpoint or a cold page cache must never stall every request queued on
    /// that worker.
    ///
    /// At most `database.readers` reads run at once: the others wait for a permit without
    /// holding a thread. Without that bound, 32 requests in flight over 4 pooled readers
    /// made most reads open (and parse the schema on) a connection of their own.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Conn<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        let permit = match &*self.inner {
            Store::Sqlite(lite) => Some(
                lite.read_permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(ApiError::internal)?,
            ),
            Store::Postgres(_) => None,
        };
        let inner = self.inner.clone();
        task::spawn_blocking(move || {
            let value = inner.read(f);
            drop(permit);
            value
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Runs `f` inside one transaction (on SQLite, `BEGIN IMMEDIATE` on the writer), off
    /// the async workers; commits when `f` succeeds and rolls back when it fails, so an
    /// error never leaves a half-written record. Answers only once the work is committed.
    ///
    /// With group commit, `f` shares the transaction with other concurrent writes but runs
    /// inside its own savepoint: its failure undoes only its own work, and a failed commit
    /// fails every write of the batch.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Conn<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        if let Store::Sqlite(Inner {
            queue: Some(queue), ..
        }) = &*self.inner
        {
            return group_commit::submit(queue, f).await;
        }
        let inner = self.inner.clone();
        task::spawn_blocking(move || inner.write(f))
            .await
            .map_err(ApiError::internal)?
    }

    /// The blocking form of [`Db::write`], for background jobs and the CLI: always one
    /// transaction of its own (never batched), taken on the calling thread.
    pub fn write_blocking<T: Send>(
        &self,
        f: impl FnOnce(&Conn<'_>) -> Result<T, ApiError> + Send,
    ) -> Result<T, ApiError> {
        match &*self.inner {
            Store::Sqlite(lite) => lite.write(f),
            Store::Postgres(pg) => postgres::off_runtime(|| pg.write(f)),
        }
    }

    /// The blocking form of [`Db::read`].
    pub fn read_blocking<T: Send>(
        &self,
        f: impl FnOnce(&Conn<'_>) -> Result<T, ApiError> + Send,
    ) -> Result<T, ApiError> {
        match &*self.inner {
            Store::Sqlite(lite) => lite.read(f),
            Store::Postgres(pg) => postgres::off_runtime(|| pg.read(f)),
        }
    }

    /// Runs `f` on the SQLite writer connection itself, outside any transaction (online
    /// backups, `VACUUM`); `None` on PostgreSQL, whose own tools do that work.
    pub fn with_sqlite_writer<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> Option<T> {
        match &*self.inner {
            Store::Sqlite(lite) => {
                let mut conn = lite.writer.lock().unwrap_or_else(PoisonError::into_inner);
                Some(f(&mut conn))
            }
            Store::Postgres(_) => None,
        }
    }

    /// Checkpoints the WAL into the main file so a stopped server leaves one tidy file.
    pub fn close(&self) {
        let Store::Sqlite(lite) = &*self.inner else {
            return;
        };
        if let Ok(mut readers) = lite.readers.lock() {
            readers.clear();
        }
        if let Ok(w) = lite.writer.lock() {
            if let Err(e) = w.execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);") {
                tracing::warn!("closing the database: {e}");
            }
        }
    }
}

impl Store {
    fn read<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T, ApiError>) -> Result<T, ApiError> {
        match self {
            Store::Sqlite(lite) => lite.read(f),
            Store::Postgres(pg) => pg.read(f),
        }
    }

    fn write<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T, ApiError>) -> Result<T, ApiError> {
        match self {
            Store::Sqlite(lite) => lite.write(f),
            Store::Postgres(pg) => pg.write(f),
        }
    }
}

impl Inner {
    fn read<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let pooled = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match pooled {
            Some(c) => c,
            // Every pooled reader is busy: open one more rather than wait; it joins the
            // pool afterwards only if the pool is below its size.
            None => connect(&self.opts, OpenFlags::SQLITE_OPEN_READ_ONLY)?,
        };
        let result = f(&Conn::Sqlite(&conn));
        let mut pool = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < self.opts.readers {
            pool.push(conn);
        }
        result
    }

    fn write<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        cache::record();
        let result = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&Conn::Sqlite(&tx))?;
            tx.commit()?;
            Ok(value)
        })();
        self.caches.apply(cache::recorded());
        result
    }
}
