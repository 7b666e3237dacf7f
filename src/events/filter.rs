//! The spec's filters: the whole definition a client uploads or sends inline (typed, so a
//! malformed one is refused with the field named), and the event-type part the server applies
//! (`types`, `not_types`, with `*` wildcards).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A filter as `POST /user/{userId}/filter` takes it and `/sync` reads it. Unknown fields are
/// kept out of the type but allowed, as the spec lets filters grow.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct FilterDefinition {
    pub event_fields: Option<Vec<String>>,
    pub event_format: EventFormat,
    pub presence: EventFilter,
    pub account_data: EventFilter,
    pub room: RoomFilter,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventFormat {
    #[default]
    Client,
    Federation,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct EventFilter {
    pub limit: Option<u64>,
    pub types: Option<Vec<String>>,
    pub not_types: Option<Vec<String>>,
    pub senders: Option<Vec<String>>,
    pub not_senders: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct RoomFilter {
    pub rooms: Option<Vec<String>>,
    pub not_rooms: Option<Vec<String>>,
    pub include_leave: bool,
    pub ephemeral: RoomEventFilter,
    pub state: RoomEventFilter,
    pub timeline: RoomEventFilter,
    pub account_data: RoomEventFilter,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct RoomEventFilter {
    pub limit: Option<u64>,
    pub types: Option<Vec<String>>,
    pub not_types: Option<Vec<String>>,
    pub senders: Option<Vec<String>>,
    pub not_senders: Option<Vec<String>>,
    pub rooms: Option<Vec<String>>,
    pub not_rooms: Option<Vec<String>>,
    pub contains_url: Option<bool>,
    pub lazy_load_members: bool,
    pub include_redundant_members: bool,
    pub unread_thread_notifications: bool,
}

impl FilterDefinition {
    /// Reads a client's filter; a field of the wrong type is 400 `M_BAD_JSON` naming it.
    pub fn parse(v: &Value) -> crate::error::Result<Self> {
        if !v.is_object() {
            return Err(crate::error::Error::bad_json("A filter is a JSON object"));
        }
        let f: Self = serde_path_to_error::deserialize(v)
            .map_err(|e| crate::error::Error::bad_json(format!("Invalid filter: {}: {}", e.path(), e.inner())))?;
        f.check_ids()?;
        Ok(f)
    }

    /// Room and sender lists must hold room and user IDs: a filter naming anything else could
    /// never match, and the spec's schema refuses it.
    fn check_ids(&self) -> crate::error::Result<()> {
        let bad = |what: &str, id: &str| crate::error::Error::bad_json(format!("Invalid filter: {what} holds {id:?}"));
        let rooms = |what: &str, list: &Option<Vec<String>>| {
            list.iter().flatten().try_for_each(|r| ruma::RoomId::parse(r).map(drop).map_err(|_| bad(what, r)))
        };
        let users = |what: &str, list: &Option<Vec<String>>| {
            list.iter().flatten().try_for_each(|u| ruma::UserId::parse(u).map(drop).map_err(|_| bad(what, u)))
        };
        let room = &self.room;
        rooms("room.rooms", &room.rooms)?;
        rooms("room.not_rooms", &room.not_rooms)?;
        for (part, f) in
            [("timeline", &room.timeline), ("state", &room.state), ("ephemeral", &room.ephemeral), ("account_data", &room.account_data)]
        {
            rooms(&format!("room.{part}.rooms"), &f.rooms)?;
            rooms(&format!("room.{part}.not_rooms"), &f.not_rooms)?;
            users(&format!("room.{part}.senders"), &f.senders)?;
            users(&format!("room.{part}.not_senders"), &f.not_senders)?;
        }
        for (part, f) in [("presence", &self.presence), ("account_data", &self.account_data)] {
            users(&format!("{part}.senders"), &f.senders)?;
            users(&format!("{part}.not_senders"), &f.not_senders)?;
        }
        Ok(())
    }
}

impl RoomEventFilter {
    pub fn type_filter(&self) -> TypeFilter {
        TypeFilter { types: self.types.clone(), not_types: self.not_types.clone().unwrap_or_default() }
    }
}

impl EventFilter {
    pub fn type_filter(&self) -> TypeFilter {
        TypeFilter { types: self.types.clone(), not_types: self.not_types.clone().unwrap_or_default() }
    }
}

/// A room event filter's `types`/`not_types`.
#[derive(Debug, Default, Clone)]
pub struct TypeFilter {
    pub types: Option<Vec<String>>,
    pub not_types: Vec<String>,
}

impl TypeFilter {
    pub fn from_json(v: Option<&Value>) -> Self {
        let list = |k: &str| {
            v.and_then(|f| f.get(k))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect::<Vec<_>>())
        };
        Self { types: list("types"), not_types: list("not_types").unwrap_or_default() }
    }

    pub fn allows(&self, kind: &str) -> bool {
        let m = |p: &String| p == kind || (p.ends_with('*') && kind.starts_with(&p[..p.len() - 1]));
        self.types.as_ref().is_none_or(|t| t.iter().any(m)) && !self.not_types.iter().any(m)
    }

    /// Exact types only, for pushing the filter into the query.
    pub fn exact_types(&self) -> Option<Vec<String>> {
        self.types.as_ref().filter(|t| t.iter().all(|p| !p.ends_with('*'))).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards_and_exclusions() {
        let f = TypeFilter::from_json(Some(&json!({"types": ["m.room.*"], "not_types": ["m.room.member"]})));
        assert!(f.allows("m.room.message"));
        assert!(!f.allows("m.room.member"));
        assert!(!f.allows("m.reaction"));
        assert_eq!(f.exact_types(), None);
        assert!(TypeFilter::default().allows("anything"));
    }

    #[test]
    fn definitions_are_strict() {
        let ok =
            FilterDefinition::parse(&json!({"room": {"state": {"lazy_load_members": true}, "timeline": {"limit": 5}}})).expect("valid");
        assert!(ok.room.state.lazy_load_members);
        assert_eq!(ok.room.timeline.limit, Some(5));
        for bad in [
            json!({"room": {"state": {"lazy_load_members": "true"}}}),
            json!({"room": {"state": {"include_redundant_members": 1}}}),
            json!({"room": {"timeline": "not an object"}}),
            json!({"room": {"timeline": {"limit": -1}}}),
            json!({"event_format": "xml"}),
            json!([]),
            json!({"presence": "not_an_object"}),
            json!({"room": {"ephemeral": "not_an_object"}}),
            json!({"room": {"timeline": {"types": [0]}}}),
            json!({"room": {"timeline": {"rooms": "not_a_list"}}}),
            json!({"room": {"timeline": {"rooms": ["not_a_room_id"]}}}),
            json!({"room": {"timeline": {"senders": ["not_a_sender_id"]}}}),
            json!({"room": {"not_rooms": ["#alias:x"]}}),
        ] {
            let e = FilterDefinition::parse(&bad).expect_err("invalid");
            assert_eq!(e.errcode(), "M_BAD_JSON", "{bad}");
        }
        // Fields the spec may add later are not errors.
        assert!(FilterDefinition::parse(&json!({"room": {"org.example.future": 1}})).is_ok());
    }
}
