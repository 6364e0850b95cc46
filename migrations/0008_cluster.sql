-- Shared state for several nodes over one database (issue 11). With one node both tables
-- stay small and cost nothing; with several, they are what makes a limit or a job hold
-- once for the cluster rather than once per node.

-- Cluster-wide rate limits: one counter per limited key (e.g. "login:<ip>") per fixed
-- window, so an attacker spreading attempts over the nodes behind a load balancer still
-- meets one limit. A node bumps its row with INSERT … ON CONFLICT DO UPDATE SET
-- hits = rate_limits.hits + 1 … RETURNING hits (qualified: PostgreSQL finds a bare
-- "hits" ambiguous there); rows of windows that have ended are deleted.
-- NOT NULL is spelt out: a rowid table's PRIMARY KEY would otherwise accept NULL.
CREATE TABLE rate_limits (
    key          TEXT NOT NULL,
    window_start INTEGER NOT NULL,                  -- unix seconds, start of the window
    hits         INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
) STRICT, WITHOUT ROWID;
-- Pruning ended windows reads by time, not by key.
CREATE INDEX rate_limits_by_window ON rate_limits(window_start);

-- When each background job (retention, scheduled backups, key rotation, …) last ran
-- anywhere in the cluster, and on which node. A node runs a job only if it wins the
-- conditional UPDATE that moves last_run_at forward, so a job runs once per period for
-- the cluster, not once per node; a node that dies mid-period just leaves the row as it was.
CREATE TABLE job_runs (
    job         TEXT NOT NULL PRIMARY KEY,          -- e.g. retention, backup, key_rotation
    last_run_at INTEGER NOT NULL,                   -- unix seconds
    node        TEXT NOT NULL                       -- the node that ran it, for operators
) STRICT;
