//! Memberships as seen from users, and room aliases.

use super::Conn;
use super::schema::{memberships, room_aliases};
use crate::error::MResult;
use diesel::prelude::*;

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
pub fn user_memberships(conn: &mut Conn, user_id: &str) -> MResult<Vec<MembershipRow>> {
    Ok(memberships::table
        .filter(memberships::user_id.eq(user_id))
        .filter(memberships::forgotten.eq(false))
        .order(memberships::stream_ordering.asc())
        .select(cols())
        .load(conn)?)
}

/// Rooms the user is joined to, then rooms they are invited to, each in membership order: what
/// a deactivation or an evacuation leaves or rejects.
pub fn rooms_to_leave(conn: &mut Conn, user_id: &str) -> MResult<Vec<String>> {
    let mut ms = user_memberships(conn, user_id)?;
    ms.retain(|m| matches!(m.membership.as_str(), "join" | "invite"));
    ms.sort_by_key(|m| (m.membership != "join", m.stream_ordering));
    Ok(ms.into_iter().map(|m| m.room_id).collect())
}

pub fn joined_rooms(conn: &mut Conn, user_id: &str) -> MResult<Vec<String>> {
    Ok(memberships::table
        .filter(memberships::user_id.eq(user_id))
        .filter(memberships::membership.eq("join"))
        .order(memberships::stream_ordering.asc())
        .select(memberships::room_id)
        .load(conn)?)
}

pub fn membership(conn: &mut Conn, room_id: &str, user_id: &str) -> MResult<Option<MembershipRow>> {
    Ok(memberships::table.find((room_id, user_id)).select(cols()).first(conn).optional()?)
}

pub fn room_members(conn: &mut Conn, room_id: &str) -> MResult<Vec<MembershipRow>> {
    Ok(memberships::table.filter(memberships::room_id.eq(room_id)).order(memberships::stream_ordering.asc()).select(cols()).load(conn)?)
}

pub fn forget(conn: &mut Conn, room_id: &str, user_id: &str) -> MResult<()> {
    diesel::update(memberships::table.find((room_id, user_id))).set(memberships::forgotten.eq(true)).execute(conn)?;
    Ok(())
}

pub fn alias_room(conn: &mut Conn, alias: &str) -> MResult<Option<(String, String)>> {
    Ok(room_aliases::table.find(alias).select((room_aliases::room_id, room_aliases::creator)).first(conn).optional()?)
}

/// Returns false if the alias is taken.
pub fn add_alias(conn: &mut Conn, alias: &str, room_id: &str, creator: &str) -> MResult<bool> {
    let n = diesel::insert_into(room_aliases::table)
        .values((room_aliases::alias.eq(alias), room_aliases::room_id.eq(room_id), room_aliases::creator.eq(creator)))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(n == 1)
}

pub fn delete_alias(conn: &mut Conn, alias: &str) -> MResult<bool> {
    Ok(diesel::delete(room_aliases::table.find(alias)).execute(conn)? == 1)
}

pub fn room_aliases(conn: &mut Conn, room_id: &str) -> MResult<Vec<String>> {
    Ok(room_aliases::table.filter(room_aliases::room_id.eq(room_id)).select(room_aliases::alias).load(conn)?)
}

/// Rooms published to the room directory with their joined member counts, largest first.
pub fn published_rooms(conn: &mut Conn) -> MResult<Vec<(String, i64)>> {
    use super::schema::rooms;
    let published: Vec<String> = rooms::table.filter(rooms::is_public.eq(true)).select(rooms::room_id).load(conn)?;
    let counts: Vec<(String, i64)> = memberships::table
        .filter(memberships::room_id.eq_any(&published))
        .filter(memberships::membership.eq("join"))
        .group_by(memberships::room_id)
        .select((memberships::room_id, diesel::dsl::count_star()))
        .load(conn)?;
    let counts: std::collections::HashMap<String, i64> = counts.into_iter().collect();
    let mut out: Vec<(String, i64)> = published.into_iter().map(|r| (r.clone(), counts.get(&r).copied().unwrap_or(0))).collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

/// Publishes the room to the directory or withdraws it; false if the room is unknown.
pub fn set_published(conn: &mut Conn, room_id: &str, published: bool) -> MResult<bool> {
    use super::schema::rooms;
    Ok(diesel::update(rooms::table.find(room_id)).set(rooms::is_public.eq(published)).execute(conn)? == 1)
}

/// Users sharing a joined room with `user`, and the user: who sees their device list and presence.
pub fn room_mates(conn: &mut Conn, user: &str) -> MResult<Vec<String>> {
    let (mine, theirs) = diesel::alias!(memberships as mine, memberships as theirs);
    let mut users: Vec<String> = mine
        .inner_join(theirs.on(theirs.field(memberships::room_id).eq(mine.field(memberships::room_id))))
        .filter(mine.field(memberships::user_id).eq(user))
        .filter(mine.field(memberships::membership).eq("join"))
        .filter(theirs.field(memberships::membership).eq("join"))
        .select(theirs.field(memberships::user_id))
        .distinct()
        .load(conn)?;
    if !users.iter().any(|u| u == user) {
        users.push(user.to_owned());
    }
    Ok(users)
}

/// Whether `a` and `b` are both joined to some room.
pub fn share_room(conn: &mut Conn, a: &str, b: &str) -> MResult<bool> {
    let (mine, theirs) = diesel::alias!(memberships as mine, memberships as theirs);
    let shared = mine
        .inner_join(theirs.on(theirs.field(memberships::room_id).eq(mine.field(memberships::room_id))))
        .filter(mine.field(memberships::user_id).eq(a))
        .filter(mine.field(memberships::membership).eq("join"))
        .filter(theirs.field(memberships::user_id).eq(b))
        .filter(theirs.field(memberships::membership).eq("join"));
    Ok(diesel::select(diesel::dsl::exists(shared)).get_result(conn)?)
}
