//! Email template overrides on the real binary: files in `email.templates_dir` replace
//! the built-in wording in what lands in the outbox, and a broken one stops the start
//! with exit code 2 and one line naming the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/journey.rs"]
mod journey;
#[path = "support/process.rs"]
mod process;

use std::path::Path;

use journey::Journey;
use process::Server;

fn templates(dir: &Path, files: &[(&str, &str)]) -> String {
    let folder = dir.join("templates");
    std::fs::create_dir_all(&folder).unwrap();
    for (name, body) in files {
        std::fs::write(folder.join(name), body).unwrap();
    }
    folder.to_str().unwrap().to_owned()
}

fn outbox_messages(outbox: &Path) -> Vec<mail_parser::Message<'static>> {
    let mut files: Vec<_> = std::fs::read_dir(outbox)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let raw = std::fs::read(p).unwrap();
            mail_parser::MessageParser::default()
                .parse(&raw)
                .unwrap()
                .into_owned()
        })
        .collect()
}

#[test]
fn an_override_is_what_the_outbox_receives() {
    let dir = tempfile::tempdir().unwrap();
    let folder = templates(
        dir.path(),
        &[
            ("verification.subject", "Welcome aboard Acme Auth\n"),
            (
                "verification.txt",
                "Hello from the Acme team!\n\nConfirm your address: {{link}}\nThe link works for {{expires}}.\n",
            ),
            (
                "verification.html",
                "<p>Hello from the <b>Acme</b> team!</p><p><a href=\"{{ link }}\">Confirm</a> within {{expires}}.</p>",
            ),
        ],
    );
    let server = Server::start(dir.path(), &[("SET_EMAIL__TEMPLATES_DIR", &folder)]);
    let outbox = dir.path().join("data/outbox");
    // The journey verifies the address through the link in the custom text.
    let j = Journey::start(&server.url(""), &outbox, "brand@example.com");
    assert!(!j.client_token.is_empty());

    let messages = outbox_messages(&outbox);
    let m = messages.first().unwrap();
    assert_eq!(m.subject(), Some("Welcome aboard Acme Auth"));
    let text = m.body_text(0).unwrap();
    assert!(text.starts_with("Hello from the Acme team!"), "{text}");
    assert!(text.contains(&format!("{}/verify-email?token=", server.url(""))));
    assert!(text.contains("The link works for 24 hours."), "{text}");
    let html = m.body_html(0).unwrap();
    assert!(html.contains("<b>Acme</b> team!"), "{html}");
    assert!(html.contains("/verify-email?token="), "{html}");
    assert!(!text.contains("Thanks for signing up for Set"));

    // Emails without an override keep the built-in wording.
    let r = j
        .http
        .post(j.url("/api/portal/password/forgot"))
        .header("X-Requested-With", "set-portal")
        .json(&serde_json::json!({"email": "brand@example.com"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while outbox_messages(&outbox).len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no reset email");
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    let reset = outbox_messages(&outbox).pop().unwrap();
    assert_eq!(reset.subject(), Some("Reset your Set password"));
}

#[test]
fn a_broken_override_stops_the_start_with_exit_2_naming_the_file() {
    let cases = [
        (
            "verification.html",
            "<a href=\"{{lnk}}\">go</a>",
            "unknown placeholder {{lnk}}",
        ),
        ("password_reset.subject", "   \n", "the subject is empty"),
        (
            "signup_attempt.txt",
            "Expires in {{expires}}",
            "{{expires}}",
        ),
        ("verifcation.txt", "{{link}}", "not a template name"),
    ];
    for (name, body, problem) in cases {
        let dir = tempfile::tempdir().unwrap();
        let folder = templates(dir.path(), &[(name, body)]);
        for args in [&[][..], &["check-config"][..]] {
            let out = process::command(dir.path())
                .env("SET_EMAIL__TEMPLATES_DIR", &folder)
                .env("SET_SERVER__PORT", process::free_port().to_string())
                .args(args)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{name} {args:?}: {stderr}");
            let lines: Vec<&str> = stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{stderr}");
            assert!(
                lines[0].contains(&format!("templates/{name}")) && lines[0].contains(problem),
                "{name}: {stderr}"
            );
        }
        // Nothing started: no database was created.
        assert!(!dir.path().join("data/set.db").exists());
    }
}

#[test]
fn an_unreadable_templates_folder_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = process::command(dir.path())
        .env("SET_EMAIL__TEMPLATES_DIR", dir.path().join("nope"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nope") && stderr.contains("cannot read"),
        "{stderr}"
    );
}
