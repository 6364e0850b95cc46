//! API tests: the library's Rocket over a local client and a real SQLite file per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// This binary runs the suite on SQLite; `api_postgres` runs the same files on PostgreSQL.
pub const POSTGRES: bool = false;

mod accounts;
mod audit;
mod errors;
mod health;
mod helpers;
mod integrations;
#[path = "../support/postgres.rs"]
mod postgres;
mod sdk;
mod smtp;
#[path = "../support/smtp_sink.rs"]
mod smtp_sink;
mod web;
