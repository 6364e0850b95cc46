//! Secrets and credentials: the master key that protects everything stored at rest.

pub mod client_auth;
pub mod client_ip;
pub mod grants;
pub mod guards;
pub mod header;
pub mod jwk;
pub mod keys;
pub mod linking;
pub mod master_key;
pub mod password;
pub mod rate_limit;
pub mod revocation;
pub mod secrets;
pub mod sessions;
pub mod tokens;
