//! Clients under `/api/portal/clients`: create, list, overview, rename, rotate the
//! secret, delete; a client's users and its daily stats. A developer only ever sees
//! their own clients: any other id is 404, exactly like an id that does not exist.

use rocket::http::Status;
use rocket::serde::json::{json, Value};
use rocket::{delete, get, patch, post, routes, Route, State};
use serde::Deserialize;

use crate::audit;
use crate::auth::client_auth;
use crate::auth::client_ip::ClientIp;
use crate::auth::revocation::{Kind, Revocations};
use crate::auth::secrets::Secrets;
use crate::auth::sessions::{Csrf, PortalSession};
use crate::body::Body;
use crate::clock;
use crate::db::clients::{self, Client, NewClient};
use crate::db::{refresh, token_stats, users, Db};
use crate::error::ApiError;
use crate::stats::TokenCounter;
use crate::validate::{self, optional_query};

type Answer = Result<(Status, Value), ApiError>;

/// Longest client name, in characters.
const NAME_MAX: usize = 100;
/// Largest page of users.
const PAGE_MAX: u32 = 200;

#[derive(Deserialize)]
struct NameBody {
    name: String,
}

fn valid_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX {
        return Err(ApiError::bad_request(format!(
            "name: must be 1 to {NAME_MAX} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "name: must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such client".into())
}

fn client_view(c: &Client, secret: Option<&str>, user_count: i64) -> Value {
    let mut v = json!({
        "client_id": c.id,
        "name": c.name,
        "created_at": clock::rfc3339(c.created_at),
        "user_count": user_count,
    });
    if let Some(s) = secret {
        v["client_secret"] = json!(s);
    }
    v
}

/// Loads the developer's client `id` (404 when absent or someone else's).
async fn owned(db: &Db, session: &PortalSession, id: &str) -> Result<(Client, i64), ApiError> {
    let (id, dev) = (id.to_owned(), session.developer().id.clone());
    db.read(move |c| {
        let Some(client) = clients::find_owned(c, &id, &dev)? else {
            return Ok(None);
        };
        let count = clients::user_count(c, &client.id)?;
        Ok(Some((client, count)))
    })
    .await?
    .ok_or_else(not_found)
}

#[get("/clients")]
async fn list(session: PortalSession, db: &State<Db>) -> Result<Value, ApiError> {
    let dev = session.developer().id.clone();
    let rows = db.read(move |c| Ok(clients::list_owned(c, &dev)?)).await?;
    let clients: Vec<Value> = rows.iter().map(|(c, n)| client_view(c, None, *n)).collect();
    Ok(json!({ "clients": clients }))
}

#[post("/clients", data = "<body>")]
async fn create(
    _csrf: Csrf,
    session: PortalSession,
    ip: ClientIp,
    db: &State<Db>,
    secrets: &State<Secrets>,
    revocations: &State<Revocations>,
    body: Body<NameBody>,
) -> Answer {
    let name = valid_name(&body.into_inner().name)?;
    let id = client_auth::new_client_id();
    let (secret, sealed, hash) = client_auth::new_secret(secrets, &id)?;
    let dev = session.developer().id.clone();
    let revocations = revocations.inner().clone();
    let client = db
        .write(move |tx| {
            let now = clock::now();
            clients::insert(
                tx,
                &NewClient {
                    id: &id,
                    developer_id: &dev,
                    name: &name,
                    secret_sealed: &sealed,
                    secret_hash: &hash,
                    now,
                },
            )?;
            revocations.set_client(&id, 1);
            audit::by_developer(tx, &dev, "client.created", Some(&id), &ip)?;
            clients::find_owned(tx, &id, &dev)?
                .ok_or_else(|| ApiError::internal("the new client vanished"))
        })
        .await?;
    Ok((Status::Created, client_view(&client, Some(&secret), 0)))
}

#[get("/clients/<id>")]
async fn overview(
    session: PortalSession,
    db: &State<Db>,
    secrets: &State<Secrets>,
    id: &str,
) -> Result<Value, ApiError> {
    let (client, count) = owned(db, &session, id).await?;
    let secret = client_auth::reveal(secrets, &client)?;
    Ok(client_view(&client, Some(&secret), count))
}

#[patch("/clients/<id>", data = "<body>")]
async fn rename(
    _csrf: Csrf,
    session: PortalSession,
    ip: ClientIp,
    db: &State<Db>,
    secrets: &State<Secrets>,
    id: &str,
    body: Body<NameBody>,
) -> Result<Value, ApiError> {
    let name = valid_name(&body.into_inner().name)?;
    let (mut client, count) = owned(db, &session, id).await?;
    let (cid, new_name) = (client.id.clone(), name.clone());
    let dev = session.developer().id.clone();
    db.write(move |tx| {
        clients::rename(tx, &cid, &new_name)?;
        Ok(audit::by_developer(
            tx,
            &dev,
            "client.renamed",
            Some(&cid),
            &ip,
        )?)
    })
    .await?;
    client.name = name;
    let secret = client_auth::reveal(secrets, &client)?;
    Ok(client_view(&client, Some(&secret), count))
}

#[post("/clients/<id>/rotate-secret")]
async fn rotate_secret(
    _csrf: Csrf,
    session: PortalSession,
    ip: ClientIp,
    db: &State<Db>,
    secrets: &State<Secrets>,
    revocations: &State<Revocations>,
    id: &str,
) -> Result<Value, ApiError> {
    let (client, _) = owned(db, &session, id).await?;
    let (secret, sealed, hash) = client_auth::new_secret(secrets, &client.id)?;
    let (cid, dev) = (client.id.clone(), session.developer().id.clone());
    let revocations = revocations.inner().clone();
    db.write(move |tx| {
        let generation = clients::set_secret(tx, &cid, &sealed, &hash)?;
        // Client tokens carry the generation they were issued under: older ones die now.
        revocations.set_client(&cid, generation);
        Ok(audit::by_developer(
            tx,
            &dev,
            "client.secret_rotated",
            Some(&cid),
            &ip,
        )?)
    })
    .await?;
    Ok(json!({ "client_id": client.id, "client_secret": secret }))
}

#[delete("/clients/<id>")]
async fn remove(
    _csrf: Csrf,
    session: PortalSession,
    ip: ClientIp,
    db: &State<Db>,
    revocations: &State<Revocations>,
    id: &str,
) -> Result<Status, ApiError> {
    let (client, _) = owned(db, &session, id).await?;
    let revocations = revocations.inner().clone();
    db.write(move |tx| {
        revocations.revoke(tx, Kind::Client, &client.id)?;
        clients::delete(tx, &client.id)?;
        Ok(audit::by_developer(
            tx,
            &client.developer_id,
            "client.deleted",
            Some(&client.id),
            &ip,
        )?)
    })
    .await?;
    Ok(Status::NoContent)
}

fn user_view(u: &users::User) -> Value {
    json!({
        "id": u.id,
        "created_at": clock::rfc3339(u.created_at),
        "metadata": serde_json::from_str::<Value>(&u.metadata).unwrap_or_else(|_| json!({})),
        "disabled": u.disabled,
    })
}

#[get("/clients/<id>/users?<limit>&<after>")]
async fn list_users(
    session: PortalSession,
    db: &State<Db>,
    id: &str,
    limit: Vec<&str>,
    after: Vec<&str>,
) -> Result<Value, ApiError> {
    let (limit, after) = (
        optional_query(limit, "limit")?,
        optional_query(after, "after")?,
    );
    let limit = validate::page_limit(limit, 50, PAGE_MAX)?;
    let (client, _) = owned(db, &session, id).await?;
    let after = after.map(str::to_owned);
    let page = db
        .read(move |c| Ok(users::list(c, &client.id, after.as_deref(), limit)?))
        .await?;
    let next = match page.last() {
        Some(last) if page.len() == limit as usize => json!(last.id),
        _ => Value::Null,
    };
    let users: Vec<Value> = page.iter().map(user_view).collect();
    Ok(json!({ "users": users, "next": next }))
}

#[post("/clients/<id>/users/<user_id>/disable")]
async fn disable_user(
    _csrf: Csrf,
    session: PortalSession,
    ip: ClientIp,
    db: &State<Db>,
    revocations: &State<Revocations>,
    id: &str,
    user_id: &str,
) -> Result<Value, ApiError> {
    let (client, _) = owned(db, &session, id).await?;
    let (revocations, user_id) = (revocations.inner().clone(), user_id.to_owned());
    let user = db
        .write(move |tx| {
            if !users::disable(tx, &client.id, &user_id, clock::now())? {
                return Ok(None);
            }
            revocations.revoke(tx, Kind::User, &user_id)?;
            audit::by_developer(
                tx,
                &client.developer_id,
                "user.disabled",
                Some(&user_id),
                &ip,
            )?;
            Ok(users::find(tx, &client.id, &user_id)?)
        })
        .await?
        .ok_or_else(|| ApiError::NotFound("no such user".into()))?;
    Ok(json!({ "user": user_view(&user) }))
}

#[delete("/clients/<id>/users/<user_id>")]
async fn delete_user(
    _csrf: Csrf,
    session: PortalSession,
    ip: ClientIp,
    db: &State<Db>,
    revocations: &State<Revocations>,
    id: &str,
    user_id: &str,
) -> Result<Status, ApiError> {
    let (client, _) = owned(db, &session, id).await?;
    let (revocations, user_id) = (revocations.inner().clone(), user_id.to_owned());
    let deleted = db
        .write(move |tx| {
            let deleted = users::delete(tx, &client.id, &user_id)?;
            if deleted {
                revocations.revoke(tx, Kind::User, &user_id)?;
                audit::by_developer(
                    tx,
                    &client.developer_id,
                    "user.deleted",
                    Some(&user_id),
                    &ip,
                )?;
            }
            Ok(deleted)
        })
        .await?;
    if !deleted {
        return Err(ApiError::NotFound("no such user".into()));
    }
    Ok(Status::NoContent)
}

#[get("/clients/<id>/stats?<days>")]
async fn stats(
    session: PortalSession,
    db: &State<Db>,
    counter: &State<TokenCounter>,
    id: &str,
    days: Vec<&str>,
) -> Result<Value, ApiError> {
    let days = optional_query(days, "days")?;
    let days: i64 = match days {
        None => 30,
        Some(raw) => raw
            .parse()
            .ok()
            .filter(|d| (1..=366).contains(d))
            .ok_or_else(|| ApiError::bad_request("days: must be a number from 1 to 366"))?,
    };
    let (client, _) = owned(db, &session, id).await?;
    let today = clock::now() / 86_400;
    let first = today - days + 1;
    let cid = client.id.clone();
    let (new_users, issued, active) = db
        .read(move |c| {
            Ok((
                users::daily_new(c, &cid, first * 86_400)?,
                token_stats::daily(c, &cid, first)?,
                refresh::daily_active(c, &cid, first * 86_400)?,
            ))
        })
        .await?;
    let pending = counter.unflushed(&client.id);
    let sum = |rows: &[(i64, i64)], day: i64| -> i64 {
        rows.iter().filter(|(d, _)| *d == day).map(|(_, n)| n).sum()
    };
    let series: Vec<Value> = (first..=today)
        .map(|day| {
            json!({
                "date": &clock::rfc3339(day * 86_400)[..10],
                "new_users": sum(&new_users, day),
                "tokens_issued": sum(&issued, day) + sum(&pending, day),
                "active_users": sum(&active, day),
            })
        })
        .collect();
    Ok(json!({ "client_id": client.id, "days": series }))
}

pub fn routes() -> Vec<Route> {
    routes![
        list,
        create,
        overview,
        rename,
        rotate_secret,
        remove,
        list_users,
        disable_user,
        delete_user,
        stats
    ]
}
