//! Events: the stored PDU, building and hashing new ones, and the client format.

pub mod auth;
pub mod filter;
pub mod push;
pub mod signing_key;
pub mod visibility;

use crate::error::{Error, Result};
use ruma::canonical_json::{CanonicalJsonValue, redact_content_in_place};
use ruma::room_version_rules::{EventIdFormatVersion, EventsReferenceFormatVersion, RoomIdFormatVersion, RoomVersionRules};
use ruma::{CanonicalJsonObject, OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId};
use serde_json::{Value, json};
use std::collections::HashMap;

pub const DEFAULT_ROOM_VERSION: &str = "10";

/// The deepest nesting of objects and arrays accepted in a request body or a built event.
/// serde_json stops parsing at 128 levels, and what is stored and served wraps content in more
/// levels (the PDU, `unsigned.redacted_because`, a sync response's rooms/join/timeline/events):
/// 64 leaves that headroom so whatever is accepted can always be read back, here and by clients.
pub const MAX_JSON_DEPTH: usize = 64;

/// Nesting depth of a JSON value: a scalar is 0, `{}` and `[]` are 1.
pub fn json_depth(v: &Value) -> usize {
    // Iterative, so a deep value cannot exhaust the stack here either.
    let mut max = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::Object(m) => {
                max = max.max(d + 1);
                stack.extend(m.values().map(|c| (c, d + 1)));
            }
            Value::Array(a) => {
                max = max.max(d + 1);
                stack.extend(a.iter().map(|c| (c, d + 1)));
            }
            _ => {}
        }
    }
    max
}
/// Every stable room version: ruma carries the rules of each.
pub const SUPPORTED_ROOM_VERSIONS: &[&str] = &["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"];

/// The rules of a supported room version, `None` for any other.
pub fn supported_rules(version: &str) -> Option<RoomVersionRules> {
    if !SUPPORTED_ROOM_VERSIONS.contains(&version) {
        return None;
    }
    ruma::RoomVersionId::try_from(version).ok().and_then(|v| v.rules())
}

/// The rules of a stored room's version; a version this server never creates gets v10's.
pub fn rules_for(version: &str) -> RoomVersionRules {
    supported_rules(version).unwrap_or(RoomVersionRules::V10)
}

/// One event as stored: the fields the server reads often, and the full signed JSON.
#[derive(Debug, Clone)]
pub struct Pdu {
    pub event_id: OwnedEventId,
    pub room_id: OwnedRoomId,
    pub sender: OwnedUserId,
    pub kind: String,
    pub state_key: Option<String>,
    pub content: Value,
    pub origin_server_ts: i64,
    pub depth: i64,
    pub redacts: Option<OwnedEventId>,
    /// Position in the global stream; 0 until committed.
    pub stream_ordering: i64,
    pub redacted_because: Option<Value>,
}

/// What a client asked for before the room actor turned it into a PDU.
#[derive(Debug, Clone)]
pub struct EventDraft {
    pub kind: String,
    pub state_key: Option<String>,
    pub content: Value,
    pub redacts: Option<OwnedEventId>,
}

impl EventDraft {
    pub fn state(kind: &str, state_key: &str, content: Value) -> Self {
        Self { kind: kind.into(), state_key: Some(state_key.into()), content, redacts: None }
    }
    pub fn message(kind: &str, content: Value) -> Self {
        Self { kind: kind.into(), state_key: None, content, redacts: None }
    }
}

/// The pieces of room context an event is built against.
pub struct BuildContext<'a> {
    /// Ignored for a create event whose room ID is derived from it (v12 on).
    pub room_id: &'a RoomId,
    pub sender: &'a UserId,
    pub prev_events: Vec<OwnedEventId>,
    pub auth_events: Vec<OwnedEventId>,
    /// Reference hashes of the events named above, for the versions whose PDUs carry them
    /// next to each ID (v1, v2); an unknown one is left out.
    pub reference_hashes: &'a HashMap<OwnedEventId, String>,
    pub depth: i64,
    pub rules: &'a RoomVersionRules,
    pub keys: &'a signing_key::ServerKeys,
    pub max_bytes: usize,
}

/// A built event: the PDU, its signed JSON as stored, and its reference hash.
pub struct Built {
    pub pdu: Pdu,
    pub json: String,
    pub reference_hash: String,
}

/// Whether `kind` is a create event that names no room: its reference hash is the room ID.
pub fn derives_room_id(kind: &str, rules: &RoomVersionRules) -> bool {
    kind == "m.room.create" && rules.room_id_format == RoomIdFormatVersion::V2
}

/// `prev_events` / `auth_events` in the room version's format.
fn event_references(ids: &[OwnedEventId], ctx: &BuildContext<'_>) -> Value {
    match ctx.rules.events_reference_format {
        EventsReferenceFormatVersion::V1 => Value::Array(
            ids.iter()
                .map(|id| {
                    let mut hashes = serde_json::Map::new();
                    if let Some(h) = ctx.reference_hashes.get(id) {
                        hashes.insert("sha256".into(), json!(h));
                    }
                    json!([id, hashes])
                })
                .collect(),
        ),
        _ => json!(ids),
    }
}

/// Builds, hashes and signs a PDU in the room version's format; its event ID is the reference
/// hash (v3 on) or a random ID carried inside the PDU (v1, v2).
pub fn build(draft: &EventDraft, ctx: &BuildContext<'_>) -> Result<Built> {
    let ts = crate::ids::now_ms();
    let derived_room = derives_room_id(&draft.kind, ctx.rules);
    let mut obj = json!({
        "auth_events": event_references(&ctx.auth_events, ctx),
        "prev_events": event_references(&ctx.prev_events, ctx),
        "content": draft.content,
        "depth": ctx.depth,
        "origin_server_ts": ts,
        "sender": ctx.sender,
        "type": draft.kind,
    });
    if !derived_room {
        obj["room_id"] = json!(ctx.room_id);
    }
    let inner_event_id = (ctx.rules.event_id_format == EventIdFormatVersion::V1)
        .then(|| format!("${}:{}", crate::ids::random_alnum(18), ctx.keys.server_name));
    if let Some(id) = &inner_event_id {
        obj["event_id"] = json!(id);
    }
    if let Some(sk) = &draft.state_key {
        obj["state_key"] = json!(sk);
    }
    if let Some(r) = &draft.redacts {
        obj["redacts"] = json!(r);
        if ctx.rules.redaction.content_field_redacts {
            obj["content"]["redacts"] = json!(r);
        }
    }
    // The PDU format bounds these fields to 255 bytes (as Synapse checks): a longer one would
    // be refused by every other server.
    if draft.kind.len() > 255 || draft.state_key.as_ref().is_some_and(|k| k.len() > 255) {
        return Err(Error::too_large("Event type and state key are limited to 255 bytes"));
    }
    if json_depth(&obj) > MAX_JSON_DEPTH {
        return Err(Error::bad_json(format!("Event content nests deeper than {} levels", MAX_JSON_DEPTH - 1)));
    }
    let mut canonical: CanonicalJsonObject = match ruma::canonical_json::to_canonical_value(&obj) {
        Ok(CanonicalJsonValue::Object(o)) => o,
        _ => return Err(Error::bad_json("Event content is not valid canonical JSON (floats or out-of-range integers?)")),
    };
    // Checked before hashing: ruma refuses PDUs over 65535 bytes with an error of its own.
    let unsigned_len = serde_json::to_vec(&canonical).map(|v| v.len()).unwrap_or(usize::MAX);
    if unsigned_len > ctx.max_bytes.min(65_535 - 512) {
        return Err(Error::too_large("Event is larger than the configured limit"));
    }
    ruma::signatures::hash_and_sign_event(&ctx.keys.server_name, &ctx.keys.keypair, &mut canonical, &ctx.rules.redaction).map_err(|e| {
        match e {
            ruma::signatures::JsonError::PduTooLarge => Error::too_large("Event is larger than the 65535-byte PDU limit"),
            other => Error::bad_json(format!("Cannot hash event: {other}")),
        }
    })?;
    let reference_hash =
        ruma::signatures::reference_hash(&canonical, ctx.rules).map_err(|e| Error::bad_json(format!("Cannot hash event: {e}")))?;
    let event_id = inner_event_id.unwrap_or_else(|| format!("${reference_hash}"));
    let event_id = OwnedEventId::try_from(event_id).map_err(|e| Error::internal_from("built event ID", e))?;
    let room_id = if derived_room {
        ruma::RoomId::new_v2(&reference_hash).map_err(|e| Error::internal(format!("room ID from {reference_hash}: {e}")))?
    } else {
        ctx.room_id.to_owned()
    };
    let json_text = serde_json::to_string(&canonical).map_err(|e| Error::internal(e.to_string()))?;
    if json_text.len() > ctx.max_bytes {
        return Err(Error::too_large("Event is larger than the configured limit"));
    }
    // What cannot be read back would fail every later read of the room: refuse it now. The
    // fields `Pdu::from_stored` parses into IDs are typed here already, so the text's parse is
    // what is left to check, without building the value tree it would read.
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&json_text) {
        log::warn!("refusing an event that would not read back: {e}");
        return Err(Error::bad_json("Event cannot be stored"));
    }
    let pdu = Pdu {
        event_id,
        room_id,
        sender: ctx.sender.to_owned(),
        kind: draft.kind.clone(),
        state_key: draft.state_key.clone(),
        content: draft.content.clone(),
        origin_server_ts: ts,
        depth: ctx.depth,
        redacts: draft.redacts.clone(),
        stream_ordering: 0,
        redacted_because: None,
    };
    Ok(Built { pdu, json: json_text, reference_hash })
}

impl Pdu {
    /// Parses the stored signed JSON back into a PDU.
    pub fn from_stored(event_id: &str, stream_ordering: i64, json_text: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(json_text).map_err(|e| Error::internal(format!("stored event {event_id}: {e}")))?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        // The one place stored IDs become typed: a malformed one makes the event unreadable.
        let bad = |what: &str| Error::internal(format!("stored event {event_id}: malformed {what}"));
        let kind = s("type").unwrap_or_default();
        // A create event that names no room is the room's ID (v12 on): `!` and its hash.
        let room_id = match s("room_id") {
            Some(r) => r,
            None if kind == "m.room.create" => format!("!{}", event_id.trim_start_matches('$')),
            None => return Err(bad("room_id")),
        };
        let redacts = match s("redacts") {
            Some(r) => Some(OwnedEventId::try_from(r).map_err(|_| bad("redacts"))?),
            None => None,
        };
        Ok(Pdu {
            event_id: OwnedEventId::try_from(event_id).map_err(|_| bad("event_id"))?,
            room_id: OwnedRoomId::try_from(room_id).map_err(|_| bad("room_id"))?,
            sender: s("sender").and_then(|u| OwnedUserId::try_from(u).ok()).ok_or_else(|| bad("sender"))?,
            kind,
            state_key: s("state_key"),
            content: v.get("content").cloned().unwrap_or_else(|| json!({})),
            origin_server_ts: v.get("origin_server_ts").and_then(Value::as_i64).unwrap_or(0),
            depth: v.get("depth").and_then(Value::as_i64).unwrap_or(0),
            redacts,
            stream_ordering,
            redacted_because: v.get("unsigned").and_then(|u| u.get("redacted_because")).cloned(),
        })
    }

    pub fn is_state(&self) -> bool {
        self.state_key.is_some()
    }

    /// The event as the client-server API shows it.
    pub fn to_client(&self, txn_id: Option<&str>) -> Value {
        let mut unsigned = serde_json::Map::new();
        unsigned.insert("age".into(), json!((crate::ids::now_ms() - self.origin_server_ts).max(0)));
        if let Some(t) = txn_id {
            unsigned.insert("transaction_id".into(), json!(t));
        }
        if let Some(rb) = &self.redacted_because {
            unsigned.insert("redacted_because".into(), rb.clone());
        }
        let mut ev = json!({
            "event_id": self.event_id,
            "room_id": self.room_id,
            "sender": self.sender,
            "type": self.kind,
            "content": self.content,
            "origin_server_ts": self.origin_server_ts,
            "unsigned": unsigned,
        });
        if let Some(sk) = &self.state_key {
            ev["state_key"] = json!(sk);
        }
        if let Some(r) = &self.redacts {
            ev["redacts"] = json!(r);
        }
        ev
    }

    /// The stripped form used in invite_state.
    pub fn to_stripped(&self) -> Value {
        json!({"type": self.kind, "state_key": self.state_key, "content": self.content, "sender": self.sender})
    }

    /// Hides the content of an erased user's event from a reader who joined after it
    /// (`joined_at` is the reader's join position). Membership events stay as they are.
    pub fn hide_if_erased(&mut self, erased: &std::collections::HashSet<String>, joined_at: i64) {
        if self.stream_ordering < joined_at && self.state_key.is_none() && erased.contains(self.sender.as_str()) {
            self.content = json!({});
        }
    }

    pub fn membership(&self) -> Option<&str> {
        if self.kind == "m.room.member" { self.content.get("membership").and_then(Value::as_str) } else { None }
    }
}

/// The stored JSON of `target` after `redaction` removed its content.
pub fn redact_stored(json_text: &str, kind: &str, rules: &RoomVersionRules, redaction: &Pdu) -> Result<String> {
    let mut v: Value = serde_json::from_str(json_text).map_err(|e| Error::internal(e.to_string()))?;
    let content = v.get("content").cloned().unwrap_or_else(|| json!({}));
    let mut content: CanonicalJsonObject = match ruma::canonical_json::to_canonical_value(&content) {
        Ok(CanonicalJsonValue::Object(o)) => o,
        _ => CanonicalJsonObject::new(),
    };
    redact_content_in_place(&mut content, &rules.redaction, kind);
    v["content"] = serde_json::to_value(&content).map_err(|e| Error::internal(e.to_string()))?;
    if !v.get("unsigned").is_some_and(Value::is_object) {
        v["unsigned"] = json!({});
    }
    v["unsigned"]["redacted_because"] = redaction.to_client(None);
    serde_json::to_string(&v).map_err(|e| Error::internal(e.to_string()))
}
