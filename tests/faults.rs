//! Faults: a full disk under the database. Writes are refused with 503 in the JSON shape
//! (never a 500, never a half-written record), reads keep working, and writes succeed
//! again without a restart once there is room.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/journey.rs"]
mod journey;
#[path = "support/process.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use journey::Journey;
use serde_json::json;

/// A small tmpfs, unmounted on drop. The test needs root (as CI has); without it the test
/// fails with that reason rather than pretending.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs to fill the disk and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the filesystem at `dir` with one file until it has no room left.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let small = vec![0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
    path
}

#[test]
fn a_full_disk_is_503_and_recovers_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let _fs = Tmpfs::mount(&mnt, "8m");
    let db = mnt.join("set.db");
    let outbox = mnt.join("outbox");
    let env = [
        ("SET_DATABASE__PATH", db.to_str().unwrap()),
        ("SET_EMAIL__OUTBOX_DIR", outbox.to_str().unwrap()),
    ];
    let mut server = process::Server::start(dir.path(), &env);
    let j = Journey::start(&server.url(""), &outbox, "dev@example.com");
    let http = reqwest::blocking::Client::new();
    let (status, body) = j.create_user(&http, json!({})).unwrap();
    assert_eq!(status, 201);
    let user = Journey::user_from(&body);

    let filler = fill(&mnt);
    let big = "x".repeat(15 * 1024);
    let mut refused = None;
    let mut stored = 0;
    for _ in 0..2000 {
        let (status, body) = j.post_event(&http, &user.access, json!(big)).unwrap();
        match status {
            201 => stored += 1,
            503 => {
                refused = Some(body);
                break;
            }
            other => panic!("a full disk must be 201 or 503, got {other}: {body}"),
        }
    }
    let refused = refused.expect("the disk never filled up");
    assert_eq!(refused["error"], "unavailable", "{refused}");
    assert!(refused["error_description"]
        .as_str()
        .unwrap()
        .contains("database"));
    let (status, _) = j.create_user(&http, json!({})).unwrap();
    assert!(status == 503 || status == 201, "{status}");

    // Reads still work while writes are refused.
    let r = http.get(j.url("/readyz")).send().unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(j.url("/v1/me"))
        .bearer_auth(&user.access)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);

    // Room again: the very same process writes again.
    std::fs::remove_file(filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = j.post_event(&http, &user.access, json!("after")).unwrap();
        if status == 201 {
            break;
        }
        assert_eq!(status, 503);
        assert!(Instant::now() < deadline, "writes did not recover");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, _) = j.create_user(&http, json!({"after": true})).unwrap();
    assert_eq!(status, 201);
    let page: serde_json::Value = http
        .get(j.url("/v1/me/events?limit=500"))
        .bearer_auth(&user.access)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        page["events"].as_array().unwrap().len(),
        stored + 1,
        "every acknowledged event, no more"
    );

    assert_eq!(server.terminate().code(), Some(0));
    let conn = rusqlite::Connection::open(&db).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}
