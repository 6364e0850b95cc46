//! Field rules shared by several routes. Each failure names the field.

use crate::error::ApiError;

/// Longest accepted email address (RFC 5321's path limit).
const EMAIL_MAX: usize = 254;

/// Validates an email address and returns its normalised form: trimmed and lower-cased,
/// so `Dev@Example.com` and `dev@example.com` are one account.
pub fn email(raw: &str, field: &str) -> Result<String, ApiError> {
    let e = raw.trim().to_lowercase();
    let bad = |why: &str| Err(ApiError::bad_request(format!("{field}: {why}")));
    if e.is_empty() {
        return bad("is required");
    }
    if e.len() > EMAIL_MAX {
        return bad("is longer than 254 characters");
    }
    let Some((local, domain)) = e.rsplit_once('@') else {
        return bad("is not an email address (no @)");
    };
    let forbidden = |c: char| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"@".contains(c);
    if local.is_empty() || local.len() > 64 || local.chars().any(forbidden) {
        return bad("has an invalid part before the @");
    }
    let labels_ok = domain
        .split('.')
        .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'));
    if domain.is_empty() || !labels_ok || domain.chars().any(|c| forbidden(c) || c == '_') {
        return bad("has an invalid domain after the @");
    }
    Ok(e)
}

/// Checks an opaque token from a link: present, of sane length and alphabet.
pub fn token(raw: &str, field: &str) -> Result<(), ApiError> {
    let ok = !raw.is_empty()
        && raw.len() <= 128
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{field}: is not a valid token"
        )))
    }
}

/// A query parameter that may be absent but not repeated: Rocket would keep one of the
/// values and drop the rest silently, so the route takes them all and this names a
/// repeated one in a 400.
pub fn optional_query<'a>(values: Vec<&'a str>, field: &str) -> Result<Option<&'a str>, ApiError> {
    match values.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(ApiError::bad_request(format!(
            "{field}: must be given at most once"
        ))),
    }
}

/// A page size from the query: `default` when absent, else a number from 1 to `max`.
pub fn page_limit(raw: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("limit: must be a number from 1 to {max}"))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            email("  Dev@Example.COM ", "email").unwrap(),
            "dev@example.com"
        );
        assert_eq!(email("dev@localhost", "email").unwrap(), "dev@localhost");
        assert_eq!(
            email("Ünï@exämple.com", "email").unwrap(),
            "ünï@exämple.com"
        );
        for bad in [
            "",
            "dev",
            "@x.com",
            "dev@",
            "a b@x.com",
            "dev@x..com",
            "dev@-x.com",
            "a@b@c.com",
            "dev@x_y.com",
        ] {
            let err = email(bad, "email").unwrap_err().to_string();
            assert!(err.starts_with("email: "), "{bad}: {err}");
        }
        assert!(email(&format!("{}@x.com", "a".repeat(65)), "email").is_err());
    }

    #[test]
    fn tokens_are_bounded() {
        assert!(token("abc-_DEF123", "token").is_ok());
        assert!(token("", "token").is_err());
        assert!(token("a/b", "token").is_err());
        assert!(token(&"a".repeat(129), "token").is_err());
    }
}
