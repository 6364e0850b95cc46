-- PostgreSQL variant of 0001_init.sql (same tables, columns and order; see issue 11).
-- The first schema: the key-value table the server uses for its own settings and
-- bookkeeping. Later migrations add developers, clients, users and the rest.
CREATE TABLE server_meta (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
