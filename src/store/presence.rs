//! Presence: each user's state (`online`, `unavailable`, `offline`), status message and when they
//! were last active.

use super::Conn;
use super::Direct;
use super::schema::presence;
use super::streams::{self, Stream};
use crate::error::Result;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable)]
pub struct Presence {
    pub user_id: String,
    pub state: String,
    pub status_msg: Option<String>,
    pub last_active_ts: i64,
}

/// `last_active` is refreshed at most this often by syncs (one write a minute per active user).
pub const ACTIVE_REFRESH_MS: i64 = 60_000;

/// Sets the user's state (and status message, when `Some`) and marks them active now. Returns
/// the new stream position when what others see changed, `None` otherwise.
pub fn set(conn: &mut Conn, user: &str, state: &str, status_msg: Option<Option<&str>>, now: i64) -> Result<Option<i64>> {
    // Most calls come from syncs and change nothing: decide that with a read, so a sync does not
    // take the write lock.
    if status_msg.is_none()
        && let Some(p) = get(conn, user)?
        && p.state == state
        && now - p.last_active_ts < ACTIVE_REFRESH_MS
    {
        return Ok(None);
    }
    super::write_txn(conn, |c| {
        let old: Option<(String, Option<String>, i64, i64)> = presence::table
            .find(user)
            .select((presence::state, presence::status_msg, presence::last_active_ts, presence::stream_id))
            .first_on(c)
            .optional()?;
        let msg = match status_msg {
            Some(m) => m.map(str::to_owned),
            None => old.as_ref().and_then(|o| o.1.clone()),
        };
        let visible_change = old.as_ref().is_none_or(|o| o.0 != state || o.1 != msg);
        if !visible_change && old.as_ref().is_some_and(|o| now - o.2 < ACTIVE_REFRESH_MS) {
            return Ok(None);
        }
        let stream_id = if visible_change { streams::next(c, Stream::Presence)? } else { old.as_ref().map(|o| o.3).unwrap_or(0) };
        both!(c, |c| diesel::insert_into(presence::table)
            .values((
                presence::user_id.eq(user),
                presence::state.eq(state),
                presence::status_msg.eq(&msg),
                presence::last_active_ts.eq(now),
                presence::stream_id.eq(stream_id),
            ))
            .on_conflict(presence::user_id)
            .do_update()
            .set((
                presence::state.eq(state),
                presence::status_msg.eq(&msg),
                presence::last_active_ts.eq(now),
                presence::stream_id.eq(stream_id),
            ))
            .execute(c))?;
        Ok(visible_change.then_some(stream_id))
    })
}

pub fn get(conn: &mut Conn, user: &str) -> Result<Option<Presence>> {
    Ok(presence::table
        .find(user)
        .select((presence::user_id, presence::state, presence::status_msg, presence::last_active_ts))
        .first_on(conn)
        .optional()?)
}

/// Presence of any of `users` changed in (after, upto].
pub fn changed_among(conn: &mut Conn, users: &[String], after: i64, upto: i64) -> Result<Vec<Presence>> {
    if after >= upto {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for chunk in users.chunks(500) {
        out.extend(
            presence::table
                .filter(presence::user_id.eq_any(chunk))
                .filter(presence::stream_id.gt(after))
                .filter(presence::stream_id.le(upto))
                .select((presence::user_id, presence::state, presence::status_msg, presence::last_active_ts))
                .load_on::<Presence>(conn)?,
        );
    }
    Ok(out)
}

/// The stored presence of each of `users` that has one.
pub fn get_many(conn: &mut Conn, users: &[String]) -> Result<Vec<Presence>> {
    let mut out = Vec::with_capacity(users.len());
    // Bound the bind parameters of one statement (SQLite allows 32,766).
    for chunk in users.chunks(500) {
        out.extend(
            presence::table
                .filter(presence::user_id.eq_any(chunk))
                .select((presence::user_id, presence::state, presence::status_msg, presence::last_active_ts))
                .load_on::<Presence>(conn)?,
        );
    }
    Ok(out)
}

pub fn position(conn: &mut Conn) -> Result<i64> {
    streams::current(conn, Stream::Presence)
}

/// Presence of `user`'s room-mates (and their own) that changed in (after, upto].
pub fn changed_for(conn: &mut Conn, user: &str, after: i64, upto: i64) -> Result<Vec<Presence>> {
    let changed: Vec<Presence> = presence::table
        .filter(presence::stream_id.gt(after))
        .filter(presence::stream_id.le(upto))
        .select((presence::user_id, presence::state, presence::status_msg, presence::last_active_ts))
        .load_on(conn)?;
    if changed.is_empty() {
        return Ok(changed);
    }
    let mates = super::memberships::room_mates(conn, user)?;
    Ok(changed.into_iter().filter(|p| mates.iter().any(|m| m.as_str() == p.user_id)).collect())
}
