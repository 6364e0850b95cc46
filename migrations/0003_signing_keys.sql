-- Keys that sign access tokens (JWTs). Exactly one row is current (retired_at IS NULL);
-- retired rows stay so tokens they signed keep verifying, and are published in JWKS
-- until not_after (retired_at + the access-token lifetime + a margin) has passed.
CREATE TABLE signing_keys (
    -- RFC 7638 JWK thumbprint of the public key: base64url SHA-256 of its canonical JSON.
    kid         TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL CHECK (algorithm IN ('EdDSA', 'ES256', 'RS256')),
    -- The private key (PKCS#8 DER; PKCS#1 DER for RS256) sealed with the master key
    -- (XChaCha20-Poly1305, associated data "signing_key:<kid>"). Erased (NULL) at
    -- retirement: a retired key only ever verifies.
    private_key BLOB,
    -- The public key as a JWK without kid/alg/use, e.g. {"crv":"Ed25519","kty":"OKP","x":"…"}.
    public_jwk  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER,
    not_after   INTEGER,
    CHECK ((retired_at IS NULL) = (not_after IS NULL)),
    CHECK (retired_at IS NOT NULL OR private_key IS NOT NULL)
) STRICT;

-- At most one current key, whatever process inserts it.
CREATE UNIQUE INDEX signing_keys_one_current
    ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;
