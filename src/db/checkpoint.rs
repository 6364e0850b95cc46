//! Background checkpoints: copying the WAL into `set.db` off the writer thread.
//!
//! SQLite checkpoints inside a commit once the WAL passes `wal_autocheckpoint` pages, and
//! every write queued behind that commit waits for the copy: that was the tail of the
//! write scenarios (`benches/load`: with checkpoints held off, their p99 halved). This
//! thread runs a `PASSIVE` checkpoint every 20 ms while writes come in, on a connection of
//! its own: it copies what readers no longer need without taking the write lock, so the
//! writer keeps committing meanwhile and its own checkpoint finds little left to copy.
//! That one stays: only a checkpoint between two commits completes, and only a complete
//! one lets the WAL start over from its beginning. Measured side by side (8 s runs), p99
//! went from 23.0 and 22.9 ms to 15.9 and 14.6 ms for `create_user`, from 14.2 and 15.2 ms
//! to 7.7 and 7.8 ms for `refresh`, at the same throughput within the noise.
//!
//! Each copy writes every page changed since the one before, wherever it lies in the
//! file, and the hot pages (the right edge of each index) are written again by every copy.
//! On a disk that completes few writes a second those writes compete with the commits':
//! with `benches/load --write-iops 1000` (5 s runs), copies held to once a second raised
//! group commit over one commit per request from 7.7 / 9.1 / 7.4× to 9.1 / 12.2 / 9.7×
//! (`create_user`, `event_write`, `refresh`). So a busy turn waits ten times as long as
//! its copy took, never less than 20 ms: on a fast disk nothing changes (a copy takes
//! about 1.3 ms there), on a slow one copies come rarer and each hot page is written once
//! for many commits. Measured the same way: 7.6 / 9.1 / 7.4× → 9.0 / 10.0 / 9.1×.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::OpenFlags;

use crate::db::{connect, Options};

/// How often the WAL is copied while writes come in, and how long the thread rests once
/// a turn found nothing new.
pub const BUSY: Duration = Duration::from_millis(20);
pub const IDLE: Duration = Duration::from_millis(500);

/// A busy turn waits at least this many times as long as its copy took.
pub const PACE: u32 = 10;

/// How long to rest after a turn: long once nothing is left to copy, else [`BUSY`] or
/// [`PACE`] times what the copy took, whichever is longer.
pub fn rest(idle: bool, took: Duration) -> Duration {
    if idle {
        IDLE
    } else {
        BUSY.max(took.saturating_mul(PACE))
    }
}

/// Starts the checkpoint thread; it ends when the returned sender is dropped (with the
/// database handle).
pub fn spawn(opts: &Options) -> std::io::Result<mpsc::Sender<()>> {
    let conn = connect(opts, OpenFlags::default()).map_err(std::io::Error::other)?;
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("set-db-checkpoint".into())
        .spawn(move || {
            let mut wait = BUSY;
            let mut last = None;
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
                // (WAL frames, frames copied); a failure is retried at the next turn,
                // the writer's own checkpoint still bounds the WAL.
                let started = Instant::now();
                let turn = conn
                    .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                    })
                    .ok();
                let idle =
                    matches!(turn, Some((frames, copied)) if frames == copied) && turn == last;
                wait = rest(idle, started.elapsed());
                last = turn;
            }
        })?;
    Ok(stop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::params;

    #[test]
    fn a_slow_copy_waits_longer_than_a_fast_one() {
        assert_eq!(rest(true, Duration::from_millis(300)), IDLE);
        assert_eq!(rest(false, Duration::from_micros(500)), BUSY);
        assert_eq!(
            rest(false, Duration::from_millis(30)),
            Duration::from_millis(300)
        );
        assert_eq!(rest(false, Duration::MAX), Duration::MAX);
    }

    /// Rows committed a moment ago are in `set.db` itself, not only in the WAL, long
    /// before the WAL reaches the writer's own checkpoint.
    #[test]
    fn committed_rows_reach_the_main_file_without_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("set.db");
        let mut config = crate::config::Config::load(None).unwrap().database;
        config.path = path.clone();
        let db = Db::open((&config).into()).unwrap();
        db.write_blocking(|c| {
            for i in 0..50i64 {
                c.execute(
                    "INSERT INTO job_runs (job, last_run_at, node) VALUES ($1, 0, 'test')",
                    params![format!("job-{i}")],
                )?;
            }
            Ok(())
        })
        .unwrap();
        let copied = dir.path().join("copy.db");
        let mut rows = 0;
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(20));
            // The main file alone, as if the WAL were lost.
            std::fs::copy(&path, &copied).unwrap();
            let conn = rusqlite::Connection::open(&copied).unwrap();
            rows = conn
                .query_row(
                    "SELECT count(*) FROM job_runs WHERE node = 'test'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap_or(0);
            if rows == 50 {
                break;
            }
        }
        assert_eq!(rows, 50, "the background checkpoint copied the commit");
    }
}
