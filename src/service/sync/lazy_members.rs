//! Which member events each device was already sent, per room, for lazy-loading syncs: an
//! incremental sync then sends a timeline sender's member event only once (unless the filter
//! asks for redundant ones). Kept in memory and bounded; forgetting only makes a sync send a
//! member event again, which a client takes as a no-op.

use std::collections::HashMap;
use std::sync::Mutex;

/// Devices remembered; past this the whole memory starts over.
const MAX_DEVICES: usize = 10_000;
/// Member events remembered per device and room; past this that room starts over.
const MAX_MEMBERS: usize = 5_000;
/// Rooms remembered per device; past this the device starts over.
const MAX_ROOMS: usize = 2_000;

type Rooms = HashMap<String, HashMap<String, String>>;

#[derive(Default)]
pub struct SentMembers {
    devices: Mutex<HashMap<(String, String), Rooms>>,
}

impl SentMembers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Rooms>> {
        self.devices.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `device` was sent exactly this member event for `member` in `room`.
    pub fn was_sent(&self, user: &str, device: &str, room: &str, member: &str, event_id: &str) -> bool {
        let devices = self.lock();
        devices
            .get(&(user.to_owned(), device.to_owned()))
            .and_then(|rooms| rooms.get(room))
            .and_then(|m| m.get(member))
            .is_some_and(|e| e == event_id)
    }

    /// Records what a sync sent; `fresh` forgets what was recorded before (a full state sync).
    pub fn record<'a>(&self, user: &str, device: &str, room: &str, fresh: bool, sent: impl Iterator<Item = (&'a str, &'a str)>) {
        let mut devices = self.lock();
        if devices.len() >= MAX_DEVICES && !devices.contains_key(&(user.to_owned(), device.to_owned())) {
            devices.clear();
        }
        let rooms = devices.entry((user.to_owned(), device.to_owned())).or_default();
        if rooms.len() >= MAX_ROOMS && !rooms.contains_key(room) {
            rooms.clear();
        }
        let members = rooms.entry(room.to_owned()).or_default();
        if fresh {
            members.clear();
        }
        for (member, event_id) in sent {
            if members.len() >= MAX_MEMBERS {
                members.clear();
            }
            members.insert(member.to_owned(), event_id.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_device_and_room_and_starts_over_when_full() {
        let s = SentMembers::default();
        s.record("@a:x", "D", "!r:x", false, [("@b:x", "$1")].into_iter());
        assert!(s.was_sent("@a:x", "D", "!r:x", "@b:x", "$1"));
        assert!(!s.was_sent("@a:x", "D", "!r:x", "@b:x", "$2"), "a newer member event is news");
        assert!(!s.was_sent("@a:x", "E", "!r:x", "@b:x", "$1"), "another device");
        s.record("@a:x", "D", "!r:x", true, std::iter::empty());
        assert!(!s.was_sent("@a:x", "D", "!r:x", "@b:x", "$1"), "a full sync starts over");
        let many: Vec<(String, String)> = (0..MAX_MEMBERS + 10).map(|i| (format!("@u{i}:x"), format!("${i}"))).collect();
        s.record("@a:x", "D", "!r:x", false, many.iter().map(|(u, e)| (u.as_str(), e.as_str())));
        assert!(s.lock()[&("@a:x".to_owned(), "D".to_owned())]["!r:x"].len() <= MAX_MEMBERS);
    }
}
