//! `set-server keys rotate` as a process, beside a running server on the same database:
//! it prints the new kid, and the running server publishes both keys without a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/process.rs"]
mod process;

use std::time::{Duration, Instant};

use process::Server;
use serde_json::Value;

fn kids(server: &Server) -> Vec<String> {
    let jwks: Value = reqwest::blocking::get(server.url("/.well-known/jwks.json"))
        .unwrap()
        .json()
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn keys_rotate_beside_a_running_server_publishes_both_keys() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The server finds ./set.toml in its folder; the CLI is pointed at it with --config.
    let config = dir.path().join("set.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\npath = \"{}\"\n[email]\noutbox_dir = \"{}\"\n",
            data.join("set.db").display(),
            data.join("outbox").display()
        ),
    )
    .unwrap();

    let server = Server::start(dir.path(), &[]);
    let before = kids(&server);
    assert_eq!(before.len(), 1, "one key after the first start: {before:?}");
    let old = &before[0];

    let out = process::command(dir.path())
        .arg("--config")
        .arg(&config)
        .args(["keys", "rotate"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // "new EdDSA signing key <kid>; retired <old>, published until <time>"
    let new = stdout
        .split_whitespace()
        .nth(4)
        .map(|k| k.trim_end_matches(';').to_owned())
        .unwrap_or_else(|| panic!("no kid in {stdout:?}"));
    assert_ne!(&new, old);
    assert!(stdout.contains(&format!("retired {old}")), "{stdout}");

    // The server re-reads the table every few seconds; wait for it (bounded).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = kids(&server);
        if now.contains(&new) {
            assert_eq!(now, [new.clone(), old.clone()], "new key first, old kept");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server never published {new}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}
