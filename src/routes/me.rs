//! A user's own data, reached only with their token: `/v1/me` and `/v1/me/events`.
//! Every query is keyed by the token's client and user, so one user never reaches another.

use std::sync::Arc;

use rocket::http::Status;
use rocket::response::content::RawJson;
use rocket::serde::json::Value;
use rocket::{delete, get, patch, post, routes, Route, State};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::audit;
use crate::auth::client_ip::ClientIp;
use crate::auth::guards::{Authenticated, Scope};
use crate::auth::revocation::{Kind, Revocations};
use crate::body::Body;
use crate::clock;
use crate::db::{events, users, Db};
use crate::error::ApiError;
use crate::routes::sdk::{metadata_text, user_view};
use crate::validate::{self, optional_query};

/// Longest event `type`, in characters, and largest `data`, serialised.
const TYPE_MAX: usize = 64;
const DATA_MAX: usize = 16 * 1024;
const PAGE_MAX: u32 = 500;

fn gone() -> ApiError {
    ApiError::InvalidToken("the user no longer exists".into())
}

/// Loads the token's user; a deleted or disabled one is refused like a revoked token.
async fn load(db: &Db, client_id: &str, user_id: &str) -> Result<Arc<users::User>, ApiError> {
    match db.user(client_id, user_id).await? {
        Some(u) if !u.disabled => Ok(u),
        _ => Err(gone()),
    }
}

#[get("/me")]
async fn me(auth: Authenticated, db: &State<Db>) -> Result<Value, ApiError> {
    let (cid, uid) = auth.require(Scope::ProfileRead)?.user()?;
    Ok(user_view(&*load(db, cid, uid).await?))
}

#[derive(Deserialize)]
struct Profile {
    metadata: Value,
}

#[patch("/me", data = "<body>")]
async fn update_me(
    auth: Authenticated,
    db: &State<Db>,
    body: Body<Profile>,
) -> Result<Value, ApiError> {
    let (cid, uid) = auth.require(Scope::ProfileWrite)?.user()?;
    let metadata = metadata_text(Some(body.into_inner().metadata))?;
    let (c, u) = (cid.to_owned(), uid.to_owned());
    let user = db
        .write(move |tx| {
            users::set_metadata(tx, &c, &u, &metadata)?;
            Ok(users::find(tx, &c, &u)?)
        })
        .await?
        .ok_or_else(gone)?;
    Ok(user_view(&user))
}

#[delete("/me")]
async fn delete_me(
    auth: Authenticated,
    ip: ClientIp,
    db: &State<Db>,
    revocations: &State<Revocations>,
) -> Result<Status, ApiError> {
    let (cid, uid) = auth.require_user_token()?;
    let (c, u) = (cid.to_owned(), uid.to_owned());
    let revocations = revocations.inner().clone();
    db.write(move |tx| {
        // Events, refresh families and links go with the row (foreign keys cascade).
        users::delete(tx, &c, &u)?;
        audit::in_client(tx, &c, &format!("user:{u}"), "user.deleted", Some(&u), &ip)?;
        revocations.revoke(tx, Kind::User, &u)?;
        Ok(())
    })
    .await?;
    Ok(Status::NoContent)
}

#[derive(Deserialize)]
struct NewEvent {
    #[serde(rename = "type")]
    kind: String,
    data: Value,
    #[serde(default)]
    occurred_at: Option<String>,
}

/// An event as the API shows it (fields in the order `json!` used to print them). `data`
/// is the stored JSON text passed through as it is: it was checked and serialised when
/// written, and parsing it into a `Value` on every read, only to print it again, was
/// the largest part of a page's CPU time. Text that is not JSON (edited by hand) shows
/// as `null`.
#[derive(Serialize)]
struct EventView<'a> {
    created_at: String,
    data: Option<&'a RawValue>,
    id: String,
    occurred_at: Option<String>,
    #[serde(rename = "type")]
    kind: &'a str,
}

fn event_view(e: &events::Event) -> EventView<'_> {
    EventView {
        created_at: clock::rfc3339(e.created_at),
        data: serde_json::from_str(&e.data).ok(),
        id: e.id.to_string(),
        occurred_at: e.occurred_at.map(clock::rfc3339),
        kind: &e.kind,
    }
}

/// A page of `GET /v1/me/events`.
#[derive(Serialize)]
struct EventPage<'a> {
    events: Vec<EventView<'a>>,
    next: Option<String>,
}

#[post("/me/events", data = "<body>")]
async fn add_event(
    auth: Authenticated,
    db: &State<Db>,
    body: Body<NewEvent>,
) -> Result<(Status, RawJson<String>), ApiError> {
    let (cid, uid) = auth.require(Scope::EventsWrite)?.user()?;
    let NewEvent {
        kind,
        data,
        occurred_at,
    } = body.into_inner();
    let n = kind.chars().count();
    if n == 0 || n > TYPE_MAX || kind.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "type: must be 1 to {TYPE_MAX} characters without control characters"
        )));
    }
    let data = data.to_string();
    if data.len() > DATA_MAX {
        return Err(ApiError::bad_request(
            "data: must be at most 16 KiB of JSON",
        ));
    }
    let occurred_at = match occurred_at {
        None => None,
        Some(t) => Some(clock::parse_rfc3339(&t).ok_or_else(|| {
            ApiError::bad_request("occurred_at: must be an RFC 3339 time like 2026-01-31T12:00:00Z")
        })?),
    };
    let (c, u) = (cid.to_owned(), uid.to_owned());
    let event = db
        .write(move |tx| {
            if users::find(tx, &c, &u)?.is_none_or(|u| u.disabled) {
                return Err(gone());
            }
            let now = clock::now();
            let id = events::insert(tx, &u, &kind, &data, occurred_at, now)?;
            Ok(events::Event {
                id,
                kind,
                data,
                occurred_at,
                created_at: now,
            })
        })
        .await?;
    let view = serde_json::to_string(&event_view(&event)).map_err(ApiError::internal)?;
    Ok((Status::Created, RawJson(view)))
}

#[get("/me/events?<after>&<limit>")]
async fn list_events(
    auth: Authenticated,
    db: &State<Db>,
    after: Vec<&str>,
    limit: Vec<&str>,
) -> Result<RawJson<String>, ApiError> {
    let (cid, uid) = auth.require(Scope::EventsRead)?.user()?;
    let (after, limit) = (
        optional_query(after, "after")?,
        optional_query(limit, "limit")?,
    );
    let after: i64 = match after {
        None | Some("") => 0,
        // Digits only: `+5` or a 20-digit number is no event id.
        Some(raw) if raw.len() <= 18 && raw.bytes().all(|b| b.is_ascii_digit()) => {
            raw.parse().map_err(ApiError::internal)?
        }
        Some(_) => return Err(ApiError::bad_request("after: must be an event id")),
    };
    let limit = validate::page_limit(limit, 100, PAGE_MAX)?;
    load(db, cid, uid).await?;
    let user = uid.to_owned();
    let page = db
        .read(move |c| Ok(events::list(c, &user, after, limit)?))
        .await?;
    let next = match page.last() {
        Some(last) if page.len() == limit as usize => Some(last.id.to_string()),
        _ => None,
    };
    let body = serde_json::to_string(&EventPage {
        events: page.iter().map(event_view).collect(),
        next,
    })
    .map_err(ApiError::internal)?;
    Ok(RawJson(body))
}

pub fn routes() -> Vec<Route> {
    routes![me, update_me, delete_me, add_event, list_events]
}
