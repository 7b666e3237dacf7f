//! Restarts, crashes and damaged data: acknowledged events survive a restart and a SIGKILL of the
//! real binary, a missing or unreadable search index is rebuilt from the store, one unreadable stored
//! event never bricks its room, and a missing signing key stops the start unless the database is new.

use crate::common::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An `ensemble serve` process on a loopback port; killed (SIGKILL) when dropped.
struct Proc {
    child: Child,
    api: Api,
}

/// HTTP to the process.
#[derive(Clone)]
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A config file in `dir` for a server on a fresh loopback port, with its data in `dir/data`.
fn write_config(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let toml = format!(
        "server_name = \"test.local\"\nlisten = \"127.0.0.1:{}\"\ndata_dir = \"{}\"\nenable_registration = true\n\
         password_hash_log_n = 4\nworkers = 2\nlog = \"warn\"\n\
         [rc_message]\nper_second = 1000000.0\nburst_count = 1000000\n",
        free_port(),
        data.display()
    );
    let path = dir.join("ensemble.toml");
    std::fs::write(&path, toml).expect("config written");
    path
}

impl Proc {
    async fn start(config: &Path, log: &Path) -> Proc {
        let text = std::fs::read_to_string(config).expect("config");
        let listen = text.lines().find_map(|l| l.strip_prefix("listen = ")).expect("listen").trim_matches('"').to_owned();
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_ensemble"))
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env_remove("ENSEMBLE_CONFIG")
            .stdout(Stdio::from(out.try_clone().expect("log file")))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("ensemble starts");
        // reqwest is built without a TLS provider of its own: the server's is the one installed.
        ensemble::federation::tls::install_default_provider();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        let p = Proc { child, api: Api { base: format!("http://{listen}"), http } };
        eventually(60, || async {
            let r = p.api.http.get(format!("{}/_matrix/client/versions", p.api.base)).send().await.ok()?;
            r.status().is_success().then_some(())
        })
        .await;
        p
    }
}

impl Api {
    async fn req(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>) -> reqwest::Result<(u16, Value)> {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await?;
        let status = res.status().as_u16();
        let v = res.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, v))
    }

    async fn ok(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>) -> Value {
        let (status, v) = self.req(method, path, token, body).await.expect("request answered");
        assert_eq!(status, 200, "{path}: {v}");
        v
    }

    /// Registers through the UIA two-step with `m.login.dummy`; answers the access token.
    async fn register(&self, localpart: &str) -> String {
        let path = "/_matrix/client/v3/register";
        let first = json!({"username": localpart, "password": "crash-test-password"});
        let (status, v) = self.req(reqwest::Method::POST, path, None, Some(first)).await.expect("register");
        assert_eq!(status, 401, "{v}");
        let auth =
            json!({"username": localpart, "password": "crash-test-password", "auth": {"type": "m.login.dummy", "session": v["session"]}});
        let v = self.ok(reqwest::Method::POST, path, None, Some(auth)).await;
        v["access_token"].as_str().expect("token").to_owned()
    }

    /// Event IDs of the messages the search finds for `word`.
    async fn search(&self, token: &str, word: &str) -> Vec<String> {
        let body = json!({"search_categories": {"room_events": {"search_term": word}}});
        let v = self.ok(reqwest::Method::POST, "/_matrix/client/v3/search", Some(token), Some(body)).await;
        v["search_categories"]["room_events"]["results"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["result"]["event_id"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }
}

fn message_path(room: &str, txn: &str) -> String {
    format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}", enc(room))
}

/// One acknowledged send: its txn ID, its unique word, the event ID the server answered.
type Acked = (String, String, String);

async fn search_finds(s: &TestServer, u: &User, word: &str) -> usize {
    let body = json!({"search_categories": {"room_events": {"search_term": word, "filter": {"limit": 100}}}});
    let v = s.post("/_matrix/client/v3/search", &u.token, body).await.ok();
    v["search_categories"]["room_events"]["results"].as_array().map(Vec::len).unwrap_or(0)
}

/// Stops the server, spoils its search index with `spoil`, starts it again on the same data.
async fn restart_after(s: TestServer, spoil: impl FnOnce(&Path)) -> TestServer {
    let TestServer { server, dir, config, .. } = s;
    server.stop().await;
    spoil(&config.data_dir.join("search"));
    TestServer::start_with(dir, config).await
}

/// Replaces an event's stored JSON with text serde_json cannot read back (200 levels deep),
/// as the old edge let through.
async fn poison(s: &TestServer, event_id: &str) {
    use diesel::RunQueryDsl;
    use diesel::sql_types::Text;
    let bad = format!(r#"{{"type":"m.room.message","content":{}{}}}"#, "[".repeat(200), "]".repeat(200));
    let id = event_id.to_owned();
    let n = s
        .server
        .services
        .db
        .run(move |c| {
            Ok(ensemble::store::sql_query(c, "UPDATE events SET json = ? WHERE event_id = ?")
                .bind::<Text, _>(bad)
                .bind::<Text, _>(id)
                .execute(c)?)
        })
        .await
        .expect("poison the row");
    assert_eq!(n, 1, "the event row exists");
}

/// The error `ensemble::start` gives for a data directory, when it refuses to start.
async fn start_error(dir: &std::path::Path) -> String {
    match ensemble::start(test_config(dir)).await {
        Ok(server) => {
            server.stop().await;
            panic!("the server started");
        }
        Err(e) => e.message(),
    }
}

#[actix_rt::test]
async fn acknowledged_events_survive_sigkill_and_are_searchable_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path());
    let log = dir.path().join("server.log");
    let server = Proc::start(&config, &log).await;
    let api = server.api.clone();
    let token = api.register("crasher").await;
    let v = api.ok(reqwest::Method::POST, "/_matrix/client/v3/createRoom", Some(&token), Some(json!({}))).await;
    let room = v["room_id"].as_str().expect("room").to_owned();

    // 8 senders x 50 messages, each with a word no other message has; SIGKILL part-way.
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let mut senders = Vec::new();
    for t in 0..8 {
        let (api, token, room, acked) = (api.clone(), token.clone(), room.clone(), acked.clone());
        senders.push(tokio::spawn(async move {
            for i in 0..50 {
                let (txn, word) = (format!("crash-{t}-{i}"), format!("crashword{t}n{i}"));
                let body = json!({"msgtype": "m.text", "body": format!("message {word} from sender {t}")});
                match api.req(reqwest::Method::PUT, &message_path(&room, &txn), Some(&token), Some(body)).await {
                    Ok((200, v)) => {
                        let id = v["event_id"].as_str().expect("event_id").to_owned();
                        acked.lock().unwrap().push((txn, word, id));
                    }
                    // The server is gone: this send and the rest are not acknowledged.
                    _ => break,
                }
            }
        }));
    }
    eventually(60, || async { (acked.lock().unwrap().len() >= 120).then_some(()) }).await;
    drop(server); // SIGKILL, with sends in flight
    for s in senders {
        s.await.expect("sender");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 120 && acked.len() < 400, "{} acknowledged", acked.len());

    let server = Proc::start(&config, &log).await;
    let api = &server.api;
    let checks = acked.iter().map(|(txn, word, id)| {
        let (room, token) = (&room, &token);
        async move {
            let path = format!("/_matrix/client/v3/rooms/{}/event/{}", enc(room), enc(id));
            let ev = api.ok(reqwest::Method::GET, &path, Some(token), None).await;
            assert!(ev["content"]["body"].as_str().unwrap_or_default().contains(word.as_str()), "{ev}");
            // The same txn ID answers the same event, not a new one.
            let body = json!({"msgtype": "m.text", "body": "a retry"});
            let again = api.ok(reqwest::Method::PUT, &message_path(room, txn), Some(token), Some(body)).await;
            assert_eq!(again["event_id"].as_str(), Some(id.as_str()), "txn {txn}");
        }
    });
    futures_util::stream::iter(checks).buffer_unordered(8).collect::<Vec<()>>().await;
    // Indexing after the restart catches up asynchronously: poll until every word is found.
    let mut missing: Vec<&Acked> = acked.iter().collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !missing.is_empty() {
        let token = &token;
        let searches = missing.into_iter().map(|a| async move { (api.search(token, &a.1).await != vec![a.2.clone()]).then_some(a) });
        missing = futures_util::stream::iter(searches).buffer_unordered(8).filter_map(|a| async move { a }).collect().await;
        assert!(missing.is_empty() || std::time::Instant::now() < deadline, "never found by search: {missing:?}");
        if !missing.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[actix_rt::test]
async fn a_missing_or_unreadable_index_is_rebuilt_from_the_store() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    for i in 0..20 {
        s.send_text(&alice, &room, &format!("osprey number {i}")).await;
    }
    eventually(10, || async { (search_finds(&s, &alice, "osprey").await == 20).then_some(()) }).await;

    // The whole index directory deleted while stopped: before the fix it started empty, for good.
    let s = restart_after(s, |dir| std::fs::remove_dir_all(dir).expect("index removed")).await;
    // Served meanwhile, and new messages are found as usual.
    s.send_text(&alice, &room, "osprey after the loss").await;
    eventually(20, || async { (search_finds(&s, &alice, "osprey").await == 21).then_some(()) }).await;

    // Every file of the live index overwritten with garbage.
    let s = restart_after(s, |dir| {
        let current = std::fs::read_to_string(dir.join("CURRENT")).unwrap_or_else(|_| "idx-0".into());
        for f in std::fs::read_dir(dir.join(current.trim())).expect("index dir").flatten() {
            std::fs::write(f.path(), b"not an index").expect("spoiled");
        }
    })
    .await;
    eventually(20, || async { (search_finds(&s, &alice, "osprey").await == 21).then_some(()) }).await;
    s.get("/_matrix/client/v3/account/whoami", &alice.token).await.ok();
}

#[actix_rt::test]
async fn an_index_built_with_an_earlier_schema_is_rebuilt_from_the_store() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    for i in 0..20 {
        s.send_text(&alice, &room, &format!("heron number {i}")).await;
    }
    eventually(10, || async { (search_finds(&s, &alice, "heron").await == 20).then_some(()) }).await;

    // The live index replaced by an empty one with the schema of earlier versions (documents
    // keyed by event ID): opened as it is, its documents could never be deleted or replaced.
    let s = restart_after(s, |dir| {
        use tantivy::schema::{FAST, STORED, STRING, Schema, TEXT};
        let current = std::fs::read_to_string(dir.join("CURRENT")).unwrap_or_else(|_| "idx-0".into());
        let live = dir.join(current.trim());
        std::fs::remove_dir_all(&live).expect("index removed");
        std::fs::create_dir_all(&live).expect("index dir");
        let mut b = Schema::builder();
        b.add_text_field("event_id", STRING | STORED);
        b.add_text_field("shown_id", STORED);
        b.add_text_field("room_id", STRING | STORED);
        b.add_text_field("kind", STRING);
        b.add_text_field("content", TEXT);
        b.add_i64_field("stream", FAST);
        tantivy::Index::create_in_dir(&live, b.build()).expect("old index");
    })
    .await;
    eventually(20, || async { (search_finds(&s, &alice, "heron").await == 20).then_some(()) }).await;
    // Its documents are keyed as this version keys them: a redaction removes one.
    let hit = s.send_text(&alice, &room, "heron to redact").await;
    eventually(20, || async { (search_finds(&s, &alice, "heron").await == 21).then_some(()) }).await;
    s.put(&format!("/_matrix/client/v3/rooms/{}/redact/{}/redact-heron", enc(&room), enc(&hit)), &alice.token, json!({})).await.ok();
    eventually(20, || async { (search_finds(&s, &alice, "heron").await == 20).then_some(()) }).await;
}

#[actix_rt::test]
async fn acknowledged_events_survive_restart() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = public_room(&s, &alice, &[&bob]).await;

    let mut acked = Vec::new();
    for i in 0..50 {
        acked.push(event_id(&send_txn(&s, &alice.token, &room, &format!("before-{i}"), &format!("before {i}")).await.ok()));
    }
    assert_unique(&acked);
    let since = next_batch(&s.sync(&bob, None, 0).await);

    let s = s.restart().await;

    // Every acknowledged event is readable, by ID and in /messages, in send order.
    for (i, id) in acked.iter().enumerate() {
        let ev = s.get(&format!("{V3}/rooms/{}/event/{}", enc(&room), enc(id)), &bob.token).await.ok();
        assert_eq!(ev["event_id"], id.as_str());
        assert_eq!(ev["content"]["body"], format!("before {i}"));
        assert_eq!(ev["sender"], alice.user_id);
    }
    let listed = ids(&messages_only(&all_forward(&s, &bob.token, &room, 16).await));
    assert_eq!(listed, acked);

    // Old tokens still work.
    assert_eq!(whoami(&s, &alice.token).await.ok()["user_id"], alice.user_id);
    assert_eq!(whoami(&s, &bob.token).await.ok()["user_id"], bob.user_id);

    // Re-sending an old transaction returns the original event and adds nothing.
    let retried = event_id(&send_txn(&s, &alice.token, &room, "before-7", "before 7").await.ok());
    assert_eq!(retried, acked[7]);
    let retried = event_id(&send_txn(&s, &alice.token, &room, "before-49", "before 49").await.ok());
    assert_eq!(retried, acked[49]);
    assert_eq!(ids(&messages_only(&all_forward(&s, &bob.token, &room, 50).await)), acked);

    // New sends work and land after the old ones.
    let mut after = Vec::new();
    for i in 0..5 {
        after.push(event_id(&send_txn(&s, &alice.token, &room, &format!("after-{i}"), &format!("after {i}")).await.ok()));
    }
    after.push(s.send_text(&bob, &room, "bob after restart").await);
    let listed = ids(&messages_only(&all_forward(&s, &bob.token, &room, 50).await));
    let expected: Vec<String> = acked.iter().chain(after.iter()).cloned().collect();
    // A sync token from before the restart still works and yields exactly the new events.
    let filter = json!({"room": {"timeline": {"limit": 100}}}).to_string();
    let inc = s.get(&sync_path(Some(&since), 0, Some(&filter)), &bob.token).await.ok();
    let synced: Vec<Value> = timeline(&inc, &room).into_iter().cloned().collect();
    assert_eq!(ids(&messages_only(&synced)), after, "{inc}");
    assert!(s.joined_rooms(&bob).await.contains(&room));
    assert_eq!(listed, expected);
    // And newest first the new ones lead.
    let newest = ids(&messages_only(&all_backward(&s, &alice.token, &room, None, None, 7).await));
    let reversed: Vec<String> = expected.iter().rev().cloned().collect();
    assert_eq!(newest, reversed);
}

#[actix_rt::test]
async fn an_unreadable_stored_event_does_not_brick_the_room() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    s.join(&carol, &room).await.ok();
    let before = s.send_text(&alice, &room, "before").await;
    let bad_msg = s.send_text(&bob, &room, "to be poisoned").await;
    let after = s.send_text(&alice, &room, "after").await;
    let since = s.sync(&alice, None, 0).await["next_batch"].as_str().unwrap().to_owned();
    // Bob's join (current state) and a message become unreadable.
    let state = s.get(&room_path(&room, "state"), &alice.token).await.ok();
    let bob_join =
        state.as_array().unwrap().iter().find(|e| e["state_key"] == bob.user_id.as_str()).unwrap()["event_id"].as_str().unwrap().to_owned();
    poison(&s, &bad_msg).await;
    poison(&s, &bob_join).await;

    // A restart: the room is loaded again from the store, past the unreadable rows.
    let s = s.restart().await;
    assert_eq!(s.server.services.directory.active_rooms(), 0);
    let newer = s.send_text(&alice, &room, "after restart").await;

    // History reads skip the bad row, and paging reaches past it.
    let page = s.get(&room_path(&room, "messages?dir=b&limit=3"), &alice.token).await.ok();
    let ids = event_ids(&page["chunk"]);
    assert_eq!(ids, vec![newer.clone(), after.clone(), before.clone()], "page: {page}");
    assert!(page["end"].is_string(), "a full page names the next: {page}");
    s.get(&room_path(&room, &format!("event/{}", enc(&bad_msg))), &alice.token).await.err(404, "M_NOT_FOUND");
    s.get(&room_path(&room, "state"), &alice.token).await.ok();
    s.get(&room_path(&room, "members"), &carol.token).await.ok();

    // Syncs, initial and incremental, for every member including the one whose join is unreadable.
    for u in [&alice, &bob, &carol] {
        let sync = s.sync(u, None, 0).await;
        assert!(sync["rooms"]["join"][&room].is_object(), "{} initial sync: {sync}", u.user_id);
    }
    let inc = s.sync(&alice, Some(&since), 0).await;
    assert_eq!(timeline(&inc, &room).iter().map(|e| e["event_id"].as_str().unwrap()).collect::<Vec<_>>(), vec![newer.as_str()]);

    // The room still works: the unreadable member can still leave and come back.
    s.post(&room_path(&room, "leave"), &bob.token, json!({})).await.ok();
    s.join(&bob, &room).await.ok();
    s.send_text(&bob, &room, "bob is back").await;
    // Redacting the unreadable message succeeds and leaves it readable, redacted.
    let redaction = s.put(&room_path(&room, &format!("redact/{}/r1", enc(&bad_msg))), &alice.token, json!({})).await.ok();
    let target = s.get(&room_path(&room, &format!("event/{}", enc(&bad_msg))), &alice.token).await.ok();
    assert_eq!(target["content"], json!({}));
    assert_eq!(target["sender"], bob.user_id.as_str());
    assert_eq!(target["unsigned"]["redacted_because"]["event_id"], redaction["event_id"]);

    // Evacuate and purge reach the room.
    let body = s.post(&format!("/_dendrite/admin/evacuateRoom/{}", enc(&room)), &admin.token, json!({})).await.ok();
    assert_eq!(body["affected"].as_array().map(Vec::len), Some(3), "{body}");
    s.post(&format!("/_dendrite/admin/purgeRoom/{}", enc(&room)), &admin.token, json!({})).await.ok();
    s.get(&room_path(&room, "state"), &alice.token).await.err(403, "M_FORBIDDEN");
}

#[actix_rt::test]
async fn a_missing_or_unreadable_signing_key_stops_the_start_unless_the_database_is_new() {
    let s = TestServer::start().await;
    // Events signed with the key make it irreplaceable.
    let alice = s.register_user("alice").await;
    s.create_room(&alice, json!({})).await;
    let key_path = s.dir.path().join("signing.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).expect("key written").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key is readable by its owner only");
    }
    let original = std::fs::read(&key_path).unwrap();
    let TestServer { server, dir, .. } = s;
    server.stop().await;

    // Missing: refused, and no new key is written.
    std::fs::remove_file(&key_path).unwrap();
    let err = start_error(dir.path()).await;
    assert!(err.contains("signing key") && err.contains("missing"), "{err}");
    assert!(!key_path.exists());

    // Not text: refused, and the file is left as it was.
    std::fs::write(&key_path, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    let err = start_error(dir.path()).await;
    assert!(err.contains("signing key"), "{err}");
    assert_eq!(std::fs::read(&key_path).unwrap(), vec![0xff, 0xfe, 0x00, 0x80]);

    // Truncated: refused.
    std::fs::write(&key_path, "ed25519_only_a_version\n").unwrap();
    let err = start_error(dir.path()).await;
    assert!(err.contains("malformed"), "{err}");

    // Restored: the server starts with the same key.
    std::fs::write(&key_path, &original).unwrap();
    let config = test_config(dir.path());
    let s = TestServer::start_with(dir, config).await;
    let keys = s.req("GET", "/_matrix/key/v2/server", None, None).await.ok();
    let version = String::from_utf8(original).unwrap().split_whitespace().next().unwrap().to_owned();
    assert!(keys["verify_keys"].get(format!("ed25519:{version}")).is_some(), "{keys}");
}
