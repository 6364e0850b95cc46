//! The real binary as a process: config loading, exit codes, migrate, serve and SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/process.rs"]
mod process;

use std::path::Path;

use process::{run, Server};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn check_config_prints_the_embedded_defaults_without_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["check-config"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let value: toml::Value = toml::from_str(&text).unwrap();
    assert_eq!(value["server"]["port"].as_integer(), Some(8080));
    assert_eq!(value["tokens"]["access_ttl"].as_str(), Some("15m"));
    assert_eq!(value["tokens"]["refresh_ttl"].as_str(), Some("30d"));
    assert_eq!(value["email"]["transport"].as_str(), Some("outbox"));
    assert_eq!(
        value["security"]["argon2_memory_kib"].as_integer(),
        Some(19456)
    );
}

#[test]
fn file_then_environment_override_defaults_and_secrets_are_masked() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "set.toml",
        "[server]\nport = 9100\n[email.smtp]\npassword = \"hunter2-secret\"\n",
    );
    let out = run(dir.path(), &["check-config"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let value: toml::Value = toml::from_str(&stdout(&out)).unwrap();
    assert_eq!(value["server"]["port"].as_integer(), Some(9100));
    assert_eq!(value["email"]["smtp"]["password"].as_str(), Some("***"));
    assert!(!stdout(&out).contains("hunter2"));

    let out = process::command(dir.path())
        .env("SET_SERVER__PORT", "9200")
        .env("SET_TOKENS__ACCESS_TTL", "5m")
        .arg("check-config")
        .output()
        .unwrap();
    let value: toml::Value = toml::from_str(&stdout(&out)).unwrap();
    assert_eq!(value["server"]["port"].as_integer(), Some(9200));
    assert_eq!(value["tokens"]["access_ttl"].as_str(), Some("5m"));

    write(dir.path(), "other.toml", "[server]\nport = 9300\n");
    let out = run(dir.path(), &["--config", "other.toml", "check-config"]);
    let value: toml::Value = toml::from_str(&stdout(&out)).unwrap();
    assert_eq!(value["server"]["port"].as_integer(), Some(9300));
}

/// Each kind of bad value stops the start with exit code 2 and one line naming the key.
#[test]
fn bad_config_exits_2_with_one_line_naming_the_key() {
    let cases: &[(&str, &str)] = &[
        (
            "[tokens]\naccess_ttl = \"abc\"\n",
            "bad.toml: tokens.access_ttl: expected a duration like \"15m\", got \"abc\"",
        ),
        ("[server]\nprot = 80\n", "bad.toml: server.prot: unknown key"),
        ("[nosuch]\nx = 1\n", "bad.toml: nosuch: unknown key"),
        (
            "[server]\nport = \"x\"\n",
            "bad.toml: server.port: expected u16, got string \"x\"",
        ),
        ("[server]\nport = 0\n", "bad.toml: server.port: must be between 1 and 65535, got 0"),
        (
            "[tokens]\nalgorithm = \"HS256\"\n",
            "bad.toml: tokens.algorithm: expected one of \"EdDSA\", \"ES256\", \"RS256\", got \"HS256\"",
        ),
        (
            "[security]\nlogin_rate = \"lots\"\n",
            "bad.toml: security.login_rate: expected a rate like \"10/min\", got \"lots\"",
        ),
        ("[server]\npublic_url = \"ftp://x\"\n", "bad.toml: server.public_url: expected"),
        ("[security]\nargon2_memory_kib = 1\n", "bad.toml: security.argon2_memory_kib: must be"),
        ("[server\n", "bad.toml: TOML parse error"),
    ];
    for (text, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "bad.toml", text);
        let out = run(dir.path(), &["--config", "bad.toml"]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "one line for {text}: {err}");
        assert!(err.starts_with(expected), "{text}: got {err}");
        assert!(
            !dir.path().join("data").exists(),
            "nothing created for {text}"
        );
    }
}

#[test]
fn bad_environment_value_names_the_variable_and_missing_file_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = process::command(dir.path())
        .env("SET_TOKENS__REFRESH_TTL", "forever")
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .starts_with("SET_TOKENS__REFRESH_TTL: tokens.refresh_ttl: expected a duration"),
        "{}",
        stderr(&out)
    );
    let out = run(dir.path(), &["--config", "missing.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).trim(), "missing.toml: no such file");
}

#[test]
fn help_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    for word in ["serve", "migrate", "check-config", "backup", "Examples:"] {
        assert!(help.contains(word), "{word} in {help}");
    }
    let out = run(dir.path(), &["--version"]);
    assert_eq!(
        stdout(&out).trim(),
        format!("set-server {}", env!("CARGO_PKG_VERSION"))
    );
}

/// A newcomer's first run: the binary on a temporary data directory answers `/healthz`,
/// and SIGTERM ends it with exit code 0.
#[test]
fn served_binary_answers_healthz_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let res = reqwest::blocking::get(server.url("/healthz")).unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<serde_json::Value>().unwrap()["status"], "ok");
    let status = server.terminate();
    assert_eq!(status.code(), Some(0));
    // A clean close checkpoints the WAL into the main file.
    let wal = dir.path().join("data/set.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);
}

#[test]
fn audit_prints_security_events_for_operators() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let http = reqwest::blocking::Client::new();
    let r = http
        .post(server.url("/api/portal/login"))
        .header("X-Requested-With", "set-portal")
        .json(&serde_json::json!({"email": "ghost@example.com", "password": "not the password"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(server.terminate().code(), Some(0));
    let out = run(dir.path(), &["keys", "rotate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(dir.path(), &["audit", "--since", "1h"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("login.failed") && text.contains("ip=127.0.0.1"),
        "{text}"
    );
    assert!(
        text.contains("key.rotated") && text.contains("cli"),
        "{text}"
    );
    assert!(!text.contains("not the password"));
    let out = run(dir.path(), &["audit", "--since", "soon"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--since"));
}
