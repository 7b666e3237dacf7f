//! What a room actor knows of its senders' transaction IDs: the event each recent one names,
//! and, per device, a digest of every one the device holds in this room. A send whose key the
//! device is known not to hold needs no read of the store before it is accepted.

use crate::store::events::TxnKey;
use ruma::OwnedEventId;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

/// Recent transaction IDs kept with the event each names, to answer a retry from memory.
const REMEMBERED: usize = 10_000;
/// The most of a device's stored transaction IDs (in every room) read at its first send here;
/// a device holding more is looked up in the store at each send. Stored IDs expire after a day
/// (`store::events::TXN_ID_LIFETIME_MS`), so only a device sending more than this in a day does.
pub const DEVICE_ROWS_READ: i64 = 4_000;
/// The most digests kept for all of a room's devices together (8 bytes each, about 1.2 MB at
/// most), so a room with many senders stays bounded; past it, a device's sends are looked up in
/// the store. Only a room that took this many sends since its actor started reaches it.
const DIGESTS: usize = 100_000;

pub type Device = (String, String);

enum DeviceKeys {
    /// Its keys are being read; those accepted meanwhile are kept to add to what is read.
    Reading(Vec<u64>),
    /// A digest of every key the device holds in this room: a key not among them is new.
    Known(HashSet<u64>),
    /// Too many to keep, or not readable: each key is looked up in the store.
    LookedUp,
}

/// The transaction IDs a room actor knows of.
#[derive(Default)]
pub struct TxnMemory {
    events: HashMap<TxnKey, OwnedEventId>,
    order: VecDeque<TxnKey>,
    /// By user, then device: a send's key finds its device without a copy of either ID.
    devices: HashMap<String, HashMap<String, DeviceKeys>>,
    digests: usize,
}

/// A fixed digest (SipHash with zero keys): a collision only sends a key to the store.
fn digest(txn_id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    txn_id.hash(&mut h);
    h.finish()
}

impl TxnMemory {
    /// The event a remembered key names.
    pub fn event(&self, key: &TxnKey) -> Option<&OwnedEventId> {
        self.events.get(key)
    }

    fn keys_of(&self, user_id: &str, device_id: &str) -> Option<&DeviceKeys> {
        self.devices.get(user_id)?.get(device_id)
    }

    /// Whether only the store can tell what `key` names, if anything: it is not remembered, and
    /// its device is not known not to hold it (a key that device is known not to hold is new and
    /// is accepted without asking).
    pub fn needs_look_up(&self, key: &TxnKey) -> bool {
        let known_new =
            matches!(self.keys_of(&key.user_id, &key.device_id), Some(DeviceKeys::Known(set)) if !set.contains(&digest(&key.txn_id)));
        !known_new && !self.events.contains_key(key)
    }

    /// The devices of `keys` whose keys are not yet being read, now marked as being read.
    pub fn devices_to_read(&mut self, keys: &[TxnKey]) -> Vec<Device> {
        let mut wanted = Vec::new();
        for key in keys {
            let of_user = self.devices.entry(key.user_id.clone()).or_default();
            if !of_user.contains_key(&key.device_id) {
                of_user.insert(key.device_id.clone(), DeviceKeys::Reading(Vec::new()));
                wanted.push((key.user_id.clone(), key.device_id.clone()));
            }
        }
        wanted
    }

    /// What the store holds of a device's keys in this room (`None`: more than were read, or
    /// the read failed), added to those accepted while it was read.
    pub fn read(&mut self, (user_id, device_id): Device, stored: Option<Vec<String>>) {
        let digests = self.digests;
        let Some(keys) = self.devices.get_mut(&user_id).and_then(|d| d.get_mut(&device_id)) else { return };
        let DeviceKeys::Reading(accepted) = std::mem::replace(keys, DeviceKeys::LookedUp) else { return };
        if let Some(rows) = stored
            && digests + rows.len() + accepted.len() <= DIGESTS
        {
            let mut set: HashSet<u64> = rows.iter().map(|t| digest(t)).collect();
            set.extend(accepted);
            self.digests += set.len();
            *keys = DeviceKeys::Known(set);
        }
    }

    /// A device whose keys could not be read: they are looked up send by send from now on (not
    /// read again: keys accepted meanwhile may commit after any later read).
    pub fn read_failed(&mut self, (user_id, device_id): Device) {
        if let Some(keys @ DeviceKeys::Reading(_)) = self.devices.get_mut(&user_id).and_then(|d| d.get_mut(&device_id)) {
            *keys = DeviceKeys::LookedUp;
        }
    }

    /// Notes a key just accepted with the event it names.
    pub fn accepted(&mut self, key: &TxnKey, event_id: &OwnedEventId) {
        self.events.insert(key.clone(), event_id.clone());
        self.order.push_back(key.clone());
        let d = digest(&key.txn_id);
        let Some(keys) = self.devices.get_mut(&key.user_id).and_then(|m| m.get_mut(&key.device_id)) else { return };
        match keys {
            DeviceKeys::Reading(list) => list.push(d),
            DeviceKeys::Known(set) if self.digests >= DIGESTS => {
                self.digests -= set.len();
                *keys = DeviceKeys::LookedUp;
            }
            DeviceKeys::Known(set) => self.digests += usize::from(set.insert(d)),
            DeviceKeys::LookedUp => {}
        }
    }

    /// A retried key turned out to name another, stored event: answer with that one from now on.
    pub fn correct(&mut self, key: &TxnKey, event_id: OwnedEventId) {
        if let Some(id) = self.events.get_mut(key) {
            *id = event_id;
        }
    }

    /// Forgets the oldest remembered events past [`REMEMBERED`], except those `pending` (not
    /// committed yet). A device's digests stay: they say only that a key is not new.
    pub fn forget_old(&mut self, pending: impl Fn(&OwnedEventId) -> bool) {
        while self.events.len() > REMEMBERED {
            let Some(oldest) = self.order.front() else { break };
            if self.events.get(oldest).is_some_and(&pending) {
                break;
            }
            if let Some(k) = self.order.pop_front() {
                self.events.remove(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(device: &str, txn: &str) -> TxnKey {
        TxnKey { user_id: "@a:x".into(), device_id: device.into(), txn_id: format!("send/!r:x/m.room.message\u{1f}{txn}") }
    }

    fn event(n: u32) -> OwnedEventId {
        OwnedEventId::try_from(format!("$e{n}")).unwrap()
    }

    #[test]
    fn only_a_device_whose_keys_were_read_has_new_keys() {
        let mut m = TxnMemory::default();
        let (stored, fresh) = (key("D", "stored"), key("D", "fresh"));
        assert!(m.needs_look_up(&fresh), "nothing is known of the device yet");
        let asked = m.devices_to_read(&[fresh.clone(), stored.clone()]);
        assert_eq!(asked, vec![("@a:x".to_owned(), "D".to_owned())]);
        assert!(m.devices_to_read(std::slice::from_ref(&fresh)).is_empty(), "read once");
        assert!(m.needs_look_up(&fresh), "still being read");
        m.read(asked[0].clone(), Some(vec![stored.txn_id.clone()]));
        assert!(!m.needs_look_up(&fresh));
        assert!(m.needs_look_up(&stored), "the store holds it");
        assert!(m.needs_look_up(&key("E", "fresh")), "another device is not known");
    }

    #[test]
    fn keys_accepted_while_a_device_is_read_are_not_new_after_it() {
        let mut m = TxnMemory::default();
        let during = key("D", "during");
        let asked = m.devices_to_read(std::slice::from_ref(&during));
        m.accepted(&during, &event(1));
        assert!(!m.needs_look_up(&during), "remembered with its event");
        m.read(asked[0].clone(), Some(vec![]));
        // Forgotten as an event, it is still not new: a retry goes to the store.
        for n in 0..=REMEMBERED as u32 {
            m.accepted(&key("D", &format!("n{n}")), &event(n + 2));
            m.forget_old(|_| false);
        }
        assert!(m.event(&during).is_none(), "forgotten past the memory");
        assert!(m.needs_look_up(&during));
        assert!(!m.needs_look_up(&key("D", "never")));
    }

    #[test]
    fn a_device_past_the_bound_or_unread_is_looked_up() {
        let mut m = TxnMemory::default();
        let d = key("D", "x");
        let asked = m.devices_to_read(std::slice::from_ref(&d));
        m.read(asked[0].clone(), None);
        assert!(m.needs_look_up(&d), "more keys than were read");
        let e = key("E", "x");
        let asked = m.devices_to_read(std::slice::from_ref(&e));
        m.read_failed(asked[0].clone());
        assert!(m.needs_look_up(&e), "the read failed");
        // Past the room's digests, a known device's keys are looked up again.
        let f = key("F", "x");
        let asked = m.devices_to_read(std::slice::from_ref(&f));
        m.read(asked[0].clone(), Some(vec![]));
        assert!(!m.needs_look_up(&f));
        for n in 0..=DIGESTS as u32 {
            m.accepted(&key("F", &format!("n{n}")), &event(n));
            m.forget_old(|_| false);
        }
        assert!(m.needs_look_up(&f), "the device is no longer known");
        assert!(m.digests < DIGESTS, "its digests were given back");
    }
}
