//! What admins set on a user beyond the account row's flags: suspension, a message rate limit
//! override, experimental features, a window to replace cross-signing keys without interactive
//! auth; and the admin API's counts over a user's membership history.

use super::Conn;
use super::Direct;
use super::schema::{
    cross_signing_replacement_windows as windows, events, memberships, ratelimit_overrides as overrides,
    user_experimental_features as features, user_threepids, users,
};
use crate::error::Result;
use diesel::prelude::*;
use std::collections::{BTreeMap, HashSet};

/// A filter on the membership a stored member event's JSON gives, in each backend's JSON syntax.
fn member_event_says(conn: &Conn, membership: &'static str) -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql(&match conn {
        Conn::Sqlite(_) => format!("json_extract(events.json, '$.content.membership') = '{membership}'"),
        Conn::Pg(_) => format!("(events.json::jsonb #>> '{{content,membership}}') = '{membership}'"),
    })
}

pub fn set_suspended(conn: &mut Conn, user_id: &str, suspended: bool) -> Result<usize> {
    Ok(diesel::update(users::table.find(user_id)).set(users::suspended.eq(suspended)).execute(conn)?)
}

/// (messages per second, burst count) if an admin overrode the user's limit.
pub fn ratelimit_override(conn: &mut Conn, user_id: &str) -> Result<Option<(i64, i64)>> {
    Ok(overrides::table.find(user_id).select((overrides::messages_per_second, overrides::burst_count)).first_on(conn).optional()?)
}

pub fn set_ratelimit_override(conn: &mut Conn, user_id: &str, per_second: i64, burst: i64) -> Result<()> {
    both!(conn, |c| diesel::insert_into(overrides::table)
        .values((overrides::user_id.eq(user_id), overrides::messages_per_second.eq(per_second), overrides::burst_count.eq(burst)))
        .on_conflict(overrides::user_id)
        .do_update()
        .set((overrides::messages_per_second.eq(per_second), overrides::burst_count.eq(burst)))
        .execute(c))?;
    Ok(())
}

pub fn delete_ratelimit_override(conn: &mut Conn, user_id: &str) -> Result<()> {
    diesel::delete(overrides::table.find(user_id)).execute(conn)?;
    Ok(())
}

/// The features switched on for the user.
pub fn enabled_features(conn: &mut Conn, user_id: &str) -> Result<HashSet<String>> {
    let on: Vec<String> =
        features::table.filter(features::user_id.eq(user_id)).filter(features::enabled.eq(true)).select(features::feature).load_on(conn)?;
    Ok(on.into_iter().collect())
}

pub fn set_features(conn: &mut Conn, user_id: &str, set: &BTreeMap<String, bool>) -> Result<()> {
    super::write_txn(conn, |c| {
        for (feature, enabled) in set {
            both!(c, |c| diesel::insert_into(features::table)
                .values((features::user_id.eq(user_id), features::feature.eq(feature), features::enabled.eq(enabled)))
                .on_conflict((features::user_id, features::feature))
                .do_update()
                .set(features::enabled.eq(enabled))
                .execute(c))?;
        }
        Ok(())
    })
}

/// Until when the user may replace their master cross-signing key without interactive auth.
pub fn replacement_window(conn: &mut Conn, user_id: &str) -> Result<Option<i64>> {
    Ok(windows::table.find(user_id).select(windows::until_ms).first_on(conn).optional()?)
}

pub fn open_replacement_window(conn: &mut Conn, user_id: &str, until_ms: i64) -> Result<()> {
    both!(conn, |c| diesel::insert_into(windows::table)
        .values((windows::user_id.eq(user_id), windows::until_ms.eq(until_ms)))
        .on_conflict(windows::user_id)
        .do_update()
        .set(windows::until_ms.eq(until_ms))
        .execute(c))?;
    Ok(())
}

/// A replaced master key ends the window: the next replacement needs auth again.
pub fn close_replacement_window(conn: &mut Conn, user_id: &str) -> Result<()> {
    diesel::delete(windows::table.find(user_id)).execute(conn)?;
    Ok(())
}

/// The user holding a third-party ID.
pub fn user_by_threepid(conn: &mut Conn, medium: &str, address: &str) -> Result<Option<String>> {
    Ok(user_threepids::table
        .filter(user_threepids::medium.eq(medium))
        .filter(user_threepids::address.eq(address))
        .select(user_threepids::user_id)
        .first_on(conn)
        .optional()?)
}

/// The user's current membership in every room this server knows them in, forgotten ones too.
pub fn memberships_of(conn: &mut Conn, user_id: &str) -> Result<Vec<(String, String)>> {
    Ok(memberships::table
        .filter(memberships::user_id.eq(user_id))
        .order(memberships::stream_ordering.asc())
        .select((memberships::room_id, memberships::membership))
        .load_on(conn)?)
}

/// Rooms the user has ever had a membership in: where their member events, and those they
/// sent, can be. Walking these rooms uses the (room, type, state key) index of events.
fn rooms_of(conn: &mut Conn, user_id: &str) -> Result<Vec<String>> {
    Ok(memberships::table.filter(memberships::user_id.eq(user_id)).select(memberships::room_id).load_on(conn)?)
}

/// Invites the user sent at or after `from_ts` (ms).
pub fn sent_invite_count(conn: &mut Conn, user_id: &str, from_ts: i64) -> Result<i64> {
    let mut total = 0;
    for rooms in rooms_of(conn, user_id)?.chunks(500) {
        let n: i64 = events::table
            .filter(events::room_id.eq_any(rooms))
            .filter(events::event_type.eq("m.room.member"))
            .filter(events::sender.eq(user_id))
            .filter(events::state_key.ne(user_id))
            .filter(events::origin_server_ts.ge(from_ts))
            .filter(member_event_says(conn, "invite"))
            .count()
            .get_result_on(conn)?;
        total += n;
    }
    Ok(total)
}

/// Rooms the user joined at or after `from_ts` (ms), whether or not they are still there.
pub fn cumulative_joined_room_count(conn: &mut Conn, user_id: &str, from_ts: i64) -> Result<i64> {
    let mut total = 0;
    for rooms in rooms_of(conn, user_id)?.chunks(500) {
        let n: i64 = events::table
            .filter(events::room_id.eq_any(rooms))
            .filter(events::event_type.eq("m.room.member"))
            .filter(events::state_key.eq(user_id))
            .filter(events::origin_server_ts.ge(from_ts))
            .filter(member_event_says(conn, "join"))
            .select(diesel::dsl::count(events::room_id).aggregate_distinct())
            .get_result_on(conn)?;
        total += n;
    }
    Ok(total)
}
