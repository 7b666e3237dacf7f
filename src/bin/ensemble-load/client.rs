//! The HTTP side: one reqwest client per target and the three ways of making users.

use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

pub const PASSWORD: &str = "load-test-password";

/// Times a setup request the server refuses with 429 (its password hasher busy, a registration
/// limit) is tried again, after the wait the server asks for, as a client would. Measured
/// requests are not retried: their refusals are counted as errors.
const TRIES_ON_429: u32 = 50;
/// The longest wait honoured between two tries.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(2);

/// The wait a 429 asks for (`retry_after_ms`), bounded.
fn retry_wait(v: &Value) -> Duration {
    Duration::from_millis(v["retry_after_ms"].as_u64().unwrap_or(100)).clamp(Duration::from_millis(10), MAX_RETRY_WAIT)
}

/// A path segment percent-encoded, as the server's own federation client encodes one.
pub use ensemble::federation::client::encode_segment as enc;

/// The body of a shared-secret registration for `nonce` (Synapse's `register_new_matrix_user`).
pub fn shared_secret_body(secret: &str, nonce: &str, username: &str, password: &str, admin: bool) -> Value {
    let mac = ensemble::auth::shared_secret::mac(secret, nonce, username, password, admin, None);
    json!({"nonce": nonce, "username": username, "password": password, "admin": admin, "mac": mac})
}

/// How users are made on a target.
#[derive(Clone, Debug)]
pub enum Auth {
    SharedSecret(String),
    AdminToken(String),
    Open,
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

pub type Reply = Result<(u16, Value), String>;

impl Client {
    pub fn new(url: &str, max_secs: u64, pool: usize) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(pool)
            // A long-poll may legitimately last the whole phase; nothing waits longer.
            .timeout(Duration::from_secs(max_secs + 60))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { http, base: url.trim_end_matches('/').to_owned() })
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            r = r.json(&b);
        }
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let res = r.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = res.status().as_u16();
        let v = res.json().await.unwrap_or(Value::Null);
        Ok((status, v))
    }

    /// The reply's body when the status is 200 (or 201), else an error naming both.
    pub async fn ok(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Result<Value, String> {
        let (s, v) = self.call(method, path, token, body).await?;
        if s == 200 || s == 201 { Ok(v) } else { Err(format!("{path}: {s} {v}")) }
    }

    /// `attempt`, made again while the server answers 429 (see [`TRIES_ON_429`]).
    async fn patiently<F: Future<Output = Reply>>(mut attempt: impl FnMut() -> F) -> Reply {
        let mut tries = 1;
        loop {
            let (s, v) = attempt().await?;
            if s != 429 || tries >= TRIES_ON_429 {
                return Ok((s, v));
            }
            tries += 1;
            tokio::time::sleep(retry_wait(&v)).await;
        }
    }

    /// As [`Self::call`] without a token, made again while the server answers 429.
    async fn call_patiently(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        Self::patiently(|| self.call(method.clone(), path, None, body.clone())).await
    }

    pub async fn login(&self, name: &str) -> Result<String, String> {
        let body = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": name}, "password": PASSWORD});
        match self.call_patiently(Method::POST, "/_matrix/client/v3/login", Some(body)).await? {
            (200, v) => token_of(&v),
            (s, v) => Err(format!("/_matrix/client/v3/login: {s} {v}")),
        }
    }

    /// A token for user `name`, made as `auth` allows; an existing user (an earlier run) logs in.
    pub async fn register(&self, auth: &Auth, name: &str, server_name: Option<&str>, admin: bool) -> Result<String, String> {
        match auth {
            Auth::SharedSecret(secret) => {
                // A refused registration may have spent its nonce: each try takes a new one.
                let attempt = || async {
                    let nonce = self.ok(Method::GET, "/_synapse/admin/v1/register", None, None).await?;
                    let nonce = nonce["nonce"].as_str().ok_or("no nonce")?;
                    let body = shared_secret_body(secret, nonce, name, PASSWORD, admin);
                    self.call(Method::POST, "/_synapse/admin/v1/register", None, Some(body)).await
                };
                let (s, v) = Self::patiently(attempt).await?;
                match s {
                    200 => token_of(&v),
                    400 if v["errcode"] == "M_USER_IN_USE" => self.login(name).await,
                    _ => Err(format!("shared-secret register {name}: {s} {v}")),
                }
            }
            Auth::AdminToken(admin_token) => {
                let server = server_name.ok_or("server name unknown")?;
                let id = enc(&format!("@{name}:{server}"));
                // No password: nothing to hash; the token comes from the admin's login-as.
                self.ok(Method::PUT, &format!("/_synapse/admin/v2/users/{id}"), Some(admin_token), Some(json!({"admin": admin}))).await?;
                let v = self.ok(Method::POST, &format!("/_synapse/admin/v1/users/{id}/login"), Some(admin_token), Some(json!({}))).await?;
                token_of(&v)
            }
            Auth::Open => {
                let body = json!({"username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"}});
                let (s, v) = self.call_patiently(Method::POST, "/_matrix/client/v3/register", Some(body)).await?;
                match s {
                    200 => token_of(&v),
                    400 if v["errcode"] == "M_USER_IN_USE" => self.login(name).await,
                    _ => Err(format!("register {name}: {s} {v}")),
                }
            }
        }
    }

    pub async fn whoami(&self, token: &str) -> Result<String, String> {
        let v = self.ok(Method::GET, "/_matrix/client/v3/account/whoami", Some(token), None).await?;
        v["user_id"].as_str().map(str::to_owned).ok_or_else(|| format!("whoami: {v}"))
    }

    pub async fn create_room(&self, token: &str, name: &str) -> Result<String, String> {
        let body = json!({"preset": "public_chat", "name": name});
        let v = self.ok(Method::POST, "/_matrix/client/v3/createRoom", Some(token), Some(body)).await?;
        v["room_id"].as_str().map(str::to_owned).ok_or_else(|| format!("createRoom: {v}"))
    }

    pub async fn join(&self, token: &str, room: &str) -> Result<(), String> {
        self.ok(Method::POST, &format!("/_matrix/client/v3/rooms/{}/join", enc(room)), Some(token), Some(json!({}))).await.map(drop)
    }

    pub async fn send(&self, token: &str, room: &str, txn: &str, body: &str) -> Result<(), String> {
        let path = format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}", enc(room));
        self.ok(Method::PUT, &path, Some(token), Some(json!({"msgtype": "m.text", "body": body}))).await.map(drop)
    }
}

fn token_of(v: &Value) -> Result<String, String> {
    v["access_token"].as_str().map(str::to_owned).ok_or_else(|| format!("no access_token in {v}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_secret_mac_matches_synapse() {
        // The example in Synapse's docs/admin_api/register_api.md.
        let b = shared_secret_body("shared_secret", "thisisanonce", "pepper_roni", "pizza", true);
        assert_eq!(b["mac"], "48715842ad67d5dc9a9ee938a3bda4fcfae8d7c7");
        assert_eq!(b["admin"], true);
        assert_eq!(b["nonce"], "thisisanonce");
        assert_eq!(b["username"], "pepper_roni");
        let not_admin = shared_secret_body("shared_secret", "thisisanonce", "pepper_roni", "pizza", false);
        assert_ne!(not_admin["mac"], b["mac"]);
    }

    #[test]
    fn a_refusal_waits_what_it_asks_within_bounds() {
        assert_eq!(retry_wait(&json!({"retry_after_ms": 300})), Duration::from_millis(300));
        assert_eq!(retry_wait(&json!({"retry_after_ms": 3_600_000})), MAX_RETRY_WAIT);
        assert_eq!(retry_wait(&json!({"retry_after_ms": 0})), Duration::from_millis(10));
        assert_eq!(retry_wait(&json!({"errcode": "M_LIMIT_EXCEEDED"})), Duration::from_millis(100));
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(enc("!a:b.c"), "%21a%3Ab.c");
        assert_eq!(enc("@u:h"), "%40u%3Ah");
    }
}
