//! The Developer Portal: the files of `web/`, embedded into the binary and served at `/`.
//!
//! A path naming an embedded file gets that file; any other page path gets the app shell
//! (`index.html`), whose JavaScript routes itself. Paths under the API prefixes never
//! fall back to the shell: they stay JSON 404s (or 405s) from the catchers. Every answer
//! carries an `ETag` (from the embedded file's hash) and is revalidated before reuse, so
//! a new binary is picked up at once; and the portal's security headers, which Rocket's
//! Shield leaves alone because they are already set.

use std::borrow::Cow;
use std::io::Cursor;

use rocket::http::uri::{fmt::Path, Segments};
use rocket::http::{ContentType, Header, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Responder, Response};
use rocket::{get, routes, Route};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

/// First path segments that belong to the APIs and the operational endpoints.
const RESERVED: [&str; 8] = [
    "api",
    "v1",
    "oauth",
    ".well-known",
    "ifttt",
    "healthz",
    "readyz",
    "metrics",
];

/// The app shell, answered for every page path.
const SHELL: &str = "index.html";

/// Scripts, styles, images and connections only from this origin; no inline script or
/// style; never framed; no `<base>`; forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

/// The headers every portal answer carries. Page URLs can hold verification and reset
/// tokens, hence `no-referrer`.
fn security_headers() -> [Header<'static>; 5] {
    [
        Header::new("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        Header::new("X-Content-Type-Options", "nosniff"),
        Header::new("Referrer-Policy", "no-referrer"),
        Header::new("X-Frame-Options", "DENY"),
        Header::new("Cross-Origin-Opener-Policy", "same-origin"),
    ]
}

/// The `If-None-Match` header of the request, if any.
pub struct IfNoneMatch(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for IfNoneMatch {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let value = req.headers().get_one("If-None-Match").map(str::to_owned);
        Outcome::Success(IfNoneMatch(value))
    }
}

impl IfNoneMatch {
    /// Whether the client's copy is `etag` (weak comparison, as RFC 9110 asks for GET).
    fn matches(&self, etag: &str) -> bool {
        let Some(list) = &self.0 else { return false };
        list.split(',')
            .map(|tag| tag.trim())
            .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
    }
}

/// An embedded file, or a 304 when the client already has it.
pub struct WebFile {
    body: Option<Cow<'static, [u8]>>,
    content_type: ContentType,
    etag: String,
    cache_control: &'static str,
}

impl<'r> Responder<'r, 'static> for WebFile {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut res = Response::build();
        res.header(Header::new("ETag", self.etag))
            .header(Header::new("Cache-Control", self.cache_control));
        for h in security_headers() {
            res.header(h);
        }
        match self.body {
            Some(body) => res
                .status(Status::Ok)
                .header(self.content_type)
                .sized_body(body.len(), Cursor::new(body)),
            None => res.status(Status::NotModified),
        };
        Ok(res.finalize())
    }
}

/// The content type for a file name, by extension.
fn content_type(name: &str) -> ContentType {
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "html" => ContentType::HTML,
        "css" => ContentType::CSS,
        "js" | "mjs" => ContentType::JavaScript.with_params(("charset", "utf-8")),
        "json" => ContentType::JSON,
        "svg" => ContentType::SVG,
        "png" => ContentType::PNG,
        "ico" => ContentType::Icon,
        "txt" => ContentType::Plain,
        "woff2" => ContentType::WOFF2,
        _ => ContentType::Binary,
    }
}

/// A strong validator from the embedded bytes: the first 128 bits of their SHA-256.
fn etag(hash: [u8; 32]) -> String {
    let hex: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Serves the embedded file `name`, or `None` when there is no such file.
fn serve(name: &str, inm: &IfNoneMatch) -> Option<WebFile> {
    let file = Assets::get(name)?;
    let etag = etag(file.metadata.sha256_hash());
    let fresh = inm.matches(&etag);
    Some(WebFile {
        body: (!fresh).then_some(file.data),
        content_type: content_type(name),
        etag,
        // The shell must never be used unchecked: it names the scripts of this version.
        cache_control: if name == SHELL {
            "no-cache"
        } else {
            "public, no-cache"
        },
    })
}

/// What a request path resolves to.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// An embedded file by its name under `web/`.
    File(String),
    /// A page of the app: the shell.
    Page,
    /// An API path or a missing file: the JSON 404.
    Missing,
}

fn resolve(segments: &[&str]) -> Target {
    let Some(first) = segments.first() else {
        return Target::Page;
    };
    if RESERVED.contains(first) {
        return Target::Missing;
    }
    // Dot-files and traversal never reach the embedded folder.
    if segments
        .iter()
        .any(|s| s.is_empty() || s.starts_with('.') || s.contains('\\'))
    {
        return Target::Missing;
    }
    let name = segments.join("/");
    if Assets::get(&name).is_some() {
        return Target::File(name);
    }
    // A missing `/app.js` must not come back as HTML; a page path has no extension.
    match segments.last() {
        Some(last) if last.contains('.') => Target::Missing,
        _ => Target::Page,
    }
}

/// Every GET that no API route took: a file, the app shell, or a JSON 404. The high rank
/// lets every other route go first.
#[get("/<path..>", rank = 20)]
fn portal(path: Segments<'_, Path>, inm: IfNoneMatch) -> Result<WebFile, Status> {
    let segments: Vec<&str> = path.collect();
    let found = match resolve(&segments) {
        Target::File(name) => serve(&name, &inm),
        Target::Page => serve(SHELL, &inm),
        Target::Missing => None,
    };
    found.ok_or(Status::NotFound)
}

/// The portal's routes, mounted at `/`.
pub fn routes() -> Vec<Route> {
    routes![portal]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_prefixes_never_resolve_to_the_shell() {
        for path in [
            &["api"][..],
            &["api", "portal", "nope"],
            &["v1", "nope"],
            &["oauth", "x"],
            &[".well-known", "nope"],
            &["metrics"],
        ] {
            assert_eq!(resolve(path), Target::Missing, "{path:?}");
        }
    }

    #[test]
    fn pages_files_and_missing_files() {
        assert_eq!(resolve(&[]), Target::Page);
        assert_eq!(resolve(&["clients", "cl_1", "users"]), Target::Page);
        assert_eq!(resolve(&["app.js"]), Target::File("app.js".into()));
        assert_eq!(resolve(&["nope.js"]), Target::Missing);
        assert_eq!(resolve(&["..", "Cargo.toml"]), Target::Missing);
        assert_eq!(resolve(&[".git", "config"]), Target::Missing);
    }

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists() {
        let tag = "\"abc\"";
        assert!(IfNoneMatch(Some("\"abc\"".into())).matches(tag));
        assert!(IfNoneMatch(Some("\"x\", W/\"abc\"".into())).matches(tag));
        assert!(IfNoneMatch(Some("*".into())).matches(tag));
        assert!(!IfNoneMatch(Some("\"abd\"".into())).matches(tag));
        assert!(!IfNoneMatch(None).matches(tag));
    }

    #[test]
    fn every_embedded_file_has_a_known_content_type() {
        for name in Assets::iter() {
            assert_ne!(content_type(&name), ContentType::Binary, "{name}");
        }
    }
}
