//! IFTTT's service API for an integration that has a service key: status, test setup,
//! user info and the `new_event` trigger. Errors here use IFTTT's shape,
//! `{"errors":[{"message":"…"}]}`, as its endpoint tests expect.

use std::io::Cursor;

use rocket::http::{ContentType, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Responder, Response};
use rocket::serde::json::{json, Value};
use rocket::{get, post, routes, Route, State};

use crate::auth::client_auth;
use crate::auth::grants::{self, Grant, NewRefresh};
use crate::auth::guards::{Authenticated, Scope};
use crate::auth::secrets::Secrets;
use crate::auth::tokens::{TokenType, Tokens};
use crate::body::OptionalBody;
use crate::clock;
use crate::config::Config;
use crate::db::integrations::{self, Integration};
use crate::db::{events, users, Db};
use crate::error::ApiError;
use crate::stats::TokenCounter;

/// An answer in IFTTT's error shape.
pub struct IftttError(Status, String);

impl From<ApiError> for IftttError {
    fn from(e: ApiError) -> Self {
        let status = e.status();
        let message = match e {
            ApiError::Internal(cause) => {
                tracing::error!("ifttt: internal error: {cause}");
                "the server could not complete the request".to_owned()
            }
            other => other.to_string(),
        };
        IftttError(status, message)
    }
}

impl<'r> Responder<'r, 'static> for IftttError {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let body = json!({ "errors": [{ "message": self.1 }] }).to_string();
        Response::build()
            .status(self.0)
            .header(ContentType::JSON)
            .sized_body(body.len(), Cursor::new(body))
            .ok()
    }
}

type Answer = Result<Value, IftttError>;

/// The integration named by the `IFTTT-Service-Key` header.
pub struct ServiceKey(Integration);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ServiceKey {
    type Error = ApiError;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let unauthorized =
            || ApiError::Unauthorized("the IFTTT-Service-Key header is missing or wrong".into());
        let (Some(db), Some(secrets)) =
            (req.rocket().state::<Db>(), req.rocket().state::<Secrets>())
        else {
            return Outcome::Error((Status::InternalServerError, ApiError::internal("no state")));
        };
        let Some(key) = req
            .headers()
            .get_one("IFTTT-Service-Key")
            .filter(|k| !k.is_empty() && k.len() <= 256)
        else {
            return Outcome::Error((Status::Unauthorized, unauthorized()));
        };
        // Looked up by its keyed hash: the index compares HMACs, never the key itself.
        let hash = client_auth::service_key_hash(secrets, key);
        match db
            .read(move |c| Ok(integrations::find_by_service_key(c, &hash)?))
            .await
        {
            Ok(Some(i)) => Outcome::Success(ServiceKey(i)),
            Ok(None) => Outcome::Error((Status::Unauthorized, unauthorized())),
            Err(e) => Outcome::Error((Status::InternalServerError, e)),
        }
    }
}

/// The integration token's (client, user); any other kind of token is refused.
fn integration_user(auth: Result<Authenticated, ApiError>) -> Result<(String, String), IftttError> {
    let auth = auth?;
    if auth.claims().typ != TokenType::Integration {
        return Err(IftttError(
            Status::Unauthorized,
            "this endpoint needs an integration's access token".into(),
        ));
    }
    let (cid, uid) = auth.user()?;
    Ok((cid.to_owned(), uid.to_owned()))
}

#[get("/status")]
fn status(key: Result<ServiceKey, ApiError>) -> Answer {
    key?;
    Ok(json!({}))
}

#[post("/test/setup")]
async fn test_setup(
    key: Result<ServiceKey, ApiError>,
    db: &State<Db>,
    tokens: &State<Tokens>,
    counter: &State<TokenCounter>,
    config: &State<Config>,
) -> Answer {
    let ServiceKey(integration) = key?;
    let family = crate::ids::new_id("fam");
    let refresh = NewRefresh::new(config.tokens.refresh_ttl.secs());
    let unsigned = db
        .write(move |tx| {
            let user = format!(
                "usr_ifttt_test_{}",
                integration.id.trim_start_matches("int_")
            );
            let now = clock::now();
            if users::insert_if_absent(
                tx,
                &user,
                &integration.client_id,
                r#"{"name":"IFTTT test user"}"#,
                now,
            )? {
                for (i, kind) in ["sample_one", "sample_two", "sample_three"]
                    .iter()
                    .enumerate()
                {
                    events::insert(
                        tx,
                        &user,
                        kind,
                        &json!({ "n": i + 1 }).to_string(),
                        Some(now),
                        now,
                    )?;
                }
            }
            integrations::upsert_link(tx, &integration.id, &user, &integration.scopes, now)?;
            let grant = Grant {
                user_id: &user,
                client_id: &integration.client_id,
                integration_id: Some(&integration.id),
                scope: &integration.scopes,
            };
            grants::start(tx, &grant, family, refresh)
        })
        .await?;
    let session = unsigned.sign(tokens, counter)?;
    Ok(json!({
        "data": {
            "accessToken": session.access.access_token,
            "samples": { "triggers": { "new_event": {} } },
        }
    }))
}

#[get("/user/info")]
async fn user_info(auth: Result<Authenticated, ApiError>, db: &State<Db>) -> Answer {
    let (cid, uid) = integration_user(auth)?;
    let user = db
        .read(move |c| Ok(users::find(c, &cid, &uid)?))
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| IftttError(Status::Unauthorized, "the user no longer exists".into()))?;
    let metadata: Value = serde_json::from_str(&user.metadata).unwrap_or_else(|_| json!({}));
    let name = metadata["name"].as_str().unwrap_or(&user.id).to_owned();
    Ok(json!({ "data": { "id": user.id, "name": name } }))
}

#[post("/triggers/new_event", data = "<body>")]
async fn new_event(
    auth: Result<Authenticated, ApiError>,
    db: &State<Db>,
    body: Result<OptionalBody<Value>, ApiError>,
) -> Answer {
    if let Ok(a) = &auth {
        a.require(Scope::EventsRead)?;
    }
    let (_, uid) = integration_user(auth)?;
    let body = body?.0.unwrap_or_else(|| json!({}));
    let limit = match body.get("limit") {
        None | Some(Value::Null) => 50,
        // JSON has one number type: 50.0 is the integer 50 as much as 50 is.
        Some(v) => v
            .as_u64()
            .or_else(|| {
                v.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .filter(|n| *n <= 500)
            .ok_or_else(|| {
                IftttError(
                    Status::BadRequest,
                    "limit: must be a number from 0 to 500".into(),
                )
            })? as u32,
    };
    let rows = db
        .read(move |c| Ok(events::list_newest(c, &uid, limit)?))
        .await?;
    let data: Vec<Value> = rows
        .iter()
        .map(|e| {
            let when = e.occurred_at.unwrap_or(e.created_at);
            json!({
                "type": e.kind,
                "data": e.data,
                "occurred_at": clock::rfc3339(when),
                "created_at": clock::rfc3339(e.created_at),
                "meta": { "id": e.id.to_string(), "timestamp": when },
            })
        })
        .collect();
    Ok(json!({ "data": data }))
}

pub fn routes() -> Vec<Route> {
    routes![status, test_setup, user_info, new_event]
}
