//! Developer accounts under `/api/portal`: sign-up, email verification, sign-in and out,
//! password reset and change, account deletion.
//!
//! Answers never tell whether an address has an account: sign-up, resend and forgot
//! answer the same either way, and a wrong password costs and reads like an unknown email.

use rocket::http::{CookieJar, Status};
use rocket::serde::json::{json, Value};
use rocket::{delete, get, post, routes, Route, State};
use serde::Deserialize;

use crate::audit;
use crate::auth::client_ip::ClientIp;
use crate::auth::password::Passwords;
use crate::auth::rate_limit::RateLimits;
use crate::auth::revocation::{Kind, Revocations};
use crate::auth::secrets;
use crate::auth::sessions::{self, Csrf, PortalSession};
use crate::body::Body;
use crate::clock;
use crate::config::Config;
use crate::db::email_tokens::{self, Purpose};
use crate::db::{clients, developers, Db};
use crate::email::templates::Templates;
use crate::email::{enqueue, Mailer};
use crate::error::ApiError;
use crate::{ids, validate};

type Answer = Result<(Status, Value), ApiError>;

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Deserialize)]
struct EmailOnly {
    email: String,
}

#[derive(Deserialize)]
struct TokenOnly {
    token: String,
}

#[derive(Deserialize)]
struct Reset {
    token: String,
    password: String,
}

#[derive(Deserialize)]
struct Change {
    current_password: String,
    new_password: String,
}

fn invalid_credentials() -> ApiError {
    ApiError::Custom {
        status: Status::Unauthorized,
        code: "invalid_credentials",
        description: "the email or password is not correct".into(),
    }
}

fn bad_link(what: &str) -> ApiError {
    ApiError::bad_request(format!(
        "token: this {what} link is invalid, was already used or has expired; ask for a new one"
    ))
}

/// The developer as the portal shows them.
fn developer_view(id: &str, email: &str, verified: bool, created_at: i64) -> Value {
    json!({
        "id": id,
        "email": email,
        "email_verified": verified,
        "created_at": clock::rfc3339(created_at),
    })
}

/// Queues an email to `to` built by `make(link)` with a fresh single-use token for
/// `purpose`, in the caller's transaction.
fn send_link(
    tx: &crate::db::Conn<'_>,
    config: &Config,
    templates: &Templates,
    developer_id: &str,
    to: &str,
    purpose: Purpose,
) -> Result<(), ApiError> {
    let token = secrets::random_token(32);
    let now = clock::now();
    let (path, ttl) = match purpose {
        Purpose::VerifyEmail => ("verify-email", config.security.verify_email_ttl),
        Purpose::ResetPassword => ("reset-password", config.security.reset_password_ttl),
    };
    email_tokens::insert(
        tx,
        &secrets::token_hash(&token),
        developer_id,
        purpose,
        now,
        now + ttl.secs() as i64,
    )?;
    let link = format!("{}/{path}?token={token}", config.server.public_url);
    let email = match purpose {
        Purpose::VerifyEmail => templates.verification(&link, ttl.0),
        Purpose::ResetPassword => templates.password_reset(&link, ttl.0),
    };
    enqueue(tx, &email.addressed_to(to))?;
    Ok(())
}

#[post("/signup", data = "<body>")]
#[allow(clippy::too_many_arguments)]
async fn signup(
    _csrf: Csrf,
    ip: ClientIp,
    limits: &State<RateLimits>,
    passwords: &State<Passwords>,
    db: &State<Db>,
    config: &State<Config>,
    mailer: &State<Mailer>,
    templates: &State<Templates>,
    body: Body<Credentials>,
) -> Answer {
    limits.signup.check(&ip.key()).await?;
    let Credentials { email, password } = body.into_inner();
    let email = validate::email(&email, "email")?;
    Passwords::validate(&password, "password")?;
    // Both a new and a taken address cost one hash, so timing tells nothing either.
    let hash = passwords.hash(password).await?;
    // An address can be mailed only so often, whoever asks; beyond that the answer is
    // the same but nothing is sent.
    let may_mail = limits.email.check(&email).await.is_ok();
    let config = config.inner().clone();
    let templates = templates.inner().clone();
    db.write(move |tx| {
        let id = ids::new_id("dev");
        let created = developers::insert(tx, &id, &email, &hash, clock::now())?;
        if !may_mail {
            return Ok(());
        }
        if created {
            send_link(tx, &config, &templates, &id, &email, Purpose::VerifyEmail)
        } else {
            let sign_in = format!("{}/login", config.server.public_url);
            enqueue(tx, &templates.signup_attempt(&sign_in).addressed_to(&email))?;
            Ok(())
        }
    })
    .await?;
    mailer.wake();
    Ok((Status::Created, json!({"status": "verification_sent"})))
}

#[post("/verify-email", data = "<body>")]
async fn verify_email(_csrf: Csrf, db: &State<Db>, body: Body<TokenOnly>) -> Answer {
    let token = body.into_inner().token;
    validate::token(&token, "token")?;
    let hash = secrets::token_hash(&token);
    let developer = db
        .write(move |tx| {
            let now = clock::now();
            let Some(id) = email_tokens::consume(tx, &hash, Purpose::VerifyEmail, now)? else {
                return Ok(None);
            };
            developers::mark_verified(tx, &id, now)?;
            Ok(developers::find(tx, &id)?)
        })
        .await?
        .ok_or_else(|| bad_link("verification"))?;
    Ok((
        Status::Ok,
        json!({
            "status": "verified",
            "developer": developer_view(&developer.id, &developer.email, true, developer.created_at),
        }),
    ))
}

/// Resend-verification and forgot-password: the same limits and the same 202 whether or
/// not the address has an account; the link goes only to an account that can use it.
async fn mail_link_if_account(
    ip: &ClientIp,
    (limits, db, config, mailer, templates): (&RateLimits, &Db, &Config, &Mailer, &Templates),
    raw_email: &str,
    purpose: Purpose,
) -> Answer {
    let email = validate::email(raw_email, "email")?;
    limits.email_ip.check(&ip.key()).await?;
    limits.email.check(&email).await?;
    let (config, templates) = (config.clone(), templates.clone());
    db.write(move |tx| match developers::find_by_email(tx, &email)? {
        Some(d) if purpose == Purpose::ResetPassword || d.email_verified_at.is_none() => {
            send_link(tx, &config, &templates, &d.id, &d.email, purpose)
        }
        _ => Ok(()),
    })
    .await?;
    mailer.wake();
    Ok((Status::Accepted, json!({"status": "accepted"})))
}

#[post("/resend-verification", data = "<body>")]
#[allow(clippy::too_many_arguments)]
async fn resend_verification(
    _csrf: Csrf,
    ip: ClientIp,
    limits: &State<RateLimits>,
    db: &State<Db>,
    config: &State<Config>,
    mailer: &State<Mailer>,
    templates: &State<Templates>,
    body: Body<EmailOnly>,
) -> Answer {
    let email = body.into_inner().email;
    let deps = (
        limits.inner(),
        db.inner(),
        config.inner(),
        mailer.inner(),
        templates.inner(),
    );
    mail_link_if_account(&ip, deps, &email, Purpose::VerifyEmail).await
}

#[post("/login", data = "<body>")]
#[allow(clippy::too_many_arguments)]
async fn login(
    _csrf: Csrf,
    ip: ClientIp,
    limits: &State<RateLimits>,
    passwords: &State<Passwords>,
    db: &State<Db>,
    config: &State<Config>,
    jar: &CookieJar<'_>,
    body: Body<Credentials>,
) -> Answer {
    let Credentials { email, password } = body.into_inner();
    // A malformed address cannot have an account; it is answered like a wrong password.
    let email = validate::email(&email, "email").unwrap_or_default();
    let email_key = format!("email:{email}");
    limits.login.check(&ip.key()).await?;
    limits.login.check(&email_key).await?;
    let lookup = email.clone();
    let found = db
        .read(move |c| Ok(developers::find_by_email(c, &lookup)?))
        .await?;
    let stored = found.as_ref().map(|d| d.password_hash.clone());
    let checked = passwords.verify(password, stored.clone()).await?;
    let developer = match found {
        Some(d) if checked.ok => d,
        other => {
            limits.login.failed(&ip.key()).await;
            limits.login.failed(&email_key).await;
            // Recorded for unknown addresses too (as the server's own event), so both
            // cases cost the same write and timing tells nothing.
            let owner = other.map(|d| d.id);
            db.write(move |tx| match owner {
                Some(id) => Ok(audit::on_account(tx, &id, "login.failed", &ip)?),
                None => Ok(audit::by_server(
                    tx,
                    "anonymous",
                    "login.failed",
                    None,
                    Some(&ip),
                )?),
            })
            .await?;
            return Err(invalid_credentials());
        }
    };
    let (owned, id) = (config.inner().clone(), developer.id.clone());
    let token = db
        .write(move |tx| {
            if let (Some(new), Some(old)) = (checked.rehashed, stored) {
                developers::rehash(tx, &id, &old, &new)?;
            }
            audit::by_developer(tx, &id, "login.succeeded", None, &ip)?;
            sessions::create(tx, &owned, &id)
        })
        .await?;
    sessions::set_cookie(jar, config, token);
    let view = developer_view(
        &developer.id,
        &developer.email,
        developer.email_verified_at.is_some(),
        developer.created_at,
    );
    Ok((Status::Ok, json!({ "developer": view })))
}

#[post("/logout")]
async fn logout(_csrf: Csrf, db: &State<Db>, jar: &CookieJar<'_>) -> Result<Status, ApiError> {
    if let Some(cookie) = jar.get(sessions::COOKIE) {
        let hash = secrets::token_hash(cookie.value());
        db.write(move |tx| Ok(crate::db::sessions::delete(tx, &hash)?))
            .await?;
    }
    sessions::clear_cookie(jar);
    Ok(Status::NoContent)
}

#[post("/password/forgot", data = "<body>")]
#[allow(clippy::too_many_arguments)]
async fn forgot_password(
    _csrf: Csrf,
    ip: ClientIp,
    limits: &State<RateLimits>,
    db: &State<Db>,
    config: &State<Config>,
    mailer: &State<Mailer>,
    templates: &State<Templates>,
    body: Body<EmailOnly>,
) -> Answer {
    let email = body.into_inner().email;
    let deps = (
        limits.inner(),
        db.inner(),
        config.inner(),
        mailer.inner(),
        templates.inner(),
    );
    mail_link_if_account(&ip, deps, &email, Purpose::ResetPassword).await
}

#[post("/password/reset", data = "<body>")]
async fn reset_password(
    _csrf: Csrf,
    ip: ClientIp,
    passwords: &State<Passwords>,
    db: &State<Db>,
    body: Body<Reset>,
) -> Answer {
    let Reset { token, password } = body.into_inner();
    validate::token(&token, "token")?;
    Passwords::validate(&password, "password")?;
    let hash = passwords.hash(password).await?;
    let token_hash = secrets::token_hash(&token);
    db.write(move |tx| {
        let now = clock::now();
        let Some(id) = email_tokens::consume(tx, &token_hash, Purpose::ResetPassword, now)? else {
            return Err(bad_link("password reset"));
        };
        developers::set_password(tx, &id, &hash, now)?;
        // The link came by email, so the address is proven too.
        developers::mark_verified(tx, &id, now)?;
        email_tokens::void_all(tx, &id, Purpose::ResetPassword, now)?;
        crate::db::sessions::delete_others(tx, &id, None)?;
        audit::on_account(tx, &id, "password.reset", &ip)?;
        Ok(())
    })
    .await?;
    Ok((Status::Ok, json!({"status": "password_reset"})))
}

#[get("/me")]
fn me(session: PortalSession) -> Value {
    let d = session.developer();
    json!({ "developer": developer_view(&d.id, &d.email, d.email_verified, d.created_at) })
}

#[post("/password/change", data = "<body>")]
async fn change_password(
    _csrf: Csrf,
    ip: ClientIp,
    session: PortalSession,
    limits: &State<RateLimits>,
    passwords: &State<Passwords>,
    db: &State<Db>,
    body: Body<Change>,
) -> Answer {
    let Change {
        current_password,
        new_password,
    } = body.into_inner();
    Passwords::validate(&new_password, "new_password")?;
    let d = session.developer().clone();
    let key = format!("email:{}", d.email);
    limits.login.check(&key).await?;
    let lookup = d.id.clone();
    let stored = db
        .read(move |c| Ok(developers::find(c, &lookup)?.map(|d| d.password_hash)))
        .await?;
    if !passwords.verify(current_password, stored).await?.ok {
        limits.login.failed(&key).await;
        return Err(ApiError::bad_request("current_password: is not correct"));
    }
    let hash = passwords.hash(new_password).await?;
    let keep = session.token_hash().to_owned();
    db.write(move |tx| {
        developers::set_password(tx, &d.id, &hash, clock::now())?;
        crate::db::sessions::delete_others(tx, &d.id, Some(&keep))?;
        audit::by_developer(tx, &d.id, "password.changed", None, &ip)?;
        Ok(())
    })
    .await?;
    Ok((Status::Ok, json!({"status": "password_changed"})))
}

#[delete("/me")]
async fn delete_me(
    _csrf: Csrf,
    ip: ClientIp,
    session: PortalSession,
    db: &State<Db>,
    revocations: &State<Revocations>,
    jar: &CookieJar<'_>,
) -> Result<Status, ApiError> {
    let id = session.developer().id.clone();
    let revocations = revocations.inner().clone();
    db.write(move |tx| {
        // Clients, their users and everything below go with the account (cascade); their
        // tokens must stop now, not at expiry.
        for client in clients::ids_owned(tx, &id)? {
            revocations.revoke(tx, Kind::Client, &client)?;
        }
        developers::delete(tx, &id)?;
        let actor = format!("developer:{id}");
        audit::by_server(tx, &actor, "account.deleted", Some(&id), Some(&ip))?;
        Ok(())
    })
    .await?;
    sessions::clear_cookie(jar);
    Ok(Status::NoContent)
}

pub fn routes() -> Vec<Route> {
    routes![
        signup,
        verify_email,
        resend_verification,
        login,
        logout,
        forgot_password,
        reset_password,
        me,
        change_password,
        delete_me
    ]
}
