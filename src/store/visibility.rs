//! Reads for history visibility: a user's [`HistoryView`] of a room, and pages of the events it
//! lets them see.

use super::Conn;
use super::Direct;
use super::schema::events;
use crate::error::{Error, Result};
use crate::events::Pdu;
use crate::events::visibility::{Change, HistoryView, Membership, StateAccess, Visibility};
use diesel::prelude::*;
use serde_json::Value;

/// The user's view of the room: built from the user's membership events and the room's
/// visibility events, in stream order.
pub fn history_view(c: &mut Conn, room_id: &str, user_id: &str) -> Result<HistoryView> {
    // Both branches are lookups in the (room_id, event_type, state_key, stream_ordering) index:
    // only the few matching rows are read, however long the room's history.
    let rows: Vec<(i64, String, String)> = events::table
        .filter(events::room_id.eq(room_id))
        .filter(
            (events::event_type.eq("m.room.member").and(events::state_key.eq(user_id)))
                .or(events::event_type.eq("m.room.history_visibility").and(events::state_key.eq(""))),
        )
        .order(events::stream_ordering.asc())
        .select((events::stream_ordering, events::event_type, events::json))
        .load_on(c)?;
    let changes: Vec<(i64, Change)> = rows
        .into_iter()
        .map(|(pos, kind, json)| {
            // An unreadable row counts as a change to the most restrictive value, never a leak.
            let content = serde_json::from_str::<Value>(&json).ok().and_then(|v| v.get("content").cloned()).unwrap_or(Value::Null);
            let field = |k: &str| content.get(k).and_then(Value::as_str).map(str::to_owned);
            let change = if kind == "m.room.member" {
                Change::Membership(Membership::parse(field("membership").as_deref()))
            } else if content.is_object() {
                Change::Visibility(Visibility::parse(field("history_visibility").as_deref()))
            } else {
                Change::Visibility(Visibility::Joined)
            };
            (pos, change)
        })
        .collect();
    Ok(HistoryView::new(&changes))
}

/// The view and the state the user may read; 403 if the user may read nothing of the room (never
/// joined, not world readable) or it does not exist: the answer must not tell which, as Synapse's.
pub fn require_view(c: &mut Conn, room_id: &str, user_id: &str) -> Result<(HistoryView, StateAccess)> {
    let view = history_view(c, room_id, user_id)?;
    view.state_access().map(|access| (view, access)).ok_or_else(|| Error::forbidden("You are not allowed to read this room"))
}

/// The state the user may read, with [`require_view`]'s errors; a joined user's answer comes from
/// their membership row alone.
pub fn require_state_access(c: &mut Conn, room_id: &str, user_id: &str) -> Result<StateAccess> {
    if is_joined(c, room_id, user_id)? {
        return Ok(StateAccess::Current);
    }
    require_view(c, room_id, user_id).map(|(_, access)| access)
}

/// Whether the user may list the current members: joined, or the room is world readable; 403
/// otherwise (a room that does not exist included).
pub fn require_current_members(c: &mut Conn, room_id: &str, user_id: &str) -> Result<()> {
    if is_joined(c, room_id, user_id)? || history_view(c, room_id, user_id)?.sees_current_members() {
        return Ok(());
    }
    Err(Error::forbidden("You are not in this room"))
}

fn is_joined(c: &mut Conn, room_id: &str, user_id: &str) -> Result<bool> {
    Ok(super::memberships::membership(c, room_id, user_id)?.is_some_and(|m| m.membership == "join"))
}

/// The state the user may read: current, or as of the end of their last stay.
pub fn visible_state(c: &mut Conn, room_id: &str, access: StateAccess) -> Result<Vec<Pdu>> {
    match access {
        StateAccess::Current => super::events::current_state(c, room_id),
        StateAccess::UpTo(pos) => super::events::state_at(c, room_id, pos),
    }
}

/// Events of the room the view lets the user see with `after < position <= upto`, newest first
/// or oldest first, at most `limit`: one indexed query per visible range in the window.
#[allow(clippy::too_many_arguments)]
pub fn visible_events(
    c: &mut Conn,
    room_id: &str,
    view: &HistoryView,
    after: i64,
    upto: i64,
    limit: i64,
    newest_first: bool,
    types: Option<&[String]>,
) -> Result<Vec<Pdu>> {
    let mut ranges = view.ranges_within(after, upto);
    if newest_first {
        ranges.reverse();
    }
    let mut out = Vec::new();
    for (lo, hi) in ranges {
        let left = limit - out.len() as i64;
        if left <= 0 {
            break;
        }
        out.extend(super::events::room_events(c, room_id, lo - 1, hi, left, newest_first, types)?);
    }
    Ok(out)
}

/// A page of the events the user may see (as [`visible_events`], with [`require_view`]'s errors)
/// and where their current join began (0 if not joined). A joined user's page that reaches no
/// further back than their latest membership event is all visible: the room's visibility
/// history is read only for pages that do.
#[allow(clippy::too_many_arguments)]
pub fn visible_page(
    c: &mut Conn,
    room_id: &str,
    user_id: &str,
    after: i64,
    upto: i64,
    limit: i64,
    newest_first: bool,
    types: Option<&[String]>,
) -> Result<(Vec<Pdu>, i64)> {
    if let Some(m) = super::memberships::membership(c, room_id, user_id)?.filter(|m| m.membership == "join") {
        let page = super::events::room_events(c, room_id, after, upto, limit, newest_first, types)?;
        if page.iter().all(|p| p.stream_ordering >= m.stream_ordering) {
            return Ok((page, m.stream_ordering));
        }
    }
    let (view, _) = require_view(c, room_id, user_id)?;
    Ok((visible_events(c, room_id, &view, after, upto, limit, newest_first, types)?, view.joined_at()))
}
