//! The `ensemble` command line: making the first admin against the database, and through a
//! running server with the shared secret.

use crate::common::*;
use serde_json::json;
use std::process::Command;

fn ensemble() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ensemble"))
}

#[actix_rt::test]
async fn register_user_writes_an_admin_to_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw.txt");
    std::fs::write(&pw, "first-admin-password\n").unwrap();
    let out = ensemble()
        .args(["register-user", "--admin", "--password-file"])
        .arg(&pw)
        .arg("Alice")
        .env("ENSEMBLE_DATA_DIR", dir.path())
        .env("ENSEMBLE_DATABASE_URL", test_database_url(dir.path()))
        .env("ENSEMBLE_SERVER_NAME", "test.local")
        .env("ENSEMBLE_PASSWORD_HASH_LOG_N", "4")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("@alice:test.local"));
    // A second time: the name is taken.
    let again = ensemble()
        .args(["register-user", "--password-file"])
        .arg(&pw)
        .arg("alice")
        .env("ENSEMBLE_DATA_DIR", dir.path())
        .env("ENSEMBLE_DATABASE_URL", test_database_url(dir.path()))
        .env("ENSEMBLE_SERVER_NAME", "test.local")
        .env("ENSEMBLE_PASSWORD_HASH_LOG_N", "4")
        .output()
        .unwrap();
    assert!(!again.status.success());

    // The server on that directory lets alice in, as an admin.
    let cfg = test_config(dir.path());
    let s = TestServer::start_with(dir, cfg).await;
    let login = s.login("alice", "first-admin-password").await.ok();
    let token = login["access_token"].as_str().unwrap();
    let admin = s.get("/_synapse/admin/v1/users/%40alice%3Atest.local/admin", token).await.ok();
    assert_eq!(admin["admin"], true);
}

#[actix_rt::test]
async fn register_user_through_a_running_server_with_the_shared_secret() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (secret, pw) = (dir.path().join("secret"), dir.path().join("pw"));
    std::fs::write(&secret, "test-shared-secret\n").unwrap();
    std::fs::write(&pw, "bob-password-123").unwrap();
    let url = s.server.base_url.clone();
    let run = move |secret: std::path::PathBuf| {
        let (url, pw) = (url.clone(), pw.clone());
        std::thread::spawn(move || {
            ensemble()
                .args(["register-user", "--admin", "--url", &url, "--shared-secret-file"])
                .arg(&secret)
                .arg("--password-file")
                .arg(&pw)
                .arg("bob")
                .output()
                .expect("runs")
        })
    };
    let out = tokio::task::spawn_blocking({
        let run = run.clone();
        let secret = secret.clone();
        move || run(secret).join().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let login = s.login("bob", "bob-password-123").await.ok();
    let who = s.get("/_synapse/admin/v1/users/%40bob%3Atest.local/admin", login["access_token"].as_str().unwrap()).await.ok();
    assert_eq!(who, json!({"admin": true}));

    // A wrong secret is refused and creates nobody.
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not-the-secret").unwrap();
    let bad = tokio::task::spawn_blocking(move || run(wrong).join().unwrap()).await.unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("403"), "{}", String::from_utf8_lossy(&bad.stderr));
}

/// `ensemble backup` copies the store of a running server into one file; a server started on the
/// copy (with the signing key beside it) serves what the first one had. On PostgreSQL it refuses,
/// pointing at pg_dump.
#[actix_rt::test]
async fn backup_copies_a_running_servers_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let cfg = test_config(&data);
    let on_postgres = !cfg.database_url.is_empty();
    let s = TestServer::start_with(dir, cfg).await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"name": "kept"})).await;
    let sent = s.send_text(&alice, &room, "before the backup").await;
    let out_dir = tempfile::tempdir().unwrap();
    let copy = out_dir.path().join("copy.db");
    let backup = |to: &std::path::Path| {
        ensemble()
            .args(["backup", "--to"])
            .arg(to)
            .env("ENSEMBLE_DATA_DIR", &data)
            .env("ENSEMBLE_DATABASE_URL", &s.server.services.config.database_url)
            .output()
            .expect("runs")
    };
    let out = backup(&copy);
    if on_postgres {
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"), "{}", String::from_utf8_lossy(&out.stderr));
        return;
    }
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("bytes"));
    // The server keeps going; a second backup to the same file is refused, not overwritten.
    s.send_text(&alice, &room, "after the backup").await;
    let again = backup(&copy);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"), "{}", String::from_utf8_lossy(&again.stderr));
    let missing = ensemble()
        .args(["backup", "--to"])
        .arg(out_dir.path().join("x.db"))
        .env("ENSEMBLE_DATA_DIR", out_dir.path().join("none"))
        .output()
        .unwrap();
    assert!(!missing.status.success());

    // A server on the copy: alice logs in and reads the message from before, not the one after.
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&copy, restored.path().join("ensemble.db")).unwrap();
    std::fs::copy(data.join("signing.key"), restored.path().join("signing.key")).unwrap();
    let mut cfg = test_config(restored.path());
    cfg.database_url = String::new();
    let r = TestServer::start_with(restored, cfg).await;
    let login = r.login("alice", "pw-alice-secret").await.ok();
    let token = login["access_token"].as_str().unwrap().to_owned();
    let msgs = r.get(&format!("{V3}/rooms/{}/messages?dir=b&limit=10", enc(&room)), &token).await.ok();
    let bodies: Vec<&str> = msgs["chunk"].as_array().unwrap().iter().filter_map(|e| e["content"]["body"].as_str()).collect();
    assert_eq!(bodies, ["before the backup"], "{msgs}");
    assert!(msgs["chunk"].as_array().unwrap().iter().any(|e| e["event_id"] == sent.as_str()));
}

/// `ensemble serve` at the default `info` writes a line for what an operator acts on (accounts,
/// rooms), not a dozen for every field of every message its push rules read.
#[actix_rt::test]
async fn serve_at_info_logs_no_line_per_event_field() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    /// Stops the server however the test ends, a failed assertion included.
    struct Serving(std::process::Child);
    impl Drop for Serving {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Serving(
        ensemble()
            .arg("serve")
            .env("ENSEMBLE_DATA_DIR", dir.path())
            .env("ENSEMBLE_DATABASE_URL", test_database_url(dir.path()))
            .env("ENSEMBLE_SERVER_NAME", "test.local")
            .env("ENSEMBLE_LISTEN", "127.0.0.1:0")
            .env("ENSEMBLE_PASSWORD_HASH_LOG_N", "4")
            .env("ENSEMBLE_ENABLE_REGISTRATION", "true")
            .env("ENSEMBLE_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .expect("starts"),
    );
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let base = loop {
        if let Some(rest) = log().split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "the server never said where it listens: {}", log());
        assert!(child.0.try_wait().unwrap().is_none(), "the server stopped: {}", log());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    ensemble::federation::tls::install_default_provider();
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: String, token: Option<String>, body: serde_json::Value| {
        let req = http.request(method, format!("{base}{path}")).json(&body);
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status().as_u16(), 200, "{path}");
            res.json::<serde_json::Value>().await.unwrap()
        }
    };
    let register = |name: &str| {
        let body = json!({"username": name, "password": format!("pw-{name}-123"), "auth": {"type": "m.login.dummy"}});
        let reply = call(reqwest::Method::POST, format!("{V3}/register"), None, body);
        async move { reply.await["access_token"].as_str().unwrap().to_owned() }
    };
    let (alice, bob) = (register("alice").await, register("bob").await);
    let room = call(reqwest::Method::POST, format!("{V3}/createRoom"), Some(alice.clone()), json!({"preset": "public_chat"})).await;
    let room = room["room_id"].as_str().unwrap().to_owned();
    call(reqwest::Method::POST, format!("{V3}/rooms/{}/join", enc(&room)), Some(bob.clone()), json!({})).await;
    for i in 0..3 {
        let path = format!("{V3}/rooms/{}/send/m.room.message/t{i}", enc(&room));
        call(reqwest::Method::PUT, path, Some(alice.clone()), json!({"msgtype": "m.text", "body": format!("hello {i}")})).await;
    }
    // Bob's push rules have read all three once his notifications hold them.
    loop {
        let res = http.get(format!("{base}{V3}/notifications")).bearer_auth(&bob).send().await.unwrap();
        let notes: serde_json::Value = res.json().await.unwrap();
        if notes["notifications"].as_array().is_some_and(|n| n.len() == 3) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "bob's notifications: {notes}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(child);
    let log = log();
    assert!(log.contains("registered @bob:test.local"), "info lines are written: {log}");
    let lines = log.lines().count();
    assert!(!log.contains("flatten_value") && lines < 40, "{lines} lines: {log}");
}
