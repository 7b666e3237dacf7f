//! Peeking: a user who is not in a world-readable room follows it through the legacy event
//! stream (`GET /events?room_id=`), as Synapse serves it: the room's events, public receipts,
//! typing, and its members' presence.
//!
//! The notifier wakes members, not peekers, so a peeking long poll re-reads the store every
//! [`POLL`] until something arrives or its (bounded) timeout passes. Peeking through this
//! deprecated route is rare; a room-keyed wake-up is not worth its cost here.

use super::legacy::{StreamPage, v1};
use super::sync::Positions;
use crate::Services;
use crate::auth::tokens::Session;
use crate::error::Result;
use crate::store::{memberships, presence, receipts, visibility as vis};
use ruma::RoomId;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How often a waiting peek looks again.
const POLL: Duration = Duration::from_millis(200);
/// Events one answer carries at most.
const MAX_EVENTS: i64 = 1000;

/// The stream of `room` after `start`, for `who`, who may read it without being a member
/// (the caller checked). Waits up to `timeout_ms` for something.
pub async fn events(svc: &Services, who: &Session, room: &RoomId, start: Positions, timeout_ms: i64) -> Result<StreamPage> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms.max(0) as u64);
    loop {
        let typing_now = svc.typing.position();
        let typing = svc.typing.changed(start.typing, typing_now).remove(room.as_str());
        let (room_id, user) = (room.to_string(), who.user_id.to_string());
        let (mut chunk, end) = svc.db.run(move |c| page(c, &room_id, &user, start, typing_now)).await?;
        if let Some(users) = typing {
            chunk.push(json!({"type": "m.typing", "room_id": room, "content": {"user_ids": users}}));
        }
        let now = Instant::now();
        if !chunk.is_empty() || now >= deadline {
            return Ok(StreamPage { chunk, start, end });
        }
        tokio::time::sleep(POLL.min(deadline - now)).await;
    }
}

/// What changed in the room in (start, now]: its visible events, public receipts and its
/// joined members' presence, and the positions read up to.
fn page(c: &mut crate::store::Conn, room_id: &str, user: &str, start: Positions, typing_now: i64) -> Result<(Vec<Value>, Positions)> {
    let now = super::sync::positions_now(c, typing_now)?;
    let view = vis::history_view(c, room_id, user)?;
    let events = vis::visible_events(c, room_id, &view, start.events, now.events, MAX_EVENTS, false, None)?;
    let mut end = now;
    if events.len() as i64 == MAX_EVENTS
        && let Some(last) = events.last()
    {
        // A full page: the next one starts after its last event.
        end.events = last.stream_ordering;
    }
    let mut chunk: Vec<Value> = events.iter().map(|p| v1(p.to_client(None))).collect();
    let grouped = super::sync::rooms::group_receipts(receipts::room_changed(c, room_id, start.receipts, now.receipts)?);
    chunk.extend(grouped.into_iter().map(|(room, mut e)| {
        e["room_id"] = json!(room);
        e
    }));
    let members: Vec<String> =
        memberships::room_members(c, room_id)?.into_iter().filter(|m| m.membership == "join").map(|m| m.user_id).collect();
    let now_ms = crate::ids::now_ms();
    for p in presence::changed_among(c, &members, start.presence, now.presence)? {
        let mut content = super::presence::content(&p, now_ms);
        content["user_id"] = json!(p.user_id);
        chunk.push(json!({"type": "m.presence", "content": content}));
    }
    Ok((chunk, end))
}
