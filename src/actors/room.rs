//! `RoomActor`: owns a room's current state and membership, authorizes and builds every event,
//! and commits them in groups.
//!
//! Ordering: a message is authorized and built synchronously inside its handler, against state
//! that already includes every earlier accepted event, so the actor's mailbox order is the
//! room's event order. Durability: the reply to a send waits for the transaction that holds the
//! event. Throughput: while one batch is being committed, new events collect in the next.

use crate::Services;
use crate::actors::notifier::EventsCommitted;
use crate::actors::user::MembershipChanged;
use crate::error::{Error, Result};
use crate::events::auth::{AuthEvent, RoomState};
use crate::events::{self, BuildContext, Built, EventDraft};
use crate::store::events::{NewEvent, TxnKey};
use crate::store::rooms::RoomRow;
use actix::prelude::*;
use ruma::events::room::member::MembershipState;
use ruma::room_version_rules::{EventsReferenceFormatVersion, RoomVersionRules};
use ruma::{EventId, OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId};
use serde_json::json;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

mod evacuation;
mod txns;
mod typing;
mod upgrade;
pub use evacuation::{Evacuate, Purge, PurgeReport};
pub use typing::SetTyping;
pub use upgrade::{CreateReplacement, ReplacementStart, Upgrade};

type Reply = oneshot::Sender<Result<OwnedEventId>>;

pub struct RoomActor {
    room_id: OwnedRoomId,
    svc: Arc<Services>,
    is_new: bool,
    loaded: bool,
    version: String,
    rules: RoomVersionRules,
    state: RoomState,
    last_event: Option<OwnedEventId>,
    /// Whether `last_event` is a state event (then its reference hash stays while it is current).
    last_is_state: bool,
    /// Reference hashes of the current state and the last event, kept only for versions whose
    /// PDUs carry them next to each referenced ID (v1, v2); unknown after a re-activation.
    reference_hashes: HashMap<OwnedEventId, String>,
    depth: i64,
    /// The `rooms` row of a room being created, committed with its first batch.
    new_room: Option<Box<RoomRow>>,
    pending: Vec<NewEvent>,
    in_flight: bool,
    waiters: HashMap<OwnedEventId, Vec<Reply>>,
    /// Events accepted and not yet committed (pending or in flight).
    uncommitted: HashSet<OwnedEventId>,
    /// The transaction IDs this actor knows of: recent ones with their events, and which keys
    /// each sending device holds.
    txns: txns::TxnMemory,
    /// Sends whose transaction ID this actor cannot tell is new, in arrival order, waiting for the
    /// store to say whether an earlier request took it; later sends queue behind them so that
    /// the room accepts in arrival order.
    awaiting_txn: VecDeque<(SendEvent, Reply)>,
    /// How many sends at the front of `awaiting_txn` the running look-up covers (0: none runs).
    looking_up: usize,
    last_active: Instant,
    /// Set by a purge: every later message is refused as if the room did not exist.
    closed: bool,
    /// Who is typing, until when; published to the typing board on every change.
    typing: HashMap<OwnedUserId, Instant>,
    /// The one pending expiry check of `typing`: when it fires and its handle.
    typing_timer: Option<(Instant, SpawnHandle)>,
}

/// Send one event as `sender`. Answers with the event ID once it is committed.
#[derive(Message, Clone)]
#[rtype(result = "Result<OwnedEventId>")]
pub struct SendEvent {
    pub sender: OwnedUserId,
    pub draft: EventDraft,
    pub txn: Option<TxnKey>,
    /// For redactions: who sent the event being redacted (looked up by the handler).
    pub redacts_sender: Option<OwnedUserId>,
    /// What the target's membership must be for a member event to mean what was asked.
    pub precondition: Option<Precondition>,
}

/// A kick and an unban are the same event (a leave about someone else); which one it is depends
/// on the membership it replaces, read here against the live state so that a ban landing first
/// is not silently lifted by a kick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// A kick: the target must not be banned.
    NotBanned,
    /// An unban: the target must be banned.
    Banned,
}

impl SendEvent {
    /// `draft` sent by `sender`, without a transaction ID or precondition.
    pub fn new(sender: OwnedUserId, draft: EventDraft) -> Self {
        Self { sender, draft, txn: None, redacts_sender: None, precondition: None }
    }
}

/// Create the room: the `rooms` row, its create event (built by the caller, as from v12 it
/// names the room) and the other initial events, as one atomic batch.
#[derive(Message)]
#[rtype(result = "Result<()>")]
pub struct CreateRoom {
    pub row: RoomRow,
    pub create: Built,
    pub events: Vec<(OwnedUserId, EventDraft)>,
}

/// A user's membership and power, read from the live state (for checks on other paths).
#[derive(Message, Clone)]
#[rtype(result = "Result<MemberInfo>")]
pub struct GetMember {
    pub user: OwnedUserId,
    /// A state event type to answer [`MemberInfo::may_send_state`] for.
    pub state_type: Option<String>,
}

#[derive(Debug, Clone)]
pub struct MemberInfo {
    pub membership: String,
    pub power: i64,
    pub room_version: String,
    /// Whether the power levels let the user send the asked state event type.
    pub may_send_state: bool,
}

impl RoomActor {
    pub fn new(room_id: OwnedRoomId, svc: Arc<Services>, is_new: bool) -> Self {
        Self {
            room_id,
            svc,
            is_new,
            loaded: is_new,
            version: events::DEFAULT_ROOM_VERSION.into(),
            rules: RoomVersionRules::V10,
            state: RoomState::default(),
            last_event: None,
            last_is_state: false,
            reference_hashes: HashMap::new(),
            depth: 0,
            new_room: None,
            pending: Vec::new(),
            in_flight: false,
            waiters: HashMap::new(),
            uncommitted: HashSet::new(),
            txns: txns::TxnMemory::default(),
            awaiting_txn: VecDeque::new(),
            looking_up: 0,
            last_active: Instant::now(),
            closed: false,
            typing: HashMap::new(),
            typing_timer: None,
        }
    }

    fn ensure_ready(&self) -> Result<()> {
        if !self.loaded || self.closed {
            return Err(Error::not_found("Unknown room"));
        }
        Ok(())
    }

    /// Builds `draft`, checks it with the room version's authorization rules, applies it to the
    /// live state and queues it.
    fn accept(
        &mut self,
        sender: &UserId,
        draft: &EventDraft,
        txn: Option<TxnKey>,
        redacts_sender: Option<&UserId>,
    ) -> Result<OwnedEventId> {
        if draft.kind == "m.room.member"
            && draft.state_key.as_deref() == Some(sender.as_str())
            && draft.content.get("membership").and_then(|m| m.as_str()) == Some("join")
            && self.svc.deactivated.contains(sender.as_str())
        {
            return Err(Error::forbidden("This account has been deactivated"));
        }
        self.state.refuse_malformed(draft, sender)?;
        if draft.redacts.is_some() && !self.state.may_redact(sender, redacts_sender, &self.rules.authorization) {
            return Err(Error::forbidden("You cannot redact this event"));
        }
        let (built, prev, auth) = self.build(sender, draft)?;
        self.admit(built, &prev, &auth, txn)
    }

    /// Builds `draft` as the room's next event; returns it with its prev and auth events.
    fn build(&self, sender: &UserId, draft: &EventDraft) -> Result<(Built, Vec<OwnedEventId>, Vec<OwnedEventId>)> {
        let ctx = BuildContext {
            room_id: &self.room_id,
            sender,
            prev_events: self.last_event.iter().cloned().collect(),
            auth_events: self.state.auth_events_for(draft, sender, &self.rules.authorization)?,
            reference_hashes: &self.reference_hashes,
            depth: self.depth + 1,
            rules: &self.rules,
            keys: &self.svc.keys,
            max_bytes: self.svc.config.max_event_bytes,
        };
        let built = events::build(draft, &ctx)?;
        Ok((built, ctx.prev_events, ctx.auth_events))
    }

    /// Checks a built event with ruma's authorization rules against the current state, then
    /// applies and queues it.
    fn admit(&mut self, built: Built, prev: &[OwnedEventId], auth: &[OwnedEventId], txn: Option<TxnKey>) -> Result<OwnedEventId> {
        let Built { pdu, json, reference_hash } = built;
        let view = AuthEvent::new(&pdu, &self.rules, prev, auth)?;
        self.state.check(&view, &self.rules.authorization)?;
        self.remember_reference(&pdu, reference_hash);
        self.state.apply(&pdu, &self.rules);
        self.depth = pdu.depth;
        self.last_event = Some(pdu.event_id.clone());
        self.last_is_state = pdu.is_state();
        let id = pdu.event_id.clone();
        self.uncommitted.insert(id.clone());
        if let Some(t) = &txn {
            self.txns.accepted(t, &id);
            let waiters = &self.waiters;
            self.txns.forget_old(|id| waiters.contains_key(id));
        }
        self.pending.push(NewEvent { pdu, json, txn, existing_txn_event: None });
        self.svc.metrics.room_pending_events.inc();
        Ok(id)
    }

    /// Keeps the reference hashes later events of a v1/v2 room will name: the current state's
    /// and the newest event's, no others.
    fn remember_reference(&mut self, pdu: &events::Pdu, hash: String) {
        if self.rules.events_reference_format != EventsReferenceFormatVersion::V1 {
            return;
        }
        if let Some(last) = &self.last_event
            && !self.last_is_state
        {
            self.reference_hashes.remove(last);
        }
        if let Some(sk) = &pdu.state_key
            && let Some(old) = self.state.get(&pdu.kind, sk)
        {
            let old = old.event_id.clone();
            self.reference_hashes.remove(&old);
        }
        self.reference_hashes.insert(pdu.event_id.clone(), hash);
    }

    /// Asks the store, in one round trip, which queued sends' transaction IDs name an event
    /// already stored (a retry of a request whose answer was lost), and which keys their devices
    /// hold in this room if not yet known; then answers those and accepts the others in order.
    /// Sends arriving meanwhile form the next look-up: one blocking round trip per batch
    /// instead of one per request, and none once a device's keys are known.
    fn look_up_txns(&mut self, ctx: &mut Context<Self>) {
        if self.looking_up > 0 || self.awaiting_txn.is_empty() {
            return;
        }
        self.looking_up = self.awaiting_txn.len();
        // Concurrent retries of one request share a key: ask once.
        let keys: Vec<TxnKey> = self
            .awaiting_txn
            .iter()
            .filter_map(|(m, _)| m.txn.clone())
            .filter(|t| self.txns.needs_look_up(t))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let devices = self.txns.devices_to_read(&keys);
        let asked = devices.clone();
        let (db, room) = (self.svc.db.clone(), self.room_id.to_string());
        let found =
            async move { db.run(move |c| crate::store::events::txn_look_up(c, &keys, &devices, &room, txns::DEVICE_ROWS_READ)).await };
        ctx.spawn(found.into_actor(self).map(move |found, act, ctx| {
            let found = match found {
                Ok(told) => {
                    for (device, stored) in told.devices {
                        act.txns.read(device, stored);
                    }
                    Ok(told.events)
                }
                Err(e) => {
                    for device in asked {
                        act.txns.read_failed(device);
                    }
                    Err(e)
                }
            };
            let batch: Vec<_> = act.awaiting_txn.drain(..act.looking_up).collect();
            act.looking_up = 0;
            for (msg, reply) in batch {
                let stored = match &found {
                    Ok(found) => msg.txn.as_ref().and_then(|t| found.get(t)),
                    Err(e) => {
                        let _ = reply.send(Err(e.clone()));
                        continue;
                    }
                };
                match (stored, act.ensure_ready()) {
                    (Some(id), _) => {
                        let _ = reply.send(Ok(id.clone()));
                    }
                    (None, Err(e)) => {
                        let _ = reply.send(Err(e));
                    }
                    (None, Ok(())) => act.submit(msg, reply, ctx),
                }
            }
            act.look_up_txns(ctx);
        }));
    }

    /// Answers a send: the event a remembered transaction ID names, or accept and queue it.
    fn submit(&mut self, msg: SendEvent, reply: Reply, ctx: &mut Context<Self>) {
        if let Some(id) = msg.txn.as_ref().and_then(|t| self.txns.event(t)).cloned() {
            match self.waiters.get_mut(&id) {
                Some(list) => list.push(reply),
                None => {
                    let _ = reply.send(Ok(id));
                }
            }
            return;
        }
        if let Some(id) = self.unchanged_state(&msg) {
            // The same state again from the same sender: the event already there answers, once
            // it is durable.
            if self.uncommitted.contains(&id) {
                self.waiters.entry(id).or_default().push(reply);
            } else {
                let _ = reply.send(Ok(id));
            }
            return;
        }
        if let Err(e) = self.check_precondition(&msg) {
            let _ = reply.send(Err(e));
            return;
        }
        match self.accept(&msg.sender, &msg.draft, msg.txn, msg.redacts_sender.as_deref()) {
            Ok(id) => {
                self.waiters.entry(id).or_default().push(reply);
                self.flush(ctx);
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// The current state event `msg` would replace with an identical one (same type, state key,
    /// sender and content), if any.
    fn unchanged_state(&self, msg: &SendEvent) -> Option<OwnedEventId> {
        let key = msg.draft.state_key.as_deref()?;
        // A member event about someone else (a kick, a ban, an invite) is never a repeat: the
        // rules must judge it, or kicking someone already gone would answer 200.
        if msg.draft.kind == "m.room.member" && key != msg.sender.as_str() {
            return None;
        }
        let current = self.state.get(&msg.draft.kind, key)?;
        (current.sender == msg.sender && current.content_value() == msg.draft.content).then(|| current.event_id.clone())
    }

    fn check_precondition(&self, msg: &SendEvent) -> Result<()> {
        let Some(wanted) = msg.precondition else { return Ok(()) };
        let target = msg.draft.state_key.as_deref().unwrap_or_default();
        let banned = UserId::parse(target).is_ok_and(|t| self.state.membership(&t) == MembershipState::Ban);
        match wanted {
            Precondition::NotBanned if banned => Err(Error::forbidden(format!("{target} is banned: unban them first"))),
            Precondition::Banned if !banned => Err(Error::forbidden(format!("{target} is not banned"))),
            _ => Ok(()),
        }
    }

    fn wait_for(&mut self, event_id: &EventId) -> oneshot::Receiver<Result<OwnedEventId>> {
        let (tx, rx) = oneshot::channel();
        self.waiters.entry(event_id.to_owned()).or_default().push(tx);
        rx
    }

    /// Starts committing what is pending unless a commit is already in flight.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight {
            return;
        }
        if self.pending.is_empty() {
            // Quiet again: a burst's maps keep their capacity otherwise, in every resident room.
            self.waiters.shrink_to_fit();
            self.uncommitted.shrink_to_fit();
            return;
        }
        self.in_flight = true;
        let batch = std::mem::take(&mut self.pending);
        let new_room = self.new_room.take();
        let committer = self.svc.committer.clone();
        let joined = self.state.joined_users();
        let (size, began) = (batch.len(), std::time::Instant::now());
        let fut = async move { committer.commit(new_room, joined, batch).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            act.in_flight = false;
            act.svc.metrics.room_pending_events.dec_by(size as i64);
            match res {
                Ok(batch) => {
                    act.svc.metrics.committed(size, began.elapsed());
                    act.committed(&batch);
                    act.flush(ctx);
                }
                Err(e) => {
                    // The live state already includes events that are not stored: fail every
                    // waiter and let the directory re-activate the room from the store.
                    log::error!("room {}: commit failed: {e}", act.room_id);
                    for (_, list) in act.waiters.drain() {
                        for tx in list {
                            let _ = tx.send(Err(e.clone()));
                        }
                    }
                    act.svc.directory.forget_room(&act.room_id, &ctx.address());
                    ctx.stop();
                }
            }
        }));
    }

    fn committed(&mut self, batch: &[NewEvent]) {
        let mut users = self.state.interested_users();
        // Members changed by the batch (a leave or a kick is no longer among the interested).
        let mut targets = Vec::new();
        let mut top = 0;
        let mut deactivated_joins = Vec::new();
        for ev in batch {
            top = top.max(ev.pdu.stream_ordering);
            let target = ev.pdu.state_key.as_deref().and_then(|k| UserId::parse(k).ok());
            if let (Some(target), Some(m)) = (target, ev.pdu.membership()) {
                if let Some(u) = self.svc.directory.active_user(&target) {
                    u.do_send(MembershipChanged { room_id: self.room_id.clone(), membership: m.to_owned() });
                }
                targets.push(target.clone());
                if m == "join" && self.svc.deactivated.contains(target.as_str()) {
                    deactivated_joins.push(target.clone());
                }
            }
            // A duplicate transaction ID answers with the event that first took it.
            let answer = ev.existing_txn_event.clone().unwrap_or_else(|| ev.pdu.event_id.clone());
            if let (Some(t), Some(_)) = (&ev.txn, &ev.existing_txn_event) {
                self.txns.correct(t, answer.clone());
            }
            self.uncommitted.remove(&ev.pdu.event_id);
            if let Some(list) = self.waiters.remove(&ev.pdu.event_id) {
                for tx in list {
                    let _ = tx.send(Ok(answer.clone()));
                }
            }
        }
        // A join accepted just before its sender's deactivation began, committed after the
        // deactivation read the rooms to leave: leave again here, or the account stays joined.
        for user in deactivated_joins {
            if self.state.membership(&user) == MembershipState::Join
                && let Err(e) =
                    self.accept(&user, &EventDraft::state("m.room.member", user.as_str(), json!({"membership": "leave"})), None, None)
            {
                log::warn!("room {}: removing deactivated {user} failed: {e}", self.room_id);
            }
        }
        // A batch of messages into a large room hands the notifier the list it already has; only
        // members changed by the batch make a new one.
        if !targets.is_empty() {
            let mut all = users.to_vec();
            all.extend(targets);
            all.sort();
            all.dedup();
            users = all.into();
        }
        self.svc.notifier.do_send(EventsCommitted { room_id: self.room_id.clone(), position: top, users });
        self.svc.push.do_send(crate::actors::push::MoreEvents);
        if batch.iter().any(|e| crate::actors::search::is_searchable(&e.pdu)) {
            self.svc.search.do_send(crate::actors::search::MoreSearchable);
        }
    }

    fn reply(rx: oneshot::Receiver<Result<OwnedEventId>>) -> ResponseFuture<Result<OwnedEventId>> {
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err(Error::internal("The room stopped before committing"))) })
    }
}

/// The label of room actors' activations and passivations.
const ROOM: crate::metrics::ActorLabels = crate::metrics::ActorLabels { kind: "room" };

impl Actor for RoomActor {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        // Events never committed (a purge or a failed commit stopped the actor) leave the count.
        self.svc.metrics.room_pending_events.dec_by(self.pending.len() as i64);
    }

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(1024);
        let idle = Duration::from_secs(self.svc.config.actor_idle_secs.max(1));
        ctx.run_interval(idle / 2, move |act, ctx| {
            if !act.in_flight && act.pending.is_empty() && act.awaiting_txn.is_empty() && act.last_active.elapsed() >= idle {
                act.svc.metrics.passivations.get_or_create(&ROOM).inc();
                act.svc.directory.forget_room(&act.room_id, &ctx.address());
                ctx.stop();
            }
        });
        if self.is_new {
            return;
        }
        let db = self.svc.db.clone();
        let id = self.room_id.clone();
        let load = async move {
            db.run(move |c| {
                let Some(room) = crate::store::events::load_room(c, id.as_str())? else { return Ok(None) };
                let rules = events::rules_for(&room.row.room_version);
                let hashes = if rules.events_reference_format == EventsReferenceFormatVersion::V1 {
                    stored_reference_hashes(c, &room, &rules)?
                } else {
                    HashMap::new()
                };
                Ok(Some((room, hashes)))
            })
            .await
        };
        // `wait` holds every message until the state is loaded.
        ctx.wait(load.into_actor(self).map(|res, act, ctx| match res {
            Ok(Some((room, hashes))) => {
                act.version = room.row.room_version.clone();
                act.rules = events::rules_for(&act.version);
                for pdu in &room.state {
                    act.state.apply(pdu, &act.rules);
                }
                if let Some((id, depth)) = room.last_event {
                    act.last_is_state = room.state.iter().any(|p| p.event_id == id);
                    act.last_event = Some(id);
                    act.depth = depth;
                }
                act.reference_hashes = hashes;
                act.loaded = true;
            }
            Ok(None) => {
                act.svc.directory.forget_room(&act.room_id, &ctx.address());
            }
            Err(e) => {
                log::error!("room {}: loading failed: {e}", act.room_id);
                act.svc.directory.forget_room(&act.room_id, &ctx.address());
            }
        }));
    }
}

/// The reference hashes of a loaded v1/v2 room's current state and newest event, from their
/// stored JSON (the unsigned part, a later redaction included, does not enter the hash).
fn stored_reference_hashes(
    c: &mut crate::store::Conn,
    room: &crate::store::events::LoadedRoom,
    rules: &RoomVersionRules,
) -> Result<HashMap<OwnedEventId, String>> {
    use crate::store::schema::events as ev;
    use diesel::prelude::*;
    let mut ids: Vec<&str> = room.state.iter().map(|p| p.event_id.as_str()).collect();
    if let Some((id, _)) = &room.last_event {
        ids.push(id.as_str());
    }
    let mut hashes = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String)> = ev::table.filter(ev::event_id.eq_any(chunk)).select((ev::event_id, ev::json)).load(c)?;
        for (id, json) in rows {
            let hash = serde_json::from_str::<ruma::CanonicalJsonObject>(&json)
                .map_err(|e| e.to_string())
                .and_then(|obj| ruma::signatures::reference_hash(&obj, rules).map_err(|e| e.to_string()));
            match hash.and_then(|h| Ok((OwnedEventId::try_from(id.as_str()).map_err(|e| e.to_string())?, h))) {
                Ok((id, h)) => {
                    hashes.insert(id, h);
                }
                Err(e) => log::warn!("event {id}: no reference hash: {e}"),
            }
        }
    }
    Ok(hashes)
}

impl Handler<SendEvent> for RoomActor {
    type Result = ResponseFuture<Result<OwnedEventId>>;

    fn handle(&mut self, msg: SendEvent, ctx: &mut Context<Self>) -> Self::Result {
        self.last_active = Instant::now();
        if let Err(e) = self.ensure_ready() {
            return Box::pin(async move { Err(e) });
        }
        let (tx, rx) = oneshot::channel();
        let unknown_txn = msg.txn.as_ref().is_some_and(|t| self.txns.needs_look_up(t));
        if unknown_txn || !self.awaiting_txn.is_empty() {
            self.awaiting_txn.push_back((msg, tx));
            self.look_up_txns(ctx);
        } else {
            self.submit(msg, tx, ctx);
        }
        Self::reply(rx)
    }
}

impl Handler<CreateRoom> for RoomActor {
    type Result = ResponseFuture<Result<()>>;

    fn handle(&mut self, msg: CreateRoom, ctx: &mut Context<Self>) -> Self::Result {
        self.last_active = Instant::now();
        if !self.state.is_empty() || !self.is_new {
            return Box::pin(async { Err(Error::forbidden("The room already exists")) });
        }
        self.version = msg.row.room_version.clone();
        self.rules = events::rules_for(&self.version);
        let mut last = match self.admit(msg.create, &[], &[], None) {
            Ok(id) => id,
            Err(e) => {
                self.svc.directory.forget_room(&self.room_id, &ctx.address());
                ctx.stop();
                return Box::pin(async move { Err(e) });
            }
        };
        for (sender, draft) in &msg.events {
            match self.accept(sender, draft, None, None) {
                Ok(id) => last = id,
                Err(e) => {
                    // Nothing was committed: the room never existed.
                    self.svc.directory.forget_room(&self.room_id, &ctx.address());
                    ctx.stop();
                    return Box::pin(async move { Err(e) });
                }
            }
        }
        self.new_room = Some(Box::new(msg.row));
        let rx = self.wait_for(&last);
        self.flush(ctx);
        Box::pin(async move {
            match rx.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(Error::internal("The room stopped before committing")),
            }
        })
    }
}

impl Handler<GetMember> for RoomActor {
    type Result = Result<MemberInfo>;

    fn handle(&mut self, msg: GetMember, _: &mut Context<Self>) -> Self::Result {
        self.ensure_ready()?;
        Ok(MemberInfo {
            membership: self.state.membership(&msg.user).as_str().to_owned(),
            power: self.state.user_level(&msg.user, &self.rules.authorization),
            room_version: self.version.clone(),
            may_send_state: msg.state_type.is_some_and(|t| self.state.may_send_state(msg.user.as_str(), &t, &self.rules.authorization)),
        })
    }
}

/// Helpers for sending to a room's actor, re-activating it once if its mailbox has died.
impl Services {
    pub async fn send_to_room<M>(self: &Arc<Self>, room_id: &RoomId, msg: M) -> Result<M::Result>
    where
        M: Message + Send + Clone + 'static,
        M::Result: Send,
        RoomActor: Handler<M>,
    {
        for _ in 0..2 {
            let addr = self.directory.room(self, room_id).await?;
            match addr.send(msg.clone()).await {
                Ok(r) => return Ok(r),
                Err(MailboxError::Closed) => self.directory.forget_room(room_id, &addr),
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::internal("The room's actor is unavailable"))
    }
}
