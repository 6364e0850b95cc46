//! The server under test: the release binary as a child process on a temporary data
//! directory, 127.0.0.1 and a free port; its CPU time and memory read from /proc.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Linux reports CPU time in /proc in clock ticks of 1/100 s (USER_HZ) on every platform
/// Rust supports.
const TICKS_PER_SEC: f64 = 100.0;

/// The release binary, built first when it is missing.
pub fn binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = root.join("target/release/set-server");
    if !bin.is_file() {
        eprintln!(
            "{} is missing: building it with `cargo build --release` first",
            bin.display()
        );
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "--bin", "set-server"])
            .current_dir(root)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --release failed");
    } else if let Some(newer) = newer_source(root, &bin) {
        eprintln!(
            "warning: {} is older than {}; run `cargo build --release` to measure the current code",
            bin.display(),
            newer.display()
        );
    }
    bin
}

/// A source file modified after the binary was built, if any.
fn newer_source(root: &Path, bin: &Path) -> Option<PathBuf> {
    let built = std::fs::metadata(bin).and_then(|m| m.modified()).ok()?;
    let mut stack = vec![root.join("src"), root.join("migrations")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|m| m > built)
            {
                return Some(path);
            }
        }
    }
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Where the server keeps its data.
pub enum Store {
    /// SQLite in `<data>/db/set.db`, with or without group commit.
    Sqlite { group_commit: bool },
    /// PostgreSQL at this URL (`database.url`; `database.path` left unset, as the config
    /// refuses both): the outbox stays in `<data>/db`, the master key is made in the
    /// default data directory, `<data>/data` (an explicit key file must already exist).
    Postgres { url: String },
}

/// A running `set-server`; SIGTERM on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    pub data: PathBuf,
}

impl Server {
    /// Starts the binary on the data directory `data` (created when absent) and waits for
    /// `/healthz`; returns the server and the time from spawn to the first 200.
    pub fn start(bin: &Path, data: &Path, store: &Store) -> (Server, Duration) {
        std::fs::create_dir_all(data).expect("data directory");
        let port = free_port();
        let log = std::fs::File::create(data.join("server.log")).expect("server log");
        let mut command = Command::new(bin);
        command
            .current_dir(data)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SET_SERVER__PORT", port.to_string())
            .env("SET_SERVER__PUBLIC_URL", format!("http://127.0.0.1:{port}"));
        match store {
            Store::Sqlite { group_commit } => command
                .env("SET_DATABASE__PATH", data.join("db/set.db"))
                .env("SET_DATABASE__GROUP_COMMIT", group_commit.to_string()),
            Store::Postgres { url } => command.env("SET_DATABASE__URL", url),
        };
        let started = Instant::now();
        let child = command
            .env("SET_EMAIL__OUTBOX_DIR", data.join("db/outbox"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("set-server starts");
        let mut server = Server {
            child,
            port,
            data: data.to_path_buf(),
        };
        let deadline = started + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "set-server exited with {status}; its log:\n{}",
                    std::fs::read_to_string(data.join("server.log")).unwrap_or_default()
                );
            }
            if healthy(port) {
                return (server, started.elapsed());
            }
            assert!(Instant::now() < deadline, "set-server not healthy in 30 s");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn outbox(&self) -> PathBuf {
        self.data.join("db/outbox")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User plus system CPU time so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // The command name may hold spaces; the fields after it are space-separated, and
        // utime and stime are the 14th and 15th fields of the whole line.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        (tick(11) + tick(12)) as f64 / TICKS_PER_SEC
    }

    /// A `VmRSS`/`VmHWM`-style line of /proc/<pid>/status, in KiB.
    pub fn memory_kib(&self, key: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// Resets the peak RSS (`VmHWM`) to the current RSS, so each scenario reports its own
    /// peak. Returns false where the kernel does not allow it.
    pub fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").is_ok()
    }

    /// SIGTERM, then waits for the exit.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.pid().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// One plain HTTP/1.1 request, without a client library: used while the server starts.
fn healthy(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}
