//! Crash safety: a mixed write load (user creations, events, refreshes) against the real
//! binary, killed with SIGKILL at random moments and restarted, six times. Every request
//! that was answered 2xx must be there afterwards, and no refresh family may be left
//! half-rotated (exactly one live token per live family).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/journey.rs"]
mod journey;
#[path = "support/process.rs"]
mod process;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use journey::{Journey, User};
use rand::Rng;
use serde_json::json;

const WORKERS: usize = 6;
const CRASHES: usize = 6;

/// What the server acknowledged, per worker (each worker owns its users, so a refresh
/// chain is never raced by two workers).
#[derive(Default)]
struct Ledger {
    /// User id → the latest tokens we hold, and whether the chain is certain (a refresh
    /// whose answer was lost may or may not have rotated it).
    users: HashMap<String, (User, bool, usize)>,
    events: Vec<(String, i64)>,
}

fn work(j: &Journey, worker: usize, ledger: &Mutex<Ledger>, stop: &AtomicBool) {
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut rng = rand::thread_rng();
    while !stop.load(Ordering::Relaxed) {
        let mine: Vec<User> = {
            let l = ledger.lock().unwrap();
            l.users
                .values()
                .filter(|(_, certain, w)| *w == worker && *certain)
                .map(|(u, _, _)| u.clone())
                .collect()
        };
        let pick = rng.gen_range(0..10);
        if mine.is_empty() || pick < 3 {
            match j.create_user(&http, json!({ "worker": worker })) {
                Ok((201, body)) => {
                    let u = Journey::user_from(&body);
                    ledger
                        .lock()
                        .unwrap()
                        .users
                        .insert(u.id.clone(), (u, true, worker));
                }
                Ok((status, body)) => panic!("create_user answered {status}: {body}"),
                Err(_) => return,
            }
            continue;
        }
        let user = &mine[rng.gen_range(0..mine.len())];
        if pick < 7 {
            match j.post_event(&http, &user.access, json!({ "n": rng.gen::<u32>() })) {
                Ok((201, body)) => {
                    let id: i64 = body["id"].as_str().unwrap().parse().unwrap();
                    ledger.lock().unwrap().events.push((user.id.clone(), id));
                }
                Ok((status, body)) => panic!("event answered {status}: {body}"),
                Err(_) => return,
            }
        } else {
            match j.refresh(&http, &user.refresh) {
                Ok((200, body)) => {
                    let mut l = ledger.lock().unwrap();
                    if let Some(entry) = l.users.get_mut(&user.id) {
                        entry.0.access = body["access_token"].as_str().unwrap().to_owned();
                        entry.0.refresh = body["refresh_token"].as_str().unwrap().to_owned();
                    }
                }
                Ok((status, body)) => panic!("refresh answered {status}: {body}"),
                Err(_) => {
                    // The answer was lost: the rotation may or may not have committed.
                    if let Some(entry) = ledger.lock().unwrap().users.get_mut(&user.id) {
                        entry.1 = false;
                    }
                    return;
                }
            }
        }
    }
}

fn verify(db: &std::path::Path, ledger: &Ledger) {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let mut user = conn
        .prepare("SELECT count(*) FROM users WHERE id = ?1")
        .unwrap();
    for id in ledger.users.keys() {
        let n: i64 = user.query_row([id], |r| r.get(0)).unwrap();
        assert_eq!(n, 1, "acknowledged user {id} is gone");
    }
    let mut event = conn
        .prepare("SELECT user_id FROM events WHERE id = ?1")
        .unwrap();
    for (owner, id) in &ledger.events {
        let found: String = event
            .query_row([id], |r| r.get(0))
            .unwrap_or_else(|_| panic!("acknowledged event {id} is gone"));
        assert_eq!(&found, owner);
    }
    let mut live = conn
        .prepare(
            "SELECT t.used_at IS NULL, f.revoked_at IS NULL FROM refresh_tokens t
             JOIN refresh_families f ON f.id = t.family_id WHERE t.token_hash = ?1",
        )
        .unwrap();
    for (u, certain, _) in ledger.users.values() {
        if !certain {
            continue;
        }
        let hash = set_server::auth::secrets::token_key(&u.refresh);
        let (unused, family_live): (bool, bool) = live
            .query_row([hash], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap_or_else(|_| panic!("acknowledged refresh token of {} is gone", u.id));
        assert!(
            unused && family_live,
            "acknowledged refresh token of {} is spent",
            u.id
        );
    }
    let half: i64 = conn
        .query_row(
            "SELECT count(*) FROM (
                 SELECT f.id FROM refresh_families f JOIN refresh_tokens t ON t.family_id = f.id
                 WHERE f.revoked_at IS NULL GROUP BY f.id HAVING sum(t.used_at IS NULL) != 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(half, 0, "half-rotated refresh families");
}

#[test]
fn sigkill_under_write_load_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/set.db");
    let outbox = dir.path().join("data/outbox");
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut server = process::Server::start(dir.path(), &[]);
    let j = Arc::new(Journey::start(&server.url(""), &outbox, "dev@example.com"));
    let mut rng = rand::thread_rng();
    for crash in 0..CRASHES {
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (j, ledger, stop) = (j.clone(), ledger.clone(), stop.clone());
                std::thread::spawn(move || work(&j, w, &ledger, &stop))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.gen_range(300..1200)));
        process::signal(server.child.id(), "KILL");
        let _ = server.child.wait();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join()
                .expect("a worker saw an answer that was neither 2xx nor a dropped connection");
        }
        verify(&db, &ledger.lock().unwrap());
        server = process::Server::start_on(dir.path(), server.port, &[]);
        let l = ledger.lock().unwrap();
        eprintln!(
            "crash {}: {} users, {} events acknowledged so far",
            crash + 1,
            l.users.len(),
            l.events.len()
        );
    }
    // The survivors still work after the last restart: tokens, events, refresh chains.
    let http = reqwest::blocking::Client::new();
    let l = ledger.lock().unwrap();
    assert!(
        l.users.len() >= CRASHES && !l.events.is_empty(),
        "the load did little"
    );
    for (u, certain, _) in l.users.values().filter(|(_, c, _)| *c).take(20) {
        assert!(*certain);
        let (status, _) = j.refresh(&http, &u.refresh).unwrap();
        assert_eq!(status, 200, "{}'s acknowledged refresh token works", u.id);
    }
}
