//! Retention: one pass through `retention::sweep` removes what has expired and keeps
//! what has not. Time is driven by writing past timestamps into rows directly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use set_server::config::Config;
use set_server::db::Db;
use set_server::params;
use set_server::retention::{self, Swept, BATCH};

const HOUR: i64 = 3600;

fn open() -> (tempfile::TempDir, Config, Db) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::load(None).unwrap();
    config.database.path = dir.path().join("set.db");
    config.email.outbox_dir = dir.path().join("outbox");
    let db = Db::open((&config.database).into()).unwrap();
    (dir, config, db)
}

fn keys(db: &Db, sql: &'static str) -> Vec<String> {
    db.read_blocking(move |c| Ok(c.query_all(sql, params![], |r| r.get::<usize, String>(0))?))
        .unwrap()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// A developer, a client, an integration and a user for the rows to hang on.
fn owners(db: &Db, now: i64) {
    db.write_blocking(move |tx| {
        tx.execute(
            "INSERT INTO developers (id, email, password_hash, created_at, password_changed_at)
             VALUES ('dev_1', 'd@example.com', 'x', $1, $1)",
            params![now],
        )?;
        tx.execute(
            "INSERT INTO clients (id, developer_id, name, secret_sealed, secret_hash, created_at)
             VALUES ('cl_1', 'dev_1', 'App', x'00', x'00', $1)",
            params![now],
        )?;
        tx.execute(
            "INSERT INTO integrations (id, client_id, name, redirect_uris, scopes,
                                       secret_sealed, secret_hash, created_at)
             VALUES ('int_1', 'cl_1', 'Hub', '[]', 'profile:read', x'00', x'00', $1)",
            params![now],
        )?;
        tx.execute(
            "INSERT INTO users (id, client_id, created_at) VALUES ('usr_1', 'cl_1', $1)",
            params![now],
        )?;
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_pass_removes_what_expired_and_keeps_the_rest() {
    let (_dir, config, db) = open();
    let now = set_server::clock::now();
    owners(&db, now);
    let idle = config.security.session_idle.secs() as i64;
    let refresh_ttl = config.tokens.refresh_ttl.secs() as i64;
    db.write_blocking(move |tx| {
        let session = "INSERT INTO sessions (token_hash, developer_id, created_at, last_seen_at, expires_at)
                       VALUES ($1, 'dev_1', $2, $3, $4)";
        tx.execute(session, params!["s_live", now - HOUR, now, now + HOUR])?;
        tx.execute(session, params!["s_ended", now - 9 * HOUR, now - 2 * HOUR, now - 1])?;
        tx.execute(session, params!["s_idle", now - idle - 99, now - idle - 1, now + HOUR])?;

        let email = "INSERT INTO email_tokens (token_hash, developer_id, purpose, created_at, expires_at, used_at)
                     VALUES ($1, 'dev_1', 'verify_email', $2, $3, $4)";
        tx.execute(email, params!["e_live", now, now + HOUR, None::<i64>])?;
        tx.execute(email, params!["e_used", now, now + HOUR, Some(now)])?;
        tx.execute(email, params!["e_expired", now - 2 * HOUR, now - 1, None::<i64>])?;

        let link = "INSERT INTO link_codes (code_hash, user_id, client_id, created_at, expires_at, used_at)
                    VALUES ($1, 'usr_1', 'cl_1', $2, $3, $4)";
        tx.execute(link, params!["l_live", now, now + 600, None::<i64>])?;
        tx.execute(link, params!["l_used", now, now + 600, Some(now)])?;
        tx.execute(link, params!["l_expired", now - 900, now - 300, None::<i64>])?;

        let code = "INSERT INTO auth_codes (code_hash, integration_id, user_id, redirect_uri, scope,
                                            created_at, expires_at, used_at)
                    VALUES ($1, 'int_1', 'usr_1', 'https://x.test/cb', 'profile:read', $2, $3, $4)";
        tx.execute(code, params!["a_live", now, now + 600, None::<i64>])?;
        // Used but not expired: a second use must still find it (reuse detection).
        tx.execute(code, params!["a_used", now, now + 600, Some(now)])?;
        tx.execute(code, params!["a_expired", now - 900, now - 300, Some(now - 800)])?;

        let revocation = "INSERT INTO revocations (kind, subject, created_at, expires_at)
                          VALUES ('jti', $1, $2, $3)";
        tx.execute(revocation, params!["r_live", now, now + 600])?;
        tx.execute(revocation, params!["r_expired", now - 1000, now - 1])?;

        let family = "INSERT INTO refresh_families (id, user_id, client_id, scope, created_at, revoked_at)
                      VALUES ($1, 'usr_1', 'cl_1', 'profile:read', $2, $3)";
        let token = "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at, used_at)
                     VALUES ($1, $2, $3, $4, $5)";
        // Live: its newest token is still valid, older ones spent and expired.
        tx.execute(family, params!["fam_live", now - 40 * 86_400, None::<i64>])?;
        tx.execute(token, params!["t_old", "fam_live", now - 40 * 86_400, now - 10 * 86_400, Some(now - 39 * 86_400)])?;
        tx.execute(token, params!["t_new", "fam_live", now - 39 * 86_400, now + HOUR, None::<i64>])?;
        // Every token expired.
        tx.execute(family, params!["fam_expired", now - 40 * 86_400, None::<i64>])?;
        tx.execute(token, params!["t_exp", "fam_expired", now - 40 * 86_400, now - 1, None::<i64>])?;
        // Revoked longer than refresh_ttl ago (its token has not expired yet).
        tx.execute(family, params!["fam_revoked_long_ago", now - 40 * 86_400, now - refresh_ttl - 1])?;
        tx.execute(token, params!["t_rla", "fam_revoked_long_ago", now - 40 * 86_400, now + HOUR, None::<i64>])?;
        // Revoked recently: kept until refresh_ttl has passed.
        tx.execute(family, params!["fam_revoked_lately", now - HOUR, now - 60])?;
        tx.execute(token, params!["t_rl", "fam_revoked_lately", now - HOUR, now + HOUR, None::<i64>])?;
        // Rate-limit windows: one that ended over a day ago goes, the current one stays.
        let window = "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 3)";
        tx.execute(window, params!["login:old", now - 2 * 86_400])?;
        tx.execute(window, params!["login:now", now - 30])?;
        Ok(())
    })
    .unwrap();

    let swept = retention::sweep(&db, &config, now).unwrap();
    assert_eq!(
        swept,
        Swept {
            sessions: 2,
            email_tokens: 2,
            link_codes: 2,
            auth_codes: 1,
            revocations: 1,
            refresh_families: 2,
            rate_limits: 1,
        }
    );
    assert_eq!(keys(&db, "SELECT token_hash FROM sessions"), ["s_live"]);
    assert_eq!(keys(&db, "SELECT token_hash FROM email_tokens"), ["e_live"]);
    assert_eq!(keys(&db, "SELECT code_hash FROM link_codes"), ["l_live"]);
    assert_eq!(
        sorted(keys(&db, "SELECT code_hash FROM auth_codes")),
        ["a_live", "a_used"]
    );
    assert_eq!(keys(&db, "SELECT subject FROM revocations"), ["r_live"]);
    assert_eq!(
        sorted(keys(&db, "SELECT id FROM refresh_families")),
        ["fam_live", "fam_revoked_lately"]
    );
    // The dead families' tokens went with them; a live family keeps all of its own.
    assert_eq!(
        sorted(keys(&db, "SELECT token_hash FROM refresh_tokens")),
        ["t_new", "t_old", "t_rl"]
    );
    assert_eq!(keys(&db, "SELECT id FROM users"), ["usr_1"]);

    // A second pass finds nothing more.
    assert_eq!(retention::sweep(&db, &config, now).unwrap().total(), 0);
}

#[test]
fn a_backlog_is_deleted_in_batches() {
    let (_dir, config, db) = open();
    let now = set_server::clock::now();
    let n = 2 * BATCH + 7;
    db.write_blocking(move |tx| {
        let insert = "INSERT INTO revocations (kind, subject, created_at, expires_at)
                      VALUES ('jti', $1, $2, $3)";
        for i in 0..n {
            tx.execute(insert, params![format!("j{i}"), now - 100, now - 1])?;
        }
        tx.execute(insert, params!["still_live", now, now + 100])?;
        Ok(())
    })
    .unwrap();
    let swept = retention::sweep(&db, &config, now).unwrap();
    assert_eq!(swept.revocations, n);
    assert_eq!(keys(&db, "SELECT subject FROM revocations"), ["still_live"]);
}
