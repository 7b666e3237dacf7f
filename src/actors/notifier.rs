//! Wakes long-polling `/sync` requests when something they care about is committed.

use actix::prelude::*;
use ruma::{OwnedUserId, UserId};
use std::collections::HashMap;
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
        for u in msg.users {
            let e = self.touch(&u, now);
            let field = match msg.stream {
                Stream::ToDevice => &mut e.to_device,
                Stream::DeviceLists => &mut e.device_lists,
                Stream::Receipts => &mut e.receipts,
                Stream::Typing => &mut e.typing,
                Stream::Presence => &mut e.presence,
            };
            *field = (*field).max(msg.position);
            self.wake(&u);
        }
    }
}

#[derive(Default)]
pub struct Notifier {
    /// Each user's newest positions, with when they last moved.
    latest: HashMap<OwnedUserId, (Positions, Instant)>,
    waiters: HashMap<OwnedUserId, Vec<oneshot::Sender<()>>>,
    /// Per stream, a position at or past all news the notifier does not hold per user: what was
    /// committed before it started, and the positions of users swept out of `latest`. A token
    /// at or past these and past a user's own positions has nothing new for that user.
    forgotten: Positions,
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
        MessageResult((self.latest.len(), self.waiters.len()))
    }
}

/// How many long-polls are waiting (their sync has not given up), for the metrics.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Waiting;

impl Handler<Waiting> for Notifier {
    type Result = usize;
    fn handle(&mut self, _: Waiting, _: &mut Context<Self>) -> usize {
        self.waiters.values().map(|list| list.iter().filter(|tx| !tx.is_closed()).count()).sum()
    }
}

/// Events up to `position` were committed; `users` are the ones who can see them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EventsCommitted {
    pub position: i64,
    pub users: Vec<OwnedUserId>,
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
    /// The user's positions, marked as moved at `now`. A commit in a large room touches every
    /// member: the ID is only copied for a user not yet known.
    fn touch(&mut self, user: &UserId, now: Instant) -> &mut Positions {
        if !self.latest.contains_key(user) {
            self.latest.insert(user.to_owned(), (Positions::default(), now));
        }
        let e = self.latest.get_mut(user).expect("inserted above");
        e.1 = now;
        &mut e.0
    }

    /// The user's newest positions as far as the notifier holds them.
    fn positions(&self, user: &UserId) -> Positions {
        self.latest.get(user).map(|(p, _)| *p).unwrap_or_default()
    }

    /// A waiter for the user's next news (dropping waiters whose sync gave up).
    fn park(&mut self, user: OwnedUserId) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let list = self.waiters.entry(user).or_default();
        list.retain(|t| !t.is_closed());
        list.push(tx);
        rx
    }

    fn sweep(&mut self, retain: Duration) {
        let now = Instant::now();
        let forgotten = &mut self.forgotten;
        self.latest.retain(|_, (positions, at)| {
            let keep = now.duration_since(*at) < retain;
            if !keep {
                *forgotten = forgotten.max(*positions);
            }
            keep
        });
        self.waiters.retain(|_, list| {
            list.retain(|t| !t.is_closed());
            !list.is_empty()
        });
        self.latest.shrink_to_fit();
        self.waiters.shrink_to_fit();
    }

    fn wake(&mut self, user: &UserId) {
        if let Some(list) = self.waiters.remove(user) {
            for tx in list {
                let _ = tx.send(());
            }
        }
    }
}

impl Handler<EventsCommitted> for Notifier {
    type Result = ();
    fn handle(&mut self, msg: EventsCommitted, _: &mut Context<Self>) {
        let now = Instant::now();
        for u in msg.users {
            let e = self.touch(&u, now);
            e.events = e.events.max(msg.position);
            self.wake(&u);
        }
    }
}

impl Handler<AccountDataChanged> for Notifier {
    type Result = ();
    fn handle(&mut self, msg: AccountDataChanged, _: &mut Context<Self>) {
        let e = self.touch(&msg.user, Instant::now());
        e.account_data = e.account_data.max(msg.stream_id);
        self.wake(&msg.user);
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
        MessageResult(self.park(msg.user))
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
        if self.positions(&msg.user).any_after(&msg.seen) || self.forgotten.any_after(&msg.seen) {
            return MessageResult(None);
        }
        MessageResult(Some(self.park(msg.user)))
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
