//! Outgoing email: messages are queued in the database ([`crate::db::email_queue`]) in
//! the transaction that causes them, and a background worker delivers them through the
//! configured transport (SMTP, or `.eml` files in the outbox folder) with retry and
//! backoff. Nothing is ever sent on a request's path.
//!
//! A route queues and wakes the worker:
//!
//! ```text
//! db.write(move |tx| {
//!     // … insert the verification token …
//!     email_queue::enqueue(tx, &templates::verification(&link, ttl).addressed_to(addr))?;
//!     Ok(())
//! })
//! .await?;
//! mailer.wake();
//! ```

pub mod templates;
mod transport;
mod worker;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::tokio::sync::Notify;
use rocket::tokio::task::JoinHandle;
use rocket::{Build, Orbit, Rocket};

use crate::config::Config;
use crate::db::Db;

pub use crate::db::email_queue::enqueue;

/// One message: a plain-text and an HTML rendering of the same content.
///
/// `Debug` leaves the bodies out: they carry single-use tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Email {
    /// The same message for `to` (templates leave the recipient empty).
    pub fn addressed_to(mut self, to: impl Into<String>) -> Email {
        self.to = to.into();
        self
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Email")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .field("html", &format_args!("<{} bytes>", self.html.len()))
            .finish()
    }
}

/// How the delivery worker paces itself. The defaults suit production; tests override
/// them by managing a value of this type on the Rocket before it launches.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How often the queue is looked at when nobody called [`Mailer::wake`].
    pub poll_interval: Duration,
    /// The wait after the first failed attempt; it doubles with every further failure…
    pub first_retry: Duration,
    /// …up to this.
    pub max_retry: Duration,
    /// A message still failing this long after it was queued is given up (the row stays,
    /// with its last error).
    pub give_up_after: Duration,
    /// Sent and given-up rows are deleted this long after they were queued.
    pub keep_finished: Duration,
    /// At most this many messages are read from the queue at once.
    pub batch: usize,
    /// How long shutdown waits for a delivery in progress before abandoning it (the
    /// message stays queued and goes out after the next start).
    pub shutdown_grace: Duration,
    /// Bound on one SMTP conversation.
    pub smtp_timeout: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            poll_interval: Duration::from_secs(1),
            first_retry: Duration::from_secs(5),
            max_retry: Duration::from_secs(10 * 60),
            give_up_after: Duration::from_secs(24 * 3600),
            keep_finished: Duration::from_secs(30 * 86_400),
            batch: 20,
            shutdown_grace: Duration::from_secs(5),
            smtp_timeout: Duration::from_secs(30),
        }
    }
}

/// The handle routes hold (as Rocket state) to nudge the delivery worker.
pub struct Mailer {
    notify: Arc<Notify>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Mailer {
    fn new() -> Mailer {
        Mailer {
            notify: Arc::new(Notify::new()),
            worker: Mutex::new(None),
        }
    }

    /// Tells the worker that something was queued, so it delivers now rather than at its
    /// next poll. Call it after the queuing transaction committed; a wake while the worker
    /// is busy is remembered.
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// The fairing [`crate::build`] attaches: manages the [`Mailer`], starts the worker at
/// liftoff and stops it at shutdown.
pub struct Delivery;

/// The fairing that runs the delivery worker for the Rocket's lifetime.
pub fn fairing() -> Delivery {
    Delivery
}

#[rocket::async_trait]
impl Fairing for Delivery {
    fn info(&self) -> Info {
        Info {
            name: "email delivery",
            kind: Kind::Ignite | Kind::Liftoff | Kind::Shutdown,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        if rocket.state::<Mailer>().is_some() {
            return Ok(rocket);
        }
        Ok(rocket.manage(Mailer::new()))
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        let (Some(mailer), Some(db), Some(config)) = (
            rocket.state::<Mailer>(),
            rocket.state::<Db>(),
            rocket.state::<Config>(),
        ) else {
            tracing::error!("email delivery is not running: the database or config is missing");
            return;
        };
        let settings = rocket
            .state::<WorkerSettings>()
            .cloned()
            .unwrap_or_default();
        let sender = transport::Sender::new(&config.email, &settings);
        let handle = rocket::tokio::spawn(worker::run(
            db.clone(),
            sender,
            settings,
            mailer.notify.clone(),
            rocket.shutdown(),
        ));
        let old = mailer
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(handle);
        if let Some(old) = old {
            old.abort();
        }
    }

    async fn on_shutdown(&self, rocket: &Rocket<Orbit>) {
        let Some(mailer) = rocket.state::<Mailer>() else {
            return;
        };
        let handle = mailer
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut handle) = handle else {
            return;
        };
        let grace = rocket.state::<WorkerSettings>().map_or_else(
            || WorkerSettings::default().shutdown_grace,
            |s| s.shutdown_grace,
        );
        if rocket::tokio::time::timeout(grace, &mut handle)
            .await
            .is_err()
        {
            handle.abort();
            tracing::warn!("email worker stopped mid-delivery; the message stays queued");
        }
    }
}
