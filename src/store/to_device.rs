//! The device inbox: send-to-device messages kept until the device's sync acknowledges them.

use super::Conn;
use super::Direct;
use super::schema::{devices, to_device_messages, to_device_txns};
use super::streams::{self, Stream};
use crate::error::Result;
use diesel::prelude::*;

/// One message to deliver: the recipient device (`*` for all of the user's devices), type, content.
pub struct Outgoing {
    pub user_id: String,
    pub device_id: String,
    pub event_type: String,
    pub content: String,
}

/// A message as a device's sync shows it.
#[derive(Debug, Queryable)]
pub struct Delivered {
    pub stream_id: i64,
    pub sender: String,
    pub event_type: String,
    pub content: String,
}

/// Queues the messages in one transaction. Returns the recipients (users) and the new stream
/// position, or `None` if the sender's device already used this transaction ID.
pub fn send(conn: &mut Conn, sender: &str, sender_device: &str, txn_id: &str, msgs: &[Outgoing]) -> Result<Option<(Vec<String>, i64)>> {
    super::write_txn(conn, |c| {
        let fresh = both!(c, |c| diesel::insert_into(to_device_txns::table)
            .values((to_device_txns::user_id.eq(sender), to_device_txns::device_id.eq(sender_device), to_device_txns::txn_id.eq(txn_id)))
            .on_conflict_do_nothing()
            .execute(c))?;
        if fresh == 0 {
            return Ok(None);
        }
        let mut users = Vec::new();
        let mut last = streams::current(c, Stream::ToDevice)?;
        for m in msgs {
            let targets: Vec<String> = if m.device_id == "*" {
                devices::table.filter(devices::user_id.eq(&m.user_id)).select(devices::device_id).load_on(c)?
            } else {
                vec![m.device_id.clone()]
            };
            for device in targets {
                last = streams::next(c, Stream::ToDevice)?;
                diesel::insert_into(to_device_messages::table)
                    .values((
                        to_device_messages::stream_id.eq(last),
                        to_device_messages::user_id.eq(&m.user_id),
                        to_device_messages::device_id.eq(&device),
                        to_device_messages::sender.eq(sender),
                        to_device_messages::event_type.eq(&m.event_type),
                        to_device_messages::content.eq(&m.content),
                    ))
                    .execute(c)?;
            }
            if !users.contains(&m.user_id) {
                users.push(m.user_id.clone());
            }
        }
        Ok(Some((users, last)))
    })
}

/// The head of the to-device stream: acknowledged (deleted) messages keep their positions taken.
pub fn max_stream(conn: &mut Conn) -> Result<i64> {
    streams::current(conn, Stream::ToDevice)
}

/// Messages for the device in (after, upto], oldest first, at most `limit`.
pub fn pending(conn: &mut Conn, user_id: &str, device_id: &str, after: i64, upto: i64, limit: i64) -> Result<Vec<Delivered>> {
    Ok(to_device_messages::table
        .filter(to_device_messages::user_id.eq(user_id))
        .filter(to_device_messages::device_id.eq(device_id))
        .filter(to_device_messages::stream_id.gt(after))
        .filter(to_device_messages::stream_id.le(upto))
        .order(to_device_messages::stream_id)
        .limit(limit)
        .select((to_device_messages::stream_id, to_device_messages::sender, to_device_messages::event_type, to_device_messages::content))
        .load_on(conn)?)
}

/// The device has seen everything up to `upto`: those messages are done with.
pub fn acknowledge(conn: &mut Conn, user_id: &str, device_id: &str, upto: i64) -> Result<usize> {
    // Every sync acknowledges, and nearly all find nothing to delete. Looking first keeps them
    // readers: on SQLite a DELETE takes the one write lock even when it deletes nothing, so each
    // sync would queue behind (and sleep in the busy handler for) every room's commit.
    let delivered = to_device_messages::table
        .filter(to_device_messages::user_id.eq(user_id))
        .filter(to_device_messages::device_id.eq(device_id))
        .filter(to_device_messages::stream_id.le(upto));
    if !diesel::select(diesel::dsl::exists(delivered)).get_result_on::<bool>(conn)? {
        return Ok(0);
    }
    Ok(diesel::delete(
        to_device_messages::table
            .filter(to_device_messages::user_id.eq(user_id))
            .filter(to_device_messages::device_id.eq(device_id))
            .filter(to_device_messages::stream_id.le(upto)),
    )
    .execute(conn)?)
}

/// A deleted device's inbox and transaction IDs go with it.
pub fn delete_for_devices(conn: &mut Conn, user_id: &str, device_ids: &[String]) -> Result<()> {
    diesel::delete(
        to_device_messages::table.filter(to_device_messages::user_id.eq(user_id)).filter(to_device_messages::device_id.eq_any(device_ids)),
    )
    .execute(conn)?;
    diesel::delete(to_device_txns::table.filter(to_device_txns::user_id.eq(user_id)).filter(to_device_txns::device_id.eq_any(device_ids)))
        .execute(conn)?;
    Ok(())
}
