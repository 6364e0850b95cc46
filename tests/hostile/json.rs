//! JSON bodies, written as text so they can hold what `serde_json::Value` cannot: lone
//! surrogates, numbers out of range, duplicate keys, absurd nesting.

use proptest::collection::vec;
use proptest::option::weighted;
use proptest::prelude::*;
use proptest::sample::select;

use crate::text::{good_text, lit, text, Fx, Resolve, Text, URIS};

/// A JSON value as it will be written.
#[derive(Clone, Debug)]
pub enum J {
    Null,
    Bool(bool),
    Int(i64),
    /// A number written as is: `1e400`, `-0`, `18446744073709551616`.
    Num(&'static str),
    Str(Text),
    /// A string written with these raw escapes between the quotes: `\ud800`.
    Esc(&'static str),
    Arr(Vec<J>),
    /// Keys may repeat.
    Obj(Vec<(Key, J)>),
    /// `n` nested arrays (or objects).
    Deep(usize, bool),
}

#[derive(Clone, Debug)]
pub enum Key {
    Name(&'static str),
    Text(Text),
    Esc(&'static str),
}

pub const NUMBERS: &[&str] = &[
    "1e400",
    "-1e400",
    "1e-400",
    "-0",
    "0.0",
    "2.5",
    "18446744073709551616",
    "-9223372036854775809",
    "9223372036854775807",
    "123456789012345678901234567890",
    "1E+2",
];

pub const ESCAPES: &[&str] = &[
    r"\ud800",
    r"\udfff",
    r"\ud800\u0041",
    r"\udc00\ud800",
    r"\u0000",
    r"a\u0000b",
    r"\ud83d\ude00",
    r"\uDBFF\uDFFF",
    r"\u202e\u200f",
    r"\x41",
    r"\u12",
    r"\",
];

/// The field names of every body the API takes, so bodies reach validation.
pub const KEYS: &[&str] = &[
    "email",
    "password",
    "token",
    "name",
    "metadata",
    "type",
    "data",
    "occurred_at",
    "redirect_uris",
    "scopes",
    "ifttt_service_key",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "current_password",
    "new_password",
    "grant_type",
    "refresh_token",
    "code",
    "code_verifier",
    "client_secret",
    "limit",
    "triggerFields",
    "decision",
    "link_code",
    "response_type",
    "token_type_hint",
];

pub fn leaf() -> BoxedStrategy<J> {
    prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i64>().prop_map(J::Int),
        select(NUMBERS).prop_map(J::Num),
        text().prop_map(J::Str),
        select(ESCAPES).prop_map(J::Esc),
        (
            select(&[1usize, 64, 127, 128, 129, 5_000, 40_000][..]),
            any::<bool>()
        )
            .prop_map(|(n, o)| J::Deep(n, o)),
    ]
    .boxed()
}

pub fn key() -> BoxedStrategy<Key> {
    prop_oneof![
        4 => select(KEYS).prop_map(Key::Name),
        1 => text().prop_map(Key::Text),
        1 => select(ESCAPES).prop_map(Key::Esc),
    ]
    .boxed()
}

/// Any JSON value, a few levels deep, valid or not.
pub fn json_any() -> BoxedStrategy<J> {
    leaf()
        .prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..5).prop_map(J::Arr),
                vec((key(), inner), 0..5).prop_map(J::Obj),
            ]
        })
        .boxed()
}

/// JSON that parses: no broken escapes, nesting well under serde's limit.
pub fn json_sound() -> BoxedStrategy<J> {
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i64>().prop_map(J::Int),
        text().prop_map(J::Str),
        Just(J::Esc(r"\ud83d\ude00")),
        select(&[1usize, 10, 100][..]).prop_map(|n| J::Deep(n, false)),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(J::Arr),
            vec((select(KEYS).prop_map(Key::Name), inner), 0..4).prop_map(J::Obj),
        ]
    })
    .boxed()
}

/// A plausible value for `key`, as valid JSON.
pub fn good_value(key: &'static str) -> BoxedStrategy<J> {
    match (good_text(key), key) {
        (Some(s), _) => s.prop_map(J::Str).boxed(),
        (None, "metadata") => prop_oneof![
            Just(J::Obj(vec![(Key::Name("plan"), J::Str(lit("free")))])),
            vec((select(KEYS).prop_map(Key::Name), json_sound()), 0..4).prop_map(J::Obj),
            Just(J::Obj(vec![(Key::Name("a"), J::Str(Text::Rep("x", 4100)))])),
        ]
        .boxed(),
        (None, "redirect_uris") => prop_oneof![
            3 => Just(J::Arr(vec![J::Str(Text::Fx(Fx::RedirectUri))])),
            3 => vec(select(URIS).prop_map(|u| J::Str(lit(u))), 1..3).prop_map(J::Arr),
            1 => vec(text().prop_map(J::Str), 0..12).prop_map(J::Arr),
        ]
        .boxed(),
        (None, "scopes") => prop_oneof![
            4 => proptest::sample::subsequence(&["profile:read", "events:read", "events:write"][..], 1..=3)
                .prop_map(|v| J::Arr(v.into_iter().map(|s| J::Str(lit(s))).collect())),
            1 => vec(
                select(&["profile:read", "users:create", "", "PROFILE:READ"][..])
                    .prop_map(|s| J::Str(lit(s))),
                0..4,
            )
            .prop_map(J::Arr),
        ]
        .boxed(),
        (None, "limit") => prop_oneof![
            select(&[0i64, 1, 2, 50, 500, 501, -1][..]).prop_map(J::Int),
            select(NUMBERS).prop_map(J::Num),
        ]
        .boxed(),
        (None, "triggerFields") => Just(J::Obj(vec![])).boxed(),
        _ => json_sound(),
    }
}

/// A value for `key`: usually a plausible one, sometimes any string or any JSON.
pub fn field_value(key: &'static str) -> BoxedStrategy<J> {
    prop_oneof![
        3 => good_value(key),
        1 => text().prop_map(J::Str),
        1 => json_any(),
    ]
    .boxed()
}

/// An object of API field names (repeats allowed) with fitting or hostile values.
pub fn fields_object() -> BoxedStrategy<J> {
    vec(
        select(KEYS).prop_flat_map(|k| (Just(Key::Name(k)), field_value(k))),
        0..7,
    )
    .prop_map(J::Obj)
    .boxed()
}

/// An object with most API field names at once, with fitting values but for at most one
/// poisoned field: routes ignore fields they do not know, so each finds what it needs,
/// gets past parsing, and meets the poison in its own validation.
pub fn full_object() -> BoxedStrategy<J> {
    let fields: Vec<_> = KEYS
        .iter()
        .map(|k| weighted(0.95, good_value(k).prop_map(move |v| (*k, v))))
        .collect();
    let poison = select(KEYS).prop_flat_map(|k| (Just(k), field_value(k), any::<bool>()));
    (fields, weighted(0.7, poison))
        .prop_map(|(fields, poison)| {
            let mut fields: Vec<(&'static str, J)> = fields.into_iter().flatten().collect();
            if let Some((k, v, twice)) = poison {
                match fields.iter_mut().find(|(name, _)| *name == k) {
                    // Sent a second time, or instead of the fitting value.
                    Some(_) if twice => fields.push((k, v)),
                    Some(slot) => slot.1 = v,
                    None => fields.push((k, v)),
                }
            }
            J::Obj(fields.into_iter().map(|(k, v)| (Key::Name(k), v)).collect())
        })
        .boxed()
}

pub fn write_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

pub fn write_key(out: &mut String, k: &Key, r: &dyn Resolve) {
    match k {
        Key::Name(n) => write_str(out, n),
        Key::Text(t) => write_str(out, &t.render(r)),
        Key::Esc(e) => {
            out.push('"');
            out.push_str(e);
            out.push('"');
        }
    }
}

pub fn write_json(out: &mut String, j: &J, r: &dyn Resolve) {
    match j {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Int(i) => out.push_str(&i.to_string()),
        J::Num(n) => out.push_str(n),
        J::Str(t) => write_str(out, &t.render(r)),
        J::Esc(e) => {
            out.push('"');
            out.push_str(e);
            out.push('"');
        }
        J::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item, r);
            }
            out.push(']');
        }
        J::Obj(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_key(out, k, r);
                out.push(':');
                write_json(out, v, r);
            }
            out.push('}');
        }
        J::Deep(n, objects) => {
            let (open, close) = if *objects {
                ("{\"a\":", "}")
            } else {
                ("[", "]")
            };
            out.push_str(&open.repeat(*n));
            out.push('1');
            out.push_str(&close.repeat(*n));
        }
    }
}
