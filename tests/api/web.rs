//! The embedded portal: the app shell for page paths, JSON 404s for API paths, content
//! types, ETag revalidation, and the security headers.

use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::LocalResponse;

use crate::helpers::{json, TestApp};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn header(res: &LocalResponse<'_>, name: &str) -> Option<String> {
    res.headers().get_one(name).map(str::to_owned)
}

fn assert_security_headers(res: &LocalResponse<'_>, path: &str) {
    assert_eq!(
        header(res, "Content-Security-Policy").as_deref(),
        Some(CSP),
        "{path}"
    );
    assert_eq!(
        header(res, "X-Content-Type-Options").as_deref(),
        Some("nosniff"),
        "{path}"
    );
    assert_eq!(
        header(res, "Referrer-Policy").as_deref(),
        Some("no-referrer"),
        "{path}"
    );
    assert_eq!(
        header(res, "X-Frame-Options").as_deref(),
        Some("DENY"),
        "{path}"
    );
    // One value each: Rocket's Shield must not have added a second.
    for name in [
        "X-Frame-Options",
        "X-Content-Type-Options",
        "Content-Security-Policy",
    ] {
        assert_eq!(res.headers().get(name).count(), 1, "{path}: {name}");
    }
}

#[rocket::async_test]
async fn portal_pages_are_the_app_shell_with_the_security_headers() {
    let app = TestApp::spawn().await;
    let mut etags = Vec::new();
    for path in [
        "/",
        "/clients/x",
        "/login",
        "/clients/cl_123/users",
        "/verify-email?token=abc",
        "/some/page/nobody/made",
    ] {
        let res = app.client.get(path).dispatch().await;
        assert_eq!(res.status(), Status::Ok, "{path}");
        assert_eq!(res.content_type(), Some(ContentType::HTML), "{path}");
        assert_security_headers(&res, path);
        assert_eq!(
            header(&res, "Cache-Control").as_deref(),
            Some("no-cache"),
            "{path}"
        );
        etags.push(header(&res, "ETag").expect("an ETag"));
        let body = res.into_string().await.unwrap();
        assert!(
            body.contains(r#"<script type="module" src="/app.js"></script>"#),
            "{path}"
        );
    }
    etags.dedup();
    assert_eq!(etags.len(), 1, "every page path is the same shell");
}

#[rocket::async_test]
async fn api_paths_never_fall_back_to_the_shell() {
    let app = TestApp::spawn().await;
    for path in [
        "/api",
        "/api/nope",
        "/api/portal/nope",
        "/v1/nope",
        "/oauth/nope",
        "/.well-known/nope",
    ] {
        let res = app.client.get(path).dispatch().await;
        assert_eq!(res.content_type(), Some(ContentType::JSON), "{path}");
        let (status, body) = json(res).await;
        assert_eq!(status, Status::NotFound, "{path}");
        assert_eq!(body["error"], "not_found", "{path}: {body}");
        assert!(
            body["error_description"].as_str().unwrap().contains(path),
            "{body}"
        );
    }
}

#[rocket::async_test]
async fn the_catch_all_keeps_405_for_api_routes_and_404_for_other_methods() {
    let app = TestApp::spawn().await;
    let res = app.client.get("/api/portal/logout").dispatch().await;
    assert_eq!(header(&res, "Allow").as_deref(), Some("POST"));
    let (status, body) = json(res).await;
    assert_eq!(status, Status::MethodNotAllowed);
    assert_eq!(body["error"], "method_not_allowed");

    let res = app.client.post("/clients/x").dispatch().await;
    assert_eq!(res.content_type(), Some(ContentType::JSON));
    assert_eq!(res.status(), Status::NotFound);
}

#[rocket::async_test]
async fn assets_have_their_content_types_and_missing_ones_are_404() {
    let app = TestApp::spawn().await;
    for (path, mime) in [
        ("/app.js", "text/javascript"),
        ("/views/auth.js", "text/javascript"),
        ("/chart.js", "text/javascript"),
        ("/styles.css", "text/css"),
        ("/favicon.svg", "image/svg+xml"),
        ("/index.html", "text/html"),
    ] {
        let res = app.client.get(path).dispatch().await;
        assert_eq!(res.status(), Status::Ok, "{path}");
        let ct = header(&res, "Content-Type").unwrap();
        assert!(ct.starts_with(mime), "{path}: {ct}");
        assert_security_headers(&res, path);
        assert!(
            header(&res, "Cache-Control").unwrap().contains("no-cache"),
            "{path}"
        );
    }
    for path in [
        "/nope.js",
        "/views/nope.js",
        "/styles.css.map",
        "/.env",
        "/../Cargo.toml",
    ] {
        let res = app.client.get(path).dispatch().await;
        assert_eq!(res.status(), Status::NotFound, "{path}");
        assert_eq!(res.content_type(), Some(ContentType::JSON), "{path}");
    }
}

#[rocket::async_test]
async fn etag_and_if_none_match_answer_304() {
    let app = TestApp::spawn().await;
    for path in ["/app.js", "/styles.css", "/", "/clients/x"] {
        let res = app.client.get(path).dispatch().await;
        let etag = header(&res, "ETag").expect("an ETag");
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10,
            "{etag}"
        );

        let res = app
            .client
            .get(path)
            .header(Header::new("If-None-Match", etag.clone()))
            .dispatch()
            .await;
        assert_eq!(res.status(), Status::NotModified, "{path}");
        assert_eq!(header(&res, "ETag").as_deref(), Some(etag.as_str()));
        assert!(header(&res, "Cache-Control").is_some());
        assert!(res.into_bytes().await.unwrap_or_default().is_empty());

        let weak_in_a_list = format!("\"other\", W/{etag}");
        let res = app
            .client
            .get(path)
            .header(Header::new("If-None-Match", weak_in_a_list))
            .dispatch()
            .await;
        assert_eq!(res.status(), Status::NotModified, "{path}");

        let res = app
            .client
            .get(path)
            .header(Header::new("If-None-Match", "\"stale\""))
            .dispatch()
            .await;
        assert_eq!(res.status(), Status::Ok, "{path}");
    }
}

/// The `import … from '<spec>'` specifiers of a module.
fn imports(source: &str) -> Vec<String> {
    source
        .match_indices(" from '")
        .map(|(i, m)| {
            let rest = &source[i + m.len()..];
            rest[..rest.find('\'').unwrap()].to_owned()
        })
        .collect()
}

/// Resolves a relative module specifier against the module's URL path.
fn resolve(base: &str, spec: &str) -> String {
    let mut parts: Vec<&str> = base.split('/').filter(|s| !s.is_empty()).collect();
    parts.pop();
    for seg in spec.split('/') {
        match seg {
            "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

#[rocket::async_test]
async fn every_module_import_is_served_and_nothing_needs_inline_script_or_style() {
    let app = TestApp::spawn().await;
    let shell = app
        .client
        .get("/")
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap();
    assert!(
        !shell.contains("style="),
        "no inline style attributes in the shell"
    );
    assert!(
        !shell.contains("<style"),
        "no inline style elements in the shell"
    );
    for (i, _) in shell.match_indices("<script") {
        let tag = &shell[i..i + shell[i..].find('>').unwrap()];
        assert!(tag.contains("src=\"/"), "only external scripts: {tag}");
    }

    let mut todo = vec!["/app.js".to_owned()];
    let mut seen = Vec::new();
    while let Some(path) = todo.pop() {
        if seen.contains(&path) {
            continue;
        }
        let res = app.client.get(path.as_str()).dispatch().await;
        assert_eq!(
            res.status(),
            Status::Ok,
            "{path} is imported but not served"
        );
        let source = res.into_string().await.unwrap();
        assert!(
            !source.contains("innerHTML"),
            "{path}: build nodes, not markup"
        );
        assert!(
            !source.contains("setAttribute('style'"),
            "{path}: the CSP forbids inline style"
        );
        assert!(!source.contains("eval("), "{path}: the CSP forbids eval");
        assert!(
            path == "/api.js" || !source.contains("fetch("),
            "{path}: only api.js talks to the server"
        );
        for spec in imports(&source) {
            assert!(
                spec.starts_with('.'),
                "{path}: relative imports only, got {spec}"
            );
            todo.push(resolve(&path, &spec));
        }
        seen.push(path);
    }
    assert!(seen.len() >= 10, "the app is split into modules: {seen:?}");
}
