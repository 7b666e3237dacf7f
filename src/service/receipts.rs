//! Read receipts and read markers. Receipts reach the room's joined members as `m.receipt` in
//! their syncs (a private one only its owner); `m.fully_read` is room account data of the reader.

use crate::Services;
use crate::actors::notifier::{Advanced, Stream};
use crate::auth::tokens::Session;
use crate::error::{Error, Result};
use crate::store::receipts::{self, NewReceipt};
use ruma::RoomId;
use serde_json::json;

/// The requester must be joined; the event must be in the room. Returns its stream position.
async fn check(svc: &Services, who: &Session, room: &str, event: &str) -> Result<i64> {
    let (r, u, e) = (room.to_owned(), who.user_id.to_string(), event.to_owned());
    let (member, found) =
        svc.db.run(move |c| Ok((crate::store::memberships::membership(c, &r, &u)?, crate::store::events::event_by_id(c, &e)?))).await?;
    if member.is_none_or(|m| m.membership != "join") {
        return Err(Error::forbidden("You are not joined to this room"));
    }
    match found {
        Some(p) if p.room_id == room => Ok(p.stream_ordering),
        _ => Err(Error::not_found("Event not found in this room")),
    }
}

pub async fn set(svc: &Services, who: &Session, room_id: &RoomId, kind: &str, thread: &str, event: &str) -> Result<()> {
    let room = room_id.as_str();
    let typed_room = room_id.to_owned();
    let event_stream = check(svc, who, room, event).await?;
    if who.shadow_banned {
        return Ok(());
    }
    if kind == "m.fully_read" {
        return super::account_data::write(svc, &who.user_id, Some(room_id), kind, &json!({"event_id": event})).await;
    }
    let (room_id, user, kind_s, thread_s, event_s) =
        (room.to_owned(), who.user_id.to_string(), kind.to_owned(), thread.to_owned(), event.to_owned());
    let private = kind == "m.read.private";
    let moved = svc
        .db
        .run(move |c| {
            let r = NewReceipt {
                room_id: &room_id,
                user_id: &user,
                receipt_type: &kind_s,
                thread_id: &thread_s,
                event_id: &event_s,
                event_stream,
                ts: crate::ids::now_ms(),
            };
            let Some(position) = receipts::set(c, &r)? else { return Ok(None) };
            // A private receipt is news to its owner only.
            let users = if private {
                vec![user]
            } else {
                crate::store::memberships::room_members(c, &room_id)?
                    .into_iter()
                    .filter(|m| m.membership == "join")
                    .map(|m| m.user_id)
                    .collect()
            };
            Ok(Some((users, position)))
        })
        .await?;
    if let Some((users, position)) = moved {
        svc.notifier.do_send(Advanced { stream: Stream::Receipts, users: crate::store::typed::user_ids(users), position });
        super::notifications::receipt_moved(svc, &who.user_id, &typed_room).await?;
    }
    Ok(())
}
