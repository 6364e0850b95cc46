//! Email delivery end to end: the real Rocket from the library, its background worker, a
//! real SMTP conversation with the test sink, and the outbox folder.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/smtp_sink.rs"]
mod smtp_sink;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use mail_parser::MimeHeaders;
use rocket::local::asynchronous::Client;
use set_server::config::{Config, Secret, SmtpTls, Transport};
use set_server::db::email_queue::{self, QueuedEmail};
use set_server::db::Db;
use set_server::email::{templates, Email, Mailer, WorkerSettings};
use smtp_sink::SmtpSink;

const DAY: Duration = Duration::from_secs(86_400);
const LINK: &str = "http://127.0.0.1:8080/verify-email?token=tok_secret123&next=<portal>";
const WAIT: Duration = Duration::from_secs(10);

fn config(dir: &Path) -> Config {
    let mut c = Config::load(None).unwrap();
    c.database.path = dir.join("set.db");
    c.email.outbox_dir = dir.join("outbox");
    c.email.from = "Set Tests <no-reply@set.test>".into();
    c
}

fn smtp_config(dir: &Path, port: u16) -> Config {
    let mut c = config(dir);
    c.email.transport = Transport::Smtp;
    c.email.smtp.host = "127.0.0.1".into();
    c.email.smtp.port = port;
    c.email.smtp.tls = SmtpTls::None;
    c
}

/// Retries every 100 ms, doubling to 400 ms; polls every 50 ms.
fn fast() -> WorkerSettings {
    WorkerSettings {
        poll_interval: Duration::from_millis(50),
        first_retry: Duration::from_millis(100),
        max_retry: Duration::from_millis(400),
        ..WorkerSettings::default()
    }
}

async fn launch(config: Config, settings: WorkerSettings) -> Client {
    let app = set_server::App::open(config).unwrap();
    Client::tracked(set_server::build(app).manage(settings))
        .await
        .unwrap()
}

fn db(client: &Client) -> Db {
    client.rocket().state::<Db>().unwrap().clone()
}

/// Queues `email` the way a route does: inside a write transaction, then a wake-up.
async fn enqueue(client: &Client, email: Email) {
    db(client)
        .write(move |tx| Ok(email_queue::enqueue(tx, &email)?))
        .await
        .unwrap();
    client.rocket().state::<Mailer>().unwrap().wake();
}

fn verification(to: &str) -> Email {
    templates::verification(LINK, DAY).addressed_to(to)
}

async fn rows(client: &Client) -> Vec<QueuedEmail> {
    db(client)
        .read(|c| Ok(email_queue::list_recent(c, 100)?))
        .await
        .unwrap()
}

/// Waits until the only queued row satisfies `done`; panics after `WAIT`.
async fn wait_row(client: &Client, done: impl Fn(&QueuedEmail) -> bool) -> QueuedEmail {
    let start = Instant::now();
    loop {
        let rows = rows(client).await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        if done(&rows[0]) {
            return rows[0].clone();
        }
        assert!(start.elapsed() < WAIT, "row never got there: {:?}", rows[0]);
        rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Checks a delivered verification email: headers, both parts, the escaped link.
fn assert_verification(raw: &[u8], to: &str) {
    let msg = mail_parser::MessageParser::default().parse(raw).unwrap();
    assert_eq!(msg.subject(), Some("Verify your email address for Set"));
    let from = msg.from().and_then(|a| a.first()).unwrap();
    assert_eq!(from.address(), Some("no-reply@set.test"));
    assert_eq!(from.name(), Some("Set Tests"));
    let rcpt = msg.to().and_then(|a| a.first()).unwrap();
    assert_eq!(rcpt.address(), Some(to));
    assert!(msg.message_id().is_some_and(|id| id.ends_with("@set.test")));
    let ct = msg.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    assert_eq!((msg.text_body_count(), msg.html_body_count()), (1, 1));
    let text = msg.body_text(0).unwrap();
    assert!(text.contains(LINK), "{text}");
    assert!(text.contains("expires in 24 hours"), "{text}");
    let html = msg.body_html(0).unwrap();
    assert!(html.contains("Verify Email"), "{html}");
    assert!(
        html.contains(r#"href="http://127.0.0.1:8080/verify-email?token=tok_secret123&amp;next=&lt;portal&gt;""#),
        "{html}"
    );
}

#[rocket::async_test]
async fn queued_email_is_delivered_over_smtp_with_both_parts_when_the_worker_is_woken() {
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = smtp_config(dir.path(), sink.port());
    config.email.smtp.username = "mailer".into();
    config.email.smtp.password = serde_json::from_str::<Secret>(r#""s3cret pass""#).unwrap();
    // Polling would take an hour: only the wake-up can deliver in time.
    let settings = WorkerSettings {
        poll_interval: Duration::from_secs(3600),
        ..fast()
    };
    let app = set_server::App::open(config).unwrap();
    let warm_up = Email {
        subject: "warm-up".into(),
        ..verification("early@example.test")
    };
    app.db
        .write_blocking(|tx| Ok(email_queue::enqueue(tx, &warm_up)?))
        .unwrap();
    let client = Client::tracked(set_server::build(app).manage(settings))
        .await
        .unwrap();
    // The worker's first pass delivers what was queued before the start; once it has,
    // the worker sits waiting for a wake-up.
    sink.wait_for(1, WAIT).await;
    rocket::tokio::time::sleep(Duration::from_millis(300)).await;

    enqueue(&client, verification("dev@example.test")).await;
    let got = sink.wait_for(2, WAIT).await;
    assert_eq!(got[1].mail_from, "no-reply@set.test");
    assert_eq!(got[1].rcpt_to, vec!["dev@example.test".to_owned()]);
    assert_eq!(
        got[1].auth,
        Some(("mailer".to_owned(), "s3cret pass".to_owned()))
    );
    assert_verification(&got[1].data, "dev@example.test");

    let start = Instant::now();
    let row = loop {
        let rows = rows(&client).await;
        if rows[0].sent_at.is_some() {
            break rows[0].clone();
        }
        assert!(start.elapsed() < WAIT, "{rows:?}");
        rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(row.email.to, "dev@example.test");
    assert_eq!((row.attempts, row.next_attempt_at), (1, None));
    assert_eq!(row.last_error, None);
    assert_eq!((row.email.text.as_str(), row.email.html.as_str()), ("", ""));
}

#[rocket::async_test]
async fn smtp_carries_dot_lines_and_non_ascii_text_intact() {
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let client = launch(smtp_config(dir.path(), sink.port()), fast()).await;
    // ASCII only, so it goes as 7bit and the dots reach the wire as they are.
    let text = "first line\r\n.a line starting with a dot\r\n..two dots\r\n.\r\nlast\r\n";
    let email = Email {
        to: "Zoë <zoe@example.test>".into(),
        subject: "Grüße ✓".into(),
        text: text.into(),
        html: "<p>Été ✓</p>".into(),
    };
    enqueue(&client, email).await;
    let got = sink.wait_for(1, WAIT).await;
    let msg = got[0].parsed();
    assert_eq!(msg.subject(), Some("Grüße ✓"));
    assert_eq!(
        msg.to().and_then(|a| a.first()).and_then(|a| a.name()),
        Some("Zoë")
    );
    assert_eq!(
        msg.body_text(0).unwrap().replace("\r\n", "\n"),
        text.replace("\r\n", "\n")
    );
    assert_eq!(msg.body_html(0).unwrap().trim_end(), "<p>Été ✓</p>");
}

#[rocket::async_test]
async fn email_queued_while_smtp_is_down_arrives_once_it_is_up() {
    let port = smtp_sink::free_port();
    let dir = tempfile::tempdir().unwrap();
    let client = launch(smtp_config(dir.path(), port), fast()).await;

    enqueue(&client, verification("dev@example.test")).await;
    let failing = wait_row(&client, |r| r.attempts >= 2).await;
    assert!(failing.is_pending());
    let error = failing.last_error.unwrap();
    assert!(!error.is_empty());
    assert!(!error.contains("tok_secret123"), "{error}");

    let sink = SmtpSink::start_on(port);
    let got = sink.wait_for(1, WAIT).await;
    assert_verification(&got[0].data, "dev@example.test");
    let row = wait_row(&client, |r| r.sent_at.is_some()).await;
    assert!(row.attempts >= 3, "{row:?}");
    assert_eq!(row.last_error, None);
}

#[rocket::async_test]
async fn email_queued_before_a_restart_is_delivered_by_the_next_server() {
    let port = smtp_sink::free_port();
    let dir = tempfile::tempdir().unwrap();
    let config = smtp_config(dir.path(), port);

    let first = launch(config.clone(), fast()).await;
    enqueue(&first, verification("dev@example.test")).await;
    wait_row(&first, |r| r.attempts >= 1).await;
    drop(first.terminate().await);

    // The stopped server's worker is gone: with SMTP back, nothing arrives until a new
    // server starts on the same database.
    let sink = SmtpSink::start_on(port);
    rocket::tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(sink.messages().is_empty());

    let second = launch(config, fast()).await;
    let got = sink.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    assert_verification(&got[0].data, "dev@example.test");
    let row = wait_row(&second, |r| r.sent_at.is_some()).await;
    assert!(row.attempts >= 2, "{row:?}");
}

#[rocket::async_test]
async fn a_message_failing_past_the_give_up_time_is_kept_with_its_error() {
    let port = smtp_sink::free_port();
    let dir = tempfile::tempdir().unwrap();
    let settings = WorkerSettings {
        give_up_after: Duration::ZERO,
        ..fast()
    };
    let client = launch(smtp_config(dir.path(), port), settings).await;
    enqueue(&client, verification("dev@example.test")).await;

    let row = wait_row(&client, |r| !r.is_pending()).await;
    assert_eq!((row.attempts, row.sent_at), (1, None));
    assert!(row.last_error.is_some_and(|e| !e.is_empty()));
    assert_eq!(row.email.text, "");

    let sink = SmtpSink::start_on(port);
    rocket::tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(sink.messages().is_empty());
}

#[rocket::async_test]
async fn a_malformed_recipient_is_given_up_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let client = launch(config(dir.path()), fast()).await;
    enqueue(&client, verification("not an address")).await;
    let row = wait_row(&client, |r| !r.is_pending()).await;
    assert_eq!(row.attempts, 1);
    assert_eq!(
        row.last_error.as_deref(),
        Some("the recipient address is not valid")
    );
    assert!(!dir.path().join("outbox").exists());
}

/// Every file in `dir`, sorted by name.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|it| {
            it.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[rocket::async_test]
async fn outbox_transport_writes_one_parsable_eml_per_message_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    let outbox = dir.path().join("mail/outbox");
    config.email.outbox_dir = outbox.clone();
    assert_eq!(config.email.transport, Transport::Outbox, "the default");

    // Queued before the server starts: the worker's first pass delivers them, oldest
    // first.
    let app = set_server::App::open(config).unwrap();
    let reset = templates::password_reset("http://127.0.0.1:8080/reset-password?token=r1", DAY)
        .addressed_to("second@example.test");
    app.db
        .write_blocking(|tx| {
            email_queue::enqueue(tx, &verification("first@example.test"))?;
            email_queue::enqueue(tx, &reset)?;
            Ok(())
        })
        .unwrap();
    let client = Client::tracked(set_server::build(app).manage(fast()))
        .await
        .unwrap();

    let start = Instant::now();
    while rows(&client).await.iter().any(QueuedEmail::is_pending) {
        assert!(start.elapsed() < WAIT, "{:?}", rows(&client).await);
        rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let names = files(&outbox);
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names
        .iter()
        .all(|n| n.ends_with(".eml") && !n.starts_with('.')));
    let mode = std::fs::metadata(&outbox).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);

    assert_verification(
        &std::fs::read(outbox.join(&names[0])).unwrap(),
        "first@example.test",
    );
    let raw = std::fs::read(outbox.join(&names[1])).unwrap();
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(msg.subject(), Some("Reset your Set password"));
    assert_eq!(
        msg.to().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("second@example.test")
    );
    assert!(msg.body_text(0).unwrap().contains("token=r1"));
    assert!(msg.body_html(0).unwrap().contains("Reset Password"));
    assert!(rows(&client).await.iter().all(|r| r.attempts == 1));
}
