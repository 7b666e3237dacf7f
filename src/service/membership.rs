//! Membership changes (join, leave, invite, kick, ban, unban, forget) and the rooms a user is in.
//! Every change is a member event sent through the room's actor, which applies the room's rules.

use crate::Services;
use crate::actors::room::{Precondition, SendEvent};
use crate::auth::tokens::Session;
use crate::error::{Error, ErrorKind, Result};
use crate::events::EventDraft;
use crate::service::suspension::Act;
use ruma::events::room::member::{MembershipState, RoomMemberEventContent};
use ruma::{OwnedEventId, OwnedRoomId, RoomId, UserId};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Where a join is aimed: a room ID, or an alias resolved on this server.
pub enum JoinTarget {
    Room(OwnedRoomId),
    Alias(ruma::OwnedRoomAliasId),
}

/// A moderation action by one member on another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moderation {
    Invite,
    Kick,
    Ban,
    Unban,
}

/// The member event content for `user` with `membership`, with their current profile.
pub async fn join_content(svc: &Services, user: &str, membership: &str) -> Result<Value> {
    let id = user.to_owned();
    let profile = svc.db.run(move |c| crate::store::users::profile(c, &id)).await?;
    let mut content = RoomMemberEventContent::new(MembershipState::from(membership));
    if let Some(p) = profile {
        content.displayname = p.displayname;
        content.avatar_url = p.avatar_url.map(Into::into);
    }
    serde_json::to_value(&content).map_err(|e| Error::internal_from("member content", e))
}

/// What a membership change meets in a room this server does not know (the actor's 404), as
/// Synapse answers: invites and bans are refused (403), joins, leaves, kicks and unbans find no
/// known room (404 `M_UNKNOWN`).
#[derive(Clone, Copy)]
enum IfUnknown {
    Refused,
    NotKnown,
}

/// Sends a member event about `target` from `sender`; returns its event ID.
async fn change(
    svc: &Arc<Services>,
    sender: &UserId,
    room_id: &RoomId,
    target: &str,
    content: Value,
    precondition: Option<Precondition>,
    if_unknown: IfUnknown,
) -> Result<OwnedEventId> {
    let membership = content["membership"].as_str();
    super::notices::refuse_leaving_notice_room(svc, room_id.as_str(), sender.as_str(), target, membership).await?;
    // As Synapse: a blocked room takes leaves and bans only.
    if !matches!(membership, Some("leave" | "ban")) {
        let room = room_id.to_string();
        if svc.db.run(move |c| crate::store::room_stats::blocked_by(c, &room)).await?.is_some() {
            return Err(Error::new(ErrorKind::RoomBlocked, "This room has been blocked on this server"));
        }
    }
    let msg = SendEvent { precondition, ..SendEvent::new(sender.to_owned(), EventDraft::state("m.room.member", target, content)) };
    svc.send_to_room(room_id, msg).await.map_err(|e| match (e.kind(), if_unknown) {
        (ErrorKind::NotFound, IfUnknown::Refused) => Error::forbidden("Unknown room"),
        (ErrorKind::NotFound, IfUnknown::NotKnown) => Error::new(ErrorKind::RoomNotKnown, "Not a known room"),
        _ => e,
    })?
}

fn with_reason(mut content: Value, reason: Option<String>) -> Value {
    if let Some(r) = reason {
        content["reason"] = json!(r);
    }
    content
}

/// Joins the requester to a room; returns the room ID. `extra` is the rest of the client's join
/// body (`reason`, custom fields), kept in the member event; the membership stays a join.
pub async fn join(svc: &Arc<Services>, who: &Session, target: JoinTarget, mut extra: Map<String, Value>) -> Result<OwnedRoomId> {
    if extra.get("reason").is_some_and(|r| !r.is_string() && !r.is_null()) {
        return Err(Error::bad_json("reason must be a string"));
    }
    // Not content: these steer the join itself.
    for steering in ["membership", "third_party_signed"] {
        extra.remove(steering);
    }
    extra.retain(|_, v| !v.is_null());
    let room_id = match target {
        JoinTarget::Room(r) => r,
        JoinTarget::Alias(a) => super::aliases::resolve(svc, &a).await?,
    };
    // Notices must keep reaching a suspended user (Synapse joins them to the notices room
    // itself); every other join is refused.
    if who.suspended && !super::notices::is_notice_room(svc, room_id.as_str()).await? {
        super::suspension::check(who, Act::Join)?;
    }
    svc.rate_limits.join(who)?;
    let mut content = join_content(svc, who.user_id.as_str(), "join").await?;
    if let Value::Object(c) = &mut content {
        c.extend(extra);
    }
    change(svc, &who.user_id, &room_id, who.user_id.as_str(), content, None, IfUnknown::NotKnown).await?;
    Ok(room_id)
}

/// An admin's invite of `target` on behalf of `sender` (no rate limit; the room's rules apply).
pub async fn invite_as(svc: &Arc<Services>, sender: &UserId, room_id: &RoomId, target: &UserId) -> Result<OwnedEventId> {
    change(svc, sender, room_id, target.as_str(), json!({"membership": "invite"}), None, IfUnknown::Refused).await
}

/// An admin's join of a local user (no rate limit; the room's rules apply).
pub async fn join_as(svc: &Arc<Services>, user: &UserId, room_id: &RoomId) -> Result<OwnedEventId> {
    let content = join_content(svc, user.as_str(), "join").await?;
    change(svc, user, room_id, user.as_str(), content, None, IfUnknown::NotKnown).await
}

pub async fn leave(svc: &Arc<Services>, who: &Session, room_id: &RoomId, reason: Option<String>) -> Result<()> {
    let content = with_reason(json!({"membership": "leave"}), reason);
    change(svc, &who.user_id, room_id, who.user_id.as_str(), content, None, IfUnknown::NotKnown).await?;
    Ok(())
}

/// invite, kick, ban, unban: a member event about `target` from the requester. `extra` carries
/// an invite's other content fields (`is_direct`).
pub async fn moderate(
    svc: &Arc<Services>,
    who: &Session,
    room_id: &RoomId,
    target: &UserId,
    action: Moderation,
    reason: Option<String>,
    extra: Map<String, Value>,
) -> Result<()> {
    let membership = match action {
        Moderation::Invite => "invite",
        Moderation::Ban => "ban",
        Moderation::Kick | Moderation::Unban => "leave",
    };
    super::suspension::check(who, if action == Moderation::Invite { Act::Invite } else { Act::Membership(membership) })?;
    match action {
        Moderation::Invite => {
            svc.rate_limits.invite(who, room_id.as_str(), target.as_str())?;
            if who.shadow_banned {
                return Ok(());
            }
            if target.server_name().as_str() == svc.server_name() {
                let t = target.to_string();
                if !svc.db.run(move |c| crate::store::users::exists(c, &t)).await? {
                    return Err(Error::not_found("Unknown user"));
                }
            }
        }
        Moderation::Kick | Moderation::Ban | Moderation::Unban => {}
    }
    let precondition = match action {
        Moderation::Kick => Some(Precondition::NotBanned),
        Moderation::Unban => Some(Precondition::Banned),
        Moderation::Invite | Moderation::Ban => None,
    };
    let mut content = with_reason(json!({"membership": membership}), reason);
    if let Value::Object(c) = &mut content {
        c.extend(extra);
    }
    let if_unknown = match action {
        Moderation::Invite | Moderation::Ban => IfUnknown::Refused,
        Moderation::Kick | Moderation::Unban => IfUnknown::NotKnown,
    };
    change(svc, &who.user_id, room_id, target.as_str(), content, precondition, if_unknown).await?;
    Ok(())
}

/// Hides a room the requester has left from their history; refused while joined or invited. A
/// room they were never in (or that does not exist) has nothing to hide: 200, as Synapse.
pub async fn forget(svc: &Services, who: &Session, room_id: &RoomId) -> Result<()> {
    let (room_id, user) = (room_id.to_string(), who.user_id.to_string());
    svc.db
        .run(move |c| {
            match crate::store::memberships::membership(c, &room_id, &user)? {
                None => return Ok(()),
                Some(m) if m.membership == "join" || m.membership == "invite" => {
                    return Err(Error::unknown("You must leave the room before forgetting it"));
                }
                Some(_) => {}
            }
            crate::store::memberships::forget(c, &room_id, &user)
        })
        .await
}

pub async fn joined_rooms(svc: &Services, user: &UserId) -> Result<Vec<OwnedRoomId>> {
    let user = user.to_string();
    svc.db.run(move |c| crate::store::memberships::joined_rooms(c, &user)).await
}
