//! Key material for token signing: generating key pairs, their public halves as JWKs
//! (RFC 7517/7518), and the RFC 7638 thumbprint that names each key (`kid`).
//!
//! Generation uses the RustCrypto crates that `jsonwebtoken` itself signs with
//! (ed25519-dalek, p256, rsa), fed by the operating system's RNG. Private keys are handed
//! around only as [`PrivateKeyDer`], which is wiped on drop and never printed.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use getrandom::SysRng;
use jsonwebtoken::{DecodingKey, EncodingKey};
use p256::elliptic_curve::sec1::ToSec1Point as _;
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::EncodePrivateKey as _;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::Algorithm;

/// RSA modulus size for RS256: 2048 bits, the common floor (NIST SP 800-57 to 2030).
pub const RSA_BITS: usize = 2048;

/// The algorithm's name as JOSE and our `signing_keys.algorithm` column spell it.
pub fn algorithm_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::EdDSA => "EdDSA",
        Algorithm::ES256 => "ES256",
        Algorithm::RS256 => "RS256",
    }
}

/// The inverse of [`algorithm_name`]; `None` for anything we never sign with.
pub fn parse_algorithm(name: &str) -> Option<Algorithm> {
    match name {
        "EdDSA" => Some(Algorithm::EdDSA),
        "ES256" => Some(Algorithm::ES256),
        "RS256" => Some(Algorithm::RS256),
        _ => None,
    }
}

/// `jsonwebtoken`'s name for the same algorithm.
pub fn jwt_algorithm(alg: Algorithm) -> jsonwebtoken::Algorithm {
    match alg {
        Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
    }
}

/// Why key material could not be made or used. Texts carry no key bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    #[error("the system random number generator failed")]
    Rng,
    #[error("cannot encode the new private key")]
    Encode,
    #[error("the public key is not a usable {0} JWK")]
    BadPublicKey(&'static str),
}

/// A private key as DER, in the form `jsonwebtoken` reads it: PKCS#8 for EdDSA and ES256,
/// PKCS#1 for RS256. Wiped on drop; `Debug` prints `***`.
pub struct PrivateKeyDer(Zeroizing<Vec<u8>>);

impl PrivateKeyDer {
    pub fn new(der: Zeroizing<Vec<u8>>) -> PrivateKeyDer {
        PrivateKeyDer(der)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The signing key for `alg`. `jsonwebtoken` checks the DER when it signs, so call
    /// this once and keep the result (see `keys::KeyRing`, which self-tests it).
    pub fn encoding_key(&self, alg: Algorithm) -> EncodingKey {
        match alg {
            Algorithm::EdDSA => EncodingKey::from_ed_der(&self.0),
            Algorithm::ES256 => EncodingKey::from_ec_der(&self.0),
            Algorithm::RS256 => EncodingKey::from_rsa_der(&self.0),
        }
    }
}

impl fmt::Debug for PrivateKeyDer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyDer(***)")
    }
}

/// The public half of a signing key, as the members RFC 7518 defines for its key type.
/// `kid`, `alg` and `use` are added when published (see `keys::PublishedJwk`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kty")]
pub enum PublicJwk {
    /// Ed25519 (RFC 8037).
    #[serde(rename = "OKP")]
    Okp { crv: String, x: String },
    /// P-256.
    #[serde(rename = "EC")]
    Ec { crv: String, x: String, y: String },
    #[serde(rename = "RSA")]
    Rsa { n: String, e: String },
}

impl PublicJwk {
    /// RFC 7638 thumbprint: base64url(SHA-256) of the required members in lexicographic
    /// order, without whitespace. Written out member by member rather than left to a JSON
    /// map, whose key order depends on serde_json's features.
    pub fn thumbprint(&self) -> String {
        let s = |v: &str| serde_json::Value::from(v).to_string();
        let canonical = match self {
            PublicJwk::Okp { crv, x } => {
                format!(r#"{{"crv":{},"kty":"OKP","x":{}}}"#, s(crv), s(x))
            }
            PublicJwk::Ec { crv, x, y } => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                s(crv),
                s(x),
                s(y)
            ),
            PublicJwk::Rsa { n, e } => {
                format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, s(e), s(n))
            }
        };
        URL_SAFE_NO_PAD.encode(super::secrets::sha256(canonical.as_bytes()))
    }

    /// Whether this key type and curve can carry `alg`.
    pub fn fits(&self, alg: Algorithm) -> bool {
        match (self, alg) {
            (PublicJwk::Okp { crv, .. }, Algorithm::EdDSA) => crv == "Ed25519",
            (PublicJwk::Ec { crv, .. }, Algorithm::ES256) => crv == "P-256",
            (PublicJwk::Rsa { .. }, Algorithm::RS256) => true,
            _ => false,
        }
    }

    /// The verifying key for `jsonwebtoken`.
    pub fn decoding_key(&self) -> Result<DecodingKey, JwkError> {
        match self {
            PublicJwk::Okp { x, .. } => {
                DecodingKey::from_ed_components(x).map_err(|_| JwkError::BadPublicKey("OKP"))
            }
            PublicJwk::Ec { x, y, .. } => {
                DecodingKey::from_ec_components(x, y).map_err(|_| JwkError::BadPublicKey("EC"))
            }
            PublicJwk::Rsa { n, e } => {
                DecodingKey::from_rsa_components(n, e).map_err(|_| JwkError::BadPublicKey("RSA"))
            }
        }
    }
}

/// A freshly generated key pair.
#[derive(Debug)]
pub struct KeyPair {
    pub algorithm: Algorithm,
    pub private: PrivateKeyDer,
    pub public: PublicJwk,
}

/// Generates a key pair for `alg`: Ed25519, P-256, or RSA-2048 (slow in debug builds).
pub fn generate(alg: Algorithm) -> Result<KeyPair, JwkError> {
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let (private, public) = match alg {
        Algorithm::EdDSA => {
            let mut seed = Zeroizing::new([0u8; 32]);
            getrandom::fill(seed.as_mut_slice()).map_err(|_| JwkError::Rng)?;
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            let der = key.to_pkcs8_der().map_err(|_| JwkError::Encode)?;
            let public = PublicJwk::Okp {
                crv: "Ed25519".into(),
                x: b64(key.verifying_key().as_bytes()),
            };
            (Zeroizing::new(der.as_bytes().to_vec()), public)
        }
        Algorithm::ES256 => {
            let key =
                p256::SecretKey::try_generate_from_rng(&mut SysRng).map_err(|_| JwkError::Rng)?;
            let der = key.to_pkcs8_der().map_err(|_| JwkError::Encode)?;
            let point = key.public_key().to_sec1_point(false);
            // Uncompressed SEC1: 0x04 || x (32 bytes) || y (32 bytes).
            let (x, y) = match point.as_bytes() {
                [4, rest @ ..] if rest.len() == 64 => rest.split_at(32),
                _ => return Err(JwkError::Encode),
            };
            let public = PublicJwk::Ec {
                crv: "P-256".into(),
                x: b64(x),
                y: b64(y),
            };
            (Zeroizing::new(der.as_bytes().to_vec()), public)
        }
        Algorithm::RS256 => {
            let key = rsa::PrivateKey::new(&mut SysRng, RSA_BITS).map_err(|_| JwkError::Encode)?;
            let der = key.to_pkcs1_der().map_err(|_| JwkError::Encode)?;
            let public = PublicJwk::Rsa {
                n: b64(&key.n_bytes()),
                e: b64(&key.e_bytes()),
            };
            (Zeroizing::new(der.as_bytes().to_vec()), public)
        }
    };
    Ok(KeyPair {
        algorithm: alg,
        private: PrivateKeyDer(private),
        public,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 §3.1.
        let jwk = PublicJwk::Rsa {
            n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhD\
                R1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6C\
                f0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n\
                91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF\
                44-csFCur-kEgU8awapJzKnqDKgw"
                .into(),
            e: "AQAB".into(),
        };
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn thumbprint_ignores_member_order_and_depends_on_every_member() {
        let a: PublicJwk =
            serde_json::from_str(r#"{"y":"Y","x":"X","kty":"EC","crv":"P-256"}"#).unwrap();
        let b = PublicJwk::Ec {
            crv: "P-256".into(),
            x: "X".into(),
            y: "Y".into(),
        };
        assert_eq!(a.thumbprint(), b.thumbprint());
        let c = PublicJwk::Ec {
            crv: "P-256".into(),
            x: "X".into(),
            y: "Z".into(),
        };
        assert_ne!(a.thumbprint(), c.thumbprint());
    }

    #[test]
    fn generated_keys_sign_and_verify_with_their_public_jwk() {
        for alg in [Algorithm::EdDSA, Algorithm::ES256] {
            let pair = generate(alg).unwrap();
            assert!(pair.public.fits(alg));
            let key = pair.private.encoding_key(alg);
            let sig = jsonwebtoken::crypto::sign(b"msg", &key, jwt_algorithm(alg)).unwrap();
            let dk = pair.public.decoding_key().unwrap();
            assert!(jsonwebtoken::crypto::verify(&sig, b"msg", &dk, jwt_algorithm(alg)).unwrap());
            assert!(!jsonwebtoken::crypto::verify(&sig, b"msg2", &dk, jwt_algorithm(alg)).unwrap());
            assert_eq!(format!("{:?}", pair.private), "PrivateKeyDer(***)");
            assert_ne!(generate(alg).unwrap().public, pair.public);
        }
    }

    #[test]
    fn algorithm_names_round_trip() {
        for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
            assert_eq!(parse_algorithm(algorithm_name(alg)), Some(alg));
        }
        assert_eq!(parse_algorithm("none"), None);
        assert_eq!(parse_algorithm("HS256"), None);
    }
}
