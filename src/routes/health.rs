//! Liveness and readiness, for load balancers and orchestrators.

use rocket::serde::json::{json, Value};
use rocket::{get, routes, Route, State};

use crate::db::Db;
use crate::error::ApiError;

/// 200 while the process serves requests.
#[get("/healthz")]
fn healthz() -> Value {
    json!({"status": "ok"})
}

/// 200 when the database answers a query; 503 `unavailable` otherwise.
#[get("/readyz")]
async fn readyz(db: &State<Db>) -> Result<Value, ApiError> {
    db.read(|c| Ok(c.value::<i64>("SELECT CAST(1 AS BIGINT)", crate::params![])?))
        .await
        .map_err(|e| {
            tracing::warn!("readiness check failed: {e}");
            ApiError::Unavailable("the database does not answer".into())
        })?;
    Ok(json!({"status": "ready"}))
}

pub fn routes() -> Vec<Route> {
    routes![healthz, readyz]
}
