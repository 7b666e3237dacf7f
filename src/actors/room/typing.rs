//! Typing notifications: who is typing in the room, until when, published to the typing board
//! and to the joined members' syncs. Kept in the room actor so only joined members may type.

use super::RoomActor;
use crate::actors::notifier::{Advanced, Stream};
use crate::error::{Error, Result};
use actix::prelude::*;
use ruma::OwnedUserId;
use ruma::events::room::member::MembershipState;
use std::time::{Duration, Instant};

/// `user` starts typing for `timeout`, or stops. Only joined members may type.
#[derive(Message, Clone)]
#[rtype(result = "Result<()>")]
pub struct SetTyping {
    pub user: OwnedUserId,
    pub typing: bool,
    pub timeout: Duration,
}

impl Handler<SetTyping> for RoomActor {
    type Result = Result<()>;

    fn handle(&mut self, msg: SetTyping, ctx: &mut Context<Self>) -> Self::Result {
        self.ensure_ready()?;
        if self.state.membership(&msg.user) != MembershipState::Join {
            return Err(Error::forbidden("You are not joined to this room"));
        }
        self.last_active = Instant::now();
        let changed = if msg.typing {
            self.typing.insert(msg.user.clone(), Instant::now() + msg.timeout).is_none()
        } else {
            self.typing.remove(&msg.user).is_some()
        };
        if msg.typing {
            self.schedule_typing_expiry(ctx);
        }
        if changed {
            self.publish_typing();
        }
        Ok(())
    }
}

impl RoomActor {
    /// Keeps one timer, at the earliest expiry: a client that stops without saying so stops
    /// anyway, and a flood of typing requests cannot pile up timers in the actor.
    fn schedule_typing_expiry(&mut self, ctx: &mut Context<Self>) {
        let Some(next) = self.typing.values().min().copied() else { return };
        if let Some((at, handle)) = self.typing_timer {
            if at <= next {
                return;
            }
            ctx.cancel_future(handle);
        }
        let delay = next.saturating_duration_since(Instant::now()) + Duration::from_millis(10);
        let handle = ctx.run_later(delay, |act, ctx| {
            act.typing_timer = None;
            act.expire_typing();
            act.schedule_typing_expiry(ctx);
        });
        self.typing_timer = Some((next, handle));
    }

    fn expire_typing(&mut self) {
        let now = Instant::now();
        let before = self.typing.len();
        self.typing.retain(|_, until| *until > now);
        if self.typing.len() != before {
            self.publish_typing();
        }
    }

    /// Puts the typing list on the board and wakes the joined members' syncs.
    fn publish_typing(&self) {
        let users: Vec<(OwnedUserId, Instant)> = self.typing.iter().map(|(u, t)| (u.clone(), *t)).collect();
        let position = self.svc.typing.publish(&self.room_id, users);
        let members: Vec<OwnedUserId> = self.state.joined_members().map(ToOwned::to_owned).collect();
        self.svc.notifier.do_send(Advanced { stream: Stream::Typing, users: members, position });
    }
}
