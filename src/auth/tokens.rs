//! Access tokens and the extractors that turn a request into a requester.
//!
//! Tokens are 256-bit random strings; the store keeps only their SHA-256, so lookups compare
//! digests of attacker input rather than secrets, and a leaked database leaks no live token.

use crate::Services;
use crate::error::{Error, Result};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use ruma::OwnedUserId;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One authenticated session, as cached.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: OwnedUserId,
    pub device_id: Option<String>,
    pub token_hash: String,
    pub is_admin: bool,
    pub valid_until_ms: Option<i64>,
    /// Set for tokens an admin minted to act as the user.
    pub puppeted_by: Option<String>,
    /// Shadow-banned users get success replies for writes that never take effect.
    pub shadow_banned: bool,
}

impl Session {
    /// Whether this session carries server-admin rights: the one admin check. Tokens an admin
    /// minted to act as a user never do, even when the user is an admin.
    pub fn is_server_admin(&self) -> bool {
        self.is_admin && self.puppeted_by.is_none()
    }
}

/// Sessions cached at most. Each login adds one, so the cache is bounded: beyond the cap expired
/// sessions go first, then an arbitrary tenth (a miss costs one store read, never a wrong answer).
pub const TOKEN_CACHE_CAP: usize = 100_000;

pub struct TokenCache {
    map: RwLock<HashMap<String, Session>>,
    cap: AtomicUsize,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self { map: RwLock::default(), cap: AtomicUsize::new(TOKEN_CACHE_CAP) }
    }
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl TokenCache {
    fn get(&self, hash: &str) -> Option<Session> {
        self.map.read().unwrap_or_else(|p| p.into_inner()).get(hash).cloned()
    }
    fn put(&self, s: Session) {
        let cap = self.cap.load(Ordering::Relaxed).max(1);
        let mut m = self.map.write().unwrap_or_else(|p| p.into_inner());
        if m.len() >= cap && !m.contains_key(&s.token_hash) {
            let now = crate::ids::now_ms();
            m.retain(|_, s| s.valid_until_ms.is_none_or(|v| v > now));
            // Evicting a tenth at once keeps the cost of a full cache amortised.
            let target = cap - cap.div_ceil(10);
            let excess = m.len().saturating_sub(target);
            if excess > 0 {
                let victims: Vec<String> = m.keys().take(excess).cloned().collect();
                for k in victims {
                    m.remove(&k);
                }
            }
        }
        m.insert(s.token_hash.clone(), s);
    }
    pub fn forget(&self, hashes: &[String]) {
        let mut m = self.map.write().unwrap_or_else(|p| p.into_inner());
        for h in hashes {
            m.remove(h);
        }
    }
    /// Drops every cached session of the user, so flags (admin, deactivated) are re-read.
    pub fn forget_user(&self, user_id: &str) {
        self.map.write().unwrap_or_else(|p| p.into_inner()).retain(|_, s| s.user_id.as_str() != user_id);
    }
    /// Sessions cached.
    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|p| p.into_inner()).len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Changes the cap (tests use a small one to reach it quickly).
    pub fn set_capacity(&self, cap: usize) {
        self.cap.store(cap.max(1), Ordering::Relaxed);
    }
}

fn token_from(req: &HttpRequest) -> Option<String> {
    if let Some(h) = req.headers().get(actix_web::http::header::AUTHORIZATION) {
        let v = h.to_str().ok()?;
        return v.strip_prefix("Bearer ").map(|t| t.trim().to_owned());
    }
    web::Query::<HashMap<String, String>>::from_query(req.query_string()).ok().and_then(|q| q.get("access_token").cloned())
}

pub async fn authenticate(svc: &std::sync::Arc<Services>, req: &HttpRequest) -> Result<Session> {
    let token = token_from(req).ok_or_else(Error::missing_token)?;
    let hash = hash_token(&token);
    let session = match svc.tokens.get(&hash) {
        Some(s) => s,
        None => {
            let found = crate::service::accounts::session_rows(svc, &hash).await?;
            let Some((t, u)) = found else { return Err(Error::unknown_token()) };
            if u.deactivated {
                return Err(Error::unknown_token());
            }
            if u.locked {
                let mut extra = serde_json::Map::new();
                extra.insert("soft_logout".into(), serde_json::json!(true));
                return Err(Error::user_locked().with_extra(extra));
            }
            let user_id = crate::ids::parse_user_id(&t.user_id).map_err(|_| Error::unknown_token())?;
            let s = Session {
                user_id,
                device_id: t.device_id,
                token_hash: hash,
                is_admin: u.admin,
                valid_until_ms: t.valid_until_ms,
                puppeted_by: t.puppeted_by,
                shadow_banned: u.shadow_banned,
            };
            svc.tokens.put(s.clone());
            s
        }
    };
    let now = crate::ids::now_ms();
    if session.valid_until_ms.is_some_and(|v| v <= now) {
        return Err(Error::unknown_token());
    }
    let ip = crate::auth::rate_limit::client_ip(req);
    let user_agent = req.headers().get(actix_web::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let seen = crate::store::client_ips::Seen {
        user_id: session.user_id.to_string(),
        device_id: session.device_id.clone().unwrap_or_default(),
        ip,
        user_agent,
    };
    svc.client_ips.note(seen, now);
    Ok(session)
}

fn services(req: &HttpRequest) -> Result<std::sync::Arc<Services>> {
    req.app_data::<web::Data<Services>>().map(|d| d.clone().into_inner()).ok_or_else(|| Error::internal("Services not configured"))
}

/// Any authenticated user.
pub struct Requester(pub Session);

impl std::ops::Deref for Requester {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.0
    }
}

impl FromRequest for Requester {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let svc = services(&req)?;
            Ok(Requester(authenticate(&svc, &req).await?))
        })
    }
}

/// A server admin. The one place the admin check is made.
pub struct Admin(pub Session);

impl std::ops::Deref for Admin {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.0
    }
}

impl FromRequest for Admin {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let svc = services(&req)?;
            let s = authenticate(&svc, &req).await?;
            if !s.is_server_admin() {
                return Err(Error::forbidden("You are not a server admin"));
            }
            Ok(Admin(s))
        })
    }
}
