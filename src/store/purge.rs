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
    // while still deleting doubled the I/O); the checkpoint thread copies the log afterwards.
    // Checkpointing after each chunk was tried again in session 20: faster on a VM whose page
    // cache memory was cold, slower on one whose was warm (docs/performance.md).
    // PostgreSQL has no such per-connection settings to take.
    let sqlite = matches!(conn, Conn::Sqlite(_));
    if sqlite {
        conn.batch_execute("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -262144; PRAGMA wal_autocheckpoint = 0;")?;
    }
    let result = super::notifications::delete_room(conn, room_id).and_then(|_| delete_events(conn, room_id));
    if sqlite {
        conn.batch_execute(super::SQLITE_CONNECTION_SETTINGS)?;
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

#[cfg(test)]
mod tests {
    use super::super::{Conn, Db, Location};
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;

    #[derive(QueryableByName)]
    struct Synchronous {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        synchronous: i64,
    }
    #[derive(QueryableByName)]
    struct CacheSize {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        cache_size: i64,
    }
    #[derive(QueryableByName)]
    struct WalAutocheckpoint {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        wal_autocheckpoint: i64,
    }

    /// `(synchronous, cache_size, wal_autocheckpoint)` of a connection.
    fn settings(conn: &mut Conn) -> (i64, i64, i64) {
        let Conn::Sqlite(c) = conn else { panic!("an SQLite connection") };
        let s: Synchronous = diesel::sql_query("PRAGMA synchronous").get_result(c).unwrap();
        let k: CacheSize = diesel::sql_query("PRAGMA cache_size").get_result(c).unwrap();
        let w: WalAutocheckpoint = diesel::sql_query("PRAGMA wal_autocheckpoint").get_result(c).unwrap();
        (s.synchronous, k.cache_size, w.wal_autocheckpoint)
    }

    fn room_with_events(conn: &mut Conn, room: &str, n: usize) {
        let mut sql = format!("INSERT INTO rooms (room_id, room_version, creator, created_ts) VALUES ('{room}', '10', '@a:x', 0);");
        for i in 0..n {
            sql.push_str(&format!(
                "INSERT INTO events (event_id, room_id, sender, event_type, origin_server_ts, depth, json) \
                 VALUES ('${room}{i}', '{room}', '@a:x', 'm.room.message', 0, {i}, '{{}}');"
            ));
        }
        conn.batch_execute(&sql).unwrap();
    }

    fn events_of(conn: &mut Conn, room: &str) -> i64 {
        use super::super::schema::events;
        let Conn::Sqlite(c) = conn else { panic!("an SQLite connection") };
        events::table.filter(events::room_id.eq(room)).count().get_result(c).unwrap()
    }

    /// A purge relaxes its connection's durability, grows its cache and stops its checkpoints
    /// while it deletes; the pooled connection goes back with the settings every other commit
    /// relies on (FULL sync: an acknowledged event survives a power loss), whether the purge
    /// succeeded or failed.
    #[test]
    fn a_purge_gives_its_connection_back_as_it_found_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&Location::Sqlite(dir.path().join("t.db")), 2).unwrap();
        let mut conn = db.get().unwrap();
        let before = settings(&mut conn);
        assert_eq!(before, (2, -16000, 10000), "a pooled connection's settings");

        room_with_events(&mut conn, "!kept:x", 3);
        room_with_events(&mut conn, "!gone:x", 250);
        assert_eq!(super::purge_room(&mut conn, "!gone:x").unwrap(), 250);
        assert_eq!(settings(&mut conn), before);
        assert_eq!(events_of(&mut conn, "!gone:x"), 0);
        assert_eq!(events_of(&mut conn, "!kept:x"), 3);

        // A purge whose deletes fail part-way still restores the settings, and stays pending.
        room_with_events(&mut conn, "!stuck:x", 5);
        conn.batch_execute(
            "CREATE TRIGGER refuse BEFORE DELETE ON events WHEN OLD.room_id = '!stuck:x' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
        assert!(super::purge_room(&mut conn, "!stuck:x").is_err());
        assert_eq!(settings(&mut conn), before);
        assert_eq!(events_of(&mut conn, "!stuck:x"), 5);
        conn.batch_execute("DROP TRIGGER refuse;").unwrap();
        assert_eq!(super::resume_purges(&mut conn).unwrap().len(), 1);
        assert_eq!(events_of(&mut conn, "!stuck:x"), 0);
        assert_eq!(settings(&mut conn), before);
    }
}
