//! Concurrency: 200 connections of mixed traffic (register, create user, /v1/me, events,
//! refresh, portal logins that flood argon2) against the real binary for a bounded time.
//! Zero 5xx, zero SQLITE_BUSY in the log, and every count consistent afterwards. The
//! token endpoint's p99 under the login flood is printed (a figure, not an assertion).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/journey.rs"]
mod journey;
#[path = "support/process.rs"]
mod process;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use journey::{Journey, PASSWORD};
use serde_json::{json, Value};

const CONNECTIONS: usize = 200;
const RUN_FOR: Duration = Duration::from_secs(6);

#[derive(Default)]
struct Tally {
    statuses: BTreeMap<(&'static str, u16), u64>,
    users_created: u64,
    events_created: u64,
    register_micros: Vec<u64>,
    transport_errors: u64,
}

struct Fixture {
    base: String,
    client_id: String,
    client_secret: String,
    client_token: String,
    /// (access, refresh) for tasks that need a user from the start.
    users: Vec<(String, String)>,
}

async fn task(n: usize, f: Arc<Fixture>, tally: Arc<Mutex<Tally>>, until: Instant) {
    // One client, one connection: 200 tasks are 200 connections.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let (mut access, mut refresh) = f.users[n].clone();
    let url = |p: &str| format!("{}{p}", f.base);
    while Instant::now() < until {
        let started = Instant::now();
        let (kind, result) = match n % 6 {
            0 => (
                "register",
                http.post(url("/v1/client/register"))
                    .basic_auth(&f.client_id, Some(&f.client_secret))
                    .send()
                    .await,
            ),
            1 => (
                "create_user",
                http.post(url("/v1/users"))
                    .bearer_auth(&f.client_token)
                    .json(&json!({"metadata": {"task": n}}))
                    .send()
                    .await,
            ),
            2 => (
                "me",
                http.get(url("/v1/me")).bearer_auth(&access).send().await,
            ),
            3 => (
                "event",
                http.post(url("/v1/me/events"))
                    .bearer_auth(&access)
                    .json(&json!({"type": "tap", "data": {"task": n}}))
                    .send()
                    .await,
            ),
            4 => (
                "refresh",
                http.post(url("/oauth/token"))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", refresh.as_str()),
                    ])
                    .send()
                    .await,
            ),
            _ => (
                "login",
                http.post(url("/api/portal/login"))
                    .header("X-Requested-With", "set-portal")
                    .json(&json!({"email": "dev@example.com", "password": PASSWORD}))
                    .send()
                    .await,
            ),
        };
        let elapsed = started.elapsed().as_micros() as u64;
        let Ok(res) = result else {
            tally.lock().unwrap().transport_errors += 1;
            continue;
        };
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if kind == "refresh" && status == 200 {
            access = body["access_token"].as_str().unwrap().to_owned();
            refresh = body["refresh_token"].as_str().unwrap().to_owned();
        }
        let mut t = tally.lock().unwrap();
        *t.statuses.entry((kind, status)).or_default() += 1;
        match (kind, status) {
            ("create_user", 201) => t.users_created += 1,
            ("event", 201) => t.events_created += 1,
            ("register", 200) => t.register_micros.push(elapsed),
            _ => {}
        }
    }
}

#[test]
fn two_hundred_connections_of_mixed_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let mut server = process::Server::start_logging(dir.path(), &[], &log);
    let j = Journey::start(
        &server.url(""),
        &dir.path().join("data/outbox"),
        "dev@example.com",
    );
    let http = reqwest::blocking::Client::new();
    let users: Vec<(String, String)> = (0..CONNECTIONS)
        .map(|_| {
            let (status, body) = j.create_user(&http, json!({})).unwrap();
            assert_eq!(status, 201);
            let u = Journey::user_from(&body);
            (u.access, u.refresh)
        })
        .collect();
    let fixture = Arc::new(Fixture {
        base: j.base.clone(),
        client_id: j.client_id.clone(),
        client_secret: j.client_secret.clone(),
        client_token: j.client_token.clone(),
        users,
    });
    let tally = Arc::new(Mutex::new(Tally::default()));
    let runtime = rocket::tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let until = Instant::now() + RUN_FOR;
    runtime.block_on(async {
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|n| rocket::tokio::spawn(task(n, fixture.clone(), tally.clone(), until)))
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });

    let t = tally.lock().unwrap();
    eprintln!("answers by (scenario, status): {:?}", t.statuses);
    let server_errors: u64 = t
        .statuses
        .iter()
        .filter(|((_, s), _)| *s >= 500)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(server_errors, 0, "5xx answers: {:?}", t.statuses);
    assert_eq!(t.transport_errors, 0, "dropped connections");
    for kind in ["register", "create_user", "me", "event", "refresh", "login"] {
        let ok = t
            .statuses
            .iter()
            .filter(|((k, s), _)| *k == kind && (200..300).contains(s))
            .map(|(_, n)| n)
            .sum::<u64>();
        assert!(ok > 0, "{kind} never succeeded: {:?}", t.statuses);
    }
    let unexpected: Vec<_> = t
        .statuses
        .iter()
        .filter(|((_, s), _)| !(200..300).contains(s))
        .collect();
    assert!(
        unexpected.is_empty(),
        "every request of this load is valid: {unexpected:?}"
    );

    let mut lat = t.register_micros.clone();
    lat.sort_unstable();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)] as f64 / 1000.0;
    eprintln!(
        "token endpoint (register) under the login flood: {} requests, p50 {:.1} ms, p99 {:.1} ms ({})",
        lat.len(),
        p(0.5),
        p(0.99),
        std::env::var("SET_TEST_BINARY").unwrap_or_else(|_| "debug build".into())
    );

    assert_eq!(server.terminate().code(), Some(0));
    let logged = std::fs::read_to_string(&log).unwrap();
    for needle in ["SQLITE_BUSY", "database is locked", "internal error"] {
        assert!(!logged.contains(needle), "the log mentions {needle}");
    }
    let conn = rusqlite::Connection::open(dir.path().join("data/set.db")).unwrap();
    let (users, events): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM events)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        users as u64,
        CONNECTIONS as u64 + t.users_created,
        "users in the database"
    );
    assert_eq!(events as u64, t.events_created, "events in the database");
    let half: i64 = conn
        .query_row(
            "SELECT count(*) FROM (SELECT f.id FROM refresh_families f
             JOIN refresh_tokens t ON t.family_id = f.id WHERE f.revoked_at IS NULL
             GROUP BY f.id HAVING sum(t.used_at IS NULL) != 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(half, 0);
}
