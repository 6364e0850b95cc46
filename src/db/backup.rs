//! Online backups through SQLite's backup API: a consistent copy taken while a server
//! keeps writing, written beside the target and renamed into place only when whole.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, Progress, StepResult};
use rusqlite::{Connection, OpenFlags};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{} already exists; choose a new file name", .0.display())]
    Exists(PathBuf),
    #[error("there is no database at {}", .0.display())]
    NoDatabase(PathBuf),
    #[error("backup failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("backup failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Copies the database at `source` to `dest` (which must not exist) and returns the number
/// of pages copied. `progress` is told (remaining, total) pages as the copy goes.
///
/// The copy is made in one step under one read transaction, so it is a snapshot of a
/// single moment: every transaction committed before it started is in it, none half.
pub fn run(
    source: &Path,
    dest: &Path,
    busy_timeout: Duration,
    progress: Option<fn(Progress)>,
) -> Result<i32, BackupError> {
    if dest.exists() {
        return Err(BackupError::Exists(dest.to_path_buf()));
    }
    if !source.is_file() {
        return Err(BackupError::NoDatabase(source.to_path_buf()));
    }
    let src = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    src.busy_timeout(busy_timeout)?;
    let tmp = dest.with_extension(format!("partial-{}", std::process::id()));
    let result = copy(&src, &tmp, busy_timeout, progress);
    match result {
        Ok(pages) => {
            std::fs::rename(&tmp, dest)?;
            Ok(pages)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn copy(
    src: &Connection,
    tmp: &Path,
    busy_timeout: Duration,
    progress: Option<fn(Progress)>,
) -> Result<i32, BackupError> {
    let mut dst = Connection::open(tmp)?;
    let pages = {
        let backup = Backup::new(src, &mut dst)?;
        let deadline = std::time::Instant::now() + busy_timeout;
        loop {
            // -1: all pages in one step, i.e. one consistent read snapshot.
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::Busy | StepResult::Locked if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                StepResult::Busy | StepResult::Locked => {
                    return Err(BackupError::Sqlite(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                        Some("the database stayed locked".into()),
                    )))
                }
                StepResult::More => {}
                _ => {}
            }
            if let Some(report) = progress {
                report(backup.progress());
            }
        }
        if let Some(report) = progress {
            report(backup.progress());
        }
        backup.progress().pagecount
    };
    // The copy is a plain rollback-journal file; make it durable before the rename.
    let ok: String = dst.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if ok != "ok" {
        return Err(BackupError::Io(std::io::Error::other(format!(
            "the copy failed its integrity check: {ok}"
        ))));
    }
    drop(dst);
    std::fs::File::open(tmp)?.sync_all()?;
    Ok(pages)
}
