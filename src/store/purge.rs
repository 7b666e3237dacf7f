//! Deleting everything that belongs to a room.

use super::Conn;
use super::schema::{account_data, current_state, events, memberships, room_aliases, rooms, txn_ids};
use crate::error::MResult;
use diesel::prelude::*;

/// Rows deleted per transaction, so other rooms' commits are not held up behind one huge delete.
const CHUNK: i64 = 20_000;

/// Deletes the room row first (so the room is unknown at once), then its state, memberships,
/// aliases, transaction IDs and room account data, then its events in chunks. Media is kept.
/// Returns the number of events deleted.
pub fn purge_room(conn: &mut Conn, room_id: &str) -> MResult<usize> {
    super::write_txn(conn, |c| {
        diesel::delete(rooms::table.find(room_id)).execute(c)?;
        diesel::delete(current_state::table.filter(current_state::room_id.eq(room_id))).execute(c)?;
        diesel::delete(memberships::table.filter(memberships::room_id.eq(room_id))).execute(c)?;
        diesel::delete(room_aliases::table.filter(room_aliases::room_id.eq(room_id))).execute(c)?;
        diesel::delete(txn_ids::table.filter(txn_ids::room_id.eq(room_id))).execute(c)?;
        diesel::delete(account_data::table.filter(account_data::room_id.eq(room_id))).execute(c)?;
        Ok(())
    })?;
    let mut total = 0;
    loop {
        let n = super::write_txn(conn, |c| {
            let bound: Option<i64> = events::table
                .filter(events::room_id.eq(room_id))
                .order(events::stream_ordering.asc())
                .select(events::stream_ordering)
                .offset(CHUNK - 1)
                .first(c)
                .optional()?;
            let q = events::table.filter(events::room_id.eq(room_id));
            Ok(match bound {
                Some(b) => diesel::delete(q.filter(events::stream_ordering.le(b))).execute(c)?,
                None => diesel::delete(q).execute(c)?,
            })
        })?;
        total += n;
        if n < CHUNK as usize {
            return Ok(total);
        }
    }
}
