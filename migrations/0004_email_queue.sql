-- Outgoing email, queued in the same transaction as the record that caused it and
-- delivered by the background worker (src/email/worker.rs) with retry and backoff.
--
-- created_at and sent_at are unix seconds, like every other table. next_attempt_at is
-- unix *milliseconds*: the worker schedules retries a few seconds apart (less in tests).
-- A row is pending while sent_at and next_attempt_at are set; it is sent when sent_at is
-- set, and given up when next_attempt_at is NULL without sent_at (last_error says why).
-- Bodies carry single-use tokens, so they are blanked once a row is sent or given up.
CREATE TABLE email_queue (
    id              INTEGER PRIMARY KEY,
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
) STRICT;

-- The worker's question, "what is due, oldest first", reads only pending rows.
CREATE INDEX email_queue_pending ON email_queue (next_attempt_at, id)
    WHERE sent_at IS NULL AND next_attempt_at IS NOT NULL;
