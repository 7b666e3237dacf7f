//! What indexing does with an event: the operations (add, delete, drop a room) the live path
//! and the rebuild both derive from a stored event, and applying them to a writer.

use super::index::Fields;
use crate::error::{Error, Result};
use crate::events::Pdu;
use crate::store::Db;
use serde::Deserialize;
use serde_json::Value;
use tantivy::{IndexWriter, Term, doc};

/// What the live path and the rebuild both do with one searchable event.
pub(super) enum Op {
    Add {
        event_id: String,
        shown_id: String,
        room_id: String,
        kind: String,
        text: String,
        stream: i64,
    },
    /// The document keyed by this stream position.
    Delete(i64),
    /// Every document of a purged room.
    DropRoom(String),
}

#[derive(Deserialize)]
struct Content {
    body: Option<Value>,
    name: Option<Value>,
    topic: Option<Value>,
    #[serde(rename = "m.relates_to")]
    relates_to: Option<Value>,
    #[serde(rename = "m.new_content")]
    new_content: Option<Value>,
}

pub fn is_searchable(p: &Pdu) -> bool {
    matches!(p.kind.as_str(), "m.room.message" | "m.room.name" | "m.room.topic" | "m.room.redaction")
}

/// What an edit needs to know about the event it replaces.
pub struct Original {
    pub sender: String,
    pub room_id: String,
    pub stream: i64,
    pub redacted: bool,
}

/// The edited event, if the edit may replace it: same sender, same room, not redacted.
fn original_of(db: &Db, edit_sender: &str, room_id: &str, original_id: &str) -> Option<Original> {
    let p = stored(db, original_id)?;
    let o = Original {
        sender: p.sender.to_string(),
        room_id: p.room_id.to_string(),
        stream: p.stream_ordering,
        redacted: p.redacted_because.is_some(),
    };
    (o.sender == edit_sender && o.room_id == room_id && !o.redacted).then_some(o)
}

/// A stored event an edit or a redaction names (none when unknown or unreadable: nothing to
/// replace or delete).
fn stored(db: &Db, event_id: &str) -> Option<Pdu> {
    let mut conn = db.get().ok()?;
    crate::store::events::event_by_id(&mut conn, event_id).ok()?
}

struct EventFacts<'a> {
    event_id: &'a str,
    sender: &'a str,
    room_id: &'a str,
    kind: &'a str,
    redacts: Option<&'a str>,
    stream: i64,
}

/// The index operations for an event. An edit (`m.replace`) by the original's sender replaces the
/// original's document (so a message is indexed once, with its latest text, and redacting the
/// original removes it); a redaction deletes.
fn ops_for(db: &Db, ev: &EventFacts<'_>, content: Content, out: &mut Vec<Op>) {
    let text_of = |v: Option<&Value>| v.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let add = |key: &str, text: String, stream: i64| Op::Add {
        event_id: key.into(),
        shown_id: ev.event_id.into(),
        room_id: ev.room_id.into(),
        kind: ev.kind.into(),
        text,
        stream,
    };
    match ev.kind {
        "m.room.redaction" => {
            if let Some(stream) = ev.redacts.and_then(|r| stored(db, r)).map(|p| p.stream_ordering) {
                out.push(Op::Delete(stream));
            }
        }
        "m.room.message" => {
            let replaces = content
                .relates_to
                .as_ref()
                .filter(|r| r.get("rel_type").and_then(Value::as_str) == Some("m.replace"))
                .and_then(|r| r.get("event_id"))
                .and_then(Value::as_str);
            match replaces {
                Some(orig) => {
                    let Some(o) = original_of(db, ev.sender, ev.room_id, orig) else { return };
                    match text_of(content.new_content.as_ref().and_then(|n| n.get("body"))) {
                        Some(text) => out.push(add(orig, text, o.stream)),
                        None => out.push(Op::Delete(o.stream)),
                    }
                }
                None => {
                    if let Some(text) = text_of(content.body.as_ref()) {
                        out.push(add(ev.event_id, text, ev.stream));
                    }
                }
            }
        }
        "m.room.name" | "m.room.topic" => {
            let v = if ev.kind == "m.room.name" { content.name.as_ref() } else { content.topic.as_ref() };
            if let Some(text) = text_of(v) {
                out.push(add(ev.event_id, text, ev.stream));
            }
        }
        _ => {}
    }
}

/// Applies one operation. `upsert` deletes any document with the same key first (the live path
/// and replays need it; a rebuild adds each event once and only pays it for edits).
pub(super) fn apply(writer: &IndexWriter, f: &Fields, op: &Op, upsert: bool) -> Result<()> {
    match op {
        Op::Delete(stream) => {
            writer.delete_term(Term::from_field_i64(f.stream, *stream));
        }
        Op::DropRoom(room_id) => {
            writer.delete_term(Term::from_field_text(f.room_id, room_id));
        }
        Op::Add { event_id, shown_id, room_id, kind, text, stream } => {
            if upsert || event_id != shown_id {
                writer.delete_term(Term::from_field_i64(f.stream, *stream));
            }
            writer
                .add_document(doc!(
                    f.event_id => event_id.as_str(),
                    f.shown_id => shown_id.as_str(),
                    f.room_id => room_id.as_str(),
                    f.kind => kind.as_str(),
                    f.content => text.as_str(),
                    f.stream => *stream
                ))
                .map_err(|e| Error::internal_from("search index", e))?;
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct StoredEvent {
    content: Content,
    redacts: Option<String>,
    sender: String,
}

/// The index operations for an event the writer committed lately, its content already parsed.
pub(super) fn ops_for_pdu(db: &Db, p: &Pdu, out: &mut Vec<Op>) {
    let Ok(content) = Content::deserialize(&p.content) else {
        log::warn!("search: event {} has unreadable content; not indexed", p.event_id);
        return;
    };
    let facts = EventFacts {
        event_id: p.event_id.as_str(),
        sender: p.sender.as_str(),
        room_id: p.room_id.as_str(),
        kind: &p.kind,
        redacts: p.redacts.as_ref().map(|r| r.as_str()),
        stream: p.stream_ordering,
    };
    ops_for(db, &facts, content, out);
}

/// The index operations for one stored row.
pub(super) fn ops_for_row(db: &Db, row: &crate::store::events::SearchableRow, out: &mut Vec<Op>) {
    let (stream, event_id, room_id, kind, json) = row;
    let Ok(ev) = serde_json::from_str::<StoredEvent>(json) else {
        log::warn!("search: event {event_id} is unreadable; not indexed");
        return;
    };
    let facts = EventFacts { event_id, sender: &ev.sender, room_id, kind, redacts: ev.redacts.as_deref(), stream: *stream };
    ops_for(db, &facts, ev.content, out);
}
