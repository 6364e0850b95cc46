//! Identifiers: a prefix naming the kind and 128 random bits.

use crate::auth::secrets::random_token;

/// A new id such as `dev_3q2-…`: the prefix and 128 random bits, base64url.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_token(16))
}
