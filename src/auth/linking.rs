//! Account linking (RFC 6749 authorization code, RFC 7636 PKCE): the checks shared by
//! the browser page and app-to-app linking, link codes, and authorization codes.

use crate::db::Conn;
use sha2::{Digest, Sha256};

use crate::auth::secrets::{new_token, token_key};
use crate::clock;
use crate::db::codes::{self, NewAuthCode};
use crate::db::integrations::Integration;

/// Scopes an integration may be registered for, in canonical order.
pub const INTEGRATION_SCOPES: [&str; 3] = ["profile:read", "events:read", "events:write"];

/// Lifetimes, in seconds.
pub const LINK_CODE_TTL: i64 = 600;
pub const AUTH_CODE_TTL: i64 = 600;

/// Crockford's base32: no I, L, O or U, so a typed code is hard to get wrong.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// An error of the authorization request, in RFC 6749 §4.1.2.1 terms. The first two are
/// never redirected (the redirect target itself is not trusted yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthzError {
    UnknownClient,
    BadRedirect(String),
    Redirectable {
        code: &'static str,
        description: String,
    },
}

impl AuthzError {
    pub fn description(&self) -> String {
        match self {
            AuthzError::UnknownClient => "client_id: no such integration".into(),
            AuthzError::BadRedirect(why) => why.clone(),
            AuthzError::Redirectable { description, .. } => description.clone(),
        }
    }

    fn redirectable(code: &'static str, description: impl Into<String>) -> AuthzError {
        AuthzError::Redirectable {
            code,
            description: description.into(),
        }
    }
}

/// An authorization request as received, before checks.
#[derive(Debug, Clone, Default)]
pub struct AuthzRequest {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct Approved {
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
}

/// Resolves the redirect URI: the registered one that matches exactly, or the only one
/// registered when none was sent. Never a URI the integration did not register.
pub fn redirect_for(integration: &Integration, sent: Option<&str>) -> Result<String, AuthzError> {
    let registered = integration.redirect_uris();
    match sent {
        Some(uri) if registered.iter().any(|r| r == uri) => Ok(uri.to_owned()),
        Some(_) => Err(AuthzError::BadRedirect(
            "redirect_uri: does not match any URI registered for this integration".into(),
        )),
        None if registered.len() == 1 => Ok(registered[0].clone()),
        None => Err(AuthzError::BadRedirect(
            "redirect_uri: is required when the integration registered several".into(),
        )),
    }
}

/// Checks a request for `integration` (already found by its client_id).
pub fn check(
    integration: &Integration,
    req: &AuthzRequest,
    response_type_required: bool,
) -> Result<Approved, AuthzError> {
    let redirect_uri = redirect_for(integration, req.redirect_uri.as_deref())?;
    if response_type_required && req.response_type.as_deref() != Some("code") {
        return Err(AuthzError::redirectable(
            "unsupported_response_type",
            "response_type: only \"code\" is supported",
        ));
    }
    let scope = granted_scope(&integration.scopes, req.scope.as_deref())?;
    let code_challenge = match (
        req.code_challenge.as_deref(),
        req.code_challenge_method.as_deref(),
    ) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(AuthzError::redirectable(
                "invalid_request",
                "code_challenge: is required with code_challenge_method",
            ))
        }
        (Some(_), Some(m)) if m != "S256" => {
            return Err(AuthzError::redirectable(
                "invalid_request",
                "code_challenge_method: only S256 is supported (plain is refused)",
            ))
        }
        (Some(c), _) => {
            let ok = (43..=128).contains(&c.len())
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if !ok {
                return Err(AuthzError::redirectable(
                    "invalid_request",
                    "code_challenge: must be 43 to 128 characters of base64url",
                ));
            }
            Some(c.to_owned())
        }
    };
    if req.state.as_ref().is_some_and(|s| s.len() > 1024) {
        return Err(AuthzError::redirectable(
            "invalid_request",
            "state: is longer than 1024 bytes",
        ));
    }
    Ok(Approved {
        redirect_uri,
        scope,
        state: req.state.clone(),
        code_challenge,
    })
}

/// The scope granted: what was asked for, which must be within what the integration
/// registered; everything registered when nothing was asked for.
pub fn granted_scope(registered: &str, asked: Option<&str>) -> Result<String, AuthzError> {
    let allowed: Vec<&str> = registered.split_ascii_whitespace().collect();
    let asked: Vec<&str> = match asked {
        Some(s) if !s.trim().is_empty() => s.split_ascii_whitespace().collect(),
        _ => allowed.clone(),
    };
    if let Some(extra) = asked.iter().find(|s| !allowed.contains(s)) {
        return Err(AuthzError::redirectable(
            "invalid_scope",
            format!("scope: {extra:.40} is not among the scopes this integration registered"),
        ));
    }
    Ok(INTEGRATION_SCOPES
        .iter()
        .filter(|s| asked.contains(s))
        .copied()
        .collect::<Vec<_>>()
        .join(" "))
}

/// Appends query parameters to a redirect URI (which may already have a query).
pub fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let mut out = uri.to_owned();
    let mut sep = if uri.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        out.push(sep);
        out.push_str(k);
        out.push('=');
        out.push_str(&percent_encode(v));
        sep = '&';
    }
    out
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where to send the browser after an error that may be redirected.
pub fn error_redirect(
    redirect_uri: &str,
    code: &str,
    description: &str,
    state: Option<&str>,
) -> String {
    let mut params = vec![("error", code), ("error_description", description)];
    if let Some(s) = state {
        params.push(("state", s));
    }
    with_query(redirect_uri, &params)
}

/// Issues an authorization code for `user_id` in the caller's transaction; returns the
/// redirect with `code` and `state`.
pub fn issue_code(
    tx: &Conn<'_>,
    integration: &Integration,
    user_id: &str,
    a: &Approved,
) -> crate::db::sql::Result<String> {
    let code = new_token("ac");
    let now = clock::now();
    codes::insert_auth_code(
        tx,
        &NewAuthCode {
            hash: &token_key(&code),
            integration_id: &integration.id,
            user_id,
            redirect_uri: &a.redirect_uri,
            scope: &a.scope,
            code_challenge: a.code_challenge.as_deref(),
            now,
            expires_at: now + AUTH_CODE_TTL,
        },
    )?;
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = a.state.as_deref() {
        params.push(("state", s));
    }
    Ok(with_query(&a.redirect_uri, &params))
}

/// True when `verifier` hashes (S256) to `challenge`.
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let ok_shape = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    ok_shape && crate::auth::secrets::constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

/// A new link code, as shown to the person (`ABCD-EFGH`), 40 random bits.
pub fn new_link_code() -> String {
    let mut bytes = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let chars: String = bytes
        .iter()
        .map(|b| ALPHABET[(b & 31) as usize] as char)
        .collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// A typed link code in canonical form: upper case, no separators, I/L read as 1, O as 0.
pub fn normalize_link_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            other => other,
        })
        .collect();
    (code.len() == 8 && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_codes_are_short_and_forgiving() {
        let code = new_link_code();
        assert_eq!(code.len(), 9);
        let canonical = normalize_link_code(&code).unwrap();
        assert_eq!(
            normalize_link_code(&code.to_lowercase()),
            Some(canonical.clone())
        );
        assert_eq!(normalize_link_code(&canonical), Some(canonical));
        assert_eq!(normalize_link_code("ABCD-EFGO"), Some("ABCDEFG0".into()));
        assert_eq!(normalize_link_code("ABCD-EFG"), None);
        assert_eq!(normalize_link_code("ABCD-EFGU"), None);
    }

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(challenge, verifier));
        assert!(!pkce_matches(
            challenge,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx"
        ));
    }

    #[test]
    fn scopes_are_bounded_by_registration() {
        assert_eq!(
            granted_scope("profile:read events:read", None).unwrap(),
            "profile:read events:read"
        );
        assert_eq!(
            granted_scope("profile:read events:read", Some("events:read")).unwrap(),
            "events:read"
        );
        assert!(granted_scope("profile:read", Some("events:write")).is_err());
        assert!(granted_scope("profile:read", Some("users:create")).is_err());
    }

    #[test]
    fn redirect_query_is_encoded() {
        assert_eq!(
            with_query("https://a/cb", &[("code", "x"), ("state", "a b&c")]),
            "https://a/cb?code=x&state=a%20b%26c"
        );
        assert_eq!(
            with_query("https://a/cb?x=1", &[("code", "y")]),
            "https://a/cb?x=1&code=y"
        );
    }
}
