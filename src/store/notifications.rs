//! Notifications (what push rules decided after commit), per-room unread counts, and how far
//! the evaluator has read the event stream.

use super::Conn;
use super::schema::{memberships, push_counts, push_notifications, push_progress, receipts};
use crate::error::Result;
use diesel::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

/// The thread key of events outside any thread (the name threaded receipts use for them).
pub const MAIN_THREAD: &str = "main";

/// A notification to record. The strings are shared: one event notifies many members, and
/// one member is notified by many events.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub user_id: Arc<str>,
    pub room_id: Arc<str>,
    pub stream_ordering: i64,
    pub thread_key: Arc<str>,
    pub actions: Arc<str>,
    pub highlight: bool,
    /// Whether it counts as unread in the room (not an invite to a room the user is not in).
    pub counted: bool,
}

/// A stored notification; `stream_ordering` is its event's position (the event's ID and time
/// are read from the event).
#[derive(Debug, Clone, Queryable)]
pub struct NotificationRow {
    pub room_id: String,
    pub stream_ordering: i64,
    pub thread_key: String,
    pub actions: String,
    pub highlight: bool,
}

/// The stream position every event up to which has been evaluated (`None`: never ran).
pub fn progress(conn: &mut Conn) -> Result<Option<i64>> {
    Ok(push_progress::table.find(0i64).select(push_progress::stream_ordering).first(conn).optional()?)
}

fn set_progress(conn: &mut Conn, at: i64) -> Result<()> {
    diesel::insert_into(push_progress::table)
        .values((push_progress::id.eq(0i64), push_progress::stream_ordering.eq(at)))
        .on_conflict(push_progress::id)
        .do_update()
        .set(push_progress::stream_ordering.eq(at))
        .execute(conn)?;
    Ok(())
}

/// The user's read receipts in the room: thread ID ("" for unthreaded) -> receipted position.
fn read_marks(conn: &mut Conn, user: &str, room: &str) -> Result<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = receipts::table
        .filter(receipts::room_id.eq(room))
        .filter(receipts::user_id.eq(user))
        .filter(receipts::receipt_type.eq_any(["m.read", "m.read.private"]))
        .select((receipts::thread_id, receipts::event_stream))
        .load(conn)?;
    let mut marks: HashMap<String, i64> = HashMap::new();
    for (thread, at) in rows {
        let e = marks.entry(thread).or_insert(at);
        *e = (*e).max(at);
    }
    Ok(marks)
}

/// Whether an event of `thread` at `at` is read: an unthreaded receipt covers every thread.
fn is_read(marks: &HashMap<String, i64>, thread: &str, at: i64) -> bool {
    marks.get("").is_some_and(|m| at <= *m) || marks.get(thread).is_some_and(|m| at <= *m)
}

/// Stores notifications, counts the unread ones and moves the evaluator's position, in one
/// transaction (a receipt committed before it is seen here; one committed after recounts).
/// The position moving with the rows means a page is never recorded twice.
pub fn record(conn: &mut Conn, list: &[NewNotification], upto: i64) -> Result<()> {
    super::write_txn(conn, |c| {
        // One row per statement: the prepared statement is reused, and a statement that writes
        // one row needs no statement journal (a multi-row insert spilled one to a temporary
        // file, created and deleted per statement). A row already there (never expected: a
        // page is recorded once) is the same notification.
        for n in list {
            diesel::insert_or_ignore_into(push_notifications::table)
                .values((
                    push_notifications::user_id.eq(&*n.user_id),
                    push_notifications::room_id.eq(&*n.room_id),
                    push_notifications::stream_ordering.eq(n.stream_ordering),
                    push_notifications::thread_key.eq(&*n.thread_key),
                    push_notifications::actions.eq(&*n.actions),
                    push_notifications::highlight.eq(n.highlight),
                ))
                .execute(c)?;
        }
        // (user, room, thread) -> (notifications, highlights) to add.
        let mut added: HashMap<(&str, &str, &str), (i64, i64)> = HashMap::new();
        let mut marks: HashMap<(&str, &str), HashMap<String, i64>> = HashMap::new();
        for n in list.iter().filter(|n| n.counted) {
            let key = (&*n.user_id, &*n.room_id);
            let m = match marks.entry(key) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(read_marks(c, key.0, key.1)?),
            };
            if is_read(m, &n.thread_key, n.stream_ordering) {
                continue;
            }
            let e = added.entry((key.0, key.1, &*n.thread_key)).or_default();
            e.0 += 1;
            e.1 += i64::from(n.highlight);
        }
        for ((user, room, thread), (n, h)) in added {
            diesel::insert_into(push_counts::table)
                .values((
                    push_counts::user_id.eq(user),
                    push_counts::room_id.eq(room),
                    push_counts::thread_key.eq(thread),
                    push_counts::notifications.eq(n),
                    push_counts::highlights.eq(h),
                ))
                .on_conflict((push_counts::user_id, push_counts::room_id, push_counts::thread_key))
                .do_update()
                .set((
                    push_counts::notifications.eq(push_counts::notifications + n),
                    push_counts::highlights.eq(push_counts::highlights + h),
                ))
                .execute(c)?;
        }
        set_progress(c, upto)
    })
}

/// Recounts the user's unread notifications in the room after a receipt moved. Only events
/// after the user's current membership (their join) count.
pub fn recount(conn: &mut Conn, user: &str, room: &str) -> Result<()> {
    super::write_txn(conn, |c| {
        let marks = read_marks(c, user, room)?;
        let joined_at = super::memberships::membership(c, room, user)?.map_or(0, |m| m.stream_ordering);
        let floor = marks.get("").copied().unwrap_or(0).max(joined_at);
        let rows: Vec<(String, i64, bool)> = push_notifications::table
            .filter(push_notifications::user_id.eq(user))
            .filter(push_notifications::room_id.eq(room))
            .filter(push_notifications::stream_ordering.gt(floor))
            .select((push_notifications::thread_key, push_notifications::stream_ordering, push_notifications::highlight))
            .load(c)?;
        let mut counts: HashMap<String, (i64, i64)> = HashMap::new();
        for (thread, at, highlight) in rows {
            if !is_read(&marks, &thread, at) {
                let e = counts.entry(thread).or_default();
                e.0 += 1;
                e.1 += i64::from(highlight);
            }
        }
        diesel::delete(push_counts::table.filter(push_counts::user_id.eq(user)).filter(push_counts::room_id.eq(room))).execute(c)?;
        for (thread, (n, h)) in counts {
            diesel::insert_into(push_counts::table)
                .values((
                    push_counts::user_id.eq(user),
                    push_counts::room_id.eq(room),
                    push_counts::thread_key.eq(thread),
                    push_counts::notifications.eq(n),
                    push_counts::highlights.eq(h),
                ))
                .execute(c)?;
        }
        Ok(())
    })
}

/// (room, thread key, notifications, highlights) of every room with unread notifications.
pub fn counts_for(conn: &mut Conn, user: &str) -> Result<Vec<(String, String, i64, i64)>> {
    Ok(push_counts::table
        .filter(push_counts::user_id.eq(user))
        .select((push_counts::room_id, push_counts::thread_key, push_counts::notifications, push_counts::highlights))
        .load(conn)?)
}

/// Unread notifications over all the user's rooms (the badge a push gateway shows).
pub fn total_unread(conn: &mut Conn, user: &str) -> Result<i64> {
    let rows: Vec<i64> = push_counts::table.filter(push_counts::user_id.eq(user)).select(push_counts::notifications).load(conn)?;
    Ok(rows.into_iter().sum())
}

/// The user's notifications, newest first, with event positions below `before`, and whether
/// each is read.
pub fn list(conn: &mut Conn, user: &str, before: Option<i64>, limit: i64, only_highlight: bool) -> Result<Vec<(NotificationRow, bool)>> {
    let mut q = push_notifications::table
        .filter(push_notifications::user_id.eq(user))
        .order(push_notifications::stream_ordering.desc())
        .limit(limit)
        .select((
            push_notifications::room_id,
            push_notifications::stream_ordering,
            push_notifications::thread_key,
            push_notifications::actions,
            push_notifications::highlight,
        ))
        .into_boxed();
    if let Some(b) = before {
        q = q.filter(push_notifications::stream_ordering.lt(b));
    }
    if only_highlight {
        q = q.filter(push_notifications::highlight.eq(true));
    }
    let rows: Vec<NotificationRow> = q.load(conn)?;
    let mut marks: HashMap<String, HashMap<String, i64>> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        if !marks.contains_key(&r.room_id) {
            let m = read_marks(conn, user, &r.room_id)?;
            marks.insert(r.room_id.clone(), m);
        }
        let read = marks.get(&r.room_id).is_some_and(|m| is_read(m, &r.thread_key, r.stream_ordering));
        out.push((r, read));
    }
    Ok(out)
}

/// Forgets a purged room's notifications and counts. Call it before the room's memberships
/// go: only members and invitees are ever notified, and the rows are found through them.
pub fn delete_room(conn: &mut Conn, room: &str) -> Result<()> {
    let people = memberships::table.filter(memberships::room_id.eq(room)).select(memberships::user_id);
    diesel::delete(
        push_notifications::table.filter(push_notifications::user_id.eq_any(people)).filter(push_notifications::room_id.eq(room)),
    )
    .execute(conn)?;
    diesel::delete(push_counts::table.filter(push_counts::room_id.eq(room))).execute(conn)?;
    Ok(())
}
