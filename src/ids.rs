//! Identifiers: a prefix naming the kind, then 128 bits that sort by creation time.
//!
//! The bits are a 48-bit millisecond timestamp followed by 80 random bits (the layout of
//! UUIDv7), written in base64url's own characters taken in ASCII order, so that a later id
//! compares greater as text. Why: each id is a primary key and a part of other indexes.
//! With wholly random ids every new row lands on a random index page: a sign-up puts
//! about five index entries at random places, so a batch of 32 can dirty some 160 pages
//! scattered over the file, each of which the commit writes to the WAL and the checkpoint
//! back to the database. Ids that grow put the new rows of a batch on the same last
//! pages. 80 random bits still make ids unguessable; they are not secrets anyway (tokens
//! are), and the creation time they reveal is shown as `created_at` next to them.
//!
//! On PostgreSQL the text order is byte order under the `C` collation (what
//! `.ci/postgres` sets up); under a language collation, which ignores `-` and `_` and
//! folds case at first, ids of the same few seconds still share a leading part and so
//! land close together, if not strictly in order.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::alphabet::Alphabet;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use rand::RngCore as _;

/// base64url's 64 characters in ASCII order: an encoding that keeps byte order.
const SORTED_URL_SAFE: &str = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/// Built at compile time: an alphabet that is not 64 distinct characters fails the build.
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &match Alphabet::new(SORTED_URL_SAFE) {
        Ok(alphabet) => alphabet,
        Err(_) => panic!("SORTED_URL_SAFE is not a base64 alphabet"),
    },
    GeneralPurposeConfig::new().with_encode_padding(false),
);

/// A new id such as `usr_-Ql3h…`: the prefix and 22 characters, later ids sorting after
/// earlier ones (to the millisecond).
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis());
    rand::rngs::OsRng.fill_bytes(&mut bytes[6..]);
    format!("{prefix}_{}", sorted_base64(&bytes))
}

/// The current time as 8 characters that sort like the time does: the start of
/// time-ordered tokens (`auth::secrets::new_token`).
pub fn time_chars() -> String {
    sorted_base64(&millis())
}

/// Milliseconds since the unix epoch in 48 bits, big-endian.
fn millis() -> [u8; 6] {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut out = [0u8; 6];
    out.copy_from_slice(&millis.to_be_bytes()[2..]);
    out
}

fn sorted_base64(bytes: &[u8]) -> String {
    ENGINE.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alphabet_is_base64urls_characters_in_ascii_order() {
        let mut chars: Vec<char> = SORTED_URL_SAFE.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        assert_eq!(chars.iter().collect::<String>(), SORTED_URL_SAFE);
        let mut standard: Vec<char> =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                .chars()
                .collect();
        standard.sort_unstable();
        assert_eq!(standard, chars);
    }

    #[test]
    fn ids_are_unique_and_sort_by_creation_time() {
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(new_id("usr"));
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "{} then {}", pair[0], pair[1]);
        }
        for id in &ids {
            assert_eq!(id.len(), "usr_".len() + 22, "{id}");
            assert!(id[4..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        }
        let same_ms: std::collections::HashSet<String> = (0..1000).map(|_| new_id("x")).collect();
        assert_eq!(same_ms.len(), 1000);
    }

    #[test]
    fn time_chars_are_eight_and_grow() {
        let first = time_chars();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = time_chars();
        assert_eq!(first.len(), 8);
        assert!(first < second, "{first} then {second}");
    }

    #[test]
    fn encoding_keeps_byte_order() {
        let mut previous = ENGINE.encode([0u8; 16]);
        for step in [1u64, 63, 64, 4095, 1 << 20, 1 << 40, (1 << 48) - 1] {
            let mut bytes = [0u8; 16];
            bytes[..6].copy_from_slice(&step.to_be_bytes()[2..]);
            let next = ENGINE.encode(bytes);
            assert!(previous < next, "{previous} !< {next}");
            previous = next;
        }
    }
}
