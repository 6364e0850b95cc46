//! The storage layer on PostgreSQL: migrations applied once and recorded, a database
//! from a newer binary refused untouched, and clear refusals for a config naming both
//! engines or a server that cannot be reached. (The API suite runs on it too:
//! `tests/api_postgres.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/process.rs"]
mod process;

use set_server::db::{migrate, Db, Engine, Options};
use set_server::params;

fn options(url: &str, dir: &std::path::Path) -> Options {
    Options {
        path: dir.join("set.db"),
        busy_timeout: std::time::Duration::from_secs(5),
        readers: 2,
        synchronous: set_server::config::Synchronous::Full,
        group_commit: true,
        url: Some(url.to_owned()),
        pool: 4,
    }
}

fn applied(db: &Db) -> Vec<i64> {
    db.read_blocking(|c| {
        Ok(c.query_all(
            "SELECT version FROM schema_migrations ORDER BY version",
            params![],
            |r| r.get(0usize),
        )?)
    })
    .unwrap()
}

#[test]
fn a_fresh_database_gets_every_migration_once() {
    let url = postgres::fresh();
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(options(&url, dir.path())).unwrap();
    assert_eq!(db.engine(), Engine::Postgres);
    let all: Vec<i64> = migrate::all_for(Engine::Postgres)
        .unwrap()
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(applied(&db), all);
    assert!(
        !dir.path().join("set.db").exists(),
        "no SQLite file is made"
    );
    drop(db);
    let again = Db::open(options(&url, dir.path())).unwrap();
    assert_eq!(applied(&again), all, "a second start applies nothing");
}

#[test]
fn a_database_from_a_newer_binary_is_refused_untouched() {
    let url = postgres::fresh();
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(options(&url, dir.path())).unwrap();
    db.write_blocking(|c| {
        Ok(c.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)",
            params![],
        )?)
    })
    .unwrap();
    let before = applied(&db);
    drop(db);
    let err = Db::open(options(&url, dir.path()))
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("newer set-server"), "{err}");
    assert!(err.contains("9999"), "{err}");
    let db = Db::open(Options {
        url: Some(url.clone()),
        ..options(&url, dir.path())
    });
    assert!(db.is_err(), "still refused");
    assert_eq!(before.last(), Some(&9999));
}

#[test]
fn a_config_naming_both_engines_is_refused_by_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("set.toml"),
        "[database]\npath = \"data/set.db\"\nurl = \"postgres://set@127.0.0.1/set\"\n",
    )
    .unwrap();
    let out = process::run(dir.path(), &["check-config"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("database.url"), "{stderr}");
    assert!(stderr.contains("not both"), "{stderr}");
}

#[test]
fn an_unreachable_server_is_named_with_the_reason_and_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let port = process::free_port();
    let out = process::command(dir.path())
        .env(
            "SET_DATABASE__URL",
            format!("postgres://set:hunter2@127.0.0.1:{port}/set"),
        )
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}/set")),
        "{stderr}"
    );
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
