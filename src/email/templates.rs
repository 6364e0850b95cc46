//! The emails the server sends, each as plain text and as simple HTML with inline styles
//! (mail clients ignore style sheets). Every value is HTML-escaped. The recipient is left
//! empty: callers set it with [`Email::addressed_to`].

use std::fmt::Write as _;
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

    #[test]
    fn durations_read_as_words() {
        assert_eq!(human(DAY), "24 hours");
        assert_eq!(human(DAY * 7), "7 days");
        assert_eq!(human(Duration::from_secs(1800)), "30 minutes");
        assert_eq!(human(Duration::from_secs(90)), "90 seconds");
        assert_eq!(human(Duration::from_secs(60)), "1 minute");
    }
}
