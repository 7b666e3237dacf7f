//! The `rooms` row (version, creator, directory flag) and the aliases that point at a room.

use super::Conn;
use super::Direct;
use super::schema::{memberships, room_aliases, rooms};
use crate::error::Result;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = rooms)]
pub struct RoomRow {
    pub room_id: String,
    pub room_version: String,
    pub creator: String,
    pub is_public: bool,
    pub created_ts: i64,
}

pub fn room_row(conn: &mut Conn, room_id: &str) -> Result<Option<RoomRow>> {
    Ok(rooms::table.find(room_id).select(RoomRow::as_select()).first(conn).optional()?)
}

pub fn alias_room(conn: &mut Conn, alias: &str) -> Result<Option<(String, String)>> {
    Ok(room_aliases::table.find(alias).select((room_aliases::room_id, room_aliases::creator)).first_on(conn).optional()?)
}

/// Returns false if the alias is taken.
pub fn add_alias(conn: &mut Conn, alias: &str, room_id: &str, creator: &str) -> Result<bool> {
    let n = both!(conn, |c| diesel::insert_into(room_aliases::table)
        .values((room_aliases::alias.eq(alias), room_aliases::room_id.eq(room_id), room_aliases::creator.eq(creator)))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

pub fn delete_alias(conn: &mut Conn, alias: &str) -> Result<bool> {
    Ok(diesel::delete(room_aliases::table.find(alias)).execute(conn)? == 1)
}

pub fn room_aliases(conn: &mut Conn, room_id: &str) -> Result<Vec<String>> {
    Ok(room_aliases::table.filter(room_aliases::room_id.eq(room_id)).select(room_aliases::alias).load_on(conn)?)
}

/// Rooms published to the room directory with their joined member counts, largest first.
pub fn published_rooms(conn: &mut Conn) -> Result<Vec<(String, i64)>> {
    let published: Vec<String> = rooms::table.filter(rooms::is_public.eq(true)).select(rooms::room_id).load_on(conn)?;
    let counts: Vec<(String, i64)> = memberships::table
        .filter(memberships::room_id.eq_any(&published))
        .filter(memberships::membership.eq("join"))
        .group_by(memberships::room_id)
        .select((memberships::room_id, diesel::dsl::count_star()))
        .load_on(conn)?;
    let counts: std::collections::HashMap<String, i64> = counts.into_iter().collect();
    let mut out: Vec<(String, i64)> = published.into_iter().map(|r| (r.clone(), counts.get(&r).copied().unwrap_or(0))).collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

/// Publishes the room to the directory or withdraws it; false if the room is unknown.
pub fn set_published(conn: &mut Conn, room_id: &str, published: bool) -> Result<bool> {
    Ok(diesel::update(rooms::table.find(room_id)).set(rooms::is_public.eq(published)).execute(conn)? == 1)
}

/// Points the old room's aliases at its replacement and moves its directory listing there, in
/// one transaction.
pub fn move_to_replacement(conn: &mut Conn, old: &str, new: &str) -> Result<()> {
    super::write_txn(conn, |c| {
        diesel::update(room_aliases::table.filter(room_aliases::room_id.eq(old))).set(room_aliases::room_id.eq(new)).execute(c)?;
        let published = rooms::table.find(old).select(rooms::is_public).first_on::<bool>(c).optional()?.unwrap_or(false);
        if published {
            diesel::update(rooms::table.find(old)).set(rooms::is_public.eq(false)).execute(c)?;
            diesel::update(rooms::table.find(new)).set(rooms::is_public.eq(true)).execute(c)?;
        }
        Ok(())
    })
}

/// Points every alias of `from` at `to`, now created by `creator`; returns the aliases moved.
pub fn move_aliases(conn: &mut Conn, from: &str, to: &str, creator: &str) -> Result<Vec<String>> {
    super::write_txn(conn, |c| {
        let moved: Vec<String> = room_aliases::table
            .filter(room_aliases::room_id.eq(from))
            .select(room_aliases::alias)
            .order(room_aliases::alias.asc())
            .load_on(c)?;
        diesel::update(room_aliases::table.filter(room_aliases::room_id.eq(from)))
            .set((room_aliases::room_id.eq(to), room_aliases::creator.eq(creator)))
            .execute(c)?;
        Ok(moved)
    })
}
