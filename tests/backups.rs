//! Scheduled backups and `set-server restore` on the real binary: a backup taken on
//! schedule restores into a database that serves the tokens issued before it; restore
//! refuses a corrupt file, a file from a newer binary, and a database a server holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/journey.rs"]
mod journey;
#[path = "support/process.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use journey::Journey;
use process::Server;

fn backups_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        name.starts_with("set-") && name.ends_with(".db")
    });
    files.sort();
    files
}

fn has_user(db: &Path, user_id: &str) -> bool {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row("SELECT count(*) FROM users WHERE id = ?1", [user_id], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap()
        == 1
}

/// Waits for a scheduled backup that holds `user_id`, and copies it to `to` (the
/// schedule keeps deleting old ones).
fn backup_holding(backups: &Path, user_id: &str, to: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(newest) = backups_in(backups).pop() {
            if std::fs::copy(&newest, to).is_ok() && has_user(to, user_id) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no backup with the user appeared"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn restore(dir: &Path, file: &Path) -> (bool, String) {
    let out = process::run(dir, &["restore", file.to_str().unwrap()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn digest(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn a_scheduled_backup_restores_into_a_database_that_serves_the_same_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let env = [
        ("SET_BACKUP__INTERVAL", "1s"),
        ("SET_BACKUP__DIR", backups.to_str().unwrap()),
        ("SET_BACKUP__KEEP", "2"),
    ];
    let port = process::free_port();
    let mut server = Server::start_on(dir.path(), port, &env);
    let j = Journey::start(
        &server.url(""),
        &dir.path().join("data/outbox"),
        "backup@example.com",
    );
    let (status, body) = j.create_user(&j.http, json!({"n": "before"})).unwrap();
    assert_eq!(status, 201);
    let before = Journey::user_from(&body);

    let chosen = dir.path().join("chosen.db");
    backup_holding(&backups, &before.id, &chosen);
    let (status, body) = j.create_user(&j.http, json!({"n": "after"})).unwrap();
    assert_eq!(status, 201);
    let after = Journey::user_from(&body);
    assert!(!has_user(&chosen, &after.id));

    // The schedule keeps the newest two.
    std::thread::sleep(Duration::from_millis(2500));
    let kept = backups_in(&backups).len();
    assert!((1..=2).contains(&kept), "{kept} backups kept");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&backups_in(&backups)[0])
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "backups are private: {mode:o}");

    // A database held by a running server is refused, and left as it was.
    let (ok, text) = restore(dir.path(), &chosen);
    assert!(!ok, "{text}");
    assert!(
        text.contains("is in use") && text.contains("stop it"),
        "{text}"
    );
    assert!(has_user(&dir.path().join("data/set.db"), &after.id));
    assert_eq!(j.me(&after.access).0, 200);

    assert!(server.terminate().success());
    let (ok, text) = restore(dir.path(), &chosen);
    assert!(ok, "{text}");
    assert!(text.contains("restored"), "{text}");
    assert!(text.contains("was kept as"), "{text}");
    assert!(!dir.path().join("data/set.db-wal").exists());

    let _server = Server::start_on(dir.path(), port, &env);
    let (status, body) = j.me(&before.access);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], before.id.as_str());
    assert_eq!(body["metadata"]["n"], "before");
    // What came after the backup is gone.
    assert_ne!(j.me(&after.access).0, 200);
    let (status, _) = j.refresh(&j.http, &before.refresh).unwrap();
    assert_eq!(status, 200);
}

#[test]
fn restore_refuses_corrupt_files_and_files_from_a_newer_binary() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/set.db");
    let out = process::run(dir.path(), &["migrate"]);
    assert!(out.status.success());
    let good = dir.path().join("good.db");
    let out = process::run(dir.path(), &["backup", good.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let original = digest(&db);

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5a_u8; 64 * 1024]).unwrap();
    let (ok, text) = restore(dir.path(), &garbage);
    assert!(!ok);
    assert!(text.contains("cannot be restored"), "{text}");
    assert!(text.contains("Nothing was changed"), "{text}");

    // A real backup with a page in the middle overwritten.
    let damaged = dir.path().join("damaged.db");
    let mut bytes = std::fs::read(&good).unwrap();
    assert!(bytes.len() >= 8 * 4096, "{} bytes", bytes.len());
    let page = 4096 * 3;
    bytes[page..page + 4096].fill(0xa5);
    std::fs::write(&damaged, bytes).unwrap();
    let (ok, text) = restore(dir.path(), &damaged);
    assert!(!ok, "{text}");
    assert!(text.contains("cannot be restored"), "{text}");

    let newer = dir.path().join("newer.db");
    std::fs::copy(&good, &newer).unwrap();
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)",
            [],
        )
        .unwrap();
    let (ok, text) = restore(dir.path(), &newer);
    assert!(!ok);
    assert!(
        text.contains("9999") && text.contains("does not know"),
        "{text}"
    );

    let (ok, text) = restore(dir.path(), &dir.path().join("missing.db"));
    assert!(!ok);
    assert!(text.contains("no file"), "{text}");

    assert_eq!(
        digest(&db),
        original,
        "a refused restore changed the database"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("data"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("restoring") || n.contains("replaced"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let (ok, text) = restore(dir.path(), &good);
    assert!(ok, "{text}");
}
