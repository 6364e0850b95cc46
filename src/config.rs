//! Typed settings, read once at start from the embedded defaults, `set.toml` (or
//! `--config FILE`) and `SET_SECTION__KEY` environment variables, in that order.
//!
//! The embedded defaults *are* the repository's `set.toml`, so the documented file and
//! the behaviour without one can never drift apart.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// The default configuration, compiled into the binary.
pub const DEFAULT_TOML: &str = include_str!("../set.toml");

/// Where the configuration is read from when `--config` is not given.
pub const DEFAULT_PATH: &str = "set.toml";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: Server,
    pub database: Database,
    pub tokens: Tokens,
    pub security: Security,
    pub email: Email,
    pub log: Log,
    pub metrics: Metrics,
    pub backup: Backup,
    pub retention: Retention,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub address: IpAddr,
    pub port: u16,
    pub public_url: PublicUrl,
    pub workers: usize,
    pub tls: ServerTls,
}

/// `[server.tls]`: HTTPS served by the binary itself; both paths empty = plain HTTP.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTls {
    pub certs: PathBuf,
    pub key: PathBuf,
}

impl ServerTls {
    /// True when the server speaks HTTPS (and only HTTPS).
    pub fn enabled(&self) -> bool {
        !self.certs.as_os_str().is_empty()
    }
}

/// `[metrics]`: `GET /metrics` in the Prometheus text format.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    pub enabled: bool,
    /// Empty: served on the main port; else `host:port` of a listener of its own.
    pub address: String,
}

impl Metrics {
    /// The separate listener's address, when one is configured (validated at load).
    pub fn listener(&self) -> Option<std::net::SocketAddr> {
        self.address.trim().parse().ok()
    }
}

/// `[backup]`: scheduled online backups.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    pub interval: Interval,
    pub dir: PathBuf,
    pub keep: usize,
}

/// `[retention]`: the job that deletes expired rows.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    pub interval: Interval,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// The SQLite file; its folder is the data directory (master key, outbox) either way.
    pub path: PathBuf,
    /// `postgres://…`: PostgreSQL instead of the SQLite file, for several nodes sharing
    /// one database. Empty for SQLite. Masked in `check-config`: it may hold a password.
    #[serde(default)]
    pub url: Secret,
    /// Most PostgreSQL connections this node holds open.
    #[serde(default = "default_pool")]
    pub pool: usize,
    pub busy_timeout: Ttl,
    pub readers: usize,
    pub synchronous: Synchronous,
    /// Commit concurrent writes together in one transaction (see `db::group_commit`).
    pub group_commit: bool,
}

fn default_pool() -> usize {
    16
}

impl Database {
    /// Whether this node stores its data in PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        !self.url.expose().trim().is_empty()
    }
}

/// SQLite's `synchronous` setting; see the README for what each promises on power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Full,
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Algorithm {
    EdDSA,
    ES256,
    RS256,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    pub algorithm: Algorithm,
    pub access_ttl: Ttl,
    pub refresh_ttl: Ttl,
    pub rotate_every: Ttl,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Security {
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    pub login_rate: Rate,
    pub signup_rate: Rate,
    pub email_rate: Rate,
    pub trusted_proxies: Vec<IpAddr>,
    pub session_idle: Ttl,
    pub session_max: Ttl,
    pub verify_email_ttl: Ttl,
    pub reset_password_ttl: Ttl,
    pub master_key_file: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Outbox,
    Smtp,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    pub transport: Transport,
    pub from: String,
    pub outbox_dir: PathBuf,
    /// Empty: the built-in templates; else a folder whose files override them by name.
    pub templates_dir: PathBuf,
    pub smtp: Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    pub level: LogLevel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// A string that must never be printed: `Debug` and `Serialize` both show `***`, so it can
/// sit in the config struct that `check-config` prints and that logs may format.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "***" })
    }
}

/// A duration written as a number and a unit: `30s`, `15m`, `12h`, `30d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl(pub Duration);

impl Ttl {
    pub fn parse(s: &str) -> Option<Ttl> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit())?;
        let (n, unit) = s.split_at(split);
        let n: u64 = n.parse().ok()?;
        let secs = match unit.trim() {
            "s" => Some(n),
            "m" => n.checked_mul(60),
            "h" => n.checked_mul(3600),
            "d" => n.checked_mul(86_400),
            _ => None,
        }?;
        (secs > 0).then_some(Ttl(Duration::from_secs(secs)))
    }

    pub fn secs(self) -> u64 {
        self.0.as_secs()
    }
}

impl fmt::Display for Ttl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        match s {
            _ if s.is_multiple_of(86_400) => write!(f, "{}d", s / 86_400),
            _ if s.is_multiple_of(3600) => write!(f, "{}h", s / 3600),
            _ if s.is_multiple_of(60) => write!(f, "{}m", s / 60),
            _ => write!(f, "{s}s"),
        }
    }
}

impl<'de> Deserialize<'de> for Ttl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Ttl::parse(&raw).ok_or_else(|| {
            de::Error::custom(format!("expected a duration like \"15m\", got \"{raw}\""))
        })
    }
}

impl Serialize for Ttl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How often a background job runs: a duration like [`Ttl`], or `"0s"` for never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval(pub Duration);

impl Interval {
    pub fn parse(s: &str) -> Option<Interval> {
        let zero = s.trim().trim_end_matches(['s', 'm', 'h', 'd']);
        if !zero.is_empty() && zero.bytes().all(|b| b == b'0') {
            return Some(Interval(Duration::ZERO));
        }
        Ttl::parse(s).map(|t| Interval(t.0))
    }

    /// The period, or `None` when the job is off.
    pub fn every(self) -> Option<Duration> {
        (!self.0.is_zero()).then_some(self.0)
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.every() {
            None => f.write_str("0s"),
            Some(d) => Ttl(d).fmt(f),
        }
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Interval::parse(&raw).ok_or_else(|| {
            de::Error::custom(format!(
                "expected a duration like \"24h\", or \"0s\" for never, got \"{raw}\""
            ))
        })
    }
}

impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A rate limit written as `count/period`: `10/min`, `20/hour`, `5/s`, `100/day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    pub fn parse(s: &str) -> Option<Rate> {
        let (count, unit) = s.trim().split_once('/')?;
        let count: u32 = count.trim().parse().ok().filter(|c| *c > 0)?;
        let secs = match unit.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3600,
            "d" | "day" => 86_400,
            _ => return None,
        };
        Some(Rate {
            count,
            per: Duration::from_secs(secs),
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            3600 => "hour",
            _ => "day",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Rate::parse(&raw).ok_or_else(|| {
            de::Error::custom(format!("expected a rate like \"10/min\", got \"{raw}\""))
        })
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The public base URL: `http(s)://host[:port][/path]`, kept without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn parse(s: &str) -> Option<PublicUrl> {
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))?;
        let host = rest.split('/').next().unwrap_or_default();
        let valid =
            !host.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '?' || c == '#');
        valid.then(|| PublicUrl(s.trim_end_matches('/').to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PublicUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        PublicUrl::parse(&raw).ok_or_else(|| {
            de::Error::custom(format!(
                "expected an http:// or https:// URL like \"https://auth.example.com\", got \"{raw}\""
            ))
        })
    }
}

impl Serialize for PublicUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A configuration problem, rendered as the one line printed before exiting with code 2:
/// `<source>: <key>: <problem>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub source: String,
    pub key: String,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.source, self.problem)
        } else {
            write!(f, "{}: {}: {}", self.source, self.key, self.problem)
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Loads the configuration: the embedded defaults, then `file` (which must exist when
    /// given) or `./set.toml` when present, then `SET_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        let source = match file {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError {
                        source: path.display().to_string(),
                        key: String::new(),
                        problem: "no such file".into(),
                    });
                }
                figment = figment.merge(Toml::file(path));
                path.display().to_string()
            }
            None if Path::new(DEFAULT_PATH).is_file() => {
                figment = figment.merge(Toml::file(DEFAULT_PATH));
                DEFAULT_PATH.to_owned()
            }
            None => "defaults".to_owned(),
        };
        let figment = figment.merge(Env::prefixed("SET_").split("__"));
        let config: Config = figment
            .extract()
            .map_err(|e| describe(&figment, &source, e))?;
        if config.database.is_postgres()
            && source_of(&figment, &source, "database.path") != "defaults"
        {
            return Err(ConfigError {
                source: source_of(&figment, &source, "database.url"),
                key: "database.url".into(),
                problem: "set either database.path (SQLite) or database.url (PostgreSQL), \
                          not both"
                    .into(),
            });
        }
        config.validate().map_err(|(key, problem)| ConfigError {
            source: source_of(&figment, &source, &key),
            key,
            problem,
        })?;
        Ok(config)
    }

    /// Checks what the types alone cannot: values that parse but make no sense together.
    fn validate(&self) -> Result<(), (String, String)> {
        let fail = |key: &str, problem: String| Err((key.to_owned(), problem));
        if self.server.port == 0 {
            return fail("server.port", "must be between 1 and 65535, got 0".into());
        }
        if self.database.path.as_os_str().is_empty() || self.database.path.is_dir() {
            return fail(
                "database.path",
                "must name a database file, like \"data/set.db\"".into(),
            );
        }
        let url = self.database.url.expose().trim();
        if !url.is_empty() && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            return fail(
                "database.url",
                "must be a PostgreSQL URL like \"postgres://set@db.internal/set\"".into(),
            );
        }
        if self.database.pool == 0 || self.database.pool > 1000 {
            return fail(
                "database.pool",
                format!("must be between 1 and 1000, got {}", self.database.pool),
            );
        }
        if self.database.readers == 0 || self.database.readers > 64 {
            return fail(
                "database.readers",
                format!("must be between 1 and 64, got {}", self.database.readers),
            );
        }
        let s = &self.security;
        if s.argon2_parallelism == 0 || s.argon2_parallelism > 16 {
            return fail(
                "security.argon2_parallelism",
                format!("must be between 1 and 16, got {}", s.argon2_parallelism),
            );
        }
        if s.argon2_iterations == 0 {
            return fail(
                "security.argon2_iterations",
                "must be at least 1, got 0".into(),
            );
        }
        if s.argon2_memory_kib < 8 * s.argon2_parallelism || s.argon2_memory_kib > 4 << 20 {
            return fail(
                "security.argon2_memory_kib",
                format!(
                    "must be between {} (8 × parallelism) and 4194304 (4 GiB), got {}",
                    8 * s.argon2_parallelism,
                    s.argon2_memory_kib
                ),
            );
        }
        if self.tokens.refresh_ttl.0 <= self.tokens.access_ttl.0 {
            return fail(
                "tokens.refresh_ttl",
                format!(
                    "must be longer than tokens.access_ttl ({}), got \"{}\"",
                    self.tokens.access_ttl, self.tokens.refresh_ttl
                ),
            );
        }
        if !self.email.from.contains('@') {
            return fail(
                "email.from",
                format!(
                    "expected an address like \"Set <no-reply@example.com>\", got \"{}\"",
                    self.email.from
                ),
            );
        }
        if self.email.transport == Transport::Smtp && self.email.smtp.host.trim().is_empty() {
            return fail(
                "email.smtp.host",
                "must name the SMTP server when email.transport is \"smtp\"".into(),
            );
        }
        self.validate_operations()
    }

    /// `[server.tls]`, `[metrics]` and `[backup]`.
    fn validate_operations(&self) -> Result<(), (String, String)> {
        let fail = |key: &str, problem: String| Err((key.to_owned(), problem));
        let tls = &self.server.tls;
        for (key, path, other) in [
            ("server.tls.certs", &tls.certs, &tls.key),
            ("server.tls.key", &tls.key, &tls.certs),
        ] {
            if path.as_os_str().is_empty() && !other.as_os_str().is_empty() {
                return fail(
                    key,
                    "must be set too: HTTPS needs both certs and key".into(),
                );
            }
            if !path.as_os_str().is_empty() && !path.is_file() {
                return fail(key, format!("no such file: {}", path.display()));
            }
        }
        let address = self.metrics.address.trim();
        if !address.is_empty() && self.metrics.listener().is_none() {
            return fail(
                "metrics.address",
                format!("expected \"\" or an address like \"127.0.0.1:9100\", got \"{address}\""),
            );
        }
        if self.backup.keep == 0 {
            return fail("backup.keep", "must be at least 1, got 0".into());
        }
        if self.backup.interval.every().is_some() && self.backup.dir.as_os_str().is_empty() {
            return fail(
                "backup.dir",
                "must name a folder when backup.interval is set".into(),
            );
        }
        Ok(())
    }

    /// The folder that holds the database, the master key and (by default) the outbox.
    pub fn data_dir(&self) -> PathBuf {
        match self.database.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// The effective configuration as TOML, secrets masked.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// Names the provider a key came from: the file, an environment variable, or the defaults.
fn source_of(figment: &Figment, file: &str, key: &str) -> String {
    match figment.find_metadata(key) {
        Some(m) if m.name.contains("environment") => env_name(key),
        Some(m) if m.source.is_none() => "defaults".to_owned(),
        _ => file.to_owned(),
    }
}

fn env_name(key: &str) -> String {
    format!("SET_{}", key.replace('.', "__").to_uppercase())
}

/// Turns figment's error into one line that names the key and the problem.
fn describe(figment: &Figment, file: &str, err: figment::Error) -> ConfigError {
    use figment::error::Kind;
    let mut path = err.path.clone();
    let problem = match &err.kind {
        Kind::UnknownField(field, _) => {
            if path.last() != Some(field) {
                path.push(field.clone());
            }
            "unknown key".to_owned()
        }
        Kind::MissingField(field) => {
            if path.last().map(String::as_str) != Some(field.as_ref()) {
                path.push(field.to_string());
            }
            "missing key".to_owned()
        }
        Kind::InvalidType(actual, expected) => format!("expected {expected}, got {actual}"),
        Kind::InvalidValue(actual, expected) => format!("expected {expected}, got {actual}"),
        Kind::UnknownVariant(got, expected) => format!(
            "expected one of {}, got \"{got}\"",
            expected
                .iter()
                .map(|v| format!("\"{v}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        // TOML syntax errors span several lines with a caret drawing; keep it to one line.
        Kind::Message(m) => m
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('|') && !l.contains(" | "))
            .collect::<Vec<_>>()
            .join(": "),
        other => other.to_string(),
    };
    let key = path.join(".");
    let source = match &err.metadata {
        Some(m) if m.name.contains("environment") => env_name(&key),
        Some(m) if m.source.is_none() && file == "defaults" => "defaults".to_owned(),
        _ if key.is_empty() => file.to_owned(),
        _ => source_of(figment, file, &key),
    };
    ConfigError {
        source,
        key,
        problem,
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_load_and_validate() {
        figment::Jail::expect_with(|_| {
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.server.port, 8080);
            assert_eq!(c.tokens.access_ttl, Ttl(Duration::from_secs(900)));
            assert_eq!(c.tokens.refresh_ttl.secs(), 30 * 86_400);
            assert_eq!(c.security.login_rate.count, 10);
            assert_eq!(c.data_dir(), PathBuf::from("data"));
            Ok(())
        });
    }

    #[test]
    fn durations_and_rates_parse_and_print() {
        assert_eq!(Ttl::parse("15m").map(Ttl::secs), Some(900));
        assert_eq!(Ttl::parse("30d").map(|t| t.to_string()), Some("30d".into()));
        assert_eq!(Ttl::parse("90s").map(|t| t.to_string()), Some("90s".into()));
        for bad in [
            "abc",
            "15",
            "m",
            "0m",
            "-1m",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert_eq!(Ttl::parse(bad), None, "{bad}");
        }
        assert_eq!(Rate::parse("20/hour").map(|r| r.per.as_secs()), Some(3600));
        for bad in ["10", "0/min", "x/min", "10/fortnight"] {
            assert_eq!(Rate::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn env_overrides_file_and_errors_name_the_variable() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("set.toml", "[server]\nport = 9001\n")?;
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.server.port, 9001);
            jail.set_env("SET_SERVER__PORT", "9002");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.server.port, 9002);
            jail.set_env("SET_TOKENS__ACCESS_TTL", "soon");
            let e = Config::load(None).err().map(|e| e.to_string());
            assert_eq!(
                e.as_deref(),
                Some("SET_TOKENS__ACCESS_TTL: tokens.access_ttl: expected a duration like \"15m\", got \"soon\"")
            );
            Ok(())
        });
    }

    #[test]
    fn secrets_are_masked() {
        let s = Secret("hunter2".into());
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(serde_json::to_string(&s).ok().as_deref(), Some("\"***\""));
    }
}
