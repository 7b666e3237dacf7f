//! Memberships as seen from users: joined rooms, room members, who shares a room with whom.

use super::Conn;
use super::Direct;
use super::schema::memberships;
use crate::error::Result;
use diesel::prelude::*;
use ruma::{OwnedRoomId, OwnedUserId};
use std::collections::HashSet;

#[derive(Debug, Clone, Queryable)]
pub struct MembershipRow {
    pub room_id: String,
    pub user_id: String,
    pub membership: String,
    pub event_id: String,
    pub stream_ordering: i64,
}

fn cols() -> (memberships::room_id, memberships::user_id, memberships::membership, memberships::event_id, memberships::stream_ordering) {
    (memberships::room_id, memberships::user_id, memberships::membership, memberships::event_id, memberships::stream_ordering)
}

/// Every room the user has a membership in (not forgotten), newest change last.
pub fn user_memberships(conn: &mut Conn, user_id: &str) -> Result<Vec<MembershipRow>> {
    Ok(memberships::table
        .filter(memberships::user_id.eq(user_id))
        .filter(memberships::forgotten.eq(false))
        .order(memberships::stream_ordering.asc())
        .select(cols())
        .load_on(conn)?)
}

/// Rooms the user is joined to, then rooms they are invited to, each in membership order: what
/// a deactivation or an evacuation leaves or rejects.
pub fn rooms_to_leave(conn: &mut Conn, user_id: &str) -> Result<Vec<OwnedRoomId>> {
    let mut ms = user_memberships(conn, user_id)?;
    ms.retain(|m| matches!(m.membership.as_str(), "join" | "invite"));
    ms.sort_by_key(|m| (m.membership != "join", m.stream_ordering));
    Ok(super::typed::room_ids(ms.into_iter().map(|m| m.room_id).collect()))
}

pub fn joined_rooms(conn: &mut Conn, user_id: &str) -> Result<Vec<OwnedRoomId>> {
    let ids = memberships::table
        .filter(memberships::user_id.eq(user_id))
        .filter(memberships::membership.eq("join"))
        .order(memberships::stream_ordering.asc())
        .select(memberships::room_id)
        .load_on(conn)?;
    Ok(super::typed::room_ids(ids))
}

pub fn membership(conn: &mut Conn, room_id: &str, user_id: &str) -> Result<Option<MembershipRow>> {
    Ok(memberships::table.find((room_id, user_id)).select(cols()).first_on(conn).optional()?)
}

pub fn room_members(conn: &mut Conn, room_id: &str) -> Result<Vec<MembershipRow>> {
    Ok(memberships::table
        .filter(memberships::room_id.eq(room_id))
        .order(memberships::stream_ordering.asc())
        .select(cols())
        .load_on(conn)?)
}

pub fn forget(conn: &mut Conn, room_id: &str, user_id: &str) -> Result<()> {
    diesel::update(memberships::table.find((room_id, user_id))).set(memberships::forgotten.eq(true)).execute(conn)?;
    Ok(())
}

/// Users sharing a joined room with `user`, and the user: who sees their device list and presence.
pub fn room_mates(conn: &mut Conn, user: &str) -> Result<Vec<OwnedUserId>> {
    let (mine, theirs) = diesel::alias!(memberships as mine, memberships as theirs);
    let mut users: Vec<String> = mine
        .inner_join(theirs.on(theirs.field(memberships::room_id).eq(mine.field(memberships::room_id))))
        .filter(mine.field(memberships::user_id).eq(user))
        .filter(mine.field(memberships::membership).eq("join"))
        .filter(theirs.field(memberships::membership).eq("join"))
        .select(theirs.field(memberships::user_id))
        .distinct()
        .load_on(conn)?;
    if !users.iter().any(|u| u == user) {
        users.push(user.to_owned());
    }
    Ok(super::typed::user_ids(users))
}

/// Users who started or stopped sharing a joined room with `user` between two event stream
/// positions: whose device lists the user must (re)fetch, and whose they may forget. Only
/// membership events in (after, upto] are read, so a quiet window costs one indexed query.
pub fn mate_changes(conn: &mut Conn, user: &str, after: i64, upto: i64) -> Result<(Vec<OwnedUserId>, Vec<OwnedUserId>)> {
    if after >= upto {
        return Ok((Vec::new(), Vec::new()));
    }
    let mine = user_memberships(conn, user)?;
    mate_changes_in(conn, user, &mine, after, upto)
}

/// Up to this many positions, [`mate_changes_in`] reads the member events of every room in the
/// range and keeps the user's; beyond, it reads through the user's rooms.
const RANGE_READ_MAX: i64 = 2_000;

/// As [`mate_changes`], with the user's memberships (from [`user_memberships`]) already read.
pub fn mate_changes_in(
    conn: &mut Conn,
    user: &str,
    mine: &[MembershipRow],
    after: i64,
    upto: i64,
) -> Result<(Vec<OwnedUserId>, Vec<OwnedUserId>)> {
    use super::schema::events;
    use std::collections::BTreeSet;
    if after >= upto {
        return Ok((Vec::new(), Vec::new()));
    }
    let rooms: Vec<&str> = mine.iter().map(|m| m.room_id.as_str()).collect();
    let rows: Vec<(String, Option<String>, String)> = if upto - after <= RANGE_READ_MAX {
        // A woken sync asks about a few new positions: read them by position with one cached
        // statement, instead of planning an `IN` over the user's rooms on every sync.
        let mine: HashSet<&str> = rooms.iter().copied().collect();
        let rows: Vec<(String, Option<String>, String)> = events::table
            .filter(events::stream_ordering.gt(after))
            .filter(events::stream_ordering.le(upto))
            .filter(events::event_type.eq("m.room.member"))
            .order(events::stream_ordering.asc())
            .select((events::room_id, events::state_key, events::json))
            .load_on(conn)?;
        rows.into_iter().filter(|r| mine.contains(r.0.as_str())).collect()
    } else {
        events::table
            .filter(events::room_id.eq_any(&rooms))
            .filter(events::event_type.eq("m.room.member"))
            .filter(events::stream_ordering.gt(after))
            .filter(events::stream_ordering.le(upto))
            .order(events::stream_ordering.asc())
            .select((events::room_id, events::state_key, events::json))
            .load_on(conn)?
    };
    let (mut joined, mut gone) = (BTreeSet::new(), BTreeSet::new());
    for (room, target, json) in rows {
        let Some(target) = target else { continue };
        let membership = serde_json::from_str::<serde_json::Value>(&json)
            .ok()
            .and_then(|v| v["content"]["membership"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let i_am_joined = mine.iter().any(|m| m.room_id == room && m.membership == "join");
        if target == user {
            // The user's own change: everyone in that room is news either way.
            for r in room_members(conn, &room)? {
                if r.user_id != user && r.membership == "join" {
                    if membership == "join" {
                        joined.insert(r.user_id)
                    } else {
                        gone.insert(r.user_id)
                    };
                }
            }
        } else if membership == "join" && i_am_joined {
            joined.insert(target);
        } else if membership != "join" {
            gone.insert(target);
        }
    }
    if joined.is_empty() && gone.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    // Judged against who shares a room now (one query): someone who left one room but still
    // shares another has not gone, and a join since undone is no news.
    let mates: BTreeSet<OwnedUserId> = room_mates(conn, user)?.into_iter().collect();
    let shares = |u: &String| mates.iter().any(|m| m.as_str() == u);
    let left: Vec<String> = gone.into_iter().filter(|u| !joined.contains(u) && !shares(u)).collect();
    joined.retain(|u| shares(u));
    Ok((super::typed::user_ids(joined.into_iter().collect()), super::typed::user_ids(left)))
}

/// Whether `a` and `b` are both joined to some room.
pub fn share_room(conn: &mut Conn, a: &str, b: &str) -> Result<bool> {
    let (mine, theirs) = diesel::alias!(memberships as mine, memberships as theirs);
    let shared = mine
        .inner_join(theirs.on(theirs.field(memberships::room_id).eq(mine.field(memberships::room_id))))
        .filter(mine.field(memberships::user_id).eq(a))
        .filter(mine.field(memberships::membership).eq("join"))
        .filter(theirs.field(memberships::user_id).eq(b))
        .filter(theirs.field(memberships::membership).eq("join"));
    Ok(diesel::select(diesel::dsl::exists(shared)).get_result_on(conn)?)
}

/// Whether `user` was joined to the room at stream position `at`: their latest membership event
/// at or before it is a join. (A display name change is a join too, so the membership row's
/// position alone cannot tell a new join from a profile update.)
pub fn joined_at(conn: &mut Conn, room_id: &str, user: &str, at: i64) -> Result<bool> {
    use super::schema::events;
    let latest: Option<String> = events::table
        .filter(events::room_id.eq(room_id))
        .filter(events::event_type.eq("m.room.member"))
        .filter(events::state_key.eq(user))
        .filter(events::stream_ordering.le(at))
        .order(events::stream_ordering.desc())
        .select(events::json)
        .first_on(conn)
        .optional()?;
    Ok(latest.and_then(|j| serde_json::from_str::<serde_json::Value>(&j).ok()).is_some_and(|v| v["content"]["membership"] == "join"))
}

/// Rooms both `a` and `b` are joined to, in room ID order.
pub fn mutual_rooms(conn: &mut Conn, a: &str, b: &str) -> Result<Vec<OwnedRoomId>> {
    let (mine, theirs) = diesel::alias!(memberships as mine, memberships as theirs);
    let rooms: Vec<String> = mine
        .inner_join(theirs.on(theirs.field(memberships::room_id).eq(mine.field(memberships::room_id))))
        .filter(mine.field(memberships::user_id).eq(a))
        .filter(mine.field(memberships::membership).eq("join"))
        .filter(theirs.field(memberships::user_id).eq(b))
        .filter(theirs.field(memberships::membership).eq("join"))
        .order(mine.field(memberships::room_id).asc())
        .select(mine.field(memberships::room_id))
        .load_on(conn)?;
    Ok(super::typed::room_ids(rooms))
}

/// How many users are joined to the room.
pub fn joined_count(conn: &mut Conn, room_id: &str) -> Result<i64> {
    Ok(memberships::table
        .filter(memberships::room_id.eq(room_id))
        .filter(memberships::membership.eq("join"))
        .count()
        .get_result_on(conn)?)
}
