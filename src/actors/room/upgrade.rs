//! Upgrading a room: its replacement is created while the old room accepts nothing else, then
//! the old room's tombstone names it. Holding the old room makes the pair one step for anyone
//! watching it: the tombstone is checked before the replacement exists, it is committed only
//! if the replacement was, and before v12 (when the replacement's create event names the
//! tombstone) the tombstone built first is exactly the one committed.

use super::RoomActor;
use crate::error::{Error, Result};
use crate::events::{EventDraft, Pdu};
use actix::prelude::*;
use futures_util::future::LocalBoxFuture;
use ruma::{OwnedEventId, OwnedUserId, UserId};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::oneshot;

/// What the replacement is made from, handed over while the old room is held.
pub struct ReplacementStart {
    /// The tombstone's event ID, when it was built before the replacement (its ID was known).
    pub tombstone_id: Option<OwnedEventId>,
    /// The old room's current state, including everything accepted but not yet committed.
    pub state: Vec<Pdu>,
    pub room_version: String,
}

/// Creates the replacement room and answers with its ID.
pub type CreateReplacement = Box<dyn FnOnce(ReplacementStart) -> LocalBoxFuture<'static, Result<String>> + Send>;

/// Tombstone this room in favour of a replacement that `create` makes. Answers with the
/// tombstone's event ID and the replacement's room ID once the tombstone is committed.
#[derive(Message, Clone)]
#[rtype(result = "Result<(OwnedEventId, String)>")]
pub struct Upgrade {
    pub sender: OwnedUserId,
    pub body: String,
    /// The replacement's ID, when known before it is created (versions before 12).
    pub replacement_room: Option<String>,
    /// Taken by the first actor that handles the message (shared so the message can be resent
    /// to a re-activated actor).
    pub create: Arc<Mutex<Option<CreateReplacement>>>,
}

type Answer = Result<(oneshot::Receiver<Result<OwnedEventId>>, String)>;

fn tombstone(body: &str, replacement: &str) -> EventDraft {
    EventDraft::state("m.room.tombstone", "", json!({"body": body, "replacement_room": replacement}))
}

impl Handler<Upgrade> for RoomActor {
    type Result = ResponseFuture<Result<(OwnedEventId, String)>>;

    fn handle(&mut self, msg: Upgrade, ctx: &mut Context<Self>) -> Self::Result {
        self.last_active = Instant::now();
        let started = self.start_upgrade(&msg);
        let (create, prebuilt) = match started {
            Ok(s) => s,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let start = ReplacementStart {
            tombstone_id: prebuilt.as_ref().map(|(b, _, _)| b.pdu.event_id.clone()),
            state: self.state.pdus(&self.room_id),
            room_version: self.version.clone(),
        };
        let (tx, rx) = oneshot::channel::<Answer>();
        let Upgrade { sender, body, .. } = msg;
        // `wait` holds every other message until the replacement exists and the tombstone is
        // accepted, so the tombstone's place in the room stays the one it was built for.
        ctx.wait(create(start).into_actor(self).map(move |created, act, ctx| {
            let answer = created.and_then(|room| {
                let (built, prev, auth) = match prebuilt {
                    Some(b) => b,
                    None => act.build(&sender, &tombstone(&body, &room))?,
                };
                let id = act.admit(built, &prev, &auth, None)?;
                let committed = act.wait_for(&id);
                act.flush(ctx);
                Ok((committed, room))
            });
            if let Err(e) = &answer {
                log::warn!("room {}: upgrade failed: {e}", act.room_id);
            }
            let _ = tx.send(answer);
        }));
        Box::pin(async move {
            let (committed, room) = rx.await.map_err(|_| Error::internal("The room stopped during its upgrade"))??;
            let tombstone_id = Self::reply(committed).await?;
            Ok((tombstone_id, room))
        })
    }
}

type Prebuilt = Option<(crate::events::Built, Vec<OwnedEventId>, Vec<OwnedEventId>)>;

impl RoomActor {
    /// Checks that the sender may tombstone the room (building the tombstone when the
    /// replacement's ID is known) and takes the replacement's constructor.
    fn start_upgrade(&mut self, msg: &Upgrade) -> Result<(CreateReplacement, Prebuilt)> {
        self.ensure_ready()?;
        let sender: &UserId = &msg.sender;
        let prebuilt = match &msg.replacement_room {
            Some(room) => Some(self.checked(sender, &tombstone(&msg.body, room))?),
            None => {
                // Only the check: the real tombstone names a room that does not exist yet.
                self.checked(sender, &tombstone(&msg.body, self.room_id.as_str()))?;
                None
            }
        };
        let create = msg
            .create
            .lock()
            .map_err(|_| Error::internal("upgrade constructor lock poisoned"))?
            .take()
            .ok_or_else(|| Error::internal("The upgrade was already started"))?;
        Ok((create, prebuilt))
    }

    /// Builds `draft` and checks it with the room's rules without applying it.
    fn checked(&self, sender: &UserId, draft: &EventDraft) -> Result<(crate::events::Built, Vec<OwnedEventId>, Vec<OwnedEventId>)> {
        let (built, prev, auth) = self.build(sender, draft)?;
        let view = crate::events::auth::AuthEvent::new(&built.pdu, &self.rules, &prev, &auth)?;
        self.state.check(&view, &self.rules.authorization)?;
        Ok((built, prev, auth))
    }
}
