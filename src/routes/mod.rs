//! HTTP routes, one module per resource.

pub mod activity;
pub mod health;
pub mod ifttt;
pub mod integrations;
pub mod linking;
pub mod me;
pub mod oauth;
pub mod portal_accounts;
pub mod portal_clients;
pub mod sdk;
pub mod wellknown;

use std::io::Cursor;

use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::serde::json::Value;

/// A JSON answer that must not be cached: anything carrying a token or a secret
/// (RFC 6749 §5.1 asks for `Cache-Control: no-store` and `Pragma: no-cache`).
pub struct NoStore(pub Status, pub Value);

impl<'r> Responder<'r, 'static> for NoStore {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let body = self.1.to_string();
        Response::build()
            .status(self.0)
            .header(ContentType::JSON)
            .header(Header::new("Cache-Control", "no-store"))
            .header(Header::new("Pragma", "no-cache"))
            .sized_body(body.len(), Cursor::new(body))
            .ok()
    }
}
