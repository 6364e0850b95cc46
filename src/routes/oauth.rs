//! The OAuth 2.0 endpoints: `/oauth/token` (RFC 6749), `/oauth/revoke` (RFC 7009) and
//! `/oauth/introspect` (RFC 7662). Bodies are form-encoded as the RFCs require, or JSON.

use std::collections::HashMap;

use rocket::data::{self, Data, FromData, ToByteUnit};
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::{json, Value};
use rocket::{post, routes, Route, State};

use crate::audit;
use crate::auth::client_auth;
use crate::auth::client_auth::Caller;
use crate::auth::client_ip::ClientIp;
use crate::auth::grants::{
    self, invalid_grant, CodeRequest, Exchanged, NewRefresh, Presenter, Refreshed, CLIENT_SCOPE,
};
use crate::auth::header::{parse_basic_credentials, ClientCredentials};
use crate::auth::revocation::{Kind, Revocations};
use crate::auth::secrets::{token_key, SecretString, Secrets};
use crate::auth::tokens::{Claims, Tokens};
use crate::body::LIMIT;
use crate::clock;
use crate::config::Config;
use crate::db::{refresh, Db};
use crate::error::{ApiError, GuardError};
use crate::routes::NoStore;
use crate::stats::TokenCounter;

fn oauth_error(code: &'static str, description: impl Into<String>) -> ApiError {
    ApiError::Custom {
        status: Status::BadRequest,
        code,
        description: description.into(),
    }
}

/// The parameters of an OAuth request, from a form-encoded or JSON body. A parameter sent
/// twice is refused (RFC 6749 §3.2).
pub struct OAuthParams(HashMap<String, String>);

impl OAuthParams {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, key: &str) -> Result<&str, ApiError> {
        self.get(key)
            .ok_or_else(|| ApiError::bad_request(format!("{key}: is required")))
    }

    fn parse(content_json: bool, bytes: &[u8]) -> Result<OAuthParams, ApiError> {
        let mut map = HashMap::new();
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OAuthParams(map));
        }
        if content_json {
            let value: HashMap<String, Value> = crate::body::parse(bytes)?;
            for (k, v) in value {
                let text = match v {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    _ => return Err(ApiError::bad_request(format!("{k}: must be a string"))),
                };
                map.insert(k, text);
            }
            return Ok(OAuthParams(map));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| ApiError::bad_request("the form body is not UTF-8"))?;
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                rocket::http::RawStr::new(&s.replace('+', " "))
                    .url_decode()
                    .map(|c| c.into_owned())
                    .map_err(|_| {
                        ApiError::bad_request("the form body is not valid UTF-8 after decoding")
                    })
            };
            let (k, v) = (decode(k)?, decode(v)?);
            if map.insert(k.clone(), v).is_some() {
                return Err(ApiError::bad_request(format!(
                    "{k}: was sent more than once"
                )));
            }
        }
        Ok(OAuthParams(map))
    }
}

#[rocket::async_trait]
impl<'r> FromData<'r> for OAuthParams {
    type Error = ApiError;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        let result = async {
            let json = match req.content_type() {
                Some(ct) if ct.is_json() => true,
                Some(ct) if ct.is_form() => false,
                None => false,
                Some(ct) => {
                    return Err(ApiError::UnsupportedMediaType(format!(
                        "send application/x-www-form-urlencoded or application/json, not {ct}"
                    )))
                }
            };
            let bytes = data.open(LIMIT.bytes()).into_bytes().await?;
            if !bytes.is_complete() {
                return Err(ApiError::TooLarge {
                    limit_kib: LIMIT / 1024,
                });
            }
            OAuthParams::parse(json, &bytes)
        }
        .await;
        match result {
            Ok(p) => data::Outcome::Success(p),
            Err(e) => data::Outcome::Error(GuardError::stash(req, e)),
        }
    }
}

/// Basic client credentials when an `Authorization` header is sent; a malformed one is
/// 401 `invalid_client`.
pub struct MaybeBasic(Option<ClientCredentials>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for MaybeBasic {
    type Error = ApiError;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match req.headers().get_one("Authorization") {
            None => Outcome::Success(MaybeBasic(None)),
            Some(h) => match parse_basic_credentials(h) {
                Ok(c) => Outcome::Success(MaybeBasic(Some(c))),
                Err(e) => {
                    let mut err = client_auth::invalid_client();
                    if let ApiError::Custom { description, .. } = &mut err {
                        *description = e.to_string();
                    }
                    Outcome::Error(GuardError::stash(req, err))
                }
            },
        }
    }
}

/// The client credentials of a request: HTTP Basic (`client_secret_basic`) or
/// `client_id` + `client_secret` in the body (`client_secret_post`), never both.
fn credentials(
    basic: MaybeBasic,
    params: &OAuthParams,
) -> Result<Option<ClientCredentials>, ApiError> {
    let posted = match (params.get("client_id"), params.get("client_secret")) {
        (Some(id), Some(secret)) => Some(ClientCredentials {
            client_id: id.to_owned(),
            client_secret: SecretString::new(secret.to_owned()),
        }),
        _ => None,
    };
    match (basic.0, posted) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "client_secret: use one client authentication method, not both Basic and the body",
        )),
        (Some(b), None) => Ok(Some(b)),
        (None, p) => Ok(p),
    }
}

#[post("/token", data = "<params>")]
#[allow(clippy::too_many_arguments)]
async fn token(
    basic: MaybeBasic,
    ip: ClientIp,
    db: &State<Db>,
    secrets: &State<Secrets>,
    tokens: &State<Tokens>,
    counter: &State<TokenCounter>,
    revocations: &State<Revocations>,
    config: &State<Config>,
    params: OAuthParams,
) -> Result<NoStore, ApiError> {
    let creds = credentials(basic, &params)?;
    match params.require("grant_type")? {
        "client_credentials" => {
            let creds = creds.ok_or_else(client_auth::invalid_client)?;
            if let Some(scope) = params.get("scope") {
                if scope.split_ascii_whitespace().any(|s| s != CLIENT_SCOPE) {
                    return Err(oauth_error(
                        "invalid_scope",
                        format!("a client token can only have the scope {CLIENT_SCOPE}"),
                    ));
                }
            }
            let auth = client_auth::authenticate(db, secrets, &creds).await?;
            let issued = grants::client_token(
                tokens,
                counter,
                &auth.client.id,
                auth.client.secret_generation,
            )?;
            Ok(NoStore(Status::Ok, grants::token_body(&issued, None)))
        }
        "refresh_token" => {
            let presented = params.require("refresh_token")?.to_owned();
            let caller = match &creds {
                Some(c) => Some(client_auth::authenticate_caller(db, secrets, c).await?),
                None => None,
            };
            let (client_id, integration_id) = match &caller {
                Some(c) => (
                    Some(c.client_id().to_owned()),
                    c.integration_id().map(str::to_owned),
                ),
                None => (None, None),
            };
            let hash = token_key(&presented);
            let next = NewRefresh::new(config.tokens.refresh_ttl.secs());
            let revocations = revocations.inner().clone();
            let outcome = db
                .write(move |tx| {
                    let by = Presenter {
                        client_id: client_id.as_deref(),
                        integration_id: integration_id.as_deref(),
                    };
                    grants::rotate(tx, &revocations, &hash, by, next)
                })
                .await?;
            match outcome {
                Refreshed::Rotated(s) => {
                    let s = s.sign(tokens, counter)?;
                    let body = grants::token_body(&s.access, Some(&s.refresh_token));
                    Ok(NoStore(Status::Ok, body))
                }
                Refreshed::Refused(why) => Err(invalid_grant(why)),
                Refreshed::Reused => Err(invalid_grant(
                    "the refresh token was already used; every token of its sign-in is now revoked",
                )),
            }
        }
        "authorization_code" => {
            let creds = creds.ok_or_else(client_auth::invalid_client)?;
            let Caller::Integration(integration) =
                client_auth::authenticate_caller(db, secrets, &creds).await?
            else {
                return Err(oauth_error(
                    "unauthorized_client",
                    "authorization codes are exchanged with an integration's credentials",
                ));
            };
            let hash = token_key(params.require("code")?);
            let redirect_uri = params.get("redirect_uri").map(str::to_owned);
            let verifier = params.get("code_verifier").map(str::to_owned);
            let family = crate::ids::new_id("fam");
            let refresh = NewRefresh::new(config.tokens.refresh_ttl.secs());
            let revocations = revocations.inner().clone();
            let outcome = db
                .write(move |tx| {
                    let code = CodeRequest {
                        hash: &hash,
                        redirect_uri: redirect_uri.as_deref(),
                        verifier: verifier.as_deref(),
                    };
                    let outcome = grants::exchange_code(
                        tx,
                        &revocations,
                        &integration,
                        &code,
                        family,
                        refresh,
                    )?;
                    if let Exchanged::Issued(s) = &outcome {
                        let actor = format!("user:{}", s.user_id());
                        let (cid, iid) = (&integration.client_id, Some(integration.id.as_str()));
                        audit::in_client(tx, cid, &actor, "integration.linked", iid, &ip)?;
                    }
                    Ok(outcome)
                })
                .await?;
            match outcome {
                Exchanged::Issued(s) => {
                    let s = s.sign(tokens, counter)?;
                    let body = grants::token_body(&s.access, Some(&s.refresh_token));
                    Ok(NoStore(Status::Ok, body))
                }
                Exchanged::Refused(why) => Err(invalid_grant(why)),
                Exchanged::Reused => Err(invalid_grant(
                    "the authorization code was already used; the tokens it issued are revoked",
                )),
            }
        }
        other => Err(oauth_error(
            "unsupported_grant_type",
            format!(
                "grant_type: {other:.40} is not supported; use client_credentials or refresh_token"
            ),
        )),
    }
}

/// Who sent credentials, if anyone: (their app's client id, their integration id).
async fn caller(
    db: &Db,
    secrets: &Secrets,
    creds: Option<ClientCredentials>,
) -> Result<Option<(String, Option<String>)>, ApiError> {
    match creds {
        Some(c) => {
            let who = client_auth::authenticate_caller(db, secrets, &c).await?;
            Ok(Some((
                who.client_id().to_owned(),
                who.integration_id().map(str::to_owned),
            )))
        }
        None => Ok(None),
    }
}

/// Whether a token of (client, integration) belongs to the caller: the app's own client
/// credentials reach its users' own tokens, an integration's reach only its tokens.
fn belongs_to(
    caller: &Option<(String, Option<String>)>,
    client_id: &str,
    integration_id: Option<&str>,
) -> bool {
    match caller {
        None => true,
        Some((c, i)) => c == client_id && i.as_deref() == integration_id,
    }
}

#[post("/revoke", data = "<params>")]
async fn revoke(
    basic: MaybeBasic,
    db: &State<Db>,
    secrets: &State<Secrets>,
    tokens: &State<Tokens>,
    revocations: &State<Revocations>,
    params: OAuthParams,
) -> Result<Value, ApiError> {
    let creds = credentials(basic, &params)?;
    let presented = params.require("token")?.to_owned();
    let caller = caller(db, secrets, creds).await?;
    let now = clock::now();
    let revocations = revocations.inner().clone();
    if presented.starts_with("rt_") {
        let hash = token_key(&presented);
        db.write(move |tx| {
            if let Some(row) = refresh::find(tx, &hash)? {
                if belongs_to(&caller, &row.client_id, row.integration_id.as_deref())
                    && !row.family_revoked
                {
                    refresh::revoke_family(tx, &row.family_id, now)?;
                    revocations.revoke(tx, Kind::Family, &row.family_id)?;
                }
            }
            Ok(())
        })
        .await?;
    } else if let Ok(claims) = tokens.verify(&presented) {
        if belongs_to(&caller, &claims.cid, claims.azp.as_deref()) {
            db.write(move |tx| {
                Ok(revocations.revoke_until(tx, Kind::Jti, &claims.jti, claims.exp + 60)?)
            })
            .await?;
        }
    }
    // RFC 7009 §2.2: an invalid or unknown token is answered 200 as well.
    Ok(json!({}))
}

fn introspection(claims: &Claims) -> Value {
    let mut v = json!({
        "active": true,
        "scope": claims.scope,
        "client_id": claims.cid,
        "sub": claims.sub,
        "exp": claims.exp,
        "iat": claims.iat,
        "nbf": claims.nbf,
        "iss": claims.iss,
        "aud": claims.aud,
        "jti": claims.jti,
        "token_type": "Bearer",
        "typ": claims.typ,
    });
    if let Some(azp) = &claims.azp {
        v["azp"] = json!(azp);
    }
    v
}

#[post("/introspect", data = "<params>")]
async fn introspect(
    basic: MaybeBasic,
    db: &State<Db>,
    secrets: &State<Secrets>,
    tokens: &State<Tokens>,
    revocations: &State<Revocations>,
    params: OAuthParams,
) -> Result<NoStore, ApiError> {
    let creds = credentials(basic, &params)?.ok_or_else(client_auth::invalid_client)?;
    let presented = params.require("token")?.to_owned();
    let caller = caller(db, secrets, Some(creds)).await?;
    let inactive = || Ok(NoStore(Status::Ok, json!({ "active": false })));
    if presented.starts_with("rt_") {
        let hash = token_key(&presented);
        let Some(row) = db.read(move |c| Ok(refresh::find(c, &hash)?)).await? else {
            return inactive();
        };
        let live = !row.used && !row.family_revoked && row.expires_at > clock::now();
        if !live || !belongs_to(&caller, &row.client_id, row.integration_id.as_deref()) {
            return inactive();
        }
        return Ok(NoStore(
            Status::Ok,
            json!({
                "active": true,
                "scope": row.scope,
                "client_id": row.client_id,
                "sub": row.user_id,
                "exp": row.expires_at,
                "token_type": "refresh_token",
            }),
        ));
    }
    match tokens.verify(&presented) {
        Ok(c)
            if belongs_to(&caller, &c.cid, c.azp.as_deref())
                && revocations.refusal(&c).is_none() =>
        {
            Ok(NoStore(Status::Ok, introspection(&c)))
        }
        _ => inactive(),
    }
}

pub fn routes() -> Vec<Route> {
    routes![token, revoke, introspect]
}
