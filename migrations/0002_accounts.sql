-- Developer accounts, their portal sessions and the single-use tokens sent by email.

CREATE TABLE developers (
    id                  TEXT PRIMARY KEY,            -- dev_…
    email               TEXT NOT NULL UNIQUE,        -- normalised: trimmed, lower case
    password_hash       TEXT NOT NULL,               -- argon2id PHC string
    email_verified_at   INTEGER,                     -- unix seconds; NULL until verified
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
) STRICT;

-- Only a hash of the cookie value is stored: a copy of the database opens no session.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    developer_id TEXT NOT NULL REFERENCES developers(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL                    -- absolute end, whatever the activity
) STRICT;
CREATE INDEX sessions_by_developer ON sessions(developer_id);

CREATE TABLE email_tokens (
    token_hash   TEXT PRIMARY KEY,
    developer_id TEXT NOT NULL REFERENCES developers(id) ON DELETE CASCADE,
    purpose      TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
) STRICT;
CREATE INDEX email_tokens_by_developer ON email_tokens(developer_id, purpose);
