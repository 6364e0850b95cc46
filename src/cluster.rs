//! Keeping a node in step with the others that share its database.
//!
//! Tokens are checked from memory (revocations, live clients, signing keys), so what one
//! node changes must reach the memory of every other node. Each node re-reads the new
//! rows every [`POLL_EVERY`]; on PostgreSQL it also `LISTEN`s on
//! [`sql::CHANGES_CHANNEL`], on which every such change is announced at commit, and
//! catches up at once (about a millisecond between processes). The poll stays on as the
//! safety net: a notification lost with a dropped connection is made up by the next poll,
//! and after a reconnect the node catches up before listening again. A lone SQLite node
//! runs the same poll; it finds nothing new and costs two indexed reads.

use std::sync::Arc;
use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket::futures::{stream, StreamExt};
use rocket::tokio::sync::Notify;
use rocket::tokio::{self, time};

use crate::auth::keys::KeyRing;
use crate::auth::revocation::Revocations;
use crate::db::{sql, Db};

/// How often a node looks for changes made elsewhere, notification or not.
pub const POLL_EVERY: Duration = Duration::from_millis(500);

/// How long to wait before reconnecting a dropped `LISTEN` connection.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Applies every change made by other nodes since the last call.
pub async fn catch_up(db: &Db, revocations: &Revocations, keys: &KeyRing) {
    let r = revocations.clone();
    if let Err(e) = db.read(move |c| Ok(r.catch_up(c)?)).await {
        tracing::warn!("catching up with revocations: {e}");
    }
    if let Err(e) = keys.reload().await {
        tracing::warn!("reloading signing keys: {e}");
    }
}

/// The fairing that runs the catch-up loop (and, on PostgreSQL, the listener) from
/// liftoff until shutdown.
pub fn fairing(db: Db, revocations: Revocations, keys: KeyRing) -> AdHoc {
    AdHoc::on_liftoff("cluster sync", move |rocket| {
        let shutdown = rocket.shutdown();
        Box::pin(async move {
            let wake = Arc::new(Notify::new());
            if let Some(pg) = db.postgres() {
                let config = pg.config().clone();
                tokio::spawn(listen(config, wake.clone(), shutdown.clone()));
            }
            tokio::spawn(async move {
                let mut tick = time::interval(POLL_EVERY);
                tick.set_missed_tick_behavior(time::MissedTickBehavior::Delay);
                tokio::pin!(shutdown);
                loop {
                    tokio::select! {
                        _ = &mut shutdown => break,
                        _ = tick.tick() => {}
                        _ = wake.notified() => {}
                    }
                    catch_up(&db, &revocations, &keys).await;
                }
            });
        })
    })
}

/// Holds a `LISTEN` connection and wakes the catch-up loop on each notification, and once
/// after every (re)connect to cover what was missed while disconnected.
async fn listen(config: tokio_postgres::Config, wake: Arc<Notify>, shutdown: rocket::Shutdown) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            ended = listen_once(&config, &wake) => {
                if let Err(e) = ended {
                    tracing::warn!("listening for changes from other nodes: {e}; retrying");
                }
            }
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = time::sleep(RECONNECT_AFTER) => {}
        }
    }
}

async fn listen_once(
    config: &tokio_postgres::Config,
    wake: &Notify,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
    let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
    let statement = format!("LISTEN {}", sql::CHANGES_CHANNEL);
    let listen = client.batch_execute(&statement);
    // The connection must be driven while the LISTEN is in flight.
    tokio::pin!(listen);
    loop {
        tokio::select! {
            done = &mut listen => { done?; break; }
            msg = messages.next() => match msg {
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
                Some(Ok(_)) => {}
            }
        }
    }
    wake.notify_one();
    // `client` stays alive (and the session with it) until the connection ends.
    while let Some(msg) = messages.next().await {
        if let tokio_postgres::AsyncMessage::Notification(_) = msg? {
            wake.notify_one();
        }
    }
    Ok(())
}
