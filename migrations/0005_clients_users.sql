-- Clients (one per mobile app), their users, refresh-token families, events, and the
-- durable list of revocations that every node keeps in memory.

CREATE TABLE clients (
    id                TEXT PRIMARY KEY,                 -- the public client_id, cl_…
    developer_id      TEXT NOT NULL REFERENCES developers(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    -- The secret sealed with the master key (associated data "client_secret:<id>"), so
    -- the portal can show it, and its keyed hash (HMAC-SHA-256), checked on each use.
    secret_sealed     BLOB NOT NULL,
    secret_hash       BLOB NOT NULL,
    -- Bumped by each rotation; client tokens carry it, so older ones fail at once.
    secret_generation INTEGER NOT NULL DEFAULT 1,
    disabled_at       INTEGER,
    created_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX clients_by_developer ON clients(developer_id, created_at);

CREATE TABLE users (
    id          TEXT PRIMARY KEY,                       -- usr_…
    client_id   TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    metadata    TEXT NOT NULL DEFAULT '{}',             -- a JSON object, at most 4 KiB
    disabled_at INTEGER,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX users_by_client ON users(client_id, id);
CREATE INDEX users_by_client_created ON users(client_id, created_at);

-- One family per sign-in chain: every refresh token descended from one user creation
-- (or one integration link). Reuse of a spent token revokes the whole family.
CREATE TABLE refresh_families (
    id             TEXT PRIMARY KEY,                    -- fam_…
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id      TEXT NOT NULL,
    integration_id TEXT,
    scope          TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER
) STRICT;
CREATE INDEX refresh_families_by_user ON refresh_families(user_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,                        -- SHA-256 of the opaque token
    family_id  TEXT NOT NULL REFERENCES refresh_families(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX refresh_tokens_by_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_by_created ON refresh_tokens(created_at);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type        TEXT NOT NULL,
    data        TEXT NOT NULL,                          -- JSON, at most 16 KiB
    occurred_at INTEGER,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX events_by_user ON events(user_id, id);

-- What must be refused before its natural expiry: a user (disabled or deleted), a
-- refresh family, a single access token (jti), a client (deleted). Kept until every
-- access token it concerns has expired; loaded into memory at start.
CREATE TABLE revocations (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('user', 'family', 'jti', 'client', 'integration')),
    subject    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX revocations_by_expiry ON revocations(expires_at);

-- Access tokens issued per client per UTC day, for the portal's charts.
CREATE TABLE token_stats (
    client_id     TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    day           INTEGER NOT NULL,                     -- unix day number
    tokens_issued INTEGER NOT NULL,
    PRIMARY KEY (client_id, day)
) STRICT, WITHOUT ROWID;
