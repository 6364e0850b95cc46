use rocket::http::Status;

use crate::helpers::{json, TestApp};

#[rocket::async_test]
async fn healthz_and_readyz_answer_200_json() {
    let app = TestApp::spawn().await;
    let (status, body) = json(app.client.get("/healthz").dispatch().await).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(body["status"], "ok");
    let (status, body) = json(app.client.get("/readyz").dispatch().await).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(body["status"], "ready");
    // The data lives in the SQLite file, or in PostgreSQL and no file is made.
    assert_eq!(app.dir.path().join("set.db").is_file(), !crate::POSTGRES);
}

#[rocket::async_test]
async fn data_dir_is_private_and_master_key_is_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let mut config = crate::helpers::config_in(dir.path());
    config.database.path = data.join("set.db");
    let _app = set_server::App::open(config).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("master.key")), 0o600);
}
