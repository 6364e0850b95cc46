//! Strings: fixture values that stay symbolic until sent ([`Fx`], so a shrunk case reads
//! `Bearer <UserToken>` and survives the fixtures being rebuilt), hostile strings, and
//! values that fit a field well enough to get past its first check.

use std::fmt;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

/// A fixture value, resolved when the request is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fx {
    Email,
    Password,
    Session,
    ClientId,
    ClientSecret,
    ClientToken,
    UserId,
    UserToken,
    RefreshToken,
    IntegrationId,
    IntegrationSecret,
    IntegrationToken,
    IntegrationRefresh,
    ServiceKey,
    /// The service key of a second integration of the same client.
    OtherServiceKey,
    RedirectUri,
    /// A fresh link code of the user, for the authorization page.
    LinkCode,
    /// A fresh authorization code for the integration.
    AuthCode,
    /// The PKCE verifier of that code.
    CodeVerifier,
}

pub const FIXTURES: &[Fx] = &[
    Fx::Email,
    Fx::Password,
    Fx::Session,
    Fx::ClientId,
    Fx::ClientSecret,
    Fx::ClientToken,
    Fx::UserId,
    Fx::UserToken,
    Fx::RefreshToken,
    Fx::IntegrationId,
    Fx::IntegrationSecret,
    Fx::IntegrationToken,
    Fx::IntegrationRefresh,
    Fx::ServiceKey,
    Fx::OtherServiceKey,
    Fx::RedirectUri,
    Fx::LinkCode,
    Fx::AuthCode,
    Fx::CodeVerifier,
];

/// Turns fixtures into their values (the world) or into `<Name>` placeholders (Debug).
pub trait Resolve {
    fn fx(&self, f: Fx) -> String;
}

pub struct Placeholders;

impl Resolve for Placeholders {
    fn fx(&self, f: Fx) -> String {
        format!("<{f:?}>")
    }
}

/// A string value: literal, a fixture, or a unit repeated (huge values stay readable).
#[derive(Clone)]
pub enum Text {
    Lit(String),
    Fx(Fx),
    Rep(&'static str, usize),
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Text::Lit(s) => write!(f, "{s:?}"),
            Text::Fx(x) => write!(f, "<{x:?}>"),
            Text::Rep(u, n) => write!(f, "{u:?} x {n}"),
        }
    }
}

impl Text {
    pub fn render(&self, r: &dyn Resolve) -> String {
        match self {
            Text::Lit(s) => s.clone(),
            Text::Fx(x) => r.fx(*x),
            Text::Rep(u, n) => u.repeat(*n),
        }
    }
}

pub fn lit(s: &str) -> Text {
    Text::Lit(s.to_owned())
}

/// Strings that have broken servers before: controls, bidi marks, 4-byte characters,
/// injections, look-alike prefixes of our ids and tokens.
pub const HOSTILE: &[&str] = &[
    "",
    " ",
    "\0",
    "a\0b",
    "\u{202E}txt.exe",
    "\u{200F}\u{200E}\u{2066}",
    "\u{FEFF}",
    "😀",
    "𝕏𝕐\u{1F3F3}\u{FE0F}\u{200D}\u{1F308}",
    "e\u{301}\u{301}\u{301}",
    "\u{FFFF}\u{FFFE}",
    "\u{10FFFF}",
    "\u{2028}\u{2029}\u{85}",
    "\r\n",
    "\t",
    "\u{7F}",
    "../../etc/passwd",
    "..",
    ".",
    "%00",
    "%",
    "%zz",
    "%2F",
    "%ff",
    "' OR '1'='1",
    "'; DROP TABLE users;--",
    "<script>alert(1)</script>",
    "${jndi:ldap://x}",
    "null",
    "true",
    "0",
    "-1",
    "1e309",
    "NaN",
    "\\",
    "\"",
    "a b",
    "ABCD-EFGH",
    "cl_",
    "int_",
    "rt_",
    "usr_",
    "rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    "https://evil.example/cb",
    "javascript:alert(1)",
    "2026-01-31T12:00:00Z",
];

pub const ODD_CHARS: &[char] = &[
    '\0',
    '\u{1}',
    '\u{202E}',
    '\u{200F}',
    '\u{FEFF}',
    '😀',
    '\u{10FFFF}',
    '\u{7F}',
    '\u{85}',
    '\u{2028}',
    'é',
    'a',
    'Z',
    '0',
    '%',
    '/',
    '?',
    '#',
    '&',
    '=',
    '+',
    ';',
    ':',
    ',',
    ' ',
    '\n',
    '.',
    '\\',
    '"',
    '\'',
    '<',
    '@',
];

pub fn hostile_string() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(HOSTILE).prop_map(str::to_owned),
        2 => vec(select(ODD_CHARS), 0..12).prop_map(|v| v.into_iter().collect()),
        2 => any::<String>(),
        1 => "[a-z0-9_-]{0,16}",
    ]
    .boxed()
}

pub fn text() -> BoxedStrategy<Text> {
    prop_oneof![
        6 => hostile_string().prop_map(Text::Lit),
        2 => select(FIXTURES).prop_map(Text::Fx),
        1 => (
            select(&["a", "é", "😀", "\0", "%", "ab="][..]),
            select(&[129usize, 257, 4097, 70_000][..]),
        )
            .prop_map(|(u, n)| Text::Rep(u, n)),
    ]
    .boxed()
}

pub fn one_of_lits(items: &'static [&'static str]) -> BoxedStrategy<Text> {
    select(items).prop_map(lit).boxed()
}

/// Redirect URIs: https or loopback, but not all of them URIs a redirect can name.
pub const URIS: &[&str] = &[
    "https://evil.example/cb",
    "https://ifttt.example/cb/\u{fc}",
    "https://ifttt.example/cb?q=\u{202E}",
    "https://ifttt.example/a|b",
    "https://ifttt.example/a\"b<c>",
    "https://ifttt.example:99999999/cb",
    "https://ifttt.example/cb?a={b}",
    "https://ifttt.example/%zz",
    "https://ifttt.example/cb?code=x&state=y",
    "http://localhost:1/cb",
    "http://[::1]/cb",
    "https://[::1/cb",
    "https://ifttt.example:/cb",
];

/// Mostly `valid`, now and then one of the near misses.
pub fn mostly(valid: Text, near_misses: &'static [&'static str]) -> BoxedStrategy<Text> {
    prop_oneof![5 => Just(valid), 1 => select(near_misses).prop_map(lit)].boxed()
}

pub fn mostly_lit(
    valid: &'static str,
    near_misses: &'static [&'static str],
) -> BoxedStrategy<Text> {
    mostly(lit(valid), near_misses)
}

/// A string that fits `key` well enough to get past the first check, or nearly does.
pub fn good_text(key: &str) -> Option<BoxedStrategy<Text>> {
    let s = match key {
        "email" => prop_oneof![
            3 => Just(Text::Fx(Fx::Email)),
            1 => "[a-z]{1,8}@example\\.com".prop_map(Text::Lit),
            1 => select(&["Dev@Example.COM", "a@b", "ünï@exämple.com", "a@b@c"][..]).prop_map(lit),
        ]
        .boxed(),
        "password" | "current_password" | "new_password" => prop_oneof![
            4 => Just(Text::Fx(Fx::Password)),
            1 => Just(lit("correct horse battery")),
            1 => Just(Text::Rep("p", 256)),
            1 => Just(Text::Rep("p", 257)),
            1 => Just(Text::Rep("😀", 64)),
            1 => Just(lit("short")),
        ]
        .boxed(),
        "token" => prop_oneof![
            select(
                &[
                    Fx::RefreshToken,
                    Fx::UserToken,
                    Fx::ClientToken,
                    Fx::IntegrationToken,
                    Fx::IntegrationRefresh,
                ][..]
            )
            .prop_map(Text::Fx),
            "[A-Za-z0-9_-]{43}".prop_map(Text::Lit),
        ]
        .boxed(),
        "name" => mostly_lit("App", &[" App ", "a\u{202E}b", ""]),
        "type" => mostly_lit("click", &["purchase.completed", "\u{1F600}"]),
        "occurred_at" => mostly_lit(
            "2026-01-31T12:00:00Z",
            &[
                "2026-01-31T12:00:00.123456789+14:00",
                "9999-12-31T23:59:59Z",
                "9999-12-31T23:59:59-14:00",
                "0000-01-01T00:00:00Z",
                "0001-01-01T00:00:00+14:00",
                "2026-02-30T00:00:00Z",
                "2026-01-31T23:59:60Z",
                "2026-01-31T12:00:00+25:00",
                "-1",
                "1706702400",
            ],
        ),
        "ifttt_service_key" => prop_oneof![
            2 => "[a-z0-9]{16,40}".prop_map(Text::Lit),
            1 => Just(Text::Fx(Fx::ServiceKey)),
            1 => Just(Text::Fx(Fx::OtherServiceKey)),
            1 => select(&["", "short", "0123456789abcdef\u{e9}"][..]).prop_map(lit),
        ]
        .boxed(),
        "client_id" => prop_oneof![
            4 => Just(Text::Fx(Fx::IntegrationId)),
            1 => Just(Text::Fx(Fx::ClientId)),
        ]
        .boxed(),
        "client_secret" => prop_oneof![
            4 => Just(Text::Fx(Fx::IntegrationSecret)),
            1 => Just(Text::Fx(Fx::ClientSecret)),
        ]
        .boxed(),
        "redirect_uri" => prop_oneof![
            5 => Just(Text::Fx(Fx::RedirectUri)),
            1 => select(URIS).prop_map(lit),
        ]
        .boxed(),
        "scope" => mostly_lit(
            "profile:read events:read",
            &[
                "profile:read events:read events:write",
                "users:create",
                "profile:read  profile:read",
                "admin",
            ],
        ),
        "state" => mostly_lit("xyz", &["a&b=c#d", "\u{fc}"]),
        "code_challenge" => prop_oneof![
            5 => "[A-Za-z0-9_-]{43}".prop_map(Text::Lit),
            1 => "[A-Za-z0-9_~.-]{0,130}".prop_map(Text::Lit),
        ]
        .boxed(),
        "code_verifier" => prop_oneof![
            3 => Just(Text::Fx(Fx::CodeVerifier)),
            1 => "[A-Za-z0-9_~.-]{0,130}".prop_map(Text::Lit),
        ]
        .boxed(),
        "code" => prop_oneof![
            3 => Just(Text::Fx(Fx::AuthCode)),
            1 => "[A-Za-z0-9_~.-]{0,64}".prop_map(Text::Lit),
        ]
        .boxed(),
        "code_challenge_method" => mostly_lit("S256", &["plain", "s256"]),
        "grant_type" => prop_oneof![
            6 => select(&["client_credentials", "refresh_token", "authorization_code"][..])
                .prop_map(lit),
            1 => select(&["password", "urn:ietf:params:oauth:grant-type:device_code"][..])
                .prop_map(lit),
        ]
        .boxed(),
        "refresh_token" => select(&[Fx::RefreshToken, Fx::IntegrationRefresh][..])
            .prop_map(Text::Fx)
            .boxed(),
        "decision" => mostly_lit("approve", &["deny"]),
        "link_code" => mostly(
            Text::Fx(Fx::LinkCode),
            &[
                "ABCD-EFGH",
                "abcdefgh",
                "ABCD EFGH",
                "0000-0000",
                "ABCD-EFGHI",
            ],
        ),
        "response_type" => mostly_lit("code", &["token"]),
        "token_type_hint" => mostly_lit("refresh_token", &["access_token"]),
        _ => return None,
    };
    Some(s)
}
