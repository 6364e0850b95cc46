//! `GET /metrics` on the real binary: the exposition parses with an independent
//! Prometheus text parser (every line, strictly), and the counters move after a journey.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/journey.rs"]
mod journey;
#[path = "support/process.rs"]
mod process;

use prometheus_parse::{LineInfo, Scrape, Value};
use serde_json::json;

use journey::{Journey, PASSWORD};
use process::Server;

/// Fetches and parses `/metrics` at `url`; fails on any line the parser does not read
/// as a comment or a sample.
fn scrape(url: &str) -> Scrape {
    let res = reqwest::blocking::get(url).unwrap();
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let body = res.text().unwrap();
    for line in body.lines() {
        let ok = matches!(
            LineInfo::parse(line),
            LineInfo::Doc { .. }
                | LineInfo::Type { .. }
                | LineInfo::Sample { .. }
                | LineInfo::Empty
        );
        assert!(ok, "not Prometheus text format: {line:?}");
    }
    Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The value of the counter or gauge `name` whose labels include `labels` (0 if absent).
fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name)
        .filter(|x| labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => panic!("{name} is not a counter or gauge"),
        })
        .sum()
}

/// How many observations the latency histogram holds for `route`.
fn latency_count(s: &Scrape, route: &str) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == "set_http_request_duration_seconds")
        .filter(|x| x.labels.get("route") == Some(route))
        .map(|x| match &x.value {
            Value::Histogram(buckets) => buckets
                .iter()
                .filter(|b| b.less_than.is_infinite())
                .map(|b| b.count)
                .sum::<f64>(),
            _ => panic!("not a histogram"),
        })
        .sum()
}

#[test]
fn metrics_parse_and_the_counters_move_after_a_journey() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let before = scrape(&server.url("/metrics"));
    assert!(value(&before, "set_database_size_bytes", &[]) > 0.0);
    assert_eq!(
        value(&before, "set_tokens_issued_total", &[("typ", "user")]),
        0.0
    );

    let j = Journey::start(
        &server.url(""),
        &dir.path().join("data/outbox"),
        "metrics@example.com",
    );
    let (status, body) = j.create_user(&j.http, json!({})).unwrap();
    assert_eq!(status, 201, "{body}");
    let user = Journey::user_from(&body);
    let me = j
        .http
        .get(j.url("/v1/me"))
        .bearer_auth(&user.access)
        .send()
        .unwrap();
    assert_eq!(me.status(), 200);
    let overview = j
        .http
        .get(j.url(&format!("/api/portal/clients/{}", j.client_id)))
        .header("Cookie", &j.session)
        .send()
        .unwrap();
    assert_eq!(overview.status(), 200);
    let wrong = j
        .http
        .post(j.url("/api/portal/login"))
        .header("X-Requested-With", "set-portal")
        .json(&json!({"email": "metrics@example.com", "password": "not the password"}))
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let bad_secret = j
        .http
        .post(j.url("/v1/client/register"))
        .basic_auth(&j.client_id, Some("wrong"))
        .send()
        .unwrap();
    assert_eq!(bad_secret.status(), 401);
    let short = j
        .http
        .post(j.url("/api/portal/signup"))
        .header("X-Requested-With", "set-portal")
        .json(&json!({"email": "other@example.com", "password": "short"}))
        .send()
        .unwrap();
    assert_eq!(short.status(), 400);
    assert_ne!(PASSWORD, "not the password");

    let after = scrape(&server.url("/metrics"));
    let requests = |s: &Scrape, method: &str, route: &str, status: &str| {
        value(
            s,
            "set_http_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
    };
    assert_eq!(requests(&after, "POST", "/v1/users", "201"), 1.0);
    assert_eq!(requests(&after, "GET", "/v1/me", "200"), 1.0);
    assert_eq!(requests(&after, "POST", "/api/portal/login", "401"), 1.0);
    assert_eq!(requests(&after, "POST", "/api/portal/login", "200"), 1.0);
    // The route's pattern, never the raw path with its id.
    assert_eq!(
        requests(&after, "GET", "/api/portal/clients/<id>", "200"),
        1.0
    );
    let raw_ids = after
        .samples
        .iter()
        .filter_map(|x| x.labels.get("route"))
        .filter(|r| r.contains(&j.client_id) || r.contains(&user.id))
        .count();
    assert_eq!(raw_ids, 0);
    assert_eq!(latency_count(&after, "/v1/users"), 1.0);
    assert!(latency_count(&after, "/metrics") >= 1.0);

    assert_eq!(
        value(&after, "set_tokens_issued_total", &[("typ", "client")]),
        1.0
    );
    assert_eq!(
        value(&after, "set_tokens_issued_total", &[("typ", "user")]),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "set_failed_logins_total",
            &[("reason", "invalid_credentials")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "set_failed_registrations_total",
            &[("kind", "client"), ("status", "401")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "set_failed_registrations_total",
            &[("kind", "developer"), ("status", "400")]
        ),
        1.0
    );
    // The verification email went out: nothing waits in the queue.
    assert_eq!(value(&after, "set_email_queue_depth", &[]), 0.0);
    assert_eq!(value(&after, "set_email_failed", &[]), 0.0);
    assert!(after.docs.contains_key("set_email_queue_retrying"));
}

#[test]
fn metrics_off_answer_404() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("SET_METRICS__ENABLED", "false")]);
    let res = reqwest::blocking::get(server.url("/metrics")).unwrap();
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().unwrap();
    assert_eq!(body["error"], "not_found");
}

#[test]
fn metrics_on_their_own_address_leave_the_main_port_404() {
    let dir = tempfile::tempdir().unwrap();
    let side = process::free_port();
    let address = format!("127.0.0.1:{side}");
    let mut server = Server::start(dir.path(), &[("SET_METRICS__ADDRESS", &address)]);
    assert_eq!(
        reqwest::blocking::get(server.url("/metrics"))
            .unwrap()
            .status(),
        404
    );
    let s = scrape(&format!("http://{address}/metrics"));
    // The main port's requests are counted there: the health polls and the 404 above.
    let healthz = value(
        &s,
        "set_http_requests_total",
        &[("route", "/healthz"), ("status", "200")],
    );
    assert!(healthz >= 1.0, "{healthz}");
    // The side listener stops with the server.
    assert!(server.terminate().success());
    assert!(reqwest::blocking::get(format!("http://{address}/metrics")).is_err());
}
