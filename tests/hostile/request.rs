//! Bodies, content types, `Authorization` values, cookies and other headers.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use proptest::collection::vec;
use proptest::option::weighted;
use proptest::prelude::*;
use proptest::sample::select;

use crate::case::{encode, RouteInfo};
use crate::json::{fields_object, full_object, json_any, write_json, Key, J, KEYS};
use crate::text::{good_text, lit, text, Fx, Resolve, Text};

/// How a JSON text is spoiled after it is written.
#[derive(Clone, Debug)]
pub enum Mangle {
    /// Cut at this byte (modulo the length).
    Truncate(usize),
    Trailing(&'static str),
    Bom,
    /// A 0xFF byte inserted here (modulo the length).
    BadUtf8(usize),
    Utf16,
}

#[derive(Clone, Debug)]
pub enum FormPair {
    Pair(&'static str, Text),
    Raw(&'static str),
}

#[derive(Clone, Debug)]
pub enum Body {
    Empty,
    Json(J),
    Mangled(J, Mangle),
    Form(Vec<FormPair>),
    Bytes(Vec<u8>),
    /// `{"a":"xxx…"}` of this many bytes: the 64 KiB limit and either side of it.
    Huge(usize),
}

pub fn body() -> BoxedStrategy<Body> {
    prop_oneof![
        1 => Just(Body::Empty),
        2 => fields_object().prop_map(Body::Json),
        5 => full_object().prop_map(Body::Json),
        1 => json_any().prop_map(Body::Json),
        2 => (fields_object(), mangle()).prop_map(|(j, m)| Body::Mangled(j, m)),
        1 => form(),
        2 => full_form(),
        1 => vec(any::<u8>(), 0..200).prop_map(Body::Bytes),
        1 => select(&[65_535usize, 65_536, 65_537, 70_000, 300_000][..]).prop_map(Body::Huge),
    ]
    .boxed()
}

/// Bodies that mostly get past parsing, so validation and the database see the poison:
/// forms for the OAuth endpoints, JSON elsewhere.
pub fn fitting_body(route: &RouteInfo) -> BoxedStrategy<Body> {
    if route.pattern.starts_with("/oauth/") {
        prop_oneof![
            6 => full_form(),
            1 => full_object().prop_map(Body::Json),
            2 => body(),
        ]
        .boxed()
    } else {
        prop_oneof![
            6 => full_object().prop_map(Body::Json),
            1 => full_form(),
            2 => body(),
        ]
        .boxed()
    }
}

/// Any body, whatever the route.
pub fn any_body(_: &RouteInfo) -> BoxedStrategy<Body> {
    body()
}

pub fn mangle() -> BoxedStrategy<Mangle> {
    prop_oneof![
        any::<usize>().prop_map(Mangle::Truncate),
        select(&["}", "]", ",", " garbage", "\0", "{}", "// c"][..]).prop_map(Mangle::Trailing),
        Just(Mangle::Bom),
        any::<usize>().prop_map(Mangle::BadUtf8),
        Just(Mangle::Utf16),
    ]
    .boxed()
}

pub fn form_value(k: &'static str) -> BoxedStrategy<Text> {
    match good_text(k) {
        Some(good) => prop_oneof![3 => good, 1 => text()].boxed(),
        None => text(),
    }
}

/// Any form: API field names with fitting or hostile values, and broken pairs.
pub fn form() -> BoxedStrategy<Body> {
    let pair = select(KEYS)
        .prop_flat_map(|k| (Just(k), form_value(k)).prop_map(|(k, v)| FormPair::Pair(k, v)));
    let raw = select(
        &[
            "%zz",
            "=",
            "&",
            "a",
            "%FF=1",
            "grant_type",
            "+=+",
            "x=%E2%82",
        ][..],
    )
    .prop_map(FormPair::Raw);
    vec(prop_oneof![4 => pair, 1 => raw], 0..7)
        .prop_map(Body::Form)
        .boxed()
}

/// Most field names at once with fitting values, but for at most one, as in
/// [`full_object`].
pub fn full_form() -> BoxedStrategy<Body> {
    let pairs: Vec<_> = KEYS
        .iter()
        .filter_map(|k| good_text(k).map(|g| (*k, g)))
        .map(|(k, good)| {
            // A client secret in the body clashes with the Basic credentials most cases
            // send; the authorization page needs the client id.
            let p = if k == "client_secret" { 0.3 } else { 0.95 };
            weighted(p, good.prop_map(move |v| (k, v)))
        })
        .collect();
    (pairs, weighted(0.7, (select(KEYS), text())))
        .prop_map(|(pairs, poison)| {
            let mut pairs: Vec<(&'static str, Text)> = pairs.into_iter().flatten().collect();
            if let Some((k, v)) = poison {
                match pairs.iter_mut().find(|(name, _)| *name == k) {
                    Some(slot) => slot.1 = v,
                    None => pairs.push((k, v)),
                }
            }
            Body::Form(
                pairs
                    .into_iter()
                    .map(|(k, v)| FormPair::Pair(k, v))
                    .collect(),
            )
        })
        .boxed()
}

/// The `Content-Type`: the one that fits the body, none, or something else.
#[derive(Clone, Debug)]
pub enum Ctype {
    Fit,
    Absent,
    Lit(&'static str),
    Text(Text),
}

pub const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin1",
    "APPLICATION/JSON",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "text/plain",
    "text/html",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "application/merge-patch+json",
    "application/vnd.api+json",
    "*/*",
    "application/json, text/plain",
    "application/",
    "json",
    ";",
];

pub fn ctype() -> BoxedStrategy<Ctype> {
    prop_oneof![
        6 => Just(Ctype::Fit),
        1 => Just(Ctype::Absent),
        2 => select(CONTENT_TYPES).prop_map(Ctype::Lit),
        1 => text().prop_map(Ctype::Text),
    ]
    .boxed()
}

/// What the `Authorization` header carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cred {
    /// `client_id:client_secret` of the app.
    Client,
    /// `client_id:client_secret` of the integration.
    Integration,
    ClientToken,
    UserToken,
    IntegrationToken,
    RefreshToken,
}

/// How a credential is written into the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// What the credential calls for: Basic for id:secret, Bearer for a token.
    Usual,
    Bearer,
    /// `Basic base64("<token>:")`, the SDK's way.
    BasicToken,
    LowerCase,
    UpperCase,
    Tab,
    Spaces,
    /// Basic with a password after the token.
    WithPassword,
    NoColon,
    NoPadding,
    UrlSafe,
    Digest,
    NoSpace,
    Twice,
    Truncated,
}

#[derive(Clone, Debug)]
pub enum Auth {
    Absent,
    /// The credential the route expects (see [`credential_for`]).
    Fit,
    Cred(Cred, Scheme),
    Raw(Text),
    /// `<scheme> base64(bytes)`.
    Encoded(&'static str, Vec<u8>),
    /// `Basic base64(a ":" b)`.
    Pair(Text, Text),
    /// A forged JWT: header and claims as given, signature bytes as given.
    Jwt(J, J, Vec<u8>),
}

pub const CREDS: &[Cred] = &[
    Cred::Client,
    Cred::Integration,
    Cred::ClientToken,
    Cred::UserToken,
    Cred::IntegrationToken,
    Cred::RefreshToken,
];

pub const SCHEMES: &[Scheme] = &[
    Scheme::Usual,
    Scheme::Bearer,
    Scheme::BasicToken,
    Scheme::LowerCase,
    Scheme::UpperCase,
    Scheme::Tab,
    Scheme::Spaces,
    Scheme::WithPassword,
    Scheme::NoColon,
    Scheme::NoPadding,
    Scheme::UrlSafe,
    Scheme::Digest,
    Scheme::NoSpace,
    Scheme::Twice,
    Scheme::Truncated,
];

pub fn jwt_header() -> BoxedStrategy<J> {
    let alg = select(&["EdDSA", "ES256", "RS256", "HS256", "none", "None", ""][..])
        .prop_map(|a| J::Str(lit(a)));
    let kid = prop_oneof![
        text().prop_map(J::Str),
        Just(J::Str(lit("../../../etc/passwd"))),
        Just(J::Str(lit("' OR 1=1 --"))),
        json_any(),
    ];
    (alg, kid)
        .prop_map(|(alg, kid)| J::Obj(vec![(Key::Name("alg"), alg), (Key::Text(lit("kid")), kid)]))
        .boxed()
}

pub fn auth() -> BoxedStrategy<Auth> {
    prop_oneof![
        1 => Just(Auth::Absent),
        4 => Just(Auth::Fit),
        4 => (select(CREDS), select(SCHEMES)).prop_map(|(c, s)| Auth::Cred(c, s)),
        2 => text().prop_map(Auth::Raw),
        1 => (
            select(&["Basic", "Bearer", "basic"][..]),
            vec(any::<u8>(), 0..64)
        )
            .prop_map(|(s, b)| Auth::Encoded(s, b)),
        1 => (text(), text()).prop_map(|(a, b)| Auth::Pair(a, b)),
        1 => (jwt_header(), fields_object(), vec(any::<u8>(), 0..70))
            .prop_map(|(h, c, s)| Auth::Jwt(h, c, s)),
    ]
    .boxed()
}

#[derive(Clone, Debug)]
pub enum SessionCookie {
    Absent,
    Valid,
    Value(Text),
    /// A bad cookie before the valid one.
    BadThenValid(Text),
}

pub fn session_cookie() -> BoxedStrategy<SessionCookie> {
    prop_oneof![
        2 => Just(SessionCookie::Absent),
        4 => Just(SessionCookie::Valid),
        2 => text().prop_map(SessionCookie::Value),
        1 => text().prop_map(SessionCookie::BadThenValid),
    ]
    .boxed()
}

#[derive(Clone, Debug)]
pub enum Csrf {
    Absent,
    Valid,
    Value(Text),
}

pub fn csrf() -> BoxedStrategy<Csrf> {
    prop_oneof![
        1 => Just(Csrf::Absent),
        4 => Just(Csrf::Valid),
        1 => prop_oneof![Just(lit("SET-PORTAL")), Just(lit("XMLHttpRequest")), text()]
            .prop_map(Csrf::Value),
    ]
    .boxed()
}

pub const HEADER_NAMES: &[&str] = &[
    "X-Forwarded-For",
    "IFTTT-Service-Key",
    "If-None-Match",
    "Accept",
    "Accept-Language",
    "Origin",
    "Referer",
    "User-Agent",
    "Content-Length",
    "Transfer-Encoding",
    "X-Requested-With",
    "Authorization",
    "Cookie",
    "Content-Type",
    "Host",
    "X-Real-IP",
];

pub fn extra_headers() -> BoxedStrategy<Vec<(&'static str, Text)>> {
    let value = prop_oneof![
        3 => text(),
        1 => select(&[
            "1.2.3.4, 127.0.0.1",
            "::1, unknown, 127.0.0.1",
            "999999999999999999999",
            "-1",
            "chunked",
            "*",
            "W/\"x\", *",
        ][..])
        .prop_map(lit),
        1 => Just(Text::Fx(Fx::ServiceKey)),
    ];
    vec((select(HEADER_NAMES), value), 0..4).boxed()
}

pub fn render_body(b: &Body, r: &dyn Resolve) -> Vec<u8> {
    match b {
        Body::Empty => vec![],
        Body::Json(j) => {
            let mut s = String::new();
            write_json(&mut s, j, r);
            s.into_bytes()
        }
        Body::Mangled(j, m) => {
            let mut s = String::new();
            write_json(&mut s, j, r);
            let mut bytes = s.into_bytes();
            match m {
                Mangle::Truncate(at) if !bytes.is_empty() => bytes.truncate(at % bytes.len()),
                Mangle::Truncate(_) => {}
                Mangle::Trailing(t) => bytes.extend_from_slice(t.as_bytes()),
                Mangle::Bom => bytes.splice(0..0, [0xEF, 0xBB, 0xBF]).for_each(drop),
                Mangle::BadUtf8(at) => bytes.insert(at % (bytes.len() + 1), 0xFF),
                Mangle::Utf16 => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    bytes = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
                }
            }
            bytes
        }
        Body::Form(pairs) => pairs
            .iter()
            .map(|p| match p {
                FormPair::Pair(k, v) => format!("{k}={}", encode(&v.render(r))),
                FormPair::Raw(raw) => (*raw).to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes(),
        Body::Bytes(b) => b.clone(),
        Body::Huge(n) => format!("{{\"a\":\"{}\"}}", "x".repeat(n.saturating_sub(8))).into_bytes(),
    }
}

pub fn cred_value(c: Cred, r: &dyn Resolve) -> (String, bool) {
    match c {
        Cred::Client => (
            format!("{}:{}", r.fx(Fx::ClientId), r.fx(Fx::ClientSecret)),
            true,
        ),
        Cred::Integration => (
            format!(
                "{}:{}",
                r.fx(Fx::IntegrationId),
                r.fx(Fx::IntegrationSecret)
            ),
            true,
        ),
        Cred::ClientToken => (r.fx(Fx::ClientToken), false),
        Cred::UserToken => (r.fx(Fx::UserToken), false),
        Cred::IntegrationToken => (r.fx(Fx::IntegrationToken), false),
        Cred::RefreshToken => (r.fx(Fx::RefreshToken), false),
    }
}

/// Writes credential `c` with scheme variation `s`.
pub fn cred_header(c: Cred, s: Scheme, r: &dyn Resolve) -> String {
    let (value, is_pair) = cred_value(c, r);
    // What goes into Basic: the pair as is, or the token with an empty password.
    let basic_raw = if is_pair {
        value.clone()
    } else {
        format!("{value}:")
    };
    let usual = if is_pair {
        format!("Basic {}", STANDARD.encode(&basic_raw))
    } else {
        format!("Bearer {value}")
    };
    match s {
        Scheme::Usual => usual,
        Scheme::Bearer => format!("Bearer {value}"),
        Scheme::BasicToken => format!("Basic {}", STANDARD.encode(&basic_raw)),
        Scheme::LowerCase => usual.to_lowercase(),
        Scheme::UpperCase => usual.to_uppercase(),
        Scheme::Tab => usual.replacen(' ', "\t", 1),
        Scheme::Spaces => format!("  {}  ", usual.replacen(' ', "    ", 1)),
        Scheme::WithPassword => format!("Basic {}", STANDARD.encode(format!("{basic_raw}x"))),
        Scheme::NoColon => format!("Basic {}", STANDARD.encode(&value)),
        Scheme::NoPadding => format!("Basic {}", STANDARD_NO_PAD.encode(&basic_raw)),
        Scheme::UrlSafe => format!("Basic {}", URL_SAFE_NO_PAD.encode(&basic_raw)),
        Scheme::Digest => format!("Digest {value}"),
        Scheme::NoSpace => usual.replacen(' ', "", 1),
        Scheme::Twice => format!("{usual} {usual}"),
        Scheme::Truncated => {
            let cut = usual.len() * 2 / 3;
            usual.get(..cut).unwrap_or_default().to_owned()
        }
    }
}

pub fn auth_header(a: &Auth, r: &dyn Resolve) -> Option<String> {
    Some(match a {
        Auth::Absent | Auth::Fit => return None,
        Auth::Cred(c, s) => cred_header(*c, *s, r),
        Auth::Raw(t) => t.render(r),
        Auth::Encoded(scheme, bytes) => format!("{scheme} {}", STANDARD.encode(bytes)),
        Auth::Pair(a, b) => format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", a.render(r), b.render(r)))
        ),
        Auth::Jwt(header, claims, sig) => {
            let (mut h, mut c) = (String::new(), String::new());
            write_json(&mut h, header, r);
            write_json(&mut c, claims, r);
            format!(
                "Bearer {}.{}.{}",
                URL_SAFE_NO_PAD.encode(h),
                URL_SAFE_NO_PAD.encode(c),
                URL_SAFE_NO_PAD.encode(sig)
            )
        }
    })
}
