//! The PostgreSQL store: a pool of connections shared by several nodes' worth of
//! requests, for a cluster of `set-server` processes over one database.
//!
//! The pool and every connection's I/O live on a small runtime of the store's own, so the
//! store works the same from Rocket's blocking threads, background jobs and the one-shot
//! CLI commands (which have no runtime). Table code is synchronous and blocks on each
//! statement; it always runs on a blocking thread, never on an async worker.
//!
//! Each write is one transaction of its own on a pooled connection: PostgreSQL lets many
//! commit at once, so there is no group commit to do here.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rocket::tokio::runtime;
use tokio_postgres::NoTls;

use crate::db::sql::{self, Conn, Pg};
use crate::error::ApiError;

/// How long a request waits for a free connection before it is answered 503.
const WAIT: Duration = Duration::from_secs(5);

pub struct PgStore {
    rt: Option<runtime::Runtime>,
    pool: Pool,
    config: tokio_postgres::Config,
}

/// Why PostgreSQL could not be reached at start.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("database.url is not a valid PostgreSQL URL: {0}")]
    Url(String),
    #[error("cannot start the PostgreSQL runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot connect to PostgreSQL at {target}: {why}")]
    Connect { target: String, why: String },
}

/// Names the server a config points at, without its password.
pub fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("(default)");
    format!("{host}:{port}/{db}")
}

impl PgStore {
    /// Builds the pool and checks that one connection can be made.
    pub fn open(url: &str, size: usize) -> Result<PgStore, PgError> {
        // tokio-postgres's error text never repeats the URL, so it is safe to show.
        let config =
            tokio_postgres::Config::from_str(url).map_err(|e| PgError::Url(e.to_string()))?;
        let rt = runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("set-pg")
            .enable_all()
            .build()
            .map_err(PgError::Runtime)?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _guard = rt.enter();
            Pool::builder(manager)
                .max_size(size)
                .runtime(Runtime::Tokio1)
                .wait_timeout(Some(WAIT))
                .create_timeout(Some(WAIT))
                .build()
                .map_err(|e| PgError::Url(e.to_string()))?
        };
        let store = PgStore {
            rt: Some(rt),
            pool,
            config,
        };
        let _first = off_runtime(|| store.handle().block_on(store.pool.get())).map_err(|e| {
            PgError::Connect {
                target: describe(&store.config),
                why: with_causes(&e),
            }
        })?;
        Ok(store)
    }

    pub fn handle(&self) -> &runtime::Handle {
        match &self.rt {
            Some(rt) => rt.handle(),
            None => unreachable_runtime(),
        }
    }

    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    fn client(&self) -> Result<deadpool_postgres::Object, ApiError> {
        self.handle().block_on(self.pool.get()).map_err(|e| {
            tracing::error!("database unavailable: {e}");
            ApiError::Unavailable(
                "the database cannot be reached right now; try again shortly".into(),
            )
        })
    }

    /// Runs `f` on a pooled connection, outside any explicit transaction.
    pub fn read<T>(&self, f: impl FnOnce(&Conn<'_>) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let client = self.client()?;
        f(&Conn::Postgres(Pg {
            client: &client,
            rt: self.handle(),
        }))
    }

    /// Runs `f` in one transaction: committed when it succeeds, rolled back when it fails
    /// or panics.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&Conn<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let client = self.client()?;
        let rt = self.handle();
        rt.block_on(client.batch_execute("BEGIN"))
            .map_err(sql::Error::from)?;
        let mut open = Open {
            client: &client,
            rt,
            done: false,
        };
        let value = f(&Conn::Postgres(Pg {
            client: &client,
            rt,
        }));
        open.done = true;
        match value {
            Ok(v) => {
                rt.block_on(client.batch_execute("COMMIT"))
                    .map_err(sql::Error::from)?;
                Ok(v)
            }
            Err(e) => {
                rt.block_on(client.batch_execute("ROLLBACK"))
                    .map_err(sql::Error::from)?;
                Err(e)
            }
        }
    }
}

/// Rolls back a transaction left open by a panic, so the connection goes back to the pool
/// clean.
struct Open<'a> {
    client: &'a deadpool_postgres::ClientWrapper,
    rt: &'a runtime::Handle,
    done: bool,
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.rt.block_on(self.client.batch_execute("ROLLBACK"));
        }
    }
}

impl Drop for PgStore {
    /// A runtime must not be dropped from async code; the store may be, at shutdown.
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Runs `f` where it may block on the store's runtime: in place, or on a thread of its own
/// when called from inside a runtime (an async test, `App::open` under Rocket), where
/// blocking on another runtime is refused. Rocket's request path never needs this: its
/// database work already runs on blocking threads.
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// An error and its causes on one line: the pool's own text ("error connecting to
/// server") does not say whether the port was closed, the password wrong or the database
/// missing; its sources do.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

fn unreachable_runtime() -> ! {
    // `rt` is only taken in `drop`, after which no method can run.
    panic!("the PostgreSQL runtime is gone")
}
