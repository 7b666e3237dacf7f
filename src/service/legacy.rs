//! The deprecated event stream and initial syncs (`GET /events`, `/initialSync`,
//! `/rooms/{roomId}/initialSync`), still used by old bots and bridges: thin views over the
//! sync and history services, so they see exactly what `/sync` and `/messages` would.

use super::sync::filter::SyncFilter;
use super::sync::{self, Positions, SyncRequest};
use crate::Services;
use crate::auth::tokens::Session;
use crate::error::Result;
use crate::events::filter::TypeFilter;
use ruma::RoomId;
use serde_json::{Map, Value, json};

/// The longest `/events` waits, whatever the client asks.
pub const MAX_STREAM_TIMEOUT_MS: i64 = 60_000;
/// Events per room one `/events` or `/initialSync` answer carries at most.
pub const MAX_ROOM_EVENTS: i64 = 1000;

/// The stream sees what a device-less `/sync` sees: to-device messages belong to `/sync`,
/// and a stream token must never acknowledge (and so delete) any.
fn streaming(who: &Session) -> Session {
    Session { device_id: None, ..who.clone() }
}

/// The positions of everything committed so far, for a stream that starts now.
pub async fn now(svc: &Services, who: &Session) -> Result<Positions> {
    let filter = SyncFilter::from_json(&json!({"room": {"rooms": [], "timeline": {"limit": 0}}, "presence": {"types": []}}));
    let req = SyncRequest { since: None, timeout_ms: 0, full_state: false, filter };
    Ok(sync::sync(svc, &streaming(who), req).await?.next)
}

/// One answer of the event stream: the events after `from`, waiting up to `timeout_ms` for one.
pub struct StreamPage {
    pub chunk: Vec<Value>,
    pub start: Positions,
    pub end: Positions,
}

/// `GET /events`: everything after `from` (or from now), oldest first, flattened from the rooms
/// into one list, each event naming its room.
/// Where a stream request starts.
pub enum StreamStart {
    /// No `from`: what is committed from now on.
    Now,
    /// A stream token.
    At(Positions),
    /// A room's pagination token (what a room's initial sync gives as `messages.end`): its events
    /// after that position, every other stream from now.
    AfterEvent(i64),
}

pub async fn events(svc: &Services, who: &Session, from: StreamStart, timeout_ms: i64, room: Option<&RoomId>) -> Result<StreamPage> {
    // A stream narrowed to one room follows just that room: a member's as their sync sees it,
    // anyone else's only when the room is world readable (a peek), else it is refused at once.
    let peeking = match room {
        Some(room) => !super::history::may_peek_or_is_joined(svc, &who.user_id, room).await?,
        None => false,
    };
    let start = match from {
        StreamStart::At(p) => p,
        StreamStart::Now => now(svc, who).await?,
        StreamStart::AfterEvent(events) => Positions { events, ..now(svc, who).await? },
    };
    if let Some(room) = room.filter(|_| peeking) {
        return super::peek::events(svc, who, room, start, timeout_ms.clamp(0, MAX_STREAM_TIMEOUT_MS)).await;
    }
    let rooms = room.map(|r| vec![r.to_string()]);
    let filter = SyncFilter::from_json(&json!({"room": {"rooms": rooms, "timeline": {"limit": MAX_ROOM_EVENTS}, "include_leave": true}}));
    let req = SyncRequest { since: Some(start), timeout_ms: timeout_ms.clamp(0, MAX_STREAM_TIMEOUT_MS), full_state: false, filter };
    let resp = sync::sync(svc, &streaming(who), req).await?;
    let body = &resp.body;
    let mut chunk = Vec::new();
    for (membership, section) in [("join", "timeline"), ("leave", "timeline")] {
        for (room, r) in rooms_of(body, membership) {
            chunk.extend(in_room(&r[section]["events"], room));
            chunk.extend(in_room(&r["ephemeral"]["events"], room));
            chunk.extend(in_room(&r["account_data"]["events"], room));
        }
    }
    for (room, r) in rooms_of(body, "invite") {
        let own = r["invite_state"]["events"].as_array().into_iter().flatten().filter(|e| e["state_key"] == who.user_id.as_str());
        chunk.extend(in_room(&Value::Array(own.cloned().collect()), room));
    }
    chunk.extend(list(&body["account_data"]["events"]));
    chunk.extend(list(&body["presence"]["events"]));
    let chunk = chunk.into_iter().map(v1).collect();
    Ok(StreamPage { chunk, start, end: resp.next })
}

fn rooms_of<'a>(body: &'a Value, membership: &str) -> impl Iterator<Item = (&'a str, &'a Value)> {
    body["rooms"][membership].as_object().into_iter().flatten().map(|(k, v)| (k.as_str(), v))
}

fn list(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

/// The events of a list, each carrying `room_id`.
fn in_room(events: &Value, room: &str) -> Vec<Value> {
    let mut out = list(events);
    for e in out.iter_mut() {
        if let Some(o) = e.as_object_mut() {
            o.entry("room_id").or_insert_with(|| json!(room));
        }
    }
    out
}

/// The legacy (v1) shape of a client event, which the deprecated routes still answer with:
/// `user_id` beside `sender`, and `age`, `prev_content` and the like lifted out of `unsigned`.
pub(crate) fn v1(mut e: Value) -> Value {
    let Some(o) = e.as_object_mut() else { return e };
    if let Some(sender) = o.get("sender").cloned() {
        o.insert("user_id".into(), sender);
    }
    let lifted: Vec<(String, Value)> = o
        .get("unsigned")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(k, _)| matches!(k.as_str(), "age" | "redacted_because" | "replaces_state" | "prev_content" | "invite_room_state"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in lifted {
        o.insert(k, v);
    }
    e
}

/// `public` if the room is listed in the directory, else `private` (an unknown room included).
async fn directory_visibility(svc: &Services, room_id: &RoomId) -> &'static str {
    if super::room_directory::is_published(svc, room_id).await.unwrap_or(false) { "public" } else { "private" }
}

/// Account data as events: `{type, content}` for each type.
fn account_data_events(map: Option<&Value>) -> Vec<Value> {
    map.and_then(Value::as_object).into_iter().flatten().map(|(k, v)| json!({"type": k, "content": v})).collect()
}

/// `GET /initialSync`: every room of the user (left ones with `archived`), each with its last
/// `limit` events and current visible state, the receipts, presence and account data, and the
/// positions a later `/events` starts from.
pub async fn initial_sync(svc: &Services, who: &Session, limit: i64, archived: bool) -> Result<(Value, Positions)> {
    let limit = limit.clamp(0, MAX_ROOM_EVENTS);
    let filter = SyncFilter::from_json(&json!({"room": {"timeline": {"limit": limit}, "include_leave": archived}}));
    let req = SyncRequest { since: None, timeout_ms: 0, full_state: false, filter };
    let resp = sync::sync(svc, &streaming(who), req).await?;
    let body = &resp.body;
    let (_, room_ad) = super::account_data::everything(svc, &who.user_id).await?;
    let mut rooms = Vec::new();
    let mut receipts = Vec::new();
    for membership in ["join", "invite", "leave"] {
        for (room, r) in rooms_of(body, membership) {
            let room_id = crate::ids::parse_room_id(room)?;
            let mut entry = json!({
                "room_id": room,
                "membership": membership,
                "account_data": account_data_events(room_ad.get(room)),
                "visibility": directory_visibility(svc, &room_id).await,
            });
            if membership == "invite" {
                entry["invite_state"] = r["invite_state"].clone();
            } else {
                entry["state"] = json!(
                    super::history::visible_state(svc, &who.user_id, &room_id)
                        .await?
                        .iter()
                        .map(|p| v1(p.to_client(None)))
                        .collect::<Vec<_>>()
                );
                entry["messages"] = json!({
                    "chunk": in_room(&r["timeline"]["events"], room).into_iter().map(v1).collect::<Vec<_>>(),
                    "start": r["timeline"]["prev_batch"],
                    "end": format!("t{}", resp.next.events),
                });
                receipts.extend(in_room(&r["ephemeral"]["events"], room).into_iter().filter(|e| e["type"] == "m.receipt"));
            }
            rooms.push(entry);
        }
    }
    let me = who.user_id.to_string();
    let mates = svc.db.run(move |c| crate::store::memberships::room_mates(c, &me)).await?;
    let presence = super::presence::snapshot(svc, mates.iter().map(ToString::to_string).collect()).await?;
    let out = json!({
        "rooms": rooms,
        "receipts": receipts,
        "presence": presence,
        // Push rules are a /sync addition; the initial sync never carried them.
        "account_data": list(&body["account_data"]["events"]).into_iter().filter(|e| e["type"] != "m.push_rules").collect::<Vec<_>>(),
    });
    Ok((out, resp.next))
}

/// `GET /rooms/{roomId}/initialSync`: one room as the requester may see it: its last `limit`
/// events, visible state, membership and the requester's account data for it.
pub async fn room_initial_sync(svc: &Services, who: &Session, room_id: &RoomId, limit: i64) -> Result<Value> {
    let state = super::history::visible_state(svc, &who.user_id, room_id).await?;
    let page = super::history::PageRequest {
        backwards: true,
        from: None,
        to: None,
        limit: limit.clamp(0, MAX_ROOM_EVENTS),
        filter: TypeFilter::default(),
        lazy_members: false,
    };
    let page = super::history::messages(svc, &who.user_id, room_id, page).await?;
    let membership = state
        .iter()
        .find(|p| p.kind == "m.room.member" && p.state_key.as_deref() == Some(who.user_id.as_str()))
        .and_then(|p| p.membership().map(str::to_owned))
        .unwrap_or_else(|| "leave".into());
    let (_, room_ad) = super::account_data::everything(svc, &who.user_id).await?;
    let chunk: Vec<Value> = page.chunk.iter().rev().map(|p| v1(p.to_client(None))).collect();
    // Room-mates' presence goes to members only, as everywhere else.
    let joined: Vec<String> = if membership == "join" {
        state.iter().filter(|p| p.kind == "m.room.member" && p.membership() == Some("join")).filter_map(|p| p.state_key.clone()).collect()
    } else {
        Vec::new()
    };
    let presence = super::presence::snapshot(svc, joined).await?;
    let mut messages = Map::new();
    messages.insert("chunk".into(), json!(chunk));
    messages.insert("start".into(), json!(format!("t{}", page.end.unwrap_or(0))));
    messages.insert("end".into(), json!(format!("t{}", page.start)));
    Ok(json!({
        "room_id": room_id,
        "membership": membership,
        "messages": messages,
        "state": state.iter().map(|p| v1(p.to_client(None))).collect::<Vec<_>>(),
        "presence": presence,
        "receipts": [],
        "account_data": account_data_events(room_ad.get(room_id.as_str())),
        "visibility": directory_visibility(svc, room_id).await,
    }))
}
