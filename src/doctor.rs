//! `set-server doctor --url URL --client-id ID --client-secret SECRET`: checks a deployment
//! the way an SDK uses it, one line per step, each ✓ or ✗ (with a hint), and succeeds only
//! when every step passed.
//!
//! Steps: reachability, TLS (certificate expiry and chain for https; a note for plain http
//! on loopback), RFC 8414 metadata, JWKS, clock skew from the `Date` header, client
//! registration, user creation, the user's token verified here against the JWKS, refresh,
//! revocation (a revoked access token must be refused at once); the test user is deleted
//! at the end. A step that later steps depend on stops the run when it fails.

use std::io::Write;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// What to check, from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub url: String,
    pub client_id: String,
    pub client_secret: String,
    /// A PEM certificate to trust besides the public roots (a private CA).
    pub ca_cert: Option<std::path::PathBuf>,
}

/// A certificate expiring sooner than this fails the TLS step.
const RENEW_WITHIN_DAYS: i64 = 14;
/// More clock difference than this makes SDKs refuse fresh tokens (the server itself
/// allows 30 s on `nbf` and `exp`).
const MAX_SKEW_SECS: i64 = 30;
const TIMEOUT: Duration = Duration::from_secs(15);

/// Why a step failed, and what to do about it.
#[derive(Debug)]
pub struct Failure {
    detail: String,
    hint: String,
}

fn fail(detail: impl Into<String>, hint: impl Into<String>) -> Failure {
    Failure {
        detail: detail.into(),
        hint: hint.into(),
    }
}

type Step = Result<String, Failure>;

/// A step: its name, what it does, and whether later steps can still run after it fails.
type Check = (&'static str, fn(&mut Doctor) -> Step, bool);

/// What the steps learn and hand on.
struct Doctor {
    opts: Options,
    base: String,
    http: Client,
    /// The `Date` header of the first answer, against this machine's clock then.
    skew: Option<i64>,
    peer_certificate: Option<Vec<u8>>,
    issuer: String,
    jwks_uri: String,
    keys: Vec<Jwk>,
    client_token: String,
    user_id: String,
    access: String,
    refresh: String,
    refreshed_access: String,
}

/// Runs every step, printing a line each to `out`; true when all passed.
pub fn run(opts: &Options, out: &mut impl Write) -> bool {
    let base = opts.url.trim_end_matches('/').to_owned();
    let http = match client(opts) {
        Ok(h) => h,
        Err(e) => {
            let _ = writeln!(out, "✗ setup: {e}");
            return false;
        }
    };
    let mut d = Doctor {
        opts: opts.clone(),
        base,
        http,
        skew: None,
        peer_certificate: None,
        issuer: String::new(),
        jwks_uri: String::new(),
        keys: Vec::new(),
        client_token: String::new(),
        user_id: String::new(),
        access: String::new(),
        refresh: String::new(),
        refreshed_access: String::new(),
    };
    let steps: [Check; 11] = [
        ("reachable", Doctor::reachable, false),
        ("TLS", Doctor::tls, true),
        ("metadata", Doctor::metadata, false),
        ("JWKS", Doctor::jwks, false),
        ("clock", Doctor::clock, true),
        ("client registration", Doctor::register, false),
        ("user creation", Doctor::create_user, false),
        ("token verified locally", Doctor::verify_token, true),
        ("refresh", Doctor::refresh, false),
        ("revocation", Doctor::revocation, true),
        ("cleanup", Doctor::cleanup, true),
    ];
    let mut all_passed = true;
    let mut stopped = false;
    for (name, step, can_continue) in steps {
        if stopped {
            let _ = writeln!(out, "– {name}: skipped");
            continue;
        }
        match step(&mut d) {
            Ok(detail) => {
                let _ = writeln!(out, "✓ {name}: {detail}");
            }
            Err(f) => {
                all_passed = false;
                stopped = !can_continue;
                let _ = writeln!(out, "✗ {name}: {}. Hint: {}", f.detail, f.hint);
            }
        }
    }
    let _ = out.flush();
    all_passed
}

/// The HTTP client: no redirects followed, the peer certificate kept for the TLS step.
fn client(opts: &Options) -> Result<Client, String> {
    let mut builder = Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .tls_info(true)
        .user_agent(concat!("set-server-doctor/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &opts.ca_cert {
        let pem = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("{} is not a PEM certificate: {e}", path.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|e| format!("cannot create an HTTP client: {e}"))
}

impl Doctor {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn is_https(&self) -> bool {
        self.base.starts_with("https://")
    }

    fn host(&self) -> &str {
        let rest = self
            .base
            .split_once("://")
            .map_or(self.base.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or_default();
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        host
    }

    fn reachable(&mut self) -> Step {
        if !self.base.starts_with("http://") && !self.is_https() {
            return Err(fail(
                format!("{} is not an http:// or https:// URL", self.base),
                "give the URL apps use, like https://auth.example.com",
            ));
        }
        let started = Instant::now();
        let before = unix_now();
        let res = self
            .http
            .get(self.url("/healthz"))
            .send()
            .map_err(|e| unreachable(&self.base, &e))?;
        let after = unix_now();
        let elapsed = started.elapsed().as_millis();
        if let Some(date) = res.headers().get("date").and_then(|v| v.to_str().ok()) {
            if let Some(server) = parse_http_date(date) {
                self.skew = Some(server - (before + after) / 2);
            }
        }
        self.peer_certificate = res
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|t| t.peer_certificate())
            .map(<[u8]>::to_vec);
        let status = res.status();
        if status.is_redirection() {
            let to = header(&res, "location");
            return Err(fail(
                format!("GET /healthz redirects ({status}) to {to}"),
                "give doctor (and your apps) the URL the server answers on, without redirects",
            ));
        }
        if status != StatusCode::OK {
            return Err(fail(
                format!("GET /healthz answered {status}"),
                "is this a Set Server? A proxy in front of it may be failing",
            ));
        }
        Ok(format!("GET /healthz answered 200 in {elapsed} ms"))
    }

    fn tls(&mut self) -> Step {
        let host = self.host().to_owned();
        if !self.is_https() {
            let loopback =
                host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if loopback {
                return Ok(format!(
                    "plain http on {host} (loopback: fine for local development)"
                ));
            }
            return Err(fail(
                format!("plain http to {host}: apps would send client secrets and tokens unencrypted"),
                "serve https (server.tls in set.toml, or a TLS-terminating proxy) and use the https URL",
            ));
        }
        let der = self.peer_certificate.as_deref().ok_or_else(|| {
            fail(
                "the server's certificate could not be read",
                "check the TLS setup with: openssl s_client -connect HOST:443",
            )
        })?;
        let not_after = certificate_expiry(der).map_err(|e| {
            fail(
                format!("the server's certificate could not be parsed: {e}"),
                "check the TLS setup with: openssl s_client -connect HOST:443",
            )
        })?;
        expiry_verdict(not_after, unix_now(), &host)
    }

    fn metadata(&mut self) -> Step {
        let path = "/.well-known/oauth-authorization-server";
        let body = self.get_json(path, "is the URL the server's root (not a path below it)?")?;
        let field = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
        self.issuer = field("issuer");
        self.jwks_uri = field("jwks_uri");
        if self.issuer.is_empty() || self.jwks_uri.is_empty() || field("token_endpoint").is_empty()
        {
            return Err(fail(
                format!("{path} lacks issuer, jwks_uri or token_endpoint"),
                "is this a Set Server? A proxy may be rewriting the answer",
            ));
        }
        if self.issuer.trim_end_matches('/') != self.base {
            return Err(fail(
                format!("the issuer is {}, but the server was reached at {}", self.issuer, self.base),
                format!(
                    "tokens name {} as issuer and audience, so apps using {} refuse them: set server.public_url to the URL apps use",
                    self.issuer, self.base
                ),
            ));
        }
        Ok(format!("issuer {}", self.issuer))
    }

    fn jwks(&mut self) -> Step {
        let uri = self.jwks_uri.clone();
        let body = self.get_json_url(&uri, "jwks_uri in the metadata must be reachable by apps")?;
        let keys: Vec<Jwk> = serde_json::from_value(body["keys"].clone()).map_err(|e| {
            fail(
                format!("{uri} is not a JWK set: {e}"),
                "is a proxy rewriting the answer?",
            )
        })?;
        if keys.is_empty() {
            return Err(fail(
                format!("{uri} publishes no keys"),
                "the server has no signing key; run set-server keys rotate",
            ));
        }
        let algs: Vec<String> = keys
            .iter()
            .filter_map(|k| k.common.key_algorithm.map(|a| a.to_string()))
            .collect();
        self.keys = keys;
        Ok(format!("{} key(s): {}", self.keys.len(), algs.join(", ")))
    }

    fn clock(&mut self) -> Step {
        match self.skew {
            None => Err(fail(
                "the server's answers carry no Date header",
                "a proxy may be stripping it; apps cannot tell clock skew without it",
            )),
            Some(s) if s.abs() > MAX_SKEW_SECS => Err(fail(
                format!("the server's clock is {s:+} s off this machine's"),
                "tokens carry their issue and expiry times, so apps refuse fresh tokens: sync both clocks with NTP",
            )),
            Some(s) => Ok(format!("the server's clock is within {} s of this machine's", s.abs().max(1))),
        }
    }

    fn register(&mut self) -> Step {
        let res = self.send(
            self.http
                .post(self.url("/v1/client/register"))
                .basic_auth(&self.opts.client_id, Some(&self.opts.client_secret)),
        )?;
        let (status, body) = read(res);
        if status != StatusCode::OK {
            let hint = match body["error"].as_str().unwrap_or_default() {
                "invalid_client" => "copy the clientId and clientSecret from the client's page in the portal (rotating the secret replaces it at once)",
                "email_unverified" => "the developer who owns this client must click the link in the verification email (the portal can send it again)",
                "client_disabled" => "the client is disabled; see the client's page in the portal",
                _ => "see the server's log",
            };
            return Err(fail(
                answer("POST /v1/client/register", status, &body),
                hint,
            ));
        }
        self.client_token = body["access_token"].as_str().unwrap_or_default().to_owned();
        Ok(format!(
            "client token with scope {}",
            body["scope"].as_str().unwrap_or_default()
        ))
    }

    fn create_user(&mut self) -> Step {
        let res = self.send(
            self.http
                .post(self.url("/v1/users"))
                .bearer_auth(&self.client_token)
                .json(&json!({ "metadata": { "created_by": "set-server doctor" } })),
        )?;
        let (status, body) = read(res);
        if status != StatusCode::CREATED {
            return Err(fail(
                answer("POST /v1/users", status, &body),
                "see the server's log",
            ));
        }
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        self.user_id = text(&body["user"]["id"]);
        self.access = text(&body["access_token"]);
        self.refresh = text(&body["refresh_token"]);
        Ok(format!(
            "user {} with access and refresh tokens",
            self.user_id
        ))
    }

    fn verify_token(&mut self) -> Step {
        let claims = verify(&self.access, &self.keys, &self.issuer).map_err(|why| {
            fail(
                format!("the user's access token does not verify against the JWKS: {why}"),
                "a cache in front of jwks_uri may serve old keys, or server.public_url may differ between servers",
            )
        })?;
        let ok = claims["typ"] == "user"
            && claims["sub"] == self.user_id.as_str()
            && claims["cid"] == self.opts.client_id.as_str();
        if !ok {
            return Err(fail(
                format!("the token's claims are not this user's: {claims}"),
                "see the server's log",
            ));
        }
        Ok(format!(
            "{} signature, issuer, audience and expiry check out",
            claims["alg"].as_str().unwrap_or("its")
        ))
    }

    fn refresh(&mut self) -> Step {
        let res = self.send(self.http.post(self.url("/oauth/token")).form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", self.refresh.as_str()),
        ]))?;
        let (status, body) = read(res);
        let new_refresh = body["refresh_token"].as_str().unwrap_or_default();
        if status != StatusCode::OK || new_refresh.is_empty() || new_refresh == self.refresh {
            return Err(fail(
                answer("POST /oauth/token (refresh_token)", status, &body),
                "see the server's log",
            ));
        }
        self.refreshed_access = body["access_token"].as_str().unwrap_or_default().to_owned();
        Ok("new access and refresh tokens; the old refresh token is used up".into())
    }

    fn revocation(&mut self) -> Step {
        let res = self.send(
            self.http
                .post(self.url("/oauth/revoke"))
                .form(&[("token", self.access.as_str())]),
        )?;
        let (status, body) = read(res);
        if status != StatusCode::OK {
            return Err(fail(
                answer("POST /oauth/revoke", status, &body),
                "see the server's log",
            ));
        }
        let res = self.send(self.http.get(self.url("/v1/me")).bearer_auth(&self.access))?;
        let (status, body) = read(res);
        if status != StatusCode::UNAUTHORIZED {
            return Err(fail(
                format!(
                    "a revoked access token still works: {}",
                    answer("GET /v1/me", status, &body)
                ),
                "with several servers, they must share one database (revocations are read from it)",
            ));
        }
        Ok("a revoked access token is refused at once".into())
    }

    fn cleanup(&mut self) -> Step {
        let res = self.send(
            self.http
                .delete(self.url("/v1/me"))
                .bearer_auth(&self.refreshed_access),
        )?;
        let (status, body) = read(res);
        if status != StatusCode::NO_CONTENT {
            return Err(fail(
                answer("DELETE /v1/me", status, &body),
                format!("delete the test user {} in the portal", self.user_id),
            ));
        }
        Ok(format!("the test user {} was deleted", self.user_id))
    }

    fn send(&self, req: RequestBuilder) -> Result<Response, Failure> {
        req.send().map_err(|e| unreachable(&self.base, &e))
    }

    fn get_json(&self, path: &str, hint: &str) -> Result<Value, Failure> {
        self.get_json_url(&self.url(path), hint)
    }

    fn get_json_url(&self, url: &str, hint: &str) -> Result<Value, Failure> {
        let (status, body) = read(self.send(self.http.get(url))?);
        if status != StatusCode::OK || !body.is_object() {
            return Err(fail(answer(&format!("GET {url}"), status, &body), hint));
        }
        Ok(body)
    }
}

fn header(res: &Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Status and JSON body (or Null).
fn read(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let body = res.json().unwrap_or(Value::Null);
    (status, body)
}

/// "POST /v1/users answered 403 email_unverified (text)".
fn answer(what: &str, status: StatusCode, body: &Value) -> String {
    match (body["error"].as_str(), body["error_description"].as_str()) {
        (Some(code), Some(text)) => format!("{what} answered {} {code} ({text})", status.as_u16()),
        (Some(code), None) => format!("{what} answered {} {code}", status.as_u16()),
        _ => format!("{what} answered {status}"),
    }
}

/// A transport failure, with its root cause and a hint.
fn unreachable(base: &str, e: &reqwest::Error) -> Failure {
    let mut causes = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    let root = causes.last().cloned().unwrap_or_default();
    let chain = causes.join(" ").to_lowercase();
    let cert = chain.contains("certificate");
    let hint = if cert && chain.contains("unknownissuer") {
        "the certificate chain does not lead to a trusted root: serve the full chain (leaf and intermediates), or pass --ca-cert for a private CA"
    } else if cert && chain.contains("expired") {
        "the certificate has expired: renew it"
    } else if cert && chain.contains("notvalidforname") {
        "the certificate does not name this host: use the host name it was issued for"
    } else if cert && chain.contains("causedasendentity") {
        "the server presents a CA certificate as its own: serve a certificate issued for this host"
    } else if cert {
        "the TLS certificate was refused; check it with: openssl s_client -connect HOST:443"
    } else if e.is_timeout() {
        "no answer in time: is a firewall dropping the connection?"
    } else if chain.contains("dns") || chain.contains("resolve") {
        "the host name does not resolve: check the URL"
    } else {
        "is set-server running, and are the URL's scheme, host and port right?"
    };
    let what = if cert {
        "the TLS handshake failed with"
    } else {
        "cannot connect to"
    };
    fail(format!("{what} {base}: {root}"), hint)
}

/// Verifies `token` with the JWK its `kid` names; returns the claims plus `alg`.
fn verify(token: &str, keys: &[Jwk], issuer: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("the token has no kid")?;
    let jwk = keys
        .iter()
        .find(|k| k.common.key_id.as_deref() == Some(kid.as_str()))
        .ok_or_else(|| format!("no key {kid} in the JWKS"))?;
    let alg: Algorithm = jwk
        .common
        .key_algorithm
        .map(|a| a.to_string())
        .ok_or("the key has no alg")?
        .parse()
        .map_err(|e: jsonwebtoken::errors::Error| e.to_string())?;
    if header.alg != alg {
        return Err(format!("the token says {:?}, its key {alg:?}", header.alg));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = MAX_SKEW_SECS as u64;
    let data =
        jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| e.to_string())?;
    let mut claims = data.claims;
    claims["alg"] = json!(format!("{alg:?}"));
    Ok(claims)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// An HTTP date (`Fri, 04 Dec 2026 16:24:56 GMT`, RFC 9110's preferred form) as unix seconds.
fn parse_http_date(s: &str) -> Option<i64> {
    let format = time::format_description::parse_borrowed::<2>(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
    )
    .ok()?;
    time::PrimitiveDateTime::parse(s.trim(), &format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// The `notAfter` of a DER certificate, as unix seconds.
fn certificate_expiry(der: &[u8]) -> Result<i64, String> {
    use x509_cert::der::Decode;
    let cert = x509_cert::Certificate::from_der(der).map_err(|e| e.to_string())?;
    let not_after = cert.tbs_certificate.validity.not_after.to_unix_duration();
    Ok(not_after.as_secs() as i64)
}

/// The TLS step's verdict for a certificate (whose chain rustls has already verified)
/// that expires at `not_after`.
fn expiry_verdict(not_after: i64, now: i64, host: &str) -> Step {
    let days = (not_after - now).div_euclid(86_400);
    let date = crate::clock::rfc3339(not_after);
    if days < RENEW_WITHIN_DAYS {
        return Err(fail(
            format!("the certificate for {host} expires on {date}, in {days} day(s)"),
            "renew it now (apps refuse an expired certificate outright)",
        ));
    }
    Ok(format!(
        "certificate for {host} valid until {date} ({days} days), chain verified"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed P-256 certificate (`openssl req -x509 -days 36500`), valid until
    /// 2126-11-10T16:45:48Z.
    const CERT_PEM: &str = "\
-----BEGIN CERTIFICATE-----
MIIBgjCCASmgAwIBAgIUbUDq8pDZyrvlT5ZeRB19pMtdF3gwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLZG9jdG9yLnRlc3QwIBcNMjYxMjA0MTY0NTQ4WhgPMjEyNjEx
MTAxNjQ1NDhaMBYxFDASBgNVBAMMC2RvY3Rvci50ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEBgAJnKFls0HBKSS7peyvS/jb09DoVJCPB/bLBBog+uRWi7JG
bKwUtPdYbhk2cyXMEetlFGAVgUmxJETmSKl6LaNTMFEwHQYDVR0OBBYEFBWTbFOt
Bvqg/gkyJOgBRFBZ2dpwMB8GA1UdIwQYMBaAFBWTbFOtBvqg/gkyJOgBRFBZ2dpw
MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgT12fLpZqC+tEGlUI
q/PhpfwFhkV4jQahKrfxwj8jh+cCIGwT6MvpVF8AgBjibeVIgQ6b4PQgV4IXb/vq
vbe5g8KT
-----END CERTIFICATE-----";

    #[test]
    fn reads_the_expiry_of_a_certificate() {
        use base64::Engine;
        let b64: String = CERT_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let not_after = certificate_expiry(&der).unwrap();
        assert_eq!(crate::clock::rfc3339(not_after), "2126-11-10T16:45:48Z");
        assert!(certificate_expiry(b"not a certificate").is_err());
    }

    #[test]
    fn a_certificate_expiring_soon_fails() {
        let now = 1_800_000_000;
        assert!(expiry_verdict(now + 90 * 86_400, now, "a.example").is_ok());
        let err = expiry_verdict(now + 3 * 86_400, now, "a.example").unwrap_err();
        assert!(err.detail.contains("in 3 day(s)"), "{}", err.detail);
        assert!(expiry_verdict(now - 86_400, now, "a.example").is_err());
    }

    #[test]
    fn parses_http_dates() {
        assert_eq!(
            parse_http_date("Fri, 04 Dec 2026 16:24:56 GMT"),
            Some(1_796_401_496)
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
