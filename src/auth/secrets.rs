//! Cryptography for secrets at rest and for high-entropy tokens, built only from
//! well-kept RustCrypto crates: nothing here invents a construction.
//!
//! - [`Secrets::seal`] / [`Secrets::open`]: XChaCha20-Poly1305 with a random 192-bit nonce
//!   stored beside the ciphertext. A random nonce that long never repeats in practice, so
//!   no counter has to survive restarts or be shared between processes. The associated
//!   data names the row and purpose (`"client_secret:cl_…"`), so a ciphertext copied into
//!   another row or column fails to open instead of being accepted.
//! - [`Secrets::keyed_hash`] / [`Secrets::verify_keyed_hash`]: HMAC-SHA-256 for looking up
//!   and checking high-entropy secrets (client secrets) in constant time. A keyed hash
//!   rather than a plain one: a stolen database alone cannot confirm a guessed secret.
//! - [`random_token`], [`sha256`], [`token_hash`]: fresh tokens from the OS RNG, and the
//!   plain SHA-256 used to store tokens that carry 256 bits of entropy (refresh tokens,
//!   email tokens), where a slow or keyed hash would add nothing.
//!
//! Neither the AEAD key nor the HMAC key is the master key itself: each is derived from it
//! with HKDF-SHA-256 under its own label, so the two uses can never interfere.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::master_key::MasterKey;

/// The first byte of every sealed value, so a later format (another cipher, a rotated
/// master key) can be told apart from this one.
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// HKDF labels: changing one changes every key derived with it.
const AEAD_LABEL: &[u8] = b"set-server/v1 secrets-at-rest aead";
const MAC_LABEL: &[u8] = b"set-server/v1 keyed-hash hmac-sha256";

/// Why a sealed secret could not be produced or opened. The texts never carry key
/// material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot encrypt the secret")]
    Encrypt,
    /// Wrong master key, altered bytes, or a ciphertext moved to another row or purpose.
    #[error("cannot decrypt the secret: wrong master key, altered data, or data moved from another record")]
    Decrypt,
    #[error("the sealed secret has an unknown format")]
    Format,
    #[error("the system random number generator failed")]
    Rng,
}

/// The keys derived from the master key, ready to use. Cheap to clone; `Debug` shows no key.
#[derive(Clone)]
pub struct Secrets {
    aead: XChaCha20Poly1305,
    /// HMAC already keyed (its inner and outer pads computed once); cloned for each use.
    mac: Hmac<Sha256>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets(***)")
    }
}

impl Secrets {
    /// Derives the AEAD and HMAC keys from the master key.
    pub fn new(master: &MasterKey) -> Secrets {
        let hk = Hkdf::<Sha256>::new(None, master.bytes());
        let mut aead_key = Zeroizing::new([0u8; 32]);
        // 64 bytes: one SHA-256 block, the HMAC key size that needs no hashing or padding.
        let mut mac_key = Zeroizing::new([0u8; 64]);
        // `expand` fails only for outputs longer than 255 × 32 bytes; these never are.
        let _ = hk.expand(AEAD_LABEL, aead_key.as_mut_slice());
        let _ = hk.expand(MAC_LABEL, mac_key.as_mut_slice());
        let aead = XChaCha20Poly1305::new(&(*aead_key).into());
        let mac = <Hmac<Sha256> as KeyInit>::new(&(*mac_key).into());
        Secrets { aead, mac }
    }

    /// Encrypts `plaintext`, binding it to `aad` (which is authenticated, not stored): the
    /// result opens only with the same master key and the same `aad`.
    /// Layout: `0x01 || nonce (24 bytes) || ciphertext || tag (16 bytes)`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let mut nonce_bytes = [0u8; NONCE_LEN];
        rand::rngs::OsRng
            .try_fill_bytes(&mut nonce_bytes)
            .map_err(|_| SecretsError::Rng)?;
        let nonce = XNonce::from(nonce_bytes);
        let ciphertext = self
            .aead
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SecretsError::Encrypt)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Decrypts what [`Secrets::seal`] produced with the same `aad`. Fails with
    /// [`SecretsError::Decrypt`] on any alteration, another master key or another `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
        let (&version, rest) = sealed.split_first().ok_or(SecretsError::Format)?;
        if version != FORMAT_V1 || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretsError::Format);
        }
        let (nonce_bytes, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce_arr: [u8; NONCE_LEN] =
            nonce_bytes.try_into().map_err(|_| SecretsError::Format)?;
        let plaintext = self
            .aead
            .decrypt(
                &XNonce::from(nonce_arr),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| SecretsError::Decrypt)?;
        Ok(Zeroizing::new(plaintext))
    }

    /// HMAC-SHA-256 of `data` under the derived hashing key, domain-separated by `purpose`
    /// (e.g. `"client_secret"`), so a hash made for one purpose never matches another.
    pub fn keyed_hash(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        self.mac(purpose, data).finalize().into_bytes().into()
    }

    /// Whether `expected` is the keyed hash of `data` for `purpose`, compared in constant
    /// time (HMAC's own `verify`), so response timing reveals nothing about the stored hash.
    pub fn verify_keyed_hash(&self, purpose: &str, data: &[u8], expected: &[u8]) -> bool {
        self.mac(purpose, data).verify_slice(expected).is_ok()
    }

    fn mac(&self, purpose: &str, data: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        // Length-prefixing the purpose makes ("ab", "c…") and ("a", "bc…") distinct inputs.
        mac.update(&(purpose.len() as u64).to_be_bytes());
        mac.update(purpose.as_bytes());
        mac.update(data);
        mac
    }
}

/// `bytes` random bytes from the operating system's RNG, as base64url without padding.
/// Use at least 16 bytes for identifiers and 32 for secrets.
pub fn random_token(bytes: usize) -> String {
    let mut buf = Zeroizing::new(vec![0u8; bytes]);
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(&*buf)
}

/// 128 bits from the thread's CSPRNG (rand's `ThreadRng`: ChaCha, seeded and reseeded
/// from the operating system), as base64url: for values that must be unique and
/// unguessable but open nothing, such as a token's `jti`. It spares the system call
/// [`random_token`] makes, one per token issued; secrets keep drawing from the OS.
pub fn random_nonce() -> String {
    let mut buf = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The random part of a [`new_token`]: 43 characters, 256 bits.
const TOKEN_RANDOM_CHARS: usize = 43;

/// A new refresh token or authorization code: `prefix_`, 8 characters of the creation time
/// (`ids::time_chars`), then 256 random bits. The time part exists only so that
/// [`token_key`] sorts by creation time; it adds nothing to guess.
pub fn new_token(prefix: &str) -> String {
    format!("{prefix}_{}{}", crate::ids::time_chars(), random_token(32))
}

/// The database key of a token from [`new_token`]: its 8 time characters, then
/// [`token_hash`] of the whole token. Keys of one batch of writes sort next to each other,
/// so their rows share the index's last pages instead of dirtying one random page each,
/// for the same reason as the ids (see `ids`). A token made before these (its prefix and
/// 43 random characters) is keyed by its hash alone, as it was stored.
pub fn token_key(token: &str) -> String {
    let body = token.split_once('_').map_or(token, |(_, body)| body);
    match body.get(..8) {
        Some(time) if body.len() == 8 + TOKEN_RANDOM_CHARS => {
            format!("{time}{}", token_hash(token))
        }
        _ => token_hash(token),
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// How a high-entropy token (at least 128 random bits) is stored: base64url SHA-256 of its
/// text. Unkeyed on purpose: guessing a 256-bit token from its hash is infeasible anyway,
/// and the hash can serve as an indexed lookup key.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha256(token.as_bytes()))
}

/// Compares two byte strings in time independent of where they differ (the length is not
/// hidden). For hashes and tokens read from the database.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A string that must never be printed: `Debug` shows `***`, and the memory is wiped on
/// drop. Holds credentials between parsing and checking.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    pub fn new(value: String) -> SecretString {
        SecretString(Zeroizing::new(value))
    }

    /// The secret itself, for the one place that checks or stores it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(byte: u8) -> Secrets {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        std::fs::write(
            &path,
            base64::engine::general_purpose::STANDARD.encode([byte; 32]),
        )
        .unwrap();
        Secrets::new(&MasterKey::load_or_create(&path, false).unwrap())
    }

    #[test]
    fn seal_then_open_round_trips_with_a_fresh_nonce_each_time() {
        let s = secrets(7);
        let a = s.seal(b"top secret", b"client_secret:cl_1").unwrap();
        let b = s.seal(b"top secret", b"client_secret:cl_1").unwrap();
        assert_ne!(a, b, "nonces must differ");
        assert_eq!(a.len(), 1 + NONCE_LEN + 10 + TAG_LEN);
        assert!(!a.windows(10).any(|w| w == b"top secret"));
        assert_eq!(&**s.open(&a, b"client_secret:cl_1").unwrap(), b"top secret");
    }

    #[test]
    fn tampered_ciphertext_fails_to_open() {
        let s = secrets(7);
        let sealed = s.seal(b"top secret", b"row").unwrap();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(s.open(&bad, b"row").is_err(), "byte {i} flipped");
        }
        assert_eq!(s.open(&sealed[..20], b"row"), Err(SecretsError::Format));
        assert_eq!(s.open(&[], b"row"), Err(SecretsError::Format));
    }

    #[test]
    fn wrong_associated_data_or_master_key_fails_to_open() {
        let s = secrets(7);
        let sealed = s.seal(b"top secret", b"client_secret:cl_1").unwrap();
        assert_eq!(
            s.open(&sealed, b"client_secret:cl_2"),
            Err(SecretsError::Decrypt)
        );
        assert_eq!(
            secrets(8).open(&sealed, b"client_secret:cl_1"),
            Err(SecretsError::Decrypt)
        );
    }

    #[test]
    fn keyed_hash_verifies_only_the_same_data_purpose_and_key() {
        let s = secrets(7);
        let h = s.keyed_hash("client_secret", b"abc");
        assert!(s.verify_keyed_hash("client_secret", b"abc", &h));
        assert!(!s.verify_keyed_hash("client_secret", b"abd", &h));
        assert!(!s.verify_keyed_hash("integration_secret", b"abc", &h));
        assert!(!s.verify_keyed_hash("client_secret", b"abc", &h[..31]));
        assert!(!secrets(8).verify_keyed_hash("client_secret", b"abc", &h));
        // Not a plain SHA-256: the key matters.
        assert_ne!(h, sha256(b"abc"));
        // The HMAC key is derived, not the master key itself.
        let direct = Hmac::<Sha256>::new_from_slice(&[7u8; 32])
            .unwrap()
            .chain_update(b"abc")
            .finalize()
            .into_bytes();
        assert_ne!(h.as_slice(), direct.as_slice());
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn random_tokens_are_url_safe_and_distinct() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(a, random_token(32));
        assert_eq!(random_token(16).len(), 22);
    }

    #[test]
    fn token_hash_is_base64url_sha256() {
        // SHA-256("abc") from FIPS 180-2.
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(token_hash("abc"), URL_SAFE_NO_PAD.encode(sha256(b"abc")));
    }

    #[test]
    fn nonces_are_128_bits_and_distinct() {
        let nonces: std::collections::HashSet<String> = (0..1000).map(|_| random_nonce()).collect();
        assert_eq!(nonces.len(), 1000);
        assert!(nonces.iter().all(|n| n.len() == 22));
    }

    #[test]
    fn new_tokens_are_keyed_by_time_then_hash_and_old_ones_by_hash() {
        let first = new_token("rt");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_token("rt");
        assert_eq!(first.len(), "rt_".len() + 8 + 43);
        let key = token_key(&first);
        assert_eq!(key, format!("{}{}", &first[3..11], token_hash(&first)));
        assert!(key < token_key(&second), "keys sort by creation time");
        // Made before time-ordered tokens: the hash alone, as those rows were stored.
        let old = format!("rt_{}", random_token(32));
        assert_eq!(token_key(&old), token_hash(&old));
        // Whatever is presented gets a key, without a panic on a multi-byte character.
        // The last case is 51 bytes long with a character across byte 8.
        let split = format!("rt_{}é{}", "a".repeat(7), "a".repeat(42));
        assert_eq!(split.len(), "rt_".len() + 51);
        for odd in ["", "rt_", "_", "ac_é", &split] {
            assert_eq!(token_key(odd), token_hash(odd));
        }
    }

    #[test]
    fn nothing_secret_is_printed() {
        assert_eq!(format!("{:?}", secrets(7)), "Secrets(***)");
        let s = SecretString::new("hunter2".into());
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(s.expose(), "hunter2");
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
