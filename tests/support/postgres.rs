//! PostgreSQL for the tests that run on both engines: a server, and a database per test.
//!
//! `TEST_POSTGRES_URL` (exported by `.ci/postgres start`, which `.ci/run` calls; not
//! `SET_…`, which the server's config would read as a key of its own) names the
//! server. Without it, the first test starts a throwaway server with `.ci/postgres start`
//! (loopback only, in a temporary folder) and records it in `target/test-postgres.env`,
//! so later runs reuse it while it answers. A test that cannot reach PostgreSQL fails with
//! the reason; it never passes by skipping.
#![allow(dead_code)]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const INSTALL: &str = "install it with `apt-get install -y postgresql`, or point \
                       TEST_POSTGRES_URL at a server (eval \"$(.ci/postgres start)\")";

fn state_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-postgres.env")
}

/// Runs `sql` (simple-query protocol) on `url`, on a thread and runtime of its own (the
/// callers are often inside an async test, where a runtime cannot be started); returns
/// how many rows it produced.
pub fn execute(url: &str, sql: &str) -> Result<usize, String> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let rt = rocket::tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .map_err(|e| e.to_string())?;
            rocket::tokio::spawn(connection);
            let out = client.simple_query(&sql).await.map_err(|e| e.to_string())?;
            Ok(out
                .iter()
                .filter(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
                .count())
        })
    })
    .join()
    .map_err(|_| "the PostgreSQL helper thread panicked".to_owned())?
}

fn answers(url: &str) -> bool {
    execute(url, "SELECT 1").is_ok()
}

fn start_throwaway() -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/postgres");
    let out = Command::new("bash")
        .arg(&script)
        .arg("start")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    if !out.status.success() {
        panic!(
            "the tests need PostgreSQL and could not start one ({}); {INSTALL}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let exports = String::from_utf8_lossy(&out.stdout).into_owned();
    let _ = std::fs::write(state_file(), &exports);
    url_from_exports(&exports).unwrap_or_else(|| panic!(".ci/postgres printed no URL: {exports}"))
}

fn url_from_exports(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.trim()
            .strip_prefix("export TEST_POSTGRES_URL=")
            .map(|v| v.trim_matches(|c| c == '\'' || c == '"').to_owned())
    })
}

/// The server's URL (its `postgres` maintenance database).
pub fn server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("TEST_POSTGRES_URL") {
            if !answers(&url) {
                panic!("TEST_POSTGRES_URL={url} does not answer; {INSTALL}");
            }
            return url;
        }
        if let Some(url) = std::fs::read_to_string(state_file())
            .ok()
            .and_then(|t| url_from_exports(&t))
        {
            if answers(&url) {
                return url;
            }
        }
        start_throwaway()
    })
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let authority_end = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A database of its own for the data directory `dir` (the same one each time for the
/// same folder, so a test can restart an app on its database), created when missing.
pub fn database_for(dir: &Path) -> String {
    let mut h = DefaultHasher::new();
    dir.hash(&mut h);
    std::process::id().hash(&mut h);
    fresh_named(&format!("set_t_{:016x}", h.finish()))
}

/// A database named `name`, created when missing.
pub fn fresh_named(name: &str) -> String {
    let server = server();
    let exists = format!("SELECT 1 FROM pg_database WHERE datname = '{name}'");
    let found = execute(server, &exists).unwrap_or_else(|e| panic!("PostgreSQL at {server}: {e}"));
    if found == 0 {
        if let Err(e) = execute(server, &format!("CREATE DATABASE {name}")) {
            // Another test of the same run created it first.
            if !e.contains("already exists") && !e.contains("duplicate key") {
                panic!("creating the test database {name}: {e}");
            }
        }
    }
    with_database(server, name)
}

/// A brand-new database with a random name.
pub fn fresh() -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().gen();
    fresh_named(&format!("set_r_{n:016x}"))
}
