//! Synapse's room admin API, history and actions: a room's messages, an event's context and the
//! event nearest a time as an admin reads them (no membership needed, nothing hidden), blocking
//! a room, making a user room admin, force-joining a local user, and the forward extremities.
//! Every change to a room is an event sent through its actor.

use crate::Services;
use crate::actors::room::SendEvent;
use crate::error::{Error, ErrorKind, Result};
use crate::events::filter::TypeFilter;
use crate::events::{EventDraft, Pdu};
use crate::store::room_stats as stats;
use ruma::{OwnedRoomId, RoomId, UserId};
use serde_json::{Value, json};
use std::sync::Arc;

pub use super::history::{MAX_CONTEXT, MAX_PAGE, Page};

/// A page of the room's events, every one of them: the client's `/messages` without a reader.
/// A room this server does not know has no events (Synapse answers it so).
pub async fn messages(
    svc: &Services,
    room_id: &RoomId,
    backwards: bool,
    from: Option<i64>,
    to: Option<i64>,
    limit: i64,
    filter: TypeFilter,
) -> Result<Page> {
    let limit = limit.clamp(0, MAX_PAGE);
    let room = room_id.to_string();
    let types = filter.exact_types();
    let (chunk, start) = svc
        .db
        .run(move |c| {
            let max = crate::store::events::max_stream(c)?;
            if backwards {
                let start = from.unwrap_or(max);
                Ok((crate::store::events::room_events(c, &room, to.unwrap_or(0), start, limit, true, types.as_deref())?, start))
            } else {
                let start = from.unwrap_or(0);
                Ok((crate::store::events::room_events(c, &room, start, to.unwrap_or(max), limit, false, types.as_deref())?, start))
            }
        })
        .await?;
    let end = chunk.last().map(|p| if backwards { p.stream_ordering - 1 } else { p.stream_ordering });
    let chunk = chunk.into_iter().filter(|p| filter.allows(&p.kind)).collect();
    Ok(Page { chunk, start, end, state: Vec::new() })
}

/// An event and the events around it, with the room's state after the last of them.
pub struct Context {
    pub event: Pdu,
    pub before: Vec<Pdu>,
    pub after: Vec<Pdu>,
    pub state: Vec<Pdu>,
    pub start: i64,
    pub end: i64,
}

/// 404 "Event not found." unless the event is in the room.
pub async fn context(svc: &Services, room_id: &RoomId, event_id: &ruma::EventId, limit: i64, filter: TypeFilter) -> Result<Context> {
    let limit = limit.clamp(0, MAX_CONTEXT);
    let (room, event) = (room_id.to_string(), event_id.to_string());
    let types = filter.exact_types();
    let (event, before, after, state) = svc
        .db
        .run(move |c| {
            let event = crate::store::events::event_by_id(c, &event)?
                .filter(|p| p.room_id == room)
                .ok_or_else(|| Error::not_found("Event not found."))?;
            let pos = event.stream_ordering;
            let n_before = limit / 2;
            let before = crate::store::events::room_events(c, &room, 0, pos - 1, n_before, true, types.as_deref())?;
            let after = crate::store::events::room_events(c, &room, pos, i64::MAX, limit - n_before, false, types.as_deref())?;
            let last = after.last().map_or(pos, |p| p.stream_ordering);
            Ok((event, before, after, crate::store::events::state_at(c, &room, last)?))
        })
        .await?;
    let pos = event.stream_ordering;
    let start = before.last().map_or(pos - 1, |p| p.stream_ordering - 1);
    let end = after.last().map_or(pos, |p| p.stream_ordering);
    let shown = |list: Vec<Pdu>| list.into_iter().filter(|p| filter.allows(&p.kind)).collect::<Vec<_>>();
    Ok(Context { event, before: shown(before), after: shown(after), state: shown(state), start, end })
}

/// The room's event nearest `ts` in the direction asked: (event ID, origin_server_ts); 404 if none.
pub async fn timestamp_to_event(svc: &Services, room_id: &RoomId, ts: i64, forwards: bool) -> Result<(String, i64)> {
    let room = room_id.to_string();
    svc.db.run(move |c| stats::event_at_time(c, &room, ts, forwards)).await?.ok_or_else(|| {
        let dir = if forwards { "FORWARDS" } else { "BACKWARDS" };
        Error::not_found(format!("Unable to find event from {ts} in direction Direction.{dir}"))
    })
}

/// Who blocked the room, if it is blocked.
pub async fn blocked_by(svc: &Services, room_id: &RoomId) -> Result<Option<String>> {
    let room = room_id.to_string();
    svc.db.run(move |c| stats::blocked_by(c, &room)).await
}

/// Blocks or unblocks the room (known to this server or not): a blocked room refuses joins and
/// invites, checked before each member event is sent to its actor.
pub async fn set_blocked(svc: &Services, admin: &UserId, room_id: &RoomId, block: bool) -> Result<()> {
    log::info!("admin {admin} {} room {room_id}", if block { "blocks" } else { "unblocks" });
    let (room, admin) = (room_id.to_string(), admin.to_string());
    svc.db.run(move |c| if block { stats::block(c, &room, &admin) } else { stats::unblock(c, &room) }).await
}

/// A room ID, or the room a local alias names (404 if it names none).
pub async fn resolve(svc: &Services, target: RoomTarget) -> Result<OwnedRoomId> {
    match target {
        RoomTarget::Room(r) => Ok(r),
        RoomTarget::Alias(a) => super::aliases::resolve(svc, &a).await.map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::not_found(format!("Room alias {a} not found")),
            _ => e,
        }),
    }
}

pub enum RoomTarget {
    Room(OwnedRoomId),
    Alias(ruma::OwnedRoomAliasId),
}

/// The room's forward extremities: its newest event, as this server's rooms are a line of
/// events (event ID, depth, origin_server_ts); none for a room it does not know.
pub async fn forward_extremities(svc: &Services, room_id: &RoomId) -> Result<Vec<(String, i64, i64)>> {
    let room = room_id.to_string();
    Ok(svc.db.run(move |c| stats::newest_event(c, &room)).await?.into_iter().collect())
}

/// `POST v1/join/{room}`: the admin invites the user first unless the room's join rule is
/// public, then the user joins; each through the room's actor, with its rules.
pub async fn force_join(svc: &Arc<Services>, admin: &UserId, user: &UserId, room_id: &RoomId) -> Result<()> {
    if user.server_name().as_str() != svc.server_name() {
        return Err(Error::unknown("This endpoint can only be used with local users"));
    }
    let u = user.to_string();
    if !svc.db.run(move |c| crate::store::users::exists(c, &u)).await? {
        return Err(Error::not_found("User not found"));
    }
    log::info!("admin {admin} joins {user} to {room_id}");
    let room = room_id.to_string();
    let join_rules = svc.db.run(move |c| crate::store::events::state_event(c, &room, "m.room.join_rules", "")).await?;
    if let Some(rules) = join_rules
        && rules.content.get("join_rule").and_then(Value::as_str) != Some("public")
    {
        super::membership::invite_as(svc, admin, room_id, user).await?;
    }
    super::membership::join_as(svc, user, room_id).await?;
    Ok(())
}

/// `POST v1/rooms/{room}/make_room_admin`: the room's most powerful joined local member sends a
/// power-levels event giving `user` their level (100 if they have none listed, as a v12 creator);
/// then `user` is invited unless joined, invited, or the room is public.
pub async fn make_room_admin(svc: &Arc<Services>, admin: &UserId, room_id: &RoomId, user: &UserId) -> Result<()> {
    let room = room_id.to_string();
    let (state, row) =
        svc.db.run(move |c| Ok((crate::store::events::current_state(c, &room)?, crate::store::rooms::room_row(c, &room)?))).await?;
    let Some(row) = row else { return Err(Error::unknown("Server not in room")) };
    let find = |kind: &str, key: &str| state.iter().find(|p| p.kind == kind && p.state_key.as_deref() == Some(key));
    let create = find("m.room.create", "").ok_or_else(|| Error::unknown("Server not in room"))?;
    let is_local = |id: &str| id.rsplit_once(':').is_some_and(|(_, server)| server == svc.server_name());
    let joined = |id: &str| find("m.room.member", id).and_then(|p| p.membership()) == Some("join");
    let power_levels = find("m.room.power_levels", "");
    let pl_content = power_levels.map(|p| p.content.clone()).unwrap_or_else(|| json!({}));
    let users = pl_content.get("users").and_then(Value::as_object).cloned().unwrap_or_default();
    let level = |id: &str| users.get(id).and_then(Value::as_i64).unwrap_or(i64::MIN);
    let sender = if power_levels.is_some() {
        let mut candidates: Vec<String> = users.keys().filter(|u| is_local(u)).cloned().collect();
        candidates.sort_by_key(|u| level(u));
        if crate::events::rules_for(&row.room_version).authorization.explicitly_privilege_room_creators {
            // Creators outrank every listed level and are not in the map.
            let extra = create.content.get("additional_creators").and_then(Value::as_array).cloned().unwrap_or_default();
            let creators = extra.iter().filter_map(Value::as_str).map(str::to_owned).chain([create.sender.to_string()]);
            candidates.extend(creators.filter(|c| is_local(c)));
        }
        candidates.into_iter().rev().find(|u| joined(u)).ok_or_else(|| Error::unknown("No local admin user in room"))?
    } else if is_local(create.sender.as_str()) {
        create.sender.to_string()
    } else {
        return Err(Error::unknown("No local admin user in room"));
    };
    let sender = UserId::parse(&sender).map_err(|_| Error::unknown("No local admin user in room"))?;
    let mut content = pl_content.clone();
    let new_level = users.get(sender.as_str()).cloned().unwrap_or(json!(100));
    if !content.is_object() {
        content = json!({});
    }
    content["users"] = Value::Object(users.clone());
    content["users"][user.as_str()] = new_level;
    log::info!("admin {admin} makes {user} admin of {room_id} through {sender}");
    let msg = SendEvent::new(sender.clone(), EventDraft::state("m.room.power_levels", "", content));
    svc.send_to_room(room_id, msg).await?.map_err(|e| match e.kind() {
        ErrorKind::Forbidden => Error::unknown("No local admin user in room with power to update power levels."),
        _ => e,
    })?;
    let membership = find("m.room.member", user.as_str()).and_then(|p| p.membership());
    let public = find("m.room.join_rules", "").and_then(|p| p.content.get("join_rule")).and_then(Value::as_str) == Some("public");
    if matches!(membership, Some("join" | "invite")) || public {
        return Ok(());
    }
    super::membership::invite_as(svc, &sender, room_id, user).await?;
    Ok(())
}
