-- PostgreSQL variant of 0002_accounts.sql (same tables, columns and order; see issue 11).
-- Developer accounts, their portal sessions and the single-use tokens sent by email.

CREATE TABLE developers (
    id                  TEXT PRIMARY KEY,            -- dev_…
    email               TEXT NOT NULL UNIQUE,        -- normalised: trimmed, lower case
    password_hash       TEXT NOT NULL,               -- argon2id PHC string
    email_verified_at   BIGINT,                      -- unix seconds; NULL until verified
    created_at          BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL
);

-- Only a hash of the cookie value is stored: a copy of the database opens no session.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    developer_id TEXT NOT NULL REFERENCES developers(id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL                     -- absolute end, whatever the activity
);
CREATE INDEX sessions_by_developer ON sessions(developer_id);

CREATE TABLE email_tokens (
    token_hash   TEXT PRIMARY KEY,
    developer_id TEXT NOT NULL REFERENCES developers(id) ON DELETE CASCADE,
    purpose      TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
CREATE INDEX email_tokens_by_developer ON email_tokens(developer_id, purpose);
