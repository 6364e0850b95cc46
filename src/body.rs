//! `Body<T>`: the JSON request body guard. Unlike Rocket's `Json`, it explains every
//! refusal in the JSON error shape: 413 over the limit, 415 for a non-JSON content type,
//! 400 `invalid_request` naming the field that is missing, mistyped or duplicated.

use rocket::data::{self, Data, FromData, ToByteUnit};
use rocket::http::ContentType;
use rocket::request::Request;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, GuardError};

/// The largest request body accepted anywhere, in bytes.
pub const LIMIT: u64 = 64 * 1024;

/// A JSON body, parsed into `T`.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T> Body<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Parses `bytes` as JSON into `T`, describing a failure as an API error.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "the request body is empty; send a JSON object",
        ));
    }
    // serde would also fill a struct from a JSON array (`[null, null]`); every body here
    // is an object, so anything else is refused before it gets that far.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        // serde's text ends with " at line 1 column 17"; keep it: it points at the problem.
        let what = match e.classify() {
            serde_json::error::Category::Data => "invalid body",
            _ => "malformed JSON",
        };
        ApiError::bad_request(format!("{what}: {text}"))
    })
}

#[rocket::async_trait]
impl<'r, T: DeserializeOwned> FromData<'r> for Body<T> {
    type Error = ApiError;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        match read(req, data).await {
            Ok(value) => data::Outcome::Success(Body(value)),
            Err(e) => data::Outcome::Error(GuardError::stash(req, e)),
        }
    }
}

/// A JSON body that may be absent: an empty body is `None`, anything else must parse.
#[derive(Debug)]
pub struct OptionalBody<T>(pub Option<T>);

#[rocket::async_trait]
impl<'r, T: DeserializeOwned> FromData<'r> for OptionalBody<T> {
    type Error = ApiError;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        let parsed = match read_bytes(req, data).await {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(None),
            Ok(bytes) => parse(&bytes).map(Some),
            Err(e) => Err(e),
        };
        match parsed {
            Ok(value) => data::Outcome::Success(OptionalBody(value)),
            Err(e) => data::Outcome::Error(GuardError::stash(req, e)),
        }
    }
}

async fn read<T: DeserializeOwned>(req: &Request<'_>, data: Data<'_>) -> Result<T, ApiError> {
    parse(&read_bytes(req, data).await?)
}

/// Reads the whole body (at most [`LIMIT`]) after checking the content type.
async fn read_bytes(req: &Request<'_>, data: Data<'_>) -> Result<Vec<u8>, ApiError> {
    if let Some(ct) = req.content_type() {
        if !ct.is_json() && *ct != ContentType::Plain {
            return Err(ApiError::UnsupportedMediaType(format!(
                "the body must be application/json, not {ct}"
            )));
        }
    }
    let bytes = data
        .open(LIMIT.bytes())
        .into_bytes()
        .await
        .map_err(ApiError::from)?;
    if !bytes.is_complete() {
        return Err(ApiError::TooLarge {
            limit_kib: LIMIT / 1024,
        });
    }
    Ok(bytes.into_inner())
}

#[cfg(test)]
mod tests {
    use super::parse;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Edit {
        #[serde(default)]
        name: Option<String>,
    }

    #[test]
    fn only_a_json_object_is_a_body() {
        assert!(parse::<Edit>(br#" {"name": "x"} "#).is_ok());
        for bad in [&b"[null, null]"[..], b"null", b"\"x\"", b"42", b" [] "] {
            let err = parse::<Edit>(bad).unwrap_err();
            assert_eq!(
                err.code(),
                "invalid_request",
                "{:?}",
                std::str::from_utf8(bad)
            );
        }
    }
}
