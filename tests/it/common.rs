//! Boots the real server in-process on 127.0.0.1:0 with a fresh SQLite database in a temp dir,
//! and talks HTTP to it.

#![allow(dead_code)]

use ensemble::Config;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

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

pub fn test_config(dir: &std::path::Path) -> Config {
    use ensemble::config::{InviteRateLimits, JoinRateLimits, LoginRateLimits};
    Config {
        server_name: "test.local".into(),
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
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
