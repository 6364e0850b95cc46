//! Group commit: one writer thread runs the writes that arrive while it is busy as one
//! transaction, so a batch of requests costs one commit (one fsync with
//! `synchronous = full`) instead of one each.
//!
//! - Each closure runs inside its own `SAVEPOINT`: when it fails (or panics) only its own
//!   work is rolled back, and it gets its own error.
//! - Nobody is answered before the batch commits. A failed commit fails every closure of
//!   the batch, each caller receiving the error.
//! - If SQLite aborts the whole transaction under a closure (a disk full or I/O error
//!   does), the closures that ran before it lost their work: they are answered with an
//!   error, and the rest of the batch continues in a new transaction.
//!
//! The thread takes whatever queued up while it was running the previous batch (at most
//! [`MAX_BATCH`]), so a lone write is committed at once. Only a batch well under the
//! recent peak waits, briefly, for the writers just answered (see
//! [`Company::worth_waiting`]).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rocket::tokio::sync::oneshot;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::db::cache::{self, Caches};
use crate::db::sql::Conn;
use crate::error::ApiError;

/// Most closures in one transaction: bounds how long the writer lock is held at once.
pub const MAX_BATCH: usize = 256;

/// WAL pages after which a commit checkpoints (SQLite's default is 1,000).
pub const CHECKPOINT_PAGES: i64 = 10_000;

/// A queued write: runs its closure in the batch's transaction and says how it went.
pub type Job = Box<dyn FnOnce(&Transaction<'_>) -> Ran + Send>;

/// A closure that ran: whether it succeeded, and how to answer its caller once the
/// batch's fate is known. Dropping it (or the job) answers the caller with an internal
/// error, so no caller ever waits forever.
pub struct Ran {
    ok: bool,
    answer: Answer,
}

/// Answers a caller, given the batch's commit error if the commit failed.
type Answer = Box<dyn FnOnce(Option<&ApiError>) + Send>;

/// Starts the writer thread over `conn`; writes are sent to the returned queue.
pub fn spawn(
    conn: Arc<Mutex<Connection>>,
    caches: Arc<Caches>,
) -> std::io::Result<mpsc::Sender<Job>> {
    {
        let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
        // A savepoint copies each page it changes that the batch had already changed into
        // a sub-journal, which SQLite spills to a temporary file past 64 KiB: that was half
        // of the writer thread's `pwrite`s under `create_user` (`benches/load`). In memory
        // it is emptied at each `RELEASE`, so it never holds more than one closure's pages.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(std::io::Error::other)?;
        // SQLite checkpoints on this thread, inside a commit, every time the WAL passes
        // this many pages: at the default 1,000 that was every few batches, each copying
        // pages that the next batches change again. Fewer, larger checkpoints copy each
        // hot page once (the WAL grows to about 40 MB between them).
        conn.pragma_update(None, "wal_autocheckpoint", CHECKPOINT_PAGES)
            .map_err(std::io::Error::other)?;
    }
    let (queue, jobs) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("set-db-writer".into())
        .spawn(move || {
            let mut company = Company::default();
            while let Ok(first) = jobs.recv() {
                // Lock first, then gather: writes queued while this thread waited for the
                // lock (held by a `write_blocking` caller) join this batch.
                let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
                let mut batch = vec![first];
                gather(&jobs, &mut batch, None);
                if let Some(until) = company.worth_waiting(batch.len()) {
                    gather(&jobs, &mut batch, Some(until));
                }
                let jobs_in_batch = batch.len();
                let commit = run_batch(&mut conn, batch, &caches);
                company.saw(jobs_in_batch, commit);
            }
        })?;
    Ok(queue)
}

/// The longest a batch waits for company (see [`Company::worth_waiting`]).
pub const MAX_COMPANY_WAIT: Duration = Duration::from_millis(2);

/// What the writer has seen of recent batches: how large they grew and how long their
/// commits took.
#[derive(Default, Clone, Copy)]
struct Company {
    /// The largest recent batch, halving every [`PEAK_HALF_LIFE`]: about how many writers
    /// are taking turns.
    peak: f64,
    /// When the last batch was seen, for the fading of `peak`.
    at: Option<Instant>,
    /// The average commit time in seconds, each new commit weighing 1/8.
    commit: f64,
}

/// How fast `Company::peak` forgets a large batch. Under load, batches come every few
/// milliseconds, so the peak fades by a percent or two per batch; a write arriving alone
/// a second after a burst finds it forgotten and does not wait.
const PEAK_HALF_LIFE: Duration = Duration::from_millis(100);

impl Company {
    fn saw(&mut self, jobs: usize, commit: Duration) {
        self.saw_at(jobs, commit, Instant::now());
    }

    fn saw_at(&mut self, jobs: usize, commit: Duration, now: Instant) {
        let faded = self.at.map_or(0.0, |then| {
            let half_lives =
                now.saturating_duration_since(then).as_secs_f64() / PEAK_HALF_LIFE.as_secs_f64();
            self.peak * 0.5f64.powf(half_lives)
        });
        self.peak = faded.max(jobs as f64);
        self.at = Some(now);
        self.commit += (commit.as_secs_f64() - self.commit) / 8.0;
    }

    /// A batch well under the recent peak (below three quarters) is missing writers who
    /// were only just answered and are about to write again. Committing without them
    /// costs a whole commit (an fsync) for a few writes, and the writers stay split into
    /// groups that take turns. So such a batch waits for them, until it is as large as
    /// the peak, at most the *average* commit time and at most [`MAX_COMPANY_WAIT`]: the
    /// faster the disk, the shorter the wait, and a lone writer never waits.
    ///
    /// The average, not the last commit: on a disk that allows so many writes a second,
    /// commits are quick until the allowance is spent and then stall, so the last one is
    /// most often a quick one, while every commit spends the same share of the allowance.
    /// Measured with `benches/load --write-iops 1000` (8 s, group commit only):
    /// `create_user` / `refresh` 4,842 / 4,872 req/s waiting below half the last batch for
    /// half the last commit, 5,709 / 6,025 with this rule but half the average commit
    /// (batches averaged 13.4 writes, then 18.5). Waiting up to the whole average: two
    /// more rounds against half of it, with the one-commit comparison beside them,
    /// `create_user` / `event_write` / `refresh` 6,124 / 6,413 / 5,907 and 5,677 / 6,352 /
    /// 5,689 against 5,602 / 6,103 / 5,439 and 5,499 / 5,749 / 5,177 req/s. On this
    /// machine's own disk, where a commit takes a fraction of a millisecond, both were the
    /// same within the noise.
    fn worth_waiting(&self, batch: usize) -> Option<(Instant, usize)> {
        // `commit` is an average of durations, so finite and not negative; were it not,
        // the cap would stand in rather than a panic on the writer thread.
        let wait = Duration::try_from_secs_f64(self.commit)
            .map_or(MAX_COMPANY_WAIT, |w| w.min(MAX_COMPANY_WAIT));
        ((batch as f64) < self.peak * 0.75)
            .then(|| (Instant::now() + wait, self.peak.round() as usize))
    }
}

/// Adds queued jobs to `batch`, up to [`MAX_BATCH`]: those already queued, or with
/// `until = Some((deadline, enough))`, those that arrive before `deadline` until the batch
/// holds `enough`.
fn gather(jobs: &mpsc::Receiver<Job>, batch: &mut Vec<Job>, until: Option<(Instant, usize)>) {
    while batch.len() < MAX_BATCH {
        let next = match until {
            None => jobs.try_recv().ok(),
            Some((_, enough)) if batch.len() >= enough => None,
            Some((deadline, _)) => deadline
                .checked_duration_since(Instant::now())
                .and_then(|left| jobs.recv_timeout(left).ok()),
        };
        match next {
            Some(job) => batch.push(job),
            None => break,
        }
    }
}

/// Wraps `f` as a [`Job`] and returns the receiver of its result.
pub fn job<T, F>(f: F) -> (Job, oneshot::Receiver<Result<T, ApiError>>)
where
    T: Send + 'static,
    F: FnOnce(&Conn<'_>) -> Result<T, ApiError> + Send + 'static,
{
    let (reply, result) = oneshot::channel();
    let job: Job = Box::new(move |tx| {
        let outcome = f(&Conn::Sqlite(tx));
        Ran {
            ok: outcome.is_ok(),
            answer: Box::new(move |commit_error: Option<&ApiError>| {
                let answer = match (outcome, commit_error) {
                    (Ok(_), Some(e)) => Err(e.duplicate()),
                    (outcome, _) => outcome,
                };
                // The caller may have gone (its request was cancelled): nothing to tell.
                let _ = reply.send(answer);
            }),
        }
    });
    (job, result)
}

/// Queues `f` for the writer thread and waits for its committed result.
pub async fn submit<T, F>(queue: &mpsc::Sender<Job>, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Conn<'_>) -> Result<T, ApiError> + Send + 'static,
{
    let (job, result) = job(f);
    queue
        .send(job)
        .map_err(|_| ApiError::internal("the database writer thread has stopped"))?;
    result
        .await
        .map_err(|_| ApiError::internal("the write was abandoned before it committed"))?
}

/// Runs `batch` in as few transactions as possible (one, unless SQLite aborts one under
/// a closure) and answers every caller after its transaction's commit, and after the
/// caches have dropped what the transaction changed. Returns the time spent committing.
pub fn run_batch(conn: &mut Connection, batch: Vec<Job>, caches: &Caches) -> Duration {
    let mut committing = Duration::ZERO;
    let mut jobs = batch.into_iter().peekable();
    while jobs.peek().is_some() {
        cache::record();
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                // Dropping the jobs answers each caller with an internal error.
                tracing::error!("starting a write transaction: {e}");
                return committing;
            }
        };
        let mut ran: Vec<Ran> = Vec::new();
        let mut aborted = false;
        for job in jobs.by_ref() {
            if let Err(e) = tx.execute_batch("SAVEPOINT write") {
                tracing::error!("opening a savepoint: {e}");
                continue;
            }
            let outcome = catch_unwind(AssertUnwindSafe(|| job(&tx)));
            if tx.is_autocommit() {
                // SQLite rolled the whole transaction back under this closure: the work
                // of every closure before it is gone too. Failures keep their own
                // errors; the others are dropped, which answers them with an error.
                if let Ok(r) = outcome {
                    ran.push(r);
                }
                for r in ran.drain(..).filter(|r| !r.ok) {
                    (r.answer)(None);
                }
                aborted = true;
                break;
            }
            let kept = matches!(&outcome, Ok(r) if r.ok);
            let end = if kept {
                "RELEASE write"
            } else {
                "ROLLBACK TO write; RELEASE write"
            };
            if let Err(e) = tx.execute_batch(end) {
                tracing::error!("closing a savepoint: {e}");
            }
            // A panicking closure is simply dropped: its caller gets an internal error.
            if let Ok(r) = outcome {
                ran.push(r);
            }
        }
        if aborted {
            caches.apply(cache::recorded());
            continue;
        }
        let started = Instant::now();
        let committed = tx.commit();
        committing += started.elapsed();
        caches.apply(cache::recorded());
        match committed {
            Ok(()) => ran.into_iter().for_each(|r| (r.answer)(None)),
            Err(e) => {
                tracing::error!("committing a batch of {} writes: {e}", ran.len());
                let error = ApiError::from(e);
                ran.into_iter().for_each(|r| (r.answer)(Some(&error)));
            }
        }
    }
    committing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params;
    use rocket::tokio;

    fn memory() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
                 parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        conn
    }

    fn insert(name: &'static str) -> impl FnOnce(&Conn<'_>) -> Result<i64, ApiError> {
        move |tx| {
            Ok(tx.value(
                "INSERT INTO item (name) VALUES ($1) RETURNING id",
                params![name],
            )?)
        }
    }

    fn names(conn: &Connection) -> Vec<String> {
        let mut stmt = conn.prepare("SELECT name FROM item ORDER BY id").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// What `submit` would answer: the result, or an internal error if the job was
    /// dropped (a closed channel). Never "not yet": the batch is done.
    fn answer<T>(mut rx: oneshot::Receiver<Result<T, ApiError>>) -> Result<T, ApiError> {
        match rx.try_recv() {
            Ok(result) => result,
            Err(oneshot::error::TryRecvError::Closed) => Err(ApiError::internal("dropped")),
            Err(oneshot::error::TryRecvError::Empty) => panic!("not answered"),
        }
    }

    #[test]
    fn a_failing_closure_rolls_back_only_its_own_work() {
        let mut conn = memory();
        let (a, ra) = job(insert("a"));
        let (b, rb) = job(|tx: &Conn<'_>| {
            tx.execute("INSERT INTO item (name) VALUES ('b')", params![])?;
            // Fails after writing: its own insert must not survive.
            tx.execute("INSERT INTO item (name) VALUES ('a')", params![])?;
            Ok(0)
        });
        let (c, rc) = job(|_: &Conn<'_>| -> Result<i64, ApiError> {
            Err(ApiError::bad_request("c: refused"))
        });
        let (d, rd) = job(|_: &Conn<'_>| -> Result<i64, ApiError> { panic!("d") });
        let (e, re) = job(insert("e"));
        run_batch(&mut conn, vec![a, b, c, d, e], &Caches::default());
        assert_eq!(names(&conn), ["a", "e"]);
        assert!(answer(ra).is_ok());
        assert_eq!(answer(rb).unwrap_err().code(), "server_error");
        assert_eq!(answer(rc).unwrap_err().code(), "invalid_request");
        assert!(answer(rd).is_err(), "a panic answers with an error");
        assert!(answer(re).is_ok());
    }

    #[test]
    fn a_failed_commit_is_reported_to_every_caller() {
        let mut conn = memory();
        let (a, ra) = job(insert("a"));
        // A deferred foreign key is only checked at COMMIT, which then fails.
        let (b, rb) = job(|tx: &Conn<'_>| {
            tx.execute(
                "INSERT INTO item (name, parent) VALUES ('orphan', 42)",
                params![],
            )?;
            Ok(0)
        });
        let (c, rc) = job(insert("c"));
        run_batch(&mut conn, vec![a, b, c], &Caches::default());
        assert!(
            names(&conn).is_empty(),
            "nothing of the batch was committed"
        );
        for rx in [ra, rb, rc] {
            assert!(answer(rx).is_err());
        }
        // The connection is usable afterwards.
        let (d, rd) = job(insert("d"));
        run_batch(&mut conn, vec![d], &Caches::default());
        assert!(answer(rd).is_ok());
        assert_eq!(names(&conn), ["d"]);
    }

    #[test]
    fn results_reach_their_own_callers() {
        let mut conn = memory();
        let mut receivers = Vec::new();
        let mut batch = Vec::new();
        for i in 0..50i64 {
            let (j, rx) = job(move |tx: &Conn<'_>| {
                tx.execute(
                    "INSERT INTO item (id, name) VALUES ($1, $2)",
                    params![i * 7, i.to_string()],
                )?;
                Ok(i)
            });
            batch.push(j);
            receivers.push((i, rx));
        }
        run_batch(&mut conn, batch, &Caches::default());
        for (i, rx) in receivers {
            assert_eq!(answer(rx).unwrap(), i);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writes_through_the_thread_are_each_answered_with_their_own_result() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("t.db")).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE item (id INTEGER PRIMARY KEY, n INTEGER);",
        )
        .unwrap();
        let queue = spawn(Arc::new(Mutex::new(conn)), Arc::default()).unwrap();
        let mut tasks = Vec::new();
        for n in 0..400i64 {
            let queue = queue.clone();
            tasks.push(tokio::spawn(async move {
                let id: i64 = submit(&queue, move |tx| {
                    Ok(tx.value("INSERT INTO item (n) VALUES ($1) RETURNING id", params![n])?)
                })
                .await
                .unwrap();
                let read = submit(&queue, move |tx| {
                    Ok(tx.value::<i64>("SELECT n FROM item WHERE id = $1", params![id])?)
                })
                .await
                .unwrap();
                assert_eq!(read, n, "the answer belongs to this caller's own write");
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }

    fn noop() -> Job {
        job(|_: &Conn<'_>| Ok(())).0
    }

    #[test]
    fn only_a_batch_well_under_the_recent_peak_waits_and_never_long() {
        let ms = Duration::from_millis;
        let mut now = Instant::now();
        let mut company = Company::default();
        assert!(company.worth_waiting(1).is_none(), "nothing seen: no wait");
        for _ in 0..20 {
            now += ms(2);
            company.saw_at(1, ms(1), now);
            assert!(
                company.worth_waiting(1).is_none(),
                "a lone writer never waits"
            );
        }
        now += ms(2);
        company.saw_at(32, ms(1), now);
        assert!(
            company.worth_waiting(24).is_none(),
            "three quarters go at once"
        );
        let before = Instant::now();
        let (deadline, enough) = company.worth_waiting(10).expect("10 after 32 waits");
        assert_eq!(enough, 32, "until the batch is as large as the peak");
        // The average commit: from zero, each of the 21 weighing 1/8, 0.94 ms.
        assert!(deadline >= before + Duration::from_micros(900));
        assert!(deadline <= Instant::now() + ms(1));
        // Lone writes in quick succession after the burst still wait for company…
        for _ in 0..10 {
            now += ms(2);
            company.saw_at(1, ms(3), now);
        }
        assert!(
            company.worth_waiting(1).is_some(),
            "20 ms after a burst of 32"
        );
        // …but a write a second later finds the burst forgotten.
        now += Duration::from_secs(1);
        company.saw_at(1, ms(3), now);
        assert!(
            company.worth_waiting(1).is_none(),
            "the old peak is forgotten"
        );
        // Slow commits: never past the cap.
        for _ in 0..50 {
            now += ms(2);
            company.saw_at(32, Duration::from_secs(1), now);
        }
        let (deadline, _) = company.worth_waiting(1).expect("waits");
        assert!(deadline <= Instant::now() + MAX_COMPANY_WAIT);
    }

    #[test]
    fn gathering_takes_what_is_queued_without_waiting() {
        let (tx, rx) = mpsc::channel();
        for _ in 0..3 {
            tx.send(noop()).unwrap();
        }
        let mut batch = vec![noop()];
        gather(&rx, &mut batch, None);
        assert_eq!(batch.len(), 4);
        // Nothing queued: returns at once, and never past MAX_BATCH.
        gather(&rx, &mut batch, None);
        assert_eq!(batch.len(), 4);
        for _ in 0..MAX_BATCH + 10 {
            tx.send(noop()).unwrap();
        }
        gather(&rx, &mut batch, None);
        assert_eq!(batch.len(), MAX_BATCH);
    }

    #[test]
    fn waiting_for_company_ends_when_enough_have_come() {
        let (tx, rx) = mpsc::channel();
        let late = std::thread::spawn(move || {
            for _ in 0..3 {
                std::thread::sleep(Duration::from_millis(5));
                tx.send(noop()).unwrap();
            }
            // Kept open until joined: the wait must end on `enough`, not on a closed queue.
            tx
        });
        let mut batch = vec![noop()];
        let long = Instant::now() + Duration::from_secs(60);
        gather(&rx, &mut batch, Some((long, 3)));
        assert_eq!(batch.len(), 3, "stopped once the batch held enough");
        assert!(Instant::now() < long);
        // A deadline already past adds nothing, even with a job queued.
        std::thread::sleep(Duration::from_millis(20));
        gather(&rx, &mut batch, Some((Instant::now(), 10)));
        assert_eq!(batch.len(), 3);
        gather(&rx, &mut batch, None);
        assert_eq!(batch.len(), 4, "the late job was still queued");
        drop(late.join().unwrap());
    }
}
