//! `ClientIp`: the address rate limits are keyed on.
//!
//! `X-Forwarded-For` is believed only when the peer is one of `security.trusted_proxies`
//! (anyone can send the header); then the right-most address that is not itself a
//! trusted proxy is the client. Rocket's own `X-Real-IP` handling is switched off.

use std::convert::Infallible;
use std::net::IpAddr;

use rocket::request::{FromRequest, Outcome, Request};

use crate::config::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    /// The rate-limit key for this address.
    pub fn key(&self) -> String {
        match self.0 {
            Some(ip) => format!("ip:{ip}"),
            None => "ip:unknown".to_owned(),
        }
    }
}

pub fn resolve(
    peer: Option<IpAddr>,
    forwarded: Option<&str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let Some(chain) = forwarded else {
        return Some(peer);
    };
    let mut client = peer;
    for hop in chain.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => client = ip,
            Ok(ip) => return Some(ip),
            Err(_) => break,
        }
    }
    Some(client)
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientIp {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let trusted = req
            .rocket()
            .state::<Config>()
            .map(|c| c.security.trusted_proxies.as_slice())
            .unwrap_or_default();
        let peer = req.remote().map(|a| a.ip());
        let forwarded = req.headers().get_one("X-Forwarded-For");
        Outcome::Success(ClientIp(resolve(peer, forwarded, trusted)))
    }
}

#[cfg(test)]
mod tests {
    use super::resolve;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = [ip("10.0.0.1"), ip("10.0.0.2")];
        let xff = Some("1.2.3.4, 5.6.7.8, 10.0.0.2");
        assert_eq!(
            resolve(Some(ip("9.9.9.9")), xff, &trusted),
            Some(ip("9.9.9.9"))
        );
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), xff, &trusted),
            Some(ip("5.6.7.8"))
        );
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), None, &trusted),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), Some("junk"), &trusted),
            Some(ip("10.0.0.1"))
        );
    }
}
