//! The SQLite store: migrations, refusal of newer databases, online backups under load.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/process.rs"]
mod process;

use set_server::params;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use set_server::config::Config;
use set_server::db::{self, migrate, Db};

fn options(dir: &std::path::Path) -> db::Options {
    let mut config = Config::load(None).unwrap();
    config.database.path = dir.join("data/set.db");
    (&config.database).into()
}

fn applied(path: &std::path::Path) -> Vec<i64> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT version FROM schema_migrations ORDER BY version")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn fresh_database_gets_every_migration_and_a_rerun_is_a_noop() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    let db = Db::open(opts.clone()).unwrap();
    let all: Vec<i64> = migrate::all().unwrap().iter().map(|m| m.version).collect();
    assert_eq!(applied(&opts.path), all);
    let journal: String = db
        .read_blocking(|c| Ok(c.value("PRAGMA journal_mode", params![])?))
        .unwrap();
    assert_eq!(journal, "wal");
    let fk: i64 = db
        .read_blocking(|c| Ok(c.value("PRAGMA foreign_keys", params![])?))
        .unwrap();
    assert_eq!(fk, 1);
    db.close();
    drop(db);

    let mut conn = Connection::open(&opts.path).unwrap();
    assert!(migrate::apply(&mut conn).unwrap().is_empty());
    drop(conn);
    let out = process::run(dir.path(), &["migrate"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
    assert_eq!(applied(&opts.path), all);
}

#[test]
fn migrate_command_applies_on_a_fresh_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = process::run(dir.path(), &["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied 0001_init"));
}

#[test]
fn database_from_a_newer_binary_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    let db = Db::open(opts.clone()).unwrap();
    db.write_blocking(|tx| {
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from_the_future', 0)",
            params![],
        )?;
        Ok(())
    })
    .unwrap();
    db.close();
    drop(db);
    let before = std::fs::read(&opts.path).unwrap();

    let err = Db::open(opts.clone()).err().expect("refused").to_string();
    assert!(err.contains("newer set-server"), "{err}");
    assert!(err.contains("9999"), "{err}");

    let out = process::run(dir.path(), &["migrate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("newer set-server"));
    let out = process::run(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "serve refuses too");

    assert_eq!(std::fs::read(&opts.path).unwrap(), before, "file unchanged");
}

/// A backup taken while a writer commits rows nonstop holds every row committed before it
/// began, passes the integrity check, and has no gaps (a single consistent snapshot).
#[test]
fn backup_during_writes_holds_every_committed_row() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    let db = Db::open(opts.clone()).unwrap();
    db.write_blocking(|tx| {
        tx.batch("CREATE TABLE load (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")?;
        Ok(())
    })
    .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicI64::new(0));
    let writer = {
        let (db, stop, committed) = (db.clone(), stop.clone(), committed.clone());
        std::thread::spawn(move || {
            let mut n = 0i64;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                db.write_blocking(|tx| {
                    tx.execute(
                        "INSERT INTO load (id, payload) VALUES ($1, $2)",
                        params![n, "x".repeat(200)],
                    )?;
                    Ok(())
                })
                .unwrap();
                committed.store(n, Ordering::SeqCst);
            }
        })
    };
    while committed.load(Ordering::SeqCst) < 500 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let before = committed.load(Ordering::SeqCst);
    let target = dir.path().join("backup.db");
    let out = process::run(dir.path(), &["backup", target.to_str().unwrap()]);
    let after = committed.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(after > before, "writes continued during the backup");

    let copy = Connection::open(&target).unwrap();
    let ok: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let (count, max): (i64, i64) = copy
        .query_row("SELECT count(*), coalesce(max(id), 0) FROM load", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(
        count >= before,
        "backup has {count} rows, {before} were committed before it"
    );
    assert_eq!(count, max, "no gaps: a consistent snapshot");
    assert!(count <= after + 1);

    let again = process::run(dir.path(), &["backup", target.to_str().unwrap()]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "an existing file is never overwritten"
    );
}
