//! Secrets and credentials: the master key that protects everything stored at rest.

pub mod master_key;
