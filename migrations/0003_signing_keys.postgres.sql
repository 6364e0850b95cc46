-- PostgreSQL variant of 0003_signing_keys.sql (same tables, columns and order; see issue 11).
-- Keys that sign access tokens (JWTs). Exactly one row is current (retired_at IS NULL);
-- retired rows stay so tokens they signed keep verifying, and are published in JWKS
-- until not_after (retired_at + the access-token lifetime + a margin) has passed.
-- There is no rowid here: order by created_at (then kid) where SQLite orders by rowid.
CREATE TABLE signing_keys (
    -- RFC 7638 JWK thumbprint of the public key: base64url SHA-256 of its canonical JSON.
    kid         TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL CHECK (algorithm IN ('EdDSA', 'ES256', 'RS256')),
    -- The private key (PKCS#8 DER; PKCS#1 DER for RS256) sealed with the master key
    -- (XChaCha20-Poly1305, associated data "signing_key:<kid>"). Erased (NULL) at
    -- retirement: a retired key only ever verifies.
    private_key BYTEA,
    -- The public key as a JWK without kid/alg/use, e.g. {"crv":"Ed25519","kty":"OKP","x":"…"}.
    public_jwk  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT,
    not_after   BIGINT,
    CHECK ((retired_at IS NULL) = (not_after IS NULL)),
    CHECK (retired_at IS NOT NULL OR private_key IS NOT NULL)
);

-- At most one current key, whatever process (or node) inserts it.
CREATE UNIQUE INDEX signing_keys_one_current
    ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;
