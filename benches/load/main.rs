//! The load benchmark: `cargo bench --bench load` (full run, 10 s per scenario) or
//! `cargo bench --bench load -- --quick` (1 s each, a smoke test for CI).
//!
//! It starts the release binary on a temporary data directory, makes its fixtures through
//! the public API, drives every scenario with a fixed number of concurrent workers for a
//! fixed time, and reports req/s, latency percentiles, server CPU and peak RSS, side by
//! side with `baseline` (`GET /healthz`, the framework's own limit in the same run). The
//! write scenarios run again on a second server with one commit per request
//! (`database.group_commit = false`) for comparison. Any failed request is counted and
//! makes the run exit non-zero: a benchmark that silently measures errors is worthless.
//!
//! With `--postgres URL` (or `BENCH_POSTGRES_URL`: not `SET_*`, which the server would
//! read as a config key and refuse), every scenario runs again after the SQLite runs, on
//! a server over PostgreSQL (`database.url`) in a database created for the run on that
//! PostgreSQL server and dropped at the end; the report gains a second table.
//!
//! Options: `--quick`, `--seconds N` (default 10), `--concurrency N` (default 32),
//! `--only a,b` (scenario names), `--no-compare` (skip the one-commit-per-request runs),
//! `--postgres URL` (a PostgreSQL server to run on as well, e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`: any database there to connect to),
//! `--data-dir DIR` (where the SQLite data directories go, default `target/bench`: the
//! disk whose fsync is measured; the report names its filesystem), `--write-iops N`
//! (cap writes to that disk at N a second for the whole run: see `throttle`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixtures;
mod postgres;
mod report;
mod scenarios;
mod server;
mod throttle;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use report::{Comparison, Report, Row};
use scenarios::{Measured, Scenario};
use server::{Server, Store};

struct Options {
    seconds: f64,
    concurrency: usize,
    only: Option<Vec<Scenario>>,
    compare: bool,
    quick: bool,
    /// A PostgreSQL server to run every scenario on as well.
    postgres: Option<String>,
    /// Where the SQLite runs keep their data directories: the disk being measured.
    data_dir: PathBuf,
    /// Writes a second the data disk is capped at, for the run (`throttle`).
    write_iops: Option<u32>,
}

fn options() -> Options {
    let mut o = Options {
        seconds: 10.0,
        concurrency: 32,
        only: None,
        compare: true,
        quick: false,
        postgres: std::env::var("BENCH_POSTGRES_URL")
            .ok()
            .filter(|u| !u.trim().is_empty()),
        // Not the system's temporary directory: that is a tmpfs on many systems, where
        // fsync costs nothing and the group-commit comparison would mean nothing.
        data_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench"),
        write_iops: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match arg.as_str() {
            "--quick" => {
                o.quick = true;
                o.seconds = 1.0;
            }
            "--seconds" => o.seconds = value("--seconds").parse().expect("--seconds N"),
            "--concurrency" => {
                o.concurrency = value("--concurrency").parse().expect("--concurrency N")
            }
            "--only" => {
                o.only = Some(
                    value("--only")
                        .split(',')
                        .map(|s| {
                            Scenario::parse(s.trim()).unwrap_or_else(|| panic!("no scenario {s}"))
                        })
                        .collect(),
                )
            }
            "--no-compare" => o.compare = false,
            "--postgres" => o.postgres = Some(value("--postgres")),
            "--data-dir" => o.data_dir = PathBuf::from(value("--data-dir")),
            "--write-iops" => {
                let n: u32 = value("--write-iops").parse().expect("--write-iops N");
                assert!(n > 0, "--write-iops must be positive");
                o.write_iops = Some(n);
            }
            // `cargo bench` passes `--bench` to every harness-less benchmark.
            "--bench" => {}
            "--help" | "-h" => {
                println!("cargo bench --bench load -- [--quick] [--seconds N] [--concurrency N] [--only a,b] [--no-compare] [--postgres URL] [--data-dir DIR] [--write-iops N]");
                std::process::exit(0);
            }
            other => panic!("unknown option {other}; try --help"),
        }
    }
    assert!(
        o.concurrency > 0 && o.seconds > 0.0,
        "concurrency and seconds must be positive"
    );
    if let Some(url) = &o.postgres {
        assert!(
            url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "--postgres needs a postgres:// URL, got {}",
            postgres::redact(url)
        );
    }
    o
}

/// The type of the filesystem holding `dir` (the mount with the longest matching path in
/// /proc/self/mounts), e.g. `ext4` or `tmpfs`: fsync costs differ by orders of magnitude.
fn filesystem(dir: &Path) -> String {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let (_, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            // Spaces in mount points are written as \040.
            let point = PathBuf::from(point.replace("\\040", " "));
            dir.starts_with(&point).then(|| (point, kind.to_owned()))
        })
        .max_by_key(|(point, _)| point.as_os_str().len())
        .map_or_else(|| "filesystem unknown".into(), |(_, kind)| kind)
}

fn http(concurrency: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// Runs each scenario on `server` and pairs the measurement with the server's CPU time
/// and peak RSS during it; `engine` and `tag` label the progress lines.
async fn measure(
    server: &Server,
    fx: &Arc<fixtures::Fixture>,
    list: &[Scenario],
    o: &Options,
    engine: &str,
    tag: &str,
) -> Vec<(Measured, f64, f64)> {
    let client = http(o.concurrency);
    let mut out = Vec::new();
    for &s in list {
        server.reset_peak();
        let cpu = server.cpu_seconds();
        let label = format!("{engine} {}{tag} ×{}", s.name(), o.concurrency);
        let m = scenarios::run(
            &client,
            fx.clone(),
            s,
            o.concurrency,
            Duration::from_secs_f64(o.seconds),
            &label,
        )
        .await;
        let cpu_pct = 100.0 * (server.cpu_seconds() - cpu) / m.elapsed.as_secs_f64();
        let peak = server.memory_kib("VmHWM") as f64 / 1024.0;
        out.push((m, cpu_pct, peak));
    }
    out
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cores} cores ({model}), shared by the server and the load generator")
}

/// Events made per user by the fixtures.
const EVENTS: usize = 50;

/// One engine's main runs.
struct Run {
    measured: Vec<(Measured, f64, f64)>,
    start_time: Duration,
    idle_rss: f64,
}

/// Starts the server once to create the database, then again (timed) on the existing
/// database, makes the fixtures (one user per worker) and measures every scenario of `list`.
async fn run_on(
    bin: &Path,
    data: &Path,
    store: &Store,
    engine: &str,
    list: &[Scenario],
    o: &Options,
) -> Run {
    let (first, _) = Server::start(bin, data, store);
    first.stop();
    let (server, start_time) = Server::start(bin, data, store);
    let idle_rss = server.memory_kib("VmRSS") as f64 / 1024.0;
    eprintln!(
        "set-server {} on {engine} healthy {:.0} ms after spawn, {:.1} MiB RSS idle; making fixtures",
        bin.display(),
        start_time.as_secs_f64() * 1000.0,
        idle_rss
    );
    let fx = fixture(&server, o).await;
    let measured = measure(&server, &fx, list, o, engine, "").await;
    server.stop();
    Run {
        measured,
        start_time,
        idle_rss,
    }
}

async fn fixture(server: &Server, o: &Options) -> Arc<fixtures::Fixture> {
    let client = http(o.concurrency);
    let (base, outbox) = (server.base(), server.outbox());
    Arc::new(fixtures::create(&client, &base, &outbox, o.concurrency, EVENTS).await)
}

fn table_rows(measured: &[(Measured, f64, f64)]) -> Vec<Row> {
    measured
        .iter()
        .map(|(m, cpu, rss)| Row {
            name: m.scenario.name().to_owned(),
            rate: m.rate(),
            p50_ms: m.percentile_ms(0.5),
            p99_ms: m.percentile_ms(0.99),
            requests: m.requests,
            errors: m.errors,
            cpu_pct: *cpu,
            peak_rss_mib: *rss,
        })
        .collect()
}

async fn bench(o: Options) -> i32 {
    let bin = server::binary();
    std::fs::create_dir_all(&o.data_dir)
        .unwrap_or_else(|e| panic!("--data-dir {}: {e}", o.data_dir.display()));
    let tmp = tempfile::tempdir_in(&o.data_dir)
        .unwrap_or_else(|e| panic!("--data-dir {}: {e}", o.data_dir.display()));
    let list: Vec<Scenario> = o.only.clone().unwrap_or_else(|| scenarios::ALL.to_vec());
    // Every server started from here on is a child of this process, in its cgroup.
    let throttle = o.write_iops.map(|iops| {
        throttle::Throttle::apply(&o.data_dir, iops).unwrap_or_else(|e| {
            panic!("--write-iops needs root and the cgroup io (blkio) controller: {e}")
        })
    });

    let sqlite = run_on(
        &bin,
        &tmp.path().join("grouped"),
        &Store::Sqlite { group_commit: true },
        "sqlite",
        &list,
        &o,
    )
    .await;
    let Run {
        measured: grouped,
        start_time,
        idle_rss,
    } = sqlite;

    let writes: Vec<Scenario> = scenarios::WRITES
        .into_iter()
        .filter(|s| list.contains(s))
        .collect();
    let mut single = Vec::new();
    if o.compare && !writes.is_empty() {
        let single_commit = Store::Sqlite {
            group_commit: false,
        };
        let (server, _) = Server::start(&bin, &tmp.path().join("single"), &single_commit);
        eprintln!("one commit per request (database.group_commit = false); making fixtures");
        let fx = fixture(&server, &o).await;
        single = measure(&server, &fx, &writes, &o, "sqlite", " (1 commit/req)").await;
        server.stop();
    }

    // PostgreSQL after all SQLite runs, so the SQLite figures are measured as before. The
    // database is dropped when `db` goes, the server stopped by then (or on a panic).
    let mut pg: Option<(Run, String)> = None;
    if let Some(admin) = &o.postgres {
        let db = tokio::task::block_in_place(|| postgres::Database::create(admin));
        eprintln!(
            "PostgreSQL: created the database {} ({})",
            postgres::redact(&db.url),
            db.settings
        );
        let store = Store::Postgres {
            url: db.url.clone(),
        };
        let run = run_on(
            &bin,
            &tmp.path().join("postgres"),
            &store,
            "postgres",
            &list,
            &o,
        )
        .await;
        pg = Some((run, db.settings.clone()));
        tokio::task::block_in_place(|| drop(db));
    }

    let rows = table_rows(&grouped);
    let comparisons: Vec<Comparison> = single
        .iter()
        .filter_map(|(s, _, _)| {
            let g = grouped.iter().find(|(m, _, _)| m.scenario == s.scenario)?;
            Some(Comparison {
                name: s.scenario.name().to_owned(),
                grouped: g.0.rate(),
                single: s.rate(),
                single_p99_ms: s.percentile_ms(0.99),
                single_errors: s.errors,
            })
        })
        .collect();
    let mut notes = vec![
        format!(
            "concurrency {}, {} s per scenario{}; synchronous = full; {}",
            o.concurrency,
            o.seconds,
            if o.quick { " (--quick: a smoke test, not a measurement)" } else { "" },
            machine()
        ),
        format!(
            "start to a healthy /healthz on an existing database: {:.0} ms; RSS idle after start: {:.1} MiB",
            start_time.as_secs_f64() * 1000.0,
            idle_rss
        ),
        format!(
            "SQLite data directories in {} ({})",
            o.data_dir.display(),
            filesystem(&o.data_dir)
        ),
        "server CPU is CPU time over wall time (100 % = one core busy); peak RSS is VmHWM, reset before each scenario".into(),
        "code_exchange counts one account link as one request: `POST /v1/me/authorize` then the `authorization_code` exchange".into(),
        "mixed: 35 % me, 25 % event_write, 15 % event_read, 10 % introspect, 9 % refresh, 4 % register, 2 % create_user".into(),
    ];
    if let Some(t) = &throttle {
        notes.push(t.describe.clone());
    }
    drop(throttle);
    if let Some((run, settings)) = &pg {
        notes.push(format!(
            "PostgreSQL table: {settings}, a database created for the run; `database.pool` at its default; \
             server CPU and RSS are set-server's alone, PostgreSQL's own processes not counted; start to a healthy /healthz on an existing database: {:.0} ms; RSS idle after start: {:.1} MiB",
            run.start_time.as_secs_f64() * 1000.0,
            run.idle_rss
        ));
    }
    let pg_measured = pg.as_ref().map_or(&[][..], |(run, _)| &run.measured[..]);
    let failures: Vec<(&str, &Measured)> = grouped
        .iter()
        .chain(single.iter())
        .map(|(m, _, _)| ("", m))
        .chain(pg_measured.iter().map(|(m, _, _)| ("PostgreSQL: ", m)))
        .filter(|(_, m)| m.errors > 0)
        .collect();
    for (engine, m) in &failures {
        notes.push(format!(
            "{engine}{} had {} failed requests, e.g. {}",
            m.scenario.name(),
            m.errors,
            m.samples.join(" | ")
        ));
    }
    let report = Report {
        title: format!("Set Server load benchmark, {}", date()),
        rows,
        comparisons,
        postgres: table_rows(pg_measured),
        notes,
    };
    let text = report.markdown();
    println!("\n{text}");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    std::fs::write(dir.join("report.md"), &text).expect("write report.md");
    if let Err(e) = report.svg(&dir.join("report.svg")) {
        eprintln!("cannot draw the chart: {e}");
        return 1;
    }
    eprintln!("wrote {0}/report.md and {0}/report.svg", dir.display());
    if failures.is_empty() {
        0
    } else {
        eprintln!("FAILED: some requests failed (see the notes above)");
        1
    }
}

/// Today's date (UTC) as YYYY-MM-DD, from the system clock.
fn date() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime.block_on(bench(o));
    std::process::exit(code);
}
