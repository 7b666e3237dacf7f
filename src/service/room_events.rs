//! Sending into a room: messages, state and redactions, each through the room's actor, with
//! transaction IDs answered once per device and endpoint and shadow bans honoured.

use crate::Services;
use crate::actors::room::SendEvent;
use crate::auth::tokens::Session;
use crate::error::{Error, ErrorKind, Result};
use crate::events::EventDraft;
use crate::service::suspension::Act;
use crate::store::events::TxnKey;
use ruma::{EventId, OwnedEventId, OwnedUserId, RoomId, UserId};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// A transaction ID is scoped to one device and one endpoint (the path: room, event type or
/// redacted event), so the stored key carries the scope before a separator.
pub fn txn_key(who: &Session, scope: &str, txn: &str) -> TxnKey {
    TxnKey {
        user_id: who.user_id.to_string(),
        device_id: who.device_id.clone().unwrap_or_default(),
        txn_id: format!("{scope}{}{txn}", crate::store::events::TXN_SCOPE_SEP),
    }
}

/// A tombstone may not name its own room as the replacement.
fn refuse_self_tombstone(room_id: &RoomId, kind: &str, content: &Value) -> Result<()> {
    if kind == "m.room.tombstone" && content.get("replacement_room").and_then(Value::as_str) == Some(room_id.as_str()) {
        return Err(Error::bad_json("A tombstone cannot name its own room as the replacement"));
    }
    Ok(())
}

/// Sends one event and returns its ID once committed.
async fn send(
    svc: &Arc<Services>,
    who: &Session,
    room_id: &RoomId,
    draft: EventDraft,
    txn: Option<TxnKey>,
    redacts_sender: Option<OwnedUserId>,
) -> Result<OwnedEventId> {
    let act = match draft.kind.as_str() {
        "m.room.redaction" => Act::Redact { own: redacts_sender.as_ref().is_none_or(|s| *s == who.user_id) },
        // Member events through the state endpoint are refused as their own endpoints refuse them.
        "m.room.member" => match draft.content.get("membership").and_then(Value::as_str).unwrap_or_default() {
            "join" => Act::Join,
            "invite" => Act::Invite,
            other => Act::Membership(other),
        },
        _ => Act::Send,
    };
    super::suspension::check(who, act)?;
    if who.shadow_banned {
        // Looks like success to the sender; nothing is stored or seen by anyone.
        return OwnedEventId::try_from(crate::ids::fake_event_id()).map_err(|e| Error::internal_from("fake event ID", e));
    }
    // A retried transaction ID is answered by the room actor, which looks it up in batches; a
    // relation is looked up first, or the retry of a reaction would fail as a duplicate of itself.
    let relation = draft.state_key.is_none() && crate::store::relations::relation_of(&draft.content).is_some();
    if relation
        && let Some(key) = txn.clone()
        && let Some(id) = svc.db.run(move |c| crate::store::events::txn_event(c, &key)).await?
    {
        return Ok(id);
    }
    svc.rate_limits.message(who)?;
    if relation {
        super::relations::check_new_relation(svc, room_id, who.user_id.as_str(), &draft.kind, &draft.content).await?;
    }
    let msg = SendEvent { txn, redacts_sender, ..SendEvent::new(who.user_id.clone(), draft) };
    svc.send_to_room(room_id, msg).await.map_err(|e| not_in_unknown_room(e, &who.user_id, room_id))?
}

/// A room this server does not know, as a sender meets it: 403, the answer for a room one is not
/// in (Synapse's too), so a send does not tell whether the room exists.
pub fn not_in_unknown_room(e: Error, user: &UserId, room_id: &RoomId) -> Error {
    if e.kind() == ErrorKind::NotFound { Error::forbidden(format!("User {user} not in room {room_id}")) } else { e }
}

/// `PUT /rooms/{roomId}/send/{eventType}/{txnId}`.
pub async fn send_message(
    svc: &Arc<Services>,
    who: &Session,
    room_id: &RoomId,
    kind: &str,
    txn: &str,
    content: Value,
) -> Result<OwnedEventId> {
    if kind == "m.room.redaction" {
        return Err(Error::bad_json("Use the redact endpoint to redact events"));
    }
    refuse_self_tombstone(room_id, kind, &content)?;
    let key = txn_key(who, &format!("send/{room_id}/{kind}"), txn);
    send(svc, who, room_id, EventDraft::message(kind, content), Some(key), None).await
}

/// `PUT /rooms/{roomId}/state/{eventType}/{stateKey}`.
pub async fn put_state(
    svc: &Arc<Services>,
    who: &Session,
    room_id: &RoomId,
    kind: &str,
    key: &str,
    content: Value,
) -> Result<OwnedEventId> {
    if kind == "m.room.member" {
        let membership = content.get("membership").and_then(Value::as_str);
        super::notices::refuse_leaving_notice_room(svc, room_id.as_str(), who.user_id.as_str(), key, membership).await?;
    }
    if kind == "m.room.canonical_alias" {
        super::aliases::check_canonical_alias(svc, room_id, &content).await?;
    }
    refuse_self_tombstone(room_id, kind, &content)?;
    send(svc, who, room_id, EventDraft::state(kind, key, content), None, None).await
}

/// `PUT /rooms/{roomId}/redact/{eventId}/{txnId}`: 404 for an unknown event, 400 for one of
/// another room. Before either, as Synapse: 404 if the room is unknown, 403 if the requester is
/// not joined to it, so the answer says nothing of events in rooms they cannot read.
pub async fn redact(
    svc: &Arc<Services>,
    who: &Session,
    room_id: &RoomId,
    event_id: &EventId,
    txn: &str,
    reason: Option<String>,
) -> Result<OwnedEventId> {
    let (e, r, u) = (event_id.to_string(), room_id.to_string(), who.user_id.to_string());
    let (target, known, joined) = svc
        .db
        .run(move |c| {
            let target = crate::store::events::event_origin(c, &e)?;
            if target.as_ref().is_some_and(|(room, _)| *room == r) {
                return Ok((target, true, true));
            }
            let known = crate::store::rooms::room_row(c, &r)?.is_some();
            let joined = crate::store::memberships::membership(c, &r, &u)?.is_some_and(|m| m.membership == "join");
            Ok((target, known, joined))
        })
        .await?;
    if !known {
        return Err(Error::not_found("Unknown room"));
    }
    if !joined {
        return Err(Error::forbidden(format!("User {} not in room {room_id}", who.user_id)));
    }
    let (room, sender) = target.ok_or_else(|| Error::not_found("Event not found"))?;
    if room != room_id.as_str() {
        return Err(Error::unknown("Cannot redact an event of another room"));
    }
    let key = txn_key(who, &format!("redact/{room_id}/{event_id}"), txn);
    let draft = redaction(event_id, reason.as_deref());
    let sender = OwnedUserId::try_from(sender).map_err(|e| Error::internal_from("stored sender", e))?;
    send(svc, who, room_id, draft, Some(key), Some(sender)).await
}

/// The redaction of `event_id`, with its reason if one is given.
fn redaction(event_id: &EventId, reason: Option<&str>) -> EventDraft {
    let mut content = Map::new();
    if let Some(r) = reason {
        content.insert("reason".into(), json!(r));
    }
    EventDraft { kind: "m.room.redaction".into(), state_key: None, content: Value::Object(content), redacts: Some(event_id.to_owned()) }
}

/// An admin's redaction of `event_id` (sent by `target`), sent as `sender` through the room's
/// actor, which checks `sender` may redact it: no transaction ID, rate limit or suspension check,
/// as for every admin job.
pub async fn redact_as(
    svc: &Arc<Services>,
    sender: &UserId,
    room_id: &RoomId,
    event_id: &EventId,
    target: &UserId,
    reason: Option<&str>,
) -> Result<OwnedEventId> {
    let msg = SendEvent { redacts_sender: Some(target.to_owned()), ..SendEvent::new(sender.to_owned(), redaction(event_id, reason)) };
    svc.send_to_room(room_id, msg).await?
}
