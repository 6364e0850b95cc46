//! `GET /metrics` in the Prometheus text format (0.0.4), with `prometheus-client`.
//!
//! Two kinds of figures:
//! - counted as requests pass, by the [`RequestMetrics`] fairing: requests by route (the
//!   route's URI pattern, never the raw path, so the label set stays small) and status,
//!   latency histograms, failed sign-ins and failed registrations;
//! - read when scraped, by [`Snapshot`]: tokens issued by `typ` (kept by
//!   [`TokenCounter`]), the email queue, the database's size on disk.
//!
//! `[metrics] enabled = false` leaves the route unmounted (404). A non-empty
//! `[metrics] address` serves it on a plain-HTTP listener of its own instead of the
//! main port (see [`Listener`]).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::http::{ContentType, Method};
use rocket::{get, routes, Build, Data, Orbit, Request, Response, Rocket, Route, Shutdown, State};

use crate::config::Config;
use crate::db::{email_queue, Db};
use crate::error::ApiError;
use crate::stats::TokenCounter;

/// Latency buckets in seconds: 1 ms to 10 s.
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegistrationLabels {
    kind: String,
    status: u16,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The registry and the live counters; Rocket state, cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    failed_logins: Family<ReasonLabels, Counter>,
    failed_registrations: Family<RegistrationLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

impl Metrics {
    /// A registry reading the token counts from `counter` and the queue and file sizes
    /// from `db` at each scrape.
    pub fn new(db: Db, counter: TokenCounter) -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "set_http_requests",
            "HTTP requests answered, by method, route pattern and status",
            requests.clone(),
        );
        let latency = LatencyFamily::new_with_constructor(latency_histogram);
        registry.register(
            "set_http_request_duration_seconds",
            "Time from request to response, by method and route pattern",
            latency.clone(),
        );
        let failed_logins = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "set_failed_logins",
            "Portal sign-ins refused: invalid_credentials (401) or rate_limited (429)",
            failed_logins.clone(),
        );
        let failed_registrations = Family::<RegistrationLabels, Counter>::default();
        registry.register(
            "set_failed_registrations",
            "Refused registrations: kind=developer (portal sign-up) or client (POST /v1/client/register)",
            failed_registrations.clone(),
        );
        // Present from the start, so an alert on their rate sees a zero, not a gap.
        for reason in ["invalid_credentials", "rate_limited"] {
            let labels = ReasonLabels {
                reason: reason.to_owned(),
            };
            drop(failed_logins.get_or_create(&labels));
        }
        registry.register_collector(Box::new(Snapshot { db, counter }));
        Metrics {
            inner: Arc::new(Inner {
                registry,
                requests,
                latency,
                failed_logins,
                failed_registrations,
            }),
        }
    }

    /// The exposition: every metric in the Prometheus text format. Reads the database
    /// (queue counts), so call it off the async workers.
    pub fn render(&self) -> Result<String, fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.inner.registry)?;
        Ok(out)
    }

    fn observe(&self, method: Method, route: &str, status: u16, seconds: f64) {
        let i = &self.inner;
        let method = method.as_str().to_owned();
        i.requests
            .get_or_create(&RequestLabels {
                method: method.clone(),
                route: route.to_owned(),
                status,
            })
            .inc();
        i.latency
            .get_or_create(&RouteLabels {
                method: method.clone(),
                route: route.to_owned(),
            })
            .observe(seconds);
        if method != "POST" {
            return;
        }
        match (route, status) {
            ("/api/portal/login", 401) => self.failed_login("invalid_credentials"),
            ("/api/portal/login", 429) => self.failed_login("rate_limited"),
            ("/api/portal/signup", 400..) => self.failed_registration("developer", status),
            ("/v1/client/register", 400..) => self.failed_registration("client", status),
            _ => {}
        }
    }

    fn failed_login(&self, reason: &str) {
        let labels = ReasonLabels {
            reason: reason.to_owned(),
        };
        self.inner.failed_logins.get_or_create(&labels).inc();
    }

    fn failed_registration(&self, kind: &str, status: u16) {
        let labels = RegistrationLabels {
            kind: kind.to_owned(),
            status,
        };
        self.inner.failed_registrations.get_or_create(&labels).inc();
    }
}

/// What is read at each scrape rather than counted.
struct Snapshot {
    db: Db,
    counter: TokenCounter,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Snapshot")
    }
}

impl Snapshot {
    fn database_bytes(&self) -> u64 {
        // PostgreSQL's size is the server's to report (pg_database_size, its exporter).
        let Some(main) = self.db.sqlite_path().map(PathBuf::from) else {
            return 0;
        };
        let mut wal = main.clone().into_os_string();
        wal.push("-wal");
        [main, PathBuf::from(wal)]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), fmt::Error> {
    let g = ConstGauge::new(value);
    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let mut tokens = encoder.encode_descriptor(
            "set_tokens_issued",
            "Access tokens issued since the server started, by typ (client, user, integration).",
            None,
            MetricType::Counter,
        )?;
        for (typ, n) in self.counter.issued_by_type() {
            ConstCounter::new(n).encode(tokens.encode_family(&[("typ", typ)])?)?;
        }
        match self.db.read_blocking(|c| Ok(email_queue::counts(c)?)) {
            Ok(q) => {
                gauge(
                    &mut encoder,
                    "set_email_queue_depth",
                    "Emails waiting for delivery.",
                    q.pending,
                )?;
                gauge(
                    &mut encoder,
                    "set_email_queue_retrying",
                    "Emails waiting for delivery after at least one failed attempt.",
                    q.retrying,
                )?;
                gauge(
                    &mut encoder,
                    "set_email_failed",
                    "Emails given up after failing (kept as long as finished messages are).",
                    q.given_up,
                )?;
            }
            Err(e) => tracing::warn!("metrics: reading the email queue: {e}"),
        }
        let size = i64::try_from(self.database_bytes()).unwrap_or(i64::MAX);
        gauge(
            &mut encoder,
            "set_database_size_bytes",
            "Size of the database file and its write-ahead log, in bytes.",
            size,
        )
    }
}

/// `GET /metrics`.
#[get("/metrics")]
async fn metrics(metrics: &State<Metrics>) -> Result<(ContentType, String), ApiError> {
    let m = metrics.inner().clone();
    let body = rocket::tokio::task::spawn_blocking(move || m.render())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let text =
        ContentType::new("text", "plain").with_params([("version", "0.0.4"), ("charset", "utf-8")]);
    Ok((text, body))
}

/// `GET /metrics` when metrics are off or served elsewhere: 404, rather than the
/// portal's page that would otherwise answer any GET.
#[get("/metrics")]
fn not_here() -> ApiError {
    ApiError::NotFound("metrics are not served on this address".into())
}

fn routes() -> Vec<Route> {
    routes![metrics]
}

/// Adds metrics to the main Rocket as `[metrics]` says: off (nothing, so `/metrics` is
/// 404), on the main port (route, state, counting fairing), or on a listener of its own
/// (counting fairing here, the route there).
pub fn attach(rocket: Rocket<Build>, metrics: Metrics, config: &Config) -> Rocket<Build> {
    if !config.metrics.enabled {
        return rocket.mount("/", routes![not_here]);
    }
    let rocket = rocket.attach(RequestMetrics(metrics.clone()));
    match config.metrics.listener() {
        None => rocket.mount("/", routes()).manage(metrics),
        Some(address) => rocket.mount("/", routes![not_here]).attach(Listener {
            address,
            metrics,
            shutdown: Mutex::new(None),
        }),
    }
}

/// Counts each answered request by its route pattern.
struct RequestMetrics(Metrics);

#[derive(Clone, Copy)]
struct Started(Instant);

#[rocket::async_trait]
impl Fairing for RequestMetrics {
    fn info(&self) -> Info {
        Info {
            name: "request metrics",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        req.local_cache(|| Started(Instant::now()));
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let started = req.local_cache(|| Started(Instant::now())).0;
        // The pattern (`/v1/me/integrations/<id>`), without the query part; requests
        // no route took share one label.
        let route = req.route().map_or("unmatched", |r| {
            let uri = r.uri.as_str();
            uri.split('?').next().unwrap_or(uri)
        });
        let seconds = started.elapsed().as_secs_f64();
        self.0
            .observe(req.method(), route, res.status().code, seconds);
    }
}

/// Serves `/metrics` alone on `[metrics] address`, plain HTTP, from the main Rocket's
/// liftoff to its shutdown.
struct Listener {
    address: SocketAddr,
    metrics: Metrics,
    shutdown: Mutex<Option<Shutdown>>,
}

impl Listener {
    fn rocket(&self) -> Rocket<Build> {
        let config = rocket::Config {
            address: self.address.ip(),
            port: self.address.port(),
            workers: 1,
            ident: rocket::config::Ident::none(),
            log_level: rocket::config::LogLevel::Off,
            cli_colors: false,
            // The main server owns the signals; this one stops when it does.
            shutdown: rocket::config::Shutdown {
                ctrlc: false,
                #[cfg(unix)]
                signals: Default::default(),
                grace: 1,
                mercy: 1,
                ..Default::default()
            },
            ..rocket::Config::release_default()
        };
        rocket::custom(config)
            .mount("/", routes())
            .register("/", crate::error::catchers())
            .manage(self.metrics.clone())
    }
}

#[rocket::async_trait]
impl Fairing for Listener {
    fn info(&self) -> Info {
        Info {
            name: "metrics listener",
            kind: Kind::Ignite | Kind::Liftoff | Kind::Shutdown,
        }
    }

    /// Fails the start when the address cannot be bound, rather than serving without
    /// metrics.
    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        match std::net::TcpListener::bind(self.address) {
            Ok(_) => Ok(rocket),
            Err(e) => {
                tracing::error!("metrics.address: cannot listen on {}: {e}", self.address);
                Err(rocket)
            }
        }
    }

    async fn on_liftoff(&self, main: &Rocket<Orbit>) {
        let side = match self.rocket().ignite().await {
            Ok(side) => side,
            Err(e) => {
                tracing::error!("metrics listener: {e}");
                return;
            }
        };
        *self.shutdown.lock().unwrap_or_else(PoisonError::into_inner) = Some(side.shutdown());
        let (address, main_shutdown) = (self.address, main.shutdown());
        rocket::tokio::spawn(async move {
            if let Err(e) = side.launch().await {
                tracing::error!("metrics listener on {address} failed: {e}; stopping");
                main_shutdown.notify();
            }
        });
        tracing::info!("metrics on http://{address}/metrics");
    }

    async fn on_shutdown(&self, _: &Rocket<Orbit>) {
        let side = self
            .shutdown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(side) = side {
            side.notify();
        }
    }
}
