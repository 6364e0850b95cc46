//! `TestApp`: the real Rocket from the library over a fresh database per test: a SQLite
//! file, or a PostgreSQL database when the suite runs as `api_postgres`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rocket::http::{ContentType, Cookie, Header, Method, Status};
use rocket::local::asynchronous::{Client, LocalResponse};
use serde_json::{json, Value};
use set_server::config::Config;
use tempfile::TempDir;

pub struct TestApp {
    pub client: Client,
    /// The app's database, for a test to look at what was stored.
    #[allow(dead_code)]
    pub db: set_server::db::Db,
    pub dir: TempDir,
    /// The app's token service, to mint tokens a test needs to forge.
    #[allow(dead_code)]
    pub tokens: set_server::auth::tokens::Tokens,
}

/// The default config with every file under `dir` (and, on PostgreSQL, a database of
/// `dir`'s own).
pub fn config_in(dir: &std::path::Path) -> Config {
    let mut config = Config::load(None).expect("default config loads");
    config.database.path = dir.join("set.db");
    config.email.outbox_dir = dir.join("outbox");
    if crate::POSTGRES {
        config.database.url = crate::postgres::database_for(dir).into();
    }
    config
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with a config adjusted by `tweak`, and extra routes mounted by `mount`.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_mounted(tweak, |r| r).await
    }

    pub async fn spawn_mounted(
        tweak: impl FnOnce(&mut Config),
        mount: impl FnOnce(rocket::Rocket<rocket::Build>) -> rocket::Rocket<rocket::Build>,
    ) -> TestApp {
        Self::spawn_in(tempfile::tempdir().expect("tempdir"), tweak, mount).await
    }

    /// Spawns on an existing data directory (to restart an app on the same database).
    pub async fn spawn_in(
        dir: TempDir,
        tweak: impl FnOnce(&mut Config),
        mount: impl FnOnce(rocket::Rocket<rocket::Build>) -> rocket::Rocket<rocket::Build>,
    ) -> TestApp {
        let mut config = config_in(dir.path());
        tweak(&mut config);
        let app = set_server::App::open(config).expect("app opens");
        let tokens = app.tokens.clone();
        let db = app.db.clone();
        let client = Client::untracked(mount(set_server::build(app)))
            .await
            .expect("rocket ignites");
        TestApp {
            client,
            db,
            dir,
            tokens,
        }
    }
}

/// Direct looks at the stored data, on whichever engine the app runs.
#[allow(dead_code)]
impl TestApp {
    /// Runs a statement without parameters.
    pub async fn sql_execute(&self, sql: &'static str) {
        self.db
            .write(move |c| Ok(c.execute(sql, set_server::params![])?))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The one integer a query returns.
    pub async fn sql_i64(&self, sql: &'static str) -> i64 {
        self.db
            .read(move |c| Ok(c.value::<i64>(sql, set_server::params![])?))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The first column of every row a query returns, as text.
    pub async fn sql_texts(&self, sql: &'static str) -> Vec<String> {
        self.db
            .read(move |c| Ok(c.query_all(sql, set_server::params![], |r| r.get(0usize))?))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// An email found in the outbox, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    pub fn parse(raw: &[u8]) -> Mail {
        let m = mail_parser::MessageParser::default()
            .parse(raw)
            .expect("a parsable message");
        let to = m
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned();
        Mail {
            to,
            subject: m.subject().unwrap_or_default().to_owned(),
            text: m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            html: m.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
        }
    }

    /// The token of the first link to `/<page>?token=…` in the text part.
    pub fn token(&self, page: &str) -> String {
        let marker = format!("/{page}?token=");
        let start = self
            .text
            .find(&marker)
            .unwrap_or_else(|| panic!("no {page} link in {}", self.text))
            + marker.len();
        self.text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

/// A response read as status, JSON body and the session cookie it set (if any).
pub struct Reply {
    pub status: Status,
    pub body: Value,
    pub session: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn code(&self) -> String {
        error_code(&self.body)
    }
}

impl TestApp {
    pub fn outbox(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    /// Sends a portal call: JSON body, the CSRF header, and the session cookie if given.
    pub async fn portal(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        session: Option<&str>,
    ) -> Reply {
        let mut req = self
            .client
            .req(method, format!("/api/portal{path}"))
            .remote(std::net::SocketAddr::from(([127, 0, 0, 1], 50000)))
            .header(Header::new("X-Requested-With", "set-portal"));
        if let Some(b) = body {
            req = req.header(ContentType::JSON).body(b.to_string());
        }
        if let Some(s) = session {
            req = req.cookie(Cookie::new("set_session", s.to_owned()));
        }
        read(req.dispatch().await).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.portal(Method::Post, path, Some(body), None).await
    }

    /// Waits (up to 10 s) until the outbox holds at least `n` messages; oldest first.
    pub async fn emails(&self, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut files: Vec<_> = std::fs::read_dir(self.outbox())
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
            files.sort();
            if files.len() >= n {
                return files
                    .iter()
                    .map(|p| Mail::parse(&std::fs::read(p).unwrap()))
                    .collect();
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} emails, found {}",
                files.len()
            );
            rocket::tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Signs up `email`, follows the verification link, signs in; returns the session.
    pub async fn verified_developer(&self, email: &str, password: &str) -> String {
        let before = self.emails(0).await.len();
        let r = self
            .post("/signup", json!({"email": email, "password": password}))
            .await;
        assert_eq!(r.status, Status::Created, "{}", r.body);
        let mail = self.emails(before + 1).await.pop().unwrap();
        let token = mail.token("verify-email");
        let r = self.post("/verify-email", json!({ "token": token })).await;
        assert_eq!(r.status, Status::Ok, "{}", r.body);
        self.login(email, password).await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let r = self
            .post("/login", json!({"email": email, "password": password}))
            .await;
        assert_eq!(r.status, Status::Ok, "{}", r.body);
        r.session.expect("login sets the session cookie")
    }
}

/// A client's credentials as the portal shows them.
pub struct Creds {
    pub id: String,
    pub secret: String,
}

pub fn basic(user: &str, password: &str) -> Header<'static> {
    use base64::Engine;
    let raw = format!("{user}:{password}");
    Header::new(
        "Authorization",
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ),
    )
}

pub fn bearer(token: &str) -> Header<'static> {
    Header::new("Authorization", format!("Bearer {token}"))
}

impl TestApp {
    /// A verified developer's new client.
    pub async fn new_client(&self, session: &str, name: &str) -> Creds {
        let r = self
            .portal(
                Method::Post,
                "/clients",
                Some(json!({ "name": name })),
                Some(session),
            )
            .await;
        assert_eq!(r.status, Status::Created, "{}", r.body);
        Creds {
            id: r.body["client_id"].as_str().unwrap().to_owned(),
            secret: r.body["client_secret"].as_str().unwrap().to_owned(),
        }
    }

    /// `POST /v1/client/register` with Basic credentials.
    pub async fn register(&self, id: &str, secret: &str) -> Reply {
        read(
            self.client
                .post("/v1/client/register")
                .header(basic(id, secret))
                .dispatch()
                .await,
        )
        .await
    }

    /// A client token for `creds` (asserting success).
    pub async fn client_token(&self, creds: &Creds) -> String {
        let r = self.register(&creds.id, &creds.secret).await;
        assert_eq!(r.status, Status::Ok, "{}", r.body);
        r.body["access_token"].as_str().unwrap().to_owned()
    }

    /// A request with an `Authorization` header and an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Header<'static>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.client.req(method, path.to_owned()).header(auth);
        if let Some(b) = body {
            req = req.header(ContentType::JSON).body(b.to_string());
        }
        read(req.dispatch().await).await
    }

    /// A new user of the client: (user id, access token, refresh token).
    pub async fn new_user(&self, client_token: &str) -> (String, String, String) {
        let r = self
            .call(
                Method::Post,
                "/v1/users",
                bearer(client_token),
                Some(json!({"metadata": {"plan": "free"}})),
            )
            .await;
        assert_eq!(r.status, Status::Created, "{}", r.body);
        (
            r.body["user"]["id"].as_str().unwrap().to_owned(),
            r.body["access_token"].as_str().unwrap().to_owned(),
            r.body["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    /// `POST /oauth/…` with a form body.
    pub async fn form(&self, path: &str, form: &str, auth: Option<Header<'static>>) -> Reply {
        let mut req = self
            .client
            .post(path.to_owned())
            .header(ContentType::Form)
            .body(form);
        if let Some(a) = auth {
            req = req.header(a);
        }
        read(req.dispatch().await).await
    }
}

pub async fn read(res: LocalResponse<'_>) -> Reply {
    let session = res
        .cookies()
        .get("set_session")
        .map(|c| c.value().to_owned());
    let headers = res
        .headers()
        .iter()
        .map(|h| (h.name().to_string(), h.value().to_string()))
        .collect();
    let (status, body) = json(res).await;
    Reply {
        status,
        body,
        session,
        headers,
    }
}

/// Reads a response as (status, JSON body or Null).
pub async fn json(res: LocalResponse<'_>) -> (Status, Value) {
    let status = res.status();
    let body = res.into_string().await.unwrap_or_default();
    let value = serde_json::from_str(&body).unwrap_or(Value::Null);
    (status, value)
}

/// Asserts the one error shape and returns the `error` code.
pub fn error_code(body: &Value) -> String {
    let obj = body.as_object().expect("error body is a JSON object");
    assert_eq!(obj.len(), 2, "exactly error and error_description: {body}");
    assert!(
        obj["error_description"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    obj["error"].as_str().expect("error is a string").to_owned()
}
