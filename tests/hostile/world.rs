//! The server under attack: the library's Rocket over a fresh SQLite file, driven by the
//! blocking local client; every request timed, and watched for hangs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, Once};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use rocket::http::{Cookie, Header, Method, Status};
use rocket::local::blocking::Client;
use serde_json::Value;
use set_server::config::{Config, Rate};
use set_server::db::Db;
use tempfile::TempDir;

use crate::case::Req;
use crate::fixtures::Fixtures;

/// A request taking longer than this is a failing case.
pub const SLOW: Duration = Duration::from_secs(5);
/// A request still running after this is a hang: the watchdog ends the test binary.
const HANG: Duration = Duration::from_secs(60);

/// The requests in flight, per test thread, for the watchdog.
static IN_FLIGHT: Mutex<Option<HashMap<ThreadId, (Instant, String)>>> = Mutex::new(None);
static WATCHDOG: Once = Once::new();

/// Starts (once) a thread that ends the process when a request hangs, naming it: a hung
/// request never returns to proptest, so it could not report it.
fn start_watchdog() {
    WATCHDOG.call_once(|| {
        std::thread::spawn(|| loop {
            std::thread::sleep(Duration::from_millis(500));
            let guard = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(map) = guard.as_ref() {
                for (started, what) in map.values() {
                    if started.elapsed() > HANG {
                        eprintln!("HUNG for {:?}: {what}", started.elapsed());
                        std::process::exit(101);
                    }
                }
            }
        });
    });
}

fn in_flight(what: Option<String>) {
    let mut guard = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    let me = std::thread::current().id();
    match what {
        Some(w) => map.insert(me, (Instant::now(), w)),
        None => map.remove(&me),
    };
}

/// An answer, read whole.
pub struct Answer {
    pub status: Status,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub session: Option<String>,
    pub elapsed: Duration,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub struct World {
    pub client: Client,
    pub db: Db,
    pub dir: TempDir,
    pub fx: Fixtures,
    /// How many fixture sets were made (each with a new developer).
    pub rebuilds: u32,
}

/// The default config with every file in `dir`; cheap argon2 and no rate limits in the
/// way of rebuilding fixtures, and the local peer trusted so `X-Forwarded-For` is parsed.
fn config_in(dir: &std::path::Path) -> Config {
    let mut c = Config::load(None).expect("default config loads");
    c.database.path = dir.join("set.db");
    c.email.outbox_dir = dir.join("outbox");
    c.security.argon2_memory_kib = 64;
    c.security.argon2_iterations = 1;
    let lots = Rate::parse("1000000/min").expect("a rate");
    c.security.login_rate = lots;
    c.security.signup_rate = lots;
    c.security.email_rate = lots;
    c.security.trusted_proxies = vec!["127.0.0.1".parse().expect("an address")];
    c
}

impl World {
    pub fn new() -> World {
        start_watchdog();
        let dir = tempfile::tempdir().expect("tempdir");
        let app = set_server::App::open(config_in(dir.path())).expect("app opens");
        let db = app.db.clone();
        let client = Client::untracked(set_server::build(app)).expect("rocket ignites");
        let mut world = World {
            client,
            db,
            dir,
            fx: Fixtures::default(),
            rebuilds: 0,
        };
        world.rebuild();
        world
    }

    /// Sends a rendered request from 127.0.0.1, timed and watched.
    pub fn send(&self, req: &Req) -> Answer {
        let method = req.method.parse::<Method>().unwrap_or(Method::Get);
        let mut r = self
            .client
            .req(method, req.uri.clone())
            .remote(SocketAddr::from(([127, 0, 0, 1], 40_000)));
        for (k, v) in &req.headers {
            r = r.header(Header::new(k.clone(), v.clone()));
        }
        for (k, v) in &req.cookies {
            r = r.cookie(Cookie::new(k.clone(), v.clone()));
        }
        if !req.body.is_empty() {
            r = r.body(&req.body);
        }
        in_flight(Some(format!("{req:?}")));
        let started = Instant::now();
        let res = r.dispatch();
        let status = res.status();
        let headers = res
            .headers()
            .iter()
            .map(|h| (h.name().to_string(), h.value().to_string()))
            .collect();
        let session = res
            .cookies()
            .get("set_session")
            .map(|c| c.value().to_owned());
        let body = res.into_bytes().unwrap_or_default();
        let elapsed = started.elapsed();
        in_flight(None);
        Answer {
            status,
            headers,
            body,
            session,
            elapsed,
        }
    }

    /// A request as the fixtures' owner sends it: on `/api/portal` with the session cookie
    /// and the CSRF header; JSON unless a Content-Type is given.
    pub fn call(
        &self,
        method: Method,
        uri: &str,
        headers: Vec<Header<'static>>,
        body: Option<String>,
    ) -> Answer {
        let mut req = Req {
            method: method.as_str().to_owned(),
            uri: uri.to_owned(),
            headers: headers
                .into_iter()
                .map(|h| (h.name().to_string(), h.value().to_string()))
                .collect(),
            cookies: vec![],
            body: body.map(String::into_bytes).unwrap_or_default(),
        };
        if !req.body.is_empty() && !req.headers.iter().any(|(k, _)| k == "Content-Type") {
            req.headers
                .push(("Content-Type".into(), "application/json".into()));
        }
        if uri.starts_with("/api/portal") {
            req.headers
                .push(("X-Requested-With".into(), "set-portal".into()));
            if !self.fx.session.is_empty() {
                req.cookies
                    .push(("set_session".into(), self.fx.session.clone()));
            }
        }
        self.send(&req)
    }
}
