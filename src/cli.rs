//! The command line: `set-server [--config FILE] [serve|migrate|check-config|backup FILE|keys rotate]`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, ConfigError};
use crate::db::{self, backup, migrate};
use crate::{logging, App};

const EXAMPLES: &str = "\
Examples:
  set-server                          serve with ./set.toml, or the built-in defaults
  set-server --config /etc/set.toml   serve with another config file
  SET_SERVER__PORT=9000 set-server    override any key from the environment
  set-server check-config             print the effective config, secrets masked
  set-server migrate                  apply pending database migrations, then exit
  set-server backup /backups/set.db   copy the database while the server runs
  set-server restore /backups/set.db  put a backup in place of the database (server stopped)
  set-server audit --since 7d         security events of the last week
  set-server keys rotate              new token signing key; running servers switch within seconds
  set-server migrate-data --from data/set.db --to postgres://user:pass@db.internal/set
                                      move to PostgreSQL (servers stopped, empty target)
  set-server doctor --url https://auth.example.com --client-id cl_… --client-secret cs_…
                                      check a deployment as an SDK would";

#[derive(Debug, Parser)]
#[command(name = "set-server", version, about, after_help = EXAMPLES)]
pub struct Cli {
    /// Configuration file [default: ./set.toml when it exists, else built-in defaults]
    #[arg(long, short, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the portal (the default)
    Serve,
    /// Apply pending database migrations, then exit
    Migrate,
    /// Print the effective configuration (secrets masked) and exit
    CheckConfig,
    /// Print the security events since a time (RFC 3339, or a duration ago like 24h)
    Audit {
        /// From when: `2026-12-01T00:00:00Z`, or `24h`, `7d` ago
        #[arg(long, default_value = "24h")]
        since: String,
    },
    /// Write a consistent copy of the database to FILE, even while a server runs
    Backup {
        /// Where to write the copy (must not exist)
        file: PathBuf,
    },
    /// Replace the database with the backup FILE, after checking it; refused while a
    /// server runs on the database
    Restore {
        /// The backup to restore (a `set-server backup` or scheduled backup file)
        file: PathBuf,
    },
    /// Check a running deployment as an SDK would: reachability, TLS, metadata, JWKS,
    /// clock, registration, user creation, token verification, refresh, revocation
    Doctor(DoctorArgs),
    /// Copy a SQLite installation into an empty PostgreSQL database (servers stopped) and
    /// check the row counts; tokens issued before the move keep working after it
    MigrateData {
        /// The SQLite database to copy (opened read-only, never changed)
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The empty PostgreSQL database to fill: postgres://user:password@host:5432/name
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Manage the keys that sign access tokens
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The server's public URL, as apps use it
    #[arg(long)]
    pub url: String,
    /// A client's id (from the portal)
    #[arg(long)]
    pub client_id: String,
    /// That client's secret
    #[arg(long)]
    pub client_secret: String,
    /// A PEM certificate to trust besides the public roots, for a private CA
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new current signing key and retire the old one, which stays published (and
    /// keeps verifying) until its tokens have expired. Safe while servers run.
    Rotate,
}

/// Exit code for a configuration that cannot be used.
const EXIT_CONFIG: u8 = 2;

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    // The doctor looks at a deployment from the outside, like an app: it reads no config.
    if let Some(Command::Doctor(args)) = &cli.command {
        return run_doctor(args);
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return config_error(&e),
    };
    logging::init(config.log.level);
    let command = cli.command.unwrap_or(Command::Serve);
    if matches!(command, Command::Serve | Command::CheckConfig) {
        // A broken email template is a config problem: one line, exit code 2.
        if let Err(e) = crate::email::templates::Templates::load(&config.email.templates_dir) {
            eprintln!("email.templates_dir: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    }
    let result = match command {
        Command::Serve => serve(config),
        Command::Migrate => run_migrate(&config),
        Command::CheckConfig => {
            print!("{}", config.to_toml());
            Ok(())
        }
        Command::Audit { since } => run_audit(&config, &since),
        Command::Backup { file } => run_backup(&config, &file),
        Command::Restore { file } => run_restore(&config, &file),
        Command::Keys {
            action: KeysCommand::Rotate,
        } => run_keys_rotate(config),
        Command::MigrateData { from, to } => {
            crate::migrate_data::run(&from, &to, &mut std::io::stdout().lock()).map(|_| ())
        }
        Command::Doctor(_) => Ok(()), // run above, before the config
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("set-server: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_doctor(args: &DoctorArgs) -> ExitCode {
    let opts = crate::doctor::Options {
        url: args.url.clone(),
        client_id: args.client_id.clone(),
        client_secret: args.client_secret.clone(),
        ca_cert: args.ca_cert.clone(),
    };
    if crate::doctor::run(&opts, &mut std::io::stdout().lock()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn config_error(e: &ConfigError) -> ExitCode {
    eprintln!("{e}");
    ExitCode::from(EXIT_CONFIG)
}

fn serve(config: Config) -> Result<(), String> {
    let app = App::open(config).map_err(|e| e.to_string())?;
    rocket::execute(crate::serve(app)).map_err(|e| e.to_string())
}

fn run_migrate(config: &Config) -> Result<(), String> {
    let opts: db::Options = (&config.database).into();
    if opts.url.is_some() {
        // Opening migrates (under an advisory lock, so running nodes may stay up).
        let db = db::Db::open(opts).map_err(|e| e.to_string())?;
        println!("{}: up to date", db.describe());
        return Ok(());
    }
    db::create_data_dir(&opts.path).map_err(|e| e.to_string())?;
    let mut conn = rusqlite::Connection::open(&opts.path).map_err(|e| e.to_string())?;
    conn.busy_timeout(opts.busy_timeout)
        .map_err(|e| e.to_string())?;
    migrate::refuse_newer(&conn, &opts.path).map_err(|e| e.to_string())?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| e.to_string())?;
    let applied = migrate::apply(&mut conn).map_err(|e| e.to_string())?;
    if applied.is_empty() {
        println!("{}: up to date", opts.path.display());
    }
    for m in applied {
        println!("applied {:04}_{}", m.version, m.name);
    }
    Ok(())
}

/// `backup` and `restore` copy the SQLite file; PostgreSQL has its own tools.
fn sqlite_only(config: &Config, command: &str) -> Result<(), String> {
    match config.database.is_postgres() {
        true => Err(format!(
            "{command} works on the SQLite file; with database.url set, use PostgreSQL's \
             own tools (pg_dump, base backups with WAL archiving; see docs/CLUSTER.md)"
        )),
        false => Ok(()),
    }
}

fn run_backup(config: &Config, file: &std::path::Path) -> Result<(), String> {
    sqlite_only(config, "backup")?;
    let pages = backup::run(
        &config.database.path,
        file,
        config.database.busy_timeout.0,
        None,
    )
    .map_err(|e| e.to_string())?;
    println!(
        "backed up {} ({pages} pages) to {}",
        config.database.path.display(),
        file.display()
    );
    Ok(())
}

fn run_audit(config: &Config, since: &str) -> Result<(), String> {
    let from = crate::clock::parse_rfc3339(since)
        .or_else(|| crate::config::Ttl::parse(since).map(|t| crate::clock::now() - t.secs() as i64))
        .ok_or_else(|| format!("--since: expected a time like 2026-12-01T00:00:00Z or a duration like 24h, got \"{since}\""))?;
    let events = if config.database.is_postgres() {
        let db = crate::db::Db::open((&config.database).into()).map_err(|e| e.to_string())?;
        db.read_blocking(|c| Ok(crate::db::audit::list_since(c, from)?))
            .map_err(|e| e.to_string())?
    } else {
        // Read-only, so it never competes with a running server for the write lock.
        let conn = rusqlite::Connection::open_with_flags(
            &config.database.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .map_err(|e| format!("cannot open {}: {e}", config.database.path.display()))?;
        crate::db::audit::list_since(&(&conn).into(), from).map_err(|e| e.to_string())?
    };
    for e in &events {
        println!(
            "{} {:<26} {:<40} target={} ip={} developer={}",
            crate::clock::rfc3339(e.at),
            e.action,
            e.actor,
            e.target.as_deref().unwrap_or("-"),
            e.ip.as_deref().unwrap_or("-"),
            e.developer_id.as_deref().unwrap_or("-"),
        );
    }
    eprintln!(
        "{} events since {}",
        events.len(),
        crate::clock::rfc3339(from)
    );
    Ok(())
}

fn run_restore(config: &Config, file: &std::path::Path) -> Result<(), String> {
    sqlite_only(config, "restore")?;
    let database = &config.database.path;
    let stamp = crate::backups::stamp(crate::clock::now());
    let r = backup::restore(file, database, &stamp).map_err(|e| e.to_string())?;
    println!(
        "restored {} ({} KiB, schema version {}) into {}",
        file.display(),
        r.bytes / 1024,
        r.schema_version,
        database.display()
    );
    if r.schema_version < r.binary_version {
        println!(
            "the next start applies migrations {} to {}",
            r.schema_version + 1,
            r.binary_version
        );
    }
    if let Some(previous) = r.previous {
        println!(
            "the replaced database was kept as {} (delete it when no longer needed)",
            previous.display()
        );
    }
    println!("it needs the master key it was made with; start the server to serve it");
    Ok(())
}

fn run_keys_rotate(config: Config) -> Result<(), String> {
    let app = App::open(config).map_err(|e| e.to_string())?;
    let r = app.keys.rotate().map_err(|e| e.to_string())?;
    let kid = r.new_kid.clone();
    app.db
        .write_blocking(move |tx| {
            Ok(crate::audit::by_server(
                tx,
                "cli",
                "key.rotated",
                Some(&kid),
                None,
            )?)
        })
        .map_err(|e| e.to_string())?;
    let alg = crate::auth::jwk::algorithm_name(r.algorithm);
    match (r.retired_kid, r.retired_until) {
        (Some(old), Some(until)) => println!(
            "new {alg} signing key {}; retired {old}, published until {}",
            r.new_kid,
            crate::clock::rfc3339(until)
        ),
        _ => println!("new {alg} signing key {}", r.new_kid),
    }
    app.db.close();
    Ok(())
}
