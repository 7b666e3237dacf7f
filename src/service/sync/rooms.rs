//! The `rooms` part of a sync: joined rooms (timeline, state, account data, ephemeral),
//! invites (stripped state) and rooms left (up to the leave, as far as history visibility lets).

use super::filter::SyncFilter;
use super::lazy_members::SentMembers;
use super::{events, object};
use crate::actors::notifier::Positions;
use crate::error::Result;
use crate::events::Pdu;
use crate::events::visibility::StateAccess;
use crate::service::account_data::hidden_by_ignore;
use crate::store::memberships::MembershipRow;
use crate::store::{Conn, events as ev, memberships, receipts, visibility as vis};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

/// State event types an invite shows of the room (plus the invite and the inviter's member event).
const STRIPPED_STATE: &[&str] =
    &["m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar", "m.room.canonical_alias", "m.room.encryption", "m.room.topic"];

/// What the room sections are built from.
pub struct RoomsInput<'a> {
    pub user: &'a str,
    pub device: Option<&'a str>,
    pub since: Option<Positions>,
    pub full_state: bool,
    pub f: &'a SyncFilter,
    pub now: &'a Positions,
    /// Room account data changed since the token, by room.
    pub room_ad: HashMap<String, Vec<Value>>,
    /// `m.receipt` events changed since the token, by room.
    pub receipts: HashMap<String, Value>,
    /// Who is typing, for rooms where that changed since the token.
    pub typing: HashMap<String, Vec<ruma::OwnedUserId>>,
    pub sent_members: &'a SentMembers,
    /// Users the syncing user ignores.
    pub ignored: &'a HashSet<String>,
    /// The user's unread counts by room.
    pub counts: &'a crate::service::notifications::UserCounts,
    /// The user's memberships ([`memberships::user_memberships`]).
    pub memberships: &'a [MembershipRow],
}

#[derive(Default)]
pub struct RoomSections {
    pub join: Map<String, Value>,
    pub invite: Map<String, Value>,
    pub leave: Map<String, Value>,
    /// Users who became the syncing user's room-mates since the token (a room newly joined, or
    /// a join in a room already joined): their presence goes out even if it did not change.
    pub new_mates: HashSet<String>,
}

fn client_events(list: &[Pdu], txns: &HashMap<String, String>) -> Vec<Value> {
    list.iter().map(|p| p.to_client(txns.get(p.event_id.as_str()).map(String::as_str))).collect()
}

/// The events as the filter's `event_format` asks: the client form, or the stored PDU (prev and
/// auth events, depth, hashes, signatures) with the client form's content and `unsigned`, so
/// what erasure or redaction hides stays hidden.
fn formatted(c: &mut Conn, f: &SyncFilter, list: &[Pdu], txns: &HashMap<String, String>) -> Result<Vec<Value>> {
    let mut out = client_events(list, txns);
    if f.federation_format && !list.is_empty() {
        let ids: Vec<&str> = list.iter().map(|p| p.event_id.as_str()).collect();
        let stored = ev::stored_pdus(c, &ids)?;
        for (e, p) in out.iter_mut().zip(list) {
            if let Some(mut pdu) = stored.get(p.event_id.as_str()).cloned() {
                pdu["event_id"] = json!(p.event_id);
                pdu["room_id"] = json!(p.room_id);
                pdu["content"] = e["content"].take();
                pdu["unsigned"] = e["unsigned"].take();
                *e = pdu;
            }
        }
    }
    Ok(out)
}

/// Drops the oldest event of a timeline read one past the limit; says whether it was limited.
fn trim_to_limit(timeline: &mut Vec<Pdu>, limit: i64) -> bool {
    timeline.reverse();
    let limited = timeline.len() as i64 > limit;
    if limited {
        timeline.remove(0);
    }
    limited
}

impl RoomSections {
    pub fn is_empty(&self) -> bool {
        self.join.is_empty() && self.invite.is_empty() && self.leave.is_empty()
    }

    pub fn build(c: &mut Conn, mut input: RoomsInput<'_>) -> Result<Self> {
        let mut out = Self::default();
        let counts = input.counts;
        let since_ev = input.since.map(|s| s.events).unwrap_or(0);
        for m in input.memberships {
            if m.stream_ordering > input.now.events || !input.f.allows_room(&m.room_id) {
                continue;
            }
            let changed_since = input.since.is_none() || m.stream_ordering > since_ev;
            match m.membership.as_str() {
                "join" => {
                    if let Some(mut room) = joined(c, &mut input, m, &mut out.new_mates)? {
                        unread_counts(&mut room, counts.get(&m.room_id), input.f.unread_thread_notifications);
                        out.join.insert(m.room_id.clone(), room);
                    }
                }
                "invite" if changed_since || input.full_state => {
                    if let Some(room) = invited(c, m, input.ignored)? {
                        out.invite.insert(m.room_id.clone(), room);
                    }
                }
                "leave" | "ban" if (input.since.is_some() && changed_since) || (input.since.is_none() && input.f.include_leave) => {
                    let ad = input.room_ad.remove(&m.room_id).unwrap_or_default();
                    out.leave.insert(m.room_id.clone(), left(c, &input, m, ad)?);
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

/// A joined room's section, or `None` when an incremental sync has nothing new for it.
fn joined(c: &mut Conn, input: &mut RoomsInput<'_>, m: &MembershipRow, new_mates: &mut HashSet<String>) -> Result<Option<Value>> {
    let (f, since, now) = (input.f, input.since, input.now);
    let since_ev = since.map(|s| s.events).unwrap_or(0);
    // Joined since the token: the membership changed after it and was not a join before it (a
    // profile change while joined is not a new join).
    let joined_since = since.is_some() && m.stream_ordering > since_ev && !memberships::joined_at(c, &m.room_id, input.user, since_ev)?;
    let newly = since.is_none() || input.full_state || joined_since;
    // A room joined since the token reads like an initial sync: its latest events, not only
    // those after the token (which would be just the join).
    let from = if joined_since { 0 } else { since_ev };
    let types = f.timeline.exact_types();
    let mut timeline = ev::room_events(c, &m.room_id, from, now.events, f.timeline_limit + 1, true, types.as_deref())?;
    // Everything since the user's latest membership event (a join) is visible to them; only
    // older events need the room's history visibility.
    if timeline.last().is_some_and(|p| p.stream_ordering < m.stream_ordering) {
        let view = vis::history_view(c, &m.room_id, input.user)?;
        let raw = std::mem::replace(
            &mut timeline,
            vis::visible_events(c, &m.room_id, &view, from, now.events, f.timeline_limit + 1, true, types.as_deref())?,
        );
        keep_current_state(c, &m.room_id, raw, &mut timeline, f.timeline_limit + 1)?;
    }
    let mut limited = trim_to_limit(&mut timeline, f.timeline_limit);
    if newly && from == 0 && (types.is_none() || joined_since) {
        // Read from the room's start: events before the timeline (hidden by history visibility,
        // or of other types) exist unless it starts with the room's creation. A room joined
        // since the token is judged so whatever the types, as Synapse marks it limited; an
        // initial sync narrowed to some types is limited only by the count of those (Synapse's
        // judgement too, and SyTest holds both).
        limited |= timeline.first().is_none_or(|p| p.kind != "m.room.create");
    }
    timeline.retain(|p| f.timeline.allows(&p.kind) && !hidden_by_ignore(input.ignored, p));
    crate::store::users::hide_erased(c, timeline.iter_mut(), m.stream_ordering)?;
    let ad = input.room_ad.remove(&m.room_id).unwrap_or_default();
    let mut ephemeral: Vec<Value> = input.receipts.remove(&m.room_id).into_iter().collect();
    if let Some(users) = input.typing.remove(&m.room_id) {
        ephemeral.push(json!({"type": "m.typing", "content": {"user_ids": users}}));
    }
    if !newly && timeline.is_empty() && ad.is_empty() && ephemeral.is_empty() {
        return Ok(None);
    }
    let before = timeline.first().map(|p| p.stream_ordering - 1).unwrap_or(now.events);
    // An initial sync that holds the whole room points back from now, as Synapse does (and
    // SyTest expects): paging back from it reads the room again rather than nothing.
    let prev_batch = if since.is_none() && !limited { now.events } else { before };
    let state = room_state(c, input, m, &timeline, before, newly, limited)?;
    let mates_changed = newly || timeline.iter().chain(&state).any(|p| p.kind == "m.room.member");
    if since.is_some() {
        note_new_mates(c, input.user, m, joined_since, &timeline, new_mates)?;
    }
    let summary = if mates_changed { summary(c, &m.room_id, input.user)? } else { json!({}) };
    let txns = own_txns(c, input.user, input.device, &timeline)?;
    let (timeline, state) = (formatted(c, f, &timeline, &txns)?, formatted(c, f, &state, &HashMap::new())?);
    Ok(Some(joined_section(Timeline { events: timeline, limited, prev_batch }, state, ad, ephemeral, summary)))
}

/// A joined or left room's timeline section.
pub(super) struct Timeline {
    pub events: Vec<Value>,
    pub limited: bool,
    /// The position `prev_batch` names.
    pub prev_batch: i64,
}

impl Timeline {
    fn into_value(self) -> Value {
        object([
            ("events", Value::Array(self.events)),
            ("limited", Value::Bool(self.limited)),
            ("prev_batch", Value::String(format!("t{}", self.prev_batch))),
        ])
    }
}

/// A joined room's section, its unread counts still zero.
pub(super) fn joined_section(
    timeline: Timeline,
    state: Vec<Value>,
    account_data: Vec<Value>,
    ephemeral: Vec<Value>,
    summary: Value,
) -> Value {
    object([
        ("timeline", timeline.into_value()),
        ("state", events(state)),
        ("account_data", events(account_data)),
        ("ephemeral", events(ephemeral)),
        ("unread_notifications", json!({"highlight_count": 0, "notification_count": 0})),
        ("summary", summary),
    ])
}

/// The state section of a joined room: the state at the timeline's start for a full sync, the
/// changes in the gap for a limited incremental one, none otherwise; with lazy loading, member
/// events only for the timeline's senders (and the syncing user on a full sync), each sent to a
/// device once unless the filter asks for redundant ones.
fn room_state(
    c: &mut Conn,
    input: &RoomsInput<'_>,
    m: &MembershipRow,
    timeline: &[Pdu],
    before: i64,
    newly: bool,
    limited: bool,
) -> Result<Vec<Pdu>> {
    let f = input.f;
    let since_ev = input.since.map(|s| s.events).unwrap_or(0);
    let mut state = if newly {
        ev::state_at(c, &m.room_id, before)?
    } else if limited {
        ev::state_between(c, &m.room_id, since_ev, before)?
    } else {
        vec![]
    };
    let reader = Reader { user: input.user, device: input.device, f, sent_members: input.sent_members };
    lazy_members(c, &reader, &m.room_id, timeline, before, newly, &mut state)?;
    state.retain(|p| f.state.allows(&p.kind));
    Ok(state)
}

/// Whose sync a room section is for, as lazy loading needs to know.
pub(super) struct Reader<'a> {
    pub user: &'a str,
    pub device: Option<&'a str>,
    pub f: &'a SyncFilter,
    pub sent_members: &'a SentMembers,
}

/// With a lazy-loading filter: keeps only the member events of the timeline's senders in `state`
/// (and the user's own, `newly`), adds those of senders it lacks as of `before`, drops those the
/// device was already sent (unless the filter asks for redundant ones), and records what it sends.
pub(super) fn lazy_members(
    c: &mut Conn,
    r: &Reader<'_>,
    room_id: &str,
    timeline: &[Pdu],
    before: i64,
    newly: bool,
    state: &mut Vec<Pdu>,
) -> Result<()> {
    if !r.f.lazy_load_members {
        return Ok(());
    }
    let mut wanted: HashSet<&str> = timeline.iter().map(|p| p.sender.as_str()).collect();
    if newly {
        wanted.insert(r.user);
        state.retain(|p| p.kind != "m.room.member" || p.state_key.as_deref().is_some_and(|k| wanted.contains(k)));
    }
    // Senders whose member event is not already among the state (a gap's changes) are read.
    let have: HashSet<String> = state.iter().filter(|p| p.kind == "m.room.member").filter_map(|p| p.state_key.clone()).collect();
    let missing: Vec<&str> = wanted.iter().copied().filter(|u| !have.contains(*u)).collect();
    state.extend(ev::members_at(c, room_id, before, &missing)?);
    if let Some(device) = r.device {
        if !r.f.include_redundant_members && !newly {
            state.retain(|p| {
                p.kind != "m.room.member"
                    || !p.state_key.as_deref().is_some_and(|k| r.sent_members.was_sent(r.user, device, room_id, k, p.event_id.as_str()))
            });
        }
        let sent = state
            .iter()
            .chain(timeline)
            .filter(|p| p.kind == "m.room.member")
            .filter_map(|p| p.state_key.as_deref().map(|k| (k, p.event_id.as_str())));
        r.sent_members.record(r.user, device, room_id, newly, sent);
    }
    state.sort_by_key(|p| p.stream_ordering);
    Ok(())
}

/// The room's member counts, and up to five other members to name it by when it has neither a
/// name nor a canonical alias (sorted by user ID, as Synapse picks them).
pub(super) fn summary(c: &mut Conn, room_id: &str, user: &str) -> Result<Value> {
    let members = memberships::room_members(c, room_id)?;
    let count = |m: &str| members.iter().filter(|r| r.membership == m).count();
    let mut out = json!({"m.joined_member_count": count("join"), "m.invited_member_count": count("invite")});
    let named = ev::state_event(c, room_id, "m.room.name", "")?.is_some_and(|p| p.content.get("name").is_some_and(|n| n != ""))
        || ev::state_event(c, room_id, "m.room.canonical_alias", "")?
            .is_some_and(|p| p.content.get("alias").is_some_and(|a| a.is_string()));
    if !named {
        let mut heroes: Vec<&str> = members
            .iter()
            .filter(|r| r.user_id != user && matches!(r.membership.as_str(), "join" | "invite"))
            .map(|r| r.user_id.as_str())
            .collect();
        if heroes.is_empty() {
            heroes = members.iter().filter(|r| r.user_id != user).map(|r| r.user_id.as_str()).collect();
        }
        heroes.sort_unstable();
        heroes.truncate(5);
        out["m.heroes"] = json!(heroes);
    }
    Ok(out)
}

/// Events of the room's current state stay in a timeline even when history visibility hides
/// the moment they were sent (as Synapse does): clients build their picture of the room from
/// the timeline, and would otherwise miss, say, a member who joined while the user was away.
/// `raw` and `visible` are newest first, `visible` at most `cap` long.
fn keep_current_state(c: &mut Conn, room_id: &str, raw: Vec<Pdu>, visible: &mut Vec<Pdu>, cap: i64) -> Result<()> {
    let floor = if visible.len() as i64 >= cap { visible.last().map_or(i64::MIN, |p| p.stream_ordering) } else { i64::MIN };
    let mut added = false;
    for p in raw {
        let Some(key) = p.state_key.as_deref() else { continue };
        if p.stream_ordering <= floor || visible.iter().any(|v| v.event_id == p.event_id) {
            continue;
        }
        if ev::state_event(c, room_id, &p.kind, key)?.is_some_and(|cur| cur.event_id == p.event_id) {
            visible.push(p);
            added = true;
        }
    }
    if added {
        visible.sort_by_key(|p| std::cmp::Reverse(p.stream_ordering));
        visible.truncate(cap as usize);
    }
    Ok(())
}

/// Who became a room-mate since the token: everyone joined to a room the user joined since, or
/// whoever joined a room the user was already in.
fn note_new_mates(
    c: &mut Conn,
    user: &str,
    m: &MembershipRow,
    joined_since: bool,
    timeline: &[Pdu],
    out: &mut HashSet<String>,
) -> Result<()> {
    if joined_since {
        for r in memberships::room_members(c, &m.room_id)? {
            if r.membership == "join" && r.user_id != user {
                out.insert(r.user_id);
            }
        }
    } else {
        for p in timeline.iter().filter(|p| p.membership() == Some("join")) {
            if let Some(k) = p.state_key.as_deref().filter(|k| *k != user) {
                out.insert(k.to_owned());
            }
        }
    }
    Ok(())
}

/// Sets the unread counts of every joined room of a sync answer again (after the push rule
/// evaluator caught up with the events it shows).
pub fn patch_counts(body: &mut Value, counts: &HashMap<String, crate::service::notifications::RoomCounts>, threads_apart: bool) {
    if let Some(join) = body.get_mut("rooms").and_then(|r| r.get_mut("join")).and_then(Value::as_object_mut) {
        for (room_id, room) in join.iter_mut() {
            unread_counts(room, counts.get(room_id), threads_apart);
        }
    }
}

/// Sets a joined room's `unread_notifications` (and, when the filter asks, the threads' counts
/// apart in `unread_thread_notifications`).
pub(super) fn unread_counts(room: &mut Value, counts: Option<&crate::service::notifications::RoomCounts>, threads_apart: bool) {
    let shape = |(n, h): (i64, i64)| json!({"notification_count": n, "highlight_count": h});
    let main = counts.map_or((0, 0), |c| if threads_apart { c.main } else { c.total });
    room["unread_notifications"] = shape(main);
    if threads_apart {
        room["unread_thread_notifications"] = Value::Object(counts.map(crate::service::notifications::threads_json).unwrap_or_default());
    }
}

/// An invite: the stripped state of the room as of the invite; `None` when the inviter is ignored.
fn invited(c: &mut Conn, m: &MembershipRow, ignored: &HashSet<String>) -> Result<Option<Value>> {
    let state = ev::state_at(c, &m.room_id, m.stream_ordering)?;
    let inviter = state.iter().find(|p| p.event_id == m.event_id).map(|p| p.sender.to_string());
    if inviter.as_ref().is_some_and(|i| ignored.contains(i)) {
        return Ok(None);
    }
    let stripped: Vec<Value> = state
        .iter()
        .filter(|p| {
            STRIPPED_STATE.contains(&p.kind.as_str())
                || p.event_id == m.event_id
                || (p.kind == "m.room.member" && p.state_key.is_some() && p.state_key == inviter)
        })
        .map(Pdu::to_stripped)
        .collect();
    Ok(Some(json!({"invite_state": {"events": stripped}})))
}

/// A room left or banned from: up to the leave, and only what the room's history visibility let
/// the user see; a rejected invite or a ban before ever joining shows no history and no state.
fn left(c: &mut Conn, input: &RoomsInput<'_>, m: &MembershipRow, account_data: Vec<Value>) -> Result<Value> {
    let (f, since) = (input.f, input.since);
    let since_ev = since.map(|s| s.events).unwrap_or(0);
    let view = vis::history_view(c, &m.room_id, input.user)?;
    let mut timeline = vis::visible_events(c, &m.room_id, &view, since_ev, m.stream_ordering, f.timeline_limit + 1, true, None)?;
    let limited = trim_to_limit(&mut timeline, f.timeline_limit);
    let before = timeline.first().map(|p| p.stream_ordering - 1).unwrap_or(m.stream_ordering);
    // A room the user was not joined to at the token (joined and left within the gap) is new to
    // the client: its whole state comes, as for an initial sync.
    let newly = since.is_none() || !memberships::joined_at(c, &m.room_id, input.user, since_ev)?;
    let mut state = match view.state_access() {
        Some(access) if limited || newly => {
            let upto = match access {
                StateAccess::Current => before,
                StateAccess::UpTo(p) => before.min(p),
            };
            ev::state_between(c, &m.room_id, if newly { 0 } else { since_ev }, upto)?
        }
        _ => vec![],
    };
    state.retain(|p| f.state.allows(&p.kind));
    timeline.retain(|p| f.timeline.allows(&p.kind) && !hidden_by_ignore(input.ignored, p));
    let (timeline, state) = (formatted(c, f, &timeline, &HashMap::new())?, formatted(c, f, &state, &HashMap::new())?);
    Ok(object([
        ("timeline", Timeline { events: timeline, limited, prev_batch: before }.into_value()),
        ("state", events(state)),
        ("account_data", events(account_data)),
    ]))
}

/// One `m.receipt` event per room with receipts changed in (after, upto], grouped the spec's way:
/// event ID -> receipt type -> user -> {ts, thread_id}.
pub fn receipt_events(c: &mut Conn, user: &str, after: i64, upto: i64) -> Result<HashMap<String, Value>> {
    if after >= upto {
        return Ok(HashMap::new());
    }
    Ok(group_receipts(receipts::changed_for(c, user, after, upto)?))
}

/// Receipts as one `m.receipt` event per room.
pub fn group_receipts(list: Vec<receipts::Receipt>) -> HashMap<String, Value> {
    let mut by_room: HashMap<String, Value> = HashMap::new();
    for r in list {
        let content = by_room.entry(r.room_id).or_insert_with(|| json!({"type": "m.receipt", "content": {}}));
        let mut data = json!({"ts": r.ts});
        if !r.thread_id.is_empty() {
            data["thread_id"] = json!(r.thread_id);
        }
        content["content"][&r.event_id][&r.receipt_type][&r.user_id] = data;
    }
    by_room
}

/// Transaction IDs this device used for its own events in `timeline`.
fn own_txns(c: &mut Conn, user: &str, device: Option<&str>, timeline: &[Pdu]) -> Result<HashMap<String, String>> {
    let own: Vec<String> = timeline.iter().filter(|p| p.sender == user).map(|p| p.event_id.to_string()).collect();
    if own.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(ev::txn_ids_for(c, user, device.unwrap_or(""), &own)?.into_iter().collect())
}
