//! A set of short-lived random keys (shared-secret nonces, UIA sessions) handed out to anyone who
//! asks: bounded in count as well as in age, so a flood of requests costs a fixed amount of memory.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct ExpiringKeys {
    ttl: Duration,
    cap: AtomicUsize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    live: HashMap<String, Instant>,
    /// Issue order, oldest first. A key taken early stays here until it ages out or is pushed
    /// out, so this (and with it `live`) never holds more than `cap` entries.
    order: VecDeque<(Instant, String)>,
}

impl Inner {
    fn pop_oldest(&mut self) {
        if let Some((at, key)) = self.order.pop_front()
            && self.live.get(&key) == Some(&at)
        {
            self.live.remove(&key);
        }
    }
}

impl ExpiringKeys {
    pub fn new(ttl: Duration, cap: usize) -> Self {
        Self { ttl, cap: AtomicUsize::new(cap.max(1)), inner: Mutex::default() }
    }

    /// Records a new key. Expired keys go first; beyond the cap the oldest live key is dropped,
    /// so the newest key always works.
    pub fn insert(&self, key: String) {
        let now = Instant::now();
        let cap = self.cap.load(Ordering::Relaxed);
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        while m.order.front().is_some_and(|(at, _)| now.duration_since(*at) >= self.ttl) {
            m.pop_oldest();
        }
        while m.order.len() >= cap {
            m.pop_oldest();
        }
        m.live.insert(key.clone(), now);
        m.order.push_back((now, key));
    }

    /// Removes the key whatever happens next; true if it was issued and is still fresh.
    pub fn take(&self, key: &str) -> bool {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.live.remove(key).is_some_and(|at| at.elapsed() < self.ttl)
    }

    /// True if the key was issued and is still fresh.
    pub fn contains(&self, key: &str) -> bool {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.live.get(key).is_some_and(|at| at.elapsed() < self.ttl)
    }

    /// Keys held, fresh or not yet swept.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes the cap (tests use a small one to reach it quickly); applies from the next insert.
    pub fn set_capacity(&self, cap: usize) {
        self.cap.store(cap.max(1), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_newest_survives() {
        let k = ExpiringKeys::new(Duration::from_secs(60), 3);
        for i in 0..10 {
            k.insert(format!("k{i}"));
        }
        assert_eq!(k.len(), 3);
        assert!(!k.contains("k6"));
        assert!(k.take("k9"));
        assert!(!k.take("k9"));
        // A taken key still holds its slot until it is pushed out.
        k.insert("a".into());
        k.insert("b".into());
        assert!(k.len() <= 3);
        assert!(k.contains("a") && k.contains("b"));
    }

    #[test]
    fn expired_keys_are_refused_and_dropped() {
        let k = ExpiringKeys::new(Duration::ZERO, 10);
        k.insert("x".into());
        assert!(!k.contains("x"));
        k.insert("y".into());
        assert_eq!(k.len(), 1);
    }
}
