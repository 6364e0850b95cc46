//! `--postgres URL`: a fresh database on that PostgreSQL server for the run, made with
//! tokio-postgres (`CREATE DATABASE set_bench_<pid>_<n>`) and dropped, connections and
//! all (`DROP DATABASE … WITH (FORCE)`), when the handle is dropped, a panic included.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio_postgres::{NoTls, SimpleQueryMessage};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A database created for this run.
pub struct Database {
    admin: String,
    name: String,
    /// The URL the server is given: the admin URL with this database's name.
    pub url: String,
    /// `server_version`, `synchronous_commit` and `fsync` of the server, for the notes.
    pub settings: String,
}

impl Database {
    /// Creates the database through `admin` (a URL of a database that exists).
    pub fn create(admin: &str) -> Database {
        let name = format!(
            "set_bench_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let url = with_database(admin, &name);
        let answers = simple(
            admin,
            vec![
                format!("CREATE DATABASE {name}"),
                "SHOW server_version".into(),
                "SHOW synchronous_commit".into(),
                "SHOW fsync".into(),
            ],
        )
        .unwrap_or_else(|e| panic!("--postgres {}: cannot create {name}: {e}", redact(admin)));
        let get = |i: usize| answers.get(i).cloned().unwrap_or_default();
        let version = get(1);
        let version = version.split_whitespace().next().unwrap_or("?");
        let settings = format!(
            "PostgreSQL {version}, synchronous_commit = {}, fsync = {}",
            get(2),
            get(3)
        );
        Database {
            admin: admin.to_owned(),
            name,
            url,
            settings,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        match simple(&self.admin, vec![sql]) {
            Ok(_) => eprintln!("dropped the PostgreSQL database {}", self.name),
            Err(e) => eprintln!(
                "warning: cannot drop the PostgreSQL database {}: {e}",
                self.name
            ),
        }
    }
}

/// Runs `statements` one after the other on one connection to `url`, on a thread with its
/// own current-thread runtime (so it works from async code and from `Drop` alike); returns
/// the first column of the first row each statement answered ("" when none).
fn simple(url: &str, statements: Vec<String>) -> Result<Vec<String>, tokio_postgres::Error> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
            let connection = tokio::spawn(connection);
            let mut out = Vec::new();
            for sql in &statements {
                let first = client
                    .simple_query(sql)
                    .await?
                    .into_iter()
                    .find_map(|m| match m {
                        SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                        _ => None,
                    })
                    .unwrap_or_default();
                out.push(first);
            }
            drop(client);
            let _ = connection.await;
            Ok(out)
        })
    })
    .join()
    .expect("the PostgreSQL thread")
}

/// `url` with its database (the path) replaced by `name`, user, host and query kept.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url
        .split_once("://")
        .unwrap_or_else(|| panic!("--postgres needs a postgres:// URL"));
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let query = tail
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{scheme}://{authority}/{name}{query}")
}

/// `url` without its password, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((user, host)) if user.contains(':') => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_owned(),
    }
}
