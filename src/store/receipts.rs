//! Read receipts (`m.read`, `m.read.private`), the latest per room, user, type and thread.

use super::Conn;
use super::Direct;
use super::schema::{memberships, receipts};
use super::streams::{self, Stream};
use crate::error::Result;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable)]
pub struct Receipt {
    pub room_id: String,
    pub user_id: String,
    pub receipt_type: String,
    pub thread_id: String,
    pub event_id: String,
    pub ts: i64,
}

pub struct NewReceipt<'a> {
    pub room_id: &'a str,
    pub user_id: &'a str,
    pub receipt_type: &'a str,
    pub thread_id: &'a str,
    pub event_id: &'a str,
    pub event_stream: i64,
    pub ts: i64,
}

/// Records the receipt unless the user already has one at a later event; returns its stream
/// position, or `None` when nothing changed.
pub fn set(conn: &mut Conn, r: &NewReceipt) -> Result<Option<i64>> {
    super::write_txn(conn, |c| {
        let key = (r.room_id, r.user_id, r.receipt_type, r.thread_id);
        let current: Option<i64> = receipts::table.find(key).select(receipts::event_stream).first_on(c).optional()?;
        if current.is_some_and(|at| at >= r.event_stream) {
            return Ok(None);
        }
        let next = streams::next(c, Stream::Receipts)?;
        both!(c, |c| diesel::insert_into(receipts::table)
            .values((
                receipts::room_id.eq(r.room_id),
                receipts::user_id.eq(r.user_id),
                receipts::receipt_type.eq(r.receipt_type),
                receipts::thread_id.eq(r.thread_id),
                receipts::event_id.eq(r.event_id),
                receipts::event_stream.eq(r.event_stream),
                receipts::ts.eq(r.ts),
                receipts::stream_id.eq(next),
            ))
            .on_conflict((receipts::room_id, receipts::user_id, receipts::receipt_type, receipts::thread_id))
            .do_update()
            .set((
                receipts::event_id.eq(r.event_id),
                receipts::event_stream.eq(r.event_stream),
                receipts::ts.eq(r.ts),
                receipts::stream_id.eq(next),
            ))
            .execute(c))?;
        Ok(Some(next))
    })
}

/// The head of the receipt stream; a purged room's receipts keep their positions taken.
pub fn position(conn: &mut Conn) -> Result<i64> {
    streams::current(conn, Stream::Receipts)
}

/// Receipts changed in (after, upto] in rooms `user` is joined to; private receipts only the
/// owner's. `after` 0 means every current receipt (an initial sync).
pub fn changed_for(conn: &mut Conn, user: &str, after: i64, upto: i64) -> Result<Vec<Receipt>> {
    Ok(receipts::table
        .inner_join(memberships::table.on(memberships::room_id.eq(receipts::room_id)))
        .filter(memberships::user_id.eq(user))
        .filter(memberships::membership.eq("join"))
        .filter(receipts::stream_id.gt(after))
        .filter(receipts::stream_id.le(upto))
        .filter(receipts::receipt_type.ne("m.read.private").or(receipts::user_id.eq(user)))
        .order(receipts::stream_id)
        .select((receipts::room_id, receipts::user_id, receipts::receipt_type, receipts::thread_id, receipts::event_id, receipts::ts))
        .load_on(conn)?)
}

/// Public receipts of one room changed in (after, upto], oldest first: what someone peeking at a
/// world-readable room sees.
pub fn room_changed(conn: &mut Conn, room_id: &str, after: i64, upto: i64) -> Result<Vec<Receipt>> {
    Ok(receipts::table
        .filter(receipts::room_id.eq(room_id))
        .filter(receipts::stream_id.gt(after))
        .filter(receipts::stream_id.le(upto))
        .filter(receipts::receipt_type.ne("m.read.private"))
        .order(receipts::stream_id)
        .select((receipts::room_id, receipts::user_id, receipts::receipt_type, receipts::thread_id, receipts::event_id, receipts::ts))
        .load_on(conn)?)
}
