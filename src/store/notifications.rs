//! Notifications (what push rules decided after commit), per-room unread counts, and how far
//! the evaluator has read the event stream.
//!
//! An event's notifications are stored as one row per distinct outcome (actions, highlight),
//! naming the notified members by a bitmap over the room's roster ([`numbers`]), not one row per
//! member: in a room of N members a message wrote N - 1 rows before, and those rows were the
//! largest cost of sending.

use super::Conn;
use super::Direct;
use super::schema::{push_counts, push_event_notifications as pen, push_members, push_progress, receipts};
use crate::error::Result;
use diesel::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The thread key of events outside any thread (the name threaded receipts use for them).
pub const MAIN_THREAD: &str = "main";

/// Rows of one room a page of `/notifications` reads at most: a room where the user is seldom
/// notified cannot make one request read its whole history.
const SCAN_PER_ROOM: i64 = 1_000;

/// Notification rows deleted per transaction when a room is purged or old rows are pruned.
const DELETE_CHUNK: i64 = 10_000;

/// One member notified of an event.
#[derive(Debug, Clone)]
pub struct Notified {
    pub user_id: Arc<str>,
    /// The member's number in the room's roster ([`numbers`]).
    pub number: u32,
    /// The actions' JSON, shared by every member the same rule decided for.
    pub actions: Arc<str>,
    pub highlight: bool,
    /// Whether it counts as unread in the room (not an invite to a room the user is not in).
    pub counted: bool,
}

/// The notifications one event made.
#[derive(Debug, Clone)]
pub struct EventNotifications {
    pub room_id: Arc<str>,
    pub stream_ordering: i64,
    /// The event's time (rows older than the retention are pruned by it).
    pub ts: i64,
    pub thread_key: Arc<str>,
    pub notified: Vec<Notified>,
}

/// Unread counts one recording added for a user in a room's thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountsAdded {
    pub user_id: String,
    pub room_id: String,
    pub thread_key: String,
    pub notifications: i64,
    pub highlights: i64,
}

/// A stored notification of one user; `stream_ordering` is its event's position (the event's
/// ID and time are read from the event).
#[derive(Debug, Clone)]
pub struct NotificationRow {
    pub room_id: String,
    pub stream_ordering: i64,
    pub thread_key: String,
    pub actions: String,
    pub highlight: bool,
}

/// Sets member `n`'s bit.
pub fn set_bit(bits: &mut Vec<u8>, n: u32) {
    let byte = (n / 8) as usize;
    if bits.len() <= byte {
        bits.resize(byte + 1, 0);
    }
    bits[byte] |= 1 << (n % 8);
}

/// Whether member `n`'s bit is set.
pub fn has_bit(bits: &[u8], n: u32) -> bool {
    bits.get((n / 8) as usize).is_some_and(|b| b & (1 << (n % 8)) != 0)
}

/// The roster numbers of `users` in the room, in order, numbering those not numbered yet (a
/// number is never reused or changed, so stored bitmaps stay true).
pub fn numbers(conn: &mut Conn, room: &str, users: &[&str]) -> Result<Vec<u32>> {
    let known = |c: &mut Conn| -> Result<HashMap<String, u32>> {
        let rows: Vec<(String, i64)> =
            push_members::table.filter(push_members::room_id.eq(room)).select((push_members::user_id, push_members::idx)).load_on(c)?;
        Ok(rows.into_iter().map(|(u, i)| (u, u32::try_from(i).unwrap_or(u32::MAX))).collect())
    };
    let mut map = known(conn)?;
    if users.iter().any(|u| !map.contains_key(*u)) {
        map = super::write_txn(conn, |c| {
            let mut map = known(c)?;
            let mut next = map.values().map(|n| i64::from(*n) + 1).max().unwrap_or(0);
            for u in users {
                if map.contains_key(*u) {
                    continue;
                }
                diesel::insert_into(push_members::table)
                    .values((push_members::room_id.eq(room), push_members::user_id.eq(*u), push_members::idx.eq(next)))
                    .execute(c)?;
                map.insert((*u).to_owned(), u32::try_from(next).unwrap_or(u32::MAX));
                next += 1;
            }
            Ok(map)
        })?;
    }
    Ok(users.iter().map(|u| map[*u]).collect())
}

fn number_of(conn: &mut Conn, room: &str, user: &str) -> Result<Option<u32>> {
    let n: Option<i64> = push_members::table.find((room, user)).select(push_members::idx).first_on(conn).optional()?;
    Ok(n.and_then(|n| u32::try_from(n).ok()))
}

/// The stream position every event up to which has been evaluated (`None`: never ran).
pub fn progress(conn: &mut Conn) -> Result<Option<i64>> {
    Ok(push_progress::table.find(0i64).select(push_progress::stream_ordering).first_on(conn).optional()?)
}

fn set_progress(conn: &mut Conn, at: i64) -> Result<()> {
    both!(conn, |c| diesel::insert_into(push_progress::table)
        .values((push_progress::id.eq(0i64), push_progress::stream_ordering.eq(at)))
        .on_conflict(push_progress::id)
        .do_update()
        .set(push_progress::stream_ordering.eq(at))
        .execute(c))?;
    Ok(())
}

/// The user's read receipts in the room: thread ID ("" for unthreaded) -> receipted position.
fn read_marks(conn: &mut Conn, user: &str, room: &str) -> Result<HashMap<String, i64>> {
    // Two equalities rather than `IN`: diesel re-plans an `IN` list on SQLite at every call.
    let rows: Vec<(String, i64)> = receipts::table
        .filter(receipts::room_id.eq(room))
        .filter(receipts::user_id.eq(user))
        .filter(receipts::receipt_type.eq("m.read").or(receipts::receipt_type.eq("m.read.private")))
        .select((receipts::thread_id, receipts::event_stream))
        .load_on(conn)?;
    let mut marks: HashMap<String, i64> = HashMap::new();
    for (thread, at) in rows {
        merge_mark(&mut marks, thread, at);
    }
    Ok(marks)
}

/// Every member's read receipts in the room, by user: one read per room and page of events,
/// instead of one per member notified.
fn room_read_marks(conn: &mut Conn, room: &str) -> Result<HashMap<String, HashMap<String, i64>>> {
    let rows: Vec<(String, String, i64)> = receipts::table
        .filter(receipts::room_id.eq(room))
        .filter(receipts::receipt_type.eq("m.read").or(receipts::receipt_type.eq("m.read.private")))
        .select((receipts::user_id, receipts::thread_id, receipts::event_stream))
        .load_on(conn)?;
    let mut by_user: HashMap<String, HashMap<String, i64>> = HashMap::new();
    for (user, thread, at) in rows {
        merge_mark(by_user.entry(user).or_default(), thread, at);
    }
    Ok(by_user)
}

/// A thread's mark is the later of its public and private receipts.
fn merge_mark(marks: &mut HashMap<String, i64>, thread: String, at: i64) {
    let e = marks.entry(thread).or_insert(at);
    *e = (*e).max(at);
}

/// Whether an event of `thread` at `at` is read: an unthreaded receipt covers every thread.
fn is_read(marks: &HashMap<String, i64>, thread: &str, at: i64) -> bool {
    marks.get("").is_some_and(|m| at <= *m) || marks.get(thread).is_some_and(|m| at <= *m)
}

/// The event's outcomes: (actions, highlight, members' bitmap), one per distinct pair.
fn outcomes(ev: &EventNotifications) -> Vec<(&str, bool, Vec<u8>)> {
    let mut out: Vec<(&Arc<str>, bool, Vec<u8>)> = Vec::new();
    for n in &ev.notified {
        let i = match out.iter().position(|(a, h, _)| *h == n.highlight && (Arc::ptr_eq(a, &n.actions) || ***a == *n.actions)) {
            Some(i) => i,
            None => {
                out.push((&n.actions, n.highlight, Vec::new()));
                out.len() - 1
            }
        };
        set_bit(&mut out[i].2, n.number);
    }
    out.into_iter().map(|(a, h, b)| (&**a, h, b)).collect()
}

/// A member's unread notifications and highlights that one recording adds.
type Added<'a> = (&'a str, i64, i64);

/// Rows per multi-row INSERT, under both backends' bound-parameter limits at eight columns.
const ROWS_PER_INSERT: usize = 1000;

/// Stores notifications, counts the unread ones and moves the evaluator's position, in one
/// transaction (a receipt committed before it is seen here; one committed after recounts).
/// The position moving with the rows means a page is never recorded twice. Answers the counts
/// added.
pub fn record(conn: &mut Conn, list: &[EventNotifications], upto: i64) -> Result<Vec<CountsAdded>> {
    super::write_txn(conn, |c| {
        let per_event: Vec<_> = list.iter().map(|ev| (ev, outcomes(ev))).collect();
        let rows: Vec<_> = per_event
            .iter()
            .flat_map(|(ev, outs)| {
                outs.iter().enumerate().map(|(grp, (actions, highlight, bits))| {
                    (
                        pen::room_id.eq(&*ev.room_id),
                        pen::stream_ordering.eq(ev.stream_ordering),
                        pen::grp.eq(grp as i64),
                        pen::thread_key.eq(&*ev.thread_key),
                        pen::actions.eq(*actions),
                        pen::highlight.eq(*highlight),
                        pen::ts.eq(ev.ts),
                        pen::members.eq(bits),
                    )
                })
            })
            .collect();
        // Many rows per statement (a round trip each on PostgreSQL). A row already there (never
        // expected: a page is recorded once) is the same notification.
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            both!(c, |c| diesel::insert_into(pen::table).values(chunk).on_conflict_do_nothing().execute(c))?;
        }
        // (room, thread) -> by roster number: (user, notifications, highlights) to add. Numbered,
        // so a member costs no hashing of their ID per event (a sixth of a large room's
        // evaluation); numbers are dense in a room, as the notification bitmaps assume.
        let mut added: HashMap<(&str, &str), Vec<Option<Added>>> = HashMap::new();
        let mut marks: HashMap<&str, HashMap<String, HashMap<String, i64>>> = HashMap::new();
        let unmarked = HashMap::new();
        for ev in list {
            if !ev.notified.iter().any(|n| n.counted) {
                continue;
            }
            let room_marks = match marks.entry(&*ev.room_id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(room_read_marks(c, &ev.room_id)?),
            };
            let group = added.entry((&*ev.room_id, &*ev.thread_key)).or_default();
            for n in ev.notified.iter().filter(|n| n.counted) {
                if is_read(room_marks.get(&*n.user_id).unwrap_or(&unmarked), &ev.thread_key, ev.stream_ordering) {
                    continue;
                }
                let i = n.number as usize;
                if group.len() <= i {
                    group.resize(i + 1, None);
                }
                let e = group[i].get_or_insert((&*n.user_id, 0, 0));
                e.1 += 1;
                e.2 += i64::from(n.highlight);
            }
        }
        let added: Vec<CountsAdded> = added
            .into_iter()
            .flat_map(|((room, thread), group)| {
                group.into_iter().flatten().map(move |(user, n, h)| CountsAdded {
                    user_id: user.to_owned(),
                    room_id: room.to_owned(),
                    thread_key: thread.to_owned(),
                    notifications: n,
                    highlights: h,
                })
            })
            .collect();
        let counts: Vec<_> = added
            .iter()
            .map(|CountsAdded { user_id: user, room_id: room, thread_key: thread, notifications: n, highlights: h }| {
                (
                    push_counts::user_id.eq(user),
                    push_counts::room_id.eq(room),
                    push_counts::thread_key.eq(thread),
                    push_counts::notifications.eq(n),
                    push_counts::highlights.eq(h),
                )
            })
            .collect();
        for chunk in counts.chunks(ROWS_PER_INSERT) {
            use diesel::upsert::excluded;
            both!(c, |c| diesel::insert_into(push_counts::table)
                .values(chunk)
                .on_conflict((push_counts::user_id, push_counts::room_id, push_counts::thread_key))
                .do_update()
                .set((
                    push_counts::notifications.eq(push_counts::notifications + excluded(push_counts::notifications)),
                    push_counts::highlights.eq(push_counts::highlights + excluded(push_counts::highlights)),
                ))
                .execute(c))?;
        }
        set_progress(c, upto)?;
        Ok(added)
    })
}

/// Recounts the user's unread notifications in the room after a receipt moved. Only events
/// after the user's current membership (their join) count.
pub fn recount(conn: &mut Conn, user: &str, room: &str) -> Result<()> {
    super::write_txn(conn, |c| {
        let marks = read_marks(c, user, room)?;
        let joined_at = super::memberships::membership(c, room, user)?.map_or(0, |m| m.stream_ordering);
        let floor = marks.get("").copied().unwrap_or(0).max(joined_at);
        let mut counts: HashMap<String, (i64, i64)> = HashMap::new();
        if let Some(me) = number_of(c, room, user)? {
            let rows: Vec<(String, i64, bool, Vec<u8>)> = pen::table
                .filter(pen::room_id.eq(room))
                .filter(pen::stream_ordering.gt(floor))
                .select((pen::thread_key, pen::stream_ordering, pen::highlight, pen::members))
                .load_on(c)?;
            for (thread, at, highlight, bits) in rows {
                if has_bit(&bits, me) && !is_read(&marks, &thread, at) {
                    let e = counts.entry(thread).or_default();
                    e.0 += 1;
                    e.1 += i64::from(highlight);
                }
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

/// Unread counts of a room as `/sync` shows them: (notifications, highlights) over the whole
/// room, in the main timeline, and by thread root.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoomCounts {
    pub total: (i64, i64),
    pub main: (i64, i64),
    pub threads: BTreeMap<String, (i64, i64)>,
}

impl RoomCounts {
    /// Adds `(notifications, highlights)` counted in `thread`.
    fn add(&mut self, thread: &str, (n, h): (i64, i64)) {
        self.total = (self.total.0 + n, self.total.1 + h);
        if thread == MAIN_THREAD {
            self.main = (self.main.0 + n, self.main.1 + h);
        } else if n > 0 {
            let t = self.threads.entry(thread.to_owned()).or_default();
            *t = (t.0 + n, t.1 + h);
        }
    }
}

/// A user's unread counts by room.
pub type UserCounts = HashMap<String, RoomCounts>;

/// The user's unread counts for every room that has some.
pub fn counts(conn: &mut Conn, user: &str) -> Result<UserCounts> {
    let mut out: UserCounts = HashMap::new();
    for (room, thread, n, h) in counts_for(conn, user)? {
        out.entry(room).or_default().add(&thread, (n, h));
    }
    Ok(out)
}

/// Adds what the push evaluator recorded to the users' counts kept in memory (those not kept
/// are read when needed).
pub fn add_recorded(kept: &mut HashMap<String, Arc<UserCounts>>, added: &[CountsAdded]) {
    for a in added {
        if let Some(user) = kept.get_mut(&a.user_id) {
            Arc::make_mut(user).entry(a.room_id.clone()).or_default().add(&a.thread_key, (a.notifications, a.highlights));
        }
    }
}

/// (room, thread key, notifications, highlights) of every room with unread notifications.
pub fn counts_for(conn: &mut Conn, user: &str) -> Result<Vec<(String, String, i64, i64)>> {
    Ok(push_counts::table
        .filter(push_counts::user_id.eq(user))
        .select((push_counts::room_id, push_counts::thread_key, push_counts::notifications, push_counts::highlights))
        .load_on(conn)?)
}

/// Unread notifications over all the user's rooms (the badge a push gateway shows).
pub fn total_unread(conn: &mut Conn, user: &str) -> Result<i64> {
    let rows: Vec<i64> = push_counts::table.filter(push_counts::user_id.eq(user)).select(push_counts::notifications).load_on(conn)?;
    Ok(rows.into_iter().sum())
}

/// Notifications with whether each is read, and the `before` of the next page.
pub type Page = (Vec<(NotificationRow, bool)>, Option<i64>);

/// A page of the user's notifications, newest first, with event positions below `before`,
/// each with whether it is read; and the `before` of the next page (`None`: no more).
///
/// Each room the user was ever numbered in is read newest first, at most [`SCAN_PER_ROOM`]
/// rows of it. A room cut short that way is complete only above the last position read, so
/// the page holds only what is above every such position and the next page starts there.
pub fn list(conn: &mut Conn, user: &str, before: Option<i64>, limit: i64, only_highlight: bool) -> Result<Page> {
    let rooms: Vec<(String, i64)> =
        push_members::table.filter(push_members::user_id.eq(user)).select((push_members::room_id, push_members::idx)).load_on(conn)?;
    let mut found: Vec<NotificationRow> = Vec::new();
    // Every notification above this position has been found (None: everything has).
    let mut complete_above: Option<i64> = None;
    for (room, me) in rooms {
        let Ok(me) = u32::try_from(me) else { continue };
        let mut q = pen::table
            .filter(pen::room_id.eq(&room))
            .order((pen::stream_ordering.desc(), pen::grp.asc()))
            .limit(SCAN_PER_ROOM)
            .select((pen::stream_ordering, pen::thread_key, pen::actions, pen::highlight, pen::members))
            .into_boxed();
        if let Some(b) = before {
            q = q.filter(pen::stream_ordering.lt(b));
        }
        if only_highlight {
            q = q.filter(pen::highlight.eq(true));
        }
        let rows: Vec<(i64, String, String, bool, Vec<u8>)> = q.load(conn)?;
        let scanned = rows.len() as i64;
        let last_read = rows.last().map(|r| r.0);
        let mut matched = 0;
        let mut bound = None;
        for (at, thread_key, actions, highlight, bits) in rows {
            if !has_bit(&bits, me) {
                continue;
            }
            found.push(NotificationRow { room_id: room.clone(), stream_ordering: at, thread_key, actions, highlight });
            matched += 1;
            if matched == limit {
                // The member is in at most one outcome of an event: this event is read whole.
                bound = Some(at - 1);
                break;
            }
        }
        if bound.is_none() && scanned == SCAN_PER_ROOM {
            // Other outcomes of the last event read may follow it.
            bound = last_read;
        }
        if let Some(b) = bound {
            complete_above = Some(complete_above.map_or(b, |c| c.max(b)));
        }
    }
    if let Some(c) = complete_above {
        found.retain(|r| r.stream_ordering > c);
    }
    found.sort_by_key(|r| std::cmp::Reverse(r.stream_ordering));
    found.truncate(limit as usize);
    let next = if found.len() as i64 == limit { found.last().map(|r| r.stream_ordering) } else { complete_above.map(|c| c + 1) };
    let mut marks: HashMap<String, HashMap<String, i64>> = HashMap::new();
    let mut out = Vec::with_capacity(found.len());
    for r in found {
        if !marks.contains_key(&r.room_id) {
            let m = read_marks(conn, user, &r.room_id)?;
            marks.insert(r.room_id.clone(), m);
        }
        let read = marks.get(&r.room_id).is_some_and(|m| is_read(m, &r.thread_key, r.stream_ordering));
        out.push((r, read));
    }
    Ok((out, next))
}

/// Forgets a purged room's unread counts and roster (small: one row per member and thread).
pub fn delete_room_counts(conn: &mut Conn, room: &str) -> Result<()> {
    diesel::delete(push_counts::table.filter(push_counts::room_id.eq(room))).execute(conn)?;
    diesel::delete(push_members::table.filter(push_members::room_id.eq(room))).execute(conn)?;
    Ok(())
}

/// Deletes a purged room's notifications, a chunk per transaction so that other writers are
/// not held up behind one large delete. Idempotent. Returns the rows deleted.
pub fn delete_room(conn: &mut Conn, room: &str) -> Result<usize> {
    let mut total = 0;
    loop {
        let n = super::write_txn(conn, |c| {
            let bound: Option<i64> = pen::table
                .filter(pen::room_id.eq(room))
                .order(pen::stream_ordering.asc())
                .select(pen::stream_ordering)
                .offset(DELETE_CHUNK - 1)
                .first_on(c)
                .optional()?;
            let q = pen::table.filter(pen::room_id.eq(room));
            Ok(match bound {
                Some(b) => diesel::delete(q.filter(pen::stream_ordering.le(b))).execute(c)?,
                None => diesel::delete(q).execute(c)?,
            })
        })?;
        total += n;
        if n < DELETE_CHUNK as usize {
            return Ok(total);
        }
    }
}

/// Deletes notifications of events older than `before_ts` (ms), at most one chunk. Answers
/// whether more may be left (the chunk was full). Unread counts are kept until the next receipt
/// recounts them.
pub fn prune(conn: &mut Conn, before_ts: i64) -> Result<bool> {
    let n = super::write_txn(conn, |c| {
        Ok(super::sql_query(
            c,
            "DELETE FROM push_event_notifications WHERE (room_id, stream_ordering, grp) IN \
             (SELECT room_id, stream_ordering, grp FROM push_event_notifications WHERE ts < ? LIMIT ?)",
        )
        .bind::<diesel::sql_types::BigInt, _>(before_ts)
        .bind::<diesel::sql_types::BigInt, _>(DELETE_CHUNK)
        .execute(c)?)
    })?;
    Ok(n as i64 == DELETE_CHUNK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, crate::store::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::store::Db::open(&crate::store::Location::Sqlite(dir.path().join("t.db")), 2).unwrap();
        (dir, db)
    }

    fn ev(room: &str, at: i64, notified: &[(&str, u32, &Arc<str>, bool)]) -> EventNotifications {
        EventNotifications {
            room_id: room.into(),
            stream_ordering: at,
            ts: at,
            thread_key: MAIN_THREAD.into(),
            notified: notified
                .iter()
                .map(|(u, n, a, h)| Notified { user_id: (*u).into(), number: *n, actions: (*a).clone(), highlight: *h, counted: true })
                .collect(),
        }
    }

    /// Every page of `user`'s notifications, following `next_token`s: the positions.
    fn all_pages(c: &mut Conn, user: &str, limit: i64) -> (Vec<i64>, usize) {
        let (mut out, mut before, mut pages) = (Vec::new(), None, 0);
        loop {
            let (rows, next) = list(c, user, before, limit, false).unwrap();
            pages += 1;
            out.extend(rows.iter().map(|(r, _)| r.stream_ordering));
            match next {
                Some(n) => before = Some(n),
                None => return (out, pages),
            }
            assert!(pages < 1000, "paging does not end");
        }
    }

    #[test]
    fn roster_numbers_are_given_once_and_kept() {
        let (_d, db) = db();
        let c = &mut *db.get().unwrap();
        assert_eq!(numbers(c, "!r:x", &["@a:x", "@b:x"]).unwrap(), [0, 1]);
        assert_eq!(numbers(c, "!r:x", &["@c:x", "@a:x"]).unwrap(), [2, 0]);
        assert_eq!(numbers(c, "!s:x", &["@c:x"]).unwrap(), [0]);
    }

    #[test]
    fn pages_hold_every_notification_once_newest_first_past_rows_of_others() {
        let (_d, db) = db();
        let c = &mut *db.get().unwrap();
        let (notify, loud): (Arc<str>, Arc<str>) = (r#"["notify"]"#.into(), r#"["notify",{"set_tweak":"highlight"}]"#.into());
        let [a, b] = numbers(c, "!busy:x", &["@a:x", "@b:x"]).unwrap()[..] else { panic!() };
        let [a2] = numbers(c, "!quiet:x", &["@a:x"]).unwrap()[..] else { panic!() };
        let mut list_ = Vec::new();
        let mut want = Vec::new();
        // 2,500 events of a busy room notify only Bob but for every 500th (a mention of Alice,
        // in a second outcome of the same event); a quiet room notifies Alice every 7th position.
        for at in 1..=2_500 {
            if at % 500 == 0 {
                list_.push(ev("!busy:x", at, &[("@b:x", b, &notify, false), ("@a:x", a, &loud, true)]));
                want.push(at);
            } else {
                list_.push(ev("!busy:x", at, &[("@b:x", b, &notify, false)]));
            }
        }
        for at in (3..2_600).step_by(7) {
            list_.push(ev("!quiet:x", 10_000 + at, &[("@a:x", a2, &notify, false)]));
            want.push(10_000 + at);
        }
        record(c, &list_, 20_000).unwrap();
        want.sort_unstable_by(|x, y| y.cmp(x));
        for limit in [1, 7, 100] {
            let (got, pages) = all_pages(c, "@a:x", limit);
            assert_eq!(got, want, "limit {limit}");
            assert!(pages >= want.len() / limit as usize, "limit {limit}: {pages} pages");
        }
        let (bobs, _) = all_pages(c, "@b:x", 100);
        assert_eq!(bobs.len(), 2_500);
        let (high, _) = list(c, "@a:x", None, 100, true).unwrap();
        assert_eq!(high.iter().map(|(r, _)| r.stream_ordering).collect::<Vec<_>>(), [2_500, 2_000, 1_500, 1_000, 500]);
        assert!(high.iter().all(|(r, _)| r.highlight && *r.actions == *loud));

        // A purge takes the busy room's rows, in chunks, and leaves the quiet room's.
        assert_eq!(delete_room(c, "!busy:x").unwrap(), 2_505);
        let (left, _) = all_pages(c, "@a:x", 100);
        assert_eq!(left, want.iter().copied().filter(|p| *p > 10_000).collect::<Vec<_>>());
        // Pruning by age: the quiet room's rows all have ts above 10,000.
        assert!(!prune(c, 10_500).unwrap(), "one chunk held them all");
        let (kept, _) = all_pages(c, "@a:x", 100);
        assert_eq!(kept, want.iter().copied().filter(|p| *p >= 10_500).collect::<Vec<_>>());
    }

    #[test]
    fn rows_of_the_old_per_member_table_move_to_the_rosters() {
        use diesel::connection::SimpleConnection;
        use diesel_migrations::MigrationHarness;
        let dir = tempfile::tempdir().unwrap();
        let mut c = <Conn as diesel::Connection>::establish(&dir.path().join("m.db").to_string_lossy()).unwrap();
        let all = diesel::migration::MigrationSource::<diesel::sqlite::Sqlite>::migrations(&crate::store::SQLITE_MIGRATIONS).unwrap();
        let split = all.iter().position(|m| m.name().to_string().starts_with("2026-12-04-000001")).unwrap();
        for _ in 0..split {
            c.run_next_migration(crate::store::SQLITE_MIGRATIONS).unwrap();
        }
        c.batch_execute(
            "INSERT INTO push_notifications VALUES ('@b:x', '!r:x', 5, 'main', '[\"notify\"]', 0), \
             ('@a:x', '!r:x', 5, 'main', '[\"notify\"]', 1), ('@c:x', '!r:x', 6, '$t', '[]', 0), ('@a:x', '!s:x', 7, 'main', '[]', 0);",
        )
        .unwrap();
        c.run_pending_migrations(crate::store::SQLITE_MIGRATIONS).unwrap();
        assert_eq!(numbers(&mut c, "!r:x", &["@a:x", "@b:x", "@c:x", "@d:x"]).unwrap(), [0, 1, 2, 3]);
        let (rows, next) = list(&mut c, "@a:x", None, 10, false).unwrap();
        assert_eq!(next, None);
        let got: Vec<_> = rows.iter().map(|(r, _)| (r.room_id.as_str(), r.stream_ordering, r.highlight)).collect();
        assert_eq!(got, [("!s:x", 7, false), ("!r:x", 5, true)]);
        let (rows, _) = list(&mut c, "@c:x", None, 10, false).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0.thread_key, "$t");
        let (rows, _) = list(&mut c, "@b:x", None, 10, false).unwrap();
        assert_eq!((rows.len(), rows[0].0.highlight), (1, false));
    }

    #[test]
    fn bits_set_are_the_bits_read() {
        let mut bits = Vec::new();
        for n in [0u32, 7, 8, 31, 1000] {
            set_bit(&mut bits, n);
        }
        assert_eq!(bits.len(), 126);
        for n in 0..1010 {
            assert_eq!(has_bit(&bits, n), [0, 7, 8, 31, 1000].contains(&n), "bit {n}");
        }
        assert!(!has_bit(&[], 0));
    }
}
