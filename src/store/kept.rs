//! Reads every woken long-poll makes (unread counts, ignored users, one-time key counts), kept
//! in memory so answering a woken poll needs no database connection.
//!
//! A kept value must never be older than what a read of the store would give. Two rules keep it
//! so. Whoever writes what a value was read from forgets it after committing, or, if it knows
//! the change, brackets its transaction with [`Kept::begin_write`] and applies the change to the
//! kept value when the guard is finished. And a reader that read the store offers what it read
//! with the [`Ticket`] it took before reading: the offer is refused if anything was forgotten or
//! written since, or a bracketed write was under way when the ticket was taken (its commit may
//! or may not be in what the reader saw, and applying its change again would count it twice).

use super::notifications::UserCounts;
use serde_json::Value;
use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

/// Users (or devices) whose reads are kept, at most, per kind.
const KEPT: usize = 100_000;

/// Rooms' unread counts kept, at most, over all users (as offered: a user whose counts alone
/// exceed it is read from the store every time).
const KEPT_ROOM_COUNTS: usize = 1_000_000;

/// The reads kept for woken long-polls, one map per kind.
pub struct KeptReads {
    /// Each user's unread notification counts by room, kept true by the push evaluator (which
    /// adds what it records); a read receipt's recount forgets the user's.
    pub unread: Arc<Kept<String, Arc<UserCounts>>>,
    /// The users each user ignores (`m.ignored_user_list`).
    pub ignored: Kept<String, Arc<HashSet<String>>>,
    /// (one-time key counts, unused fallback key types) by (user, device).
    pub key_counts: Kept<(String, String), Arc<(Value, Value)>>,
}

/// What a sync reads from the store that woken long-polls keep.
#[derive(Clone)]
pub struct SyncReads {
    pub ignored: Arc<HashSet<String>>,
    pub counts: Arc<UserCounts>,
    /// (one-time key counts, unused fallback key types) of the syncing device.
    pub keys: Arc<(Value, Value)>,
}

/// The tickets of a [`SyncReads`] read, one per kind.
pub struct Tickets {
    ignored: Ticket,
    unread: Ticket,
    key_counts: Ticket,
}

impl KeptReads {
    /// Taken before reading a [`SyncReads`] from the store.
    pub fn tickets(&self) -> Tickets {
        Tickets { ignored: self.ignored.ticket(), unread: self.unread.ticket(), key_counts: self.key_counts.ticket() }
    }

    /// What is kept for the user and device, if all of it is.
    pub fn get(&self, user: &str, device: &str) -> Option<SyncReads> {
        Some(SyncReads {
            ignored: self.ignored.get(user)?,
            counts: self.unread.get(user)?,
            keys: self.key_counts.get(&(user.to_owned(), device.to_owned()))?,
        })
    }

    /// Offers what was read under `tickets` (key counts only for a device).
    pub fn offer(&self, tickets: Tickets, user: &str, device: Option<&str>, reads: &SyncReads) {
        self.ignored.offer(tickets.ignored, user.to_owned(), reads.ignored.clone());
        self.unread.offer(tickets.unread, user.to_owned(), reads.counts.clone());
        if let Some(device) = device {
            self.key_counts.offer(tickets.key_counts, (user.to_owned(), device.to_owned()), reads.keys.clone());
        }
    }
}

impl Default for KeptReads {
    fn default() -> Self {
        Self { unread: Arc::new(Kept::weighed(KEPT, KEPT_ROOM_COUNTS, |c| c.len())), ignored: Kept::new(KEPT), key_counts: Kept::new(KEPT) }
    }
}

/// Values kept, keyed by `K`, at most `cap` of them and at most `max_weight` in all as weighed
/// when offered (all are dropped when full: they are read
/// again as needed).
pub struct Kept<K, V> {
    inner: Mutex<Inner<K, V>>,
    cap: usize,
    max_weight: usize,
    weigh: fn(&V) -> usize,
}

struct Inner<K, V> {
    /// Moves with every forget and every bracketed write, begun or finished.
    epoch: u64,
    /// What the values offered since the map was last emptied weighed.
    weight: usize,
    /// Bracketed writes begun and not finished.
    writing: u32,
    values: HashMap<K, V>,
}

/// What a reader notes before reading the store (see the module's rules).
#[derive(Debug, Clone, Copy)]
pub struct Ticket(Option<u64>);

impl<K: Eq + Hash, V: Clone> Kept<K, V> {
    pub fn new(cap: usize) -> Self {
        Self::weighed(cap, usize::MAX, |_| 1)
    }

    /// As [`new`](Self::new), with every value weighed by `weigh` when offered.
    pub fn weighed(cap: usize, max_weight: usize, weigh: fn(&V) -> usize) -> Self {
        Self { inner: Mutex::new(Inner { epoch: 0, weight: 0, writing: 0, values: HashMap::new() }), cap, max_weight, weigh }
    }

    fn locked(&self) -> MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get<Q: Eq + Hash + ?Sized>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.locked().values.get(key).cloned()
    }

    /// Taken before reading the store, for [`offer`](Self::offer).
    pub fn ticket(&self) -> Ticket {
        let g = self.locked();
        Ticket((g.writing == 0).then_some(g.epoch))
    }

    /// Keeps what was read under `ticket`, unless something may have changed it since.
    pub fn offer(&self, ticket: Ticket, key: K, value: V) {
        let mut g = self.locked();
        if ticket.0 != Some(g.epoch) {
            return;
        }
        let weight = (self.weigh)(&value);
        if weight > self.max_weight {
            return;
        }
        if (g.values.len() >= self.cap && !g.values.contains_key(&key)) || g.weight + weight > self.max_weight {
            g.values.clear();
            g.weight = 0;
        }
        g.weight += weight;
        g.values.insert(key, value);
    }

    /// After a committed write whose effect on the value is not known here.
    pub fn forget<Q: Eq + Hash + ?Sized>(&self, key: &Q)
    where
        K: Borrow<Q>,
    {
        let mut g = self.locked();
        g.epoch += 1;
        g.values.remove(key);
    }

    pub fn forget_all(&self) {
        let mut g = self.locked();
        g.epoch += 1;
        g.values.clear();
        g.weight = 0;
    }

    /// Brackets a write whose change is applied when the guard is finished; a guard dropped
    /// unfinished (the write failed, or its outcome is unknown) forgets everything.
    pub fn begin_write(self: &Arc<Self>) -> WriteGuard<K, V> {
        let mut g = self.locked();
        g.epoch += 1;
        g.writing += 1;
        WriteGuard { kept: Some(self.clone()) }
    }

    pub fn len(&self) -> usize {
        self.locked().values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub struct WriteGuard<K: Eq + Hash, V: Clone> {
    kept: Option<Arc<Kept<K, V>>>,
}

impl<K: Eq + Hash, V: Clone> WriteGuard<K, V> {
    /// The write committed: `apply` changes the values kept (those not kept stay unread).
    pub fn finish(mut self, apply: impl FnOnce(&mut HashMap<K, V>)) {
        self.end(|g| apply(&mut g.values));
    }

    fn end(&mut self, then: impl FnOnce(&mut Inner<K, V>)) {
        if let Some(kept) = self.kept.take() {
            let mut g = kept.locked();
            g.epoch += 1;
            g.writing -= 1;
            then(&mut g);
        }
    }
}

impl<K: Eq + Hash, V: Clone> Drop for WriteGuard<K, V> {
    fn drop(&mut self) {
        self.end(|g| {
            g.values.clear();
            g.weight = 0;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept() -> Arc<Kept<String, i64>> {
        Arc::new(Kept::new(3))
    }

    #[test]
    fn an_offer_is_kept_only_when_nothing_changed_since_its_ticket() {
        let k = kept();
        let t = k.ticket();
        k.offer(t, "a".into(), 1);
        assert_eq!(k.get("a"), Some(1));

        let t = k.ticket();
        k.forget("b");
        k.offer(t, "c".into(), 3);
        assert_eq!(k.get("c"), None, "a forget after the ticket (the read may predate its write)");

        let t = k.ticket();
        k.forget_all();
        assert_eq!(k.get("a"), None);
        k.offer(t, "a".into(), 1);
        assert_eq!(k.get("a"), None);
    }

    #[test]
    fn bracketed_writes_refuse_reads_that_overlap_them_and_change_what_is_kept() {
        let k = kept();
        k.offer(k.ticket(), "a".into(), 1);
        let before = k.ticket();
        let w = k.begin_write();
        let during = k.ticket();
        w.finish(|m| {
            if let Some(v) = m.get_mut("a") {
                *v += 10;
            }
        });
        assert_eq!(k.get("a"), Some(11), "the change applied to what was kept");
        k.offer(before, "b".into(), 2);
        k.offer(during, "b".into(), 2);
        assert_eq!(k.get("b"), None, "a read begun before or during the write might count it twice or miss it");
        k.offer(k.ticket(), "b".into(), 2);
        assert_eq!(k.get("b"), Some(2), "a read begun after the write saw it");

        let w = k.begin_write();
        drop(w);
        assert!(k.is_empty(), "an unfinished write's outcome is unknown: everything is read again");
        k.offer(k.ticket(), "a".into(), 1);
        assert_eq!(k.get("a"), Some(1), "and nothing is left writing");
    }

    #[test]
    fn weighed_values_are_bounded_in_all_and_each() {
        let k: Kept<String, Vec<u8>> = Kept::weighed(100, 10, |v| v.len());
        k.offer(k.ticket(), "big".into(), vec![0; 11]);
        assert!(k.is_empty(), "heavier than everything allowed: read every time");
        k.offer(k.ticket(), "a".into(), vec![0; 6]);
        k.offer(k.ticket(), "b".into(), vec![0; 4]);
        assert_eq!(k.len(), 2);
        k.offer(k.ticket(), "c".into(), vec![0; 1]);
        assert_eq!((k.len(), k.get("c").map(|v| v.len())), (1, Some(1)), "over the weight: started over");
    }

    #[test]
    fn a_full_map_starts_over() {
        let k = kept();
        for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
            k.offer(k.ticket(), key.into(), i as i64);
        }
        k.offer(k.ticket(), "c".into(), 9);
        assert_eq!(k.len(), 3, "replacing a kept key takes no room");
        k.offer(k.ticket(), "d".into(), 4);
        assert_eq!((k.len(), k.get("d")), (1, Some(4)));
    }
}
