//! What the admin's room pages read: every room's summary state, its member, device and state
//! counts, its size in the store, and the rooms an admin blocked.

use super::Conn;
use super::Direct;
use super::schema::{blocked_rooms, current_state, devices, events, memberships, rooms};
use crate::error::Result;
use crate::events::Pdu;
use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use std::collections::HashMap;

pub use super::rooms::RoomRow;

/// The state events (empty state key) a room's summary is made of.
pub const SUMMARY_TYPES: [&str; 10] = [
    "m.room.create",
    "m.room.name",
    "m.room.topic",
    "m.room.avatar",
    "m.room.canonical_alias",
    "m.room.encryption",
    "m.room.join_rules",
    "m.room.guest_access",
    "m.room.history_visibility",
    "m.room.tombstone",
];

/// Every room's row, or one room's (`None` if unknown).
pub fn room_rows(c: &mut Conn, room: Option<&str>) -> Result<Vec<RoomRow>> {
    let mut q = rooms::table.select(RoomRow::as_select()).into_boxed();
    if let Some(r) = room {
        q = q.filter(rooms::room_id.eq(r.to_owned()));
    }
    Ok(q.load(c)?)
}

/// The summary state events of every room, or of one.
pub fn summary_state(c: &mut Conn, room: Option<&str>) -> Result<Vec<Pdu>> {
    let mut q = current_state::table
        .inner_join(events::table.on(events::event_id.eq(current_state::event_id)))
        .filter(current_state::event_type.eq_any(SUMMARY_TYPES))
        .filter(current_state::state_key.eq(""))
        .select((events::event_id, events::stream_ordering, events::json))
        .into_boxed();
    if let Some(r) = room {
        q = q.filter(current_state::room_id.eq(r.to_owned()));
    }
    let rows: Vec<(String, i64, String)> = q.load(c)?;
    Ok(rows.iter().filter_map(|(id, pos, json)| super::events::readable_one(id, *pos, json)).collect())
}

/// Joined members per room, and of them those of this server (user IDs ending in `:server`).
pub fn joined_counts(c: &mut Conn, room: Option<&str>, server_name: &str) -> Result<HashMap<String, (i64, i64)>> {
    let mut all = memberships::table
        .filter(memberships::membership.eq("join"))
        .group_by(memberships::room_id)
        .select((memberships::room_id, count_star()))
        .into_boxed();
    let mut local = memberships::table
        .filter(memberships::membership.eq("join"))
        // Server names are letters, digits, '.', '-', ':' and IPv6 brackets: no LIKE wildcards.
        .filter(memberships::user_id.like(format!("%:{server_name}")))
        .group_by(memberships::room_id)
        .select((memberships::room_id, count_star()))
        .into_boxed();
    if let Some(r) = room {
        all = all.filter(memberships::room_id.eq(r.to_owned()));
        local = local.filter(memberships::room_id.eq(r.to_owned()));
    }
    let mut out: HashMap<String, (i64, i64)> = all.load::<(String, i64)>(c)?.into_iter().map(|(r, n)| (r, (n, 0))).collect();
    for (r, n) in local.load::<(String, i64)>(c)? {
        out.entry(r).or_default().1 = n;
    }
    Ok(out)
}

/// Current state events per room.
pub fn state_counts(c: &mut Conn, room: Option<&str>) -> Result<HashMap<String, i64>> {
    let mut q = current_state::table.group_by(current_state::room_id).select((current_state::room_id, count_star())).into_boxed();
    if let Some(r) = room {
        q = q.filter(current_state::room_id.eq(r.to_owned()));
    }
    Ok(q.load::<(String, i64)>(c)?.into_iter().collect())
}

/// The devices of the room's joined members of this server.
pub fn joined_local_devices(c: &mut Conn, room_id: &str, server_name: &str) -> Result<i64> {
    let joined = memberships::table
        .filter(memberships::room_id.eq(room_id))
        .filter(memberships::membership.eq("join"))
        .filter(memberships::user_id.like(format!("%:{server_name}")))
        .select(memberships::user_id);
    Ok(devices::table.filter(devices::user_id.eq_any(joined)).count().get_result_on(c)?)
}

/// Whether every member of this server the room has a membership row for has forgotten it
/// (true when there is none), as Synapse's `forgotten`.
pub fn locally_forgotten(c: &mut Conn, room_id: &str, server_name: &str) -> Result<bool> {
    let remembering: i64 = memberships::table
        .filter(memberships::room_id.eq(room_id))
        .filter(memberships::user_id.like(format!("%:{server_name}")))
        .filter(memberships::forgotten.eq(false))
        .count()
        .get_result_on(c)?;
    Ok(remembering == 0)
}

/// Each room's events' stored size in bytes, largest first.
pub fn room_sizes(c: &mut Conn) -> Result<Vec<(String, i64)>> {
    let mut rows: Vec<(String, i64)> =
        events::table.group_by(events::room_id).select((events::room_id, sql::<BigInt>("COALESCE(SUM(LENGTH(json)), 0)"))).load_on(c)?;
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(rows)
}

/// Who blocked the room, if it is blocked.
pub fn blocked_by(c: &mut Conn, room_id: &str) -> Result<Option<String>> {
    Ok(blocked_rooms::table.find(room_id).select(blocked_rooms::user_id).first_on(c).optional()?)
}

/// Blocks the room; a room already blocked keeps its first blocker, as Synapse.
pub fn block(c: &mut Conn, room_id: &str, admin: &str) -> Result<()> {
    both!(c, |c| diesel::insert_into(blocked_rooms::table)
        .values((blocked_rooms::room_id.eq(room_id), blocked_rooms::user_id.eq(admin)))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

pub fn unblock(c: &mut Conn, room_id: &str) -> Result<()> {
    diesel::delete(blocked_rooms::table.find(room_id)).execute(c)?;
    Ok(())
}

/// The room's first event at or after `ts` (`forwards`), or its last at or before it:
/// (event ID, origin_server_ts).
pub fn event_at_time(c: &mut Conn, room_id: &str, ts: i64, forwards: bool) -> Result<Option<(String, i64)>> {
    let q = events::table.filter(events::room_id.eq(room_id)).select((events::event_id, events::origin_server_ts)).into_boxed();
    let q = if forwards {
        q.filter(events::origin_server_ts.ge(ts)).order((events::origin_server_ts.asc(), events::stream_ordering.asc()))
    } else {
        q.filter(events::origin_server_ts.le(ts)).order((events::origin_server_ts.desc(), events::stream_ordering.desc()))
    };
    Ok(q.first(c).optional()?)
}

/// The room's newest event (its one forward extremity: a room's events form a line here):
/// (event ID, depth, origin_server_ts).
pub fn newest_event(c: &mut Conn, room_id: &str) -> Result<Option<(String, i64, i64)>> {
    Ok(events::table
        .filter(events::room_id.eq(room_id))
        .order(events::stream_ordering.desc())
        .select((events::event_id, events::depth, events::origin_server_ts))
        .first_on(c)
        .optional()?)
}
