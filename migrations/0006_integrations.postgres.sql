-- PostgreSQL variant of 0006_integrations.sql (same tables, columns and order; see issue 11).
-- Integrations (OAuth 2.0 confidential clients such as IFTTT and Alexa, registered under
-- one of a developer's clients), the links users grant them, the short link codes a
-- person types on the authorization page, and authorization codes.

CREATE TABLE integrations (
    id                 TEXT COLLATE "C" PRIMARY KEY,     -- int_…; also its OAuth client_id
    client_id          TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    redirect_uris      TEXT NOT NULL,                    -- JSON array of exact URIs
    scopes             TEXT NOT NULL,                    -- space-separated, what it may ask for
    secret_sealed      BYTEA NOT NULL,                   -- like client secrets: sealed …
    secret_hash        BYTEA NOT NULL,                   -- … and keyed-hashed
    service_key_sealed BYTEA,                            -- IFTTT's service key, when set
    service_key_hash   BYTEA,
    created_at         BIGINT NOT NULL
);
CREATE INDEX integrations_by_client ON integrations(client_id, created_at);
CREATE UNIQUE INDEX integrations_by_service_key ON integrations(service_key_hash)
    WHERE service_key_hash IS NOT NULL;

CREATE TABLE links (
    integration_id TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scopes         TEXT NOT NULL,                        -- what the user granted
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (integration_id, user_id)
);
CREATE INDEX links_by_user ON links(user_id);

-- Typed by a person, so short: 8 characters of an unambiguous alphabet (40 bits), single
-- use, 10 minutes; wrong tries are rate limited per address.
CREATE TABLE link_codes (
    code_hash  TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

CREATE TABLE auth_codes (
    code_hash      TEXT PRIMARY KEY,
    integration_id TEXT NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    code_challenge TEXT,                                 -- PKCE S256, when one was sent
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    family_id      TEXT                                  -- what the first use issued
);
