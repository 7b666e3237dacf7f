//! What the in-process benches share: a server on loopback in a temp dir, and the few client
//! calls they make over HTTP. Included by each bench with `#[path]`, so not every bench uses all.
#![allow(dead_code)]

use ensemble::config::{InviteRateLimits, JoinRateLimits, LoginRateLimits, RateLimit};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How many setup requests run at once: enough to batch commits, few enough for two cores.
pub const SETUP_CONCURRENCY: usize = 32;

pub struct Bench {
    pub server: ensemble::Server,
    pub http: reqwest::Client,
    pub base: String,
    // Dropped last: the temp dir goes once the server has stopped.
    pub dir: tempfile::TempDir,
}

#[derive(Clone)]
pub struct User {
    pub user_id: String,
    pub token: String,
}

fn unlimited() -> RateLimit {
    RateLimit::new(1e6, 1_000_000)
}

/// A server without rate limits or presence (a presence change would wake long-polls early),
/// passivating idle actors after `actor_idle_secs`.
pub async fn start(actor_idle_secs: u64) -> Bench {
    start_in(tempfile::tempdir().expect("tempdir"), actor_idle_secs).await
}

async fn start_in(dir: tempfile::TempDir, actor_idle_secs: u64) -> Bench {
    let cfg = ensemble::Config {
        server_name: "bench.local".into(),
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        password_hash_log_n: 4,
        password_hash_queue_per_slot: 10_000,
        enable_registration: true,
        presence_enabled: false,
        actor_idle_secs,
        log: "warn".into(),
        rc_message: unlimited(),
        rc_registration: unlimited(),
        rc_login: LoginRateLimits { address: unlimited(), account: unlimited(), failed_attempts: unlimited() },
        rc_joins: JoinRateLimits { local: unlimited(), remote: unlimited() },
        rc_invites: InviteRateLimits { per_room: unlimited(), per_user: unlimited(), per_issuer: unlimited() },
        rc_reports: unlimited(),
        ..ensemble::Config::default()
    };
    let server = ensemble::start(cfg).await.expect("server");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("client");
    let base = server.base_url.clone();
    Bench { server, http, base, dir }
}

/// Runs `f` over `items` with at most [`SETUP_CONCURRENCY`] at once, answers in input order.
pub async fn bounded<I, T, F, Fut>(items: I, f: F) -> Vec<T>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = T>,
{
    futures_util::stream::iter(items).map(f).buffered(SETUP_CONCURRENCY).collect().await
}

pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn answer(resp: reqwest::Result<reqwest::Response>, what: &str) -> Value {
    let resp = resp.unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or_else(|e| panic!("{what}: body: {e}"));
    assert!(status.is_success(), "{what}: {status} {body}");
    body
}

impl Bench {
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(req.send().await, path).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Value {
        answer(self.http.put(format!("{}{path}", self.base)).bearer_auth(token).json(&body).send().await, path).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Value {
        answer(self.http.get(format!("{}{path}", self.base)).bearer_auth(token).send().await, path).await
    }

    /// Registers through `m.login.dummy`.
    pub async fn register(&self, localpart: &str) -> User {
        let body = json!({"username": localpart, "password": "bench-password", "auth": {"type": "m.login.dummy"}});
        let reg = self.post("/_matrix/client/v3/register", None, body).await;
        User {
            user_id: reg["user_id"].as_str().expect("user_id").to_owned(),
            token: reg["access_token"].as_str().expect("token").to_owned(),
        }
    }

    pub async fn register_many(&self, prefix: &str, n: usize) -> Vec<User> {
        bounded(0..n, |i| async move { self.register(&format!("{prefix}{i}")).await }).await
    }

    pub async fn create_room(&self, user: &User, body: Value) -> String {
        let b = self.post("/_matrix/client/v3/createRoom", Some(&user.token), body).await;
        b["room_id"].as_str().expect("room_id").to_owned()
    }

    pub async fn join(&self, user: &User, room: &str) {
        self.post(&format!("/_matrix/client/v3/rooms/{}/join", enc(room)), Some(&user.token), json!({})).await;
    }

    /// Sends a text message; answers its event ID.
    pub async fn send_text(&self, user: &User, room: &str, text: &str) -> String {
        static TXN: AtomicU64 = AtomicU64::new(0);
        let txn = TXN.fetch_add(1, Ordering::Relaxed);
        let path = format!("/_matrix/client/v3/rooms/{}/send/m.room.message/b{txn}", enc(room));
        let b = self.put(&path, &user.token, json!({"msgtype": "m.text", "body": text})).await;
        b["event_id"].as_str().expect("event_id").to_owned()
    }

    /// One `/sync`; `filter` is inline JSON.
    pub async fn sync(&self, user: &User, since: Option<&str>, timeout_ms: u64, filter: Option<&str>) -> Value {
        self.get(&sync_path(since, timeout_ms, filter), &user.token).await
    }
}

pub fn sync_path(since: Option<&str>, timeout_ms: u64, filter: Option<&str>) -> String {
    let mut p = format!("/_matrix/client/v3/sync?timeout={timeout_ms}");
    if let Some(s) = since {
        p.push_str(&format!("&since={}", enc(s)));
    }
    if let Some(f) = filter {
        p.push_str(&format!("&filter={}", enc(f)));
    }
    p
}

pub fn next_batch(sync: &Value) -> String {
    sync["next_batch"].as_str().unwrap_or_else(|| panic!("no next_batch: {sync}")).to_owned()
}

/// Polls `check` until it holds, panicking past `limit`: background work has no completion
/// signal to wait on.
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        actix_rt::time::sleep(Duration::from_millis(5)).await;
    }
}

/// This process's resident set in KiB (Linux), for side figures on memory.
pub fn rss_kib() -> Option<u64> {
    Some(ensemble::memory::resident_kib()).filter(|&k| k > 0)
}

/// p50, p99 and max of `samples`, as a line for the bench's side output.
pub fn percentiles(samples: &mut [Duration]) -> String {
    if samples.is_empty() {
        return "no samples".into();
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    format!("p50 {:.2?}, p99 {:.2?}, max {:.2?} over {}", at(0.5), at(0.99), samples[samples.len() - 1], samples.len())
}

/// Stops the server and starts another on its data (no actor live) with a new idle time.
pub async fn restart(bench: Bench, actor_idle_secs: u64) -> Bench {
    let Bench { server, dir, .. } = bench;
    server.stop().await;
    start_in(dir, actor_idle_secs).await
}

/// Stops the server, then drops the temp dir with it.
pub async fn stop(bench: Bench) {
    let Bench { server, dir, .. } = bench;
    server.stop().await;
    drop(dir);
}
