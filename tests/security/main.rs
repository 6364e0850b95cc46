//! The security suite, a test per threat. SECURITY.md names each threat and the test
//! that keeps it out.
#![allow(clippy::unwrap_used, clippy::expect_used)]
/// The shared helpers' engine switch: this binary runs on SQLite.
pub const POSTGRES: bool = false;
#[path = "../support/postgres.rs"]
mod postgres;

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "../support/journey.rs"]
mod journey;
#[path = "../support/process.rs"]
mod process;

mod access;
mod algorithms;
mod logs;
mod portal;
mod redirects;
