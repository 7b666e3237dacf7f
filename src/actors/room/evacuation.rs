//! Evacuation and purge: every local member's leave queued as one batch through the room's own
//! mailbox, then (for a purge) the room closed to every later message and its rows deleted.

use super::RoomActor;
use crate::error::Result;
use crate::events::EventDraft;
use actix::prelude::*;
use ruma::events::room::member::MembershipState;
use ruma::{OwnedEventId, OwnedUserId};
use serde_json::json;
use std::time::Instant;

impl RoomActor {
    /// Queues a self-leave for every local joined member (keeping their displayname and avatar)
    /// and a rejection of every local pending invite. Returns the members who were joined, in
    /// membership order, and the last queued event ID.
    fn queue_evacuation(&mut self) -> (Vec<OwnedUserId>, Option<OwnedEventId>) {
        let server = self.svc.config.server_name.as_str();
        let mut members: Vec<(i64, OwnedUserId, String)> = self
            .state
            .members()
            .filter(|(u, m)| u.server_name().as_str() == server && matches!(m, MembershipState::Join | MembershipState::Invite))
            .map(|(u, m)| {
                let depth = self.state.get("m.room.member", u.as_str()).map(|p| p.depth).unwrap_or(0);
                (depth, u.clone(), m.as_str().to_owned())
            })
            .collect();
        members.sort();
        let mut affected = Vec::new();
        let mut last = None;
        for (_, user, membership) in members {
            let mut content = json!({"membership": "leave"});
            if membership == "join"
                && let Some(old) = self.state.get("m.room.member", user.as_str())
            {
                let old = old.content_value();
                for k in ["displayname", "avatar_url"] {
                    if let Some(v) = old.get(k).filter(|v| v.is_string()) {
                        content[k] = v.clone();
                    }
                }
            }
            match self.accept(&user, &EventDraft::state("m.room.member", user.as_str(), content), None, None) {
                Ok(id) => {
                    if membership == "join" {
                        affected.push(user);
                    }
                    last = Some(id);
                }
                Err(e) => log::warn!("room {}: evacuating {user} failed: {e}", self.room_id),
            }
        }
        (affected, last)
    }
}

/// Every local member leaves (one batch) and local invites are withdrawn. Answers with the users
/// who were joined, once the leaves are committed.
#[derive(Message, Clone)]
#[rtype(result = "Result<Vec<OwnedUserId>>")]
pub struct Evacuate;

impl Handler<Evacuate> for RoomActor {
    type Result = ResponseFuture<Result<Vec<OwnedUserId>>>;

    fn handle(&mut self, _: Evacuate, ctx: &mut Context<Self>) -> Self::Result {
        self.last_active = Instant::now();
        if let Err(e) = self.ensure_ready() {
            return Box::pin(async move { Err(e) });
        }
        let (affected, last) = self.queue_evacuation();
        let Some(last) = last else { return Box::pin(async move { Ok(affected) }) };
        let rx = self.wait_for(&last);
        self.flush(ctx);
        Box::pin(async move {
            Self::reply(rx).await?;
            Ok(affected)
        })
    }
}

/// Evacuate, refuse everything after, delete the room's rows, drop it from search, leave the
/// directory and stop.
#[derive(Message, Clone)]
#[rtype(result = "Result<PurgeReport>")]
pub struct Purge;

#[derive(Debug, Clone, Default)]
pub struct PurgeReport {
    pub evacuated: Vec<OwnedUserId>,
    pub events_deleted: usize,
}

impl Handler<Purge> for RoomActor {
    type Result = ResponseActFuture<Self, Result<PurgeReport>>;

    fn handle(&mut self, _: Purge, ctx: &mut Context<Self>) -> Self::Result {
        self.last_active = Instant::now();
        if let Err(e) = self.ensure_ready() {
            return Box::pin(actix::fut::ready(Err(e)));
        }
        let (evacuated, last) = self.queue_evacuation();
        let rx = last.map(|l| self.wait_for(&l));
        self.flush(ctx);
        // From here on the room answers every message as unknown.
        self.closed = true;
        let svc = self.svc.clone();
        let room_id = self.room_id.clone();
        let fut = async move {
            if let Some(rx) = rx {
                Self::reply(rx).await?;
            }
            let r = room_id.clone();
            // Woken syncs must not answer with copies of what is about to go.
            svc.recent.restart();
            let hold = svc.db.hold_checkpoints();
            let purged = svc
                .db
                .run(move |c| {
                    let _hold = hold;
                    crate::store::purge::purge_room(c, r.as_str())
                })
                .await;
            // Its members' unread counts went with it (even if only the first step committed).
            svc.kept.unread.forget_all();
            let events_deleted = purged?;
            svc.search.do_send(crate::actors::search::DropRoom(room_id.clone()));
            svc.typing.drop_room(&room_id);
            log::info!("purged room {room_id}: {events_deleted} events deleted");
            Ok(PurgeReport { evacuated, events_deleted })
        };
        Box::pin(fut.into_actor(self).map(|res, act, ctx| {
            act.svc.directory.forget_room(&act.room_id, &ctx.address());
            ctx.stop();
            res
        }))
    }
}
