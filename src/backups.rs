//! Scheduled online backups: every `[backup] interval`, a consistent copy of the
//! database (see [`crate::db::backup`]) goes into `[backup] dir` as
//! `set-<UTC time>.db`, and the oldest beyond `[backup] keep` are deleted.
//!
//! The schedule survives restarts: the next backup is due one interval after the newest
//! file in the folder, so a server restarted more often than the interval still makes
//! its backups.

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rocket::fairing::AdHoc;
use rocket::tokio;

use crate::config::Config;
use crate::db::backup::{self, BackupError};

const PREFIX: &str = "set-";
const SUFFIX: &str = ".db";

/// A unix time as `20260104T153930Z`: sortable, and safe in a file name.
pub fn stamp(secs: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The scheduled backups in `dir`, oldest first (their names sort by time).
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
    });
    files.sort();
    files
}

/// One scheduled backup, now: writes it, deletes the oldest beyond `keep`, logs a line,
/// and returns the new file.
pub fn take(config: &Config) -> Result<PathBuf, BackupError> {
    let dir = &config.backup.dir;
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let dest = dir.join(format!("{PREFIX}{}{SUFFIX}", stamp(crate::clock::now())));
    let started = Instant::now();
    let pages = backup::run(
        &config.database.path,
        &dest,
        config.database.busy_timeout.0,
        None,
    )?;
    let bytes = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
    let deleted = prune(dir, config.backup.keep);
    tracing::info!(
        "backup: wrote {} ({pages} pages, {} KiB) in {} ms{}",
        dest.display(),
        bytes / 1024,
        started.elapsed().as_millis(),
        match deleted.len() {
            0 => String::new(),
            n => format!("; deleted {n} older beyond the {} kept", config.backup.keep),
        }
    );
    Ok(dest)
}

/// Deletes the oldest scheduled backups beyond the newest `keep`; returns those deleted.
pub fn prune(dir: &Path, keep: usize) -> Vec<PathBuf> {
    let files = list(dir);
    let excess = files.len().saturating_sub(keep);
    let mut deleted = Vec::new();
    for old in files.into_iter().take(excess) {
        match std::fs::remove_file(&old) {
            Ok(()) => deleted.push(old),
            Err(e) => tracing::warn!("backup: cannot delete {}: {e}", old.display()),
        }
    }
    deleted
}

/// How long until the next backup: one interval after the newest one in the folder, or
/// now when there is none (or it is overdue).
fn first_wait(dir: &Path, every: Duration) -> Duration {
    let newest = list(dir)
        .last()
        .and_then(|p| std::fs::metadata(p).ok())
        .and_then(|m| m.modified().ok());
    let age = newest
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or(every);
    every.saturating_sub(age)
}

/// The fairing that runs the schedule from liftoff to shutdown; nothing when
/// `[backup] interval` is `"0s"`.
pub fn fairing() -> AdHoc {
    AdHoc::on_liftoff("scheduled backups", |rocket| {
        Box::pin(async move {
            let Some(config) = rocket.state::<Config>().cloned() else {
                return;
            };
            let Some(every) = config.backup.interval.every() else {
                return;
            };
            if config.database.is_postgres() {
                tracing::warn!(
                    "backup.interval is ignored on PostgreSQL: back it up with its own tools \
                     (pg_dump, or base backups with WAL archiving; see docs/CLUSTER.md)"
                );
                return;
            }
            tracing::info!(
                "backup: every {} into {}, keeping {}",
                config.backup.interval,
                config.backup.dir.display(),
                config.backup.keep
            );
            let mut shutdown = rocket.shutdown();
            tokio::spawn(async move {
                let mut wait = first_wait(&config.backup.dir, every);
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = &mut shutdown => return,
                    }
                    let c = config.clone();
                    match tokio::task::spawn_blocking(move || take(&c)).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => tracing::error!("backup: {e}"),
                        Err(e) => tracing::error!("backup: the job failed: {e}"),
                    }
                    wait = every;
                }
            });
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_sort_by_time() {
        assert_eq!(stamp(0), "19700101T000000Z");
        assert_eq!(stamp(1_796_398_770), "20261204T153930Z");
        assert!(stamp(1_796_398_770) < stamp(1_796_398_771));
    }

    #[test]
    fn prune_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for s in ["20260101T000000Z", "20260102T000000Z", "20260103T000000Z"] {
            std::fs::write(dir.path().join(format!("set-{s}.db")), b"x")
                .unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap_or_else(|e| panic!("{e}"));
        let deleted = prune(dir.path(), 2);
        assert_eq!(deleted.len(), 1);
        assert!(deleted[0].ends_with("set-20260101T000000Z.db"));
        assert_eq!(list(dir.path()).len(), 2);
        assert!(dir.path().join("notes.txt").exists());
    }
}
