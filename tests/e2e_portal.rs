//! The Developer Portal end to end, as a person uses it: the real binary on a free port
//! with the outbox transport, driven in headless Chromium over WebDriver.
//!
//! Sign up → the verification email from the outbox → its link → sign in (a wrong
//! password first) → the first client → its clientId and clientSecret read off the
//! Overview and used over HTTP to register and create a user → the Overview shows 1 user
//! → rotating the secret shows a new one that works. Screenshots of the main pages, wide
//! and 375 px narrow, go to `target/screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/process.rs"]
mod process;

#[path = "support/browser.rs"]
mod browser;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use browser::{
    click, click_text, eval, fill, find, screenshot, wait_path, wait_text, wait_until, Console,
    Driver,
};
use fantoccini::Client;
use process::Server;
use serde_json::{json, Value};

const EMAIL: &str = "dev@example.com";
const PASSWORD: &str = "correct horse battery";
const MASK: char = '•';

/// Runs `flow` in a browser session against a fresh server, closing the browser whether
/// the flow passes or panics (the panic is then re-raised).
fn with_portal<F, Fut>(flow: F)
where
    F: FnOnce(Client, Console, String, PathBuf) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let driver = Driver::start();
    let outbox = dir.path().join("data").join("outbox");
    let origin = server.url("");
    let rt = rocket::tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = driver.connect().await;
        let outcome = rocket::tokio::spawn(flow(c.clone(), driver.console(), origin, outbox)).await;
        let _ = c.close().await;
        if let Err(e) = outcome {
            match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(e) => panic!("the browser flow did not finish: {e}"),
            }
        }
    });
    drop(driver);
    drop(server);
}

/// Waits (up to 15 s) for at least `n` emails in the outbox; returns their text parts,
/// oldest first.
async fn emails(outbox: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut files: Vec<PathBuf> = std::fs::read_dir(outbox)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        files.sort();
        if files.len() >= n {
            return files
                .iter()
                .map(|p| {
                    let raw = std::fs::read(p).unwrap();
                    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
                    msg.body_text(0).unwrap().into_owned()
                })
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} emails in {}, found {}",
            outbox.display(),
            files.len()
        );
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first link in `text` that starts with `prefix`.
fn link(text: &str, prefix: &str) -> String {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no link {prefix}… in:\n{text}"));
    text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '"')
        .collect()
}

/// POST /v1/client/register with the credentials, then POST /v1/users with the client
/// token; returns the registration status.
async fn register_and_create_user(
    origin: &str,
    client_id: &str,
    secret: &str,
) -> reqwest::StatusCode {
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{origin}/v1/client/register"))
        .basic_auth(client_id, Some(secret))
        .send()
        .await
        .unwrap();
    let status = res.status();
    if !status.is_success() {
        return status;
    }
    let token: Value = res.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer", "{token}");
    let access = token["access_token"].as_str().expect("an access_token");
    let res = http
        .post(format!("{origin}/v1/users"))
        .bearer_auth(access)
        .json(&json!({"metadata": {"plan": "free"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let user: Value = res.json().await.unwrap();
    assert!(user["user"]["id"].is_string(), "{user}");
    status
}

/// Only the register call: its status.
async fn register_status(origin: &str, client_id: &str, secret: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("{origin}/v1/client/register"))
        .basic_auth(client_id, Some(secret))
        .send()
        .await
        .unwrap()
        .status()
}

/// The red, green and blue of a CSS `rgb(…)` or `rgba(…)` colour.
fn rgb(css: &str) -> [u32; 3] {
    let inner = css
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')');
    let parts: Vec<u32> = inner
        .split(',')
        .take(3)
        .map(|p| p.trim().parse().unwrap())
        .collect();
    [parts[0], parts[1], parts[2]]
}

/// The page has no horizontal scrolling at the current width.
async fn assert_fits(c: &Client, page: &str) {
    let overflow = eval(
        c,
        "document.documentElement.scrollWidth - document.documentElement.clientWidth",
    )
    .await;
    assert!(
        overflow.as_i64().unwrap_or(1) <= 0,
        "{page} scrolls sideways by {overflow} px"
    );
}

#[test]
fn sign_up_verify_sign_in_create_a_client_and_use_its_credentials() {
    with_portal(|c, console, origin, outbox| async move {
        // Sign up.
        c.goto(&format!("{origin}/signup")).await.unwrap();
        fill(&c, "#signup-form input[name=email]", EMAIL).await;
        fill(&c, "#signup-form input[name=password]", PASSWORD).await;
        screenshot(&c, "01-signup").await;
        click(&c, "#signup-form button[type=submit]").await;
        wait_text(&c, "h1", "Check your email").await;
        wait_text(&c, ".auth-lead", EMAIL).await;
        wait_path(&c, "/check-email").await;
        screenshot(&c, "02-check-email").await;

        // The verification email's link, opened in the browser, verifies the address and
        // leaves no token in the address bar.
        let mails = emails(&outbox, 1).await;
        let verify = link(&mails[0], &format!("{origin}/verify-email?token="));
        c.goto(&verify).await.unwrap();
        wait_text(&c, "h1", "Email verified").await;
        wait_text(&c, "#verify-result", EMAIL).await;
        let url = c.current_url().await.unwrap();
        assert_eq!(url.path(), "/verify-email");
        assert_eq!(url.query(), None, "the token stays out of the address bar");
        screenshot(&c, "03-email-verified").await;
        let errors = console.errors(&c).await;
        assert!(errors.is_empty(), "console errors: {errors:#?}");
        // The link is single use: opening it again says so.
        c.goto(&verify).await.unwrap();
        wait_text(
            &c,
            "#verify-error",
            "invalid, was already used or has expired",
        )
        .await;

        // Sign in: a wrong password first shows the API's error text.
        c.goto(&format!("{origin}/login")).await.unwrap();
        fill(&c, "#login-form input[name=email]", EMAIL).await;
        fill(&c, "#login-form input[name=password]", "not the password").await;
        click(&c, "#login-form button[type=submit]").await;
        wait_text(
            &c,
            "#login-form .form-error",
            "the email or password is not correct",
        )
        .await;
        screenshot(&c, "04-login-wrong-password").await;
        fill(&c, "#login-form input[name=password]", PASSWORD).await;
        click(&c, "#login-form button[type=submit]").await;

        // No clients yet: the big green button.
        wait_path(&c, "/clients").await;
        let first = find(&c, "#create-first-client").await;
        assert_eq!(first.text().await.unwrap(), "Create your first client");
        let topbar = eval(
            &c,
            "getComputedStyle(document.querySelector('.topbar')).backgroundColor",
        )
        .await;
        assert_eq!(
            topbar, "rgb(11, 18, 32)",
            "the stylesheet applies under the CSP"
        );
        let [r, g, b] = rgb(&first.css_value("background-color").await.unwrap());
        assert!(g > r + 60 && g > b + 60, "the button is green: {r},{g},{b}");
        assert!(
            c.find(fantoccini::Locator::Css("#verify-banner"))
                .await
                .is_err(),
            "no banner once verified"
        );
        screenshot(&c, "05-clients-empty").await;

        // Create the client.
        first.click().await.unwrap();
        wait_path(&c, "/clients/new").await;
        fill(&c, "#new-client-form input[name=name]", "Acme for iOS").await;
        screenshot(&c, "06-new-client").await;
        click_text(&c, "Create Client").await;

        // The Overview: clientId, the masked clientSecret, 0 users.
        let client_id = wait_until(&c, "#client-id", "a client id", |t| !t.is_empty()).await;
        wait_text(&c, "h1", "Acme for iOS").await;
        assert_eq!(find(&c, "#user-count").await.text().await.unwrap(), "0");
        let masked = find(&c, "#client-secret").await.text().await.unwrap();
        assert!(
            !masked.is_empty() && masked.chars().all(|ch| ch == MASK),
            "masked: {masked:?}"
        );
        let register_cmd = find(&c, "#quickstart-register").await.text().await.unwrap();
        assert_eq!(
            register_cmd,
            format!("curl -u {client_id}:{masked} -X POST {origin}/v1/client/register")
        );
        let user_cmd = find(&c, "#quickstart-user").await.text().await.unwrap();
        assert!(
            user_cmd.contains(&format!("-X POST {origin}/v1/users")),
            "{user_cmd}"
        );
        wait_until(&c, "#chart-new-users", "drawn", |t| {
            t.contains("last 30 days")
        })
        .await;
        screenshot(&c, "07-client-overview").await;

        click(&c, "#reveal-secret").await;
        let secret = wait_until(&c, "#client-secret", "revealed", |t| !t.contains(MASK)).await;
        assert!(secret.len() >= 20, "a real secret: {secret:?}");
        let register_cmd = find(&c, "#quickstart-register").await.text().await.unwrap();
        assert!(
            register_cmd.contains(&format!("{client_id}:{secret}")),
            "{register_cmd}"
        );

        // The credentials from the page work over HTTP.
        let status = register_and_create_user(&origin, &client_id, &secret).await;
        assert_eq!(
            status,
            reqwest::StatusCode::OK,
            "register with the Overview's credentials"
        );

        // Reloaded, the Overview counts the user, and the chart shows the day's signup.
        c.refresh().await.unwrap();
        wait_until(&c, "#user-count", "1", |t| t == "1").await;
        wait_until(&c, "#chart-new-users .chart-total-value", "1", |t| t == "1").await;
        screenshot(&c, "08-client-overview-one-user").await;

        // Rotate the secret: confirmed in a dialog, the new one is shown and works, the old
        // one no longer does.
        click(&c, "#rotate-secret").await;
        wait_text(
            &c,
            "dialog[open] .dialog-title",
            "Rotate the client secret?",
        )
        .await;
        screenshot(&c, "09-rotate-confirm").await;
        click(&c, "dialog[open] button[type=submit]").await;
        let rotated = wait_until(&c, "#client-secret", "a new secret", |t| {
            !t.is_empty() && !t.contains(MASK) && t != secret
        })
        .await;
        wait_text(&c, ".cred-notice", "The secret was rotated").await;
        screenshot(&c, "10-secret-rotated").await;
        assert_eq!(
            register_status(&origin, &client_id, &rotated).await,
            reqwest::StatusCode::OK
        );
        assert_eq!(
            register_status(&origin, &client_id, &secret).await,
            reqwest::StatusCode::UNAUTHORIZED
        );

        // The client's users.
        click_text(&c, "Users").await;
        wait_path(&c, &format!("/clients/{client_id}/users")).await;
        let rows = wait_until(&c, "#users-table tbody", "one user", |t| {
            t.contains("Active")
        })
        .await;
        assert!(rows.contains("plan"), "the metadata is shown: {rows}");
        screenshot(&c, "11-client-users").await;

        // Integrations and account settings render (their data, or the API's error).
        click_text(&c, "Integrations").await;
        wait_path(&c, &format!("/clients/{client_id}/integrations")).await;
        find(&c, "#register-integration").await;
        wait_until(&c, "#integration-list", "loaded", |t| {
            !t.contains("Loading")
        })
        .await;
        screenshot(&c, "12-client-integrations").await;
        // Register an integration: a redirect URI the API refuses is named beside its
        // field; then one it takes, whose credentials are shown.
        click_text(&c, "Register integration").await;
        fill(&c, "#integration-form input[name=name]", "IFTTT").await;
        fill(
            &c,
            "#integration-form textarea[name=redirect_uris]",
            "http://example.com/cb",
        )
        .await;
        click(&c, "#integration-form input[value='events:read']").await;
        click(&c, "#integration-form button[type=submit]").await;
        wait_text(
            &c,
            "#integration-form .field-error",
            "Redirect URIs, line 1:",
        )
        .await;
        screenshot(&c, "13-register-integration-error").await;
        fill(
            &c,
            "#integration-form textarea[name=redirect_uris]",
            "https://ifttt.com/channels/acme/authorize",
        )
        .await;
        click(&c, "#integration-form button[type=submit]").await;
        wait_text(&c, ".alert-success", "IFTTT is registered").await;
        let integration_secret = find(&c, ".integration-secret").await.text().await.unwrap();
        assert!(integration_secret.len() >= 20, "{integration_secret:?}");
        let card = wait_text(&c, "#integration-list .integration", "IFTTT").await;
        assert!(
            card.contains("https://ifttt.com/channels/acme/authorize"),
            "{card}"
        );
        assert!(
            card.contains("profile:read") && card.contains("events:read"),
            "{card}"
        );
        assert!(!card.contains("events:write"), "{card}");
        screenshot(&c, "14-client-integrations-one").await;

        click_text(&c, "Settings").await;
        wait_path(&c, "/settings").await;
        wait_text(&c, "#account-email", EMAIL).await;
        screenshot(&c, "15-settings").await;
        click_text(&c, "Activity").await;
        wait_path(&c, "/activity").await;
        wait_text(&c, "#activity-table", "Client secret rotated").await;
        wait_text(&c, "#activity-table", "Integration registered").await;
        wait_text(&c, "#activity-table", "Failed sign-in attempt").await;
        screenshot(&c, "15b-activity").await;
        c.goto(&format!("{origin}/clients")).await.unwrap();
        wait_text(&c, "#client-list", "Acme for iOS").await;
        screenshot(&c, "16-clients-list").await;

        // 375 px wide: nothing scrolls sideways.
        c.set_window_size(375, 812).await.unwrap();
        for (path, name, ready) in [
            (
                format!("/clients/{client_id}"),
                "17-narrow-overview",
                "#user-count",
            ),
            ("/clients".to_owned(), "18-narrow-clients", "#client-list"),
            (
                format!("/clients/{client_id}/users"),
                "19-narrow-users",
                "#users-table",
            ),
            (
                "/settings".to_owned(),
                "20-narrow-settings",
                "#password-form",
            ),
        ] {
            c.goto(&format!("{origin}{path}")).await.unwrap();
            find(&c, ready).await;
            assert_fits(&c, &path).await;
            screenshot(&c, name).await;
        }

        // Sign out; the sign-in page at 375 px.
        click_text(&c, "Sign out").await;
        wait_path(&c, "/login").await;
        wait_text(&c, ".flash", "You have signed out").await;
        assert_fits(&c, "/login").await;
        screenshot(&c, "21-narrow-login").await;

        // Through all of it: no script error and nothing refused by the CSP.
        let errors = console.errors(&c).await;
        assert!(errors.is_empty(), "console errors: {errors:#?}");
    });
}

#[test]
fn unverified_banner_password_reset_settings_errors_and_deleting() {
    with_portal(|c, console, origin, outbox| async move {
        const NEW_PASSWORD: &str = "a brand new passphrase";

        // Signed up and signed in without verifying: the banner, and its Resend.
        c.goto(&format!("{origin}/signup")).await.unwrap();
        fill(&c, "#signup-form input[name=email]", EMAIL).await;
        fill(&c, "#signup-form input[name=password]", "short").await;
        click(&c, "#signup-form button[type=submit]").await;
        wait_text(
            &c,
            "#signup-form .field-error",
            "Password must be 10 to 256 characters",
        )
        .await;
        fill(&c, "#signup-form input[name=password]", PASSWORD).await;
        click(&c, "#signup-form button[type=submit]").await;
        wait_text(&c, "h1", "Check your email").await;
        click_text(&c, "Sign in").await;
        fill(&c, "#login-form input[name=email]", EMAIL).await;
        fill(&c, "#login-form input[name=password]", PASSWORD).await;
        click(&c, "#login-form button[type=submit]").await;
        wait_text(&c, "#verify-banner", "Verify your email address").await;
        click(&c, "#verify-banner button").await;
        wait_text(&c, "#verify-banner", "Sent!").await;
        assert_eq!(
            emails(&outbox, 2).await.len(),
            2,
            "the resend sent a second email"
        );
        screenshot(&c, "22-unverified-banner").await;

        // Its client exists, but the SDK cannot register it yet, as the Overview warns.
        click(&c, "#create-first-client").await;
        fill(&c, "#new-client-form input[name=name]", "Beta").await;
        click_text(&c, "Create Client").await;
        let client_id = wait_until(&c, "#client-id", "a client id", |t| !t.is_empty()).await;
        wait_text(
            &c,
            "#credentials .alert-warning",
            "will fail until you've verified",
        )
        .await;
        click(&c, "#reveal-secret").await;
        let secret = wait_until(&c, "#client-secret", "revealed", |t| !t.contains(MASK)).await;
        assert_eq!(
            register_status(&origin, &client_id, &secret).await,
            reqwest::StatusCode::FORBIDDEN
        );

        // Forgot password → the emailed link → a new password (a short one is refused
        // beside the field) → signed in with it; the reset proved the address too.
        click_text(&c, "Sign out").await;
        wait_path(&c, "/login").await;
        click_text(&c, "Forgot your password?").await;
        fill(&c, "#forgot-form input[name=email]", EMAIL).await;
        click(&c, "#forgot-form button[type=submit]").await;
        wait_text(&c, ".alert-success", "we sent it a link").await;
        let mails = emails(&outbox, 3).await;
        let reset = link(&mails[2], &format!("{origin}/reset-password?token="));
        c.goto(&reset).await.unwrap();
        find(&c, "#reset-form").await;
        assert_eq!(
            c.current_url().await.unwrap().query(),
            None,
            "the token left the address bar"
        );
        fill(&c, "#reset-form input[name=password]", "too short").await;
        click(&c, "#reset-form button[type=submit]").await;
        wait_text(
            &c,
            "#reset-form .field-error",
            "New password must be 10 to 256 characters",
        )
        .await;
        screenshot(&c, "23-reset-password-error").await;
        fill(&c, "#reset-form input[name=password]", NEW_PASSWORD).await;
        click(&c, "#reset-form button[type=submit]").await;
        wait_path(&c, "/login").await;
        wait_text(&c, ".flash", "Your password was reset").await;
        fill(&c, "#login-form input[name=email]", EMAIL).await;
        fill(&c, "#login-form input[name=password]", NEW_PASSWORD).await;
        click(&c, "#login-form button[type=submit]").await;
        wait_path(&c, "/clients").await;
        find(&c, "#client-list").await;
        assert!(
            c.find(fantoccini::Locator::Css("#verify-banner"))
                .await
                .is_err(),
            "the reset link verified the address"
        );
        assert_eq!(
            register_status(&origin, &client_id, &secret).await,
            reqwest::StatusCode::OK
        );

        // Settings: a wrong current password is named beside its field.
        click_text(&c, "Settings").await;
        fill(
            &c,
            "#password-form input[name=current_password]",
            "not my password",
        )
        .await;
        fill(
            &c,
            "#password-form input[name=new_password]",
            "another new passphrase",
        )
        .await;
        click(&c, "#password-form button[type=submit]").await;
        wait_text(
            &c,
            "#password-form .field-error",
            "Current password is not correct",
        )
        .await;
        let invalid = find(&c, "#password-form input[name=current_password]")
            .await
            .attr("aria-invalid")
            .await
            .unwrap();
        assert_eq!(invalid.as_deref(), Some("true"));
        screenshot(&c, "24-settings-wrong-password").await;

        // Deleting the client takes its name typed out.
        c.goto(&format!("{origin}/clients/{client_id}"))
            .await
            .unwrap();
        click(&c, "#delete-client").await;
        let confirm = find(&c, "dialog[open] button[type=submit]").await;
        assert!(
            !confirm.is_enabled().await.unwrap(),
            "disabled until the name is typed"
        );
        fill(&c, "dialog[open] input[name=confirm]", "Beta").await;
        screenshot(&c, "25-delete-client-confirm").await;
        confirm.click().await.unwrap();
        wait_path(&c, "/clients").await;
        wait_text(&c, ".flash", "was deleted").await;
        find(&c, "#create-first-client").await;
        assert_eq!(
            register_status(&origin, &client_id, &secret).await,
            reqwest::StatusCode::UNAUTHORIZED
        );

        // Deleting the account signs out for good.
        click_text(&c, "Settings").await;
        click(&c, "#delete-account").await;
        fill(&c, "dialog[open] input[name=confirm]", EMAIL).await;
        click(&c, "dialog[open] button[type=submit]").await;
        wait_path(&c, "/signup").await;
        wait_text(&c, ".flash", "Your account was deleted").await;
        c.goto(&format!("{origin}/login")).await.unwrap();
        fill(&c, "#login-form input[name=email]", EMAIL).await;
        fill(&c, "#login-form input[name=password]", NEW_PASSWORD).await;
        click(&c, "#login-form button[type=submit]").await;
        wait_text(
            &c,
            "#login-form .form-error",
            "the email or password is not correct",
        )
        .await;

        let errors = console.errors(&c).await;
        assert!(errors.is_empty(), "console errors: {errors:#?}");
    });
}
