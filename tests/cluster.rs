//! Three `set-server` processes on loopback over one PostgreSQL database, as behind a load
//! balancer: single use holds across nodes, a revocation made on one node reaches the
//! others within a second, a killed node leaves the rest serving and catches up when it
//! comes back, and an email is sent once, not once per node.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/journey.rs"]
mod journey;
#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/process.rs"]
mod process;

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use journey::{Journey, User};
use process::Server;
use reqwest::blocking::Client;
use serde_json::json;

/// The address the nodes share behind their (imagined) load balancer: their tokens'
/// issuer, which must be the same on every node.
const PUBLIC_URL: &str = "http://set.cluster.test";

/// Starts a node on the data directory `dir` over the PostgreSQL database `url`.
fn node(dir: &Path, url: &str) -> Server {
    Server::start(
        dir,
        &[
            ("SET_DATABASE__URL", url),
            ("SET_SERVER__PUBLIC_URL", PUBLIC_URL),
        ],
    )
}

/// Starts `n` nodes on one data directory (so one master key and one outbox). The first
/// starts alone: it creates the schema, the master key and the first signing key.
fn nodes(dir: &Path, url: &str, n: usize) -> Vec<Server> {
    (0..n).map(|_| node(dir, url)).collect()
}

fn http() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn me_status(http: &Client, node: &Server, access: &str) -> u16 {
    let r = http
        .get(node.url("/v1/me"))
        .bearer_auth(access)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    if status != 200 {
        eprintln!(
            "GET /v1/me on :{}: {status} {}",
            node.port,
            r.text().unwrap_or_default()
        );
    }
    status
}

fn new_user(j: &Journey) -> User {
    let (status, body) = j.create_user(&j.http, json!({})).unwrap();
    assert_eq!(status, 201, "{body}");
    Journey::user_from(&body)
}

/// Waits until `check` holds on every one of `nodes`; returns how long it took.
fn within(limit: Duration, nodes: &[&Server], check: impl Fn(&Server) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        if nodes.iter().all(|n| check(n)) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "not every node agreed within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn three_nodes_share_single_use_revocation_and_email() {
    let url = postgres::fresh();
    let dir = tempfile::tempdir().unwrap();
    let mut n = nodes(dir.path(), &url, 3);
    let outbox = dir.path().join("data/outbox");
    let http = http();

    // A developer, a client and a user made through node 1; node 2 and 3 accept them.
    let j = Journey::start(&n[0].url(""), &outbox, "dev@example.com");
    let user = new_user(&j);
    within(Duration::from_secs(1), &[&n[1], &n[2]], |node| {
        me_status(&http, node, &user.access) == 200
    });

    // The same refresh token presented to the three nodes at once: exactly one wins.
    let barrier = Arc::new(Barrier::new(3));
    let answers: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = n
            .iter()
            .map(|node| {
                let (barrier, refresh, url) = (
                    barrier.clone(),
                    user.refresh.clone(),
                    node.url("/oauth/token"),
                );
                s.spawn(move || {
                    let http = super_http();
                    barrier.wait();
                    http.post(url)
                        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
                        .send()
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        answers.iter().filter(|s| **s == 200).count(),
        1,
        "exactly one node rotates the token: {answers:?}"
    );
    assert!(
        answers.iter().all(|s| *s == 200 || *s == 400),
        "{answers:?}"
    );

    // A client deleted through node 1: its tokens are refused by nodes 2 and 3 within 1 s.
    let other = new_user(&j);
    within(Duration::from_secs(1), &[&n[1], &n[2]], |node| {
        me_status(&http, node, &other.access) == 200
    });
    let deleted = http
        .delete(n[0].url(&format!("/api/portal/clients/{}", j.client_id)))
        .header("X-Requested-With", "set-portal")
        .header("Cookie", &j.session)
        .send()
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let took = within(Duration::from_secs(1), &[&n[1], &n[2]], |node| {
        me_status(&http, node, &other.access) == 401
    });
    eprintln!("a client deleted on node 1 was refused by nodes 2 and 3 after {took:?}");

    // Node 3 killed: the others keep serving; a user disabled meanwhile is refused by the
    // restarted node 3 (it loads what it missed).
    let j2 = second_client(&j, &n[1]);
    let victim = new_user(&j2);
    let survivor = new_user(&j2);
    process::signal(n[2].pid(), "KILL");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(me_status(&http, &n[0], &survivor.access), 200);
    assert_eq!(me_status(&http, &n[1], &survivor.access), 200);
    let disabled = http
        .post(n[0].url(&format!(
            "/api/portal/clients/{}/users/{}/disable",
            j2.client_id, victim.id
        )))
        .header("X-Requested-With", "set-portal")
        .header("Cookie", &j2.session)
        .send()
        .unwrap();
    assert!(disabled.status().is_success(), "{}", disabled.status());
    n[2] = node(dir.path(), &url);
    assert_eq!(me_status(&http, &n[2], &victim.access), 401);
    assert_eq!(me_status(&http, &n[2], &survivor.access), 200);
    let (status, _) = j2.refresh(&http, &survivor.refresh).unwrap();
    assert_eq!(status, 200);

    // One email per sign-up, though three workers drain the queue. (Last: the journeys
    // above read the newest verification link in the shared outbox.)
    for i in 0..5 {
        let r = http
            .post(n[i % 3].url("/api/portal/signup"))
            .header("X-Requested-With", "set-portal")
            .json(&json!({"email": format!("mail{i}@example.com"), "password": journey::PASSWORD}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let all_sent = Instant::now() + Duration::from_secs(15);
    while (0..5).any(|i| mails_to(&outbox, &format!("mail{i}@example.com")) == 0) {
        assert!(Instant::now() < all_sent, "every sign-up's email is sent");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Time for a second node to send a copy, were the claim not exclusive: every worker
    // polls the queue at least this often.
    std::thread::sleep(Duration::from_secs(3));
    for i in 0..5 {
        let to = format!("mail{i}@example.com");
        assert_eq!(mails_to(&outbox, &to), 1, "one email to {to}");
    }
}

/// A node whose master key differs from the one that encrypted the stored signing keys
/// refuses to start, and says which file to copy.
#[test]
fn a_node_with_another_master_key_refuses_to_start() {
    let url = postgres::fresh();
    let first = tempfile::tempdir().unwrap();
    let _n1 = node(first.path(), &url);
    let second = tempfile::tempdir().unwrap();
    let out = process::command(second.path())
        .env("SET_DATABASE__URL", &url)
        .env("SET_SERVER__PORT", process::free_port().to_string())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot be decrypted"), "{stderr}");
    assert!(stderr.contains("same master.key"), "{stderr}");
}

/// The same developer's second client, created and registered through `node`.
fn second_client(j: &Journey, node: &Server) -> Journey {
    let client: serde_json::Value = j
        .http
        .post(node.url("/api/portal/clients"))
        .header("X-Requested-With", "set-portal")
        .header("Cookie", &j.session)
        .json(&json!({"name": "Second app"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let (id, secret) = (
        client["client_id"].as_str().unwrap().to_owned(),
        client["client_secret"].as_str().unwrap().to_owned(),
    );
    let registered: serde_json::Value = j
        .http
        .post(node.url("/v1/client/register"))
        .basic_auth(&id, Some(&secret))
        .send()
        .unwrap()
        .json()
        .unwrap();
    Journey {
        base: node.url(""),
        http: j.http.clone(),
        session: j.session.clone(),
        client_id: id,
        client_secret: secret,
        client_token: registered["access_token"].as_str().unwrap().to_owned(),
    }
}

fn super_http() -> Client {
    http()
}

/// How many emails in the outbox are addressed to `to`.
fn mails_to(outbox: &Path, to: &str) -> usize {
    std::fs::read_dir(outbox)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .filter(|e| {
                    std::fs::read_to_string(e.path())
                        .is_ok_and(|m| m.lines().any(|l| l.starts_with("To:") && l.contains(to)))
                })
                .count()
        })
        .unwrap_or(0)
}
