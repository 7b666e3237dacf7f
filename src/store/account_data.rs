//! Global and per-room account data (room tags are the `m.tag` room account data), and filters.

use super::Conn;
use super::Direct;
use super::schema::{account_data, filters};
use super::streams::{self, Stream};
use crate::error::Result;
use diesel::prelude::*;

/// Room ID stored for global account data.
pub const GLOBAL: &str = "";

pub fn set(conn: &mut Conn, user_id: &str, room_id: &str, data_type: &str, content: &str) -> Result<i64> {
    super::write_txn(conn, |c| {
        let id = streams::next(c, Stream::AccountData)?;
        both!(c, |c| diesel::insert_into(account_data::table)
            .values((
                account_data::user_id.eq(user_id),
                account_data::room_id.eq(room_id),
                account_data::data_type.eq(data_type),
                account_data::content.eq(content),
                account_data::stream_id.eq(id),
            ))
            .on_conflict((account_data::user_id, account_data::room_id, account_data::data_type))
            .do_update()
            .set((account_data::content.eq(content), account_data::stream_id.eq(id)))
            .execute(c))?;
        Ok(id)
    })
}

pub fn get(conn: &mut Conn, user_id: &str, room_id: &str, data_type: &str) -> Result<Option<String>> {
    Ok(account_data::table.find((user_id, room_id, data_type)).select(account_data::content).first_on(conn).optional()?)
}

/// The stream position an entry was last written at.
pub fn position(conn: &mut Conn, user_id: &str, room_id: &str, data_type: &str) -> Result<Option<i64>> {
    Ok(account_data::table.find((user_id, room_id, data_type)).select(account_data::stream_id).first_on(conn).optional()?)
}

/// (room_id, type, content) changed after `since`.
pub fn changed_since(conn: &mut Conn, user_id: &str, since: i64) -> Result<Vec<(String, String, String)>> {
    Ok(account_data::table
        .filter(account_data::user_id.eq(user_id))
        .filter(account_data::stream_id.gt(since))
        .order(account_data::stream_id.asc())
        .select((account_data::room_id, account_data::data_type, account_data::content))
        .load_on(conn)?)
}

pub fn current_stream_id(conn: &mut Conn) -> Result<i64> {
    streams::current(conn, Stream::AccountData)
}

pub fn add_filter(conn: &mut Conn, user_id: &str, json: &str) -> Result<i64> {
    super::write_txn(conn, |c| {
        let max: Option<i64> =
            filters::table.filter(filters::user_id.eq(user_id)).select(diesel::dsl::max(filters::filter_id)).first_on(c)?;
        let id = max.unwrap_or(-1) + 1;
        diesel::insert_into(filters::table)
            .values((filters::user_id.eq(user_id), filters::filter_id.eq(id), filters::filter_json.eq(json)))
            .execute(c)?;
        Ok(id)
    })
}

pub fn get_filter(conn: &mut Conn, user_id: &str, id: i64) -> Result<Option<String>> {
    Ok(filters::table.find((user_id, id)).select(filters::filter_json).first_on(conn).optional()?)
}

/// Reads, changes and writes one entry in one transaction (so concurrent changes of the same
/// entry never lose one another): `change` gets the stored content and answers the new one.
/// Returns the new stream position.
pub fn update(
    conn: &mut Conn,
    user_id: &str,
    room_id: &str,
    data_type: &str,
    change: impl FnOnce(Option<String>) -> Result<String>,
) -> Result<i64> {
    super::write_txn(conn, |c| {
        let old = get(c, user_id, room_id, data_type)?;
        let new = change(old)?;
        set(c, user_id, room_id, data_type, &new)
    })
}
