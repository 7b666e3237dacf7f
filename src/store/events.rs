//! Events, current state and memberships: the group commit of a room's batch, and history reads.

use super::Conn;
use super::Direct;
use super::rooms::RoomRow;
use super::schema::{current_state, events, memberships, rooms, txn_ids};
use crate::error::{Error, Result};
use crate::events::{Pdu, redact_stored, rules_for};
use diesel::prelude::*;
use ruma::OwnedEventId;
use std::collections::HashMap;

/// A built event waiting to be committed, with the transaction ID it answers, if any.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub pdu: Pdu,
    pub json: String,
    pub txn: Option<TxnKey>,
    /// Set by [`commit_rows`] when `txn` already named another event (a retry that raced the room
    /// actor's memory of its transaction IDs): the sender is answered with that event instead.
    pub existing_txn_event: Option<OwnedEventId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxnKey {
    pub user_id: String,
    pub device_id: String,
    pub txn_id: String,
}

/// An `events` row as a tuple, not a derived `Insertable`: a derived one leaves a `None` column
/// out of the SQL, so diesel cannot key its statement cache by type and writes the SQL out again
/// for every row; here `None` is bound as NULL and the statement is found by its type alone.
type EventRow<'a> = (
    diesel::dsl::Eq<events::stream_ordering, i64>,
    diesel::dsl::Eq<events::event_id, &'a str>,
    diesel::dsl::Eq<events::room_id, &'a str>,
    diesel::dsl::Eq<events::sender, &'a str>,
    diesel::dsl::Eq<events::event_type, &'a str>,
    diesel::dsl::Eq<events::state_key, Option<&'a str>>,
    diesel::dsl::Eq<events::origin_server_ts, i64>,
    diesel::dsl::Eq<events::depth, i64>,
    diesel::dsl::Eq<events::json, &'a str>,
);

#[derive(Insertable)]
#[diesel(table_name = txn_ids)]
struct TxnInsert<'a> {
    user_id: &'a str,
    device_id: &'a str,
    txn_id: &'a str,
    room_id: &'a str,
    event_id: &'a str,
    ts: i64,
}

/// Writes a batch inside the caller's write transaction ([`super::committer`]) and fills in each
/// event's stream position, taken from the event stream's allocator in the same transaction:
/// one writer at a time, so positions become visible in order, and a purge of the newest events
/// never frees a position.
pub fn commit_rows(c: &mut Conn, new_room: Option<&RoomRow>, batch: &mut [NewEvent]) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    if let Some(room) = new_room {
        diesel::insert_into(rooms::table).values(room).execute(c)?;
    }
    let last = super::streams::take(c, super::streams::Stream::Events, batch.len() as i64)?;
    let first = last - batch.len() as i64 + 1;
    for (ev, pos) in batch.iter_mut().zip(first..) {
        ev.pdu.stream_ordering = pos;
    }
    fn row(ev: &NewEvent) -> EventRow<'_> {
        (
            events::stream_ordering.eq(ev.pdu.stream_ordering),
            events::event_id.eq(ev.pdu.event_id.as_str()),
            events::room_id.eq(ev.pdu.room_id.as_str()),
            events::sender.eq(ev.pdu.sender.as_str()),
            events::event_type.eq(ev.pdu.kind.as_str()),
            events::state_key.eq(ev.pdu.state_key.as_deref()),
            events::origin_server_ts.eq(ev.pdu.origin_server_ts),
            events::depth.eq(ev.pdu.depth),
            events::json.eq(ev.json.as_str()),
        )
    }
    match c {
        // One row per statement on SQLite: a statement of one row is prepared once and kept,
        // and SQLite copies each page it touches into a statement journal only when a
        // statement writes several rows (a third of this function's time with many rows).
        Conn::Sqlite(c) => {
            for ev in batch.iter() {
                diesel::insert_into(events::table).values(row(ev)).execute(c)?;
            }
        }
        // Many rows per statement on PostgreSQL: every statement is a round trip and a parse.
        Conn::Pg(c) => {
            for chunk in batch.chunks(ROWS_PER_INSERT) {
                let rows: Vec<_> = chunk.iter().map(row).collect();
                diesel::insert_into(events::table).values(&rows).execute(c)?;
            }
        }
    }
    record_txn_ids(c, batch)?;
    for ev in batch.iter() {
        let (p, pos) = (&ev.pdu, ev.pdu.stream_ordering);
        if let Some(sk) = &p.state_key {
            both!(c, |c| diesel::insert_into(current_state::table)
                .values((
                    current_state::room_id.eq(p.room_id.as_str()),
                    current_state::event_type.eq(&p.kind),
                    current_state::state_key.eq(sk),
                    current_state::event_id.eq(p.event_id.as_str()),
                    current_state::stream_ordering.eq(pos),
                ))
                .on_conflict((current_state::room_id, current_state::event_type, current_state::state_key))
                .do_update()
                .set((current_state::event_id.eq(p.event_id.as_str()), current_state::stream_ordering.eq(pos)))
                .execute(c))?;
            if let Some(m) = p.membership() {
                both!(c, |c| diesel::insert_into(memberships::table)
                    .values((
                        memberships::room_id.eq(p.room_id.as_str()),
                        memberships::user_id.eq(sk),
                        memberships::membership.eq(m),
                        memberships::event_id.eq(p.event_id.as_str()),
                        memberships::stream_ordering.eq(pos),
                        memberships::forgotten.eq(false),
                    ))
                    .on_conflict((memberships::room_id, memberships::user_id))
                    .do_update()
                    .set((
                        memberships::membership.eq(m),
                        memberships::event_id.eq(p.event_id.as_str()),
                        memberships::stream_ordering.eq(pos),
                        memberships::forgotten.eq(false),
                    ))
                    .execute(c))?;
            }
        }
        super::relations::record(c, p)?;
        if let Some(target) = &p.redacts {
            redact(c, p.room_id.as_str(), target.as_str(), p)?;
        }
    }
    Ok(())
}

/// Rows per multi-row INSERT on PostgreSQL (SQLite inserts a row per statement): under its
/// bound-parameter limit of 65,535 at nine columns.
const ROWS_PER_INSERT: usize = 1000;

/// Records the batch's transaction IDs. A key already taken (by an earlier request, or by an
/// earlier event of this batch) must not fail the batch, and with it every other sender's event
/// and the room actor: the first event keeps the key, and a later one learns which it is.
fn record_txn_ids(c: &mut Conn, batch: &mut [NewEvent]) -> Result<()> {
    fn row(ev: &NewEvent) -> Option<TxnInsert<'_>> {
        let t = ev.txn.as_ref()?;
        Some(TxnInsert {
            user_id: &t.user_id,
            device_id: &t.device_id,
            txn_id: &t.txn_id,
            room_id: ev.pdu.room_id.as_str(),
            event_id: ev.pdu.event_id.as_str(),
            // The event is built when its key is taken.
            ts: ev.pdu.origin_server_ts,
        })
    }
    let mut wanted = 0;
    match c {
        // As the events themselves (commit_rows): one cached statement per row on SQLite. `OR
        // IGNORE` rather than `ON CONFLICT DO NOTHING`, which diesel writes out anew per row.
        Conn::Sqlite(c) => {
            for r in batch.iter().filter_map(row) {
                wanted += 1;
                wanted -= diesel::insert_or_ignore_into(txn_ids::table).values(r).execute(c)?;
            }
        }
        Conn::Pg(c) => {
            for chunk in batch.chunks(ROWS_PER_INSERT) {
                let rows: Vec<_> = chunk.iter().filter_map(row).collect();
                if rows.is_empty() {
                    continue;
                }
                wanted += rows.len();
                wanted -= diesel::insert_into(txn_ids::table).values(&rows).on_conflict_do_nothing().execute(c)?;
            }
        }
    }
    if wanted == 0 {
        return Ok(());
    }
    for ev in batch.iter_mut() {
        if let Some(t) = &ev.txn {
            let holder = txn_event(c, t)?;
            if holder.as_ref() != Some(&ev.pdu.event_id) {
                ev.existing_txn_event = holder;
            }
        }
    }
    Ok(())
}

fn redact(c: &mut Conn, room_id: &str, target: &str, redaction: &Pdu) -> Result<()> {
    type Row = (String, String, String, Option<String>, i64, i64);
    let row: Option<Row> = events::table
        .filter(events::event_id.eq(target))
        .filter(events::room_id.eq(room_id))
        .select((events::json, events::event_type, events::sender, events::state_key, events::origin_server_ts, events::depth))
        .first_on(c)
        .optional()?;
    let Some((json, kind, sender, state_key, ts, depth)) = row else { return Ok(()) };
    // As in Synapse, a redacted event no longer relates to anything (its reaction, edit or
    // thread reply is gone from the aggregations and `/relations`).
    super::relations::forget(c, target)?;
    let version: String = rooms::table.find(room_id).select(rooms::room_version).first_on(c)?;
    let redacted = match redact_stored(&json, &kind, &rules_for(&version), redaction) {
        Ok(r) => r,
        Err(e) => {
            // An unreadable target must not fail the batch: its columns still say what it was,
            // and the redaction leaves it readable again with empty content.
            log::error!("redacting unreadable stored event {target}: {e}");
            let mut v = serde_json::json!({
                "room_id": room_id, "sender": sender, "type": kind, "content": {},
                "origin_server_ts": ts, "depth": depth,
            });
            if let Some(sk) = state_key {
                v["state_key"] = sk.into();
            }
            redact_stored(&v.to_string(), &kind, &rules_for(&version), redaction)?
        }
    };
    diesel::update(events::table.filter(events::event_id.eq(target)))
        .set((events::json.eq(redacted), events::redacted_by.eq(redaction.event_id.as_str())))
        .execute(c)?;
    Ok(())
}

/// Parses stored rows into PDUs, leaving out (with an error log) any row that does not parse:
/// one unreadable event must not fail a read of the room, nor the room itself.
fn readable<'a>(rows: impl IntoIterator<Item = (&'a str, i64, &'a str)>) -> Vec<Pdu> {
    rows.into_iter().filter_map(|(id, pos, json)| readable_one(id, pos, json)).collect()
}

pub fn readable_one(event_id: &str, pos: i64, json: &str) -> Option<Pdu> {
    match Pdu::from_stored(event_id, pos, json) {
        Ok(p) => Some(p),
        Err(e) => {
            log::error!("skipping unreadable stored event {event_id}: {e}");
            None
        }
    }
}

pub struct LoadedRoom {
    pub row: RoomRow,
    pub state: Vec<Pdu>,
    /// The newest event (forward extremity) and its depth.
    pub last_event: Option<(OwnedEventId, i64)>,
}

pub fn load_room(conn: &mut Conn, room_id: &str) -> Result<Option<LoadedRoom>> {
    let Some(row) = rooms::table.find(room_id).select(RoomRow::as_select()).first(conn).optional()? else {
        return Ok(None);
    };
    type StateRow = (String, i64, String, String, String, String, i64, i64);
    let rows: Vec<StateRow> = current_state::table
        .inner_join(events::table.on(events::event_id.eq(current_state::event_id)))
        .filter(current_state::room_id.eq(room_id))
        .select((
            events::event_id,
            events::stream_ordering,
            events::json,
            current_state::event_type,
            current_state::state_key,
            events::sender,
            events::origin_server_ts,
            events::depth,
        ))
        .load_on(conn)?;
    let mut state = Vec::with_capacity(rows.len());
    for (id, pos, json, kind, state_key, sender, ts, depth) in rows {
        if let Some(p) = readable_one(&id, pos, &json) {
            state.push(p);
            continue;
        }
        // An unreadable membership still has its row in `memberships`: keep the member's
        // standing so they can still leave, be kicked or be evacuated.
        if kind == "m.room.member" {
            let membership: Option<String> =
                memberships::table.find((room_id, &state_key)).select(memberships::membership).first_on(conn).optional()?;
            let ids = (id.try_into(), room_id.try_into(), sender.try_into());
            if let (Some(m), (Ok(event_id), Ok(room_id), Ok(sender))) = (membership, ids) {
                state.push(Pdu {
                    event_id,
                    room_id,
                    sender,
                    kind,
                    state_key: Some(state_key),
                    content: serde_json::json!({"membership": m}),
                    origin_server_ts: ts,
                    depth,
                    redacts: None,
                    stream_ordering: pos,
                    redacted_because: None,
                });
            }
        }
    }
    let last_event: Option<(String, i64)> = events::table
        .filter(events::room_id.eq(room_id))
        .order(events::stream_ordering.desc())
        .select((events::event_id, events::depth))
        .first_on(conn)
        .optional()?;
    let last_event = match last_event {
        Some((id, depth)) => Some((OwnedEventId::try_from(id).map_err(|e| Error::internal_from("stored event ID", e))?, depth)),
        None => None,
    };
    Ok(Some(LoadedRoom { row, state, last_event }))
}

pub fn event_by_id(conn: &mut Conn, event_id: &str) -> Result<Option<Pdu>> {
    let row: Option<(i64, String)> =
        events::table.filter(events::event_id.eq(event_id)).select((events::stream_ordering, events::json)).first_on(conn).optional()?;
    Ok(row.and_then(|(pos, json)| readable_one(event_id, pos, &json)))
}

/// The event at a stream position, if it exists and parses.
pub fn event_at(conn: &mut Conn, position: i64) -> Result<Option<Pdu>> {
    let row: Option<(String, String)> = events::table.find(position).select((events::event_id, events::json)).first_on(conn).optional()?;
    Ok(row.and_then(|(id, json)| readable_one(&id, position, &json)))
}

/// The stored PDUs (federation form: prev and auth events, hashes, signatures) of `ids` that
/// exist and parse, by event ID.
pub fn stored_pdus(conn: &mut Conn, ids: &[&str]) -> Result<std::collections::HashMap<String, serde_json::Value>> {
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String)> =
            events::table.filter(events::event_id.eq_any(chunk)).select((events::event_id, events::json)).load_on(conn)?;
        out.extend(rows.into_iter().filter_map(|(id, json)| serde_json::from_str(&json).ok().map(|v| (id, v))));
    }
    Ok(out)
}

/// The room and sender of an event, from its columns: found even when its JSON is unreadable,
/// so such an event can still be redacted.
pub fn event_origin(conn: &mut Conn, event_id: &str) -> Result<Option<(String, String)>> {
    Ok(events::table.filter(events::event_id.eq(event_id)).select((events::room_id, events::sender)).first_on(conn).optional()?)
}

/// Which of a sender's events a user redaction takes: the newest `limit`, sent within the bounds
/// (ms, inclusive) when given.
#[derive(Debug, Clone, Copy)]
pub struct SentWindow {
    pub limit: i64,
    pub after_ts: Option<i64>,
    pub before_ts: Option<i64>,
}

/// A sender's unredacted events in a room that a user redaction takes, newest first: messages,
/// encrypted events and their joins (whose display name and avatar may carry the abuse), the
/// types Synapse takes.
pub fn redactable_by_sender(conn: &mut Conn, room_id: &str, sender: &str, window: &SentWindow) -> Result<Vec<String>> {
    let mut q = events::table
        .filter(events::room_id.eq(room_id))
        .filter(events::sender.eq(sender))
        .filter(events::redacted_by.is_null())
        .filter(events::event_type.eq_any(["m.room.message", "m.room.encrypted", "m.room.member"]))
        .into_boxed();
    if let Some(t) = window.after_ts {
        q = q.filter(events::origin_server_ts.ge(t));
    }
    if let Some(t) = window.before_ts {
        q = q.filter(events::origin_server_ts.le(t));
    }
    let rows: Vec<(String, String, Option<String>, String)> = q
        .order(events::stream_ordering.desc())
        .limit(window.limit)
        .select((events::event_id, events::event_type, events::state_key, events::json))
        .load(conn)?;
    let is_join = |json: &str| serde_json::from_str::<serde_json::Value>(json).is_ok_and(|v| v["content"]["membership"] == "join");
    Ok(rows
        .into_iter()
        .filter(|(_, kind, key, json)| kind != "m.room.member" || (key.as_deref() == Some(sender) && is_join(json)))
        .map(|(id, ..)| id)
        .collect())
}

/// An event's JSON as stored (signed, as other servers see it), `None` when there is no such
/// event or its JSON does not parse.
pub fn stored_json(conn: &mut Conn, event_id: &str) -> Result<Option<serde_json::Value>> {
    let json: Option<String> = events::table.filter(events::event_id.eq(event_id)).select(events::json).first_on(conn).optional()?;
    Ok(json.and_then(|j| match serde_json::from_str(&j) {
        Ok(v) => Some(v),
        Err(e) => {
            log::error!("stored event {event_id} is unreadable: {e}");
            None
        }
    }))
}

pub fn txn_event(conn: &mut Conn, key: &TxnKey) -> Result<Option<OwnedEventId>> {
    let id: Option<String> =
        txn_ids::table.find((&key.user_id, &key.device_id, &key.txn_id)).select(txn_ids::event_id).first_on(conn).optional()?;
    id.map(|id| OwnedEventId::try_from(id).map_err(|e| Error::internal_from("stored transaction's event ID", e))).transpose()
}

/// How long a transaction ID answers a retry with its event: a day, as Synapse keeps them.
pub const TXN_ID_LIFETIME_MS: i64 = 24 * 60 * 60 * 1000;
/// Expired transaction IDs deleted per write transaction: a short hold of the write lock.
const TXN_PRUNE_CHUNK: i64 = 1_000;

/// Deletes the transaction IDs taken before `before_ts` (ms); answers how many. The expired
/// keys are found in read transactions (the table has no index by time, and a scan must not
/// hold the write lock) and deleted by key a chunk at a time.
pub fn prune_txn_ids(conn: &mut Conn, before_ts: i64) -> Result<usize> {
    let mut deleted = 0;
    loop {
        let keys: Vec<(String, String, String)> = super::read_txn(conn, |c| {
            Ok(txn_ids::table
                .filter(txn_ids::ts.lt(before_ts))
                .select((txn_ids::user_id, txn_ids::device_id, txn_ids::txn_id))
                .limit(TXN_PRUNE_CHUNK)
                .load_on(c)?)
        })?;
        if keys.is_empty() {
            return Ok(deleted);
        }
        deleted += super::write_txn(conn, |c| {
            let mut n = 0;
            for (user_id, device_id, txn_id) in &keys {
                let key = txn_ids::table.find((user_id, device_id, txn_id)).filter(txn_ids::ts.lt(before_ts));
                n += both!(c, |c| diesel::delete(key).execute(c))?;
            }
            Ok(n)
        })?;
        if (keys.len() as i64) < TXN_PRUNE_CHUNK {
            return Ok(deleted);
        }
    }
}

/// What the store says of a room actor's queued sends' transaction IDs.
pub struct TxnLookUp {
    /// The event each key names, for those a request already took.
    pub events: HashMap<TxnKey, OwnedEventId>,
    /// Each device asked about, with the keys it holds in the room.
    pub devices: Vec<DeviceTxnIds>,
}

/// A device (user ID, device ID) and the transaction IDs it holds in a room; `None` when it
/// holds more than the limit asked for in all rooms together.
pub type DeviceTxnIds = ((String, String), Option<Vec<String>>);

/// The events `keys` name and the keys each of `devices` holds in `room_id`, in one read
/// transaction: SQLite otherwise takes and drops its read lock per look-up.
pub fn txn_look_up(conn: &mut Conn, keys: &[TxnKey], devices: &[(String, String)], room_id: &str, limit: i64) -> Result<TxnLookUp> {
    super::read_txn(conn, |conn| {
        let mut found = HashMap::new();
        for key in keys {
            if let Some(id) = txn_event(conn, key)? {
                found.insert(key.clone(), id);
            }
        }
        let mut held = Vec::with_capacity(devices.len());
        for (user_id, device_id) in devices {
            // By the key's first columns, so the read is bounded by `limit` whatever the room.
            let rows: Vec<(String, String)> = txn_ids::table
                .filter(txn_ids::user_id.eq(user_id))
                .filter(txn_ids::device_id.eq(device_id))
                .select((txn_ids::txn_id, txn_ids::room_id))
                .limit(limit + 1)
                .load_on(conn)?;
            let keys = (rows.len() as i64 <= limit).then(|| rows.into_iter().filter(|(_, r)| r == room_id).map(|(t, _)| t).collect());
            held.push(((user_id.clone(), device_id.clone()), keys));
        }
        Ok(TxnLookUp { events: found, devices: held })
    })
}

/// Separates a transaction ID's endpoint scope from the client's own ID in `txn_ids.txn_id`.
pub const TXN_SCOPE_SEP: char = '\u{1f}';

/// The transaction ID a device used for each of these events, for `unsigned.transaction_id`.
pub fn txn_ids_for(conn: &mut Conn, user_id: &str, device_id: &str, event_ids: &[String]) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = txn_ids::table
        .filter(txn_ids::user_id.eq(user_id))
        .filter(txn_ids::device_id.eq(device_id))
        .filter(txn_ids::event_id.eq_any(event_ids))
        .select((txn_ids::event_id, txn_ids::txn_id))
        .load_on(conn)?;
    Ok(rows.into_iter().map(|(e, t)| (e, client_txn_id(&t).to_owned())).collect())
}

/// The transaction ID as the client sent it: a stored key without its scope.
pub fn client_txn_id(stored: &str) -> &str {
    stored.rsplit(TXN_SCOPE_SEP).next().unwrap_or_default()
}

/// The head of the event stream (not the newest event present: a purge may have deleted it).
pub fn max_stream(conn: &mut Conn) -> Result<i64> {
    super::streams::current(conn, super::streams::Stream::Events)
}

/// Events of a room with `after < position <= upto`, newest first or oldest first, at most `limit`.
/// Unreadable rows are skipped and made up for from further on, so a short page still means
/// the end of the range (callers decide on a next page from that).
pub fn room_events(
    conn: &mut Conn,
    room_id: &str,
    after: i64,
    upto: i64,
    limit: i64,
    newest_first: bool,
    types: Option<&[String]>,
) -> Result<Vec<Pdu>> {
    let (mut after, mut upto) = (after, upto);
    let mut out = Vec::new();
    loop {
        let want = limit - out.len() as i64;
        let q = events::table
            .filter(events::room_id.eq(room_id))
            .filter(events::stream_ordering.gt(after))
            .filter(events::stream_ordering.le(upto))
            .select((events::event_id, events::stream_ordering, events::json))
            .limit(want);
        // Without a type filter (every sync's timeline) the query has a fixed shape, which runs
        // as a cached statement.
        let rows: Vec<(String, i64, String)> = match (types, newest_first) {
            (None, true) => q.order(events::stream_ordering.desc()).load_on(conn)?,
            (None, false) => q.order(events::stream_ordering.asc()).load_on(conn)?,
            (Some(t), _) => {
                let q = q.filter(events::event_type.eq_any(t.to_vec())).into_boxed();
                let q = if newest_first { q.order(events::stream_ordering.desc()) } else { q.order(events::stream_ordering.asc()) };
                q.load(conn)?
            }
        };
        let Some(last) = rows.last().map(|r| r.1) else { break };
        let got = rows.len() as i64;
        out.extend(readable(rows.iter().map(|(id, pos, json)| (id.as_str(), *pos, json.as_str()))));
        if got < want || out.len() as i64 >= limit {
            break;
        }
        if newest_first {
            upto = last - 1;
        } else {
            after = last;
        }
    }
    Ok(out)
}

/// The room's state as of stream position `at` (inclusive): the newest event per state key.
pub fn state_at(conn: &mut Conn, room_id: &str, at: i64) -> Result<Vec<Pdu>> {
    state_between(conn, room_id, 0, at)
}

/// The newest state event per key with `after < position <= upto`.
pub fn state_between(conn: &mut Conn, room_id: &str, after: i64, upto: i64) -> Result<Vec<Pdu>> {
    let rows: Vec<(String, i64, String, String, Option<String>)> = events::table
        .filter(events::room_id.eq(room_id))
        .filter(events::state_key.is_not_null())
        .filter(events::stream_ordering.gt(after))
        .filter(events::stream_ordering.le(upto))
        .order(events::stream_ordering.asc())
        .select((events::event_id, events::stream_ordering, events::json, events::event_type, events::state_key))
        .load_on(conn)?;
    let mut latest: std::collections::HashMap<(String, String), (String, i64, String)> = std::collections::HashMap::new();
    for (id, pos, json, kind, sk) in rows {
        latest.insert((kind, sk.unwrap_or_default()), (id, pos, json));
    }
    let mut out = readable(latest.values().map(|(id, pos, json)| (id.as_str(), *pos, json.as_str())));
    out.sort_by_key(|p| p.stream_ordering);
    Ok(out)
}

/// Users up to which [`members_at`] reads each one's member event with its own cached statement
/// (an index seek) rather than one `IN` list, which SQLite prepares again on every call.
const MEMBERS_ONE_BY_ONE: usize = 16;

/// The member events of `users` as of stream position `at` (inclusive), the newest per user.
pub fn members_at(conn: &mut Conn, room_id: &str, at: i64, users: &[&str]) -> Result<Vec<Pdu>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    if users.len() <= MEMBERS_ONE_BY_ONE {
        let mut rows = Vec::with_capacity(users.len());
        for user in users {
            let row: Option<(String, i64, String)> = events::table
                .filter(events::room_id.eq(room_id))
                .filter(events::event_type.eq("m.room.member"))
                .filter(events::state_key.eq(*user))
                .filter(events::stream_ordering.le(at))
                .order(events::stream_ordering.desc())
                .select((events::event_id, events::stream_ordering, events::json))
                .first_on(conn)
                .optional()?;
            rows.extend(row);
        }
        let mut out = readable(rows.iter().map(|(id, pos, json)| (id.as_str(), *pos, json.as_str())));
        out.sort_by_key(|p| p.stream_ordering);
        return Ok(out);
    }
    let rows: Vec<(String, i64, String, Option<String>)> = events::table
        .filter(events::room_id.eq(room_id))
        .filter(events::event_type.eq("m.room.member"))
        .filter(events::state_key.eq_any(users))
        .filter(events::stream_ordering.le(at))
        .order(events::stream_ordering.asc())
        .select((events::event_id, events::stream_ordering, events::json, events::state_key))
        .load_on(conn)?;
    let mut latest: std::collections::HashMap<String, (String, i64, String)> = std::collections::HashMap::new();
    for (id, pos, json, sk) in rows {
        latest.insert(sk.unwrap_or_default(), (id, pos, json));
    }
    let mut out = readable(latest.values().map(|(id, pos, json)| (id.as_str(), *pos, json.as_str())));
    out.sort_by_key(|p| p.stream_ordering);
    Ok(out)
}

/// The current state of a room as stored.
pub fn current_state(conn: &mut Conn, room_id: &str) -> Result<Vec<Pdu>> {
    let rows: Vec<(String, i64, String)> = current_state::table
        .inner_join(events::table.on(events::event_id.eq(current_state::event_id)))
        .filter(current_state::room_id.eq(room_id))
        .order(events::stream_ordering.asc())
        .select((events::event_id, events::stream_ordering, events::json))
        .load_on(conn)?;
    Ok(readable(rows.iter().map(|(id, pos, json)| (id.as_str(), *pos, json.as_str()))))
}

pub fn state_event(conn: &mut Conn, room_id: &str, kind: &str, state_key: &str) -> Result<Option<Pdu>> {
    let row: Option<(String, i64, String)> = current_state::table
        .inner_join(events::table.on(events::event_id.eq(current_state::event_id)))
        .filter(current_state::room_id.eq(room_id))
        .filter(current_state::event_type.eq(kind))
        .filter(current_state::state_key.eq(state_key))
        .select((events::event_id, events::stream_ordering, events::json))
        .first_on(conn)
        .optional()?;
    Ok(row.and_then(|(id, pos, json)| readable_one(&id, pos, &json)))
}

/// The current state events of one type (every state key) of a room.
pub fn state_of_type(conn: &mut Conn, room_id: &str, kind: &str) -> Result<Vec<Pdu>> {
    let rows: Vec<(String, i64, String)> = current_state::table
        .inner_join(events::table.on(events::event_id.eq(current_state::event_id)))
        .filter(current_state::room_id.eq(room_id))
        .filter(current_state::event_type.eq(kind))
        .order(events::stream_ordering.asc())
        .select((events::event_id, events::stream_ordering, events::json))
        .load_on(conn)?;
    Ok(readable(rows.iter().map(|(id, pos, json)| (id.as_str(), *pos, json.as_str()))))
}

/// Rooms anyone may join or read (join rule `public` or history `world_readable`): their
/// members are findable in the user directory, as in Synapse.
pub fn public_rooms(conn: &mut Conn) -> Result<Vec<String>> {
    let rows: Vec<(String, i64, String)> = current_state::table
        .inner_join(events::table.on(events::event_id.eq(current_state::event_id)))
        .filter(current_state::event_type.eq_any(["m.room.join_rules", "m.room.history_visibility"]))
        .filter(current_state::state_key.eq(""))
        .select((events::event_id, events::stream_ordering, events::json))
        .load_on(conn)?;
    let mut rooms: Vec<String> = readable(rows.iter().map(|(id, pos, json)| (id.as_str(), *pos, json.as_str())))
        .into_iter()
        .filter(|p| {
            p.content.get("join_rule") == Some(&"public".into()) || p.content.get("history_visibility") == Some(&"world_readable".into())
        })
        .map(|p| p.room_id.to_string())
        .collect();
    rooms.sort();
    rooms.dedup();
    Ok(rooms)
}

/// The current state events with an empty state key of the given types, for many rooms at once.
pub fn room_state_of_types(conn: &mut Conn, room_ids: &[String], kinds: &[&str]) -> Result<Vec<Pdu>> {
    let rows: Vec<(String, i64, String)> = current_state::table
        .inner_join(events::table.on(events::event_id.eq(current_state::event_id)))
        .filter(current_state::room_id.eq_any(room_ids))
        .filter(current_state::event_type.eq_any(kinds))
        .filter(current_state::state_key.eq(""))
        .select((events::event_id, events::stream_ordering, events::json))
        .load_on(conn)?;
    Ok(readable(rows.iter().map(|(id, pos, json)| (id.as_str(), *pos, json.as_str()))))
}

/// (position, event ID, room ID, type, JSON) of one searchable event.
pub type SearchableRow = (i64, String, String, String, String);

/// Searchable events (messages, names, topics, redactions) after `after`, oldest first.
/// Redacted events are skipped.
pub fn searchable_page(conn: &mut Conn, after: i64, limit: i64) -> Result<Vec<SearchableRow>> {
    Ok(events::table
        .filter(events::stream_ordering.gt(after))
        .filter(events::event_type.eq_any(["m.room.message", "m.room.name", "m.room.topic", "m.room.redaction"]))
        .filter(events::redacted_by.is_null())
        .order(events::stream_ordering.asc())
        .limit(limit)
        .select((events::stream_ordering, events::event_id, events::room_id, events::event_type, events::json))
        .load_on(conn)?)
}

/// Whether any event was ever stored (and so signed with the server's key).
pub fn any_event(conn: &mut Conn) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(events::table.select(events::stream_ordering))).get_result_on(conn)?)
}

/// Events of every room with `after < position <= upto`, oldest first, at most `limit`
/// (unreadable rows skipped). Returns them, the position of the last row read (readable or not)
/// and whether the page is full.
pub fn page_after(conn: &mut Conn, after: i64, upto: i64, limit: i64) -> Result<(Vec<Pdu>, Option<i64>, bool)> {
    let rows: Vec<(String, i64, String)> = events::table
        .filter(events::stream_ordering.gt(after))
        .filter(events::stream_ordering.le(upto))
        .order(events::stream_ordering.asc())
        .limit(limit)
        .select((events::event_id, events::stream_ordering, events::json))
        .load_on(conn)?;
    let (last, full) = (rows.last().map(|r| r.1), rows.len() as i64 >= limit);
    Ok((readable(rows.iter().map(|(id, pos, json)| (id.as_str(), *pos, json.as_str()))), last, full))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_transaction_ids_go_in_chunks_and_younger_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::Db::open(&crate::store::Location::Sqlite(dir.path().join("t.db")), 2).unwrap();
        let mut c = db.get().unwrap();
        let expired = TXN_PRUNE_CHUNK as usize * 2 + 7;
        let row = |n: usize, ts: i64| {
            (
                txn_ids::user_id.eq("@a:x"),
                txn_ids::device_id.eq(if n.is_multiple_of(2) { "D1" } else { "D2" }),
                txn_ids::txn_id.eq(format!("t{n}")),
                txn_ids::room_id.eq("!r:x"),
                txn_ids::event_id.eq(format!("$e{n}")),
                txn_ids::ts.eq(ts),
            )
        };
        let rows: Vec<_> = (0..expired + 5).map(|n| row(n, if n < expired { 1_000 } else { 5_000 })).collect();
        for chunk in rows.chunks(500) {
            both!(&mut *c, |c| diesel::insert_into(txn_ids::table).values(chunk).execute(c)).unwrap();
        }
        assert_eq!(prune_txn_ids(&mut c, 5_000).unwrap(), expired);
        let left: Vec<String> = txn_ids::table.select(txn_ids::txn_id).order(txn_ids::txn_id).load_on(&mut c).unwrap();
        let young: Vec<String> = (expired..expired + 5).map(|n| format!("t{n}")).collect();
        assert_eq!(left, young);
        assert_eq!(prune_txn_ids(&mut c, 5_000).unwrap(), 0);
    }
}
