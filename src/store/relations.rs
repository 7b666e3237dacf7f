//! The index of relations between events (`m.relates_to`): written in the commit that stores the
//! relating event, dropped when that event is redacted or its room purged; read for
//! `/relations`, `/threads` and the aggregations bundled with events.

use super::Conn;
use super::Direct;
use super::schema::event_relations;
use crate::error::Result;
use crate::events::Pdu;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

/// How deep `recurse` follows relations of relations (the spec asks for at least 3).
pub const RECURSION_DEPTH: i64 = 3;

/// `m.relates_to` of an event when it names a relation: (rel_type, parent event ID, key).
pub fn relation_of(content: &serde_json::Value) -> Option<(&str, &str, Option<&str>)> {
    let rel = content.get("m.relates_to")?;
    let rel_type = rel.get("rel_type")?.as_str()?;
    let parent = rel.get("event_id")?.as_str()?;
    Some((rel_type, parent, rel.get("key").and_then(|k| k.as_str())))
}

/// Indexes the relation of a committed event, if it has one (inside the commit's transaction).
pub fn record(c: &mut Conn, p: &Pdu) -> Result<()> {
    let Some((rel_type, parent, key)) = relation_of(&p.content) else { return Ok(()) };
    both!(c, |c| diesel::insert_into(event_relations::table)
        .values((
            event_relations::event_id.eq(p.event_id.as_str()),
            event_relations::room_id.eq(p.room_id.as_str()),
            event_relations::relates_to_id.eq(parent),
            event_relations::rel_type.eq(rel_type),
            event_relations::event_type.eq(&p.kind),
            event_relations::sender.eq(p.sender.as_str()),
            event_relations::stream_ordering.eq(p.stream_ordering),
            event_relations::aggregation_key.eq(key),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// A redacted event relates to nothing any more.
pub fn forget(c: &mut Conn, event_id: &str) -> Result<()> {
    diesel::delete(event_relations::table.find(event_id)).execute(c)?;
    Ok(())
}

pub fn delete_room(c: &mut Conn, room_id: &str) -> Result<()> {
    diesel::delete(event_relations::table.filter(event_relations::room_id.eq(room_id))).execute(c)?;
    Ok(())
}

/// Which children of a parent to read.
#[derive(Debug, Clone, Default)]
pub struct ChildFilter {
    pub rel_type: Option<String>,
    pub event_type: Option<String>,
    /// Follow relations of relations down to [`RECURSION_DEPTH`].
    pub recurse: bool,
}

#[derive(QueryableByName)]
struct EventRow {
    #[diesel(sql_type = Text)]
    event_id: String,
    #[diesel(sql_type = BigInt)]
    stream_ordering: i64,
    #[diesel(sql_type = Text)]
    json: String,
}

/// Events of the room relating to `parent` (directly, or within the recursion depth) with
/// `after < position <= upto`, newest first or oldest first, at most `limit`.
#[allow(clippy::too_many_arguments)]
pub fn children(
    c: &mut Conn,
    room_id: &str,
    parent: &str,
    filter: &ChildFilter,
    after: i64,
    upto: i64,
    limit: i64,
    newest_first: bool,
) -> Result<Vec<Pdu>> {
    let depth = if filter.recurse { RECURSION_DEPTH } else { 1 };
    let order = if newest_first { "DESC" } else { "ASC" };
    // UNION (not UNION ALL) and the depth bound keep a cycle of relations from looping.
    let sql = format!(
        "WITH RECURSIVE related(event_id, depth) AS ( \
             SELECT event_id, 1 FROM event_relations WHERE relates_to_id = ?1 AND room_id = ?2 \
             UNION \
             SELECT r.event_id, related.depth + 1 FROM event_relations r \
             JOIN related ON r.relates_to_id = related.event_id \
             WHERE related.depth < ?3 AND r.room_id = ?2 \
         ) \
         SELECT DISTINCT e.event_id, e.stream_ordering, e.json FROM related \
         JOIN event_relations er ON er.event_id = related.event_id \
         JOIN events e ON e.event_id = er.event_id \
         WHERE e.stream_ordering > ?4 AND e.stream_ordering <= ?5 \
           AND (?6 IS NULL OR er.rel_type = ?6) AND (?7 IS NULL OR er.event_type = ?7) \
         ORDER BY e.stream_ordering {order} LIMIT ?8"
    );
    let rows: Vec<EventRow> = super::sql_query(c, &sql)
        .bind::<Text, _>(parent)
        .bind::<Text, _>(room_id)
        .bind::<BigInt, _>(depth)
        .bind::<BigInt, _>(after)
        .bind::<BigInt, _>(upto)
        .bind::<Nullable<Text>, _>(filter.rel_type.as_deref())
        .bind::<Nullable<Text>, _>(filter.event_type.as_deref())
        .bind::<BigInt, _>(limit)
        .load_on(c)?;
    Ok(rows.iter().filter_map(|r| super::events::readable_one(&r.event_id, r.stream_ordering, &r.json)).collect())
}

/// One child as the aggregations read it: (parent, rel_type, event ID, sender, type, position).
pub type ChildRow = (String, String, String, String, String, i64);

/// Most children read for the edits and references bundled with one page of events: past it,
/// the oldest are left out of the bundles (a flood of edits cannot make a page expensive).
pub const MAX_BUNDLED_CHILDREN: i64 = 10_000;

/// The children of any of `parents` with one of `rel_types`, the newest [`MAX_BUNDLED_CHILDREN`],
/// returned oldest first.
pub fn children_of_many(c: &mut Conn, parents: &[String], rel_types: &[&str]) -> Result<Vec<ChildRow>> {
    let mut out = Vec::new();
    for part in parents.chunks(500) {
        out.extend(
            event_relations::table
                .filter(event_relations::relates_to_id.eq_any(part))
                .filter(event_relations::rel_type.eq_any(rel_types))
                .order(event_relations::stream_ordering.desc())
                .limit(MAX_BUNDLED_CHILDREN)
                .select((
                    event_relations::relates_to_id,
                    event_relations::rel_type,
                    event_relations::event_id,
                    event_relations::sender,
                    event_relations::event_type,
                    event_relations::stream_ordering,
                ))
                .load_on::<ChildRow>(c)?,
        );
    }
    out.sort_by_key(|r| r.5);
    Ok(out)
}

/// A thread's summary as a reader sees it: (root, replies, the latest reply's event ID).
pub type ThreadSummary = (String, i64, String);

/// The summaries of the threads rooted at any of `parents`, counting only replies at positions
/// within `ranges` (the reader's visible ranges) from senders not in `ignored`: counted by SQLite,
/// so a thread of any length costs one aggregate.
pub fn thread_summaries(c: &mut Conn, parents: &[String], ranges: &[(i64, i64)], ignored: &[String]) -> Result<Vec<ThreadSummary>> {
    if ranges.is_empty() {
        return Ok(Vec::new());
    }
    // Positions are the server's own integers, never client text.
    let visible = ranges.iter().map(|(lo, hi)| format!("(stream_ordering BETWEEN {lo} AND {hi})")).collect::<Vec<_>>().join(" OR ");
    let mut out = Vec::new();
    for part in parents.chunks(500) {
        let rows: Vec<(String, i64, Option<i64>)> = event_relations::table
            .filter(event_relations::relates_to_id.eq_any(part))
            .filter(event_relations::rel_type.eq("m.thread"))
            .filter(event_relations::sender.ne_all(ignored))
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!("({visible})")))
            .group_by(event_relations::relates_to_id)
            .select((event_relations::relates_to_id, diesel::dsl::count_star(), diesel::dsl::max(event_relations::stream_ordering)))
            .load_on(c)?;
        for (root, count, latest) in rows {
            let Some(latest) = latest else { continue };
            let id: Option<String> = event_relations::table
                .filter(event_relations::relates_to_id.eq(&root))
                .filter(event_relations::stream_ordering.eq(latest))
                .select(event_relations::event_id)
                .first_on(c)
                .optional()?;
            if let Some(id) = id {
                out.push((root, count, id));
            }
        }
    }
    Ok(out)
}

/// Which of the threads rooted at `parents` `user` replied in.
pub fn replied_in(c: &mut Conn, parents: &[String], user: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for part in parents.chunks(500) {
        out.extend(
            event_relations::table
                .filter(event_relations::relates_to_id.eq_any(part))
                .filter(event_relations::rel_type.eq("m.thread"))
                .filter(event_relations::sender.eq(user))
                .select(event_relations::relates_to_id)
                .distinct()
                .load_on::<String>(c)?,
        );
    }
    Ok(out)
}

#[derive(QueryableByName)]
struct ThreadRow {
    #[diesel(sql_type = Text)]
    root: String,
    #[diesel(sql_type = BigInt)]
    latest: i64,
}

/// Threads of the room whose root is an event of the room, by latest reply before `before`,
/// newest first, at most `limit`: (root event ID, position of the latest reply). With
/// `participant`, only threads they started or replied in.
pub fn threads(c: &mut Conn, room_id: &str, before: i64, limit: i64, participant: Option<&str>) -> Result<Vec<(String, i64)>> {
    let rows: Vec<ThreadRow> = super::sql_query(
        c,
        "SELECT relates_to_id AS root, MAX(stream_ordering) AS latest FROM event_relations \
         WHERE room_id = ?1 AND rel_type = 'm.thread' \
           AND EXISTS (SELECT 1 FROM events e WHERE e.event_id = relates_to_id AND e.room_id = ?1) \
         GROUP BY relates_to_id \
         HAVING MAX(stream_ordering) < ?2 \
           AND (?3 IS NULL OR SUM(CASE WHEN sender = ?3 THEN 1 ELSE 0 END) > 0 \
                OR EXISTS (SELECT 1 FROM events e WHERE e.event_id = relates_to_id AND e.sender = ?3)) \
         ORDER BY latest DESC LIMIT ?4",
    )
    .bind::<Text, _>(room_id)
    .bind::<BigInt, _>(before)
    .bind::<Nullable<Text>, _>(participant)
    .bind::<BigInt, _>(limit)
    .load_on(c)?;
    Ok(rows.into_iter().map(|r| (r.root, r.latest)).collect())
}

/// Whether `sender` already annotated `parent` with this type and key (a second identical
/// reaction is refused).
pub fn has_annotation(c: &mut Conn, parent: &str, event_type: &str, key: &str, sender: &str) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        event_relations::table
            .filter(event_relations::relates_to_id.eq(parent))
            .filter(event_relations::rel_type.eq("m.annotation"))
            .filter(event_relations::event_type.eq(event_type))
            .filter(event_relations::aggregation_key.eq(key))
            .filter(event_relations::sender.eq(sender)),
    ))
    .get_result_on(c)?)
}

/// Whether the event itself relates to another (a thread cannot start from such an event).
pub fn has_relation(c: &mut Conn, event_id: &str) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(event_relations::table.find(event_id))).get_result_on(c)?)
}

/// Whether some stored event relates to `event_id` (a relation to an event unknown here is
/// accepted when others already point at it).
pub fn is_parent(c: &mut Conn, event_id: &str) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(event_relations::table.filter(event_relations::relates_to_id.eq(event_id)))).get_result_on(c)?)
}
