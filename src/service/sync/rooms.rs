//! The `rooms` part of a sync: joined rooms (timeline, state, account data, ephemeral),
//! invites (stripped state) and rooms left (up to the leave, as far as history visibility lets).

use super::filter::SyncFilter;
use crate::actors::notifier::Positions;
use crate::error::Result;
use crate::events::Pdu;
use crate::events::visibility::StateAccess;
use crate::store::memberships::MembershipRow;
use crate::store::{Conn, events as ev, memberships, receipts, visibility as vis};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

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
    pub typing: HashMap<String, Vec<String>>,
}

#[derive(Default)]
pub struct RoomSections {
    pub join: Map<String, Value>,
    pub invite: Map<String, Value>,
    pub leave: Map<String, Value>,
}

fn client_events(list: &[Pdu], txns: &HashMap<String, String>) -> Vec<Value> {
    list.iter().map(|p| p.to_client(txns.get(&p.event_id).map(String::as_str))).collect()
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
        let erased = crate::store::users::erased_users(c)?;
        let counts = crate::service::notifications::counts(c, input.user)?;
        let since_ev = input.since.map(|s| s.events).unwrap_or(0);
        for m in memberships::user_memberships(c, input.user)? {
            if m.stream_ordering > input.now.events || input.f.rooms.as_ref().is_some_and(|r| !r.contains(&m.room_id)) {
                continue;
            }
            let changed_since = input.since.is_none() || m.stream_ordering > since_ev;
            match m.membership.as_str() {
                "join" => {
                    if let Some(mut room) = joined(c, &mut input, &m, &erased)? {
                        unread_counts(&mut room, counts.get(&m.room_id), input.f.unread_thread_notifications);
                        out.join.insert(m.room_id.clone(), room);
                    }
                }
                "invite" if changed_since || input.full_state => {
                    out.invite.insert(m.room_id.clone(), invited(c, &m)?);
                }
                "leave" | "ban" if (input.since.is_some() && changed_since) || (input.since.is_none() && input.f.include_leave) => {
                    let ad = input.room_ad.remove(&m.room_id).unwrap_or_default();
                    out.leave.insert(m.room_id.clone(), left(c, &input, &m, ad)?);
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

/// A joined room's section, or `None` when an incremental sync has nothing new for it.
fn joined(
    c: &mut Conn,
    input: &mut RoomsInput<'_>,
    m: &MembershipRow,
    erased: &std::collections::HashSet<String>,
) -> Result<Option<Value>> {
    let (f, since, now) = (input.f, input.since, input.now);
    let since_ev = since.map(|s| s.events).unwrap_or(0);
    let newly = since.is_none() || input.full_state || m.stream_ordering > since_ev;
    let types = f.timeline.exact_types();
    let mut timeline = ev::room_events(c, &m.room_id, since_ev, now.events, f.timeline_limit + 1, true, types.as_deref())?;
    // Everything since the user's latest membership event (a join) is visible to them; only
    // older events need the room's history visibility.
    if timeline.last().is_some_and(|p| p.stream_ordering < m.stream_ordering) {
        let view = vis::history_view(c, &m.room_id, input.user)?;
        timeline = vis::visible_events(c, &m.room_id, &view, since_ev, now.events, f.timeline_limit + 1, true, types.as_deref())?;
    }
    let limited = trim_to_limit(&mut timeline, f.timeline_limit);
    timeline.retain(|p| f.timeline.allows(&p.kind));
    if !erased.is_empty() {
        for p in timeline.iter_mut() {
            p.hide_if_erased(erased, m.stream_ordering);
        }
    }
    let ad = input.room_ad.remove(&m.room_id).unwrap_or_default();
    let mut ephemeral: Vec<Value> = input.receipts.remove(&m.room_id).into_iter().collect();
    if let Some(users) = input.typing.remove(&m.room_id) {
        ephemeral.push(json!({"type": "m.typing", "content": {"user_ids": users}}));
    }
    if !newly && timeline.is_empty() && ad.is_empty() && ephemeral.is_empty() {
        return Ok(None);
    }
    let before = timeline.first().map(|p| p.stream_ordering - 1).unwrap_or(now.events);
    let state = if newly {
        ev::state_at(c, &m.room_id, before)?
    } else if limited {
        ev::state_between(c, &m.room_id, since_ev, before)?
    } else {
        vec![]
    };
    let state: Vec<Pdu> = state.into_iter().filter(|p| f.state.allows(&p.kind)).collect();
    let txns = own_txns(c, input.user, input.device, &timeline)?;
    Ok(Some(json!({
        "timeline": {"events": client_events(&timeline, &txns), "limited": limited, "prev_batch": format!("t{before}")},
        "state": {"events": client_events(&state, &HashMap::new())},
        "account_data": {"events": ad},
        "ephemeral": {"events": ephemeral},
        "summary": {},
    })))
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
fn unread_counts(room: &mut Value, counts: Option<&crate::service::notifications::RoomCounts>, threads_apart: bool) {
    let shape = |(n, h): (i64, i64)| json!({"notification_count": n, "highlight_count": h});
    let main = counts.map_or((0, 0), |c| if threads_apart { c.main } else { c.total });
    room["unread_notifications"] = shape(main);
    if threads_apart {
        room["unread_thread_notifications"] = Value::Object(counts.map(|c| c.threads.clone()).unwrap_or_default());
    }
}

/// An invite: the stripped state of the room as of the invite.
fn invited(c: &mut Conn, m: &MembershipRow) -> Result<Value> {
    let state = ev::state_at(c, &m.room_id, m.stream_ordering)?;
    let inviter = state.iter().find(|p| p.event_id == m.event_id).map(|p| p.sender.clone());
    let stripped: Vec<Value> = state
        .iter()
        .filter(|p| {
            STRIPPED_STATE.contains(&p.kind.as_str())
                || p.event_id == m.event_id
                || (p.kind == "m.room.member" && p.state_key.is_some() && p.state_key == inviter)
        })
        .map(Pdu::to_stripped)
        .collect();
    Ok(json!({"invite_state": {"events": stripped}}))
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
    let state = match view.state_access() {
        Some(access) if limited || since.is_none() => {
            let upto = match access {
                StateAccess::Current => before,
                StateAccess::UpTo(p) => before.min(p),
            };
            ev::state_between(c, &m.room_id, since_ev, upto)?
        }
        _ => vec![],
    };
    Ok(json!({
        "timeline": {"events": client_events(&timeline, &HashMap::new()), "limited": limited, "prev_batch": format!("t{before}")},
        "state": {"events": client_events(&state, &HashMap::new())},
        "account_data": {"events": account_data},
    }))
}

/// One `m.receipt` event per room with receipts changed in (after, upto], grouped the spec's way:
/// event ID -> receipt type -> user -> {ts, thread_id}.
pub fn receipt_events(c: &mut Conn, user: &str, after: i64, upto: i64) -> Result<HashMap<String, Value>> {
    let mut by_room: HashMap<String, Value> = HashMap::new();
    if after >= upto {
        return Ok(by_room);
    }
    for r in receipts::changed_for(c, user, after, upto)? {
        let content = by_room.entry(r.room_id).or_insert_with(|| json!({"type": "m.receipt", "content": {}}));
        let mut data = json!({"ts": r.ts});
        if !r.thread_id.is_empty() {
            data["thread_id"] = json!(r.thread_id);
        }
        content["content"][&r.event_id][&r.receipt_type][&r.user_id] = data;
    }
    Ok(by_room)
}

/// Transaction IDs this device used for its own events in `timeline`.
fn own_txns(c: &mut Conn, user: &str, device: Option<&str>, timeline: &[Pdu]) -> Result<HashMap<String, String>> {
    let own: Vec<String> = timeline.iter().filter(|p| p.sender == user).map(|p| p.event_id.clone()).collect();
    if own.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(ev::txn_ids_for(c, user, device.unwrap_or(""), &own)?.into_iter().collect())
}
