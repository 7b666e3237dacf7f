//! Access tokens: the authenticated session and the cache of sessions by token digest.
//!
//! Tokens are 256-bit random strings; the store keeps only their SHA-256, so lookups compare
//! digests of attacker input rather than secrets, and a leaked database leaks no live token.

use ruma::OwnedUserId;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
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
    /// Suspended users can read but not send, join, invite or change their profile.
    pub suspended: bool,
    /// An admin's override of the user's message rate limit (0/0: none at all).
    pub ratelimit_override: Option<crate::config::RateLimit>,
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
    pub fn get(&self, hash: &str) -> Option<Session> {
        self.map.read().unwrap_or_else(|p| p.into_inner()).get(hash).cloned()
    }
    pub fn put(&self, s: Session) {
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
