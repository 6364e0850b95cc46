//! Every status a route or guard can produce answers the one JSON error shape.

use rocket::http::{ContentType, Status};
use rocket::{get, post, routes};
use serde::Deserialize;
use set_server::body::Body;

use crate::helpers::{error_code, json, TestApp};

#[get("/status/<code>")]
fn status(code: u16) -> Status {
    Status::from_code(code).unwrap_or(Status::Ok)
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Named {
    name: String,
    count: u32,
}

#[post("/echo", data = "<body>")]
fn echo(body: Body<Named>) -> String {
    body.0.name
}

#[get("/panic")]
fn panics() -> &'static str {
    panic!("handler panicked")
}

async fn app() -> TestApp {
    TestApp::spawn_mounted(|_| {}, |r| r.mount("/test", routes![status, echo, panics])).await
}

#[rocket::async_test]
async fn every_catcher_answers_the_json_shape() {
    let app = app().await;
    let cases = [
        (400, "invalid_request"),
        (401, "unauthorized"),
        (403, "forbidden"),
        (404, "not_found"),
        (405, "method_not_allowed"),
        (413, "payload_too_large"),
        (415, "unsupported_media_type"),
        (422, "invalid_request"),
        (500, "server_error"),
        (503, "unavailable"),
    ];
    for (code, expected) in cases {
        let res = app
            .client
            .get(format!("/test/status/{code}"))
            .dispatch()
            .await;
        assert_eq!(res.content_type(), Some(ContentType::JSON), "{code}");
        let www = res.headers().get_one("WWW-Authenticate").map(str::to_owned);
        let (status, body) = json(res).await;
        assert_eq!(status.code, code);
        assert_eq!(error_code(&body), expected, "{code}: {body}");
        if code == 401 {
            assert_eq!(www.as_deref(), Some(r#"Basic realm="set""#));
        }
    }
}

#[rocket::async_test]
async fn unknown_path_is_json_404_and_wrong_method_is_405_with_allow() {
    let app = app().await;
    let (status, body) = json(app.client.get("/api/no/such/thing").dispatch().await).await;
    assert_eq!(status, Status::NotFound);
    assert_eq!(error_code(&body), "not_found");

    let res = app.client.delete("/healthz").dispatch().await;
    assert_eq!(res.headers().get_one("Allow"), Some("GET"));
    let (status, body) = json(res).await;
    assert_eq!(status, Status::MethodNotAllowed);
    assert_eq!(error_code(&body), "method_not_allowed");
}

#[rocket::async_test]
async fn a_panicking_handler_is_a_json_500_without_internals() {
    let app = app().await;
    let (status, body) = json(app.client.get("/test/panic").dispatch().await).await;
    assert_eq!(status, Status::InternalServerError);
    assert_eq!(error_code(&body), "server_error");
    assert!(!body.to_string().contains("panicked"));
}

#[rocket::async_test]
async fn a_70_kib_body_is_413() {
    let app = app().await;
    let big = format!(r#"{{"name":"{}","count":1}}"#, "x".repeat(70 * 1024));
    let res = app
        .client
        .post("/test/echo")
        .header(ContentType::JSON)
        .body(big)
        .dispatch()
        .await;
    let (status, body) = json(res).await;
    assert_eq!(status, Status::PayloadTooLarge);
    assert_eq!(error_code(&body), "payload_too_large");
}

#[rocket::async_test]
async fn body_errors_name_the_problem() {
    let app = app().await;
    let post = |body: &'static str, ct: ContentType| {
        let client = &app.client;
        async move {
            json(
                client
                    .post("/test/echo")
                    .header(ct)
                    .body(body)
                    .dispatch()
                    .await,
            )
            .await
        }
    };
    let (status, body) = post(r#"{"count":1}"#, ContentType::JSON).await;
    assert_eq!(status, Status::BadRequest);
    assert_eq!(error_code(&body), "invalid_request");
    assert!(
        body["error_description"].as_str().unwrap().contains("name"),
        "{body}"
    );

    let (status, body) = post(r#"{"name":"a","count":"x"}"#, ContentType::JSON).await;
    assert_eq!(status, Status::BadRequest);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("invalid type"),
        "{body}"
    );

    let (status, body) = post(r#"{"name":"a","name":"b","count":1}"#, ContentType::JSON).await;
    assert_eq!(status, Status::BadRequest);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("duplicate"),
        "{body}"
    );

    let (status, body) = post(r#"{"name":"#, ContentType::JSON).await;
    assert_eq!(status, Status::BadRequest);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("malformed"),
        "{body}"
    );

    let (status, body) = post("", ContentType::JSON).await;
    assert_eq!(status, Status::BadRequest);
    assert_eq!(error_code(&body), "invalid_request");

    let (status, body) = post("<a/>", ContentType::XML).await;
    assert_eq!(status, Status::UnsupportedMediaType);
    assert_eq!(error_code(&body), "unsupported_media_type");

    let (status, _) = post(r#"{"name":"ok","count":2}"#, ContentType::JSON).await;
    assert_eq!(status, Status::Ok);
}

/// U+0000 in a path or query value: SQLite stores it, PostgreSQL text cannot; either way
/// the answer is a JSON 4xx (or a plain result), never a 500.
#[rocket::async_test]
async fn a_nul_character_in_a_path_or_query_value_is_never_a_500() {
    let app = TestApp::spawn().await;
    let dev = app
        .verified_developer("dev@example.com", "correct horse battery")
        .await;
    let creds = app.new_client(&dev, "App").await;
    for path in [
        "/clients/cl_%00x".to_owned(),
        format!("/clients/{}/users?after=usr_%00", creds.id),
        format!("/clients/{}/users/usr_%00/disable", creds.id),
    ] {
        let method = match path.ends_with("/disable") {
            true => rocket::http::Method::Post,
            false => rocket::http::Method::Get,
        };
        let r = app.portal(method, &path, None, Some(&dev)).await;
        assert!(r.status.code < 500, "{path}: {} {}", r.status, r.body);
        if r.status.code >= 400 {
            assert!(r.body["error"].is_string(), "{path}: {}", r.body);
        }
    }
}
