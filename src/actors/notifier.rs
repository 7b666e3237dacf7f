//! Wakes long-polling `/sync` requests when something they care about is committed.

use actix::prelude::*;
use ruma::{OwnedRoomId, OwnedUserId, UserId};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long a user's latest positions are kept after they last moved. They only close the gap
/// between a sync reading the store and parking here (a sync that reads the store later sees the
/// news there), so a minute is ample, and the map holds recently notified users rather than
/// everyone ever named in a to-device message or a room.
pub const RETAIN: Duration = Duration::from_secs(60);
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Positions a sync can be behind on: the event, account data, to-device, device list, receipt,
/// typing and presence streams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Positions {
    pub events: i64,
    pub account_data: i64,
    pub to_device: i64,
    pub device_lists: i64,
    pub receipts: i64,
    pub typing: i64,
    pub presence: i64,
}

/// The streams besides events and account data that wake syncs.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    ToDevice,
    DeviceLists,
    Receipts,
    Typing,
    Presence,
}

/// `stream` moved to `position` with news for `users`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Advanced {
    pub stream: Stream,
    pub users: Vec<OwnedUserId>,
    pub position: i64,
}

impl Handler<Advanced> for Notifier {
    type Result = ();
    fn handle(&mut self, msg: Advanced, _: &mut Context<Self>) {
        let now = Instant::now();
        for u in &msg.users {
            let e = self.touch(u, now);
            let field = match msg.stream {
                Stream::ToDevice => &mut e.positions.to_device,
                Stream::DeviceLists => &mut e.positions.device_lists,
                Stream::Receipts => &mut e.positions.receipts,
                Stream::Typing => &mut e.positions.typing,
                Stream::Presence => &mut e.positions.presence,
            };
            *field = (*field).max(msg.position);
            e.wake();
        }
    }
}

#[derive(Default)]
pub struct Notifier {
    /// The slot in `entries` of each user the notifier holds anything of.
    slots: HashMap<OwnedUserId, usize>,
    /// Each user's newest positions and parked long-polls.
    entries: Vec<UserEntry>,
    /// Per room, the member list it last committed with and its members' slots: a commit in a
    /// large room updates each member's entry without looking up their ID. Dropped when slots
    /// move (at each sweep).
    rooms: HashMap<OwnedRoomId, (Arc<[OwnedUserId]>, Vec<usize>)>,
    /// Per stream, a position at or past all news the notifier does not hold per user: what was
    /// committed before it started, and the positions it swept out. A token
    /// at or past these and past a user's own positions has nothing new for that user.
    forgotten: Positions,
}

/// What the notifier holds of one user.
struct UserEntry {
    /// The newest positions, when `known`; zero once swept out (or before any news).
    positions: Positions,
    known: bool,
    /// When the positions last moved.
    moved: Instant,
    waiters: Vec<oneshot::Sender<()>>,
}

impl UserEntry {
    fn new(now: Instant) -> Self {
        Self { positions: Positions::default(), known: false, moved: now, waiters: Vec::new() }
    }

    fn touched(&mut self, now: Instant) -> &mut Self {
        self.known = true;
        self.moved = now;
        self
    }

    fn wake(&mut self) {
        for tx in self.waiters.drain(..) {
            let _ = tx.send(());
        }
    }
}

impl Notifier {
    /// A notifier for a store whose streams stand at `heads`: it knows nothing of what came
    /// before.
    pub fn starting_at(heads: Positions) -> Self {
        Self { forgotten: heads, ..Self::default() }
    }
}

impl Actor for Notifier {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(SWEEP_EVERY, |act, _| act.sweep(RETAIN));
    }
}

/// Forgets positions older than `retain` and waiters whose sync gave up; answers how many users
/// have positions and how many have waiters afterwards. The notifier runs it every half minute.
#[derive(Message)]
#[rtype(result = "(usize, usize)")]
pub struct Sweep {
    pub retain: Duration,
}

impl Handler<Sweep> for Notifier {
    type Result = MessageResult<Sweep>;
    fn handle(&mut self, msg: Sweep, _: &mut Context<Self>) -> Self::Result {
        self.sweep(msg.retain);
        let known = self.entries.iter().filter(|e| e.known).count();
        let waiting = self.entries.iter().filter(|e| !e.waiters.is_empty()).count();
        MessageResult((known, waiting))
    }
}

/// How many long-polls are waiting (their sync has not given up), for the metrics.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Waiting;

impl Handler<Waiting> for Notifier {
    type Result = usize;
    fn handle(&mut self, _: Waiting, _: &mut Context<Self>) -> usize {
        self.entries.iter().map(|e| e.waiters.iter().filter(|tx| !tx.is_closed()).count()).sum()
    }
}

/// Events up to `position` were committed; `users` are the ones who can see them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EventsCommitted {
    pub room_id: OwnedRoomId,
    pub position: i64,
    /// Shared with the room actor, which keeps the list while its membership stands.
    pub users: Arc<[OwnedUserId]>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct AccountDataChanged {
    pub user: OwnedUserId,
    pub stream_id: i64,
}

/// Answers with a receiver that fires once the user has anything newer than `seen`.
#[derive(Message)]
#[rtype(result = "oneshot::Receiver<()>")]
pub struct Wait {
    pub user: OwnedUserId,
    pub seen: Positions,
}

impl Notifier {
    /// The user's slot, made for a user not yet known.
    fn slot(&mut self, user: &UserId, now: Instant) -> usize {
        if let Some(&i) = self.slots.get(user) {
            return i;
        }
        self.entries.push(UserEntry::new(now));
        self.slots.insert(user.to_owned(), self.entries.len() - 1);
        self.entries.len() - 1
    }

    /// The user's entry, its positions marked as moved at `now`.
    fn touch(&mut self, user: &UserId, now: Instant) -> &mut UserEntry {
        let i = self.slot(user, now);
        self.entries[i].touched(now)
    }

    /// The user's newest positions as far as the notifier holds them.
    fn positions(&self, user: &UserId) -> Positions {
        self.slots.get(user).map(|&i| self.entries[i].positions).unwrap_or_default()
    }

    /// The newest positions that may hold news for `user`: theirs, or any swept out of memory.
    fn unvouched(&self, user: &UserId) -> Positions {
        self.positions(user).max(self.forgotten)
    }

    /// A waiter for the user's next news (dropping waiters whose sync gave up).
    fn park(&mut self, user: &UserId) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let i = self.slot(user, Instant::now());
        let e = &mut self.entries[i];
        e.waiters.retain(|t| !t.is_closed());
        e.waiters.push(tx);
        rx
    }

    /// Forgets positions that have not moved for `retain` (raising `forgotten` past them) and
    /// waiters whose sync gave up; a user with neither is dropped, and the rest are packed into
    /// new slots.
    fn sweep(&mut self, retain: Duration) {
        let now = Instant::now();
        let mut entries = Vec::with_capacity(self.slots.len());
        let old = &mut self.entries;
        let forgotten = &mut self.forgotten;
        self.slots.retain(|_, slot| {
            let e = &mut old[*slot];
            if e.known && now.duration_since(e.moved) >= retain {
                *forgotten = forgotten.max(e.positions);
                e.positions = Positions::default();
                e.known = false;
            }
            e.waiters.retain(|t| !t.is_closed());
            if !e.known && e.waiters.is_empty() {
                return false;
            }
            entries.push(std::mem::replace(e, UserEntry::new(now)));
            *slot = entries.len() - 1;
            true
        });
        self.entries = entries;
        self.slots.shrink_to_fit();
        self.rooms = HashMap::new();
    }
}

impl Handler<EventsCommitted> for Notifier {
    type Result = ();
    fn handle(&mut self, msg: EventsCommitted, _: &mut Context<Self>) {
        let now = Instant::now();
        let cached = self.rooms.get(&msg.room_id).is_some_and(|(list, _)| Arc::ptr_eq(list, &msg.users));
        if !cached {
            let slots = msg.users.iter().map(|u| self.slot(u, now)).collect();
            self.rooms.insert(msg.room_id.clone(), (msg.users.clone(), slots));
        }
        let (_, slots) = &self.rooms[&msg.room_id];
        for &i in slots {
            let e = self.entries[i].touched(now);
            e.positions.events = e.positions.events.max(msg.position);
            e.wake();
        }
    }
}

impl Handler<AccountDataChanged> for Notifier {
    type Result = ();
    fn handle(&mut self, msg: AccountDataChanged, _: &mut Context<Self>) {
        let e = self.touch(&msg.user, Instant::now());
        e.positions.account_data = e.positions.account_data.max(msg.stream_id);
        e.wake();
    }
}

impl Handler<Wait> for Notifier {
    type Result = MessageResult<Wait>;
    fn handle(&mut self, msg: Wait, _: &mut Context<Self>) -> Self::Result {
        if self.positions(&msg.user).any_after(&msg.seen) {
            let (tx, rx) = oneshot::channel();
            let _ = tx.send(());
            return MessageResult(rx);
        }
        MessageResult(self.park(&msg.user))
    }
}

/// Parks a long-poll without reading the store, when the notifier can vouch that nothing for
/// `user` was committed after `seen`: answers `None` when it cannot (news it holds, or news it
/// forgot, past `seen`), and the sync then reads the store as usual.
#[derive(Message)]
#[rtype(result = "Option<oneshot::Receiver<()>>")]
pub struct ParkIfQuiet {
    pub user: OwnedUserId,
    pub seen: Positions,
}

impl Handler<ParkIfQuiet> for Notifier {
    type Result = MessageResult<ParkIfQuiet>;
    fn handle(&mut self, msg: ParkIfQuiet, _: &mut Context<Self>) -> Self::Result {
        if self.unvouched(&msg.user).any_after(&msg.seen) {
            return MessageResult(None);
        }
        MessageResult(Some(self.park(&msg.user)))
    }
}

/// Whether the notifier can vouch that nothing but events came for `user` after `seen`: no
/// account data, to-device message, device list change, receipt, typing or presence it holds
/// for the user, nor any it forgot.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct OnlyEventsAfter {
    pub user: OwnedUserId,
    pub seen: Positions,
}

impl Handler<OnlyEventsAfter> for Notifier {
    type Result = bool;
    fn handle(&mut self, msg: OnlyEventsAfter, _: &mut Context<Self>) -> bool {
        let newest = Positions { events: msg.seen.events, ..self.unvouched(&msg.user) };
        !newest.any_after(&msg.seen)
    }
}

/// Wakes the syncs of everyone who shares a room with `user` (and the user's own) after the
/// user's device list changed. A hint only: a sync that misses it still sees the change the next
/// time it runs, since the change is in the store.
pub async fn device_list_changed(svc: &crate::Services, user: &str) {
    let u = user.to_owned();
    let found =
        svc.db.run(move |c| Ok((crate::store::memberships::room_mates(c, &u)?, crate::store::e2e_keys::device_list_position(c)?))).await;
    match found {
        Ok((users, position)) => svc.notifier.do_send(Advanced { stream: Stream::DeviceLists, users, position }),
        Err(e) => log::warn!("waking syncs after a device change of {user} failed: {}", e.message()),
    }
}

/// The newest positions the notifier knows for `user`: a long-poll that was woken but finds
/// nothing newer in the store waits past these instead of being woken again at once.
#[derive(Message)]
#[rtype(result = "Positions")]
pub struct Latest {
    pub user: OwnedUserId,
}

impl Handler<Latest> for Notifier {
    type Result = MessageResult<Latest>;
    fn handle(&mut self, msg: Latest, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.positions(&msg.user))
    }
}

impl Positions {
    /// Each position the higher of the two.
    pub fn max(self, o: Positions) -> Positions {
        Positions {
            events: self.events.max(o.events),
            account_data: self.account_data.max(o.account_data),
            to_device: self.to_device.max(o.to_device),
            device_lists: self.device_lists.max(o.device_lists),
            receipts: self.receipts.max(o.receipts),
            typing: self.typing.max(o.typing),
            presence: self.presence.max(o.presence),
        }
    }

    /// Whether any position is past `o`'s.
    pub fn any_after(&self, o: &Positions) -> bool {
        self.events > o.events
            || self.account_data > o.account_data
            || self.to_device > o.to_device
            || self.device_lists > o.device_lists
            || self.receipts > o.receipts
            || self.typing > o.typing
            || self.presence > o.presence
    }
}
