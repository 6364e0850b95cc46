//! The one error shape: every failure on every route answers
//! `{"error": "<code>", "error_description": "<text>"}` with a fitting status.

use std::io::Cursor;

use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{catch, catchers, Catcher};
use serde::Serialize;

/// Everything a handler or guard can fail with. Each variant documents its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `invalid_request`: a malformed body or a missing or bad field, named in the text.
    #[error("{0}")]
    BadRequest(String),
    /// 401 `unauthorized`, with `WWW-Authenticate: Basic realm="set"` (a Bearer realm on
    /// the portal API, where a Basic challenge would open the browser's login dialog).
    #[error("{0}")]
    Unauthorized(String),
    /// 401 `invalid_token`, with `WWW-Authenticate: Bearer error="invalid_token"`.
    #[error("{0}")]
    InvalidToken(String),
    /// 403 `insufficient_scope`.
    #[error("{0}")]
    InsufficientScope(String),
    /// 403 `forbidden`.
    #[error("{0}")]
    Forbidden(String),
    /// 404 `not_found`.
    #[error("{0}")]
    NotFound(String),
    /// 409 `conflict`.
    #[error("{0}")]
    Conflict(String),
    /// 413 `payload_too_large`.
    #[error("request body is larger than {limit_kib} KiB")]
    TooLarge { limit_kib: u64 },
    /// 415 `unsupported_media_type`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429 `rate_limited`, with `Retry-After` in seconds.
    #[error("too many attempts; try again in {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    /// Any other status with its own stable code, e.g. 403 `email_unverified`.
    #[error("{description}")]
    Custom {
        status: Status,
        code: &'static str,
        description: String,
    },
    /// 503 `unavailable`: a dependency (the database) does not answer.
    #[error("{0}")]
    Unavailable(String),
    /// 500 `server_error`: the cause is logged; the client sees a generic text.
    #[error("{0}")]
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl From<rusqlite::Error> for ApiError {
    /// A full disk, a read-only or vanished file, an I/O error or a lock held too long is
    /// the storage's state, not a bug: 503 `unavailable` (the transaction was rolled back,
    /// nothing half-written), and the next request succeeds once the cause is gone.
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            if matches!(
                f.code,
                C::DiskFull
                    | C::ReadOnly
                    | C::SystemIoFailure
                    | C::CannotOpen
                    | C::DatabaseBusy
                    | C::DatabaseLocked
            ) {
                tracing::error!("database unavailable: {e}");
                return ApiError::Unavailable(
                    "the database cannot be written right now; try again shortly".into(),
                );
            }
        }
        ApiError::Internal(Box::new(e))
    }
}

impl From<crate::db::sql::Error> for ApiError {
    /// As for SQLite: a PostgreSQL server that is down, unreachable, out of disk or
    /// shutting down is answered 503 (the transaction did not commit); anything else is a
    /// bug, answered 500.
    fn from(e: crate::db::sql::Error) -> Self {
        use crate::db::sql::Error as E;
        match e {
            E::Sqlite(e) => e.into(),
            E::Pool(why) => {
                tracing::error!("database unavailable: {why}");
                ApiError::Unavailable(
                    "the database cannot be reached right now; try again shortly".into(),
                )
            }
            E::Postgres(e) => {
                let class = e.code().map(|c| c.code().get(..2).unwrap_or("").to_owned());
                let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
                let unavailable = e.is_closed()
                    || io
                    || matches!(class.as_deref(), Some("08" | "53" | "57" | "58" | "40"));
                // PostgreSQL text cannot hold U+0000, which SQLite stores: a request
                // carrying one in a path or query value is the client's error.
                if e.code() == Some(&tokio_postgres::error::SqlState::CHARACTER_NOT_IN_REPERTOIRE) {
                    return ApiError::BadRequest(
                        "a value contains the character U+0000, which cannot be stored".into(),
                    );
                }
                if unavailable {
                    tracing::error!("database unavailable: {e}");
                    return ApiError::Unavailable(
                        "the database cannot be written right now; try again shortly".into(),
                    );
                }
                ApiError::Internal(Box::new(e))
            }
            e @ E::NoRow => ApiError::Internal(Box::new(e)),
        }
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::Internal(Box::new(e))
    }
}

impl ApiError {
    /// Wraps any error as a 500 whose cause is logged only.
    pub fn internal<E: Into<Box<dyn std::error::Error + Send + Sync>>>(e: E) -> Self {
        ApiError::Internal(e.into())
    }

    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError::BadRequest(msg.into())
    }

    pub fn status(&self) -> Status {
        match self {
            ApiError::BadRequest(_) => Status::BadRequest,
            ApiError::Unauthorized(_) | ApiError::InvalidToken(_) => Status::Unauthorized,
            ApiError::InsufficientScope(_) | ApiError::Forbidden(_) => Status::Forbidden,
            ApiError::NotFound(_) => Status::NotFound,
            ApiError::Conflict(_) => Status::Conflict,
            ApiError::TooLarge { .. } => Status::PayloadTooLarge,
            ApiError::UnsupportedMediaType(_) => Status::UnsupportedMediaType,
            ApiError::RateLimited { .. } => Status::TooManyRequests,
            ApiError::Custom { status, .. } => *status,
            ApiError::Unavailable(_) => Status::ServiceUnavailable,
            ApiError::Internal(_) => Status::InternalServerError,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "invalid_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::InvalidToken(_) => "invalid_token",
            ApiError::InsufficientScope(_) => "insufficient_scope",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Custom { code, .. } => code,
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "server_error",
        }
    }

    /// A copy with the same status, code, text and headers (the 500 cause stays with the
    /// original), for guards that cache their outcome for the rest of the request.
    pub fn duplicate(&self) -> ApiError {
        match self {
            ApiError::RateLimited { retry_after } => ApiError::RateLimited {
                retry_after: *retry_after,
            },
            ApiError::Unauthorized(m) => ApiError::Unauthorized(m.clone()),
            ApiError::Unavailable(m) => ApiError::Unavailable(m.clone()),
            other => ApiError::Custom {
                status: other.status(),
                code: other.code(),
                description: other.description(),
            },
        }
    }

    fn description(&self) -> String {
        match self {
            ApiError::Internal(_) => "the server could not complete the request".to_owned(),
            other => other.to_string(),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// Renders the JSON error shape. Kept apart from `ApiError` so catchers can use it too.
pub fn render(
    status: Status,
    code: &str,
    description: &str,
    extra: Vec<Header<'static>>,
) -> Response<'static> {
    let body = serde_json::to_string(&ErrorBody {
        error: code,
        error_description: description,
    })
    .unwrap_or_else(|_| r#"{"error":"server_error","error_description":""}"#.to_owned());
    let mut res = Response::build()
        .status(status)
        .header(ContentType::JSON)
        .header(Header::new("Cache-Control", "no-store"))
        .sized_body(body.len(), Cursor::new(body))
        .finalize();
    for h in extra {
        res.set_header(h);
    }
    res
}

/// The `WWW-Authenticate` challenge for a 401 or `insufficient_scope` answer. The portal
/// gets a Bearer realm: a `Basic` challenge would make browsers pop up a login dialog.
fn challenge(req: &Request<'_>, status: Status, code: &str) -> Option<Header<'static>> {
    let value = match code {
        "invalid_token" => r#"Bearer error="invalid_token""#,
        "insufficient_scope" => r#"Bearer error="insufficient_scope""#,
        _ if status != Status::Unauthorized => return None,
        _ if req.uri().path().starts_with("/api/portal") => r#"Bearer realm="set-portal""#,
        _ => r#"Basic realm="set""#,
    };
    Some(Header::new("WWW-Authenticate", value))
}

fn headers_for(req: &Request<'_>, err: &ApiError) -> Vec<Header<'static>> {
    let mut extra: Vec<Header<'static>> = challenge(req, err.status(), err.code())
        .into_iter()
        .collect();
    match err {
        ApiError::RateLimited { retry_after } => {
            extra.push(Header::new("Retry-After", retry_after.to_string()));
        }
        ApiError::Unavailable(_) => extra.push(Header::new("Retry-After", "5")),
        _ => {}
    }
    extra
}

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(method = %req.method(), path = %req.uri().path(), "internal error: {cause}");
        }
        let extra = headers_for(req, &self);
        Ok(render(
            self.status(),
            self.code(),
            &self.description(),
            extra,
        ))
    }
}

/// Where a failing guard leaves its error for the catcher that renders the answer.
#[derive(Default)]
pub struct GuardError(pub std::sync::Mutex<Option<ApiError>>);

impl GuardError {
    /// Records `err` for this request and hands back its status for the guard outcome.
    pub fn stash(req: &Request<'_>, err: ApiError) -> (Status, ApiError) {
        let status = err.status();
        let slot = req.local_cache(GuardError::default);
        let copy = err.duplicate();
        if let Ok(mut guard) = slot.0.lock() {
            *guard = Some(copy);
        }
        (status, err)
    }
}

/// The default text and code for a status no guard explained.
fn generic(status: Status, req: &Request<'_>) -> (&'static str, String) {
    match status.code {
        400 => ("invalid_request", "the request is malformed".into()),
        401 => ("unauthorized", "authentication is required".into()),
        403 => ("forbidden", "this request is not allowed".into()),
        404 => (
            "not_found",
            format!("nothing is at {} {}", req.method(), req.uri().path()),
        ),
        405 => (
            "method_not_allowed",
            format!("{} is not allowed on {}", req.method(), req.uri().path()),
        ),
        413 => (
            "payload_too_large",
            "request body is larger than 64 KiB".into(),
        ),
        415 => (
            "unsupported_media_type",
            "the body must be sent as application/json".into(),
        ),
        422 => (
            "invalid_request",
            "the body does not have the expected fields".into(),
        ),
        429 => ("rate_limited", "too many requests".into()),
        500 => (
            "server_error",
            "the server could not complete the request".into(),
        ),
        503 => ("unavailable", "the service is unavailable".into()),
        s if s < 500 => ("invalid_request", status.reason_lossy().to_lowercase()),
        _ => ("server_error", status.reason_lossy().to_lowercase()),
    }
}

/// A finished response, handed back as is.
struct Rendered(Response<'static>);

impl<'r> Responder<'r, 'static> for Rendered {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Ok(self.0)
    }
}

#[catch(default)]
fn default_catcher(status: Status, req: &Request<'_>) -> Rendered {
    Rendered(catch_response(status, req))
}

/// IFTTT's service API expects its own error shape, `{"errors":[{"message"}]}`, on every
/// answer under `/ifttt/`; everything else gets ours.
fn render_for(
    req: &Request<'_>,
    status: Status,
    code: &str,
    description: &str,
    extra: Vec<Header<'static>>,
) -> Response<'static> {
    if !req.uri().path().starts_with("/ifttt/") {
        return render(status, code, description, extra);
    }
    let body = serde_json::json!({ "errors": [{ "message": description }] }).to_string();
    let mut res = Response::build()
        .status(status)
        .header(ContentType::JSON)
        .sized_body(body.len(), Cursor::new(body))
        .finalize();
    for h in extra {
        res.set_header(h);
    }
    res
}

fn catch_response(status: Status, req: &Request<'_>) -> Response<'static> {
    let stashed = req
        .local_cache(GuardError::default)
        .0
        .lock()
        .ok()
        .and_then(|mut g| g.take());
    match stashed {
        Some(err) if err.status() == status => {
            let extra = headers_for(req, &err);
            render_for(req, status, err.code(), &err.description(), extra)
        }
        // Rocket answers a method it does not know (QUERY, PROPFIND…) with 400 before any
        // routing, on a stand-in GET request; for a path that exists, that is a 405 too.
        _ if status == Status::BadRequest
            && req.route().is_none()
            && !allowed_methods(req, None).is_empty() =>
        {
            let allowed = allowed_methods(req, None).join(", ");
            let text = format!(
                "this method is not allowed on {}; use {allowed}",
                req.uri().path()
            );
            let mut res = render_for(
                req,
                Status::MethodNotAllowed,
                "method_not_allowed",
                &text,
                vec![],
            );
            res.set_raw_header("Allow", allowed);
            res
        }
        _ if status == Status::NotFound && !allowed_methods(req, Some(req.method())).is_empty() => {
            let allowed = allowed_methods(req, Some(req.method())).join(", ");
            let (code, text) = generic(Status::MethodNotAllowed, req);
            let mut res = render_for(
                req,
                Status::MethodNotAllowed,
                code,
                &format!("{text}; use {allowed}"),
                vec![],
            );
            res.set_raw_header("Allow", allowed);
            res
        }
        _ => {
            let (code, text) = generic(status, req);
            let extra = challenge(req, status, code).into_iter().collect();
            render_for(req, status, code, &text, extra)
        }
    }
}

/// Rocket answers a known path with the wrong method as 404; OAuth clients expect 405 with
/// `Allow`, so the catcher looks for routes that match the path under another method than
/// `except`.
fn allowed_methods(req: &Request<'_>, except: Option<rocket::http::Method>) -> Vec<String> {
    let segs: Vec<&str> = req
        .uri()
        .path()
        .as_str()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let mut methods: Vec<String> = req
        .rocket()
        .routes()
        .filter(|r| Some(r.method) != except && path_matches(r.uri.path(), &segs))
        .map(|r| r.method.as_str().to_owned())
        .collect();
    methods.sort();
    methods.dedup();
    methods
}

/// Matches a route pattern (`/v1/me/events/<id>`) against request segments. Catch-all
/// routes (`<path..>`, the portal's app shell) never count: they would claim every path.
fn path_matches(pattern: &str, segs: &[&str]) -> bool {
    let pat: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    pat.len() == segs.len()
        && pat
            .iter()
            .zip(segs)
            .all(|(p, s)| (p.starts_with('<') && !p.ends_with("..>")) || p == s)
}

/// Catchers for every status, mounted at `/`, so no route ever answers with HTML.
pub fn catchers() -> Vec<Catcher> {
    catchers![default_catcher]
}
