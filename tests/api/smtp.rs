//! Account emails over a real SMTP conversation with a sink started by the test.

use std::time::Duration;

use rocket::http::{Method, Status};
use serde_json::json;
use set_server::config::{Config, SmtpTls, Transport};
use set_server::email::WorkerSettings;

use crate::helpers::{Mail, TestApp};
use crate::smtp_sink::{free_port, SmtpSink};

const PASSWORD: &str = "correct horse battery";

fn smtp_to(port: u16) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.email.transport = Transport::Smtp;
        c.email.smtp.host = "127.0.0.1".into();
        c.email.smtp.port = port;
        c.email.smtp.tls = SmtpTls::None;
    }
}

/// Retries every 100 ms instead of 5 s, so "SMTP comes back" is seen quickly.
fn fast(r: rocket::Rocket<rocket::Build>) -> rocket::Rocket<rocket::Build> {
    r.manage(WorkerSettings {
        poll_interval: Duration::from_millis(100),
        first_retry: Duration::from_millis(100),
        max_retry: Duration::from_millis(200),
        ..WorkerSettings::default()
    })
}

async fn verify_with(app: &TestApp, mail: &Mail, email: &str) {
    let r = app
        .post(
            "/verify-email",
            json!({ "token": mail.token("verify-email") }),
        )
        .await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
    let session = app.login(email, PASSWORD).await;
    let me = app.portal(Method::Get, "/me", None, Some(&session)).await;
    assert_eq!(me.body["developer"]["email_verified"], true);
}

#[rocket::async_test]
async fn verification_email_travels_over_smtp_and_its_link_verifies() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_mounted(smtp_to(sink.port()), fast).await;
    let r = app
        .post(
            "/signup",
            json!({"email": "dev@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, Status::Created);
    let got = sink.wait_for(1, Duration::from_secs(10)).await;
    let mail = Mail::parse(&got[0].data);
    assert_eq!(mail.to, "dev@example.com");
    assert!(!mail.html.is_empty() && !mail.text.is_empty(), "both parts");
    verify_with(&app, &mail, "dev@example.com").await;
}

#[rocket::async_test]
async fn smtp_down_at_signup_still_answers_and_the_email_arrives_later() {
    let port = free_port();
    let app = TestApp::spawn_mounted(smtp_to(port), fast).await;
    let r = app
        .post(
            "/signup",
            json!({"email": "dev@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, Status::Created, "{}", r.body);
    rocket::tokio::time::sleep(Duration::from_millis(400)).await;
    let sink = SmtpSink::start_on(port);
    let got = sink.wait_for(1, Duration::from_secs(10)).await;
    verify_with(&app, &Mail::parse(&got[0].data), "dev@example.com").await;
}

#[rocket::async_test]
async fn a_restart_while_smtp_is_down_loses_no_email() {
    let port = free_port();
    let app = TestApp::spawn_mounted(smtp_to(port), fast).await;
    let r = app
        .post(
            "/signup",
            json!({"email": "dev@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, Status::Created);
    let TestApp { client, dir, .. } = app;
    client.terminate().await;
    let sink = SmtpSink::start_on(port);
    rocket::tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        sink.messages().is_empty(),
        "the stopped server sends nothing"
    );
    let app = TestApp::spawn_in(dir, smtp_to(port), fast).await;
    let got = sink.wait_for(1, Duration::from_secs(10)).await;
    verify_with(&app, &Mail::parse(&got[0].data), "dev@example.com").await;
}
