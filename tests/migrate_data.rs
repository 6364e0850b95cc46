//! `set-server migrate-data` on the real binary: a SQLite installation populated through
//! the API moves into PostgreSQL, and the SDK journey goes on there with the tokens and
//! client credentials issued before the move. A target holding data and a bad URL are
//! refused with a message, not a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/journey.rs"]
mod journey;
#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/process.rs"]
mod process;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};

use journey::Journey;
use process::Server;

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn migrate_data(dir: &Path, to: &str) -> Output {
    let from = dir.join("data/set.db");
    process::run(
        dir,
        &["migrate-data", "--from", from.to_str().unwrap(), "--to", to],
    )
}

/// The summary's `table sqlite postgres` lines.
fn summary(stdout: &str) -> BTreeMap<String, (i64, i64)> {
    stdout
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f[..] {
                [t, s, p] => Some((t.to_owned(), (s.parse().ok()?, p.parse().ok()?))),
                _ => None,
            }
        })
        .collect()
}

fn sqlite_count(db: &Path, table: &str) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

fn postgres_count(url: &str, table: &str) -> i64 {
    postgres::execute(url, &format!("SELECT 1 FROM {table}")).unwrap() as i64
}

fn event_id(body: &Value) -> i64 {
    body["id"].as_str().unwrap().parse().unwrap()
}

#[test]
fn a_populated_sqlite_installation_moves_to_postgres_and_its_tokens_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let port = process::free_port();
    let mut server = Server::start_on(dir.path(), port, &[]);
    let j = Journey::start(
        &server.url(""),
        &dir.path().join("data/outbox"),
        "move@example.com",
    );

    // Alice's tokens are signed by the first key, which is then retired (its private key
    // erased: a NULL BYTEA to copy) and still verifies them.
    let (status, body) = j.create_user(&j.http, json!({"n": "alice"})).unwrap();
    assert_eq!(status, 201, "{body}");
    let alice = Journey::user_from(&body);
    for i in 0..3 {
        let (status, body) = j
            .post_event(&j.http, &alice.access, json!({"i": i}))
            .unwrap();
        assert_eq!(status, 201, "{body}");
    }
    let out = process::run(dir.path(), &["keys", "rotate"]);
    assert!(out.status.success(), "{:?}", text(&out));

    // Bob refreshes once: his first refresh token is spent, the second is live.
    let (status, body) = j.create_user(&j.http, json!({"n": "bob"})).unwrap();
    assert_eq!(status, 201, "{body}");
    let bob = Journey::user_from(&body);
    let (status, body) = j.refresh(&j.http, &bob.refresh).unwrap();
    assert_eq!(status, 200, "{body}");
    let bob_refresh = body["refresh_token"].as_str().unwrap().to_owned();

    // Carol writes the newest event, then deletes herself: her events go with her, her
    // token is revoked, and the event id she had must not be handed out again.
    let (status, body) = j.create_user(&j.http, json!({"n": "carol"})).unwrap();
    assert_eq!(status, 201, "{body}");
    let carol = Journey::user_from(&body);
    let (status, body) = j
        .post_event(&j.http, &carol.access, json!({"last": true}))
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let highest_before = event_id(&body);
    let r = j
        .http
        .delete(j.url("/v1/me"))
        .bearer_auth(&carol.access)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(server.terminate().success());

    let db = dir.path().join("data/set.db");
    let before = std::fs::read(&db).unwrap();
    let pg = postgres::fresh();
    let out = migrate_data(dir.path(), &pg);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the source is unchanged"
    );
    assert!(stdout.contains("master.key"), "{stdout}");

    let counts = summary(&stdout);
    for table in [
        "developers",
        "sessions",
        "email_tokens",
        "signing_keys",
        "email_queue",
        "clients",
        "users",
        "refresh_families",
        "refresh_tokens",
        "events",
        "revocations",
        "audit_events",
    ] {
        let expected = sqlite_count(&db, table);
        assert_eq!(counts.get(table), Some(&(expected, expected)), "{stdout}");
        assert_eq!(postgres_count(&pg, table), expected, "{table}");
    }
    assert!(!counts.contains_key("schema_migrations"), "{stdout}");
    assert_eq!(counts["users"].0, 2);
    assert_eq!(counts["events"].0, 3);
    assert_eq!(counts["signing_keys"].0, 2);
    assert!(counts["revocations"].0 >= 1);
    assert!(counts["refresh_tokens"].0 >= 3);

    // The same data directory (so the same master.key) and port (so the same issuer),
    // now on PostgreSQL.
    let _server = Server::start_on(dir.path(), port, &[("SET_DATABASE__URL", &pg)]);

    let (status, body) = j.me(&alice.access);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], alice.id.as_str());
    assert_eq!(body["metadata"]["n"], "alice");
    assert_eq!(j.me(&bob.access).0, 200);
    // Revocations came along: Carol's token stays refused.
    assert_eq!(j.me(&carol.access).0, 401);

    // Refresh tokens issued before the move refresh; a spent one is still spent.
    let (status, body) = j.refresh(&j.http, &alice.refresh).unwrap();
    assert_eq!(status, 200, "{body}");
    let alice_now = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(j.me(&alice_now).0, 200);
    let (status, body) = j.refresh(&j.http, &bob_refresh).unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, _) = j.refresh(&j.http, &bob.refresh).unwrap();
    assert_eq!(
        status, 400,
        "a refresh token spent before the move stays spent"
    );

    // The client credentials (a sealed secret) still register.
    let r = j
        .http
        .post(j.url("/v1/client/register"))
        .basic_auth(&j.client_id, Some(&j.client_secret))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let registered: Value = r.json().unwrap();
    assert!(registered["access_token"].is_string(), "{registered}");

    // New rows take ids after every id SQLite handed out, the deleted one's included.
    let (status, body) = j
        .post_event(&j.http, &alice_now, json!({"after": "move"}))
        .unwrap();
    assert_eq!(status, 201, "{body}");
    assert!(
        event_id(&body) > highest_before,
        "{body} after {highest_before}"
    );
    let (status, body) = j.create_user(&j.http, json!({"n": "dave"})).unwrap();
    assert_eq!(status, 201, "{body}");
    let r = j
        .http
        .get(j.url("/v1/me/events"))
        .bearer_auth(&alice_now)
        .send()
        .unwrap();
    let page: Value = r.json().unwrap();
    assert_eq!(page["events"].as_array().unwrap().len(), 4, "{page}");
}

#[test]
fn a_target_holding_data_and_a_bad_url_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = process::run(dir.path(), &["migrate"]);
    assert!(out.status.success(), "{:?}", text(&out));

    // An empty installation moves (and the target gets its schema) …
    let pg = postgres::fresh();
    let out = migrate_data(dir.path(), &pg);
    assert!(out.status.success(), "{:?}", text(&out));

    // … but not onto a database that holds anything.
    postgres::execute(
        &pg,
        "INSERT INTO developers (id, email, password_hash, created_at, password_changed_at) \
         VALUES ('dev_x', 'x@example.com', 'h', 1, 1)",
    )
    .unwrap();
    let out = migrate_data(dir.path(), &pg);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("already holds data") && stderr.contains("developers"),
        "{stderr}"
    );
    assert!(stderr.contains("empty database"), "{stderr}");
    assert_eq!(postgres_count(&pg, "developers"), 1);

    // Nothing listens on port 1.
    let out = migrate_data(dir.path(), "postgres://postgres@127.0.0.1:1/set");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot connect"), "{stderr}");
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let out = migrate_data(dir.path(), "data/other.db");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--to must be a PostgreSQL URL"), "{stderr}");

    // A source that is no Set Server database.
    std::fs::write(dir.path().join("junk.db"), "not a database").unwrap();
    let out = process::run(
        dir.path(),
        &["migrate-data", "--from", "junk.db", "--to", &pg],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("junk.db"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
