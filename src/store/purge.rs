//! Deleting everything that belongs to a room.

use super::Conn;
use super::Direct;
use super::schema::{account_data, current_state, events, memberships, pending_purges, room_aliases, rooms, txn_ids};
use crate::error::Result;
use diesel::prelude::*;

/// Rows deleted per transaction, so other rooms' commits are not held up behind one huge delete.
const CHUNK: i64 = 100_000;

/// Deletes the room row first (so the room is unknown at once), then its state, memberships,
/// aliases, transaction IDs, room account data, reports and unread counts, then its
/// notifications and its events in chunks. Media is kept.
/// Returns the number of events deleted.
pub fn purge_room(conn: &mut Conn, room_id: &str) -> Result<usize> {
    super::write_txn(conn, |c| {
        both!(c, |c| diesel::insert_into(pending_purges::table)
            .values(pending_purges::room_id.eq(room_id))
            .on_conflict_do_nothing()
            .execute(c))?;
        diesel::delete(rooms::table.find(room_id)).execute(c)?;
        diesel::delete(current_state::table.filter(current_state::room_id.eq(room_id))).execute(c)?;
        super::notifications::delete_room_counts(c, room_id)?;
        diesel::delete(memberships::table.filter(memberships::room_id.eq(room_id))).execute(c)?;
        diesel::delete(room_aliases::table.filter(room_aliases::room_id.eq(room_id))).execute(c)?;
        diesel::delete(txn_ids::table.filter(txn_ids::room_id.eq(room_id))).execute(c)?;
        diesel::delete(account_data::table.filter(account_data::room_id.eq(room_id))).execute(c)?;
        diesel::delete(super::schema::receipts::table.filter(super::schema::receipts::room_id.eq(room_id))).execute(c)?;
        super::relations::delete_room(c, room_id)?;
        super::reports::delete_room(c, room_id)?;
        Ok(())
    })?;
    // Deleting is idempotent and the purge is recorded in pending_purges, so the chunks need not
    // each wait for a full fsync: a crash mid-purge is finished by `resume_purges` at start.
    use diesel::connection::SimpleConnection;
    // A large page cache keeps the event-ID index (random order) in memory while rows go, and
    // this connection does not checkpoint mid-purge (copying freed pages back into the database
    // while still deleting doubled the I/O); the next commit on another connection checkpoints.
    // PostgreSQL has no such per-connection settings to take.
    let sqlite = matches!(conn, Conn::Sqlite(_));
    if sqlite {
        conn.batch_execute("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -262144; PRAGMA wal_autocheckpoint = 0;")?;
    }
    let result = super::notifications::delete_room(conn, room_id).and_then(|_| delete_events(conn, room_id));
    if sqlite {
        conn.batch_execute("PRAGMA synchronous = FULL; PRAGMA cache_size = -16000; PRAGMA wal_autocheckpoint = 1000;")?;
    }
    let n = result?;
    diesel::delete(pending_purges::table.find(room_id)).execute(conn)?;
    Ok(n)
}

/// Finishes purges a crash interrupted. Returns the rooms finished.
pub fn resume_purges(conn: &mut Conn) -> Result<Vec<ruma::OwnedRoomId>> {
    let rooms: Vec<String> = pending_purges::table.select(pending_purges::room_id).load_on(conn)?;
    for r in &rooms {
        purge_room(conn, r)?;
    }
    Ok(super::typed::room_ids(rooms))
}

fn delete_events(conn: &mut Conn, room_id: &str) -> Result<usize> {
    let mut total = 0;
    loop {
        let n = super::write_txn(conn, |c| {
            let bound: Option<i64> = events::table
                .filter(events::room_id.eq(room_id))
                .order(events::stream_ordering.asc())
                .select(events::stream_ordering)
                .offset(CHUNK - 1)
                .first_on(c)
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

/// Events a history purge deletes per transaction.
const HISTORY_CHUNK: i64 = 5_000;

/// Deletes the room's events before stream position `before` (Synapse's purge_history): state
/// events stay (the room's state and the membership history visibility is judged by), and so do
/// events of local users (senders on `server_name`) unless `delete_local_events`. Their relations
/// go with them. Idempotent, in chunks. Returns the number of events deleted.
pub fn purge_history(conn: &mut Conn, room_id: &str, before: i64, delete_local_events: bool, server_name: &str) -> Result<usize> {
    use super::schema::event_relations;
    let local_suffix = format!("%:{server_name}");
    let mut total = 0;
    let mut from = i64::MIN;
    loop {
        let (n, last) = super::write_txn(conn, |c| {
            let mut q = events::table
                .filter(events::room_id.eq(room_id))
                .filter(events::stream_ordering.lt(before))
                .filter(events::stream_ordering.gt(from))
                .filter(events::state_key.is_null())
                .into_boxed();
            if !delete_local_events {
                q = q.filter(events::sender.not_like(&local_suffix));
            }
            let batch: Vec<(i64, String)> =
                q.order(events::stream_ordering.asc()).select((events::stream_ordering, events::event_id)).limit(HISTORY_CHUNK).load(c)?;
            let Some(last) = batch.last().map(|(s, _)| *s) else { return Ok((0, from)) };
            let (positions, ids): (Vec<i64>, Vec<String>) = batch.into_iter().unzip();
            diesel::delete(event_relations::table.filter(event_relations::event_id.eq_any(&ids))).execute(c)?;
            let n = diesel::delete(events::table.filter(events::stream_ordering.eq_any(&positions))).execute(c)?;
            Ok((n, last))
        })?;
        total += n;
        if n == 0 {
            return Ok(total);
        }
        from = last;
    }
}
