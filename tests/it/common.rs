//! Boots the real server in-process on 127.0.0.1:0 with a fresh SQLite database in a temp dir,
//! and talks HTTP to it.
//!
//! The one place for helpers more than one test file needs: registering (`register_user`,
//! `register_admin`, `new_device`), rooms (`create_room`, `public_room`, `join`, `leave`, power
//! levels), sends and reads (`send_text`, `send_txn`, `all_forward`, `all_backward`, `sync`), the
//! search actor, and the Synapse admin calls that check every answer for a leaked password hash.

#![allow(dead_code)]

use ensemble::Config;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The client-server API prefix.
pub const V3: &str = "/_matrix/client/v3";

pub struct TestServer {
    pub server: ensemble::Server,
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub http: reqwest::Client,
}

#[derive(Debug, Clone)]
pub struct User {
    pub user_id: String,
    pub token: String,
    pub device_id: String,
    pub password: String,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
}

impl Resp {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn ok(self) -> Value {
        assert_eq!(self.status, 200, "expected 200, got {} {}", self.status, self.body);
        self.body
    }
    #[track_caller]
    pub fn err(&self, status: u16, errcode: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["errcode"], errcode, "body: {}", self.body);
        assert!(self.body["error"].is_string(), "error text missing: {}", self.body);
    }
}

/// Rate limits no test reaches unless it sets its own.
pub fn unlimited() -> ensemble::config::RateLimit {
    ensemble::config::RateLimit::new(1e6, 1_000_000)
}

/// With `ENSEMBLE_TEST_PG` set (a `postgres://` URL of a server the tests may create databases
/// on, as `make test-postgres` sets it), every test server stores into PostgreSQL: one database
/// per data directory, so a test that restarts a server on its directory finds its data again.
pub fn test_database_url(dir: &std::path::Path) -> String {
    let Ok(base) = std::env::var("ENSEMBLE_TEST_PG") else { return String::new() };
    use diesel::{Connection, RunQueryDsl};
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut h);
    let name = format!("t_{:016x}", h.finish());
    let mut admin = diesel::PgConnection::establish(&base).expect("ENSEMBLE_TEST_PG names a reachable PostgreSQL");
    if let Err(e) = diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)
        && !e.to_string().contains("already exists")
    {
        panic!("creating the test database {name}: {e}");
    }
    let (server, _) = base.rsplit_once('/').expect("a database URL ends with /<database>");
    format!("{server}/{name}")
}

pub fn test_config(dir: &std::path::Path) -> Config {
    use ensemble::config::{InviteRateLimits, JoinRateLimits, LoginRateLimits};
    Config {
        server_name: "test.local".into(),
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        database_url: test_database_url(dir),
        registration_shared_secret: "test-shared-secret".into(),
        password_hash_log_n: 4,
        enable_registration: true,
        workers: 2,
        log: "warn".into(),
        // Tests fire many logins, registrations and sends at once from one address.
        password_hash_queue_per_slot: 10_000,
        rc_message: unlimited(),
        rc_registration: unlimited(),
        rc_login: LoginRateLimits { address: unlimited(), account: unlimited(), failed_attempts: unlimited() },
        rc_joins: JoinRateLimits { local: unlimited(), remote: unlimited() },
        rc_invites: InviteRateLimits { per_room: unlimited(), per_user: unlimited(), per_issuer: unlimited() },
        rc_reports: unlimited(),
        ..Config::default()
    }
}

impl TestServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = test_config(dir.path());
        Self::start_with(dir, config).await
    }

    pub async fn start_with(dir: tempfile::TempDir, config: Config) -> Self {
        let _ =
            env_logger::builder().is_test(true).parse_filters(&std::env::var("ENSEMBLE_LOG").unwrap_or_else(|_| "warn".into())).try_init();
        let server = ensemble::start(config.clone()).await.expect("server starts");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        Self { server, dir, config, http }
    }

    /// A server that federates: named `127.0.0.1:<port>` after its TLS listener, presenting the
    /// test PKI's certificate and trusting `trusted_ca` for its own outgoing requests.
    pub async fn start_federating(pki: &Pki, trusted_ca: &std::path::Path) -> Self {
        let _ =
            env_logger::builder().is_test(true).parse_filters(&std::env::var("ENSEMBLE_LOG").unwrap_or_else(|_| "warn".into())).try_init();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind TLS port");
        let port = listener.local_addr().expect("addr").port();
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config {
            server_name: format!("127.0.0.1:{port}"),
            tls_listen: format!("127.0.0.1:{port}"),
            tls_certificate_path: pki.cert.clone(),
            tls_private_key_path: pki.key.clone(),
            federation_custom_ca_list: vec![trusted_ca.to_path_buf()],
            ..test_config(dir.path())
        };
        let server = ensemble::start_with_tls_listener(config.clone(), Some(listener)).await.expect("server starts");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        Self { server, dir, config, http }
    }

    /// Stops the server and starts a new one on the same data directory.
    pub async fn restart(self) -> Self {
        let TestServer { server, dir, config, .. } = self;
        server.stop().await;
        Self::start_with(dir, config).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.base_url, path)
    }

    pub fn server_name(&self) -> &str {
        &self.config.server_name
    }

    pub async fn req(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut r = self.http.request(method, self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.expect("request sent");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Resp { status, body }
    }

    /// Sends raw bytes as the body (for malformed JSON tests).
    pub async fn raw(&self, method: &str, path: &str, token: Option<&str>, body: Vec<u8>) -> Resp {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut r = self.http.request(method, self.url(path)).header("content-type", "application/json").body(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let res = r.send().await.expect("request sent");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp { status, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.req("GET", path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.req("POST", path, Some(token), Some(body)).await
    }
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.req("PUT", path, Some(token), Some(body)).await
    }

    /// Registers through the UIA two-step with `m.login.dummy`.
    pub async fn register_user(&self, localpart: &str) -> User {
        let password = format!("pw-{localpart}-secret");
        let first = self.req("POST", "/_matrix/client/v3/register", None, Some(json!({"username": localpart, "password": password}))).await;
        assert_eq!(first.status, 401, "{}", first.body);
        let session = first.body["session"].as_str().expect("session").to_owned();
        let body = self
            .req(
                "POST",
                "/_matrix/client/v3/register",
                None,
                Some(json!({"username": localpart, "password": password, "auth": {"type": "m.login.dummy", "session": session}})),
            )
            .await
            .ok();
        User {
            user_id: body["user_id"].as_str().expect("user_id").to_owned(),
            token: body["access_token"].as_str().expect("token").to_owned(),
            device_id: body["device_id"].as_str().expect("device").to_owned(),
            password,
        }
    }

    /// Registers a user and makes them a server admin (directly in the store, as the CLI does).
    pub async fn register_admin(&self, localpart: &str) -> User {
        let u = self.register_user(localpart).await;
        let db = self.server.services.db.clone();
        let id = u.user_id.clone();
        db.run(move |c| ensemble::store::users::set_admin(c, &id, true)).await.expect("set admin");
        self.server.services.tokens.forget_user(&u.user_id);
        u
    }

    pub async fn login(&self, user: &str, password: &str) -> Resp {
        self.req(
            "POST",
            "/_matrix/client/v3/login",
            None,
            Some(json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password})),
        )
        .await
    }

    pub async fn create_room(&self, user: &User, body: Value) -> String {
        let b = self.post("/_matrix/client/v3/createRoom", &user.token, body).await.ok();
        b["room_id"].as_str().expect("room_id").to_owned()
    }

    pub async fn join(&self, user: &User, room: &str) -> Resp {
        self.post(&format!("/_matrix/client/v3/rooms/{}/join", enc(room)), &user.token, json!({})).await
    }

    pub async fn invite(&self, user: &User, room: &str, target: &str) -> Resp {
        self.post(&format!("/_matrix/client/v3/rooms/{}/invite", enc(room)), &user.token, json!({"user_id": target})).await
    }

    pub async fn send_text_resp(&self, user: &User, room: &str, text: &str) -> Resp {
        let txn = format!("t{}", next_txn());
        self.put(
            &format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}", enc(room)),
            &user.token,
            json!({"msgtype": "m.text", "body": text}),
        )
        .await
    }

    pub async fn send_text(&self, user: &User, room: &str, text: &str) -> String {
        let b = self.send_text_resp(user, room, text).await.ok();
        b["event_id"].as_str().expect("event_id").to_owned()
    }

    pub async fn sync(&self, user: &User, since: Option<&str>, timeout_ms: u64) -> Value {
        let mut path = format!("/_matrix/client/v3/sync?timeout={timeout_ms}");
        if let Some(s) = since {
            path.push_str(&format!("&since={s}"));
        }
        self.get(&path, &user.token).await.ok()
    }

    pub async fn joined_rooms(&self, user: &User) -> Vec<String> {
        let b = self.get("/_matrix/client/v3/joined_rooms", &user.token).await.ok();
        b["joined_rooms"].as_array().expect("list").iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect()
    }
}

pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn next_txn() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let base = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    base + N.fetch_add(1, Ordering::Relaxed)
}

/// Polls `f` until it returns Some, or panics after `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "condition not met within {secs}s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Timeline events of a room in a sync response.
pub fn timeline<'a>(sync: &'a Value, room: &str) -> Vec<&'a Value> {
    sync["rooms"]["join"][room]["timeline"]["events"].as_array().map(|a| a.iter().collect()).unwrap_or_default()
}

/// A throwaway certificate authority, a server certificate it signs for 127.0.0.1 and
/// localhost, and a second, unrelated authority (trusting only that one trusts no test server).
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: std::path::PathBuf,
    pub other_ca: std::path::PathBuf,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

impl Pki {
    pub fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = |name: &str| {
            let key = KeyPair::generate().expect("CA key");
            let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            let cert = params.self_signed(&key).expect("CA cert");
            (params, key, cert)
        };
        let (ca_params, ca_key, ca_cert) = ca("Ensemble test CA");
        let (_, _, other_cert) = ca("Some other CA");
        let key = KeyPair::generate().expect("server key");
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
        params.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
        let cert = params.signed_by(&key, &Issuer::new(ca_params, ca_key)).expect("server cert");
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).expect("write PEM");
            path
        };
        Pki {
            ca: write("ca.pem", ca_cert.pem()),
            other_ca: write("other-ca.pem", other_cert.pem()),
            cert: write("server.pem", cert.pem()),
            key: write("server.key", key.serialize_pem()),
            dir,
        }
    }

    /// An HTTPS client trusting this PKI, as another homeserver would be.
    pub fn client(&self) -> reqwest::Client {
        let tls = ensemble::federation::tls::client_config(std::slice::from_ref(&self.ca)).expect("TLS config");
        reqwest::Client::builder().use_preconfigured_tls(tls).timeout(Duration::from_secs(30)).build().expect("client")
    }
}

// ---------------------------------------------------------------------------------------------
// Rooms: paths, sends and reads every area uses.
// ---------------------------------------------------------------------------------------------

/// The path of a send of `kind` with transaction ID `txn`.
pub fn send_path(room: &str, kind: &str, txn: &str) -> String {
    format!("{V3}/rooms/{}/send/{kind}/{}", enc(room), enc(txn))
}

/// PUTs an m.text message with an explicit transaction ID.
pub async fn send_txn(s: &TestServer, token: &str, room: &str, txn: &str, body: &str) -> Resp {
    s.put(&send_path(room, "m.room.message", txn), token, json!({"msgtype": "m.text", "body": body})).await
}

/// The `event_id` of an answer or an event.
pub fn event_id(v: &Value) -> String {
    v["event_id"].as_str().unwrap_or_else(|| panic!("no event_id in {v}")).to_owned()
}

/// The event IDs of a list of events.
pub fn ids(events: &[Value]) -> Vec<String> {
    events.iter().map(event_id).collect()
}

/// The `m.room.message` events of a list.
pub fn messages_only(events: &[Value]) -> Vec<Value> {
    events.iter().filter(|e| e["type"] == "m.room.message").cloned().collect()
}

pub fn assert_unique(list: &[String]) {
    let set: std::collections::HashSet<&String> = list.iter().collect();
    assert_eq!(set.len(), list.len(), "duplicates in {list:?}");
}

/// Every event of the room, oldest first, through `/messages?dir=f` in pages of `page`.
pub async fn all_forward(s: &TestServer, token: &str, room: &str, page: usize) -> Vec<Value> {
    paginate(s, token, room, "f", None, None, page).await
}

/// Events newest first through `/messages?dir=b`, starting at `from` and stopping at `to`.
pub async fn all_backward(s: &TestServer, token: &str, room: &str, from: Option<&str>, to: Option<&str>, page: usize) -> Vec<Value> {
    paginate(s, token, room, "b", from, to, page).await
}

/// Every page of `/messages` in direction `dir` until a page comes without `end`.
async fn paginate(s: &TestServer, token: &str, room: &str, dir: &str, from: Option<&str>, to: Option<&str>, page: usize) -> Vec<Value> {
    let mut from = from.map(str::to_owned);
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let mut p = format!("{V3}/rooms/{}/messages?dir={dir}&limit={page}", enc(room));
        if let Some(f) = &from {
            p.push_str(&format!("&from={}", enc(f)));
        }
        if let Some(t) = to {
            p.push_str(&format!("&to={}", enc(t)));
        }
        let body = s.get(&p, token).await.ok();
        let chunk = body["chunk"].as_array().expect("chunk");
        assert!(chunk.len() <= page, "page larger than the limit: {}", chunk.len());
        out.extend(chunk.iter().cloned());
        match body["end"].as_str() {
            Some(e) => from = Some(e.to_owned()),
            None => return out,
        }
    }
    panic!("pagination ({dir}) does not terminate");
}

/// A `/sync` path with an optional `since` token and filter.
pub fn sync_path(since: Option<&str>, timeout_ms: u64, filter: Option<&str>) -> String {
    let mut p = format!("{V3}/sync?timeout={timeout_ms}");
    if let Some(s) = since {
        p.push_str(&format!("&since={}", enc(s)));
    }
    if let Some(f) = filter {
        p.push_str(&format!("&filter={}", enc(f)));
    }
    p
}

/// The token a sync answer gives for the next one.
pub fn next_batch(sync: &Value) -> String {
    sync["next_batch"].as_str().unwrap_or_else(|| panic!("no next_batch: {sync}")).to_owned()
}

/// A public room made by `creator` that each of `members` has joined.
pub async fn public_room(s: &TestServer, creator: &User, members: &[&User]) -> String {
    let room = s.create_room(creator, json!({"preset": "public_chat"})).await;
    for m in members {
        s.join(m, &room).await.ok();
    }
    room
}

/// A client path under `/rooms/<room>/`.
pub fn room_path(room: &str, rest: &str) -> String {
    format!("{V3}/rooms/{}/{rest}", enc(room))
}

pub async fn set_name(s: &TestServer, user: &User, room: &str, name: &str) -> Resp {
    s.put(&room_path(room, "state/m.room.name/"), &user.token, json!({ "name": name })).await
}

pub async fn power_levels(s: &TestServer, user: &User, room: &str) -> Value {
    s.get(&room_path(room, "state/m.room.power_levels/"), &user.token).await.ok()
}

pub async fn put_power_levels(s: &TestServer, user: &User, room: &str, content: Value) -> Resp {
    s.put(&room_path(room, "state/m.room.power_levels/"), &user.token, content).await
}

/// Sets `target`'s level through `by`'s m.room.power_levels update.
pub async fn set_level(s: &TestServer, by: &User, room: &str, target: &str, level: i64) -> Resp {
    let mut pl = power_levels(s, by, room).await;
    pl["users"][target] = json!(level);
    put_power_levels(s, by, room, pl).await
}

pub async fn leave(s: &TestServer, user: &User, room: &str) -> Resp {
    s.post(&room_path(room, "leave"), &user.token, json!({})).await
}

/// The event IDs of a `chunk`, skipping any without one.
pub fn event_ids(chunk: &Value) -> Vec<String> {
    chunk.as_array().map(|a| a.iter().filter_map(|e| e["event_id"].as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Accounts and sessions.
// ---------------------------------------------------------------------------------------------

pub async fn whoami(s: &TestServer, token: &str) -> Resp {
    s.get(&format!("{V3}/account/whoami"), token).await
}

/// The same user logged in again, on a new device.
pub async fn new_device(s: &TestServer, user: &User) -> User {
    let b = s.login(&user.user_id, &user.password).await.ok();
    User {
        token: b["access_token"].as_str().expect("token").to_owned(),
        device_id: b["device_id"].as_str().expect("device").to_owned(),
        ..user.clone()
    }
}

/// The m.login.password UIA auth dict for `user`.
pub fn password_auth(user: &User, password: &str, session: &str) -> Value {
    json!({
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user.user_id},
        "password": password,
        "session": session,
    })
}

/// Asserts a UIA 401 offering m.login.password and returns its session.
#[track_caller]
pub fn uia_session(r: &Resp) -> String {
    assert_eq!(r.status, 401, "expected a UIA challenge: {}", r.body);
    let flows = r.body["flows"].as_array().unwrap_or_else(|| panic!("no flows: {}", r.body));
    assert!(
        flows.iter().any(|f| f["stages"].as_array().is_some_and(|st| st.iter().any(|x| x == "m.login.password"))),
        "m.login.password not offered: {}",
        r.body
    );
    let session = r.body["session"].as_str().unwrap_or_else(|| panic!("no session: {}", r.body));
    assert!(!session.is_empty());
    session.to_owned()
}

// ---------------------------------------------------------------------------------------------
// The server keeps working; search, media and admin helpers.
// ---------------------------------------------------------------------------------------------

/// A server with alice (in a room she created) and bob (registered, in no room).
pub async fn alice_bob_and_a_room() -> (TestServer, User, User, String) {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat", "name": "Bad input"})).await;
    (s, alice, bob, room)
}

/// The server still answers ordinary requests: no panic took an actor or a worker down.
pub async fn still_works(s: &TestServer, user: &User, room: &str) {
    let id = s.send_text(user, room, "still alive").await;
    let ev = s.get(&room_path(room, &format!("event/{}", enc(&id))), &user.token).await.ok();
    assert_eq!(ev["content"]["body"], "still alive");
    let who = whoami(s, &user.token).await.ok();
    assert_eq!(who["user_id"], user.user_id);
    s.sync(user, None, 0).await;
}

/// The server still serves an authenticated request.
pub async fn alive(s: &TestServer, u: &User) {
    whoami(s, &u.token).await.ok();
}

/// Commits what the search actor has buffered; answers the number of documents indexed.
pub async fn flush_search(s: &TestServer) -> u64 {
    s.server.services.search.send(ensemble::actors::search::Flush).await.expect("search actor alive")
}

/// A real PNG of the given size, so thumbnails have something to scale.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 128]));
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png).expect("png");
    buf.into_inner()
}

/// A server notice from `admin` to `to`.
pub async fn send_notice(s: &TestServer, admin: &User, to: &User) {
    let body = json!({"user_id": to.user_id, "content": {"msgtype": "m.text", "body": "hi"}});
    s.post("/_synapse/admin/v1/send_server_notice", &admin.token, body).await.ok();
}

/// A Dendrite admin API path.
pub fn dendrite(rest: &str) -> String {
    format!("/_dendrite/admin/{rest}")
}

// ---------------------------------------------------------------------------------------------
// Synapse admin API calls: every response is also checked for a leaked password hash.
// ---------------------------------------------------------------------------------------------

pub const SERVER: &str = "test.local";

/// A Synapse admin API path.
pub fn sa(rest: &str) -> String {
    format!("/_synapse/admin/{rest}")
}

pub fn v2_user(id: &str) -> String {
    sa(&format!("v2/users/{}", enc(id)))
}

pub fn v1_user(id: &str, rest: &str) -> String {
    sa(&format!("v1/users/{}/{rest}", enc(id)))
}

pub fn devices_path(id: &str) -> String {
    sa(&format!("v2/users/{}/devices", enc(id)))
}

pub fn device_path(id: &str, device: &str) -> String {
    sa(&format!("v2/users/{}/devices/{}", enc(id), enc(device)))
}

pub fn client(rest: &str) -> String {
    format!("{V3}/{rest}")
}

pub fn local(localpart: &str) -> String {
    format!("@{localpart}:{SERVER}")
}

/// No response of any endpoint may carry a password hash, however deep.
pub fn assert_no_password_hash(v: &Value, ctx: &str) {
    match v {
        Value::Object(m) => {
            assert!(!m.contains_key("password_hash"), "password_hash in the response of {ctx}: {v}");
            m.values().for_each(|x| assert_no_password_hash(x, ctx));
        }
        Value::Array(a) => a.iter().for_each(|x| assert_no_password_hash(x, ctx)),
        _ => {}
    }
}

/// Every request of the Synapse admin tests goes through here, so every response is checked for hashes.
pub async fn call(s: &TestServer, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
    let r = s.req(method, path, token, body).await;
    assert_no_password_hash(&r.body, &format!("{method} {path}"));
    r
}

pub async fn call_raw(s: &TestServer, method: &str, path: &str, token: &str, body: &[u8]) -> Resp {
    let r = s.raw(method, path, Some(token), body.to_vec()).await;
    assert_no_password_hash(&r.body, &format!("{method} {path}"));
    r
}

pub async fn aget(s: &TestServer, token: &str, path: &str) -> Resp {
    call(s, "GET", path, Some(token), None).await
}

pub async fn aput(s: &TestServer, token: &str, path: &str, body: Value) -> Resp {
    call(s, "PUT", path, Some(token), Some(body)).await
}

pub async fn apost(s: &TestServer, token: &str, path: &str, body: Value) -> Resp {
    call(s, "POST", path, Some(token), Some(body)).await
}

pub async fn adelete(s: &TestServer, token: &str, path: &str) -> Resp {
    call(s, "DELETE", path, Some(token), None).await
}

/// A password login whose answer is checked for a leaked hash.
pub async fn login_checked(s: &TestServer, user: &str, password: &str) -> Resp {
    let r = s.login(user, password).await;
    assert_no_password_hash(&r.body, "login");
    r
}

/// A login on a device ID of the caller's choosing; answers the access token.
pub async fn login_on(s: &TestServer, user: &str, password: &str, device: &str) -> String {
    let body =
        json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password, "device_id": device});
    let b = call(s, "POST", &client("login"), None, Some(body)).await.ok();
    b["access_token"].as_str().expect("access_token").to_owned()
}

#[track_caller]
pub fn assert_token_dead(r: &Resp) {
    r.err(401, "M_UNKNOWN_TOKEN");
}

pub async fn user_json(s: &TestServer, admin: &User, id: &str) -> Value {
    aget(s, &admin.token, &v2_user(id)).await.ok()
}

pub fn now_ms() -> i64 {
    ensemble::ids::now_ms()
}

/// Sets an HTTP pusher, with `extra` fields overriding the defaults.
pub async fn set_http_pusher(s: &TestServer, token: &str, app_id: &str, pushkey: &str, extra: Value) -> Resp {
    let mut body = json!({
        "kind": "http",
        "app_id": app_id,
        "pushkey": pushkey,
        "app_display_name": "Example App",
        "device_display_name": "Some phone",
        "lang": "en",
        "data": {"url": "https://push.example.org/_matrix/push/v1/notify", "format": "event_id_only"},
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    apost(s, token, &client("pushers/set"), body).await
}

/// Every user-scoped route of the Synapse user admin API for `user`, with a plausible body.
pub fn user_routes(user: &str, device: &str) -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        ("GET", v2_user(user), None),
        ("PUT", v2_user(user), Some(json!({"displayname": "Changed by someone"}))),
        ("POST", sa(&format!("v1/deactivate/{}", enc(user))), Some(json!({"erase": true}))),
        ("POST", sa(&format!("v1/reset_password/{}", enc(user))), Some(json!({"new_password": "a-brand-new-password"}))),
        ("GET", v1_user(user, "admin"), None),
        ("PUT", v1_user(user, "admin"), Some(json!({"admin": true}))),
        ("GET", v1_user(user, "joined_rooms"), None),
        ("POST", v1_user(user, "login"), Some(json!({}))),
        ("GET", devices_path(user), None),
        ("POST", devices_path(user), Some(json!({"device_id": "NEWDEV"}))),
        ("POST", sa(&format!("v2/users/{}/delete_devices", enc(user))), Some(json!({"devices": [device]}))),
        ("GET", device_path(user, device), None),
        ("PUT", device_path(user, device), Some(json!({"display_name": "renamed"}))),
        ("DELETE", device_path(user, device), None),
        ("GET", v1_user(user, "pushers"), None),
        ("POST", v1_user(user, "shadow_ban"), None),
        ("DELETE", v1_user(user, "shadow_ban"), None),
        ("GET", v1_user(user, "accountdata"), None),
    ]
}
