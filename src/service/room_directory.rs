//! The room directory: published rooms with the entry each shows, and publishing a room.

use crate::Services;
use crate::actors::room::GetMember;
use crate::auth::tokens::Session;
use crate::error::{Error, Result};
use ruma::RoomId;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Most rooms one page lists.
pub const MAX_LIMIT: usize = 1_000;

/// Power needed to publish or withdraw a room (the default for state events), unless admin.
const PUBLISH_LEVEL: i64 = 50;

/// A directory page to read: bounded by the caller's parsing, capped again here.
pub struct ListQuery {
    pub limit: usize,
    pub offset: usize,
    /// Lower-cased; matched against name, topic, canonical alias and room ID.
    pub term: Option<String>,
}

pub struct DirectoryPage {
    pub chunk: Vec<Value>,
    pub total: usize,
    /// More entries follow this page.
    pub more: bool,
}

/// The state a directory entry shows.
const ENTRY_STATE: &[&str] = &[
    "m.room.name",
    "m.room.topic",
    "m.room.canonical_alias",
    "m.room.avatar",
    "m.room.join_rules",
    "m.room.history_visibility",
    "m.room.guest_access",
    "m.room.create",
];

/// A state event's content read as ruma's type for it; missing or malformed content is absent.
fn typed<T: serde::de::DeserializeOwned>(state: &HashMap<&str, &Value>, kind: &str) -> Option<T> {
    state.get(kind).and_then(|c| serde_json::from_value((*c).clone()).ok())
}

/// One directory entry from the room's current state (event type -> content); a space
/// hierarchy chunk starts from it.
pub fn entry(room_id: &str, joined: i64, state: &HashMap<&str, &Value>) -> Value {
    use ruma::events::room::{
        avatar::RoomAvatarEventContent,
        canonical_alias::RoomCanonicalAliasEventContent,
        create::RoomCreateEventContent,
        guest_access::{GuestAccess, RoomGuestAccessEventContent},
        history_visibility::{HistoryVisibility, RoomHistoryVisibilityEventContent},
        join_rules::RoomJoinRulesEventContent,
        name::RoomNameEventContent,
        topic::RoomTopicEventContent,
    };
    let mut e = Map::new();
    e.insert("room_id".into(), json!(room_id));
    e.insert("num_joined_members".into(), json!(joined));
    let shown = [
        ("name", typed::<RoomNameEventContent>(state, "m.room.name").map(|c| c.name)),
        ("topic", typed::<RoomTopicEventContent>(state, "m.room.topic").map(|c| c.topic)),
        (
            "canonical_alias",
            typed::<RoomCanonicalAliasEventContent>(state, "m.room.canonical_alias").and_then(|c| c.alias).map(|a| a.to_string()),
        ),
        ("avatar_url", typed::<RoomAvatarEventContent>(state, "m.room.avatar").and_then(|c| c.url).map(|u| u.to_string())),
    ];
    for (field, value) in shown {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            e.insert(field.into(), json!(v));
        }
    }
    if let Some(t) = typed::<RoomCreateEventContent>(state, "m.room.create").and_then(|c| c.room_type) {
        e.insert("room_type".into(), json!(t.to_string()));
    }
    let join_rule = typed::<RoomJoinRulesEventContent>(state, "m.room.join_rules").map(|c| c.join_rule.as_str().to_owned());
    let history = typed::<RoomHistoryVisibilityEventContent>(state, "m.room.history_visibility").map(|c| c.history_visibility);
    let guests = typed::<RoomGuestAccessEventContent>(state, "m.room.guest_access").map(|c| c.guest_access);
    e.insert("join_rule".into(), json!(join_rule.as_deref().unwrap_or("invite")));
    e.insert("world_readable".into(), json!(history == Some(HistoryVisibility::WorldReadable)));
    e.insert("guest_can_join".into(), json!(guests == Some(GuestAccess::CanJoin)));
    Value::Object(e)
}

/// One page of the published rooms matching the search term, and the total that match.
pub async fn list(svc: &Services, q: ListQuery) -> Result<DirectoryPage> {
    let ListQuery { limit, offset, term } = q;
    let limit = limit.min(MAX_LIMIT);
    let (chunk, total, more) = svc
        .db
        .run(move |c| {
            let rooms = crate::store::rooms::published_rooms(c)?;
            let ids: Vec<String> = rooms.iter().map(|(r, _)| r.clone()).collect();
            // One read of the listed state for every published room, not one per room and type.
            let pdus = crate::store::events::room_state_of_types(c, &ids, ENTRY_STATE)?;
            let mut state: HashMap<&str, HashMap<&str, &Value>> = HashMap::new();
            for p in &pdus {
                state.entry(p.room_id.as_str()).or_default().insert(p.kind.as_str(), &p.content);
            }
            let mut matching = Vec::new();
            for (room_id, joined) in &rooms {
                let e = entry(room_id, *joined, state.get(room_id.as_str()).unwrap_or(&HashMap::new()));
                let hit = term.as_deref().is_none_or(|t| {
                    ["name", "topic", "canonical_alias", "room_id"]
                        .iter()
                        .any(|f| e.get(*f).and_then(Value::as_str).is_some_and(|v| v.to_lowercase().contains(t)))
                });
                if hit {
                    matching.push(e);
                }
            }
            let total = matching.len();
            let page: Vec<Value> = matching.into_iter().skip(offset).take(limit).collect();
            let more = offset.saturating_add(page.len()) < total;
            Ok((page, total, more))
        })
        .await?;
    Ok(DirectoryPage { chunk, total, more })
}

/// Whether the room is published.
pub async fn is_published(svc: &Services, room_id: &RoomId) -> Result<bool> {
    let room = room_id.to_string();
    let row = svc.db.run(move |c| crate::store::rooms::room_row(c, &room)).await?;
    Ok(row.ok_or_else(|| Error::not_found("Unknown room"))?.is_public)
}

/// Publishes or withdraws a room: a joined member with power 50, or a server admin.
pub async fn set_published(svc: &Arc<Services>, who: &Session, room_id: &RoomId, published: bool) -> Result<()> {
    let room = room_id.to_string();
    let member = svc.send_to_room(room_id, GetMember { user: who.user_id.clone(), state_type: None }).await??;
    if !who.is_server_admin() && (member.membership != "join" || member.power < PUBLISH_LEVEL) {
        return Err(Error::forbidden("You need power level 50 in the room to change its directory visibility"));
    }
    if who.shadow_banned {
        return Ok(());
    }
    let r = room.clone();
    if !svc.db.run(move |c| crate::store::rooms::set_published(c, &r, published)).await? {
        return Err(Error::not_found("Unknown room"));
    }
    log::info!("{} set the directory visibility of {room} to {}", who.user_id, if published { "public" } else { "private" });
    Ok(())
}
