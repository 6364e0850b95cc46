//! Linking a user's account to an integration, three ways in:
//! app-to-app (`POST /v1/me/authorize`), the browser page (`GET`/`POST /oauth/authorize`,
//! where the person types a link code from `POST /v1/me/link-codes`), and the user's own
//! list of links (`GET`/`DELETE /v1/me/integrations`).

use std::sync::Arc;

use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Redirect, Responder, Response};
use rocket::serde::json::{json, Value};
use rocket::{delete, get, post, routes, Route, State};
use serde::Deserialize;

use crate::audit;
use crate::auth::client_ip::ClientIp;
use crate::auth::guards::{Authenticated, Scope};
use crate::auth::linking::{self, Approved, AuthzError, AuthzRequest, LINK_CODE_TTL};
use crate::auth::rate_limit::RateLimits;
use crate::auth::revocation::{Kind, Revocations};
use crate::auth::secrets::token_hash;
use crate::body::Body;
use crate::clock;
use crate::db::integrations::{self, Integration};
use crate::db::{codes, refresh, users, Db};
use crate::error::ApiError;
use crate::routes::oauth::OAuthParams;

/// Human words for each scope, on the authorization page.
fn describe_scope(scope: &str) -> &'static str {
    match scope {
        "profile:read" => "See your profile",
        "events:read" => "See your activity events",
        "events:write" => "Record activity events for you",
        _ => "Unknown permission",
    }
}

#[post("/me/link-codes")]
async fn link_code(auth: Authenticated, db: &State<Db>) -> Result<(Status, Value), ApiError> {
    let (cid, uid) = auth
        .require(Scope::IntegrationsLink)?
        .require_user_token()?;
    let code = linking::new_link_code();
    let canonical = linking::normalize_link_code(&code)
        .ok_or_else(|| ApiError::internal("a generated link code did not normalise"))?;
    let (c, u, hash) = (cid.to_owned(), uid.to_owned(), token_hash(&canonical));
    db.write(move |tx| {
        let now = clock::now();
        codes::insert_link_code(tx, &hash, &u, &c, now, now + LINK_CODE_TTL)?;
        Ok(())
    })
    .await?;
    Ok((
        Status::Created,
        json!({ "code": code, "expires_in": LINK_CODE_TTL }),
    ))
}

#[derive(Deserialize)]
struct AppAuthorize {
    client_id: String,
    redirect_uri: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    code_challenge: Option<String>,
    #[serde(default)]
    code_challenge_method: Option<String>,
}

fn authz_to_api(e: AuthzError) -> ApiError {
    let code = match &e {
        AuthzError::Redirectable { code, .. } => code,
        _ => "invalid_request",
    };
    ApiError::Custom {
        status: Status::BadRequest,
        code,
        description: e.description(),
    }
}

/// Finds the integration `id` of the app `client_id`; another app's is as unknown.
async fn integration_of(
    db: &Db,
    client_id: &str,
    id: &str,
) -> Result<Option<Arc<Integration>>, ApiError> {
    Ok(db
        .integration(id)
        .await?
        .filter(|i| i.client_id == client_id))
}

#[post("/me/authorize", data = "<body>")]
async fn app_authorize(
    auth: Authenticated,
    db: &State<Db>,
    body: Body<AppAuthorize>,
) -> Result<Value, ApiError> {
    let (cid, uid) = auth
        .require(Scope::IntegrationsLink)?
        .require_user_token()?;
    let b = body.into_inner();
    let integration = integration_of(db, cid, &b.client_id)
        .await?
        .ok_or_else(|| authz_to_api(AuthzError::UnknownClient))?;
    let req = AuthzRequest {
        response_type: Some("code".into()),
        client_id: Some(b.client_id),
        redirect_uri: Some(b.redirect_uri),
        scope: b.scope,
        state: b.state,
        code_challenge: b.code_challenge,
        code_challenge_method: b.code_challenge_method,
    };
    let approved = linking::check(&integration, &req, false).map_err(authz_to_api)?;
    let user = uid.to_owned();
    let redirect_to = db
        .write(move |tx| Ok(linking::issue_code(tx, &integration, &user, &approved)?))
        .await?;
    Ok(json!({ "redirect_to": redirect_to }))
}

#[get("/me/integrations")]
async fn my_links(auth: Authenticated, db: &State<Db>) -> Result<Value, ApiError> {
    let (_, uid) = auth.require_user_token()?;
    let user = uid.to_owned();
    let rows = db
        .read(move |c| Ok(integrations::links_of(c, &user)?))
        .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|(id, name, scopes, at)| {
            json!({
                "id": id,
                "name": name,
                "scopes": scopes.split_ascii_whitespace().collect::<Vec<_>>(),
                "created_at": clock::rfc3339(*at),
            })
        })
        .collect();
    Ok(json!({ "integrations": items }))
}

#[delete("/me/integrations/<id>")]
async fn unlink(
    auth: Authenticated,
    ip: ClientIp,
    db: &State<Db>,
    revocations: &State<Revocations>,
    id: &str,
) -> Result<Status, ApiError> {
    let (cid, uid) = auth.require_user_token()?;
    let (client, user, integration) = (cid.to_owned(), uid.to_owned(), id.to_owned());
    let revocations = revocations.inner().clone();
    let found = db
        .write(move |tx| {
            let families = refresh::families_of_link(tx, &integration, &user)?;
            let linked = integrations::delete_link(tx, &integration, &user)?;
            // Every token the integration holds for this user stops now.
            for family in &families {
                refresh::revoke_family(tx, family, clock::now())?;
                revocations.revoke(tx, Kind::Family, family)?;
            }
            let found = linked || !families.is_empty();
            if found {
                let actor = format!("user:{user}");
                audit::in_client(
                    tx,
                    &client,
                    &actor,
                    "integration.unlinked",
                    Some(&integration),
                    &ip,
                )?;
            }
            Ok(found)
        })
        .await?;
    if !found {
        return Err(ApiError::NotFound("no such linked integration".into()));
    }
    Ok(Status::NoContent)
}

/// The browser page and its answers: HTML, a redirect, or an error page.
pub enum Page {
    Html(Status, String),
    Redirect(String),
}

impl<'r> Responder<'r, 'static> for Page {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let mut res = match self {
            Page::Html(status, html) => Response::build()
                .status(status)
                .header(ContentType::HTML)
                .sized_body(html.len(), std::io::Cursor::new(html))
                .finalize(),
            Page::Redirect(to) => Redirect::to(to).respond_to(req)?,
        };
        // The page is never framed (clickjacking) and runs no script at all.
        res.set_header(Header::new(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ));
        res.set_header(Header::new("X-Frame-Options", "DENY"));
        res.set_header(Header::new("Referrer-Policy", "no-referrer"));
        res.set_header(Header::new("Cache-Control", "no-store"));
        Ok(res)
    }
}

fn esc(s: &str) -> String {
    crate::email::templates::escape(s)
}

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"stylesheet\" href=\"/oauth/authorize.css\"></head>\
         <body><main class=\"card\"><p class=\"brand\">Set</p>{body}</main></body></html>",
        esc(title)
    )
}

fn error_page(status: Status, message: &str) -> Page {
    let body = format!(
        "<h1>This link can't be used</h1><p class=\"error\">{}</p>\
         <p>Go back to the app you came from and start linking again.</p>",
        esc(message)
    );
    Page::Html(status, layout("Linking failed", &body))
}

fn consent_page(
    integration: &Integration,
    req: &AuthzRequest,
    approved: &Approved,
    error: Option<&str>,
) -> String {
    let scopes: String = approved
        .scope
        .split_ascii_whitespace()
        .map(|s| format!("<li>{}</li>", esc(describe_scope(s))))
        .collect();
    let hidden = [
        ("response_type", req.response_type.as_deref()),
        ("client_id", req.client_id.as_deref()),
        ("redirect_uri", Some(approved.redirect_uri.as_str())),
        ("scope", Some(approved.scope.as_str())),
        ("state", req.state.as_deref()),
        ("code_challenge", req.code_challenge.as_deref()),
        (
            "code_challenge_method",
            req.code_challenge_method.as_deref(),
        ),
    ]
    .iter()
    .filter_map(|(k, v)| {
        v.map(|v| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(v)))
    })
    .collect::<String>();
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Link {name} to your account</h1>\
         <p><strong>{name}</strong> is asking to:</p><ul>{scopes}</ul>\
         <form method=\"post\" action=\"/oauth/authorize\">{hidden}\
         <label for=\"link_code\">Link code from the app</label>\
         <input id=\"link_code\" name=\"link_code\" autocomplete=\"one-time-code\" \
         autocapitalize=\"characters\" spellcheck=\"false\" placeholder=\"ABCD-EFGH\" maxlength=\"16\" autofocus>\
         {error}<p class=\"hint\">Open the app, go to linked services and tap “Get a link code”.</p>\
         <div class=\"actions\"><button name=\"decision\" value=\"approve\" class=\"primary\">Allow</button>\
         <button name=\"decision\" value=\"deny\">Deny</button></div></form>",
        name = esc(&integration.name)
    );
    layout(&format!("Link {}", integration.name), &body)
}

/// Reads the standard parameters; an empty value counts as absent.
fn request_from(get: impl Fn(&str) -> Option<String>) -> AuthzRequest {
    AuthzRequest {
        response_type: get("response_type"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        scope: get("scope"),
        state: get("state"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
    }
}

/// Looks the integration up and checks the request; the outcome is the page to show,
/// an error redirect, or the integration and the approved request.
async fn prepare(db: &Db, req: &AuthzRequest) -> Result<(Arc<Integration>, Approved), Page> {
    let Some(id) = req.client_id.as_deref() else {
        return Err(error_page(Status::BadRequest, "client_id: is required"));
    };
    let found = db.integration(id).await.map_err(|e| match e {
        // A value the database cannot hold (U+0000 on PostgreSQL) names no integration.
        ApiError::BadRequest(_) => {
            error_page(Status::BadRequest, &AuthzError::UnknownClient.description())
        }
        _ => error_page(
            Status::InternalServerError,
            "the server could not read the integration",
        ),
    })?;
    let Some(integration) = found else {
        return Err(error_page(
            Status::BadRequest,
            &AuthzError::UnknownClient.description(),
        ));
    };
    match linking::check(&integration, req, true) {
        Ok(approved) => Ok((integration, approved)),
        Err(AuthzError::Redirectable { code, description }) => {
            // The redirect URI is registered (checked first), so errors may go there.
            let to = linking::redirect_for(&integration, req.redirect_uri.as_deref())
                .map(|uri| linking::error_redirect(&uri, code, &description, req.state.as_deref()));
            match to {
                Ok(to) => Err(Page::Redirect(to)),
                Err(e) => Err(error_page(Status::BadRequest, &e.description())),
            }
        }
        Err(e) => Err(error_page(Status::BadRequest, &e.description())),
    }
}

#[get("/authorize?<response_type>&<client_id>&<redirect_uri>&<scope>&<state>&<code_challenge>&<code_challenge_method>")]
#[allow(clippy::too_many_arguments)]
async fn authorize_page(
    db: &State<Db>,
    response_type: Option<&str>,
    client_id: Option<&str>,
    redirect_uri: Option<&str>,
    scope: Option<&str>,
    state: Option<&str>,
    code_challenge: Option<&str>,
    code_challenge_method: Option<&str>,
) -> Page {
    let all = [
        ("response_type", response_type),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", scope),
        ("state", state),
        ("code_challenge", code_challenge),
        ("code_challenge_method", code_challenge_method),
    ];
    let req = request_from(|k| {
        all.iter()
            .find(|(name, _)| *name == k)
            .and_then(|(_, v)| v.filter(|v| !v.is_empty()).map(str::to_owned))
    });
    match prepare(db, &req).await {
        Ok((integration, approved)) => Page::Html(
            Status::Ok,
            consent_page(&integration, &req, &approved, None),
        ),
        Err(page) => page,
    }
}

#[post("/authorize", data = "<form>")]
async fn authorize_submit(
    db: &State<Db>,
    limits: &State<RateLimits>,
    ip: ClientIp,
    form: OAuthParams,
) -> Page {
    let req = request_from(|k| form.get(k).map(str::to_owned));
    let (integration, approved) = match prepare(db, &req).await {
        Ok(ok) => ok,
        Err(page) => return page,
    };
    if form.get("decision") != Some("approve") {
        let to = linking::error_redirect(
            &approved.redirect_uri,
            "access_denied",
            "the person declined to link their account",
            approved.state.as_deref(),
        );
        return Page::Redirect(to);
    }
    let key = format!("link:{}", ip.key());
    if limits.login.check(&key).await.is_err() {
        return error_page(
            Status::TooManyRequests,
            "Too many wrong link codes. Wait a minute, then try again.",
        );
    }
    let typed = form.get("link_code").unwrap_or_default();
    let Some(canonical) = linking::normalize_link_code(typed) else {
        limits.login.failed(&key).await;
        let page = consent_page(
            &integration,
            &req,
            &approved,
            Some("That is not a link code: it has 8 letters and digits, like ABCD-EFGH."),
        );
        return Page::Html(Status::BadRequest, page);
    };
    let hash = token_hash(&canonical);
    let issued = db
        .write(move |tx| {
            let now = clock::now();
            let Some(user) = codes::consume_link_code(tx, &hash, &integration.client_id, now)?
            else {
                return Ok(Err(integration));
            };
            match users::find(tx, &integration.client_id, &user)? {
                Some(u) if !u.disabled => {
                    Ok(Ok(linking::issue_code(tx, &integration, &user, &approved)?))
                }
                _ => Ok(Err(integration)),
            }
        })
        .await;
    match issued {
        Ok(Ok(to)) => Page::Redirect(to),
        Ok(Err(integration)) => {
            limits.login.failed(&key).await;
            let approved = linking::check(&integration, &req, true);
            match approved {
                Ok(a) => Page::Html(
                    Status::BadRequest,
                    consent_page(
                        &integration,
                        &req,
                        &a,
                        Some(
                            "That link code is not right or has expired. Get a new one in the app.",
                        ),
                    ),
                ),
                Err(e) => error_page(Status::BadRequest, &e.description()),
            }
        }
        Err(_) => error_page(
            Status::InternalServerError,
            "the server could not complete the link",
        ),
    }
}

const CSS: &str = "body{margin:0;font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;\
background:#f4f6f8;color:#1f2933}.card{max-width:420px;margin:48px auto;background:#fff;padding:32px;\
border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.1)}.brand{font-weight:700;color:#16a34a;margin:0 0 8px}\
h1{font-size:1.4rem;margin:0 0 16px}label{display:block;font-weight:600;margin:16px 0 4px}\
input{width:100%;box-sizing:border-box;font-size:1.3rem;letter-spacing:.15em;padding:10px;\
border:1px solid #cbd2d9;border-radius:8px;text-transform:uppercase}.hint{color:#616e7c;font-size:.9rem}\
.error{color:#b91c1c}.actions{display:flex;gap:12px;margin-top:16px}button{flex:1;padding:12px;\
font-size:1rem;border-radius:8px;border:1px solid #cbd2d9;background:#fff;cursor:pointer}\
button.primary{background:#16a34a;border-color:#16a34a;color:#fff}@media(max-width:480px){.card{margin:0;border-radius:0}}";

#[get("/authorize.css")]
fn stylesheet() -> (ContentType, &'static str) {
    (ContentType::CSS, CSS)
}

/// Routes under `/v1`.
pub fn v1_routes() -> Vec<Route> {
    routes![link_code, app_authorize, my_links, unlink]
}

/// Routes under `/oauth`.
pub fn oauth_routes() -> Vec<Route> {
    routes![authorize_page, authorize_submit, stylesheet]
}
