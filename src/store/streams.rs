//! The head of every stream a sync token carries, one allocator per stream.
//!
//! A position is taken by advancing the stream's row in the same write transaction that inserts
//! the row carrying it, so a position is visible exactly when its row is, and SQLite's single
//! writer makes the heads commit in order. The head is never derived from the rows present:
//! deleting rows (acknowledged to-device messages, a purged room's newest events and receipts)
//! must neither move a stream backwards nor let a position be handed out twice.

use super::Conn;
use super::Direct;
use super::schema::stream_positions;
use crate::error::Result;
use diesel::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Events,
    AccountData,
    ToDevice,
    DeviceLists,
    Receipts,
    Presence,
    /// Kept in memory by the typing board; the store only holds the ceiling of the block of
    /// positions the running server reserved (see [`reserve_typing`]).
    Typing,
}

impl Stream {
    fn key(self) -> &'static str {
        match self {
            Stream::Events => "events",
            Stream::AccountData => "account_data",
            Stream::ToDevice => "to_device",
            Stream::DeviceLists => "device_lists",
            Stream::Receipts => "receipts",
            Stream::Presence => "presence",
            Stream::Typing => "typing",
        }
    }
}

/// The stored streams' heads, read together so a sync's positions come from one snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Heads {
    pub events: i64,
    pub account_data: i64,
    pub to_device: i64,
    pub device_lists: i64,
    pub receipts: i64,
    pub presence: i64,
}

/// Takes `n` (at least 1) consecutive positions and returns the last; the first is `last - n + 1`.
/// Run it inside the write transaction that stores the rows.
pub fn take(conn: &mut Conn, stream: Stream, n: i64) -> Result<i64> {
    // Outside a transaction the head would commit before the row carrying it, and a reader
    // could move past that row before it exists.
    use diesel::connection::TransactionManager;
    let depth = <Conn as Connection>::TransactionManager::transaction_manager_status_mut(conn).transaction_depth().ok().flatten();
    if depth.is_none() {
        return Err(crate::error::Error::internal("a stream position was taken outside a write transaction"));
    }
    match conn {
        // diesel prepares every UPDATE anew (it never caches one), and the event writer takes
        // positions at every commit: on SQLite a SELECT and a REPLACE of the two-column row,
        // both kept prepared, with the write transaction holding the row between them.
        Conn::Sqlite(c) => {
            let now: i64 = stream_positions::table.find(stream.key()).select(stream_positions::position).first(c)?;
            let last = now + n.max(1);
            diesel::replace_into(stream_positions::table)
                .values((stream_positions::stream.eq(stream.key()), stream_positions::position.eq(last)))
                .execute(c)?;
            Ok(last)
        }
        Conn::Pg(c) => Ok(diesel::update(stream_positions::table.find(stream.key()))
            .set(stream_positions::position.eq(stream_positions::position + n.max(1)))
            .returning(stream_positions::position)
            .get_result(c)?),
    }
}

/// Takes the next position of `stream`.
pub fn next(conn: &mut Conn, stream: Stream) -> Result<i64> {
    take(conn, stream, 1)
}

/// The highest position handed out on `stream` (0 before the first).
pub fn current(conn: &mut Conn, stream: Stream) -> Result<i64> {
    Ok(stream_positions::table.find(stream.key()).select(stream_positions::position).first_on::<i64>(conn).optional()?.unwrap_or(0))
}

pub fn heads(conn: &mut Conn) -> Result<Heads> {
    let rows: Vec<(String, i64)> = stream_positions::table.select((stream_positions::stream, stream_positions::position)).load_on(conn)?;
    let mut h = Heads::default();
    for (stream, position) in rows {
        let field = match stream.as_str() {
            "events" => &mut h.events,
            "account_data" => &mut h.account_data,
            "to_device" => &mut h.to_device,
            "device_lists" => &mut h.device_lists,
            "receipts" => &mut h.receipts,
            "presence" => &mut h.presence,
            _ => continue,
        };
        *field = position;
    }
    Ok(h)
}

/// Positions the typing board may hand out in one server life before it would reach the next
/// start's first position.
pub const TYPING_BLOCK: i64 = 1 << 32;

/// Reserves the typing positions of this server life: returns the first, above every position
/// any earlier life could have handed out, and records the end of the block. The clock is a
/// floor so tokens from before this allocator existed (clock-seeded) stay behind.
pub fn reserve_typing(conn: &mut Conn, now_ms: i64) -> Result<i64> {
    super::write_txn(conn, |c| {
        let start = current(c, Stream::Typing)?.max(now_ms);
        diesel::update(stream_positions::table.find(Stream::Typing.key()))
            .set(stream_positions::position.eq(start.saturating_add(TYPING_BLOCK)))
            .execute(c)?;
        Ok(start)
    })
}
