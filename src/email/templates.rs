//! The emails the server sends, each as plain text and as simple HTML with inline styles
//! (mail clients ignore style sheets). Every value is HTML-escaped. The recipient is left
//! empty: callers set it with [`Email::addressed_to`].
//!
//! [`Templates`] adds the overrides of `[email] templates_dir`: files named
//! `<template>.subject`, `<template>.txt` and `<template>.html` replace that part of the
//! built-in email, with `{{link}}` and `{{expires}}` filled in (HTML-escaped in the HTML
//! part). They are read and test-rendered once at start.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::Email;

/// "Verify your email": the link confirms the address of a new portal account.
pub fn verification(link: &str, valid_for: Duration) -> Email {
    Layout {
        subject: "Verify your email address for Set",
        heading: "Confirm your email address",
        intro: &[
            "Thanks for signing up for Set! Please confirm that this is your email address \
             to finish setting up your account. Until you do, your apps can't register \
             with Set.",
        ],
        action: Some(("Verify Email", link)),
        outro: &[&format!(
            "This link expires in {} and can be used once. If it has expired, sign in and \
             ask for a new one.",
            human(valid_for)
        )],
        footer: "If you didn't create a Set account, you can safely ignore this email.",
    }
    .render()
}

/// "Reset your password": the link leads to the page that sets a new password.
pub fn password_reset(link: &str, valid_for: Duration) -> Email {
    Layout {
        subject: "Reset your Set password",
        heading: "Reset your password",
        intro: &[
            "We received a request to reset the password of your Set account. Choose a new \
             one with the button below.",
        ],
        action: Some(("Reset Password", link)),
        outro: &[&format!(
            "This link expires in {} and can be used once. Resetting your password signs \
             you out on every other device.",
            human(valid_for)
        )],
        footer: "If you didn't ask for this, you can ignore this email: your password stays \
                 as it is.",
    }
    .render()
}

/// "Someone tried to sign up with your address": sent instead of a verification email
/// when the address already has an account, so sign-up never tells whether it had one.
pub fn signup_attempt(sign_in_link: &str) -> Email {
    Layout {
        subject: "Someone tried to sign up for Set with your email",
        heading: "You already have a Set account",
        intro: &[
            "Someone just tried to create a Set account with this email address. You \
             already have one, so no new account was created.",
            "If that was you, sign in instead. Forgot your password? Choose \"Forgot \
             password?\" on the sign-in page to reset it.",
        ],
        action: Some(("Sign In", sign_in_link)),
        outro: &[],
        footer: "If it wasn't you, there is nothing to do: your account is unchanged, and \
                 nobody can use it without your password.",
    }
    .render()
}

/// The emails that can be overridden, by file name stem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Verification,
    PasswordReset,
    SignupAttempt,
}

const KINDS: [(Kind, &str); 3] = [
    (Kind::Verification, "verification"),
    (Kind::PasswordReset, "password_reset"),
    (Kind::SignupAttempt, "signup_attempt"),
];

/// A part of an email, by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    Subject,
    Text,
    Html,
}

const PARTS: [(Part, &str); 3] = [
    (Part::Subject, "subject"),
    (Part::Text, "txt"),
    (Part::Html, "html"),
];

impl Kind {
    /// The placeholders this email fills in.
    fn placeholders(self) -> &'static [&'static str] {
        match self {
            Kind::Verification | Kind::PasswordReset => &["link", "expires"],
            Kind::SignupAttempt => &["link"],
        }
    }
}

/// Why an override cannot be used: names the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub file: PathBuf,
    pub problem: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.problem)
    }
}

impl std::error::Error for TemplateError {}

/// The emails, built-in or overridden by files; Rocket state, cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    overrides: Arc<HashMap<(Kind, Part), String>>,
}

impl Templates {
    /// Reads the overrides in `dir` (none when `dir` is empty) and renders each with
    /// sample values. Fails, naming the file, on an unreadable file, a file name that is
    /// no template's, an unknown placeholder, or an empty or multi-line subject.
    pub fn load(dir: &Path) -> Result<Templates, TemplateError> {
        if dir.as_os_str().is_empty() {
            return Ok(Templates::default());
        }
        let fail = |file: &Path, problem: String| TemplateError {
            file: file.to_path_buf(),
            problem,
        };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| fail(dir, format!("cannot read the templates folder: {e}")))?;
        let mut overrides = HashMap::new();
        for entry in entries {
            let path = entry
                .map_err(|e| fail(dir, format!("cannot read the templates folder: {e}")))?
                .path();
            let (Some(stem), Some(ext)) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|s| s.to_str()),
            ) else {
                continue;
            };
            let Some(part) = PARTS.iter().find(|(_, e)| *e == ext).map(|(p, _)| *p) else {
                continue;
            };
            let kind = KINDS
                .iter()
                .find(|(_, n)| *n == stem)
                .map(|(k, _)| *k)
                .ok_or_else(|| {
                    fail(
                        &path,
                        "not a template name; expected verification, password_reset or \
                         signup_attempt (.subject, .txt or .html)"
                            .into(),
                    )
                })?;
            let source = std::fs::read_to_string(&path)
                .map_err(|e| fail(&path, format!("cannot read it: {e}")))?;
            let source = check(kind, part, source).map_err(|p| fail(&path, p))?;
            overrides.insert((kind, part), source);
        }
        Ok(Templates {
            overrides: Arc::new(overrides),
        })
    }

    /// See [`verification`].
    pub fn verification(&self, link: &str, valid_for: Duration) -> Email {
        let expires = human(valid_for);
        self.apply(
            Kind::Verification,
            verification(link, valid_for),
            &[("link", link), ("expires", &expires)],
        )
    }

    /// See [`password_reset`].
    pub fn password_reset(&self, link: &str, valid_for: Duration) -> Email {
        let expires = human(valid_for);
        self.apply(
            Kind::PasswordReset,
            password_reset(link, valid_for),
            &[("link", link), ("expires", &expires)],
        )
    }

    /// See [`signup_attempt`].
    pub fn signup_attempt(&self, sign_in_link: &str) -> Email {
        self.apply(
            Kind::SignupAttempt,
            signup_attempt(sign_in_link),
            &[("link", sign_in_link)],
        )
    }

    fn apply(&self, kind: Kind, mut email: Email, values: &[(&str, &str)]) -> Email {
        let part = |p: Part, target: &mut String| {
            if let Some(source) = self.overrides.get(&(kind, p)) {
                // Checked at load with the same placeholders, so this cannot fail.
                match render(source, values, p == Part::Html) {
                    Ok(out) if p == Part::Subject => *target = out.trim().to_owned(),
                    Ok(out) => *target = out,
                    Err(e) => tracing::error!("email template {kind:?} {p:?}: {e}"),
                }
            }
        };
        part(Part::Subject, &mut email.subject);
        part(Part::Text, &mut email.text);
        part(Part::Html, &mut email.html);
        email
    }
}

/// Renders `source` with sample values; returns it (a subject trimmed) or the problem.
fn check(kind: Kind, part: Part, source: String) -> Result<String, String> {
    let samples: Vec<(&str, &str)> = kind
        .placeholders()
        .iter()
        .map(|name| (*name, "sample"))
        .collect();
    let rendered = render(&source, &samples, part == Part::Html)?;
    match part {
        Part::Subject if rendered.trim().is_empty() => Err("the subject is empty".into()),
        Part::Subject if rendered.trim().contains(['\n', '\r']) => {
            Err("the subject must be one line".into())
        }
        Part::Subject => Ok(source.trim().to_owned()),
        _ if rendered.trim().is_empty() => Err("the template is empty".into()),
        _ => Ok(source),
    }
}

/// Fills `{{name}}` placeholders with `values` (HTML-escaped when `html`).
fn render(source: &str, values: &[(&str, &str)], html: bool) -> Result<String, String> {
    let mut out = String::with_capacity(source.len() + 128);
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| "a \"{{\" is never closed with \"}}\"".to_owned())?;
        let name = after[..close].trim();
        let value = values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let known: Vec<String> =
                    values.iter().map(|(n, _)| format!("{{{{{n}}}}}")).collect();
                format!(
                    "unknown placeholder {{{{{name}}}}}; this template knows {}",
                    known.join(", ")
                )
            })?;
        if html {
            out.push_str(&escape(value));
        } else {
            out.push_str(value);
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The one shape every email shares: a heading, paragraphs, an optional button, more
/// paragraphs and a quieter footer.
struct Layout<'a> {
    subject: &'a str,
    heading: &'a str,
    intro: &'a [&'a str],
    action: Option<(&'a str, &'a str)>,
    outro: &'a [&'a str],
    footer: &'a str,
}

const FONT: &str =
    "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";

impl Layout<'_> {
    fn render(&self) -> Email {
        Email {
            to: String::new(),
            subject: self.subject.to_owned(),
            text: self.text(),
            html: self.html(),
        }
    }

    fn text(&self) -> String {
        let mut out = format!("{}\n\n", self.heading);
        for p in self.intro {
            let _ = write!(out, "{p}\n\n");
        }
        if let Some((label, link)) = self.action {
            let _ = write!(out, "{label}:\n{link}\n\n");
        }
        for p in self.outro {
            let _ = write!(out, "{p}\n\n");
        }
        let _ = write!(out, "{}\n\n-- \nSet\n", self.footer);
        out
    }

    fn html(&self) -> String {
        let p = "margin:0 0 16px;";
        let mut body = format!(
            r#"<p style="margin:0 0 24px;font-size:20px;font-weight:700;color:#4f46e5;">Set</p>
<h1 style="margin:0 0 16px;font-size:22px;line-height:1.3;color:#111827;">{}</h1>
"#,
            escape(self.heading)
        );
        for text in self.intro {
            let _ = writeln!(body, r#"<p style="{p}">{}</p>"#, escape(text));
        }
        if let Some((label, link)) = self.action {
            let (label, link) = (escape(label), escape(link));
            let _ = write!(
                body,
                r#"<p style="margin:24px 0;"><a href="{link}" style="display:inline-block;padding:12px 24px;background:#4f46e5;color:#ffffff;text-decoration:none;font-weight:600;border-radius:6px;">{label}</a></p>
<p style="{p}font-size:14px;color:#4b5563;">If the button doesn't work, copy this link into your browser:<br><a href="{link}" style="color:#4f46e5;word-break:break-all;">{link}</a></p>
"#
            );
        }
        for text in self.outro {
            let _ = writeln!(body, r#"<p style="{p}">{}</p>"#, escape(text));
        }
        format!(
            r#"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="margin:0;padding:0;background:#f3f4f6;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f3f4f6;padding:32px 16px;">
<tr><td align="center">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:8px;">
<tr><td style="padding:32px;{FONT};font-size:16px;line-height:1.5;color:#1f2937;">
{body}</td></tr>
</table>
<p style="max-width:560px;margin:16px auto 0;{FONT};font-size:13px;line-height:1.5;color:#6b7280;">{footer}</p>
</td></tr>
</table>
</body>
</html>
"#,
            title = escape(self.subject),
            footer = escape(self.footer),
        )
    }
}

/// Escapes text for HTML content and double-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// "24 hours", "1 hour", "30 minutes", "7 days".
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = match secs {
        s if s >= 2 * 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn verification_has_the_link_in_both_parts_and_escapes_it_in_html() {
        let link = "https://set.example/verify-email?token=a&b=<x>\"";
        let e = verification(link, DAY);
        assert_eq!(e.to, "");
        assert!(e.subject.contains("Verify"));
        assert!(e.text.contains(link));
        assert!(e.text.contains("24 hours"));
        assert!(e.html.contains("Verify Email"));
        assert!(e.html.contains("token=a&amp;b=&lt;x&gt;&quot;"));
        assert!(!e.html.contains(link));
        assert!(!e.html.contains("<x>"));
    }

    #[test]
    fn reset_and_signup_notice_read_right() {
        let r = password_reset("https://set.example/reset-password?token=t", DAY / 24);
        assert!(r.text.contains("1 hour and can be used once"));
        assert!(r.html.contains("Reset Password"));
        let s = signup_attempt("https://set.example/login").addressed_to("a@x.test");
        assert_eq!(s.to, "a@x.test");
        assert!(s.text.contains("Forgot password?"));
        assert!(s.html.contains(r#"href="https://set.example/login""#));
        assert!(s.html.contains("If it wasn&#39;t you"));
    }

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (name, body) in files {
            std::fs::write(dir.path().join(name), body).unwrap_or_else(|e| panic!("{e}"));
        }
        dir
    }

    #[test]
    fn overrides_replace_parts_and_escape_html_values() {
        let dir = folder(&[
            ("verification.subject", "Welcome to Acme\n"),
            ("verification.txt", "Click {{ link }} within {{expires}}."),
            ("verification.html", "<a href=\"{{link}}\">go</a>"),
            ("README.md", "ignored"),
        ]);
        let t = Templates::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let e = t.verification("https://x.test/v?token=a&b", DAY);
        assert_eq!(e.subject, "Welcome to Acme");
        assert_eq!(e.text, "Click https://x.test/v?token=a&b within 24 hours.");
        assert_eq!(e.html, "<a href=\"https://x.test/v?token=a&amp;b\">go</a>");
        // Not overridden: the built-in email.
        let r = t.password_reset("https://x.test/r", DAY);
        assert_eq!(r, password_reset("https://x.test/r", DAY));
    }

    #[test]
    fn broken_overrides_name_the_file_and_the_problem() {
        let cases = [
            (
                "signup_attempt.txt",
                "{{expires}}",
                "unknown placeholder {{expires}}",
            ),
            ("verification.html", "{{link", "never closed"),
            ("password_reset.subject", "  \n", "the subject is empty"),
            ("verification.subject", "a\nb", "one line"),
            ("verifcation.txt", "{{link}}", "not a template name"),
        ];
        for (name, body, problem) in cases {
            let dir = folder(&[(name, body)]);
            let e = Templates::load(dir.path()).err().map(|e| e.to_string());
            let e = e.unwrap_or_default();
            assert!(e.contains(name) && e.contains(problem), "{name}: {e}");
        }
        let missing = Templates::load(Path::new("/nonexistent/templates"));
        assert!(missing.is_err());
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(human(DAY), "24 hours");
        assert_eq!(human(DAY * 7), "7 days");
        assert_eq!(human(Duration::from_secs(1800)), "30 minutes");
        assert_eq!(human(Duration::from_secs(90)), "90 seconds");
        assert_eq!(human(Duration::from_secs(60)), "1 minute");
    }
}
