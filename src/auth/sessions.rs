//! Portal sessions: a 256-bit random cookie value, stored only as its hash, ending after
//! `security.session_idle` unused or `security.session_max` in any case.
//!
//! Guards: [`PortalSession`] (a signed-in developer) and [`Csrf`] (the
//! `X-Requested-With: set-portal` header every state-changing portal call must carry; a
//! cross-site form cannot set it, and a cross-site fetch that sets it needs a CORS
//! preflight we never grant).

use rocket::http::{Cookie, CookieJar, SameSite};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::time::Duration;

use crate::auth::secrets;
use crate::clock;
use crate::config::Config;
use crate::db::{sessions, Db};
use crate::error::{ApiError, GuardError};

pub const COOKIE: &str = "set_session";

/// Only write `last_seen_at` when it is older than this, so reads stay reads.
const TOUCH_EVERY: i64 = 60;

/// The signed-in developer, as the session guard found them.
#[derive(Debug, Clone)]
pub struct Developer {
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub created_at: i64,
}

/// Proof of a live session; only the guard constructs one.
#[derive(Debug, Clone)]
pub struct PortalSession {
    developer: Developer,
    token_hash: String,
}

impl PortalSession {
    pub fn developer(&self) -> &Developer {
        &self.developer
    }

    /// The stored hash of this session's token (to keep it when ending the others).
    pub fn token_hash(&self) -> &str {
        &self.token_hash
    }
}

/// Creates a session row for `developer_id` and returns the cookie value.
pub fn create(
    conn: &crate::db::Conn<'_>,
    config: &Config,
    developer_id: &str,
) -> Result<String, ApiError> {
    let token = secrets::random_token(32);
    let now = clock::now();
    let expires = now + config.security.session_max.secs() as i64;
    sessions::insert(
        conn,
        &secrets::token_hash(&token),
        developer_id,
        now,
        expires,
    )?;
    Ok(token)
}

/// Sets the session cookie: HttpOnly, SameSite=Strict, Secure on an https public URL or
/// when the server itself speaks HTTPS (`[server.tls]`).
pub fn set_cookie(jar: &CookieJar<'_>, config: &Config, token: String) {
    let max_age = Duration::seconds(config.security.session_max.secs() as i64);
    let secure = config.server.public_url.is_https() || config.server.tls.enabled();
    let cookie = Cookie::build((COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(max_age);
    jar.add(cookie);
}

pub fn clear_cookie(jar: &CookieJar<'_>) {
    jar.remove(Cookie::build(COOKIE).path("/"));
}

async fn authenticate(req: &Request<'_>) -> Result<PortalSession, ApiError> {
    let missing = || ApiError::Unauthorized("sign in to continue".into());
    let token = req
        .cookies()
        .get(COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .ok_or_else(missing)?;
    let (db, config) = match (req.rocket().state::<Db>(), req.rocket().state::<Config>()) {
        (Some(db), Some(config)) => (db.clone(), config.clone()),
        _ => return Err(ApiError::internal("session guard without state")),
    };
    let hash = secrets::token_hash(&token);
    let lookup = hash.clone();
    let row = db
        .read(move |c| Ok(sessions::find(c, &lookup)?))
        .await?
        .ok_or_else(missing)?;
    let now = clock::now();
    let idle = config.security.session_idle.secs() as i64;
    if row.expires_at <= now || row.last_seen_at + idle <= now {
        let gone = hash.clone();
        db.write(move |tx| Ok(sessions::delete(tx, &gone)?)).await?;
        return Err(ApiError::Unauthorized(
            "your session has expired; sign in again".into(),
        ));
    }
    if now - row.last_seen_at >= TOUCH_EVERY {
        let seen = hash.clone();
        db.write(move |tx| Ok(sessions::touch(tx, &seen, now)?))
            .await?;
    }
    Ok(PortalSession {
        developer: Developer {
            id: row.developer_id,
            email: row.email,
            email_verified: row.email_verified_at.is_some(),
            created_at: row.developer_created_at,
        },
        token_hash: hash,
    })
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for PortalSession {
    type Error = ApiError;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        // Cached per request, so stacked guards look the session up once.
        let cached = req.local_cache_async(authenticate(req)).await;
        match cached {
            Ok(session) => Outcome::Success(session.clone()),
            Err(e) => Outcome::Error(GuardError::stash(req, e.duplicate())),
        }
    }
}

/// The CSRF guard: refuses a call without `X-Requested-With: set-portal` with 403.
#[derive(Debug, Clone, Copy)]
pub struct Csrf;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Csrf {
    type Error = ApiError;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match req.headers().get_one("X-Requested-With") {
            Some(v) if v.eq_ignore_ascii_case("set-portal") => Outcome::Success(Csrf),
            _ => Outcome::Error(GuardError::stash(
                req,
                ApiError::Forbidden(
                    "state-changing portal calls need the header X-Requested-With: set-portal"
                        .into(),
                ),
            )),
        }
    }
}
