//! Set Server: a self-hosted authentication and token server for mobile apps.
//!
//! [`App::open`] prepares everything a server needs (data directory, database, master
//! key); [`build`] turns it into a Rocket ready to launch or to test with a local client.

pub mod audit;
pub mod auth;
pub mod backups;
pub mod body;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod db;
pub mod doctor;
pub mod email;
pub mod error;
pub mod ids;
pub mod logging;
pub mod metrics;
pub mod migrate_data;
pub mod openapi;
pub mod retention;
pub mod routes;
pub mod stats;
pub mod validate;
pub mod web;

use std::path::PathBuf;

use rocket::data::{Limits, ToByteUnit};
use rocket::{Build, Rocket};

use auth::keys::{KeyError, KeyRing};
use auth::master_key::{MasterKey, MasterKeyError};
use auth::password::Passwords;
use auth::rate_limit::RateLimits;
use auth::revocation::Revocations;
use auth::secrets::Secrets;
use auth::tokens::Tokens;
use config::Config;
use db::backup::ServerLock;
use db::Db;
use email::templates::{TemplateError, Templates};
use metrics::Metrics;
use stats::TokenCounter;

/// Why the server could not start (other than a bad config, which is `ConfigError`).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] db::OpenError),
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("the server failed: {0}")]
    Rocket(String),
    /// An email template override that cannot be used (a config problem: exit code 2).
    #[error("email.templates_dir: {0}")]
    Templates(#[from] TemplateError),
    #[error("{0}")]
    Setup(String),
}

/// Everything a running server shares between requests.
pub struct App {
    pub config: Config,
    pub db: Db,
    pub master_key: MasterKey,
    pub passwords: Passwords,
    /// Encryption and keyed hashing with keys derived from the master key.
    pub secrets: Secrets,
    /// The token signing keys (JWKS), kept in step with the database.
    pub keys: KeyRing,
    /// Issues and verifies access tokens with `keys`.
    pub tokens: Tokens,
    /// Deleted clients, rotated secrets, revoked users, families and tokens, in memory.
    pub revocations: Revocations,
    /// Access tokens issued per client per day, flushed to the database periodically.
    pub counter: TokenCounter,
    /// The emails, with the overrides of `email.templates_dir`.
    pub templates: Templates,
    /// `/metrics`: counted per request, and read from `counter` and `db` when scraped.
    pub metrics: Metrics,
    /// Held for as long as the app runs, so `set-server restore` refuses this database.
    pub lock: ServerLock,
}

impl App {
    /// Creates the data directory (0700), opens and migrates the database, and loads or
    /// creates the master key.
    pub fn open(config: Config) -> Result<App, StartError> {
        let templates = Templates::load(&config.email.templates_dir)?;
        db::create_data_dir(&config.database.path)?;
        let lock = ServerLock::acquire(&config.database.path).map_err(StartError::Setup)?;
        let db = Db::open((&config.database).into())?;
        let (key_path, create) = master_key_path(&config);
        let master_key = MasterKey::load_or_create(&key_path, create)?;
        let passwords = Passwords::new(&config.security).map_err(StartError::Setup)?;
        let secrets = Secrets::new(&master_key);
        let keys = KeyRing::open(db.clone(), secrets.clone(), &config.tokens)?;
        let tokens = Tokens::new(keys.clone(), &config);
        let revocations = db
            .read_blocking(|c| Ok(Revocations::load(c, config.tokens.access_ttl.secs())?))
            .map_err(|e| StartError::Setup(format!("loading revocations: {e}")))?;
        let counter = TokenCounter::default();
        let metrics = Metrics::new(db.clone(), counter.clone());
        Ok(App {
            config,
            db,
            master_key,
            passwords,
            secrets,
            keys,
            tokens,
            revocations,
            counter,
            templates,
            metrics,
            lock,
        })
    }
}

/// Where the master key lives, and whether it may be created there.
fn master_key_path(config: &Config) -> (PathBuf, bool) {
    let configured = &config.security.master_key_file;
    if configured.as_os_str().is_empty() {
        (config.data_dir().join("master.key"), true)
    } else {
        (configured.clone(), false)
    }
}

/// Rocket's own settings, derived from ours: Rocket reads no `Rocket.toml` or `ROCKET_*`.
fn rocket_config(config: &Config) -> rocket::Config {
    let limit = body::LIMIT.bytes();
    let limits = Limits::default()
        .limit("json", limit)
        .limit("form", limit)
        .limit("data-form", limit)
        .limit("string", limit)
        .limit("bytes", limit)
        .limit("file", limit);
    let workers = match config.server.workers {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    rocket::Config {
        address: config.server.address,
        port: config.server.port,
        workers,
        limits,
        ident: rocket::config::Ident::none(),
        // Client addresses come from `ClientIp`, which trusts only configured proxies.
        ip_header: None,
        log_level: rocket::config::LogLevel::Off,
        cli_colors: false,
        // HTTPS only when configured: a plain-HTTP client fails the handshake.
        tls: config.server.tls.enabled().then(|| {
            rocket::config::TlsConfig::from_paths(&config.server.tls.certs, &config.server.tls.key)
        }),
        ..rocket::Config::release_default()
    }
}

/// Builds the Rocket: routes, catchers, state and fairings.
pub fn build(app: App) -> Rocket<Build> {
    let rocket = rocket::custom(rocket_config(&app.config));
    let limits = RateLimits::new(&app.config.security, &app.db);
    metrics::attach(rocket, app.metrics, &app.config)
        .mount("/", routes::health::routes())
        .mount("/api/portal", routes::portal_accounts::routes())
        .mount("/", routes::wellknown::routes())
        .mount("/api/portal", routes::portal_clients::routes())
        .mount("/v1", routes::sdk::routes())
        .mount("/v1", routes::me::routes())
        .mount("/oauth", routes::oauth::routes())
        .mount("/oauth", routes::linking::oauth_routes())
        .mount("/v1", routes::linking::v1_routes())
        .mount("/api/portal", routes::integrations::routes())
        .mount("/api/portal", routes::activity::routes())
        .mount("/ifttt/v1", routes::ifttt::routes())
        .mount("/", openapi::routes())
        // Last: the portal answers only the GETs no other route took.
        .mount("/", web::routes())
        .register("/", error::catchers())
        .attach(logging::RequestLog)
        .attach(email::fairing())
        .attach(app.keys.reloader())
        .attach(cluster::fairing(
            app.db.clone(),
            app.revocations.clone(),
            app.keys.clone(),
        ))
        .attach(backups::fairing())
        .attach(retention::fairing())
        .manage(app.templates)
        .manage(app.lock)
        .manage(app.db)
        .manage(app.master_key)
        .manage(app.passwords)
        .manage(app.secrets)
        .manage(app.keys)
        .manage(app.tokens)
        .attach(app.counter.fairing())
        .manage(app.counter)
        .manage(app.revocations)
        .manage(limits)
        .manage(app.config)
}

/// Serves until SIGTERM or SIGINT, then lets in-flight requests finish and closes the
/// database cleanly.
pub async fn serve(app: App) -> Result<(), StartError> {
    let db = app.db.clone();
    let url = app.config.server.public_url.clone();
    let listening = rocket::fairing::AdHoc::on_liftoff("announce", move |rocket| {
        Box::pin(async move {
            let c = rocket.config();
            tracing::info!(
                "set-server {} listening on {}://{}:{} (public URL {url})",
                env!("CARGO_PKG_VERSION"),
                if c.tls_enabled() { "https" } else { "http" },
                c.address,
                c.port
            );
        })
    });
    let counter = app.counter.clone();
    let result = build(app).attach(listening).launch().await;
    counter.flush(&db);
    db.close();
    match result {
        Ok(_) => {
            tracing::info!("stopped cleanly");
            Ok(())
        }
        Err(e) => Err(StartError::Rocket(e.to_string())),
    }
}
