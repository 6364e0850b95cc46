#![allow(dead_code)] // shared by several test binaries; each uses a part
//! Running the real `set-server` binary: one-shot commands, and a server on a free port
//! that is polled until healthy and sent SIGTERM when dropped.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_set-server");

/// A command for the binary, run in `dir` with no `SET_*` variables inherited.
/// `SET_TEST_BINARY` names another build to run instead (e.g. `target/release/set-server`
/// for figures measured on optimised code).
pub fn command(dir: &Path) -> Command {
    let bin = std::env::var("SET_TEST_BINARY").unwrap_or_else(|_| BIN.to_owned());
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("SET_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Runs `set-server <args>` in `dir` and returns its output.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    command(dir).args(args).output().expect("set-server runs")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A server process; SIGTERM on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Server {
    /// Starts `set-server` in `dir` with `SET_SERVER__PORT` set to a free port and the
    /// extra environment `env`, and waits until `/healthz` answers.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        Server::start_on(dir, free_port(), env)
    }

    /// Starts on a given port (a restart keeps its port, so its public URL, the token
    /// issuer, stays the same).
    pub fn start_on(dir: &Path, port: u16, env: &[(&str, &str)]) -> Server {
        Server::launch(dir, port, env, Stdio::null())
    }

    /// Starts with the server's log (stderr) written to `log`.
    pub fn start_logging(dir: &Path, env: &[(&str, &str)], log: &Path) -> Server {
        let file = std::fs::File::create(log).expect("log file");
        Server::launch(dir, free_port(), env, Stdio::from(file))
    }

    fn launch(dir: &Path, port: u16, env: &[(&str, &str)], stderr: Stdio) -> Server {
        let mut cmd = command(dir);
        cmd.env("SET_SERVER__PORT", port.to_string())
            .env("SET_SERVER__PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(stderr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("server starts");
        let mut server = Server { child, port };
        server.wait_healthy();
        server
    }

    /// The server's process id, to signal it.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::blocking::Client::new();
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("set-server exited early with {status}");
            }
            if let Ok(res) = client.get(self.url("/healthz")).send() {
                if res.status().is_success() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("set-server did not become healthy in 30 s");
    }

    /// Sends SIGTERM and waits (up to 15 s) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        signal(self.child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("set-server ignored SIGTERM for 15 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Sends a signal by name (TERM, KILL, INT) through kill(1): the crate forbids unsafe code.
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status();
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            signal(self.child.id(), "TERM");
            let _ = self.child.wait();
        }
    }
}
