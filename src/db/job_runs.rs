//! The `job_runs` table: which node last ran each background job, so a job runs once
//! per period for the whole cluster rather than once per node.

use crate::db::sql::{self, Conn};
use crate::params;

/// Claims this period's run of `job` for `node`: true for exactly one caller per
/// `every_secs` across every node sharing the database (the one whose conditional UPDATE
/// moved `last_run_at` forward), false for the rest.
pub fn claim(
    conn: &Conn<'_>,
    job: &str,
    node: &str,
    now: i64,
    every_secs: i64,
) -> sql::Result<bool> {
    conn.execute(
        "INSERT INTO job_runs (job, last_run_at, node) VALUES ($1, $2, '')
         ON CONFLICT (job) DO NOTHING",
        params![job, i64::MIN / 2],
    )?;
    Ok(conn.execute(
        "UPDATE job_runs SET last_run_at = $1, node = $2 WHERE job = $3 AND last_run_at <= $4",
        params![now, node, job, now.saturating_sub(every_secs)],
    )? == 1)
}
