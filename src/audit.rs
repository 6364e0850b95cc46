//! Recording security events: one call per event, inside the transaction that made it
//! happen, so an event is recorded exactly when its change is committed.

use crate::db::Conn;

use crate::auth::client_ip::ClientIp;
use crate::db::audit::{self, Entry};

/// The text stored for an address (None when unknown).
fn ip_text(ip: &ClientIp) -> Option<String> {
    ip.0.map(|a| a.to_string())
}

/// An event a developer caused, on their own activity.
pub fn by_developer(
    tx: &Conn<'_>,
    developer_id: &str,
    action: &str,
    target: Option<&str>,
    ip: &ClientIp,
) -> crate::db::sql::Result<()> {
    let actor = format!("developer:{developer_id}");
    let ip = ip_text(ip);
    audit::record(
        tx,
        Some(developer_id),
        &Entry {
            actor: &actor,
            action,
            target,
            ip: ip.as_deref(),
        },
    )
}

/// An event on a developer's account caused by someone not signed in (a failed login,
/// a password reset by emailed link).
pub fn on_account(
    tx: &Conn<'_>,
    developer_id: &str,
    action: &str,
    ip: &ClientIp,
) -> crate::db::sql::Result<()> {
    let ip = ip_text(ip);
    audit::record(
        tx,
        Some(developer_id),
        &Entry {
            actor: "anonymous",
            action,
            target: None,
            ip: ip.as_deref(),
        },
    )
}

/// An event of a client's user or integration, on the activity of the client's owner.
pub fn in_client(
    tx: &Conn<'_>,
    client_id: &str,
    actor: &str,
    action: &str,
    target: Option<&str>,
    ip: &ClientIp,
) -> crate::db::sql::Result<()> {
    let ip = ip_text(ip);
    audit::record_for_client(
        tx,
        client_id,
        &Entry {
            actor,
            action,
            target,
            ip: ip.as_deref(),
        },
    )
}

/// An event no developer's Activity shows (signing keys, deleted accounts, sign-ins to
/// unknown addresses), for operators.
pub fn by_server(
    tx: &Conn<'_>,
    actor: &str,
    action: &str,
    target: Option<&str>,
    ip: Option<&ClientIp>,
) -> crate::db::sql::Result<()> {
    let ip = ip.and_then(ip_text);
    audit::record(
        tx,
        None,
        &Entry {
            actor,
            action,
            target,
            ip: ip.as_deref(),
        },
    )
}
