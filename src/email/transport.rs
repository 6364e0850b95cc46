//! The two ways a message leaves: SMTP through lettre's tokio transport, or one `.eml`
//! file per message in the outbox folder, written atomically.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rocket::tokio::task;

use super::WorkerSettings;
use crate::config::{self, SmtpTls, Transport as Kind};
use crate::db::email_queue::QueuedEmail;

/// Why one delivery attempt failed. The text goes to the log and to `last_error`, so it
/// never holds a body or a credential.
#[derive(Debug)]
pub(crate) struct SendError {
    pub message: String,
    /// Retrying cannot help (the recipient address is malformed).
    pub permanent: bool,
}

impl SendError {
    fn retry(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            permanent: false,
        }
    }

    fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            permanent: true,
        }
    }
}

enum Transport {
    Outbox(PathBuf),
    Smtp {
        smtp: AsyncSmtpTransport<Tokio1Executor>,
        describe: String,
    },
}

/// The configured sender address and transport. A setting that cannot work (an
/// unparsable `email.from`) is kept as its error, so every attempt fails with it and the
/// messages wait, queued, for a fixed config.
pub(crate) struct Sender {
    from: Result<Mailbox, String>,
    transport: Result<Transport, String>,
}

impl Sender {
    pub(crate) fn new(config: &config::Email, settings: &WorkerSettings) -> Sender {
        let from = config.from.parse::<Mailbox>().map_err(|e| {
            format!(
                "email.from \"{}\" is not a valid sender address: {e}",
                config.from
            )
        });
        let transport = match config.transport {
            Kind::Outbox => Ok(Transport::Outbox(config.outbox_dir.clone())),
            Kind::Smtp => smtp(&config.smtp, settings),
        };
        Sender { from, transport }
    }

    /// Where messages go, for the start-up log line.
    pub(crate) fn describe(&self) -> String {
        match &self.transport {
            Ok(Transport::Outbox(dir)) => format!("outbox {}", dir.display()),
            Ok(Transport::Smtp { describe, .. }) => describe.clone(),
            Err(e) => format!("nowhere: {e}"),
        }
    }

    /// The configuration problem that makes every attempt fail, if any.
    pub(crate) fn problem(&self) -> Option<&str> {
        match (&self.from, &self.transport) {
            (Err(e), _) | (_, Err(e)) => Some(e),
            _ => None,
        }
    }

    /// Makes one attempt at delivering `q`.
    pub(crate) async fn send(&self, q: &QueuedEmail) -> Result<(), SendError> {
        let from = self.from.as_ref().map_err(SendError::retry)?;
        let transport = self.transport.as_ref().map_err(SendError::retry)?;
        let message = build_message(from, q)?;
        match transport {
            Transport::Smtp { smtp, .. } => smtp
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| SendError::retry(format!("SMTP: {e}"))),
            Transport::Outbox(dir) => {
                let dir = dir.clone();
                let name = outbox_name(q);
                let bytes = message.formatted();
                task::spawn_blocking(move || write_atomically(&dir, &name, &bytes))
                    .await
                    .map_err(|e| SendError::retry(format!("outbox: {e}")))?
                    .map_err(|e| SendError::retry(format!("outbox: {e}")))
            }
        }
    }

    /// Removes temporary files a crash may have left in the outbox (never a finished
    /// `.eml`: those are renamed into place whole).
    pub(crate) async fn tidy(&self) {
        let Ok(Transport::Outbox(dir)) = &self.transport else {
            return;
        };
        let dir = dir.clone();
        let _ = task::spawn_blocking(move || remove_temporaries(&dir)).await;
    }
}

fn smtp(c: &config::Smtp, settings: &WorkerSettings) -> Result<Transport, String> {
    type Smtp = AsyncSmtpTransport<Tokio1Executor>;
    let (builder, mode) = match c.tls {
        SmtpTls::Starttls => (Smtp::starttls_relay(&c.host), "STARTTLS"),
        SmtpTls::Tls => (Smtp::relay(&c.host), "TLS"),
        SmtpTls::None => (Ok(Smtp::builder_dangerous(&c.host)), "no TLS"),
    };
    let builder = builder.map_err(|e| format!("email.smtp.host \"{}\": {e}", c.host))?;
    let mut builder = builder.port(c.port).timeout(Some(settings.smtp_timeout));
    let mut describe = format!("SMTP {}:{} ({mode}", c.host, c.port);
    if !c.username.is_empty() {
        builder = builder.credentials(Credentials::new(
            c.username.clone(),
            c.password.expose().to_owned(),
        ));
        describe.push_str(", authenticated");
    }
    describe.push(')');
    Ok(Transport::Smtp {
        smtp: builder.build(),
        describe,
    })
}

fn build_message(from: &Mailbox, q: &QueuedEmail) -> Result<Message, SendError> {
    let to = q
        .email
        .to
        .parse::<Mailbox>()
        .map_err(|_| SendError::permanent("the recipient address is not valid"))?;
    // Stable across retries, so a receiving server can drop a duplicate delivery.
    let message_id = format!("<{}.{}@{}>", q.created_at, q.id, from.email.domain());
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(q.email.subject.clone())
        .message_id(Some(message_id))
        .multipart(MultiPart::alternative_plain_html(
            q.email.text.clone(),
            q.email.html.clone(),
        ))
        .map_err(|e| SendError::permanent(format!("the message cannot be built: {e}")))
}

/// `20261204T153930.123Z-00000042-9f86d081.eml`: sorts by time; the queue id and a
/// random suffix keep it unique even across a recreated database.
fn outbox_name(q: &QueuedEmail) -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z-{:08}-{:08x}.eml",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond(),
        q.id.0,
        rand::random::<u32>()
    )
}

const TMP_SUFFIX: &str = ".tmp";

/// Writes `bytes` to `dir/name` so that a reader sees either nothing or the whole file:
/// a hidden temporary file, flushed to disk, then renamed into place, then the folder
/// flushed so the rename survives a power loss. The folder is created (0700) if missing.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let tmp = dir.join(format!(".{name}{TMP_SUFFIX}"));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, dir.join(name))?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn remove_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(TMP_SUFFIX) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_creates_a_private_folder_and_leaves_no_temporary() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let outbox = dir.path().join("a/outbox");
        write_atomically(&outbox, "one.eml", b"hello").unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<_> = fs::read_dir(&outbox)
            .unwrap_or_else(|e| panic!("{e}"))
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["one.eml".to_owned()]);
        let mode = fs::metadata(&outbox).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o700));
        assert_eq!(
            fs::read(outbox.join("one.eml")).ok(),
            Some(b"hello".to_vec())
        );

        fs::write(outbox.join(".two.eml.tmp"), b"half").unwrap_or_else(|e| panic!("{e}"));
        remove_temporaries(&outbox);
        assert!(!outbox.join(".two.eml.tmp").exists());
        assert!(outbox.join("one.eml").exists());
    }
}
