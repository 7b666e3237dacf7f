//! The parts of a sync filter the server honours.

use crate::events::filter::{EventFormat, FilterDefinition, TypeFilter};

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
