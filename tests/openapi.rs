//! The OpenAPI document (`GET /openapi.json`): it names exactly the mounted routes, parses
//! as OpenAPI 3.1, holds together ($refs, ids, tags, parameters, error shapes), and is
//! served with this server's URL. Also the regression tests for the server bugs that
//! schemathesis found with it (.ci/schemathesis).
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The shared helpers' engine switch: this binary runs on SQLite.
pub const POSTGRES: bool = false;
#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;
#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/process.rs"]
mod process;

use std::collections::{BTreeMap, BTreeSet};

use rocket::http::{ContentType, Header, Method, Status};
use serde_json::{json, Value};

use helpers::{bearer, TestApp};

fn document() -> Value {
    serde_json::from_str(set_server::openapi::DOCUMENT).expect("src/openapi.json is JSON")
}

/// `/api/portal/clients/<id>/users?<limit>` and `/api/portal/clients/{client_id}/users`
/// both become `/api/portal/clients/{}/users`.
fn normalize(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            let templated = (seg.starts_with('<') && seg.ends_with('>'))
                || (seg.starts_with('{') && seg.ends_with('}'));
            if templated {
                "{}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                out.insert((method.to_uppercase(), normalize(path)));
            }
        }
    }
    out
}

#[rocket::async_test]
async fn every_mounted_route_is_documented_and_every_documented_route_is_mounted() {
    let app = TestApp::spawn().await;
    let mounted: BTreeSet<(String, String)> = app
        .client
        .rocket()
        .routes()
        // The portal's catch-all serves the web app and its files, not an API.
        .filter(|r| !r.uri.path().contains("..>"))
        .map(|r| (r.method.as_str().to_owned(), normalize(r.uri.path())))
        .collect();
    assert!(mounted.len() > 40, "{mounted:?}");
    let doc = documented(&document());
    let missing: Vec<_> = mounted.difference(&doc).collect();
    let extra: Vec<_> = doc.difference(&mounted).collect();
    assert!(
        missing.is_empty(),
        "mounted but not in src/openapi.json: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "in src/openapi.json but not mounted: {extra:?}"
    );
}

#[test]
fn the_document_parses_as_openapi_3_1() {
    let spec =
        oas3::from_json(set_server::openapi::DOCUMENT).expect("a valid OpenAPI 3.1 document");
    let version = spec.validate_version().expect("a supported version");
    assert_eq!((version.major, version.minor), (3, 1));
    let mut count = 0;
    for (path, method, op) in spec.operations() {
        count += 1;
        let at = format!("{method} {path}");
        op.parameters(&spec)
            .unwrap_or_else(|e| panic!("{at}: parameters: {e}"));
        op.request_body(&spec)
            .unwrap_or_else(|e| panic!("{at}: request body: {e}"));
        let responses = op.responses.as_ref().map_or(0, |r| r.len());
        assert!(responses > 0, "{at} has no responses");
        assert_eq!(
            op.responses(&spec).len(),
            responses,
            "{at}: a response $ref does not resolve"
        );
    }
    assert_eq!(count, documented(&document()).len());
}

/// Every `{"$ref": "#/…"}` anywhere in the document points at something.
fn check_refs(doc: &Value, node: &Value, at: &str, problems: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let found = target
                    .strip_prefix('#')
                    .and_then(|pointer| doc.pointer(pointer));
                if found.is_none() {
                    problems.push(format!("{at}: $ref {target} does not resolve"));
                }
            }
            for (k, v) in map {
                check_refs(doc, v, &format!("{at}/{k}"), problems);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                check_refs(doc, v, &format!("{at}/{i}"), problems);
            }
        }
        _ => {}
    }
}

/// A response object, with a `$ref` to `#/components/responses/…` followed.
fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    match node["$ref"].as_str() {
        Some(r) => doc.pointer(&r[1..]).unwrap_or(&Value::Null),
        None => node,
    }
}

#[test]
fn the_document_holds_together() {
    let doc = document();
    let mut problems = Vec::new();
    check_refs(&doc, &doc, "", &mut problems);

    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    let mut ids = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{} {path}", method.to_uppercase());
            let id = op["operationId"].as_str().unwrap_or_default();
            if id.is_empty() {
                problems.push(format!("{at}: no operationId"));
            } else if let Some(other) = ids.insert(id.to_owned(), at.clone()) {
                problems.push(format!("{at}: operationId {id} is also {other}"));
            }
            for tag in op["tags"].as_array().into_iter().flatten() {
                if !tags.contains(tag.as_str().unwrap_or_default()) {
                    problems.push(format!("{at}: undeclared tag {tag}"));
                }
            }
            for summary in ["summary", "description"] {
                if op[summary].as_str().is_none_or(str::is_empty) {
                    problems.push(format!("{at}: no {summary}"));
                }
            }
            let Some(security) = op["security"].as_array() else {
                problems.push(format!("{at}: no security (say [] for a public route)"));
                continue;
            };
            for requirement in security {
                for name in requirement.as_object().unwrap().keys() {
                    if !schemes.contains_key(name) {
                        problems.push(format!("{at}: unknown security scheme {name}"));
                    }
                }
            }
            // Path templates and path parameters agree.
            let declared: BTreeSet<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| resolve(&doc, p))
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            let templated: BTreeSet<String> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(str::to_owned)
                .collect();
            if declared != templated {
                problems.push(format!(
                    "{at}: path parameters {declared:?} vs {templated:?}"
                ));
            }
            let ifttt = path.starts_with("/ifttt/");
            let expected = if ifttt { "IftttError" } else { "Error" };
            for (status, response) in op["responses"].as_object().unwrap() {
                let response = resolve(&doc, response);
                let code: u16 = status.parse().unwrap_or(0);
                if code < 400 {
                    continue;
                }
                // Every JSON error answer has the one shape (IFTTT's on its own routes).
                if let Some(schema) = response["content"].get("application/json") {
                    let name = schema["schema"]["$ref"].as_str().unwrap_or_default();
                    if name != format!("#/components/schemas/{expected}") {
                        problems.push(format!("{at} {status}: schema {name}, not {expected}"));
                    }
                }
                if code == 401 && !ifttt && response["headers"]["WWW-Authenticate"].is_null() {
                    problems.push(format!("{at} 401: no WWW-Authenticate header"));
                }
                if code == 429
                    && response["content"].get("application/json").is_some()
                    && response["headers"]["Retry-After"].is_null()
                {
                    problems.push(format!("{at} 429: no Retry-After header"));
                }
            }
            if op["responses"].get("500").is_none() {
                problems.push(format!("{at}: no 500 answer"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[rocket::async_test]
async fn openapi_json_is_served_with_this_servers_url() {
    let app = TestApp::spawn_with(|c| {
        c.server.public_url =
            set_server::config::PublicUrl::parse("https://auth.example.com").unwrap();
    })
    .await;
    let res = app.client.get("/openapi.json").dispatch().await;
    assert_eq!(res.status(), Status::Ok);
    assert_eq!(res.content_type(), Some(ContentType::JSON));
    assert_eq!(
        res.headers().get_one("Access-Control-Allow-Origin"),
        Some("*")
    );
    let mut served: Value = res.into_json().await.unwrap();
    assert_eq!(
        served["servers"],
        json!([{ "url": "https://auth.example.com", "description": "This server" }])
    );
    served.as_object_mut().unwrap().remove("servers");
    assert_eq!(served, document());
}

// Regression tests for what schemathesis found.

/// A verified developer's session, client and user token.
async fn fixture(app: &TestApp) -> (String, String, String) {
    let session = app
        .verified_developer("dev@example.com", "correct horse battery")
        .await;
    let creds = app.new_client(&session, "App").await;
    let client_token = app.client_token(&creds).await;
    let (_, user_token, _) = app.new_user(&client_token).await;
    (session, creds.id, user_token)
}

#[rocket::async_test]
async fn a_json_array_is_not_a_body() {
    let app = TestApp::spawn().await;
    let (session, client_id, _) = fixture(&app).await;
    // serde fills a struct of optional fields from an array: `[null, null]` was a 200.
    let r = app
        .portal(
            Method::Post,
            &format!("/clients/{client_id}/integrations"),
            Some(json!(["Smart Home", ["https://example.com/cb"]])),
            Some(&session),
        )
        .await;
    assert_eq!(r.status, Status::BadRequest, "{}", r.body);
    assert_eq!(r.code(), "invalid_request");
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .contains("JSON object"));
}

#[rocket::async_test]
async fn a_repeated_query_parameter_is_refused_not_ignored() {
    let app = TestApp::spawn().await;
    let (session, client_id, user_token) = fixture(&app).await;
    let r = app
        .call(
            Method::Get,
            "/v1/me/events?limit=null&limit=null",
            bearer(&user_token),
            None,
        )
        .await;
    assert_eq!(r.status, Status::BadRequest, "{}", r.body);
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("limit: "));
    for query in ["users?limit=5&limit=6", "stats?days=7&days=8"] {
        let r = app
            .portal(
                Method::Get,
                &format!("/clients/{client_id}/{query}"),
                None,
                Some(&session),
            )
            .await;
        assert_eq!(r.status, Status::BadRequest, "{query}: {}", r.body);
    }
    // Once is still fine, and so is absent.
    let r = app
        .call(
            Method::Get,
            "/v1/me/events?limit=5",
            bearer(&user_token),
            None,
        )
        .await;
    assert_eq!(r.status, Status::Ok, "{}", r.body);
}

#[rocket::async_test]
async fn an_event_id_is_digits() {
    let app = TestApp::spawn().await;
    let (_, _, user_token) = fixture(&app).await;
    for (after, status) in [
        ("", Status::Ok),
        ("0", Status::Ok),
        ("42", Status::Ok),
        ("%2B5", Status::BadRequest),
        ("-1", Status::BadRequest),
        ("99999999999999999999", Status::BadRequest),
    ] {
        let r = app
            .call(
                Method::Get,
                &format!("/v1/me/events?after={after}"),
                bearer(&user_token),
                None,
            )
            .await;
        assert_eq!(r.status, status, "after={after}: {}", r.body);
    }
}

#[rocket::async_test]
async fn ifttt_service_keys_are_ascii_unique_and_limit_may_be_a_whole_float() {
    let app = TestApp::spawn().await;
    let (session, client_id, _) = fixture(&app).await;
    let create = |key: String| {
        let path = format!("/clients/{client_id}/integrations");
        let session = session.clone();
        let app = &app;
        async move {
            app.portal(
                Method::Post,
                &path,
                Some(json!({"name": "IFTTT", "redirect_uris": ["https://ifttt.com/cb"], "ifttt_service_key": key})),
                Some(&session),
            )
            .await
        }
    };
    // 10 characters in 30 bytes was taken for 16 or more; it could not even come back in
    // IFTTT's header. Printable ASCII only, and then 256 is 256.
    let r = create("€".repeat(10)).await;
    assert_eq!(r.status, Status::BadRequest, "{}", r.body);
    let r = create("é".repeat(16)).await;
    assert_eq!(r.status, Status::BadRequest, "{}", r.body);
    let key = "k".repeat(256);
    let r = create(key.clone()).await;
    assert_eq!(r.status, Status::Created, "{}", r.body);

    // Another integration taking the same key by an edit was a 500 (a UNIQUE index), not
    // the 409 that creating one with it answers.
    let r = app
        .portal(
            Method::Post,
            &format!("/clients/{client_id}/integrations"),
            Some(json!({"name": "Other", "redirect_uris": ["https://example.com/cb"]})),
            Some(&session),
        )
        .await;
    assert_eq!(r.status, Status::Created, "{}", r.body);
    let other = r.body["id"].as_str().unwrap();
    let r = app
        .portal(
            Method::Patch,
            &format!("/clients/{client_id}/integrations/{other}"),
            Some(json!({ "ifttt_service_key": key })),
            Some(&session),
        )
        .await;
    assert_eq!(r.status, Status::Conflict, "{}", r.body);
    assert_eq!(r.code(), "conflict");

    let res = app
        .client
        .post("/ifttt/v1/test/setup")
        .header(Header::new("IFTTT-Service-Key", key))
        .dispatch()
        .await;
    let setup: Value = res.into_json().await.unwrap();
    let token = setup["data"]["accessToken"].as_str().unwrap();
    for (limit, status) in [
        (json!(2.0), Status::Ok),
        (json!(2), Status::Ok),
        (json!(2.5), Status::BadRequest),
        (json!(-1), Status::BadRequest),
    ] {
        let res = app
            .client
            .post("/ifttt/v1/triggers/new_event")
            .header(bearer(token))
            .header(ContentType::JSON)
            .body(json!({ "limit": limit }).to_string())
            .dispatch()
            .await;
        assert_eq!(res.status(), status, "limit {limit}");
    }
}

#[test]
fn an_unknown_method_on_a_known_path_is_405_with_allow() {
    let dir = tempfile::tempdir().unwrap();
    let server = process::Server::start(dir.path(), &[]);
    let http = reqwest::blocking::Client::new();
    let query = reqwest::Method::from_bytes(b"QUERY").unwrap();
    let res = http
        .request(query.clone(), server.url("/v1/me"))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 405);
    assert_eq!(
        res.headers().get("allow").unwrap().to_str().unwrap(),
        "DELETE, GET, PATCH"
    );
    let body: Value = res.json().unwrap();
    assert_eq!(body["error"], "method_not_allowed");
    // A path that does not exist stays a plain refusal, in the same JSON shape.
    let res = http
        .request(query, server.url("/no/such/thing"))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let body: Value = res.json().unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[rocket::async_test]
async fn the_docs_page_is_the_portal_shell_with_its_module() {
    let app = TestApp::spawn().await;
    let res = app.client.get("/docs").dispatch().await;
    assert_eq!(res.status(), Status::Ok);
    assert_eq!(res.content_type(), Some(ContentType::HTML));
    let res = app.client.get("/app.js").dispatch().await;
    let app_js = res.into_string().await.unwrap();
    assert!(app_js.contains("route('/docs', docsPage)"), "{app_js}");
    let res = app.client.get("/docs.js").dispatch().await;
    assert_eq!(res.status(), Status::Ok);
    let docs_js = res.into_string().await.unwrap();
    assert!(docs_js.contains("getPublic('/openapi.json')"));
    // Every client's quick start links to it.
    let res = app.client.get("/views/client.js").dispatch().await;
    assert!(res
        .into_string()
        .await
        .unwrap()
        .contains("h('a', { href: '/docs', id: 'quickstart-docs' }"));
}

#[rocket::async_test]
async fn the_activity_page_refuses_repeated_and_padded_parameters() {
    let app = TestApp::spawn().await;
    let (session, _, _) = fixture(&app).await;
    for (query, status) in [
        ("", Status::Ok),
        ("?limit=5&before=9", Status::Ok),
        ("?limit=5&limit=6", Status::BadRequest),
        ("?before=01", Status::BadRequest),
        ("?before=%2B5", Status::BadRequest),
        ("?before=0", Status::BadRequest),
    ] {
        let r = app
            .portal(
                Method::Get,
                &format!("/activity{query}"),
                None,
                Some(&session),
            )
            .await;
        assert_eq!(r.status, status, "{query}: {}", r.body);
    }
}
