//! Integrations under `/api/portal/clients/<client_id>/integrations`: register, list,
//! show, edit, rotate the secret, delete. Only the owner of the client sees them.

use rocket::http::Status;
use rocket::serde::json::{json, Value};
use rocket::{delete, get, patch, post, routes, Route, State};
use serde::Deserialize;

use crate::audit;
use crate::auth::client_auth;
use crate::auth::client_ip::ClientIp;
use crate::auth::linking::INTEGRATION_SCOPES;
use crate::auth::revocation::{Kind, Revocations};
use crate::auth::secrets::Secrets;
use crate::auth::sessions::{Csrf, PortalSession};
use crate::body::Body;
use crate::clock;
use crate::db::integrations::{self, Integration, NewIntegration};
use crate::db::{clients, refresh, Db};
use crate::error::ApiError;

const NAME_MAX: usize = 100;
const URIS_MAX: usize = 10;
const URI_MAX: usize = 2000;

#[derive(Deserialize)]
struct NewBody {
    name: String,
    redirect_uris: Vec<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    ifttt_service_key: Option<String>,
}

#[derive(Deserialize)]
struct EditBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    /// A new service key; an empty string removes it.
    #[serde(default)]
    ifttt_service_key: Option<String>,
}

fn check_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "name: must be 1 to {NAME_MAX} characters without control characters"
        )));
    }
    Ok(name.to_owned())
}

/// A redirect URI must be https, or http on the loopback host (for development).
fn check_uri(uri: &str) -> Result<(), String> {
    if uri.len() > URI_MAX || uri.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "must be a URL without spaces, at most {URI_MAX} characters"
        ));
    }
    if uri.contains('#') {
        return Err("must not contain a fragment (#)".into());
    }
    // The authorization page redirects here, and what Rocket cannot parse it cannot
    // redirect to: it would answer 500.
    if rocket::http::uri::Absolute::parse(uri).is_err() {
        return Err(
            "must be a valid URI: percent-encode non-ASCII and characters like \" < > \\ ^ ` |"
                .into(),
        );
    }
    let (secure, rest) = if let Some(r) = uri.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = uri.strip_prefix("http://") {
        (false, r)
    } else {
        return Err("must start with https:// (or http:// on localhost)".into());
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err("must name a host (and no user info)".into());
    }
    let host = if authority.starts_with('[') {
        authority
            .split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default().to_owned()
    };
    let loopback = matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    if !secure && !loopback {
        return Err("must use https:// unless the host is localhost".into());
    }
    Ok(())
}

fn check_uris(uris: &[String]) -> Result<String, ApiError> {
    if uris.is_empty() || uris.len() > URIS_MAX {
        return Err(ApiError::bad_request(format!(
            "redirect_uris: give 1 to {URIS_MAX} URIs"
        )));
    }
    for (i, uri) in uris.iter().enumerate() {
        check_uri(uri)
            .map_err(|why| ApiError::bad_request(format!("redirect_uris[{i}]: {why}")))?;
    }
    serde_json::to_string(uris).map_err(ApiError::internal)
}

fn check_scopes(scopes: Option<&[String]>) -> Result<String, ApiError> {
    let scopes = match scopes {
        None => return Ok(INTEGRATION_SCOPES.join(" ")),
        Some(s) => s,
    };
    if let Some(bad) = scopes
        .iter()
        .find(|s| !INTEGRATION_SCOPES.contains(&s.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "scopes: {bad:.40} is not one of {}",
            INTEGRATION_SCOPES.join(", ")
        )));
    }
    if scopes.is_empty() {
        return Err(ApiError::bad_request("scopes: give at least one scope"));
    }
    Ok(INTEGRATION_SCOPES
        .iter()
        .filter(|s| scopes.iter().any(|x| x == *s))
        .copied()
        .collect::<Vec<_>>()
        .join(" "))
}

fn check_service_key(key: &str) -> Result<(), ApiError> {
    // IFTTT sends it back in a header, so printable ASCII only (and then bytes are chars).
    if key.len() < 16 || key.len() > 256 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "ifttt_service_key: must be 16 to 256 printable ASCII characters without spaces",
        ));
    }
    Ok(())
}

fn view(i: &Integration, linked_users: i64, secret: Option<&str>) -> Value {
    let mut v = json!({
        "id": i.id,
        "client_id": i.id,
        "app_client_id": i.client_id,
        "name": i.name,
        "redirect_uris": i.redirect_uris(),
        "scopes": i.scopes.split_ascii_whitespace().collect::<Vec<_>>(),
        "has_ifttt_service_key": i.has_service_key,
        "linked_users": linked_users,
        "created_at": clock::rfc3339(i.created_at),
    });
    if let Some(s) = secret {
        v["client_secret"] = json!(s);
    }
    v
}

/// The one unique column a write here can collide on is the IFTTT service key's hash.
fn key_taken(e: crate::db::sql::Error) -> ApiError {
    match e {
        e if e.is_constraint_violation() => ApiError::Conflict(
            "ifttt_service_key: another integration already uses this key".into(),
        ),
        other => other.into(),
    }
}

/// Checks that the session's developer owns `client_id` (404 otherwise).
async fn own_client(db: &Db, session: &PortalSession, client_id: &str) -> Result<(), ApiError> {
    let (cid, dev) = (client_id.to_owned(), session.developer().id.clone());
    match db
        .read(move |c| Ok(clients::find_owned(c, &cid, &dev)?))
        .await?
    {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound("no such client".into())),
    }
}

async fn owned(
    db: &Db,
    session: &PortalSession,
    client_id: &str,
    id: &str,
) -> Result<(Integration, i64), ApiError> {
    own_client(db, session, client_id).await?;
    let (cid, id) = (client_id.to_owned(), id.to_owned());
    db.read(move |c| {
        let Some(i) = integrations::find_in_client(c, &cid, &id)? else {
            return Ok(None);
        };
        let n = integrations::linked_users(c, &i.id)?;
        Ok(Some((i, n)))
    })
    .await?
    .ok_or_else(|| ApiError::NotFound("no such integration".into()))
}

#[get("/clients/<client_id>/integrations")]
async fn list(session: PortalSession, db: &State<Db>, client_id: &str) -> Result<Value, ApiError> {
    own_client(db, &session, client_id).await?;
    let cid = client_id.to_owned();
    let rows = db.read(move |c| Ok(integrations::list(c, &cid)?)).await?;
    let items: Vec<Value> = rows.iter().map(|(i, n)| view(i, *n, None)).collect();
    Ok(json!({ "integrations": items }))
}

#[post("/clients/<client_id>/integrations", data = "<body>")]
async fn create(
    _csrf: Csrf,
    session: PortalSession,
    ip: ClientIp,
    db: &State<Db>,
    secrets: &State<Secrets>,
    client_id: &str,
    body: Body<NewBody>,
) -> Result<(Status, Value), ApiError> {
    let b = body.into_inner();
    let name = check_name(&b.name)?;
    let uris = check_uris(&b.redirect_uris)?;
    let scopes = check_scopes(b.scopes.as_deref())?;
    if let Some(k) = &b.ifttt_service_key {
        check_service_key(k)?;
    }
    own_client(db, &session, client_id).await?;
    let id = crate::ids::new_id("int");
    let (secret, sealed, hash) = client_auth::new_integration_secret(secrets, &id)?;
    let service_key = match &b.ifttt_service_key {
        Some(k) => Some(client_auth::seal_service_key(secrets, &id, k)?),
        None => None,
    };
    let (cid, dev) = (client_id.to_owned(), session.developer().id.clone());
    let created = db
        .write(move |tx| {
            audit::by_developer(tx, &dev, "integration.registered", Some(&id), &ip)?;
            let new = NewIntegration {
                id: &id,
                client_id: &cid,
                name: &name,
                redirect_uris: &uris,
                scopes: &scopes,
                secret_sealed: &sealed,
                secret_hash: &hash,
                service_key,
                now: clock::now(),
            };
            integrations::insert(tx, &new).map_err(key_taken)?;
            integrations::find(tx, &id)?
                .ok_or_else(|| ApiError::internal("the new integration vanished"))
        })
        .await?;
    Ok((Status::Created, view(&created, 0, Some(&secret))))
}

#[get("/clients/<client_id>/integrations/<id>")]
async fn show(
    session: PortalSession,
    db: &State<Db>,
    secrets: &State<Secrets>,
    client_id: &str,
    id: &str,
) -> Result<Value, ApiError> {
    let (i, n) = owned(db, &session, client_id, id).await?;
    let secret = client_auth::reveal_integration(secrets, &i)?;
    Ok(view(&i, n, Some(&secret)))
}

#[patch("/clients/<client_id>/integrations/<id>", data = "<body>")]
#[allow(clippy::too_many_arguments)]
async fn edit(
    _csrf: Csrf,
    session: PortalSession,
    ip: ClientIp,
    db: &State<Db>,
    secrets: &State<Secrets>,
    client_id: &str,
    id: &str,
    body: Body<EditBody>,
) -> Result<Value, ApiError> {
    let b = body.into_inner();
    let (i, n) = owned(db, &session, client_id, id).await?;
    let name = match &b.name {
        Some(n) => check_name(n)?,
        None => i.name.clone(),
    };
    let uris = match &b.redirect_uris {
        Some(u) => check_uris(u)?,
        None => i.redirect_uris.clone(),
    };
    let scopes = match &b.scopes {
        Some(s) => check_scopes(Some(s))?,
        None => i.scopes.clone(),
    };
    let service_key = match b.ifttt_service_key.as_deref() {
        None => None,
        Some("") => Some(None),
        Some(k) => {
            check_service_key(k)?;
            Some(Some(client_auth::seal_service_key(secrets, &i.id, k)?))
        }
    };
    let (iid, dev) = (i.id.clone(), session.developer().id.clone());
    let updated = db
        .write(move |tx| {
            audit::by_developer(tx, &dev, "integration.updated", Some(&iid), &ip)?;
            integrations::update(tx, &iid, &name, &uris, &scopes)?;
            if let Some(key) = service_key {
                integrations::set_service_key(tx, &iid, key).map_err(key_taken)?;
            }
            integrations::find(tx, &iid)?
                .ok_or_else(|| ApiError::NotFound("no such integration".into()))
        })
        .await?;
    let secret = client_auth::reveal_integration(secrets, &updated)?;
    Ok(view(&updated, n, Some(&secret)))
}

#[post("/clients/<client_id>/integrations/<id>/rotate-secret")]
async fn rotate_secret(
    _csrf: Csrf,
    session: PortalSession,
    ip: ClientIp,
    db: &State<Db>,
    secrets: &State<Secrets>,
    client_id: &str,
    id: &str,
) -> Result<Value, ApiError> {
    let (i, _) = owned(db, &session, client_id, id).await?;
    let (secret, sealed, hash) = client_auth::new_integration_secret(secrets, &i.id)?;
    let (iid, dev) = (i.id.clone(), session.developer().id.clone());
    db.write(move |tx| {
        integrations::set_secret(tx, &iid, &sealed, &hash)?;
        Ok(audit::by_developer(
            tx,
            &dev,
            "integration.secret_rotated",
            Some(&iid),
            &ip,
        )?)
    })
    .await?;
    Ok(json!({ "client_id": i.id, "client_secret": secret }))
}

#[delete("/clients/<client_id>/integrations/<id>")]
async fn remove(
    _csrf: Csrf,
    session: PortalSession,
    ip: ClientIp,
    db: &State<Db>,
    revocations: &State<Revocations>,
    client_id: &str,
    id: &str,
) -> Result<Status, ApiError> {
    let (i, _) = owned(db, &session, client_id, id).await?;
    let revocations = revocations.inner().clone();
    let dev = session.developer().id.clone();
    db.write(move |tx| {
        audit::by_developer(tx, &dev, "integration.deleted", Some(&i.id), &ip)?;
        // Its links, codes and refresh families go with the row; its access tokens stop now.
        revocations.revoke(tx, Kind::Integration, &i.id)?;
        refresh::revoke_integration_families(tx, &i.id, clock::now())?;
        integrations::delete(tx, &i.id)?;
        Ok(())
    })
    .await?;
    Ok(Status::NoContent)
}

pub fn routes() -> Vec<Route> {
    routes![list, create, show, edit, rotate_secret, remove]
}

#[cfg(test)]
mod tests {
    use super::check_uri;

    #[test]
    fn redirect_uris_must_be_https_or_loopback_http() {
        for ok in [
            "https://ifttt.com/channels/set/authorize",
            "https://pitangui.amazon.com/api/skill/link/M2",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
        ] {
            assert!(check_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/cb",
            "ftp://x/cb",
            "https://a/cb#frag",
            "https:///cb",
            "https://user@evil.com/cb",
            "http://localhost.evil.com/cb",
            "javascript:alert(1)",
            "https://a.example/cb/\u{fc}",
            "https://a.example/a|b",
            "https://a.example:99999999/cb",
        ] {
            assert!(check_uri(bad).is_err(), "{bad}");
        }
    }
}
