//! Rate limits shaped like Synapse's `rc_*` settings: a token bucket per key (a client address, a
//! user ID, a room ID) holding up to `burst_count` actions and refilling at `per_second`.
//!
//! Keys come from clients, so each limiter keeps at most `MAX_KEYS` buckets: full buckets are
//! forgotten first (a full bucket is the same as none), then the longest idle.

use crate::auth::tokens::Session;
use crate::config::{Config, RateLimit};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

const MAX_KEYS: usize = 50_000;

/// 429 `M_LIMIT_EXCEEDED` telling the client when to try again.
pub fn limit_exceeded(retry_after_ms: u64, message: &str) -> Error {
    let mut extra = serde_json::Map::new();
    extra.insert("retry_after_ms".into(), serde_json::json!(retry_after_ms));
    Error::new(crate::error::ErrorKind::LimitExceeded, message).with_extra(extra)
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Limiter {
    rate: Rate,
    max_keys: usize,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// A bucket's refill rate and size.
#[derive(Clone, Copy)]
struct Rate {
    per_second: f64,
    burst: f64,
}

impl Rate {
    fn of(limit: RateLimit) -> Self {
        // A negative or NaN rate would never refill; treat it as no refill at all.
        let per_second = if limit.per_second.is_finite() && limit.per_second > 0.0 { limit.per_second } else { 0.0 };
        Self { per_second, burst: f64::from(limit.burst_count) }
    }

    fn refilled(self, b: Bucket, now: Instant) -> f64 {
        (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * self.per_second).min(self.burst)
    }
}

impl Limiter {
    pub fn new(limit: RateLimit) -> Self {
        Self::with_max_keys(limit, MAX_KEYS)
    }

    fn with_max_keys(limit: RateLimit, max_keys: usize) -> Self {
        Self { rate: Rate::of(limit), max_keys: max_keys.max(1), buckets: Mutex::new(HashMap::new()) }
    }

    /// Ok if `key` may act now at `rate`; with `take`, the action is counted.
    fn admit(&self, key: &str, take: bool, rate: Rate) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let tokens = map.get(key).map_or(rate.burst, |b| rate.refilled(*b, now));
        if tokens < 1.0 {
            let wait = if rate.per_second > 0.0 { (1.0 - tokens) / rate.per_second * 1000.0 } else { 3_600_000.0 };
            return Err(wait.ceil().min(3_600_000.0) as u64);
        }
        if take {
            if !map.contains_key(key) && map.len() >= self.max_keys {
                self.evict(&mut map, now);
            }
            map.insert(key.to_owned(), Bucket { tokens: tokens - 1.0, at: now });
        }
        Ok(())
    }

    /// Drops full buckets, then, if that freed too little, the least recently used tenth.
    fn evict(&self, map: &mut HashMap<String, Bucket>, now: Instant) {
        map.retain(|_, b| self.rate.refilled(*b, now) < self.rate.burst);
        if map.len() < self.max_keys {
            return;
        }
        let mut ages: Vec<Instant> = map.values().map(|b| b.at).collect();
        let cut = (ages.len() / 10).max(1);
        let (_, oldest_kept, _) = ages.select_nth_unstable(cut);
        let oldest_kept = *oldest_kept;
        map.retain(|_, b| b.at >= oldest_kept);
    }

    /// Counts one action by `key`, or refuses it with 429.
    pub fn take(&self, key: &str) -> Result<()> {
        self.admit(key, true, self.rate).map_err(|ms| limit_exceeded(ms, "Too many requests"))
    }

    /// As [`take`](Self::take), at `limit` instead of the limiter's own rate.
    fn take_at(&self, key: &str, limit: RateLimit) -> Result<()> {
        self.admit(key, true, Rate::of(limit)).map_err(|ms| limit_exceeded(ms, "Too many requests"))
    }

    /// Refuses with 429 if `key` could not act now, without counting anything.
    pub fn check(&self, key: &str) -> Result<()> {
        self.admit(key, false, self.rate).map_err(|ms| limit_exceeded(ms, "Too many requests"))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// Admins are never limited, nor users whose override has no message rate: as in Synapse, such
/// an override lifts every limit on the user's actions, not only on messages.
fn exempt(who: &Session) -> bool {
    who.is_admin || who.ratelimit_override.is_some_and(|l| l.per_second == 0.0)
}

/// Every limiter of the server, built from the `rc_*` config.
pub struct RateLimits {
    message: Limiter,
    registration: Limiter,
    registration_token_validity: Limiter,
    login_address: Limiter,
    login_account: Limiter,
    login_failed: Limiter,
    joins_local: Limiter,
    invites_per_room: Limiter,
    invites_per_user: Limiter,
    invites_per_issuer: Limiter,
    reports: Limiter,
}

impl RateLimits {
    pub fn new(cfg: &Config) -> Self {
        Self {
            message: Limiter::new(cfg.rc_message),
            registration: Limiter::new(cfg.rc_registration),
            registration_token_validity: Limiter::new(cfg.rc_registration_token_validity),
            login_address: Limiter::new(cfg.rc_login.address),
            login_account: Limiter::new(cfg.rc_login.account),
            login_failed: Limiter::new(cfg.rc_login.failed_attempts),
            joins_local: Limiter::new(cfg.rc_joins.local),
            invites_per_room: Limiter::new(cfg.rc_invites.per_room),
            invites_per_user: Limiter::new(cfg.rc_invites.per_user),
            invites_per_issuer: Limiter::new(cfg.rc_invites.per_issuer),
            reports: Limiter::new(cfg.rc_reports),
        }
    }

    /// An event sent by `who` (message, state, redaction): `rc_message`, or the rate an admin
    /// set for them.
    pub fn message(&self, who: &Session) -> Result<()> {
        if exempt(who) {
            return Ok(());
        }
        match who.ratelimit_override {
            Some(limit) => self.message.take_at(who.user_id.as_str(), limit),
            None => self.message.take(who.user_id.as_str()),
        }
    }

    /// A join by `who`: `rc_joins.local`.
    pub fn join(&self, who: &Session) -> Result<()> {
        if exempt(who) {
            return Ok(());
        }
        self.joins_local.take(who.user_id.as_str())
    }

    /// An invite from `who` to `invitee` in `room_id`: `rc_invites` per room, per receiving user
    /// and per issuer. Counted only if all three allow it.
    pub fn invite(&self, who: &Session, room_id: &str, invitee: &str) -> Result<()> {
        if exempt(who) {
            return Ok(());
        }
        let checks =
            [(&self.invites_per_room, room_id), (&self.invites_per_user, invitee), (&self.invites_per_issuer, who.user_id.as_str())];
        for (limiter, key) in checks {
            limiter.check(key)?;
        }
        for (limiter, key) in checks {
            limiter.take(key)?;
        }
        Ok(())
    }

    /// A report of an event, a room or a user by `who`: `rc_reports`.
    pub fn report(&self, who: &Session) -> Result<()> {
        if exempt(who) {
            return Ok(());
        }
        self.reports.take(who.user_id.as_str())
    }

    /// Refuses a registration request from the client address `ip` if it could not register
    /// now: `rc_registration`.
    pub fn check_registration(&self, ip: &str) -> Result<()> {
        self.registration.check(ip)
    }

    /// Counts a registration from `ip`.
    pub fn registration(&self, ip: &str) -> Result<()> {
        self.registration.take(ip)
    }

    /// A registration token validity check from the client address `ip`:
    /// `rc_registration_token_validity`.
    pub fn registration_token_validity(&self, ip: &str) -> Result<()> {
        self.registration_token_validity.take(ip)
    }

    /// A login request from the client address `ip`: `rc_login.address`.
    pub fn login_address(&self, ip: &str) -> Result<()> {
        self.login_address.take(ip)
    }

    /// A login attempt for `user_id`: `rc_login.account`.
    pub fn login_account(&self, user_id: &str) -> Result<()> {
        self.login_account.take(user_id)
    }

    /// Refuses a password check for `user_id` after too many recent failures:
    /// `rc_login.failed_attempts`.
    pub fn check_failed_logins(&self, user_id: &str) -> Result<()> {
        self.login_failed.check(user_id)
    }

    /// Counts a failed password check for `user_id`.
    pub fn failed_login(&self, user_id: &str) {
        let _ = self.login_failed.take(user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal_with_a_retry_time() {
        let l = Limiter::new(RateLimit::new(0.5, 3));
        for _ in 0..3 {
            l.take("a").unwrap();
        }
        let e = l.take("a").unwrap_err();
        assert_eq!(e.errcode(), "M_LIMIT_EXCEEDED");
        let ms = e.extra().unwrap()["retry_after_ms"].as_u64().unwrap();
        assert!((1..=2000).contains(&ms), "{ms}");
        l.take("b").unwrap();
    }

    #[test]
    fn check_counts_nothing() {
        let l = Limiter::new(RateLimit::new(0.0, 1));
        l.check("a").unwrap();
        l.check("a").unwrap();
        l.take("a").unwrap();
        assert!(l.check("a").is_err());
    }

    #[test]
    fn keys_are_bounded() {
        let l = Limiter::with_max_keys(RateLimit::new(0.0, 5), 100);
        for i in 0..1000 {
            l.take(&format!("k{i}")).unwrap();
        }
        assert!(l.len() <= 100, "{}", l.len());
        // Full buckets go first: with a fast refill every idle key is dropped.
        let fast = Limiter::with_max_keys(RateLimit::new(1e9, 5), 10);
        for i in 0..10 {
            fast.take(&format!("k{i}")).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
        fast.take("new").unwrap();
        assert_eq!(fast.len(), 1);
    }
}
