//! `PushEvaluator`: evaluates each local room member's push rules for every committed event,
//! off the room actors' path. Room actors only say "there is more" after a commit; the evaluator
//! reads the event stream back from the store from the position it last recorded, so nothing
//! committed is missed across a crash or a restart. Each page's notifications, unread counts and
//! the new position are written in one transaction; pushes for users with HTTP pushers then go
//! to the [`Pusher`](super::pusher::Pusher).
//!
//! Rules are evaluated against the room's state when the page is read (members, their display
//! names, power levels), and only for members whose membership event precedes the event.

use super::pusher::{Deliver, PushJob, Pusher};
use crate::error::Result;
use crate::events::Pdu;
use crate::events::push::{self, Decision, RoomFacts};
use crate::store::notifications::{self as store, CountsAdded, EventNotifications, MAIN_THREAD, Notified};
use crate::store::pushers::Pusher as StoredPusher;
use crate::store::recent::RecentEvents;
use crate::store::{self as db_store, Conn, Db};
use actix::prelude::*;
use ruma::{OwnedUserId, RoomId, UserId};
use serde_json::{Value, json};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Events read from the store per evaluation round: small enough that recording a round holds
/// the database's write lock only briefly between room commits.
const PAGE: i64 = 100;

/// The least time between the starts of two rounds while events keep coming (a round finding a
/// full page starts the next at once). Each round writes at least a page of every notified
/// member's notifications, whatever the number of events: rounds of a handful of events made
/// those writes cost more than the notifications themselves. The first event after a quiet
/// spell is evaluated at once.
const ROUND_GAP: Duration = Duration::from_millis(50);

/// Rooms and users whose views and rules are kept between rounds, at most.
const CACHED: usize = 10_000;

/// Distinct shared rules numbered, at most (every user's own room and sender rules count).
const MAX_SHARED_RULES: usize = 100_000;

/// Notifications are kept this long (as Synapse keeps them), then pruned.
const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// How often old notifications are looked for.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub struct PushEvaluator {
    db: Db,
    server_name: String,
    /// The writer's log of recent events, read before the store.
    recent: Arc<RecentEvents>,
    pusher: Addr<Pusher>,
    running: bool,
    more: bool,
    /// A round is set to start after the gap (the handle cancels it when a sync hurries it).
    scheduled: Option<SpawnHandle>,
    /// A sync waits for the counts: the next round starts without waiting out the gap.
    hurried: bool,
    last_start: Option<Instant>,
    /// Room views and rule sets kept between rounds (taken by the running round).
    cache: Option<Cache>,
    /// The stream position evaluated up to, for syncs that show counts with the events.
    progress: watch::Sender<i64>,
    /// The unread counts kept for syncs: what a round records is added to them.
    kept: Arc<KeptCounts>,
}

type KeptCounts = db_store::kept::Kept<String, Arc<store::UserCounts>>;

impl PushEvaluator {
    /// The evaluator and a receiver of the position it has evaluated up to.
    pub fn new(
        db: Db,
        server_name: String,
        recent: Arc<RecentEvents>,
        pusher: Addr<Pusher>,
        kept: Arc<KeptCounts>,
    ) -> (Self, watch::Receiver<i64>) {
        let (progress, rx) = watch::channel(0);
        let me = Self {
            db,
            server_name,
            recent,
            pusher,
            running: false,
            more: false,
            scheduled: None,
            hurried: false,
            last_start: None,
            cache: Some(Cache::default()),
            progress,
            kept,
        };
        (me, rx)
    }

    fn start_round(&mut self, ctx: &mut Context<Self>) {
        self.running = true;
        self.more = false;
        // A round a sync waits for runs beside the requests; any other behind them.
        let hurried = std::mem::take(&mut self.hurried);
        if let Some(h) = self.scheduled.take() {
            ctx.cancel_future(h);
        }
        self.last_start = Some(Instant::now());
        let (db, server, recent) = (self.db.clone(), self.server_name.clone(), self.recent.clone());
        let mut cache = self.cache.take().unwrap_or_default();
        let writing = self.kept.begin_write();
        let round = async move {
            let work = move |c: &mut Conn| {
                let res = evaluate_page(c, &server, &recent, &mut cache);
                Ok((res, cache))
            };
            if hurried { db.run(work).await } else { db.run_background(work).await }
        };
        ctx.spawn(round.into_actor(self).map(|res, act, ctx| {
            act.running = false;
            let res = match res {
                Ok((res, cache)) => {
                    act.cache = Some(cache);
                    res
                }
                Err(e) => Err(e),
            };
            match res {
                Ok((jobs, upto, full, added)) => {
                    // Before the position moves: a sync that waited for it reads the counts kept.
                    writing.finish(|kept| store::add_recorded(kept, &added));
                    act.progress.send_if_modified(|p| {
                        let moved = upto > *p;
                        *p = (*p).max(upto);
                        moved
                    });
                    if !jobs.is_empty() {
                        act.pusher.do_send(Deliver(jobs));
                    }
                    if full {
                        act.start_round(ctx);
                    } else if act.more {
                        ctx.notify(MoreEvents);
                    }
                }
                Err(e) => {
                    // Nothing was recorded: the same page is read again on the next commit.
                    log::error!("push evaluation failed: {e}");
                    act.more = false;
                }
            }
        }));
    }
}

impl Actor for PushEvaluator {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        // Catch up with whatever was committed before a crash or a restart.
        ctx.notify(MoreEvents);
    }
}

/// Events were committed: evaluate what the store holds past the recorded position.
#[derive(Message)]
#[rtype(result = "()")]
pub struct MoreEvents;

impl Handler<MoreEvents> for PushEvaluator {
    type Result = ();
    fn handle(&mut self, _: MoreEvents, ctx: &mut Context<Self>) {
        if self.running {
            self.more = true;
            return;
        }
        if self.scheduled.is_some() {
            return;
        }
        let since = self.last_start.map_or(ROUND_GAP, |t| t.elapsed());
        if since < ROUND_GAP && !self.hurried {
            self.scheduled = Some(ctx.run_later(ROUND_GAP - since, |act, ctx| {
                act.scheduled = None;
                if !act.running {
                    act.start_round(ctx);
                }
            }));
            return;
        }
        self.start_round(ctx);
    }
}

/// A sync is about to show events up to `upto` and waits for their counts: evaluate them now
/// rather than after the gap. The gap only saves work while nobody is waiting for the result.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Hurry {
    pub upto: i64,
}

impl Handler<Hurry> for PushEvaluator {
    type Result = ();
    fn handle(&mut self, msg: Hurry, ctx: &mut Context<Self>) {
        if *self.progress.borrow() >= msg.upto {
            return;
        }
        if self.running {
            // The running round may have read its page before `upto` committed.
            self.more = true;
            self.hurried = true;
            return;
        }
        // Idle or waiting out the gap; also covers a commit whose MoreEvents is still on its way.
        self.start_round(ctx);
    }
}

/// Stop (the server is stopping).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

impl Handler<Stop> for PushEvaluator {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// A local member whose rules an event may be evaluated against.
struct Member {
    id: OwnedUserId,
    /// The ID again, shared by every notification the member gets.
    key: Arc<str>,
    display_name: String,
    /// The position of the membership event that made them a member.
    since: i64,
    local: bool,
    /// Their number in the room's notification roster (local members only).
    number: u32,
    /// Their rule set's slot in [`Rules`], and the epoch it is good for.
    rules_slot: Cell<Option<(u64, usize)>>,
    /// Their HTTP pushers (`None`: none) and the round that read them: read once per round, as
    /// a look-up by user ID per member and event cost a tenth of a large room's evaluation.
    pushers: RefCell<Option<(u64, HttpPushers)>>,
}

/// A user's HTTP pushers; `None` when they have none.
type HttpPushers = Option<Arc<[StoredPusher]>>;

impl Member {
    fn http_pushers(&self, c: &mut Conn, round: u64) -> Result<HttpPushers> {
        if let Some((read_in, list)) = &*self.pushers.borrow()
            && *read_in == round
        {
            return Ok(list.clone());
        }
        let list = db_store::pushers::http_of(c, &[&self.key])?.remove(&*self.key).map(Arc::from);
        *self.pushers.borrow_mut() = Some((round, list.clone()));
        Ok(list)
    }
}

/// A room's state as the rules of its members read it.
struct RoomView {
    room_id: ruma::OwnedRoomId,
    /// The room's ID, shared by every notification in the room.
    key: Arc<str>,
    joined: Vec<Member>,
    facts: RoomFacts,
    name: Option<String>,
    /// The head of the event stream before the state was read: the view holds every state
    /// event up to it.
    read_at: i64,
    /// The round that last read the local members' pushers, all at once.
    pushers_read_in: Cell<u64>,
}

impl RoomView {
    /// Reads every local member's HTTP pushers for this round, if not read yet: a query per
    /// 500 members instead of one per member.
    fn read_pushers(&self, c: &mut Conn, round: u64) -> Result<()> {
        if self.pushers_read_in.get() == round {
            return Ok(());
        }
        let locals: Vec<&str> = self.joined.iter().filter(|m| m.local).map(|m| &*m.key).collect();
        let mut found = db_store::pushers::http_of(c, &locals)?;
        for m in self.joined.iter().filter(|m| m.local) {
            let list = found.remove(&*m.key).map(Arc::from);
            *m.pushers.borrow_mut() = Some((round, list));
        }
        self.pushers_read_in.set(round);
        Ok(())
    }
}

fn room_view(c: &mut Conn, room: &RoomId, server: &str, read_at: i64) -> Result<RoomView> {
    let state = db_store::events::current_state(c, room.as_str())?;
    let version = db_store::rooms::room_row(c, room.as_str())?.map(|r| r.room_version).unwrap_or_default();
    let rules = crate::events::rules_for(&version);
    let mut joined = Vec::new();
    let (mut power, mut creators, mut name, mut alias) = (None, Vec::new(), None, None);
    for p in &state {
        match (p.kind.as_str(), p.state_key.as_deref()) {
            ("m.room.member", Some(user)) if p.membership() == Some("join") => {
                let Ok(id) = UserId::parse(user) else { continue };
                let display_name = p.content.get("displayname").and_then(Value::as_str).unwrap_or(user).to_owned();
                let local = id.server_name().as_str() == server;
                joined.push(Member {
                    key: Arc::from(user),
                    id,
                    display_name,
                    since: p.stream_ordering,
                    local,
                    number: 0,
                    rules_slot: Cell::default(),
                    pushers: RefCell::default(),
                });
            }
            ("m.room.power_levels", Some("")) => power = Some(p.content.clone()),
            ("m.room.create", Some("")) => {
                creators.extend(UserId::parse(&p.sender).ok());
                if let Some(extra) = p.content.get("additional_creators").and_then(Value::as_array) {
                    creators.extend(extra.iter().filter_map(Value::as_str).filter_map(|u| UserId::parse(u).ok()));
                }
            }
            ("m.room.name", Some("")) => name = p.content.get("name").and_then(Value::as_str).map(str::to_owned),
            ("m.room.canonical_alias", Some("")) => alias = p.content.get("alias").and_then(Value::as_str).map(str::to_owned),
            _ => {}
        }
    }
    let locals: Vec<&str> = joined.iter().filter(|m| m.local).map(|m| &*m.key).collect();
    let numbers = store::numbers(c, room.as_str(), &locals)?;
    for (m, n) in joined.iter_mut().filter(|m| m.local).zip(numbers) {
        m.number = n;
    }
    let power_levels = Some(push::power_levels_ctx(power.as_ref(), creators, &rules.authorization));
    let facts = RoomFacts { member_count: joined.len() as u64, power_levels };
    let key = Arc::from(room.as_str());
    Ok(RoomView {
        room_id: room.to_owned(),
        key,
        joined,
        facts,
        name: name.filter(|n| !n.is_empty()).or(alias),
        read_at,
        pushers_read_in: Cell::new(0),
    })
}

/// What rounds keep: rooms' views and users' rule sets, each dropped when what it was read from
/// may have changed.
#[derive(Default)]
struct Cache {
    rooms: Rooms,
    rules: Rules,
    /// When old notifications were last pruned (`None`: not yet since start).
    pruned: Option<Instant>,
    /// Counts the rounds, for what is read once per round.
    round: u64,
}

/// Rooms' views. A view is dropped when a state event or a redaction (which may change a state
/// event's content) of its room comes past the position it was read at.
#[derive(Default)]
struct Rooms(HashMap<String, Option<RoomView>>);

impl Rooms {
    fn get(&mut self, c: &mut Conn, room_id: &str, server: &str, head: i64) -> Result<Option<&RoomView>> {
        if !self.0.contains_key(room_id) {
            if self.0.len() >= CACHED {
                self.0.clear();
            }
            let view = match RoomId::parse(room_id) {
                Ok(r) => Some(room_view(c, &r, server, head)?),
                Err(_) => None,
            };
            self.0.insert(room_id.to_owned(), view);
        }
        Ok(self.0.get(room_id).and_then(Option::as_ref))
    }

    /// `ev` is about to be evaluated: a view it may have changed is read again.
    fn saw(&mut self, ev: &Pdu) {
        if ev.state_key.is_none() && ev.kind != "m.room.redaction" {
            return;
        }
        if let Some(Some(view)) = self.0.get(ev.room_id.as_str())
            && view.read_at < ev.stream_ordering
        {
            self.0.remove(ev.room_id.as_str());
        }
    }
}

/// Users' rule sets, with the account data position of the rules they were read from (0: none
/// stored). Checked again whenever the account data stream has moved.
///
/// Sets live in numbered slots, and a room view's member keeps the number of theirs: a large
/// room's event is decided for every member, and looking each member's set up by user ID (a
/// hash of the ID and a probe that misses the cache) cost a quarter of that work.
#[derive(Default)]
struct Rules {
    slots: Vec<Option<(i64, push::UserRules)>>,
    by_user: HashMap<String, usize>,
    /// Moves whenever a slot number stops naming the set it named: members' kept numbers from
    /// an earlier epoch are looked up again.
    epoch: u64,
    checked_at: i64,
    /// Numbers the rules the sets share; dropped with them.
    interner: push::RuleInterner,
    /// What the server's default sets have in common, numbered by `interner`; dropped with it.
    template: Option<Arc<push::Template>>,
}

impl Rules {
    /// Drops the rule sets whose stored rules changed since they were read.
    fn refresh(&mut self, c: &mut Conn) -> Result<()> {
        let head = db_store::streams::current(c, db_store::streams::Stream::AccountData)?;
        if head == self.checked_at {
            return Ok(());
        }
        let mut stale = Vec::new();
        for (user, &slot) in &self.by_user {
            if let Some((at, _)) = &self.slots[slot]
                && rules_position(c, user)? != *at
            {
                stale.push(user.clone());
            }
        }
        if !stale.is_empty() {
            for user in stale {
                if let Some(slot) = self.by_user.remove(&user) {
                    self.slots[slot] = None;
                }
            }
            self.epoch += 1;
        }
        self.checked_at = head;
        Ok(())
    }

    /// The member's rule set, through the slot number they keep while it is of this epoch.
    fn of(&mut self, c: &mut Conn, m: &Member) -> Result<&push::UserRules> {
        let slot = match m.rules_slot.get() {
            Some((epoch, slot)) if epoch == self.epoch => slot,
            _ => {
                let slot = self.slot(c, &m.id)?;
                m.rules_slot.set(Some((self.epoch, slot)));
                slot
            }
        };
        match &self.slots[slot] {
            Some((_, rules)) => Ok(rules),
            None => Err(crate::error::Error::internal("a push rule slot of this epoch is empty")),
        }
    }

    /// The number of the user's slot, their rules read into it when they have none.
    fn slot(&mut self, c: &mut Conn, user: &UserId) -> Result<usize> {
        if let Some(&slot) = self.by_user.get(user.as_str()) {
            return Ok(slot);
        }
        let at = rules_position(c, user.as_str())?;
        let stored = db_store::account_data::get(c, user.as_str(), db_store::account_data::GLOBAL, push::ACCOUNT_DATA_TYPE)?;
        let stored: Option<Value> = stored.and_then(|t| serde_json::from_str(&t).ok());
        let mut rules = self.numbered(user, stored.as_ref());
        if let Some(template) = self.template() {
            rules.fit(&template);
        }
        self.slots.push(Some((at, rules)));
        let slot = self.slots.len() - 1;
        self.by_user.insert(user.to_string(), slot);
        Ok(slot)
    }

    /// Drops every set once the caps are reached, before an event is decided for `members`
    /// members. Called between events only: an event being decided holds outcomes by the
    /// interner's numbers, which a new interner would reuse. The caps grow with the room: were
    /// a room's members more than the sets kept, each of its events would drop them all and
    /// read every member's rules from the store again.
    fn trim(&mut self, members: usize) {
        // Rules and conditions a member's own default set adds to the interner, with room to spare.
        const NUMBERS_PER_MEMBER: usize = 8;
        let sets = CACHED.max(2 * members);
        let numbers = MAX_SHARED_RULES.max(2 * NUMBERS_PER_MEMBER * members);
        if self.slots.len() >= sets || self.interner.len() >= numbers {
            self.slots.clear();
            self.by_user.clear();
            self.interner = push::RuleInterner::default();
            self.template = None;
            self.epoch += 1;
        }
    }

    fn numbered(&mut self, user: &UserId, stored: Option<&Value>) -> push::UserRules {
        push::UserRules::shared(push::ruleset(&push::rules_from_stored(user, stored)), &mut self.interner)
    }

    /// The template of the server's default sets, read off two users' defaults that no member
    /// has (a member who had one of these IDs would still be decided right: their set is the
    /// template's plus their own rules).
    fn template(&mut self) -> Option<Arc<push::Template>> {
        if self.template.is_none() {
            let (Ok(a), Ok(b)) = (UserId::parse("@ensemble.template.a:invalid"), UserId::parse("@ensemble.template.b:invalid")) else {
                return None;
            };
            let (a, b) = (self.numbered(&a, None), self.numbered(&b, None));
            self.template = push::Template::new(&a, &b).map(Arc::new);
        }
        self.template.clone()
    }
}

/// The account data position of the user's stored push rules (0: none stored).
fn rules_position(c: &mut Conn, user: &str) -> Result<i64> {
    Ok(db_store::account_data::position(c, user, db_store::account_data::GLOBAL, push::ACCOUNT_DATA_TYPE)?.unwrap_or(0))
}

/// The target of an invite, who may be notified of it without being a member: numbered in the
/// room's roster when local.
fn invitee(c: &mut Conn, ev: &Pdu, server: &str) -> Result<Option<Member>> {
    if ev.membership() != Some("invite") {
        return Ok(None);
    }
    let Some(target) = ev.state_key.as_deref() else { return Ok(None) };
    let Ok(id) = UserId::parse(target) else { return Ok(None) };
    if id.server_name().as_str() != server || id == ev.sender {
        return Ok(None);
    }
    let display_name = ev.content.get("displayname").and_then(Value::as_str).unwrap_or(target).to_owned();
    let number = store::numbers(c, ev.room_id.as_str(), &[target])?[0];
    Ok(Some(Member {
        key: Arc::from(target),
        id,
        display_name,
        since: ev.stream_ordering,
        local: false,
        number,
        rules_slot: Cell::default(),
        pushers: RefCell::default(),
    }))
}

/// The local users an event may notify, and whether the notification counts as unread in the
/// room: joined members who joined before it, and the target of an invite (not counted).
/// Never the sender.
fn candidates<'a>(view: &'a RoomView, invited: Option<&'a Member>, ev: &Pdu) -> Vec<(&'a Member, bool)> {
    let mut out: Vec<(&Member, bool)> =
        view.joined.iter().filter(|m| m.local && m.since < ev.stream_ordering && m.id != ev.sender).map(|m| (m, true)).collect();
    if let Some(m) = invited {
        out.push((m, false));
    }
    out
}

/// The thread an event belongs to, as threaded receipts name it.
pub fn thread_key(ev: &Pdu) -> String {
    let rel = ev.content.get("m.relates_to");
    match (rel.and_then(|r| r.get("rel_type")).and_then(Value::as_str), rel.and_then(|r| r.get("event_id")).and_then(Value::as_str)) {
        (Some("m.thread"), Some(root)) => root.to_owned(),
        _ => MAIN_THREAD.to_owned(),
    }
}

/// A push waiting for the user's unread count.
struct PendingPush {
    user: String,
    pusher: StoredPusher,
    notification: Value,
    tweaks: serde_json::Map<String, Value>,
}

/// One round: evaluates a page of events, records the notifications, answers the pushes to
/// send, the position evaluated up to, whether the page was full (more may follow) and the
/// unread counts it added.
fn evaluate_page(
    c: &mut Conn,
    server: &str,
    recent: &RecentEvents,
    cache: &mut Cache,
) -> Result<(Vec<PushJob>, i64, bool, Vec<CountsAdded>)> {
    let Some(after) = store::progress(c)? else {
        // First run on this store: history before it is not evaluated.
        let head = db_store::events::max_stream(c)?;
        let added = store::record(c, &[], head)?;
        return Ok((vec![], head, false, added));
    };
    // Every event at or below the head is committed (the head moves in the transaction that
    // stores the event), so a page short of full covers everything up to the head, purged
    // positions included.
    let head = db_store::events::max_stream(c)?;
    // The writer's log of recent events holds them unless the evaluator is far behind, or a
    // redaction or a purge emptied it: then they are read back from the store.
    let (events, last, full) = match recent.page(after, head, PAGE as usize) {
        Some(page) => page,
        None => db_store::events::page_after(c, after, head, PAGE)?,
    };
    let last = if full { last.unwrap_or(head) } else { head };
    if events.is_empty() && !full {
        let added = if head > after { store::record(c, &[], head)? } else { Vec::new() };
        return Ok((vec![], head.max(after), false, added));
    }
    cache.rules.refresh(c)?;
    if cache.pruned.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
        let cutoff = crate::ids::now_ms() - RETENTION.as_millis() as i64;
        // One chunk per round, so pruning never holds the write lock for long; what is left is
        // looked for again next round.
        if !store::prune(c, cutoff)? {
            cache.pruned = Some(Instant::now());
        }
    }
    cache.round += 1;
    let Cache { rooms, rules, round, .. } = cache;
    let mut found = Vec::new();
    let mut pending = Vec::new();
    for ev in &events {
        rooms.saw(ev);
        let invited = invitee(c, ev, server)?;
        let Some(view) = rooms.get(c, ev.room_id.as_str(), server, head)? else { continue };
        let members = candidates(view, invited.as_ref(), ev);
        if members.is_empty() {
            continue;
        }
        view.read_pushers(c, *round)?;
        rules.trim(members.len());
        // The event is flattened and the room's context built once, for all its members.
        let client = ev.to_client(None);
        let Some(mut prepared) = push::PreparedEvent::new(&client, &ev.sender, &view.room_id, &view.facts) else { continue };
        let mut notified = Vec::new();
        for (m, counted) in members {
            let Some(decided) = prepared.decide(rules.of(c, m)?, &m.id, &m.display_name) else { continue };
            let (d, actions): &(Decision, Arc<str>) = &decided;
            if !d.notify {
                continue;
            }
            notified.push(Notified { user_id: m.key.clone(), number: m.number, actions: actions.clone(), highlight: d.highlight, counted });
            let Some(http) = m.http_pushers(c, *round)? else { continue };
            let sender_name = view.joined.iter().find(|s| s.id == ev.sender).map(|s| s.display_name.as_str());
            for p in http.iter() {
                let notification = notification_body(ev, m.id.as_str(), d, view.name.as_deref(), sender_name, p);
                pending.push(PendingPush { user: m.id.to_string(), pusher: p.clone(), notification, tweaks: d.tweaks.clone() });
            }
        }
        if !notified.is_empty() {
            found.push(EventNotifications {
                room_id: view.key.clone(),
                stream_ordering: ev.stream_ordering,
                ts: ev.origin_server_ts,
                thread_key: thread_key(ev).into(),
                notified,
            });
        }
    }
    let added = store::record(c, &found, last)?;
    let mut unread: HashMap<String, i64> = HashMap::new();
    let mut jobs = Vec::with_capacity(pending.len());
    for p in pending {
        if !unread.contains_key(&p.user) {
            let n = store::total_unread(c, &p.user)?;
            unread.insert(p.user.clone(), n);
        }
        let mut notification = p.notification;
        notification["counts"] = json!({"unread": unread[&p.user]});
        jobs.push(PushJob::new(&p.user, &p.pusher, notification, &p.tweaks));
    }
    Ok((jobs, last, full, added))
}

/// The push gateway's `notification` for one event (without `counts` and `devices`).
fn notification_body(ev: &Pdu, user: &str, d: &Decision, room_name: Option<&str>, sender_name: Option<&str>, p: &StoredPusher) -> Value {
    let prio = if d.highlight || d.tweaks.contains_key("sound") { "high" } else { "low" };
    let event_id_only = serde_json::from_str::<Value>(&p.data).ok().and_then(|d| d.get("format").cloned()) == Some(json!("event_id_only"));
    if event_id_only {
        return json!({"event_id": ev.event_id, "room_id": ev.room_id, "prio": prio});
    }
    let mut n = json!({
        "id": ev.event_id,
        "event_id": ev.event_id,
        "room_id": ev.room_id,
        "type": ev.kind,
        "sender": ev.sender,
        "content": ev.content,
        "prio": prio,
    });
    if let Some(name) = sender_name {
        n["sender_display_name"] = json!(name);
    }
    if let Some(name) = room_name {
        n["room_name"] = json!(name);
    }
    if let Some(m) = ev.membership() {
        n["membership"] = json!(m);
        n["user_is_target"] = json!(ev.state_key.as_deref() == Some(user));
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_caches_grow_with_the_room_being_decided() {
        let mut rules = Rules::default();
        rules.slots.resize_with(CACHED, || None);
        // A room as large as the cap: its members' sets stay for its next event.
        rules.trim(CACHED);
        assert_eq!(rules.slots.len(), CACHED);
        let epoch = rules.epoch;
        // A small room's event finds the caches over the cap: dropped, slot numbers retired.
        rules.trim(10);
        assert!(rules.slots.is_empty());
        assert_eq!(rules.epoch, epoch + 1);
    }
}
