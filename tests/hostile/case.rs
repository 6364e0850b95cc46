//! One request: a mounted route, its path and query parameters, headers and body;
//! symbolic until rendered against the fixtures.

use std::fmt;

use proptest::collection::vec;
use proptest::option::weighted;
use proptest::prelude::*;
use proptest::sample::select;

use crate::request::{
    auth_header, cred_header, render_body, Auth, Body, Cred, Csrf, Ctype, Scheme, SessionCookie,
};
use crate::text::{good_text, lit, one_of_lits, text, Fx, Placeholders, Resolve, Text};

/// A mounted route, read from `rocket.routes()`.
#[derive(Clone, Debug)]
pub struct RouteInfo {
    pub method: rocket::http::Method,
    /// The path pattern, e.g. `/api/portal/clients/<id>/users`.
    pub pattern: String,
    pub query: Vec<String>,
}

impl RouteInfo {
    pub fn from_route(r: &rocket::Route) -> RouteInfo {
        let query = r
            .uri
            .query()
            .map(|q| {
                q.split('&')
                    .filter_map(|p| p.strip_prefix('<'))
                    .map(|p| p.trim_end_matches('>').trim_end_matches("..").to_owned())
                    .collect()
            })
            .unwrap_or_default();
        RouteInfo {
            method: r.method,
            pattern: r.uri.path().to_owned(),
            query,
        }
    }

    pub fn takes_body(&self) -> bool {
        use rocket::http::Method::*;
        matches!(self.method, Post | Put | Patch)
    }

    pub fn has_params(&self) -> bool {
        self.pattern.contains('<') || !self.query.is_empty()
    }
}

/// A value for a dynamic path segment.
#[derive(Clone, Debug)]
pub enum Seg {
    /// The fixture id that fits (the client's id after `clients/`, and so on).
    Fit,
    Enc(Text),
    /// Written into the URI as is: `%00`, `..`, `%2F`.
    Raw(&'static str),
}

pub fn seg() -> BoxedStrategy<Seg> {
    prop_oneof![
        3 => Just(Seg::Fit),
        3 => text().prop_map(Seg::Enc),
        1 => select(&[
            "%00", "..", ".", "%2F", "%2e%2e", "%FF", "%C0%AF", "%", "a%20b", "~", "%E2%80%AE", "",
            ";", "a;b=c",
        ][..])
        .prop_map(Seg::Raw),
    ]
    .boxed()
}

#[derive(Clone, Debug)]
pub enum QName {
    /// The route's n-th query parameter (modulo their number).
    Param(usize),
    Other(&'static str),
    /// Appended to the query as is.
    Raw(&'static str),
}

/// Any query: parameter names of the route or others, values fitting, hostile or none.
pub fn query() -> BoxedStrategy<Vec<(QName, Option<Text>)>> {
    let name = prop_oneof![
        4 => any::<usize>().prop_map(QName::Param),
        1 => select(&["limit", "after", "days", "client_id", "x", ""][..]).prop_map(QName::Other),
        1 => select(&["%zz", "&&", "=", "a=%FF", "limit=1&limit=2", "%00=%00", "?", "#"][..])
            .prop_map(QName::Raw),
    ];
    let value = prop_oneof![
        2 => select(&[
            "1", "2", "50", "0", "-1", "500", "501", "366", "367", "99999999999999999999", "",
            "1.5", "0x10", "+5", " 5",
        ][..])
        .prop_map(|s| Some(lit(s))),
        2 => text().prop_map(Some),
        1 => Just(None),
    ];
    vec((name, value), 0..4).boxed()
}

/// The route's own query parameters, mostly with fitting values.
pub fn fitting_query(route: &RouteInfo) -> BoxedStrategy<Vec<(QName, Option<Text>)>> {
    let params: Vec<_> = route
        .query
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let good = good_text(name).unwrap_or_else(|| one_of_lits(&["1", "2", "50", "30"]));
            let value = prop_oneof![
                4 => good.prop_map(Some),
                1 => text().prop_map(Some),
                1 => Just(None),
            ];
            weighted(0.8, value.prop_map(move |v| (QName::Param(i), v)))
        })
        .collect();
    params
        .prop_map(|p| p.into_iter().flatten().collect())
        .boxed()
}

/// The route's parameters, fitting, or any query at all.
pub fn any_query(route: &RouteInfo) -> BoxedStrategy<Vec<(QName, Option<Text>)>> {
    prop_oneof![query(), fitting_query(route)].boxed()
}

/// One request, symbolic until rendered.
#[derive(Clone)]
pub struct Case {
    pub route: RouteInfo,
    /// Another method than the route's, for 405s.
    pub method: Option<&'static str>,
    pub segs: Vec<Seg>,
    pub query: Vec<(QName, Option<Text>)>,
    pub auth: Auth,
    pub cookie: SessionCookie,
    pub csrf: Csrf,
    pub ctype: Ctype,
    pub extra: Vec<(&'static str, Text)>,
    pub body: Body,
}

/// A request ready to send.
pub struct Req {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub cookies: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or_default()
    }
}

impl fmt::Debug for Req {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.method, short(&self.uri, 300))?;
        for (k, v) in &self.headers {
            writeln!(f, "  {k}: {}", short(&format!("{v:?}"), 200))?;
        }
        for (k, v) in &self.cookies {
            writeln!(f, "  (cookie) {k}={}", short(&format!("{v:?}"), 200))?;
        }
        let body = String::from_utf8_lossy(&self.body);
        write!(
            f,
            "  body ({} bytes): {}",
            self.body.len(),
            short(&body, 600)
        )
    }
}

pub fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let head: String = s.chars().take(max).collect();
    format!("{head}… ({} bytes)", s.len())
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\n{:?}\n  (route {} {})",
            self.render(&Placeholders),
            self.route.method,
            self.route.pattern
        )
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The credential a route expects, by its path (`Auth::Fit`). Portal routes take the
/// session cookie instead.
pub fn credential_for(path: &str) -> Option<Cred> {
    let oauth = ["/oauth/token", "/oauth/revoke", "/oauth/introspect"];
    if path == "/v1/client/register" || oauth.contains(&path) {
        Some(Cred::Client)
    } else if path == "/v1/users" {
        Some(Cred::ClientToken)
    } else if path.starts_with("/v1/") {
        Some(Cred::UserToken)
    } else if path.starts_with("/ifttt/v1/user") || path.starts_with("/ifttt/v1/triggers") {
        Some(Cred::IntegrationToken)
    } else {
        None
    }
}

/// The fixture a path parameter stands for, by the segment before it.
pub fn fit_for(previous: &str) -> Fx {
    match previous {
        "integrations" => Fx::IntegrationId,
        "users" => Fx::UserId,
        _ => Fx::ClientId,
    }
}

impl Case {
    /// Writes the request, fixtures resolved by `r`.
    pub fn render(&self, r: &dyn Resolve) -> Req {
        let method = self
            .method
            .map(str::to_owned)
            .unwrap_or_else(|| self.route.method.as_str().to_owned());
        let path = self.render_path(r);
        let mut uri = path.clone();
        let q = self.render_query(r);
        if !q.is_empty() {
            uri.push('?');
            uri.push_str(&q);
        }
        let mut headers = Vec::new();
        let auth = match &self.auth {
            Auth::Fit => credential_for(&path).map(|c| cred_header(c, Scheme::Usual, r)),
            other => auth_header(other, r),
        };
        if let Some(a) = auth {
            headers.push(("Authorization".to_owned(), a));
        }
        if matches!(self.auth, Auth::Fit) && path.starts_with("/ifttt/") {
            headers.push(("IFTTT-Service-Key".into(), r.fx(Fx::ServiceKey)));
        }
        match &self.csrf {
            Csrf::Absent => {}
            Csrf::Valid => headers.push(("X-Requested-With".into(), "set-portal".into())),
            Csrf::Value(t) => headers.push(("X-Requested-With".into(), t.render(r))),
        }
        let fit_type = match &self.body {
            Body::Json(_) | Body::Mangled(..) | Body::Huge(_) => Some("application/json"),
            Body::Form(_) => Some("application/x-www-form-urlencoded"),
            Body::Empty | Body::Bytes(_) => None,
        };
        let ct = match &self.ctype {
            Ctype::Fit => fit_type.map(str::to_owned),
            Ctype::Absent => None,
            Ctype::Lit(s) => Some((*s).to_owned()),
            Ctype::Text(t) => Some(t.render(r)),
        };
        if let Some(ct) = ct {
            headers.push(("Content-Type".into(), ct));
        }
        for (k, v) in &self.extra {
            headers.push(((*k).to_owned(), v.render(r)));
        }
        let cookies = match &self.cookie {
            SessionCookie::Absent => vec![],
            SessionCookie::Valid => vec![("set_session".into(), r.fx(Fx::Session))],
            SessionCookie::Value(t) => vec![("set_session".into(), t.render(r))],
            SessionCookie::BadThenValid(t) => vec![
                ("set_session".into(), t.render(r)),
                ("set_session".into(), r.fx(Fx::Session)),
            ],
        };
        Req {
            method,
            uri,
            headers,
            cookies,
            body: render_body(&self.body, r),
        }
    }

    fn render_path(&self, r: &dyn Resolve) -> String {
        let mut out = String::new();
        let mut dynamic = 0;
        let mut previous = "";
        for part in self.route.pattern.split('/').filter(|s| !s.is_empty()) {
            if part.ends_with("..>") {
                // A catch-all: the generated segments stand in for the whole tail.
                for s in &self.segs {
                    out.push('/');
                    out.push_str(&seg_text(s, "", r));
                }
                continue;
            }
            out.push('/');
            if part.starts_with('<') {
                let s = self.segs.get(dynamic).cloned().unwrap_or(Seg::Fit);
                out.push_str(&seg_text(&s, previous, r));
                dynamic += 1;
            } else {
                out.push_str(part);
                previous = part;
            }
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    }

    fn render_query(&self, r: &dyn Resolve) -> String {
        let mut parts = Vec::new();
        for (name, value) in &self.query {
            let name = match name {
                QName::Param(i) if !self.route.query.is_empty() => {
                    self.route.query[i % self.route.query.len()].clone()
                }
                QName::Param(_) => "x".to_owned(),
                QName::Other(s) => (*s).to_owned(),
                QName::Raw(s) => {
                    parts.push((*s).to_owned());
                    continue;
                }
            };
            match value {
                Some(v) => parts.push(format!("{name}={}", encode(&v.render(r)))),
                None => parts.push(name),
            }
        }
        parts.join("&")
    }
}

pub fn seg_text(s: &Seg, previous: &str, r: &dyn Resolve) -> String {
    match s {
        Seg::Fit => encode(&r.fx(fit_for(previous))),
        Seg::Enc(t) => encode(&t.render(r)),
        Seg::Raw(raw) => (*raw).to_owned(),
    }
}
