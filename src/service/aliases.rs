//! Room aliases on this server: who may add and remove them, the aliases of a room, and the
//! check that a canonical alias event names only aliases of its room.

use crate::Services;
use crate::actors::room::{GetMember, SendEvent};
use crate::auth::tokens::Session;
use crate::error::{Error, ErrorKind, Result};
use crate::events::EventDraft;
use ruma::{OwnedRoomId, RoomAliasId, RoomId, UserId};
use serde_json::Value;
use std::sync::Arc;

/// The room an alias of this server points at; 404 if none.
pub async fn resolve(svc: &Services, alias: &RoomAliasId) -> Result<OwnedRoomId> {
    let a = alias.to_string();
    let found = svc.db.run(move |c| crate::store::rooms::alias_room(c, &a)).await?;
    let (room_id, _) = found.ok_or_else(|| Error::not_found("Room alias not found"))?;
    RoomId::parse(&room_id).map_err(|e| Error::internal_from(format!("stored alias {alias} names an invalid room"), e))
}

/// Points a new alias of this server at an existing room.
pub async fn create(svc: &Services, who: &Session, alias: &RoomAliasId, room_id: &RoomId) -> Result<()> {
    if alias.server_name().as_str() != svc.server_name() {
        return Err(Error::invalid_param("Alias must be on this server"));
    }
    let (a, room_id, creator) = (alias.to_string(), room_id.to_string(), who.user_id.to_string());
    svc.db
        .run(move |c| {
            if crate::store::rooms::room_row(c, &room_id)?.is_none() {
                return Err(Error::not_found("Unknown room"));
            }
            if !crate::store::rooms::add_alias(c, &a, &room_id, &creator)? {
                return Err(Error::new(ErrorKind::Conflict, "Room alias already exists"));
            }
            Ok(())
        })
        .await
}

const CANONICAL_ALIAS: &str = "m.room.canonical_alias";

/// Removes an alias: its creator, a server admin, or a member with the power to set the room's
/// canonical alias may. The alias also leaves the room's canonical alias event.
pub async fn delete(svc: &Arc<Services>, who: &Session, alias: &RoomAliasId) -> Result<()> {
    let a = alias.to_string();
    let (room, creator) =
        svc.db.run(move |c| crate::store::rooms::alias_room(c, &a)).await?.ok_or_else(|| Error::not_found("Room alias not found"))?;
    let room_id = RoomId::parse(&room).map_err(|e| Error::internal_from(format!("stored alias {alias} names an invalid room"), e))?;
    if creator != who.user_id.as_str() && !who.is_server_admin() {
        let ask = GetMember { user: who.user_id.clone(), state_type: Some(CANONICAL_ALIAS.into()) };
        let member = svc.send_to_room(&room_id, ask).await??;
        if member.membership != "join" || !member.may_send_state {
            return Err(Error::forbidden("You did not create this alias"));
        }
    }
    let a = alias.to_string();
    svc.db.run(move |c| crate::store::rooms::delete_alias(c, &a)).await?;
    drop_from_canonical_alias(svc, who, &room_id, alias).await;
    Ok(())
}

/// Sends the room's canonical alias event without `alias`, as the deleter. Best effort: an
/// alias creator without power in the room still deletes their alias.
async fn drop_from_canonical_alias(svc: &Arc<Services>, who: &Session, room_id: &RoomId, alias: &RoomAliasId) {
    let r = room_id.to_string();
    let current = match svc.db.run(move |c| crate::store::events::state_event(c, &r, CANONICAL_ALIAS, "")).await {
        Ok(Some(pdu)) => pdu.content,
        Ok(None) => return,
        Err(e) => return log::warn!("reading the canonical alias of {room_id}: {e}"),
    };
    let Value::Object(mut content) = current else { return };
    let mut changed = false;
    if content.get("alias").and_then(Value::as_str) == Some(alias.as_str()) {
        content.remove("alias");
        changed = true;
    }
    if let Some(Value::Array(alt)) = content.get_mut("alt_aliases") {
        let before = alt.len();
        alt.retain(|a| a.as_str() != Some(alias.as_str()));
        changed |= alt.len() != before;
    }
    if !changed {
        return;
    }
    let draft = EventDraft::state(CANONICAL_ALIAS, "", Value::Object(content));
    match svc.send_to_room(room_id, SendEvent::new(who.user_id.clone(), draft)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) | Err(e) => log::info!("{alias} deleted; the canonical alias of {room_id} keeps it: {e}"),
    }
}

/// Checks a canonical alias event's content before it is sent: each alias (`alias` and every
/// `alt_aliases` entry) must be well-formed (400 `M_INVALID_PARAM`) and an existing alias of
/// this room (400 `M_BAD_ALIAS`).
pub async fn check_canonical_alias(svc: &Services, room_id: &RoomId, content: &Value) -> Result<()> {
    let mut named = Vec::new();
    match content.get("alias") {
        None | Some(Value::Null) => {}
        Some(Value::String(a)) => named.push(a.clone()),
        Some(_) => return Err(Error::invalid_param("alias must be a string")),
    }
    match content.get("alt_aliases") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for a in list {
                named.push(a.as_str().ok_or_else(|| Error::invalid_param("alt_aliases must hold strings"))?.to_owned());
            }
        }
        Some(_) => return Err(Error::invalid_param("alt_aliases must be a list")),
    }
    // A room has few aliases; past this the event would not fit anyway.
    if named.len() > MAX_CANONICAL_ALIASES {
        return Err(Error::invalid_param("Too many alt_aliases"));
    }
    for a in named {
        let alias = RoomAliasId::parse(&a).map_err(|_| Error::invalid_param(format!("Invalid alias: {a}")))?;
        let bad = || Error::new(ErrorKind::BadAlias, format!("{alias} does not point at this room"));
        match resolve(svc, &alias).await {
            Ok(points_at) if points_at == room_id => {}
            Ok(_) => return Err(bad()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(bad()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

const MAX_CANONICAL_ALIASES: usize = 100;

/// The local aliases of a room whose state the requester may read.
pub async fn of_room(svc: &Services, user: &UserId, room_id: &RoomId) -> Result<Vec<String>> {
    super::history::require_visible(svc, user, room_id).await?;
    let room_id = room_id.to_string();
    svc.db.run(move |c| crate::store::rooms::room_aliases(c, &room_id)).await
}
