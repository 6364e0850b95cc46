//! The SDK's first calls: `POST /v1/client/register` (client credentials for a client
//! token) and `POST /v1/users` (a client token for a new user and their tokens).

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::{json, Value};
use rocket::{post, routes, Route, State};
use serde::Deserialize;

use crate::auth::client_auth;
use crate::auth::grants::{self, Grant, NewRefresh, USER_SCOPE};
use crate::auth::guards::{Authenticated, Scope};
use crate::auth::header::{parse_basic_credentials, ClientCredentials};
use crate::auth::secrets::Secrets;
use crate::auth::tokens::{TokenType, Tokens};
use crate::body::OptionalBody;
use crate::clock;
use crate::config::Config;
use crate::db::{users, Db};
use crate::error::{ApiError, GuardError};
use crate::routes::NoStore;
use crate::stats::TokenCounter;

/// Largest `metadata` object, serialised.
pub const METADATA_MAX: usize = 4 * 1024;

/// HTTP Basic client credentials (`client_secret_basic`); 401 `invalid_client` without.
pub struct BasicClient(pub ClientCredentials);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for BasicClient {
    type Error = ApiError;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let parsed = req
            .headers()
            .get_one("Authorization")
            .ok_or("send the client id and secret with HTTP Basic authentication".to_owned())
            .and_then(|h| parse_basic_credentials(h).map_err(|e| e.to_string()));
        match parsed {
            Ok(creds) => Outcome::Success(BasicClient(creds)),
            Err(why) => {
                let err = ApiError::Custom {
                    status: Status::Unauthorized,
                    code: "invalid_client",
                    description: why,
                };
                Outcome::Error(GuardError::stash(req, err))
            }
        }
    }
}

#[post("/client/register")]
async fn register(
    client: BasicClient,
    db: &State<Db>,
    secrets: &State<Secrets>,
    tokens: &State<Tokens>,
    counter: &State<TokenCounter>,
) -> Result<NoStore, ApiError> {
    let auth = client_auth::authenticate(db, secrets, &client.0).await?;
    let issued = grants::client_token(
        tokens,
        counter,
        &auth.client.id,
        auth.client.secret_generation,
    )?;
    Ok(NoStore(Status::Ok, grants::token_body(&issued, None)))
}

#[derive(Deserialize, Default)]
struct NewUser {
    #[serde(default)]
    metadata: Option<Value>,
}

/// Checks `metadata`: a JSON object of at most 4 KiB; returns it serialised.
pub fn metadata_text(metadata: Option<Value>) -> Result<String, ApiError> {
    let value = metadata.unwrap_or_else(|| json!({}));
    if !value.is_object() {
        return Err(ApiError::bad_request("metadata: must be a JSON object"));
    }
    let text = value.to_string();
    if text.len() > METADATA_MAX {
        return Err(ApiError::bad_request("metadata: must be at most 4 KiB"));
    }
    Ok(text)
}

pub fn user_view(u: &users::User) -> Value {
    json!({
        "id": u.id,
        "client_id": u.client_id,
        "created_at": clock::rfc3339(u.created_at),
        "metadata": serde_json::from_str::<Value>(&u.metadata).unwrap_or_else(|_| json!({})),
    })
}

#[post("/users", data = "<body>")]
#[allow(clippy::too_many_arguments)]
async fn create_user(
    auth: Authenticated,
    db: &State<Db>,
    tokens: &State<Tokens>,
    counter: &State<TokenCounter>,
    config: &State<Config>,
    body: OptionalBody<NewUser>,
) -> Result<NoStore, ApiError> {
    auth.require(Scope::UsersCreate)?;
    if auth.claims().typ != TokenType::Client {
        return Err(ApiError::InsufficientScope(
            "users are created with a client token".into(),
        ));
    }
    let metadata = metadata_text(body.0.unwrap_or_default().metadata)?;
    let client_id = auth.claims().cid.clone();
    let id = crate::ids::new_id("usr");
    let family = crate::ids::new_id("fam");
    let refresh = NewRefresh::new(config.tokens.refresh_ttl.secs());
    let (user, unsigned) = db
        .write(move |tx| {
            let now = clock::now();
            users::insert(tx, &id, &client_id, &metadata, now)?;
            let grant = Grant {
                user_id: &id,
                client_id: &client_id,
                integration_id: None,
                scope: USER_SCOPE,
            };
            let unsigned = grants::start(tx, &grant, family, refresh)?;
            // The row as just inserted: reading it back would only cost the writer time.
            let user = users::User {
                id,
                client_id,
                metadata,
                disabled: false,
                created_at: now,
            };
            Ok((user, unsigned))
        })
        .await?;
    let session = unsigned.sign(tokens, counter)?;
    let mut body = grants::token_body(&session.access, Some(&session.refresh_token));
    body["user"] = user_view(&user);
    Ok(NoStore(Status::Created, body))
}

pub fn routes() -> Vec<Route> {
    routes![register, create_user]
}
