//! Hostile input at every mounted route: random bytes, huge values, wrong JSON types,
//! unicode edge cases, absurd nesting, duplicate keys, wrong content types and odd headers,
//! in bodies, headers, path and query parameters. The routes come from
//! `rocket.routes()`, so a new route is covered without touching this file.
//!
//! Every answer must be below 500, come within [`world::SLOW`], and every error must be
//! the JSON shape (`{"error","error_description"}`; IFTTT's `{"errors":[…]}` under
//! `/ifttt/`, the HTML page at `/oauth/authorize`). After each property the database must
//! pass SQLite's checks and hold no half-written record.
//!
//! Cases per property: a few hundred (see each `run`) unless `PROPTEST_CASES` says
//! otherwise; a failure names its seed, and `PROPTEST_RNG_SEED` replays it.
//! `HOSTILE_TRACE=<part of a route>` prints those requests and their answers;
//! `--nocapture` shows how each route answered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "hostile/case.rs"]
mod case;
#[path = "hostile/consistency.rs"]
mod consistency;
#[path = "hostile/fixtures.rs"]
mod fixtures;
#[path = "hostile/json.rs"]
mod json;
#[path = "hostile/request.rs"]
mod request;
#[path = "hostile/text.rs"]
mod text;
#[path = "hostile/world.rs"]
mod world;

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use serde_json::Value;

use case::{Case, QName, Req, RouteInfo, Seg};
use request::{Auth, Body, Csrf, Ctype, SessionCookie};
use text::Text;
use world::{Answer, World, SLOW};

type Query = Vec<(QName, Option<Text>)>;

/// `default_cases` cases (unless `PROPTEST_CASES` says otherwise) from a seed that is
/// printed with any failure (`PROPTEST_RNG_SEED` sets it, to replay one).
fn config(default_cases: u32) -> (Config, u64) {
    let base = Config::default();
    let cases = match std::env::var("PROPTEST_CASES") {
        Ok(_) => base.cases,
        Err(_) => default_cases,
    };
    let seed = match base.rng_seed {
        RngSeed::Fixed(seed) => seed,
        RngSeed::Random => rand::random(),
    };
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..base
    };
    (config, seed)
}

/// Every route the server mounts.
fn routes(world: &World) -> Vec<RouteInfo> {
    let mut routes: Vec<RouteInfo> = world
        .client
        .rocket()
        .routes()
        .map(RouteInfo::from_route)
        .collect();
    routes.sort_by(|a, b| (&a.pattern, a.method.as_str()).cmp(&(&b.pattern, b.method.as_str())));
    assert!(routes.len() > 40, "routes: {routes:?}");
    routes
}

const OTHER_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"];

/// The knobs of a case; each property turns some of them to "anything".
struct Gen {
    routes: Vec<RouteInfo>,
    method: BoxedStrategy<Option<&'static str>>,
    segs: BoxedStrategy<Vec<Seg>>,
    /// The query, given the route.
    query: fn(&RouteInfo) -> BoxedStrategy<Query>,
    auth: BoxedStrategy<Auth>,
    cookie: BoxedStrategy<SessionCookie>,
    csrf: BoxedStrategy<Csrf>,
    ctype: BoxedStrategy<Ctype>,
    extra: BoxedStrategy<Vec<(&'static str, Text)>>,
    /// The body, given the route.
    body: fn(&RouteInfo) -> BoxedStrategy<Body>,
}

impl Gen {
    /// Valid credentials and parameters, no body: each property varies from here.
    fn fitting(routes: Vec<RouteInfo>) -> Gen {
        Gen {
            routes,
            method: Just(None).boxed(),
            segs: Just(vec![Seg::Fit, Seg::Fit, Seg::Fit]).boxed(),
            query: |_| Just(vec![]).boxed(),
            auth: Just(Auth::Fit).boxed(),
            cookie: Just(SessionCookie::Valid).boxed(),
            csrf: Just(Csrf::Valid).boxed(),
            ctype: Just(Ctype::Fit).boxed(),
            extra: Just(vec![]).boxed(),
            body: |_| Just(Body::Empty).boxed(),
        }
    }

    fn strategy(self) -> BoxedStrategy<Case> {
        let headers = (self.auth, self.cookie, self.csrf, self.ctype, self.extra);
        let (query, body) = (self.query, self.body);
        let route =
            select(self.routes).prop_flat_map(move |r| (Just(r.clone()), query(&r), body(&r)));
        (route, self.method, self.segs, headers)
            .prop_map(
                |((route, query, body), method, segs, (auth, cookie, csrf, ctype, extra))| Case {
                    route,
                    method,
                    segs,
                    query,
                    auth,
                    cookie,
                    csrf,
                    ctype,
                    extra,
                    body,
                },
            )
            .boxed()
    }
}

fn any_method() -> BoxedStrategy<Option<&'static str>> {
    prop_oneof![9 => Just(None), 1 => select(OTHER_METHODS).prop_map(Some)].boxed()
}

fn segs() -> BoxedStrategy<Vec<Seg>> {
    proptest::collection::vec(case::seg(), 3).boxed()
}

/// Checks one answer against the contract.
fn check(req: &Req, a: &Answer) -> Result<(), TestCaseError> {
    let code = a.status.code;
    prop_assert!(
        code < 500,
        "answered {}: {}\nto, with the fixtures of the moment:\n{req:?}",
        a.status,
        a.text()
    );
    prop_assert!(a.elapsed < SLOW, "took {:?}", a.elapsed);
    let path = req.path();
    let api = ["/api/", "/v1/", "/oauth/", "/.well-known/"]
        .iter()
        .any(|p| path.starts_with(p));
    if (200..300).contains(&code) && api && !a.body.is_empty() && !path.ends_with(".css") {
        let page = path == "/oauth/authorize";
        prop_assert!(
            page || serde_json::from_slice::<Value>(&a.body).is_ok(),
            "a {} that is not JSON: {}",
            a.status,
            a.text()
        );
    }
    // `clock::rfc3339` writes the epoch for a time it cannot format: a stored time that
    // cannot be shown back.
    let epoch = "1970-01-01T00:00:00Z";
    prop_assert!(
        !a.text().contains(epoch) || String::from_utf8_lossy(&req.body).contains("1970"),
        "a time shown as {epoch}: {}",
        a.text()
    );
    // The authorization page runs no script; names and parameters it shows are escaped.
    if path == "/oauth/authorize" {
        prop_assert!(
            !a.text().contains("<script"),
            "a script on the page: {}",
            a.text()
        );
    }
    if code < 400 {
        return Ok(());
    }
    if req.method == "HEAD" {
        // Rocket answers HEAD like GET without the body: only the status is checked.
        return Ok(());
    }
    let content_type = a.header("Content-Type").unwrap_or_default().to_owned();
    if path.starts_with("/ifttt/") {
        let body = a.json();
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        prop_assert!(
            !message.is_empty(),
            "IFTTT's error shape expected: {}",
            a.text()
        );
        return Ok(());
    }
    if path == "/oauth/authorize" && content_type.starts_with("text/html") {
        prop_assert!(a.text().contains("</html>"), "a whole page: {}", a.text());
        return Ok(());
    }
    prop_assert!(
        content_type.starts_with("application/json"),
        "an error as {content_type:?}: {}",
        a.text()
    );
    let body = a.json();
    let obj = body.as_object();
    prop_assert!(
        obj.is_some_and(|o| o.len() == 2),
        "exactly error and error_description: {}",
        a.text()
    );
    let error = body["error"].as_str().unwrap_or_default();
    prop_assert!(
        !error.is_empty() && error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
        "a snake_case error code: {}",
        a.text()
    );
    let description = body["error_description"].as_str().unwrap_or_default();
    prop_assert!(
        !description.trim().is_empty(),
        "a description: {}",
        a.text()
    );
    if code == 401 {
        prop_assert!(
            a.header("WWW-Authenticate").is_some(),
            "401 without a challenge"
        );
    }
    if code == 405 {
        prop_assert!(a.header("Allow").is_some(), "405 without Allow");
    }
    if code == 429 {
        prop_assert!(a.header("Retry-After").is_some(), "429 without Retry-After");
    }
    Ok(())
}

/// Runs `cases` cases of `gen` against a fresh server, then checks the database. A case
/// is a sequence of `requests` requests: the state one leaves is what the next meets.
fn run(
    name: &str,
    cases: u32,
    requests: std::ops::Range<usize>,
    gen: impl FnOnce(Vec<RouteInfo>) -> Gen,
) {
    let world = RefCell::new(World::new());
    let strategy = proptest::collection::vec(gen(routes(&world.borrow())).strategy(), requests);
    let started = std::time::Instant::now();
    let (config, seed) = config(cases);
    let mut runner = TestRunner::new(config.clone());
    // HOSTILE_TRACE=<part of a route> prints those requests and their answers.
    let trace = std::env::var("HOSTILE_TRACE").ok();
    let tally = RefCell::new(std::collections::BTreeMap::<String, [u32; 3]>::new());
    let result = runner.run(&strategy, |sequence| {
        let mut w = world.borrow_mut();
        for case in &sequence {
            let req = case.render(&*w);
            let answer = w.send(&req);
            let key = format!("{} {}", case.route.method, case.route.pattern);
            let class = (answer.status.code / 100).clamp(2, 4) as usize - 2;
            tally.borrow_mut().entry(key.clone()).or_default()[class] += 1;
            if trace.as_deref().is_some_and(|t| key.contains(t)) {
                eprintln!("{req:?}\n  => {} {}", answer.status, answer.text());
            }
            let verdict = check(&req, &answer);
            // A request may have used up or revoked a fixture: make them whole again.
            if req.method != "GET" || verdict.is_err() {
                w.restore();
            }
            verdict?;
        }
        Ok(())
    });
    let w = world.borrow();
    eprintln!(
        "{name}: {} cases in {:?}, {} fixture sets; rows: {:?}",
        config.cases,
        started.elapsed(),
        w.rebuilds,
        w.counts()
    );
    for (route, [ok, redirect, refused]) in tally.borrow().iter() {
        eprintln!("  {route}: {ok} 2xx, {redirect} 3xx, {refused} 4xx");
    }
    if let Err(e) = result {
        panic!("{name}: {e}\nreplay: PROPTEST_RNG_SEED={seed} PROPTEST_CASES={} cargo test --test hostile", config.cases);
    }
    let problems = w.problems();
    assert!(
        problems.is_empty(),
        "{name}: inconsistent database: {problems:#?}"
    );
}

/// Anything at all, anywhere: every knob random.
#[test]
fn any_input_on_any_route_is_answered_in_shape() {
    run("anything", 384, 1..2, |routes| Gen {
        method: any_method(),
        segs: segs(),
        query: case::any_query,
        auth: request::auth(),
        cookie: request::session_cookie(),
        csrf: request::csrf(),
        ctype: request::ctype(),
        extra: request::extra_headers(),
        body: request::any_body,
        ..Gen::fitting(routes)
    });
}

/// Hostile bodies with valid credentials, so they reach validation and the database.
#[test]
fn hostile_bodies_with_valid_credentials_are_validated() {
    run("bodies", 512, 1..2, |routes| Gen {
        ctype: prop_oneof![8 => Just(Ctype::Fit), 1 => request::ctype()].boxed(),
        body: request::fitting_body,
        ..Gen::fitting(routes.into_iter().filter(RouteInfo::takes_body).collect())
    });
}

/// Odd headers on every route: every Authorization scheme and credential, garbage
/// base64, forged JWTs, cookies, X-Requested-With, Content-Type and the rest.
#[test]
fn hostile_headers_are_refused_in_shape() {
    run("headers", 384, 1..2, |routes| Gen {
        auth: request::auth(),
        cookie: request::session_cookie(),
        csrf: request::csrf(),
        ctype: request::ctype(),
        extra: request::extra_headers(),
        body: request::fitting_body,
        ..Gen::fitting(routes)
    });
}

/// Hostile path and query parameters with valid credentials.
#[test]
fn hostile_paths_and_queries_are_refused_in_shape() {
    run("paths", 384, 1..2, |routes| Gen {
        segs: segs(),
        query: case::any_query,
        ..Gen::fitting(routes.into_iter().filter(RouteInfo::has_params).collect())
    });
}

/// Short sequences of mostly fitting requests with one poisoned part, on every route:
/// what one request stores (a redirect URI, a service key, metadata, an event), a later
/// one reads, redirects to, or collides with.
#[test]
fn sequences_of_requests_leave_the_server_sound() {
    run("sequences", 160, 2..5, |routes| Gen {
        segs: proptest::collection::vec(prop_oneof![6 => Just(Seg::Fit), 1 => case::seg()], 3)
            .boxed(),
        query: case::any_query,
        body: request::fitting_body,
        ..Gen::fitting(routes)
    });
}

/// Found by `sequences_of_requests_leave_the_server_sound`: a redirect URI that is
/// no URI (non-ASCII, `|`, `"`, a port past 65535) was registered, and the authorization
/// page then answered 500, unable to redirect there. Now registration refuses it.
#[test]
fn a_redirect_uri_that_is_no_uri_is_refused_at_registration() {
    use case::encode;
    use rocket::http::{Method, Status};
    use text::{Fx, Resolve};
    let w = World::new();
    let (cid, iid) = (w.fx(Fx::ClientId), w.fx(Fx::IntegrationId));
    let path = format!("/api/portal/clients/{cid}/integrations/{iid}");
    for uri in [
        "https://ifttt.example/cb/\u{fc}",
        "https://ifttt.example/cb?q=\u{fc}",
        "https://ifttt.example/a|b^`",
        "https://ifttt.example/a\\b",
        "https://ifttt.example/a\"b",
        "https://ifttt.example/<x>",
        "https://ifttt.example:99999999999/cb",
    ] {
        let body = serde_json::json!({ "redirect_uris": [uri] }).to_string();
        let r = w.call(Method::Patch, &path, vec![], Some(body.clone()));
        assert_eq!(r.status, Status::BadRequest, "{uri}: {}", r.text());
        assert!(r.text().contains("redirect_uris[0]"), "{}", r.text());
        let create = format!("/api/portal/clients/{cid}/integrations");
        let body = serde_json::json!({ "name": "X", "redirect_uris": [uri] }).to_string();
        let r = w.call(Method::Post, &create, vec![], Some(body));
        assert_eq!(r.status, Status::BadRequest, "{uri}: {}", r.text());
    }
    // What Rocket can redirect to stays accepted, and the page redirects there.
    for uri in [
        "https://ifttt.example/cb?a=b;c",
        "https://ifttt.example/%C3%BC",
    ] {
        let body = serde_json::json!({ "redirect_uris": [uri] }).to_string();
        let r = w.call(Method::Patch, &path, vec![], Some(body));
        assert_eq!(r.status, Status::Ok, "{uri}: {}", r.text());
        let page = format!(
            "/oauth/authorize?client_id={}&response_type=token&redirect_uri={}",
            encode(&iid),
            encode(uri)
        );
        let r = w.call(Method::Get, &page, vec![], None);
        assert_eq!(r.status, Status::SeeOther, "{uri}: {}", r.text());
    }
}

/// Found while reading what the body property sends: an `occurred_at` whose UTC instant
/// is past year 9999 (or before year 0) was stored and then shown as
/// `1970-01-01T00:00:00Z`. Now it is refused like any other bad time.
#[test]
fn an_event_time_that_cannot_be_shown_back_is_refused() {
    use rocket::http::{Header, Method, Status};
    use text::{Fx, Resolve};
    let w = World::new();
    let auth = || {
        vec![Header::new(
            "Authorization",
            format!("Bearer {}", w.fx(Fx::UserToken)),
        )]
    };
    let event =
        |t: &str| Some(serde_json::json!({"type": "x", "data": {}, "occurred_at": t}).to_string());
    for t in ["9999-12-31T23:59:59-14:00", "0000-01-01T00:00:00+14:00"] {
        let r = w.call(Method::Post, "/v1/me/events", auth(), event(t));
        assert_eq!(r.status, Status::BadRequest, "{t}: {}", r.text());
        assert!(r.text().contains("occurred_at"), "{}", r.text());
    }
    for t in [
        "9999-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z",
        "2026-01-31T13:00:00+01:00",
    ] {
        let r = w.call(Method::Post, "/v1/me/events", auth(), event(t));
        assert_eq!(r.status, Status::Created, "{t}: {}", r.text());
        let shown = r.json()["occurred_at"].as_str().unwrap().to_owned();
        assert_eq!(
            set_server::clock::parse_rfc3339(&shown),
            set_server::clock::parse_rfc3339(t)
        );
    }
}
