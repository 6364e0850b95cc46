//! Automatic signing-key rotation by age, and pruning of retired keys once every token
//! they signed has expired, driven by the clock the test passes in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rocket::local::asynchronous::Client;
use serde_json::Value;
use set_server::auth::tokens::{NewToken, TokenType};
use set_server::config::Config;

const DAY: i64 = 86_400;

async fn jwks(c: &Client) -> Value {
    let res = c.get("/.well-known/jwks.json").dispatch().await;
    res.into_json::<Value>().await.unwrap()
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[rocket::async_test]
async fn keys_rotate_when_due_and_retired_keys_are_pruned_after_their_tokens_expire() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::load(None).unwrap();
    config.database.path = dir.path().join("set.db");
    config.email.outbox_dir = dir.path().join("outbox");
    let app = set_server::App::open(config).unwrap();
    let (keys, tokens) = (app.keys.clone(), app.tokens.clone());
    let client = Client::untracked(set_server::build(app)).await.unwrap();
    let first = keys.signer().kid().to_owned();
    let new = NewToken {
        typ: TokenType::Client,
        sub: "cl_1",
        cid: "cl_1",
        scope: "users:create",
        azp: None,
        gen: Some(1),
        fam: None,
    };
    let old_token = tokens.issue(&new).unwrap().access_token;
    let now = set_server::clock::now();

    // Not due yet: nothing changes.
    assert!(keys.maintain(now + 29 * DAY).unwrap().is_none());
    assert_eq!(keys.signer().kid(), first);

    // Thirty days on, the key rotates: new tokens carry the new kid, old ones verify.
    let rotation = keys.maintain(now + 30 * DAY).unwrap().expect("rotated");
    assert_ne!(rotation.new_kid, first);
    assert_eq!(keys.signer().kid(), rotation.new_kid);
    let fresh = tokens.issue(&new).unwrap();
    assert!(fresh.access_token.len() > 10);
    assert_eq!(tokens.verify(&fresh.access_token).unwrap().sub, "cl_1");
    assert!(
        tokens.verify(&old_token).is_ok(),
        "the retired key still verifies"
    );
    assert_eq!(
        kids(&jwks(&client).await),
        vec![rotation.new_kid.clone(), first.clone()]
    );

    // Once every token of the retired key has expired, the key is pruned.
    let until = rotation.retired_until.unwrap();
    assert!(keys.maintain(until - 1).unwrap().is_none());
    assert_eq!(kids(&jwks(&client).await).len(), 2);
    assert!(keys.maintain(until).unwrap().is_none());
    assert_eq!(kids(&jwks(&client).await), vec![rotation.new_kid.clone()]);
    let db = rusqlite::Connection::open(dir.path().join("set.db")).unwrap();
    let (rows, audited): (i64, i64) = db
        .query_row(
            "SELECT (SELECT count(*) FROM signing_keys),
                    (SELECT count(*) FROM audit_events WHERE action = 'key.rotated' AND actor = 'system')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows, audited), (1, 1));
}
