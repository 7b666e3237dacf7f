//! Short-lived random keys (shared-secret nonces, UIA sessions) handed out to anyone who asks,
//! each with a value: bounded in count as well as in age, so a flood of requests costs a fixed
//! amount of memory.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct ExpiringMap<V> {
    ttl: Duration,
    cap: AtomicUsize,
    inner: Mutex<Inner<V>>,
}

/// Keys without values (nonces).
pub type ExpiringKeys = ExpiringMap<()>;

struct Inner<V> {
    live: HashMap<String, (Instant, V)>,
    /// Issue order, oldest first. A key taken early stays here until it ages out or is pushed
    /// out, so this (and with it `live`) never holds more than `cap` entries.
    order: VecDeque<(Instant, String)>,
}

impl<V> Inner<V> {
    fn pop_oldest(&mut self) {
        if let Some((at, key)) = self.order.pop_front()
            && self.live.get(&key).is_some_and(|(issued, _)| *issued == at)
        {
            self.live.remove(&key);
        }
    }
}

impl<V> ExpiringMap<V> {
    pub fn new(ttl: Duration, cap: usize) -> Self {
        Self { ttl, cap: AtomicUsize::new(cap.max(1)), inner: Mutex::new(Inner { live: HashMap::new(), order: VecDeque::new() }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<V>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a new key with its value. Expired keys go first; beyond the cap the oldest live
    /// key is dropped, so the newest key always works.
    pub fn insert_value(&self, key: String, value: V) {
        let now = Instant::now();
        let cap = self.cap.load(Ordering::Relaxed);
        let mut m = self.lock();
        while m.order.front().is_some_and(|(at, _)| now.duration_since(*at) >= self.ttl) {
            m.pop_oldest();
        }
        while m.order.len() >= cap {
            m.pop_oldest();
        }
        m.live.insert(key.clone(), (now, value));
        m.order.push_back((now, key));
    }

    /// Removes the key whatever happens next; its value if it was issued and is still fresh.
    pub fn take_value(&self, key: &str) -> Option<V> {
        let mut m = self.lock();
        m.live.remove(key).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v)
    }

    /// Changes the value of a fresh key (its age is kept); false if there is none.
    pub fn update(&self, key: &str, change: impl FnOnce(&mut V)) -> bool {
        let mut m = self.lock();
        match m.live.get_mut(key) {
            Some((at, v)) if at.elapsed() < self.ttl => {
                change(v);
                true
            }
            _ => false,
        }
    }

    /// True if the key was issued and is still fresh.
    pub fn contains(&self, key: &str) -> bool {
        self.lock().live.get(key).is_some_and(|(at, _)| at.elapsed() < self.ttl)
    }

    /// Keys held, fresh or not yet swept.
    pub fn len(&self) -> usize {
        self.lock().live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes the cap (tests use a small one to reach it quickly); applies from the next insert.
    pub fn set_capacity(&self, cap: usize) {
        self.cap.store(cap.max(1), Ordering::Relaxed);
    }
}

impl<V> ExpiringMap<V> {
    /// Calls `f` with the value of every fresh key.
    pub fn for_each_fresh(&self, mut f: impl FnMut(&V)) {
        let m = self.lock();
        for (at, v) in m.live.values() {
            if at.elapsed() < self.ttl {
                f(v);
            }
        }
    }
}

impl<V: Clone> ExpiringMap<V> {
    /// The value of a fresh key.
    pub fn get(&self, key: &str) -> Option<V> {
        self.lock().live.get(key).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }
}

impl ExpiringMap<()> {
    pub fn insert(&self, key: String) {
        self.insert_value(key, ());
    }

    /// Removes the key whatever happens next; true if it was issued and is still fresh.
    pub fn take(&self, key: &str) -> bool {
        self.take_value(key).is_some()
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
