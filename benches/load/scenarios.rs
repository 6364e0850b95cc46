//! The scenarios: one request kind each (and `mixed`), driven by a fixed number of
//! workers for a fixed time, latencies into an HDR histogram, failures counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use reqwest::Client;
use serde_json::{json, Value};

use crate::fixtures::Fixture;

/// Every scenario, in the order they run and are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Baseline,
    Register,
    CreateUser,
    Me,
    EventWrite,
    EventRead,
    Refresh,
    Introspect,
    CodeExchange,
    Mixed,
}

pub const ALL: [Scenario; 10] = [
    Scenario::Baseline,
    Scenario::Register,
    Scenario::CreateUser,
    Scenario::Me,
    Scenario::EventWrite,
    Scenario::EventRead,
    Scenario::Refresh,
    Scenario::Introspect,
    Scenario::CodeExchange,
    Scenario::Mixed,
];

/// The scenarios whose every request commits a write: run again with one commit per
/// request for the group-commit comparison.
pub const WRITES: [Scenario; 3] = [
    Scenario::CreateUser,
    Scenario::EventWrite,
    Scenario::Refresh,
];

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Baseline => "baseline",
            Scenario::Register => "register",
            Scenario::CreateUser => "create_user",
            Scenario::Me => "me",
            Scenario::EventWrite => "event_write",
            Scenario::EventRead => "event_read",
            Scenario::Refresh => "refresh",
            Scenario::Introspect => "introspect",
            Scenario::CodeExchange => "code_exchange",
            Scenario::Mixed => "mixed",
        }
    }

    pub fn parse(name: &str) -> Option<Scenario> {
        ALL.into_iter().find(|s| s.name() == name)
    }

    /// A request of this scenario, for `mixed` one drawn from a realistic blend: mostly
    /// reads of a user's own data and event writes, some refreshes, few sign-ups.
    fn pick(self, i: u64) -> Scenario {
        if self != Scenario::Mixed {
            return self;
        }
        // A fixed pattern of 100 (a multiplicative hash of the count spreads it out).
        match (i.wrapping_mul(2_654_435_761) >> 7) % 100 {
            0..=34 => Scenario::Me,
            35..=59 => Scenario::EventWrite,
            60..=74 => Scenario::EventRead,
            75..=84 => Scenario::Introspect,
            85..=93 => Scenario::Refresh,
            94..=97 => Scenario::Register,
            _ => Scenario::CreateUser,
        }
    }
}

/// What one scenario run measured.
pub struct Measured {
    pub scenario: Scenario,
    pub requests: u64,
    pub errors: u64,
    /// A few failures, as `status body`, to show what went wrong.
    pub samples: Vec<String>,
    pub elapsed: Duration,
    pub latency: Histogram<u64>,
}

impl Measured {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

/// One request of `kind` by `worker`; `Err` with a description when it failed.
async fn one(
    http: &Client,
    fx: &Fixture,
    kind: Scenario,
    worker: usize,
    i: u64,
) -> Result<(), String> {
    let base = &fx.base;
    let user = &fx.users[worker % fx.users.len()];
    if kind == Scenario::CodeExchange {
        return code_exchange(http, fx, &user.access).await;
    }
    let req = match kind {
        Scenario::Baseline => http.get(format!("{base}/healthz")),
        Scenario::Register => http
            .post(format!("{base}/v1/client/register"))
            .basic_auth(&fx.client_id, Some(&fx.client_secret)),
        Scenario::CreateUser => http
            .post(format!("{base}/v1/users"))
            .bearer_auth(&fx.client_token)
            .json(&json!({"metadata": {"plan": "free", "n": i}})),
        Scenario::Me => http.get(format!("{base}/v1/me")).bearer_auth(&user.access),
        Scenario::EventWrite => http
            .post(format!("{base}/v1/me/events"))
            .bearer_auth(&user.access)
            .json(&json!({"type": "screen_view", "data": {"screen": "home", "n": i}})),
        Scenario::EventRead => http
            .get(format!("{base}/v1/me/events?limit=50"))
            .bearer_auth(&user.access),
        Scenario::Refresh => {
            let presented = user.refresh.lock().map(|r| r.clone()).unwrap_or_default();
            http.post(format!("{base}/oauth/token"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(format!(
                    "grant_type=refresh_token&refresh_token={presented}"
                ))
        }
        Scenario::Introspect => http
            .post(format!("{base}/oauth/introspect"))
            .basic_auth(&fx.client_id, Some(&fx.client_secret))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("token={}", user.access)),
        Scenario::Mixed | Scenario::CodeExchange => unreachable!("handled above"),
    };
    let res = req.send().await.map_err(|e| format!("transport: {e}"))?;
    let status = res.status();
    let body = res.bytes().await.map_err(|e| format!("transport: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "{kind:?} {status} {}",
            String::from_utf8_lossy(&body)
        ));
    }
    match kind {
        Scenario::Refresh => {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let next = v["refresh_token"]
                .as_str()
                .ok_or("refresh: no refresh_token")?;
            if let Ok(mut head) = user.refresh.lock() {
                *head = next.to_owned();
            }
        }
        Scenario::Introspect if !body.starts_with(br#"{"active":true"#) => {
            return Err(format!(
                "introspect: inactive {}",
                String::from_utf8_lossy(&body)
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Sends `req`; the body when the answer is 2xx, else `Err` naming the failure.
async fn body_of(req: reqwest::RequestBuilder, what: &str) -> Result<Vec<u8>, String> {
    let res = req.send().await.map_err(|e| format!("transport: {e}"))?;
    let status = res.status();
    let body = res.bytes().await.map_err(|e| format!("transport: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "{what} {status} {}",
            String::from_utf8_lossy(&body)
        ));
    }
    Ok(body.to_vec())
}

/// One account link, as an app does it: `POST /v1/me/authorize` for a code, then the
/// integration's `authorization_code` exchange. Counted (and timed) as one operation.
async fn code_exchange(http: &Client, fx: &Fixture, user_token: &str) -> Result<(), String> {
    let (id, secret, redirect_uri) = &fx.integration;
    let authorize = http
        .post(format!("{}/v1/me/authorize", fx.base))
        .bearer_auth(user_token)
        .json(&json!({"client_id": id, "redirect_uri": redirect_uri,
                      "scope": "profile:read", "state": "bench"}));
    let v: Value = serde_json::from_slice(&body_of(authorize, "authorize").await?)
        .map_err(|e| format!("authorize: {e}"))?;
    let to = v["redirect_to"].as_str().unwrap_or_default();
    let code = to
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .ok_or_else(|| format!("authorize: no code in {to:.200}"))?;
    let exchange = http
        .post(format!("{}/oauth/token", fx.base))
        .basic_auth(id, Some(secret))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}",
            redirect_uri.replace(':', "%3A").replace('/', "%2F")
        ));
    let v: Value = serde_json::from_slice(&body_of(exchange, "code exchange").await?)
        .map_err(|e| format!("code exchange: {e}"))?;
    match v["access_token"].as_str() {
        Some(_) => Ok(()),
        None => Err(format!("code exchange: no access_token in {v}")),
    }
}

/// Runs `scenario` with `concurrency` workers for `duration`, printing a progress line.
pub async fn run(
    http: &Client,
    fx: Arc<Fixture>,
    scenario: Scenario,
    concurrency: usize,
    duration: Duration,
    label: &str,
) -> Measured {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = Vec::with_capacity(concurrency);
    for w in 0..concurrency {
        let (http, fx, done, failed) = (http.clone(), fx.clone(), done.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
            let mut samples = Vec::new();
            let mut i = w as u64;
            while Instant::now() < deadline {
                let kind = scenario.pick(i);
                let t = Instant::now();
                let outcome = one(&http, &fx, kind, w, i).await;
                hist.saturating_record(t.elapsed().as_micros() as u64);
                done.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = outcome {
                    failed.fetch_add(1, Ordering::Relaxed);
                    if samples.len() < 3 {
                        samples.push(e.chars().take(300).collect::<String>());
                    }
                }
                i += concurrency as u64;
            }
            (hist, samples)
        }));
    }
    let progress = {
        let (done, failed, label) = (done.clone(), failed.clone(), label.to_owned());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let secs = start.elapsed().as_secs_f64();
                eprint!(
                    "\r  {label:<42} {:>5.1}/{:.0} s {:>9.0} req/s  errors {:<6}",
                    secs.min(duration.as_secs_f64()),
                    duration.as_secs_f64(),
                    done.load(Ordering::Relaxed) as f64 / secs,
                    failed.load(Ordering::Relaxed),
                );
            }
        })
    };
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let mut samples = Vec::new();
    for w in workers {
        let (hist, s) = w.await.expect("worker");
        latency.add(&hist).expect("histograms merge");
        samples.extend(s);
    }
    let elapsed = start.elapsed();
    progress.abort();
    samples.truncate(5);
    let m = Measured {
        scenario,
        requests: done.load(Ordering::Relaxed),
        errors: failed.load(Ordering::Relaxed),
        samples,
        elapsed,
        latency,
    };
    eprintln!(
        "\r  {label:<42} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {:<6}",
        m.rate(),
        m.percentile_ms(0.5),
        m.percentile_ms(0.99),
        m.errors
    );
    m
}
