//! Logs: `tracing` to stderr, one line per request. The line holds the method, the path
//! without its query (queries can carry tokens), the status and the latency; never a
//! header, cookie or body.

use std::time::Instant;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Data, Request, Response};
use tracing_subscriber::EnvFilter;

use crate::config::LogLevel;

/// Installs the subscriber: `RUST_LOG` when set, else `log.level` from the config.
pub fn init(level: LogLevel) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{},rocket=off,_=off", level.as_str())));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// The fairing that writes the request line.
pub struct RequestLog;

#[derive(Clone, Copy)]
struct Started(Instant);

#[rocket::async_trait]
impl Fairing for RequestLog {
    fn info(&self) -> Info {
        Info {
            name: "request log",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        req.local_cache(|| Started(Instant::now()));
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let started = req.local_cache(|| Started(Instant::now())).0;
        let micros = started.elapsed().as_micros();
        tracing::info!(
            target: "request",
            "{} {} {} {}.{:03}ms",
            req.method(),
            req.uri().path(),
            res.status().code,
            micros / 1000,
            micros % 1000
        );
    }
}
