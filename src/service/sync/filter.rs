//! The parts of a sync filter the server honours, read from the filter JSON.

use crate::events::filter::TypeFilter;
use serde_json::Value;

/// The parts of a filter `/sync` honours.
#[derive(Debug, Clone)]
pub struct SyncFilter {
    pub timeline_limit: i64,
    pub timeline: TypeFilter,
    pub state: TypeFilter,
    pub rooms: Option<Vec<String>>,
    pub account_data: TypeFilter,
    pub room_account_data: TypeFilter,
    pub include_leave: bool,
    /// Counts of thread events apart, under `unread_thread_notifications`.
    pub unread_thread_notifications: bool,
}

impl SyncFilter {
    pub fn from_json(f: &Value) -> Self {
        let room = f.get("room");
        let part = |k: &str| room.and_then(|r| r.get(k));
        Self {
            timeline_limit: part("timeline").and_then(|t| t.get("limit")).and_then(Value::as_i64).unwrap_or(10).clamp(0, 1000),
            timeline: TypeFilter::from_json(part("timeline")),
            state: TypeFilter::from_json(part("state")),
            rooms: room
                .and_then(|r| r.get("rooms"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
            account_data: TypeFilter::from_json(f.get("account_data")),
            room_account_data: TypeFilter::from_json(part("account_data")),
            include_leave: room.and_then(|r| r.get("include_leave")).and_then(Value::as_bool).unwrap_or(false),
            unread_thread_notifications: part("timeline")
                .and_then(|t| t.get("unread_thread_notifications"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }
}
