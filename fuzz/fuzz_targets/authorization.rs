//! The `Authorization` header and the token behind it: `parse_authorization`,
//! `parse_basic_credentials`, and `Tokens::verify` on whatever token the header yields.
//!
//! The first input byte picks how the rest becomes a header, so the fuzzer reaches past
//! the base64 and the JWT framing: as is; after `Bearer `; base64 after `Basic ` (with
//! and without the SDK's trailing `:`); a real token with bytes overwritten; and JWTs
//! whose header or claims are fuzzer bytes but whose signature is made with the server's
//! real key, so the claim and header checks behind the signature are fuzzed too.
//!
//! Nothing may panic, and only a token this server signed may verify, with our issuer
//! and audience.

#![no_main]

use std::sync::OnceLock;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use set_server::auth::header::{parse_authorization, parse_basic_credentials, MAX_CREDENTIAL_LEN};
use set_server::auth::tokens::{NewToken, TokenType, Tokens};
use set_server::config::Config;

struct Fixture {
    /// The data directory; held (statics are never dropped) so the key ring can read it.
    _dir: tempfile::TempDir,
    tokens: Tokens,
    /// A token the server issued, for the mutating modes.
    valid: String,
    /// Its header, as the server writes it.
    header: String,
    /// Its claims, as the server writes them.
    claims: String,
}

/// One server's token service over a temporary data directory, built once.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = Config::load(None).expect("the default config");
        config.database.path = dir.path().join("set.db");
        config.email.outbox_dir = dir.path().join("outbox");
        let app = set_server::App::open(config).expect("the app opens");
        let tokens = app.tokens.clone();
        let valid = tokens
            .issue(&NewToken {
                typ: TokenType::User,
                sub: "usr_fuzz",
                cid: "cl_fuzz",
                scope: "profile:read events:read",
                azp: None,
                gen: None,
                fam: Some("fam_fuzz"),
            })
            .expect("a token")
            .access_token;
        let mut parts = valid.split('.');
        let mut part = || {
            let p = parts.next().expect("three parts");
            String::from_utf8(URL_SAFE_NO_PAD.decode(p).expect("base64url")).expect("UTF-8")
        };
        let (header, claims) = (part(), part());
        Fixture {
            _dir: dir,
            tokens,
            valid,
            header,
            claims,
        }
    })
}

/// A JWT over `header` and `claims`, signed with the server's current key.
fn signed(f: &Fixture, header: &[u8], claims: &[u8]) -> String {
    let mut jwt = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = f.tokens.keys().signer().sign(jwt.as_bytes());
    jwt.push('.');
    jwt.push_str(&URL_SAFE_NO_PAD.encode(signature));
    jwt
}

/// Builds the header value the input stands for.
fn header_value(f: &Fixture, mode: u8, rest: &[u8]) -> String {
    let text = || String::from_utf8_lossy(rest).into_owned();
    match mode % 8 {
        0 => text(),
        1 => format!("Bearer {}", text()),
        2 => format!("Basic {}", STANDARD.encode(rest)),
        3 => {
            let mut raw = rest.to_vec();
            raw.push(b':');
            format!("Basic {}", STANDARD.encode(raw))
        }
        4 => {
            // The real token with (position, byte) pairs overwritten.
            let mut token = f.valid.clone().into_bytes();
            for pair in rest.chunks_exact(3) {
                let at = usize::from(u16::from_le_bytes([pair[0], pair[1]])) % token.len();
                token[at] = pair[2];
            }
            format!("Bearer {}", String::from_utf8_lossy(&token))
        }
        5 => format!("Bearer {}", signed(f, f.header.as_bytes(), rest)),
        6 => format!("Bearer {}", signed(f, rest, f.claims.as_bytes())),
        _ => {
            // Real claims with one fuzzer-chosen value spliced into the JSON text.
            let at = rest.first().map_or(0, |b| usize::from(*b)) % f.claims.len();
            let mut claims = f.claims.as_bytes()[..at].to_vec();
            claims.extend_from_slice(rest.get(1..).unwrap_or_default());
            claims.extend_from_slice(&f.claims.as_bytes()[at..]);
            format!(
                "Basic {}",
                STANDARD.encode(format!("{}:", signed(f, f.header.as_bytes(), &claims)))
            )
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let value = header_value(f, mode, rest);

    if let Ok(creds) = parse_basic_credentials(&value) {
        assert!(!creds.client_id.is_empty() && creds.client_id.len() <= MAX_CREDENTIAL_LEN);
        let secret = creds.client_secret.expose();
        assert!(!secret.is_empty() && secret.len() <= MAX_CREDENTIAL_LEN);
    }

    let Ok(token) = parse_authorization(&value) else {
        return;
    };
    assert!(!token.is_empty());
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')));
    if let Ok(claims) = f.tokens.verify(&token) {
        assert_eq!(claims.iss, f.tokens.issuer());
        assert_eq!(claims.aud, f.tokens.audience());
        assert_eq!(
            claims.typ == TokenType::Integration,
            claims.azp.is_some(),
            "azp only on integration tokens"
        );
    }
});
