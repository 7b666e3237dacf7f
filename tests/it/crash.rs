//! Crash safety of the real binary: concurrent sends, SIGKILL, restart on the same data
//! directory; and a search index that is missing or unreadable at start (issue 8, item 6).

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

fn send_path(room: &str, txn: &str) -> String {
    format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}", enc(room))
}

/// One acknowledged send: its txn ID, its unique word, the event ID the server answered.
type Acked = (String, String, String);

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
                match api.req(reqwest::Method::PUT, &send_path(&room, &txn), Some(&token), Some(body)).await {
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
            let again = api.ok(reqwest::Method::PUT, &send_path(room, txn), Some(token), Some(body)).await;
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
