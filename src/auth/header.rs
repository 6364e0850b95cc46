//! Parsing of the `Authorization` header, as pure functions: no database, no clock, no
//! Rocket types, so every edge case is a one-line unit test and the guards stay thin.
//!
//! Two shapes carry an access token (API.md, "Tokens"): `Bearer <jwt>`, and the SDK's
//! `Basic base64("<jwt>:")` — the token as the user name and an empty password. A third
//! shape carries OAuth client credentials: `Basic base64(client_id ":" client_secret)`,
//! each part form-urlencoded first as RFC 6749 §2.3.1 asks.
//!
//! Schemes are matched case-insensitively (RFC 7235). Everything is bounded in length
//! before it is decoded, so an oversized header costs nothing to refuse.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use rocket::http::RawStr;

use super::secrets::SecretString;

/// The longest `Authorization` value looked at; our tokens are well under 2 KiB.
pub const MAX_HEADER_LEN: usize = 8 * 1024;

/// The longest client id or client secret accepted in Basic credentials.
pub const MAX_CREDENTIAL_LEN: usize = 256;

/// Standard base64, padding optional: some HTTP clients leave it off.
const BASIC_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why an `Authorization` value was refused. The texts never repeat the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the Authorization header is too long")]
    TooLong,
    #[error("the Authorization header must use the Bearer or Basic scheme")]
    UnsupportedScheme,
    #[error("the Authorization header is malformed: {0}")]
    Malformed(&'static str),
    #[error("Basic authentication with a token requires an empty password")]
    PasswordNotEmpty,
}

/// The access token in an `Authorization` value: `Bearer <jwt>` or `Basic base64("<jwt>:")`.
/// Only the token's shape is checked here (JWT characters, bounded length); its signature
/// and claims are `tokens::Tokens::verify`'s job.
pub fn parse_authorization(value: &str) -> Result<String, HeaderError> {
    let (scheme, rest) = split_scheme(value)?;
    let token = if scheme.eq_ignore_ascii_case("bearer") {
        rest.to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = decode_basic(rest)?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or(HeaderError::Malformed("Basic credentials have no ':'"))?;
        if !password.is_empty() {
            return Err(HeaderError::PasswordNotEmpty);
        }
        user.to_owned()
    } else {
        return Err(HeaderError::UnsupportedScheme);
    };
    if token.is_empty() {
        return Err(HeaderError::Malformed("the token is empty"));
    }
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(HeaderError::Malformed(
            "the token has characters a JWT cannot have",
        ));
    }
    Ok(token)
}

/// OAuth client credentials from HTTP Basic (`client_secret_basic`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: String,
    /// Masked in `Debug`.
    pub client_secret: SecretString,
}

/// Parses `Basic base64(client_id ":" client_secret)`. Both parts are form-urlencoded
/// before encoding (RFC 6749 §2.3.1) and decoded here; neither may be empty or longer than
/// [`MAX_CREDENTIAL_LEN`].
pub fn parse_basic_credentials(value: &str) -> Result<ClientCredentials, HeaderError> {
    let (scheme, rest) = split_scheme(value)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(HeaderError::UnsupportedScheme);
    }
    let decoded = decode_basic(rest)?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or(HeaderError::Malformed("Basic credentials have no ':'"))?;
    let id = form_decode(id)?;
    let secret = SecretString::new(form_decode(secret)?);
    if id.is_empty() || secret.expose().is_empty() {
        return Err(HeaderError::Malformed(
            "the client id and the client secret must not be empty",
        ));
    }
    if id.len() > MAX_CREDENTIAL_LEN || secret.expose().len() > MAX_CREDENTIAL_LEN {
        return Err(HeaderError::Malformed(
            "the client id or the client secret is too long",
        ));
    }
    Ok(ClientCredentials {
        client_id: id,
        client_secret: secret,
    })
}

/// Splits `Scheme <credentials>` after checking the length; the credentials are trimmed
/// and must be one token (no inner whitespace).
fn split_scheme(value: &str) -> Result<(&str, &str), HeaderError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(HeaderError::TooLong);
    }
    let value = value.trim();
    let (scheme, rest) = value
        .split_once([' ', '\t'])
        .ok_or(HeaderError::Malformed("expected a scheme and credentials"))?;
    let rest = rest.trim();
    if rest.is_empty() || rest.contains(|c: char| c.is_ascii_whitespace()) {
        return Err(HeaderError::Malformed(
            "expected one credentials value after the scheme",
        ));
    }
    Ok((scheme, rest))
}

fn decode_basic(encoded: &str) -> Result<String, HeaderError> {
    let bytes = BASIC_B64
        .decode(encoded)
        .map_err(|_| HeaderError::Malformed("Basic credentials are not base64"))?;
    String::from_utf8(bytes).map_err(|_| HeaderError::Malformed("Basic credentials are not UTF-8"))
}

fn form_decode(part: &str) -> Result<String, HeaderError> {
    RawStr::new(part)
        .url_decode()
        .map(|s| s.into_owned())
        .map_err(|_| HeaderError::Malformed("Basic credentials are not valid form-urlencoding"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

    const JWT: &str = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln-_";

    fn basic(raw: &str) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    #[test]
    fn bearer_with_any_case_scheme_and_extra_spaces() {
        for v in [
            format!("Bearer {JWT}"),
            format!("bearer {JWT}"),
            format!("BEARER   {JWT}  "),
            format!("Bearer\t{JWT}"),
        ] {
            assert_eq!(parse_authorization(&v).as_deref(), Ok(JWT), "{v}");
        }
    }

    #[test]
    fn basic_with_token_and_empty_password() {
        assert_eq!(
            parse_authorization(&basic(&format!("{JWT}:"))).as_deref(),
            Ok(JWT)
        );
        let unpadded = format!("bAsIc {}", STANDARD_NO_PAD.encode(format!("{JWT}:")));
        assert_eq!(parse_authorization(&unpadded).as_deref(), Ok(JWT));
    }

    #[test]
    fn basic_token_with_a_password_or_without_colon_is_refused() {
        assert_eq!(
            parse_authorization(&basic(&format!("{JWT}:x"))),
            Err(HeaderError::PasswordNotEmpty)
        );
        assert!(matches!(
            parse_authorization(&basic(JWT)),
            Err(HeaderError::Malformed(_))
        ));
        assert!(matches!(
            parse_authorization(&basic(":")),
            Err(HeaderError::Malformed(_))
        ));
    }

    #[test]
    fn malformed_values_are_refused() {
        for v in [
            "",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Basic !!!notbase64",
            "Token abc",
            "Digest abc",
            "Bearerabc",
        ] {
            assert!(parse_authorization(v).is_err(), "{v:?}");
        }
        assert_eq!(
            parse_authorization("Token abc"),
            Err(HeaderError::UnsupportedScheme)
        );
        assert!(matches!(
            parse_authorization("Bearer abc$def"),
            Err(HeaderError::Malformed(_))
        ));
        let not_utf8 = format!("Basic {}", STANDARD.encode([0xff, 0xfe, b':']));
        assert!(matches!(
            parse_authorization(&not_utf8),
            Err(HeaderError::Malformed(_))
        ));
    }

    #[test]
    fn oversized_header_is_refused_before_decoding() {
        let v = format!("Bearer {}", "a".repeat(MAX_HEADER_LEN));
        assert_eq!(parse_authorization(&v), Err(HeaderError::TooLong));
        assert_eq!(parse_basic_credentials(&v), Err(HeaderError::TooLong));
    }

    #[test]
    fn client_credentials_are_split_at_the_first_colon_and_form_decoded() {
        let c = parse_basic_credentials(&basic("cl_abc:s3cr:et")).unwrap();
        assert_eq!(c.client_id, "cl_abc");
        assert_eq!(c.client_secret.expose(), "s3cr:et");
        let c = parse_basic_credentials(&basic("my%20app:a%2Bb+c")).unwrap();
        assert_eq!(c.client_id, "my app");
        assert_eq!(c.client_secret.expose(), "a+b c");
        assert!(!format!("{c:?}").contains("a+b c"));
    }

    #[test]
    fn client_credentials_edge_cases_are_refused() {
        assert_eq!(
            parse_basic_credentials("Bearer abc"),
            Err(HeaderError::UnsupportedScheme)
        );
        for raw in [":secret", "id:", "nocolon", ":"] {
            assert!(
                matches!(
                    parse_basic_credentials(&basic(raw)),
                    Err(HeaderError::Malformed(_))
                ),
                "{raw}"
            );
        }
        let long = format!("id:{}", "s".repeat(MAX_CREDENTIAL_LEN + 1));
        assert!(parse_basic_credentials(&basic(&long)).is_err());
        assert!(parse_basic_credentials(&basic("id:%ff")).is_err());
    }
}
