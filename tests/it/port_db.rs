//! `ensemble port-db`: a store made through the client API on SQLite, copied into PostgreSQL and
//! served from there with the same answers; resumption after an interruption; what it refuses.
//! The PostgreSQL tests need `ENSEMBLE_TEST_PG` (as `make test-postgres` sets it) and say they
//! were skipped without it; the refusals that never reach PostgreSQL run always.

use crate::common::*;
use diesel::{Connection, RunQueryDsl};
use ensemble::Config;
use ensemble::service::port_db::{Options, Summary, port_db};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A new empty database on the test PostgreSQL, or None (and a line saying so) without one.
fn fresh_pg(test: &str) -> Option<String> {
    let Ok(base) = std::env::var("ENSEMBLE_TEST_PG") else {
        eprintln!("port_db::{test} skipped: ENSEMBLE_TEST_PG is not set");
        return None;
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let name = format!("port_{}_{nanos}", std::process::id());
    let mut admin = diesel::PgConnection::establish(&base).expect("ENSEMBLE_TEST_PG names a reachable PostgreSQL");
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin).expect("create database");
    let (server, _) = base.rsplit_once('/').expect("a database URL ends with /<database>");
    Some(format!("{server}/{name}"))
}

/// A server on SQLite whatever the suite's backend: the source of a port.
async fn sqlite_server() -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config { database_url: String::new(), ..test_config(dir.path()) };
    TestServer::start_with(dir, config).await
}

fn source_of(s: &TestServer) -> String {
    format!("sqlite://{}", s.dir.path().join("ensemble.db").display())
}

/// Stops `s`, ports its store into `target` and starts a server on the same data_dir there.
async fn port_and_serve(s: TestServer, target: &str) -> (TestServer, Summary, Vec<String>) {
    let source = source_of(&s);
    let TestServer { server, dir, config, .. } = s;
    server.stop().await;
    let mut lines = Vec::new();
    let summary = port_db(&source, target, &Options::default(), &mut |l| lines.push(l.to_owned())).expect("port");
    let served = TestServer::start_with(dir, Config { database_url: target.to_owned(), ..config }).await;
    (served, summary, lines)
}

fn pg_counts(url: &str, tables: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut c = diesel::PgConnection::establish(url).unwrap();
    tables
        .keys()
        .map(|t| (t.clone(), diesel::sql_query(format!("SELECT count(*) AS n FROM {t}")).get_result::<N>(&mut c).unwrap().n))
        .collect()
}

async fn upload(s: &TestServer, user: &User, bytes: &[u8]) -> String {
    let res = s
        .http
        .post(s.url("/_matrix/media/v3/upload?filename=a.bin"))
        .bearer_auth(&user.token)
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    res.json::<Value>().await.unwrap()["content_uri"].as_str().unwrap().to_owned()
}

async fn download(s: &TestServer, user: &User, mxc: &str) -> Vec<u8> {
    let path = mxc.strip_prefix("mxc://").unwrap();
    let res = s.http.get(s.url(&format!("/_matrix/client/v1/media/download/{path}"))).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    res.bytes().await.unwrap().to_vec()
}

/// What the client API answers about the journey's store, for comparing before and after.
async fn reads(s: &TestServer, alice: &User, bob: &User, room: &str) -> Value {
    let mut state: Vec<Value> = s.get(&room_path(room, "state"), &alice.token).await.ok().as_array().unwrap().clone();
    state.sort_by_key(|e| e["event_id"].as_str().unwrap().to_owned());
    let messages = s.get(&room_path(room, "messages?dir=b&limit=100"), &alice.token).await.ok()["chunk"].clone();
    let sync = s.sync(alice, None, 0).await;
    let joined = &sync["rooms"]["join"][room];
    // Where and when a device was last seen changes with every request.
    let devices: Vec<Value> = s.get(&client("devices"), &alice.token).await.ok()["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| json!([d["device_id"], d["display_name"]]))
        .collect();
    without_age(json!({
        "state": state,
        "messages": messages,
        "joined_rooms": s.joined_rooms(bob).await,
        "profile": s.get(&client(&format!("profile/{}", enc(&alice.user_id))), &alice.token).await.ok(),
        "global_account_data": s.get(&client(&format!("user/{}/account_data/org.example.pref", enc(&alice.user_id))), &alice.token).await.ok(),
        "room_account_data": s.get(&client(&format!("user/{}/rooms/{}/account_data/org.example.room", enc(&alice.user_id), enc(room))), &alice.token).await.ok(),
        "sync_timeline": ids(joined["timeline"]["events"].as_array().unwrap()),
        "sync_state": joined["state"]["events"].as_array().map(|a| ids(a)),
        "sync_receipts": joined["ephemeral"]["events"].clone(),
        "otk_counts": sync["device_one_time_keys_count"].clone(),
        "devices": devices,
        "keys": s.post(&client("keys/query"), &bob.token, json!({"device_keys": {&alice.user_id: []}})).await.ok()["device_keys"].clone(),
    }))
}

/// `unsigned.age` is counted at the time of reading.
fn without_age(mut v: Value) -> Value {
    match &mut v {
        Value::Object(map) => {
            map.remove("age");
            for (_, x) in map.iter_mut() {
                *x = without_age(x.take());
            }
        }
        Value::Array(items) => {
            for x in items.iter_mut() {
                *x = without_age(x.take());
            }
        }
        _ => {}
    }
    v
}

#[actix_rt::test]
async fn a_ported_store_serves_the_same_answers_and_continues_its_streams() {
    let Some(target) = fresh_pg("a_ported_store_serves_the_same_answers_and_continues_its_streams") else { return };
    let s = sqlite_server().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"name": "Ported", "topic": "moving house", "preset": "private_chat"})).await;
    s.invite(&alice, &room, &bob.user_id).await.ok();
    s.join(&bob, &room).await.ok();
    let mut sent = Vec::new();
    for i in 0..12 {
        let who = if i % 2 == 0 { &alice } else { &bob };
        sent.push(s.send_text(who, &room, &format!("before {i}")).await);
    }
    s.put(&room_path(&room, "state/org.example.custom/k"), &alice.token, json!({"v": 1})).await.ok();
    s.put(&client(&format!("profile/{}/displayname", enc(&alice.user_id))), &alice.token, json!({"displayname": "Alice A."})).await.ok();
    s.put(&client(&format!("user/{}/account_data/org.example.pref", enc(&alice.user_id))), &alice.token, json!({"theme": "dark"}))
        .await
        .ok();
    s.put(
        &client(&format!("user/{}/rooms/{}/account_data/org.example.room", enc(&alice.user_id), enc(&room))),
        &alice.token,
        json!({"pinned": true}),
    )
    .await
    .ok();
    s.put(&client(&format!("devices/{}", alice.device_id)), &alice.token, json!({"display_name": "Alice's laptop"})).await.ok();
    s.post(&client("keys/upload"), &alice.token, json!({"one_time_keys": {"curve25519:AAAA": "a2V5MQ", "curve25519:AAAB": "a2V5Mg"}}))
        .await
        .ok();
    let mxc = upload(&s, &alice, b"\x00\x01binary media\xff").await;
    s.put(&room_path(&room, &format!("redact/{}/r1", enc(&sent[3]))), &alice.token, json!({"reason": "oops"})).await.ok();
    s.post(&room_path(&room, &format!("receipt/m.read/{}", enc(&sent[10]))), &bob.token, json!({})).await.ok();
    s.post(&room_path(&room, &format!("report/{}", enc(&sent[1]))), &alice.token, json!({"reason": "spam", "score": -100})).await.ok();
    let to_bob = json!({"messages": {&bob.user_id: {&bob.device_id: {"secret": "for bob"}}}});
    s.put(&client("sendToDevice/m.test/t1"), &alice.token, to_bob).await.ok();
    let before = reads(&s, &alice, &bob, &room).await;
    // The comparison below is worth something only if the reads found the journey's data.
    assert_eq!(before["profile"]["displayname"], "Alice A.");
    assert_eq!(before["otk_counts"]["curve25519"], 2, "{before}");
    assert!(before["sync_receipts"].to_string().contains(&sent[10]), "{before}");
    assert!(before["messages"].to_string().contains("before 11") && before["messages"].to_string().contains("oops"), "{before}");
    assert!(before["devices"].to_string().contains("Alice's laptop"));
    assert_eq!(before["room_account_data"]["pinned"], true);
    let old_batch = next_batch(&s.sync(&alice, None, 0).await);
    let root = s.register_admin("root").await;
    let users_before = aget(&s, &root.token, &sa("v2/users?limit=1000")).await.ok();
    assert_eq!(users_before["total"], 3, "{users_before}");
    // A server that started on the target and served nothing leaves it portable.
    let unused = tempfile::tempdir().unwrap();
    let config = Config { database_url: target.clone(), ..test_config(unused.path()) };
    TestServer::start_with(unused, config).await.server.stop().await;

    let (s, summary, lines) = port_and_serve(s, &target).await;
    assert!(summary.complete && !summary.already_complete, "{summary:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("events: ") && l.contains(&format!("{}/{}", summary.tables["events"], summary.tables["events"])))
    );
    assert!(lines.last().unwrap().starts_with("port complete: "), "{lines:?}");
    assert_eq!(pg_counts(&target, &summary.tables), summary.tables, "every row, once");

    // The same reads give the same answers, media files included.
    let after = reads(&s, &alice, &bob, &room).await;
    assert_eq!(after, before);
    assert_eq!(download(&s, &alice, &mxc).await, b"\x00\x01binary media\xff");
    s.login("alice", &alice.password).await.ok();
    // Bob's to-device message waited in the store.
    let bob_sync = s.sync(&bob, None, 0).await;
    let to_device = bob_sync["to_device"]["events"].as_array().unwrap();
    assert_eq!(to_device.len(), 1, "{bob_sync}");
    assert_eq!(to_device[0]["content"]["secret"], "for bob");

    // New writes land above the old positions: an incremental sync from before the port sees
    // exactly the new event, and identity columns hand out fresh numbers.
    let new = s.send_text(&alice, &room, "after the port").await;
    let inc = s.sync(&alice, Some(&old_batch), 0).await;
    assert_eq!(ids(&timeline(&inc, &room).into_iter().cloned().collect::<Vec<_>>()), vec![new.clone()]);
    s.post(&room_path(&room, &format!("report/{}", enc(&new))), &bob.token, json!({"reason": "again"})).await.ok();
    let new_room = s.create_room(&bob, json!({"name": "After"})).await;
    assert!(s.joined_rooms(&bob).await.contains(&new_room));
    // The kept user counts came over once, and count again after the port.
    assert_eq!(aget(&s, &root.token, &sa("v2/users?limit=1000")).await.ok()["total"], users_before["total"]);
    s.register_user("carol").await;
    assert_eq!(aget(&s, &root.token, &sa("v2/users?limit=1000")).await.ok()["total"], 4);
}

#[actix_rt::test]
async fn an_interrupted_port_resumes_without_duplicates_and_a_finished_one_is_a_no_op() {
    let Some(target) = fresh_pg("an_interrupted_port_resumes_without_duplicates_and_a_finished_one_is_a_no_op") else { return };
    let s = sqlite_server().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = public_room(&s, &alice, &[&bob]).await;
    for i in 0..25 {
        s.send_text(&alice, &room, &format!("m{i}")).await;
    }
    let source = source_of(&s);
    let TestServer { server, dir, config, .. } = s;
    server.stop().await;

    // Through the command line: stopped after 3 chunks of 5 rows.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ensemble"))
        .args(["port-db", "--from", &source, "--to", &target, "--chunk-rows", "5", "--max-chunks", "3"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("stopped after 3 chunks"), "{stdout}");
    // No server starts on half a store.
    let Err(e) = ensemble::start(Config { database_url: target.clone(), ..config.clone() }).await else {
        panic!("a server started on an unfinished port");
    };
    assert!(e.message().contains("port-db"), "{}", e.message());

    // Then three chunks per run: the 31 events take seven, so some run stops inside them.
    let small = Options { chunk_rows: 5, max_chunks: Some(3), ..Options::default() };
    let mut lines = Vec::new();
    let mut runs = 0;
    while !port_db(&source, &target, &small, &mut |l| lines.push(l.to_owned())).unwrap().complete {
        runs += 1;
        assert!(runs < 100, "the port makes progress: {lines:?}");
    }
    assert!(runs > 5, "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("events: resuming after")), "{lines:?}");
    // The run that finished reported a complete port; one more says it already was.
    assert!(lines.last().unwrap().starts_with("port complete: "), "{lines:?}");
    let done = port_db(&source, &target, &Options::default(), &mut |_| {}).unwrap();
    assert!(done.complete && done.already_complete && done.rows_copied == 0);
    let counts = pg_counts(&target, &done.tables);
    assert_eq!(counts, done.tables, "every table as on the source, no row twice");
    assert!(done.tables["events"] > 25);

    // Run again once finished: nothing changes, on the command line too.
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_ensemble")).args(["port-db", "--from", &source, "--to", &target]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("already complete"));
    assert_eq!(pg_counts(&target, &done.tables), done.tables);

    let s = TestServer::start_with(dir, Config { database_url: target, ..config }).await;
    let all = all_forward(&s, &alice.token, &room, 10).await;
    assert_eq!(messages_only(&all).len(), 25);
    assert_unique(&ids(&all));
    still_works(&s, &bob, &room).await;
}

#[actix_rt::test]
async fn a_target_holding_a_servers_own_data_is_refused() {
    let Some(target) = fresh_pg("a_target_holding_a_servers_own_data_is_refused") else { return };
    let pg_dir = tempfile::tempdir().unwrap();
    let config = Config { database_url: target.clone(), ..test_config(pg_dir.path()) };
    let pg_server = TestServer::start_with(pg_dir, config).await;
    pg_server.register_user("carol").await;
    pg_server.server.stop().await;

    let s = sqlite_server().await;
    s.register_user("alice").await;
    let source = source_of(&s);
    s.server.stop().await;
    let err = port_db(&source, &target, &Options::default(), &mut |_| {}).unwrap_err();
    assert!(err.message().contains("already holds data"), "{}", err.message());
}

#[actix_rt::test]
async fn text_with_a_nul_stops_the_port_naming_the_row() {
    let Some(target) = fresh_pg("text_with_a_nul_stops_the_port_naming_the_row") else { return };
    let s = sqlite_server().await;
    s.register_user("alice").await;
    let source = source_of(&s);
    let path = s.dir.path().join("ensemble.db");
    s.server.stop().await;
    let mut c = diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
    diesel::sql_query("UPDATE profiles SET displayname = 'a' || char(0) || 'b'").execute(&mut c).unwrap();
    let err = port_db(&source, &target, &Options::default(), &mut |_| {}).unwrap_err();
    let msg = err.message();
    assert!(msg.contains("table profiles") && msg.contains("displayname") && msg.contains("NUL"), "{msg}");
}

#[actix_rt::test]
async fn sources_that_are_not_ensemble_stores_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let to = "postgres://nobody@127.0.0.1:1/none";
    let missing = dir.path().join("missing.db");
    let err = port_db(&missing.to_string_lossy(), to, &Options::default(), &mut |_| {}).unwrap_err();
    assert!(err.message().contains("missing.db"), "{}", err.message());
    assert!(!missing.exists(), "no empty file is made");

    let other = dir.path().join("other.db");
    let mut c = diesel::SqliteConnection::establish(&other.to_string_lossy()).unwrap();
    diesel::sql_query("CREATE TABLE notes (body TEXT)").execute(&mut c).unwrap();
    let err = port_db(&format!("sqlite://{}", other.display()), to, &Options::default(), &mut |_| {}).unwrap_err();
    assert!(err.message().contains("not an Ensemble SQLite store"), "{}", err.message());

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database").unwrap();
    let err = port_db(&text.to_string_lossy(), to, &Options::default(), &mut |_| {}).unwrap_err();
    assert!(err.message().contains("not an Ensemble SQLite store"), "{}", err.message());

    let err = port_db(&other.to_string_lossy(), "mysql://h/db", &Options::default(), &mut |_| {}).unwrap_err();
    assert!(err.message().contains("--to"), "{}", err.message());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ensemble"))
        .args(["port-db", "--from", &missing.to_string_lossy(), "--to", to])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
}
