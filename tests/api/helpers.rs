//! `TestApp`: the real Rocket from the library over a fresh SQLite file per test.

use rocket::http::Status;
use rocket::local::asynchronous::{Client, LocalResponse};
use serde_json::Value;
use set_server::config::Config;
use tempfile::TempDir;

pub struct TestApp {
    pub client: Client,
    pub dir: TempDir,
}

/// The default config with every file under `dir`.
pub fn config_in(dir: &std::path::Path) -> Config {
    let mut config = Config::load(None).expect("default config loads");
    config.database.path = dir.join("set.db");
    config.email.outbox_dir = dir.join("outbox");
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
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = config_in(dir.path());
        tweak(&mut config);
        let app = set_server::App::open(config).expect("app opens");
        let client = Client::tracked(mount(set_server::build(app)))
            .await
            .expect("rocket ignites");
        TestApp { client, dir }
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
