//! The parts of a sync filter the server honours, and the filters parsed before.

use crate::events::filter::{EventFormat, FilterDefinition, TypeFilter};
use ruma::{OwnedUserId, UserId};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

/// The parts of a filter `/sync` honours.
#[derive(Debug, Clone)]
pub struct SyncFilter {
    pub timeline_limit: i64,
    pub timeline: TypeFilter,
    pub state: TypeFilter,
    pub rooms: Option<Vec<String>>,
    pub not_rooms: Vec<String>,
    pub account_data: TypeFilter,
    /// Whether presence goes out at all (the filter's presence part lets `m.presence` through).
    pub presence: bool,
    pub room_account_data: TypeFilter,
    pub include_leave: bool,
    /// Member events only for the timeline's senders (and the syncing user).
    pub lazy_load_members: bool,
    /// With lazy loading: resend member events this device was already sent.
    pub include_redundant_members: bool,
    /// Events as the federation API carries them.
    pub federation_format: bool,
    /// Counts of thread events apart, under `unread_thread_notifications`.
    pub unread_thread_notifications: bool,
}

impl Default for SyncFilter {
    fn default() -> Self {
        Self::from_definition(&FilterDefinition::default())
    }
}

impl SyncFilter {
    pub fn from_definition(f: &FilterDefinition) -> Self {
        let room = &f.room;
        Self {
            timeline_limit: room.timeline.limit.map(|l| l.min(1000) as i64).unwrap_or(10),
            timeline: room.timeline.type_filter(),
            state: room.state.type_filter(),
            rooms: room.rooms.clone(),
            not_rooms: room.not_rooms.clone().unwrap_or_default(),
            account_data: f.account_data.type_filter(),
            presence: f.presence.type_filter().allows("m.presence"),
            room_account_data: room.account_data.type_filter(),
            include_leave: room.include_leave,
            lazy_load_members: room.state.lazy_load_members,
            include_redundant_members: room.state.include_redundant_members,
            federation_format: f.event_format == EventFormat::Federation,
            unread_thread_notifications: room.timeline.unread_thread_notifications,
        }
    }

    /// A filter the server writes itself (the legacy stream's); one that does not parse would
    /// be a bug here, and reads as the default.
    pub fn from_json(v: &serde_json::Value) -> Self {
        Self::from_definition(&FilterDefinition::parse(v).unwrap_or_default())
    }

    /// Whether the filter lets `room_id` into the response.
    pub fn allows_room(&self, room_id: &str) -> bool {
        self.rooms.as_ref().is_none_or(|r| r.iter().any(|x| x == room_id)) && !self.not_rooms.iter().any(|x| x == room_id)
    }
}

/// Filters `/sync` has parsed, so a long-poll does not parse its inline filter again, or read
/// and parse its stored one, on every request. Nothing here goes stale: a stored filter never
/// changes once it has an ID (a new definition gets a new ID), and an inline one is its own key.
/// Each map holds at most [`FILTERS_CACHED`] filters; a full one is emptied and fills again.
#[derive(Default)]
pub struct FilterCache {
    inline: Mutex<HashMap<Box<str>, Arc<SyncFilter>>>,
    stored: Mutex<HashMap<(OwnedUserId, i64), Arc<SyncFilter>>>,
}

/// Filters each map of a [`FilterCache`] holds at most.
pub const FILTERS_CACHED: usize = 4096;

impl FilterCache {
    pub fn inline(&self, raw: &str) -> Option<SyncFilter> {
        locked(&self.inline).get(raw).map(|f| SyncFilter::clone(f))
    }

    pub fn keep_inline(&self, raw: &str, f: &SyncFilter) {
        keep(&self.inline, raw.into(), f);
    }

    pub fn stored(&self, user: &UserId, id: i64) -> Option<SyncFilter> {
        locked(&self.stored).get(&(user.to_owned(), id)).map(|f| SyncFilter::clone(f))
    }

    pub fn keep_stored(&self, user: &UserId, id: i64, f: &SyncFilter) {
        keep(&self.stored, (user.to_owned(), id), f);
    }
}

/// A map's lock; a panic elsewhere while holding it left the map whole (each change is one call).
fn locked<K>(map: &Mutex<HashMap<K, Arc<SyncFilter>>>) -> MutexGuard<'_, HashMap<K, Arc<SyncFilter>>> {
    map.lock().unwrap_or_else(|e| e.into_inner())
}

fn keep<K: Hash + Eq>(map: &Mutex<HashMap<K, Arc<SyncFilter>>>, key: K, f: &SyncFilter) {
    let mut map = locked(map);
    if map.len() >= FILTERS_CACHED {
        map.clear();
    }
    map.insert(key, Arc::new(f.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::owned_user_id;

    #[test]
    fn kept_filters_are_found_by_their_key_and_the_cache_stays_bounded() {
        let cache = FilterCache::default();
        let f = SyncFilter { timeline_limit: 3, ..SyncFilter::default() };
        let alice = owned_user_id!("@alice:x");
        cache.keep_stored(&alice, 1, &f);
        cache.keep_inline("{}", &f);
        assert_eq!(cache.stored(&alice, 1).map(|f| f.timeline_limit), Some(3));
        assert!(cache.stored(&alice, 2).is_none() && cache.stored(&owned_user_id!("@bob:x"), 1).is_none());
        assert_eq!(cache.inline("{}").map(|f| f.timeline_limit), Some(3));
        assert!(cache.inline("{ }").is_none());
        for i in 0..FILTERS_CACHED as i64 + 10 {
            cache.keep_stored(&alice, 100 + i, &f);
        }
        assert!(locked(&cache.stored).len() <= FILTERS_CACHED);
    }
}
