//! Full-text search of the rooms a user is joined to, narrowed to what each room's history
//! visibility lets them see, and the context of each hit.

use crate::Services;
use crate::actors::search::RoomScope;
use crate::auth::tokens::Session;
use crate::error::{Error, Result};
use crate::events::Pdu;
use crate::events::visibility::HistoryView;
use crate::store::visibility as vis;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

pub use crate::actors::search::{MAX_LIMIT, MAX_OFFSET};

/// A `room_events` search, already checked and bounded.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub term: String,
    /// Event types to match (none: all searchable ones).
    pub kinds: Vec<String>,
    pub rooms: Option<Vec<String>>,
    pub not_rooms: HashSet<String>,
    pub limit: usize,
    pub offset: usize,
    pub recent: bool,
    /// The `event_context` object, when the client asked for context.
    pub context: Option<Value>,
}

/// The `room_events` result: hits as client JSON with rank and context, the count, the words
/// to highlight, and the offset of the next page if there is one a search may reach.
pub struct SearchResult {
    pub count: usize,
    pub highlights: Vec<String>,
    pub results: Vec<Value>,
    pub next_offset: Option<usize>,
}

pub async fn search_room_events(svc: &Services, who: &Session, req: SearchRequest) -> Result<SearchResult> {
    let SearchRequest { term, kinds, rooms: wanted_rooms, not_rooms, limit, offset, recent, context } = req;
    let limit = limit.min(MAX_LIMIT);
    // Only rooms the requester is joined to are searched.
    let user = who.user_id.to_string();
    let joined = svc.db.run(move |c| crate::store::memberships::joined_rooms(c, &user)).await?;
    let rooms: Vec<String> = joined
        .into_iter()
        .map(String::from)
        .filter(|r| wanted_rooms.as_ref().is_none_or(|w| w.contains(r)) && !not_rooms.contains(r))
        .collect();
    let highlights: Vec<String> =
        term.split_whitespace().map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase()).filter(|w| !w.is_empty()).collect();
    if rooms.is_empty() || limit == 0 {
        return Ok(SearchResult { count: 0, highlights, results: vec![], next_offset: None });
    }
    // Each room's history view narrows its search, so hidden events are neither hits nor counted.
    let user = who.user_id.to_string();
    let views: HashMap<String, HistoryView> =
        svc.db.run(move |c| rooms.into_iter().map(|r| Ok((r.clone(), vis::history_view(c, &r, &user)?))).collect::<Result<_>>()).await?;
    let scopes: Vec<RoomScope> = views
        .iter()
        .map(|(room, view)| {
            let visible = view.ranges_within(0, i64::MAX);
            let all = visible.len() == 1 && visible[0].0 <= 1 && visible[0].1 == i64::MAX;
            RoomScope { room_id: room.clone(), visible: (!all).then_some(visible) }
        })
        .filter(|s| s.visible.as_ref().is_none_or(|v| !v.is_empty()))
        .collect();
    let shared = svc.search_index.clone();
    let found = tokio::task::spawn_blocking(move || crate::actors::search::search(&shared, &term, &scopes, &kinds, recent, offset, limit))
        .await
        .map_err(|e| Error::internal_from("search task", e))??;

    let ids: Vec<(String, f64)> = found.hits.iter().map(|h| (h.event_id.clone(), h.rank)).collect();
    let results = svc
        .db
        .run(move |c| {
            let mut out = Vec::new();
            for (id, rank) in ids {
                let Some(p) = crate::store::events::event_by_id(c, &id)? else { continue };
                // The index matched by position; the event's own position is what counts.
                let Some(view) = views.get(p.room_id.as_str()).filter(|v| v.can_see(p.stream_ordering)) else { continue };
                let mut r = json!({"rank": rank, "result": p.to_client(None)});
                if let Some(ctx) = &context {
                    r["context"] = event_context(c, &p, view, ctx)?;
                }
                out.push(r);
            }
            Ok(out)
        })
        .await?;
    // No token past the deepest page a search may reach.
    let next_offset = (offset + limit < found.count && offset + limit <= MAX_OFFSET).then_some(offset + limit);
    Ok(SearchResult { count: found.count, highlights, results, next_offset })
}

fn event_context(c: &mut crate::store::Conn, p: &Pdu, view: &HistoryView, ctx: &Value) -> Result<Value> {
    let before = ctx.get("before_limit").and_then(Value::as_i64).unwrap_or(5).clamp(0, 100);
    let after = ctx.get("after_limit").and_then(Value::as_i64).unwrap_or(5).clamp(0, 100);
    let pos = p.stream_ordering;
    let events_before = vis::visible_events(c, p.room_id.as_str(), view, 0, pos - 1, before, true, None)?;
    let events_after = vis::visible_events(c, p.room_id.as_str(), view, pos, i64::MAX, after, false, None)?;
    let start = events_before.last().map(|e| e.stream_ordering - 1).unwrap_or(pos - 1);
    let end = events_after.last().map(|e| e.stream_ordering).unwrap_or(pos);
    let mut out = json!({
        "events_before": events_before.iter().map(|e| e.to_client(None)).collect::<Vec<_>>(),
        "events_after": events_after.iter().map(|e| e.to_client(None)).collect::<Vec<_>>(),
        "start": format!("t{start}"),
        "end": format!("t{end}"),
    });
    if ctx.get("include_profile").and_then(Value::as_bool).unwrap_or(false) {
        let mut profiles = Map::new();
        let senders: HashSet<&str> =
            std::iter::once(p.sender.as_str()).chain(events_before.iter().chain(&events_after).map(|e| e.sender.as_str())).collect();
        for s in senders {
            if let Some(m) = crate::store::events::state_event(c, p.room_id.as_str(), "m.room.member", s)? {
                profiles
                    .insert(s.to_owned(), json!({"displayname": m.content.get("displayname"), "avatar_url": m.content.get("avatar_url")}));
            }
        }
        out["profile_info"] = Value::Object(profiles);
    }
    Ok(out)
}
