#![allow(dead_code)] // shared by several test binaries; each uses a part
//! A small SMTP server for tests: it listens on 127.0.0.1, speaks enough ESMTP for lettre
//! without TLS (EHLO/HELO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA with dot-unstuffing, RSET,
//! NOOP, QUIT) and keeps every message it accepts.
//!
//! ```text
//! #[path = "support/smtp_sink.rs"]
//! mod smtp_sink;
//! let port = smtp_sink::free_port();     // nothing listens there: "SMTP is down"
//! // … configure the server with port, queue a message …
//! let sink = smtp_sink::SmtpSink::start_on(port); // "SMTP is back"
//! let mail = sink.wait_for(1, Duration::from_secs(10)).await;
//! ```

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use base64::Engine;

/// One accepted message, as the client sent it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope sender (`MAIL FROM`), without the angle brackets.
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`), without the angle brackets.
    pub rcpt_to: Vec<String>,
    /// The user name and password of `AUTH`, when the client authenticated.
    pub auth: Option<(String, String)>,
    /// The message (headers and body) after dot-unstuffing, lines ending in CRLF.
    pub data: Vec<u8>,
}

impl Received {
    /// The message parsed as MIME.
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.data)
            .expect("the sink received a parsable message")
    }
}

/// A running sink; it stops (and drops its open connections) when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    inbox: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

/// A port on 127.0.0.1 that nothing listens on (it was free a moment ago).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl SmtpSink {
    /// Starts a sink on a free port.
    pub fn start() -> SmtpSink {
        Self::start_on(0)
    }

    /// Starts a sink on `port` (0 for any free one).
    pub fn start_on(port: u16) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("the sink binds");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("sink address");
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let (inbox, stop, open) = (inbox.clone(), stop.clone(), open.clone());
            thread::spawn(move || accept(listener, inbox, stop, open))
        };
        SmtpSink {
            addr,
            inbox,
            stop,
            open,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every message accepted so far, in arrival order.
    pub fn messages(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }

    /// Waits (without blocking the async runtime) until at least `n` messages arrived;
    /// panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < timeout,
                "expected {n} message(s) within {timeout:?}, got {}",
                got.len()
            );
            rocket::tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// [`SmtpSink::wait_for`] for synchronous tests.
    pub fn wait_for_blocking(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < timeout,
                "expected {n} message(s) within {timeout:?}, got {}",
                got.len()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for conn in self.open.lock().unwrap().drain(..) {
            let _ = conn.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn accept(
    listener: TcpListener,
    inbox: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).expect("blocking stream");
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .expect("read timeout");
                if let Ok(clone) = stream.try_clone() {
                    open.lock().unwrap().push(clone);
                }
                let inbox = inbox.clone();
                thread::spawn(move || {
                    let _ = Session::new(inbox).serve(stream);
                });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// The state of one SMTP conversation.
struct Session {
    inbox: Arc<Mutex<Vec<Received>>>,
    auth: Option<(String, String)>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

impl Session {
    fn new(inbox: Arc<Mutex<Vec<Received>>>) -> Session {
        Session {
            inbox,
            auth: None,
            mail_from: None,
            rcpt_to: Vec::new(),
        }
    }

    fn serve(mut self, stream: TcpStream) -> std::io::Result<()> {
        let mut out = stream.try_clone()?;
        let mut lines = BufReader::new(stream);
        out.write_all(b"220 sink.test ESMTP test sink\r\n")?;
        while let Some(line) = read_line(&mut lines)? {
            let (verb, arg) = match line.split_once(' ') {
                Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_owned()),
                None => (line.trim().to_ascii_uppercase(), String::new()),
            };
            let reply: String = match verb.as_str() {
                "EHLO" => "250-sink.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
                           250-AUTH PLAIN LOGIN\r\n250 SIZE 10485760"
                    .into(),
                "HELO" => "250 sink.test".into(),
                "AUTH" => self.auth(&arg, &mut lines, &mut out)?,
                "MAIL" => match address(&arg, "FROM:") {
                    Some(a) => {
                        self.reset();
                        self.mail_from = Some(a);
                        "250 2.1.0 OK".into()
                    }
                    None => "501 5.5.4 syntax: MAIL FROM:<address>".into(),
                },
                "RCPT" => match (&self.mail_from, address(&arg, "TO:")) {
                    (None, _) => "503 5.5.1 MAIL first".into(),
                    (Some(_), Some(a)) => {
                        self.rcpt_to.push(a);
                        "250 2.1.5 OK".into()
                    }
                    (Some(_), None) => "501 5.5.4 syntax: RCPT TO:<address>".into(),
                },
                "DATA" if self.rcpt_to.is_empty() => "503 5.5.1 RCPT first".into(),
                "DATA" => {
                    out.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")?;
                    let data = read_data(&mut lines)?;
                    self.inbox.lock().unwrap().push(Received {
                        mail_from: self.mail_from.take().unwrap_or_default(),
                        rcpt_to: std::mem::take(&mut self.rcpt_to),
                        auth: self.auth.clone(),
                        data,
                    });
                    "250 2.0.0 OK queued".into()
                }
                "RSET" => {
                    self.reset();
                    "250 2.0.0 OK".into()
                }
                "NOOP" => "250 2.0.0 OK".into(),
                "QUIT" => {
                    out.write_all(b"221 2.0.0 bye\r\n")?;
                    return Ok(());
                }
                _ => "502 5.5.2 command not implemented".into(),
            };
            out.write_all(reply.as_bytes())?;
            out.write_all(b"\r\n")?;
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
    }

    /// `AUTH PLAIN [initial]` or `AUTH LOGIN`; accepts any credentials and records them.
    fn auth(
        &mut self,
        arg: &str,
        lines: &mut BufReader<TcpStream>,
        out: &mut TcpStream,
    ) -> std::io::Result<String> {
        let mut ask = |prompt: &str| -> std::io::Result<String> {
            out.write_all(format!("334 {prompt}\r\n").as_bytes())?;
            Ok(read_line(lines)?.unwrap_or_default())
        };
        let (mechanism, initial) = match arg.split_once(' ') {
            Some((m, i)) => (m.to_ascii_uppercase(), Some(i.to_owned())),
            None => (arg.to_ascii_uppercase(), None),
        };
        let creds = match mechanism.as_str() {
            "PLAIN" => {
                let payload = match initial {
                    Some(i) => i,
                    None => ask("")?,
                };
                let raw = decode(&payload);
                let mut parts = raw.split('\0').skip(1);
                match (parts.next(), parts.next()) {
                    (Some(u), Some(p)) => Some((u.to_owned(), p.to_owned())),
                    _ => None,
                }
            }
            "LOGIN" => {
                let user = match initial {
                    Some(i) => decode(&i),
                    None => decode(&ask("VXNlcm5hbWU6")?),
                };
                let password = decode(&ask("UGFzc3dvcmQ6")?);
                Some((user, password))
            }
            _ => return Ok("504 5.5.4 unrecognized authentication type".into()),
        };
        Ok(match creds {
            Some(c) => {
                self.auth = Some(c);
                "235 2.7.0 authentication successful".into()
            }
            None => "501 5.5.2 cannot decode the credentials".into(),
        })
    }
}

/// One command line without its line ending; `None` at the end of the stream.
fn read_line(lines: &mut BufReader<TcpStream>) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    if lines.read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    let s = String::from_utf8_lossy(&buf);
    Ok(Some(s.trim_end_matches(['\r', '\n']).to_owned()))
}

/// The lines after `DATA` up to the lone dot, with one leading dot removed from each
/// line that has one (RFC 5321 §4.5.2).
fn read_data(lines: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    loop {
        let mut line = Vec::new();
        if lines.read_until(b'\n', &mut line)? == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(unstuffed);
    }
}

fn address(arg: &str, prefix: &str) -> Option<String> {
    let rest = arg
        .get(..prefix.len())?
        .eq_ignore_ascii_case(prefix)
        .then(|| &arg[prefix.len()..])?;
    let start = rest.find('<')?;
    let end = rest[start..].find('>')? + start;
    Some(rest[start + 1..end].to_owned())
}

fn decode(b64: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}
