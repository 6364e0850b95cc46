//! Online backups through SQLite's backup API: a consistent copy taken while a server
//! keeps writing, written beside the target and renamed into place only when whole.
//!
//! And the way back: [`restore`] checks a backup and puts it in place of the database,
//! refusing while a server holds it ([`ServerLock`]).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, Progress, StepResult};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::migrate::{self, MigrateError};

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
    // The copy holds password hashes and sealed secrets: only the server's user reads it.
    std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::File::open(tmp)?.sync_all()?;
    Ok(pages)
}

/// The lock file beside the database (`data/set.lock` for `data/set.db`).
pub fn lock_path(database: &Path) -> PathBuf {
    database.with_extension("lock")
}

fn open_lock(database: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(lock_path(database))
}

/// A shared lock on the database's lock file, held by every process that serves it (or
/// otherwise keeps it open) for as long as it runs; released when dropped or when the
/// process dies. Several servers may share a database; [`restore`] needs it exclusive.
#[derive(Debug)]
pub struct ServerLock {
    _file: File,
}

impl ServerLock {
    /// Takes the shared lock; fails at once while a restore holds it exclusively.
    pub fn acquire(database: &Path) -> Result<ServerLock, String> {
        let path = lock_path(database);
        let file = open_lock(database)
            .map_err(|e| format!("cannot open the lock file {}: {e}", path.display()))?;
        match file.try_lock_shared() {
            Ok(()) => Ok(ServerLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(format!(
                "{} is being restored (another process holds {}); try again when it is done",
                database.display(),
                path.display()
            )),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(format!("cannot lock {}: {e}", path.display()))
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("there is no file at {}", .0.display())]
    NoFile(PathBuf),
    #[error(
        "{} is in use: a set-server (or another set-server command) holds {}; stop it, \
         then restore. Nothing was changed.",
        database.display(),
        lock.display()
    )]
    InUse { database: PathBuf, lock: PathBuf },
    #[error("{} cannot be restored: {problem}. Nothing was changed.", file.display())]
    Unusable { file: PathBuf, problem: String },
    #[error("restore failed: {0}")]
    Io(#[from] std::io::Error),
}

/// What [`restore`] did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The newest migration the restored database records.
    pub schema_version: i64,
    /// The newest migration this binary knows (the rest are applied at the next start).
    pub binary_version: i64,
    pub bytes: u64,
    /// Where the database that was replaced now is (with its `-wal`, if it had one).
    pub previous: Option<PathBuf>,
}

/// Replaces the database at `database` with the backup `file`, after checking that the
/// file is whole (`PRAGMA integrity_check`) and that every migration it records is known
/// to this binary. Refuses while any process holds the database's [`ServerLock`].
///
/// The file is copied beside the database, synced and renamed over it, so the database
/// is either the old one or the new one, never half of either. The replaced database is
/// kept beside it as `<name>.replaced-<UTC time>` (with its `-wal`), and a stale `-shm`
/// is removed. `stamp` names that copy.
pub fn restore(file: &Path, database: &Path, stamp: &str) -> Result<Restored, RestoreError> {
    if !file.is_file() {
        return Err(RestoreError::NoFile(file.to_path_buf()));
    }
    super::create_data_dir(database).map_err(|e| std::io::Error::other(e.to_string()))?;
    let lock = open_lock(database)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(RestoreError::InUse {
                database: database.to_path_buf(),
                lock: lock_path(database),
            })
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
    }
    let tmp = database.with_extension(format!("restoring-{}", std::process::id()));
    let result = install(file, database, &tmp, stamp);
    if result.is_err() {
        for leftover in [tmp.clone(), suffixed(&tmp, "-wal"), suffixed(&tmp, "-shm")] {
            let _ = std::fs::remove_file(leftover);
        }
    }
    drop(lock);
    result
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn install(
    file: &Path,
    database: &Path,
    tmp: &Path,
    stamp: &str,
) -> Result<Restored, RestoreError> {
    let bytes = std::fs::copy(file, tmp)?;
    std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o600))?;
    File::open(tmp)?.sync_all()?;
    // What is checked is the copy that goes into place, not the file it came from.
    let schema_version = check(tmp).map_err(|e| match e {
        RestoreError::Unusable { problem, .. } => RestoreError::Unusable {
            file: file.to_path_buf(),
            problem,
        },
        other => other,
    })?;
    for leftover in [suffixed(tmp, "-wal"), suffixed(tmp, "-shm")] {
        let _ = std::fs::remove_file(leftover);
    }
    let previous = if database.exists() {
        let kept = suffixed(database, &format!(".replaced-{stamp}"));
        std::fs::hard_link(database, &kept)?;
        let wal = suffixed(database, "-wal");
        if wal.exists() {
            std::fs::rename(&wal, suffixed(&kept, "-wal"))?;
        }
        Some(kept)
    } else {
        None
    };
    let shm = suffixed(database, "-shm");
    if shm.exists() {
        std::fs::remove_file(&shm)?;
    }
    std::fs::rename(tmp, database)?;
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    let binary_version = migrate::all()
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .last()
        .map_or(0, |m| m.version);
    Ok(Restored {
        schema_version,
        binary_version,
        bytes,
        previous,
    })
}

/// Checks that `file` is a whole Set Server database this binary can open; returns the
/// newest migration it records.
pub fn check(file: &Path) -> Result<i64, RestoreError> {
    let unusable = |problem: String| RestoreError::Unusable {
        file: file.to_path_buf(),
        problem,
    };
    let conn = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| unusable(format!("it cannot be opened as a database ({e})")))?;
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| unusable(format!("it is not a readable SQLite database ({e})")))?;
    if verdict != "ok" {
        return Err(unusable(format!(
            "it failed its integrity check: {verdict}"
        )));
    }
    let newest: Option<i64> = conn
        .query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|_| unusable("it is not a Set Server database (no migration history)".into()))?
        .flatten();
    let newest =
        newest.ok_or_else(|| unusable("it is not a Set Server database (no migrations)".into()))?;
    match migrate::refuse_newer(&conn, file) {
        Ok(()) => Ok(newest),
        Err(MigrateError::Newer { version, name, .. }) => Err(unusable(format!(
            "it records migration {version} \"{name}\", which this binary does not know \
             (a newer set-server wrote it); restore it with that version"
        ))),
        Err(e) => Err(unusable(e.to_string())),
    }
}
