//! The servers this server has sent requests to (device lists and keys, for now) and how the
//! last attempts went, for the admin API's federation destinations. Kept in memory: rooms do not
//! federate yet, so there is no outgoing queue whose progress would need to survive a restart.

use std::collections::HashMap;
use std::sync::Mutex;

/// Most destinations remembered; past it the one contacted longest ago is forgotten. Clients can
/// name any server in a keys query, so the map must be bounded.
const MAX_DESTINATIONS: usize = 10_000;

/// How the attempts to reach one server went, in Synapse's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub destination: String,
    /// When the current run of failures started (ms), None while it answers.
    pub failure_ts: Option<i64>,
    /// When the last failed attempt was made (ms), 0 while it answers.
    pub retry_last_ts: i64,
    /// How long requests skip it after that failure (ms), 0 while it answers.
    pub retry_interval: i64,
    /// When it was last contacted (ms), to forget the stalest first.
    last_contact: i64,
}

#[derive(Default)]
pub struct Destinations {
    map: Mutex<HashMap<String, Destination>>,
}

impl Destinations {
    /// Notes an attempt to reach `name` at `now`: `failed_for` is the backoff after a failure.
    pub fn record(&self, name: &str, now: i64, failed_for: Option<i64>) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(name)
            && map.len() >= MAX_DESTINATIONS
            && let Some(stalest) = map.values().min_by_key(|d| d.last_contact).map(|d| d.destination.clone())
        {
            map.remove(&stalest);
        }
        let d = map.entry(name.to_owned()).or_insert_with(|| Destination {
            destination: name.to_owned(),
            failure_ts: None,
            retry_last_ts: 0,
            retry_interval: 0,
            last_contact: now,
        });
        d.last_contact = now;
        match failed_for {
            Some(backoff) => {
                d.failure_ts = d.failure_ts.or(Some(now));
                d.retry_last_ts = now;
                d.retry_interval = backoff;
            }
            None => {
                d.failure_ts = None;
                d.retry_last_ts = 0;
                d.retry_interval = 0;
            }
        }
    }

    pub fn all(&self) -> Vec<Destination> {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    pub fn get(&self, name: &str) -> Option<Destination> {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).get(name).cloned()
    }

    /// Forgets the failures of `name` so it is tried at once; false if it was not failing.
    pub fn reset(&self, name: &str) -> bool {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(name) {
            Some(d) if d.retry_last_ts != 0 => {
                d.failure_ts = None;
                d.retry_last_ts = 0;
                d.retry_interval = 0;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_start_a_run_that_success_ends() {
        let d = Destinations::default();
        d.record("a.example", 100, Some(60_000));
        d.record("a.example", 200, Some(60_000));
        let a = d.get("a.example").unwrap();
        assert_eq!((a.failure_ts, a.retry_last_ts, a.retry_interval), (Some(100), 200, 60_000));
        d.record("a.example", 300, None);
        let a = d.get("a.example").unwrap();
        assert_eq!((a.failure_ts, a.retry_last_ts, a.retry_interval), (None, 0, 0));
        assert!(!d.reset("a.example"));
        d.record("a.example", 400, Some(60_000));
        assert!(d.reset("a.example"));
        assert_eq!(d.get("a.example").unwrap().retry_last_ts, 0);
        assert!(!d.reset("unknown.example"));
    }

    #[test]
    fn bounded() {
        let d = Destinations::default();
        for i in 0..(MAX_DESTINATIONS as i64 + 5) {
            d.record(&format!("s{i}.example"), i, None);
        }
        assert_eq!(d.all().len(), MAX_DESTINATIONS);
        assert!(d.get("s0.example").is_none());
    }
}
