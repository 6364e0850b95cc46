-- Security events (sign-ins, password changes, clients, secrets, keys, integrations,
-- users), for each developer's Activity page and for operators. Never a secret.
CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,                 -- unix seconds
    developer_id TEXT,                             -- whose Activity shows it; NULL: the server's own
    actor        TEXT NOT NULL,                    -- developer:<id>, user:<id>, anonymous, cli, system
    action       TEXT NOT NULL,                    -- e.g. login.failed, client.secret_rotated
    target       TEXT,                             -- what it concerns: a client, user, integration, key
    ip           TEXT
) STRICT;
CREATE INDEX audit_events_by_developer ON audit_events(developer_id, id);
CREATE INDEX audit_events_by_time ON audit_events(at);
