//! `GET /api/portal/activity`: the signed-in developer's own security events, newest
//! first, paged by `before`.

use rocket::serde::json::{json, Value};
use rocket::{get, routes, Route, State};

use crate::auth::sessions::PortalSession;
use crate::clock;
use crate::db::{audit, Db};
use crate::error::ApiError;
use crate::validate::{self, optional_query};

const PAGE_MAX: u32 = 200;

pub fn event_view(e: &audit::Event) -> Value {
    json!({
        "id": e.id.to_string(),
        "at": clock::rfc3339(e.at),
        "action": e.action,
        "actor": e.actor,
        "target": e.target,
        "ip": e.ip,
    })
}

#[get("/activity?<limit>&<before>")]
async fn activity(
    session: PortalSession,
    db: &State<Db>,
    limit: Vec<&str>,
    before: Vec<&str>,
) -> Result<Value, ApiError> {
    let (limit, before) = (
        optional_query(limit, "limit")?,
        optional_query(before, "before")?,
    );
    let limit = validate::page_limit(limit, 50, PAGE_MAX)?;
    let before = match before {
        None | Some("") => None,
        // An id as the API writes one: digits, no sign, no leading zero.
        Some(raw) => Some(
            Some(raw)
                .filter(|r| r.len() <= 18 && r.bytes().all(|b| b.is_ascii_digit()))
                .filter(|r| !r.starts_with('0'))
                .and_then(|r| r.parse::<i64>().ok())
                .ok_or_else(|| ApiError::bad_request("before: must be an event id"))?,
        ),
    };
    let dev = session.developer().id.clone();
    let rows = db
        .read(move |c| Ok(audit::list_for_developer(c, &dev, before, limit)?))
        .await?;
    let next = match rows.last() {
        Some(last) if rows.len() == limit as usize => json!(last.id.to_string()),
        _ => Value::Null,
    };
    let events: Vec<Value> = rows.iter().map(event_view).collect();
    Ok(json!({ "events": events, "next": next }))
}

pub fn routes() -> Vec<Route> {
    routes![activity]
}
