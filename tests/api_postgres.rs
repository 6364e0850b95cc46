//! The API suite of `tests/api/` again, file for file, with every app on a PostgreSQL
//! database of its own (`tests/support/postgres.rs` says which server).
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Tells `helpers::config_in` to give each app a PostgreSQL database.
pub const POSTGRES: bool = true;

#[path = "api/accounts.rs"]
mod accounts;
#[path = "api/audit.rs"]
mod audit;
#[path = "api/errors.rs"]
mod errors;
#[path = "api/health.rs"]
mod health;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/integrations.rs"]
mod integrations;
#[path = "support/postgres.rs"]
mod postgres;
#[path = "api/sdk.rs"]
mod sdk;
#[path = "api/smtp.rs"]
mod smtp;
#[path = "support/smtp_sink.rs"]
mod smtp_sink;
#[path = "api/web.rs"]
mod web;
