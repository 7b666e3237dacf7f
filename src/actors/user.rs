//! `UserActor`: a local user's profile, flags and joined rooms. Profile changes go out from here
//! as member events to each joined room's actor.

use crate::Services;
use crate::actors::room::SendEvent;
use crate::error::{Error, Result};
use crate::events::EventDraft;
use crate::store::users::Profile;
use actix::prelude::*;
use ruma::{OwnedRoomId, OwnedUserId, UserId};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Accounts whose deactivation began, for the room actors: a join by one is refused, and a join
/// accepted just before and committed after the deactivation read the rooms to leave is undone
/// (see `RoomActor::committed`). An entry outlives any join in flight when it was made, then
/// goes: after that the revoked tokens and the stored flag keep the account out.
#[derive(Default)]
pub struct DeactivatedUsers {
    since: Mutex<HashMap<String, Instant>>,
}

impl DeactivatedUsers {
    const KEEP: Duration = Duration::from_secs(600);

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.since.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, user: &str) {
        let mut m = self.lock();
        m.retain(|_, at| at.elapsed() < Self::KEEP);
        m.insert(user.to_owned(), Instant::now());
    }

    /// The account is active again (an admin reactivated it).
    pub fn remove(&self, user: &str) {
        self.lock().remove(user);
    }

    pub fn contains(&self, user: &str) -> bool {
        self.lock().get(user).is_some_and(|at| at.elapsed() < Self::KEEP)
    }
}

pub struct UserActor {
    user_id: OwnedUserId,
    svc: Arc<Services>,
    profile: Profile,
    joined: BTreeSet<OwnedRoomId>,
    loaded: bool,
    last_active: Instant,
}

impl UserActor {
    pub fn new(user_id: OwnedUserId, svc: Arc<Services>) -> Self {
        Self {
            profile: Profile { user_id: user_id.to_string(), ..Profile::default() },
            user_id,
            svc,
            joined: BTreeSet::new(),
            loaded: false,
            last_active: Instant::now(),
        }
    }
}

impl Actor for UserActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let idle = Duration::from_secs(self.svc.config.actor_idle_secs.max(1));
        ctx.run_interval(idle / 2, move |act, ctx| {
            if act.last_active.elapsed() >= idle {
                act.svc.metrics.passivations.get_or_create(&crate::metrics::ActorLabels { kind: "user" }).inc();
                act.svc.directory.forget_user(&act.user_id, &ctx.address());
                ctx.stop();
            }
        });
        let db = self.svc.db.clone();
        let id = self.user_id.clone();
        let load = async move {
            db.run(move |c| {
                let profile = crate::store::users::profile(c, id.as_str())?;
                let rooms = crate::store::memberships::joined_rooms(c, id.as_str())?;
                Ok((profile, rooms))
            })
            .await
        };
        ctx.wait(load.into_actor(self).map(|res, act, ctx| match res {
            Ok((profile, rooms)) => {
                if let Some(p) = profile {
                    act.profile = p;
                }
                act.joined = rooms.into_iter().collect();
                act.loaded = true;
            }
            Err(e) => {
                log::error!("user {}: loading failed: {e}", act.user_id);
                act.svc.directory.forget_user(&act.user_id, &ctx.address());
                ctx.stop();
            }
        }));
    }
}

/// A room actor committed a membership change of this user.
#[derive(Message)]
#[rtype(result = "()")]
pub struct MembershipChanged {
    pub room_id: OwnedRoomId,
    pub membership: String,
}

impl Handler<MembershipChanged> for UserActor {
    type Result = ();
    fn handle(&mut self, msg: MembershipChanged, _: &mut Context<Self>) {
        if msg.membership == "join" {
            self.joined.insert(msg.room_id);
        } else {
            self.joined.remove(&msg.room_id);
        }
    }
}

/// Change the displayname and/or avatar (`None` = unchanged, `Some(None)` = remove), store it,
/// then send a member event with the new profile to every joined room.
#[derive(Message, Clone)]
#[rtype(result = "Result<()>")]
pub struct SetProfile {
    pub displayname: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
}

impl Handler<SetProfile> for UserActor {
    type Result = AtomicResponse<Self, Result<()>>;

    fn handle(&mut self, msg: SetProfile, _: &mut Context<Self>) -> Self::Result {
        self.last_active = Instant::now();
        let mut profile = self.profile.clone();
        if let Some(d) = msg.displayname {
            profile.displayname = d;
        }
        if let Some(a) = msg.avatar_url {
            profile.avatar_url = a;
        }
        let svc = self.svc.clone();
        let rooms: Vec<OwnedRoomId> = self.joined.iter().cloned().collect();
        let user = self.user_id.clone();
        let p = profile.clone();
        let fut = async move {
            let p2 = p.clone();
            svc.db.run(move |c| crate::store::users::set_profile(c, &p2)).await?;
            let sends = rooms.into_iter().map(|room| {
                let svc = svc.clone();
                let mut content = json!({"membership": "join"});
                if let Some(d) = &p.displayname {
                    content["displayname"] = Value::String(d.clone());
                }
                if let Some(a) = &p.avatar_url {
                    content["avatar_url"] = Value::String(a.clone());
                }
                let msg = SendEvent::new(user.clone(), EventDraft::state("m.room.member", user.as_str(), content));
                async move {
                    let res = svc.send_to_room(&room, msg).await;
                    (room, res)
                }
            });
            for (room, res) in futures_util::future::join_all(sends).await {
                match res {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) | Err(e) => log::warn!("profile update in {room} failed: {e}"),
                }
            }
            Ok::<(), Error>(())
        };
        // Atomic: a second profile change waits for the first to reach every room.
        AtomicResponse::new(Box::pin(fut.into_actor(self).map(move |res, act, _| {
            if res.is_ok() {
                act.profile = profile;
            }
            res
        })))
    }
}

/// Deactivate the account: mark it deactivated and remove the password, devices and tokens (and
/// with `erase`, the profile) first, so nothing it sends from then on is accepted, then leave
/// every room and reject every invite through the rooms' actors.
#[derive(Message, Clone)]
#[rtype(result = "Result<()>")]
pub struct Deactivate {
    pub erase: bool,
}

impl Handler<Deactivate> for UserActor {
    type Result = AtomicResponse<Self, Result<()>>;

    fn handle(&mut self, msg: Deactivate, _: &mut Context<Self>) -> Self::Result {
        self.last_active = Instant::now();
        let svc = self.svc.clone();
        let user = self.user_id.clone();
        let fut = async move {
            // Room actors refuse the account's joins from here on, before its tokens go: a join
            // already past authentication cannot land after the rooms to leave are read.
            svc.deactivated.insert(user.as_str());
            let (u, erase) = (user.clone(), msg.erase);
            let removed = match svc.db.run(move |c| crate::store::users::deactivate(c, u.as_str(), erase)).await {
                Ok(r) => r,
                Err(e) => {
                    svc.deactivated.remove(user.as_str());
                    return Err(e);
                }
            };
            svc.tokens.forget(&removed);
            svc.tokens.forget_user(user.as_str());
            let u = user.clone();
            let rooms = svc.db.run(move |c| crate::store::memberships::rooms_to_leave(c, u.as_str())).await?;
            leave_rooms(&svc, &user, rooms).await;
            log::info!("deactivated {user} (erase: {erase})");
            Ok::<(), Error>(())
        };
        AtomicResponse::new(Box::pin(fut.into_actor(self).map(move |res, act, _| {
            if res.is_ok() {
                act.joined.clear();
                if msg.erase {
                    act.profile.displayname = None;
                    act.profile.avatar_url = None;
                }
            }
            res
        })))
    }
}

/// Sends a self-leave to each room concurrently, continuing past failures.
pub async fn leave_rooms(svc: &Arc<Services>, user: &UserId, rooms: Vec<OwnedRoomId>) -> EvacuationReport {
    let sends = rooms.into_iter().map(|room| {
        let svc = svc.clone();
        let msg = SendEvent::new(user.to_owned(), EventDraft::state("m.room.member", user.as_str(), json!({"membership": "leave"})));
        async move {
            let res = svc.send_to_room(&room, msg).await;
            (room, res)
        }
    });
    let mut report = EvacuationReport::default();
    for (room, res) in futures_util::future::join_all(sends).await {
        match res {
            Ok(Ok(_)) => report.left.push(room),
            Ok(Err(e)) | Err(e) => {
                log::warn!("{user} could not leave {room}: {e}");
                report.failed.push((room, e.message()));
            }
        }
    }
    report
}

/// The admin evacuation of a user: leave every joined room and reject every pending invite
/// (server notice invites included), concurrently, continuing past rooms that fail.
#[derive(Message, Clone)]
#[rtype(result = "Result<EvacuationReport>")]
pub struct EvacuateUser;

#[derive(Debug, Clone, Default)]
pub struct EvacuationReport {
    pub left: Vec<OwnedRoomId>,
    pub failed: Vec<(OwnedRoomId, String)>,
}

impl Handler<EvacuateUser> for UserActor {
    type Result = AtomicResponse<Self, Result<EvacuationReport>>;

    fn handle(&mut self, _: EvacuateUser, _: &mut Context<Self>) -> Self::Result {
        self.last_active = Instant::now();
        let svc = self.svc.clone();
        let user = self.user_id.clone();
        let fut = async move {
            let u = user.clone();
            let rooms = svc.db.run(move |c| crate::store::memberships::rooms_to_leave(c, u.as_str())).await?;
            let report = leave_rooms(&svc, &user, rooms).await;
            Ok::<_, Error>(report)
        };
        AtomicResponse::new(Box::pin(fut.into_actor(self).map(|res, act, _| {
            if let Ok(r) = &res {
                for room in &r.left {
                    act.joined.remove(room);
                }
            }
            res
        })))
    }
}
