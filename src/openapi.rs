//! `GET /openapi.json`: the OpenAPI 3.1 description of every public route.
//!
//! The document is written by hand in `src/openapi.json` and embedded in the binary; the
//! server only adds its own public URL as `servers[0]`, so generated clients and the
//! portal's `/docs` page point at the right place. `tests/openapi.rs` fails when a mounted
//! route is missing from it or it names a route that is not mounted, and CI runs
//! schemathesis against a live server with it.

use rocket::http::Header;
use rocket::serde::json::{json, Value};
use rocket::{get, routes, Responder, Route, State};

use crate::config::Config;
use crate::error::ApiError;

/// The document as written, without `servers`.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// The document is public and changes only with the binary.
const CACHE: &str = "public, max-age=300";

#[derive(Responder)]
pub struct Document {
    inner: Value,
    cache: Header<'static>,
    // Readable from any origin: API tools and generators load it from their own pages.
    cors: Header<'static>,
}

/// The embedded document with `servers` set to `public_url`.
pub fn document(public_url: &str) -> Result<Value, serde_json::Error> {
    let mut doc: Value = serde_json::from_str(DOCUMENT)?;
    doc["servers"] = json!([{ "url": public_url, "description": "This server" }]);
    Ok(doc)
}

#[get("/openapi.json")]
fn openapi(config: &State<Config>) -> Result<Document, ApiError> {
    let doc = document(config.server.public_url.as_str()).map_err(ApiError::internal)?;
    Ok(Document {
        inner: doc,
        cache: Header::new("Cache-Control", CACHE),
        cors: Header::new("Access-Control-Allow-Origin", "*"),
    })
}

pub fn routes() -> Vec<Route> {
    routes![openapi]
}
