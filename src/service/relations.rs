//! Relations between events as a reader sees them: the children of an event (`/relations`), a
//! room's threads (`/threads`), and the aggregations bundled with events
//! (`unsigned.m.relations`: `m.thread`, `m.replace`, `m.reference`). Every event shown passes
//! the reader's history view of the room; ignored senders' events are left out.

use crate::Services;
use crate::error::{Error, Result};
use crate::events::Pdu;
use crate::events::visibility::HistoryView;
use crate::store::relations as store;
pub use crate::store::relations::{ChildFilter, RECURSION_DEPTH};
use crate::store::{Conn, visibility as vis};
use ruma::{EventId, RoomId, UserId};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

/// `/relations` page size when the client names none (Synapse's), and the most it gets.
pub const DEFAULT_LIMIT: i64 = 5;
pub const MAX_LIMIT: i64 = 1000;
/// `/threads` page size when the client names none, and the most it gets.
pub const DEFAULT_THREADS: i64 = 5;
pub const MAX_THREADS: i64 = 100;
/// Most events listed in a bundled `m.reference` chunk.
const MAX_REFERENCES: usize = 100;

/// What a reader may see of a room, read once per request.
struct Reader {
    user: String,
    view: HistoryView,
    ignored: HashSet<String>,
}

impl Reader {
    /// 403 unless the user may read something of the room (a member now or before, or the room
    /// is world readable); an unknown room is 403 too, as Synapse answers, so the answer does not
    /// tell whether it exists.
    fn open(c: &mut Conn, room_id: &str, user: &str) -> Result<Self> {
        let view = vis::history_view(c, room_id, user)?;
        if view.state_access().is_none() {
            return Err(Error::forbidden("You are not allowed to read this room"));
        }
        let ignored = super::account_data::ignored_users(c, user)?;
        Ok(Self { user: user.to_owned(), view, ignored })
    }

    fn sees(&self, pos: i64, sender: &str) -> bool {
        self.view.can_see(pos) && !self.ignored.contains(sender)
    }

    /// The event as this reader sees it (an erased sender's older message emptied).
    fn shown(&self, c: &mut Conn, mut p: Pdu) -> Result<Pdu> {
        crate::store::users::hide_erased(c, [&mut p], self.view.joined_at())?;
        Ok(p)
    }
}

/// Events with the aggregations bundled with each, in the client format.
#[derive(Debug, Default)]
pub struct Bundled {
    pub events: Vec<Pdu>,
    relations: HashMap<String, Value>,
}

impl Bundled {
    /// One event as the client-server API shows it, with `unsigned.m.relations` if any.
    pub fn client_event(&self, p: &Pdu) -> Value {
        let mut v = p.to_client(None);
        if let Some(r) = self.relations.get(p.event_id.as_str()) {
            v["unsigned"]["m.relations"] = r.clone();
        }
        v
    }

    pub fn client_events(&self) -> Vec<Value> {
        self.events.iter().map(|p| self.client_event(p)).collect()
    }
}

/// The aggregations of each of `events` (state and redacted events get none).
fn aggregations(c: &mut Conn, reader: &Reader, events: &[&Pdu]) -> Result<HashMap<String, Value>> {
    let parents: Vec<String> =
        events.iter().filter(|p| p.state_key.is_none() && p.redacted_because.is_none()).map(|p| p.event_id.to_string()).collect();
    if parents.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = store::children_of_many(c, &parents, &["m.replace", "m.reference"])?;
    let mut by_parent: HashMap<&str, Vec<&store::ChildRow>> = HashMap::new();
    for r in &rows {
        if reader.sees(r.5, &r.3) {
            by_parent.entry(r.0.as_str()).or_default().push(r);
        }
    }
    let ignored: Vec<String> = reader.ignored.iter().cloned().collect();
    let ranges = reader.view.ranges_within(0, i64::MAX);
    let mut threads: HashMap<String, (i64, String)> =
        store::thread_summaries(c, &parents, &ranges, &ignored)?.into_iter().map(|(root, n, latest)| (root, (n, latest))).collect();
    let replied: HashSet<String> = store::replied_in(c, &parents, &reader.user)?.into_iter().collect();
    let no_children = Vec::new();
    let mut out = HashMap::new();
    for p in events {
        let id = p.event_id.as_str();
        let children = by_parent.get(id).unwrap_or(&no_children);
        let mut rel = Map::new();
        if let Some((count, latest)) = threads.remove(id)
            && let Some(ev) = crate::store::events::event_by_id(c, &latest)?
        {
            let participated = p.sender.as_str() == reader.user || replied.contains(id);
            rel.insert(
                "m.thread".into(),
                json!({
                    "latest_event": reader.shown(c, ev)?.to_client(None),
                    "count": count,
                    "current_user_participated": participated,
                }),
            );
        }
        // Only the original sender's edits of the same type replace an event.
        let edit = children.iter().rfind(|r| r.1 == "m.replace" && r.3 == p.sender.as_str() && r.4 == p.kind);
        if let Some(edit) = edit
            && let Some(ev) = crate::store::events::event_by_id(c, &edit.2)?
        {
            rel.insert("m.replace".into(), reader.shown(c, ev)?.to_client(None));
        }
        let refs: Vec<Value> =
            children.iter().filter(|r| r.1 == "m.reference").take(MAX_REFERENCES).map(|r| json!({"event_id": r.2})).collect();
        if !refs.is_empty() {
            rel.insert("m.reference".into(), json!({"chunk": refs}));
        }
        if !rel.is_empty() {
            out.insert(p.event_id.to_string(), Value::Object(rel));
        }
    }
    Ok(out)
}

/// The aggregations bundled with events of one room the user already may see (`/messages`,
/// `/context`, `/event`).
pub async fn bundle(svc: &Services, user: &UserId, room_id: &RoomId, events: Vec<Pdu>) -> Result<Bundled> {
    if events.is_empty() {
        return Ok(Bundled::default());
    }
    let (room_id, user) = (room_id.to_string(), user.to_string());
    svc.db
        .run(move |c| {
            let reader = Reader::open(c, &room_id, &user)?;
            let relations = aggregations(c, &reader, &events.iter().collect::<Vec<_>>())?;
            Ok(Bundled { events, relations })
        })
        .await
}

/// A `/relations` request, already parsed.
#[derive(Debug, Clone)]
pub struct RelationsRequest {
    pub filter: ChildFilter,
    pub backwards: bool,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub limit: i64,
}

/// A page of children and where the next one starts (none at the end).
#[derive(Debug)]
pub struct RelationsPage {
    pub chunk: Bundled,
    pub next: Option<i64>,
}

/// The children of `parent` the user may see, a page at a time. 403 if the user may read
/// nothing of the room, 404 if the parent is not an event of the room they may see.
pub async fn relations(svc: &Services, user: &UserId, room_id: &RoomId, parent: &EventId, req: RelationsRequest) -> Result<RelationsPage> {
    let limit = req.limit.clamp(1, MAX_LIMIT);
    let (room_id, user, parent) = (room_id.to_string(), user.to_string(), parent.to_string());
    svc.db
        .run(move |c| {
            let reader = Reader::open(c, &room_id, &user)?;
            crate::store::events::event_by_id(c, &parent)?
                .filter(|p| p.room_id == room_id && reader.view.can_see(p.stream_ordering))
                .ok_or_else(|| Error::not_found("Unknown parent event"))?;
            let max = crate::store::events::max_stream(c)?;
            let (after, upto) =
                if req.backwards { (req.to.unwrap_or(0), req.from.unwrap_or(max)) } else { (req.from.unwrap_or(0), req.to.unwrap_or(max)) };
            let mut ranges = reader.view.ranges_within(after, upto);
            if req.backwards {
                ranges.reverse();
            }
            // One more than asked tells whether a next page exists.
            let want = limit + 1;
            let mut found: Vec<Pdu> = Vec::new();
            'ranges: for (lo, hi) in ranges {
                let (mut lo, mut hi) = (lo - 1, hi);
                loop {
                    let ask = want - found.len() as i64;
                    if ask <= 0 {
                        break 'ranges;
                    }
                    let page = store::children(c, &room_id, &parent, &req.filter, lo, hi, ask, req.backwards)?;
                    let Some(last) = page.last().map(|p| p.stream_ordering) else { break };
                    let full = page.len() as i64 >= ask;
                    found.extend(page.into_iter().filter(|p| !reader.ignored.contains(p.sender.as_str())));
                    if !full {
                        break;
                    }
                    if req.backwards {
                        hi = last - 1;
                    } else {
                        lo = last;
                    }
                }
            }
            let more = found.len() as i64 > limit;
            found.truncate(limit as usize);
            let next = found.last().filter(|_| more).map(|p| if req.backwards { p.stream_ordering - 1 } else { p.stream_ordering });
            let mut events = found;
            crate::store::users::hide_erased(c, events.iter_mut(), reader.view.joined_at())?;
            let relations = aggregations(c, &reader, &events.iter().collect::<Vec<_>>())?;
            Ok(RelationsPage { chunk: Bundled { events, relations }, next })
        })
        .await
}

/// A page of thread roots, by latest activity, newest first; `next` is the `from` of the next.
#[derive(Debug)]
pub struct ThreadsPage {
    pub chunk: Bundled,
    pub next: Option<i64>,
}

/// The room's threads whose root the user may see; with `participated`, only those they
/// started or replied in. 403 if the user may read nothing of the room.
pub async fn threads(
    svc: &Services,
    user: &UserId,
    room_id: &RoomId,
    participated: bool,
    from: Option<i64>,
    limit: i64,
) -> Result<ThreadsPage> {
    let limit = limit.clamp(1, MAX_THREADS);
    let (room_id, user) = (room_id.to_string(), user.to_string());
    svc.db
        .run(move |c| {
            let reader = Reader::open(c, &room_id, &user)?;
            let participant = participated.then_some(user.as_str());
            let want = limit + 1;
            let mut before = from.unwrap_or(i64::MAX);
            let mut roots: Vec<(Pdu, i64)> = Vec::new();
            while (roots.len() as i64) < want {
                let ask = want - roots.len() as i64;
                let rows = store::threads(c, &room_id, before, ask, participant)?;
                let Some(last) = rows.last().map(|r| r.1) else { break };
                let full = rows.len() as i64 >= ask;
                for (root, latest) in rows {
                    if let Some(p) = crate::store::events::event_by_id(c, &root)?
                        && reader.sees(p.stream_ordering, p.sender.as_str())
                    {
                        roots.push((reader.shown(c, p)?, latest));
                    }
                }
                if !full {
                    break;
                }
                before = last;
            }
            let more = roots.len() as i64 > limit;
            roots.truncate(limit as usize);
            let next = roots.last().filter(|_| more).map(|r| r.1);
            let events: Vec<Pdu> = roots.into_iter().map(|r| r.0).collect();
            let relations = aggregations(c, &reader, &events.iter().collect::<Vec<_>>())?;
            Ok(ThreadsPage { chunk: Bundled { events, relations }, next })
        })
        .await
}

/// The longest annotation key accepted (Synapse's bound).
const MAX_ANNOTATION_KEY: usize = 500;

/// Refuses a new event's relation as Synapse does: the parent must be an event of the same room
/// (or one others already relate to), an annotation needs a key of bounded length and cannot be
/// repeated by the same sender, and a thread cannot start from an event that has a relation.
pub async fn check_new_relation(svc: &Services, room_id: &RoomId, sender: &str, kind: &str, content: &Value) -> Result<()> {
    let Some((rel_type, parent, key)) = store::relation_of(content) else { return Ok(()) };
    let (rel_type, parent, key) = (rel_type.to_owned(), parent.to_owned(), key.map(str::to_owned));
    if rel_type == "m.annotation" {
        match &key {
            None => return Err(Error::unknown("Missing aggregation key")),
            Some(k) if k.len() > MAX_ANNOTATION_KEY => return Err(Error::unknown("Aggregation key is too long")),
            _ => {}
        }
    }
    let (room, sender, kind) = (room_id.to_string(), sender.to_owned(), kind.to_owned());
    svc.db
        .run(move |c| {
            match crate::store::events::event_origin(c, &parent)? {
                Some((parent_room, _)) if parent_room != room => return Err(Error::unknown("Relations must be in the same room")),
                Some(_) => {}
                None if store::is_parent(c, &parent)? => {}
                None => return Err(Error::unknown("Can't send relation to unknown event")),
            }
            if let Some(key) = key
                && rel_type == "m.annotation"
                && store::has_annotation(c, &parent, &kind, &key, &sender)?
            {
                return Err(Error::new(crate::error::ErrorKind::DuplicateAnnotation, "Can't send same reaction twice"));
            }
            if rel_type == "m.thread" && store::has_relation(c, &parent)? {
                return Err(Error::unknown("Cannot start threads from an event with a relation"));
            }
            Ok(())
        })
        .await
}
