//! The events the event writer committed last, in stream order, kept in memory: a woken
//! long-poll takes what is new for it from here instead of reading the store
//! (`service::sync::woken`).
//!
//! The writer is the only path by which events reach the store, and it hands out stream
//! positions in commit order, so the log holds every event after its `from`, with nothing
//! missing in between. A change to events already stored (a redaction, a purge) empties it:
//! the copies here would no longer say what the store says.

use super::events::{NewEvent, TxnKey};
use crate::events::Pdu;
use ruma::{OwnedRoomId, OwnedUserId, UserId};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Events the log keeps at most; older batches are dropped first.
const MAX_EVENTS: usize = 4_096;

/// One room's committed batch.
pub struct CommittedBatch {
    pub room_id: OwnedRoomId,
    /// The room's joined members, sorted, as the room actor handed the batch over. When the
    /// batch holds no member event they are the members for every event in it.
    pub joined: Arc<[OwnedUserId]>,
    pub events: Vec<RecentEvent>,
}

pub struct RecentEvent {
    pub pdu: Pdu,
    /// The transaction ID the event was stored under (none when an earlier event took it).
    pub txn: Option<TxnKey>,
}

impl CommittedBatch {
    pub fn new(room_id: OwnedRoomId, joined: Arc<[OwnedUserId]>, batch: &[NewEvent]) -> Self {
        let events = batch
            .iter()
            .map(|e| RecentEvent { pdu: e.pdu.clone(), txn: e.txn.clone().filter(|_| e.existing_txn_event.is_none()) })
            .collect();
        Self { room_id, joined, events }
    }

    pub fn is_joined(&self, user: &UserId) -> bool {
        self.joined.binary_search_by(|u| <OwnedUserId as AsRef<UserId>>::as_ref(u).cmp(user)).is_ok()
    }
}

struct Log {
    /// Every event after this position and up to `to` is in `batches`.
    from: i64,
    to: i64,
    batches: VecDeque<Arc<CommittedBatch>>,
    events: usize,
}

pub struct RecentEvents {
    log: Mutex<Log>,
}

impl RecentEvents {
    /// An empty log for a store whose event stream stands at `head`.
    pub fn starting_at(head: i64) -> Self {
        Self { log: Mutex::new(Log { from: head, to: head, batches: VecDeque::new(), events: 0 }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A commit's batches, in the order they were written. A redaction among them changed a
    /// stored event, so the log then starts again after them.
    pub fn append(&self, batches: Vec<CommittedBatch>) {
        let mut log = self.lock();
        let Some(last) = batches.iter().filter_map(|b| b.events.last()).map(|e| e.pdu.stream_ordering).max() else { return };
        log.to = log.to.max(last);
        if batches.iter().flat_map(|b| &b.events).any(|e| e.pdu.redacts.is_some()) {
            log.restart();
            return;
        }
        for b in batches.into_iter().filter(|b| !b.events.is_empty()) {
            log.events += b.events.len();
            log.batches.push_back(Arc::new(b));
        }
        while log.events > MAX_EVENTS
            && let Some(old) = log.batches.pop_front()
        {
            log.events -= old.events.len();
            log.from = log.from.max(old.events.last().map_or(log.from, |e| e.pdu.stream_ordering));
        }
    }

    /// Forgets every copy: stored events changed under them.
    pub fn restart(&self) {
        self.lock().restart();
    }

    /// The batches holding every event after `after` (the first may hold earlier ones too), and
    /// the position they run to; `None` when the log does not reach back that far.
    pub fn after(&self, after: i64) -> Option<(Vec<Arc<CommittedBatch>>, i64)> {
        let log = self.lock();
        if after < log.from || after > log.to {
            return None;
        }
        let newer = log.batches.iter().rev().take_while(|b| b.events.last().is_some_and(|e| e.pdu.stream_ordering > after));
        let mut list: Vec<Arc<CommittedBatch>> = newer.cloned().collect();
        list.reverse();
        Some((list, log.to))
    }
}

impl RecentEvents {
    /// The events after `after` up to `upto`, at most `limit`, when the log holds every one of
    /// them (`None` otherwise), as [`super::events::page_after`] reads them from the store:
    /// the events, the position of the last, and whether `limit` cut the page short.
    pub fn page(&self, after: i64, upto: i64, limit: usize) -> Option<(Vec<Pdu>, Option<i64>, bool)> {
        let mut events = Vec::new();
        let (last, full) = self.visit(after, upto, limit, |p| events.push(p.clone()))?;
        Some((events, last, full))
    }

    /// As [`Self::page`], handing each event to `f` (outside the log's lock) instead of copying
    /// it out: the position of the last, and whether `limit` cut the page short.
    pub fn visit(&self, after: i64, upto: i64, limit: usize, mut f: impl FnMut(&Pdu)) -> Option<(Option<i64>, bool)> {
        let (batches, to) = self.after(after)?;
        if upto > to {
            return None;
        }
        let newer = batches.iter().flat_map(|b| &b.events).map(|e| &e.pdu).filter(|p| p.stream_ordering > after);
        let (mut last, mut seen) = (None, 0);
        for p in newer.take_while(|p| p.stream_ordering <= upto).take(limit) {
            f(p);
            last = Some(p.stream_ordering);
            seen += 1;
        }
        Some((last, seen >= limit))
    }
}

impl Log {
    fn restart(&mut self) {
        self.batches.clear();
        self.events = 0;
        self.from = self.to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn batch(room: &str, positions: std::ops::RangeInclusive<i64>, redaction: bool) -> CommittedBatch {
        let events = positions
            .map(|pos| {
                let mut v = json!({"room_id": room, "sender": "@a:x", "type": "m.room.message", "content": {}, "origin_server_ts": 1});
                if redaction {
                    v["type"] = json!("m.room.redaction");
                    v["redacts"] = json!("$target");
                }
                RecentEvent { pdu: Pdu::from_stored(&format!("$e{pos}"), pos, &v.to_string()).expect("pdu"), txn: None }
            })
            .collect();
        CommittedBatch { room_id: OwnedRoomId::try_from(room).expect("room"), joined: Arc::from(vec![]), events }
    }

    /// The positions after `after` in the batches the log hands out (which may begin earlier).
    fn positions(log: &RecentEvents, after: i64) -> Option<Vec<i64>> {
        let all =
            |list: Vec<Arc<CommittedBatch>>| list.iter().flat_map(|b| b.events.iter().map(|e| e.pdu.stream_ordering)).collect::<Vec<_>>();
        log.after(after).map(|(list, _)| all(list).into_iter().filter(|p| *p > after).collect())
    }

    #[test]
    fn holds_what_came_after_it_started_and_forgets_on_a_redaction() {
        let log = RecentEvents::starting_at(10);
        assert_eq!(positions(&log, 10), Some(vec![]));
        assert_eq!(positions(&log, 9), None, "before the log started");
        log.append(vec![batch("!a:x", 11..=12, false), batch("!b:x", 13..=13, false)]);
        assert_eq!(positions(&log, 10), Some(vec![11, 12, 13]));
        assert_eq!(positions(&log, 12), Some(vec![13]));
        assert_eq!(positions(&log, 13), Some(vec![]));
        assert_eq!(positions(&log, 14), None, "a token from the future");
        log.append(vec![batch("!a:x", 14..=14, true)]);
        assert_eq!(positions(&log, 13), None, "a redaction changed stored events");
        assert_eq!(positions(&log, 14), Some(vec![]));
        log.restart();
        log.append(vec![batch("!a:x", 15..=15, false)]);
        assert_eq!(positions(&log, 14), Some(vec![15]));
    }

    #[test]
    fn pages_only_what_it_holds_every_event_of() {
        let log = RecentEvents::starting_at(10);
        log.append(vec![batch("!a:x", 11..=14, false), batch("!b:x", 15..=16, false)]);
        let page = |after, upto, limit| {
            log.page(after, upto, limit).map(|(list, last, full)| (list.iter().map(|p| p.stream_ordering).collect::<Vec<_>>(), last, full))
        };
        assert_eq!(page(10, 16, 100), Some((vec![11, 12, 13, 14, 15, 16], Some(16), false)));
        assert_eq!(page(12, 15, 100), Some((vec![13, 14, 15], Some(15), false)), "not past the reader's head");
        assert_eq!(page(11, 16, 3), Some((vec![12, 13, 14], Some(14), true)));
        assert_eq!(page(16, 16, 100), Some((vec![], None, false)));
        assert_eq!(page(9, 16, 100), None, "before the log started");
        assert_eq!(page(10, 17, 100), None, "a head the log has not reached: read the store");
    }

    #[test]
    fn drops_the_oldest_batches_past_its_bound() {
        let log = RecentEvents::starting_at(0);
        let each = 1_000;
        for k in 0..5 {
            log.append(vec![batch("!a:x", k * each + 1..=(k + 1) * each, false)]);
        }
        assert_eq!(positions(&log, 0), None);
        assert_eq!(positions(&log, 999), None);
        assert_eq!(positions(&log, 1_000).map(|p| p.len()), Some(4_000));
        assert_eq!(positions(&log, 4_999), Some(vec![5_000]));
    }
}
