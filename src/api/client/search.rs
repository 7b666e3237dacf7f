//! `/search` over `room_events`, answered from the search actor's current index.

use crate::actors::search::RoomScope;
use crate::api::{Body, Svc, ok_json, query, query_i64, str_field};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::events::Pdu;
use crate::events::visibility::HistoryView;
use crate::store::visibility as vis;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/search", web::post().to(search))]);
}

fn key_to_kind(key: &str) -> Result<&'static str> {
    match key {
        "content.body" => Ok("m.room.message"),
        "content.name" => Ok("m.room.name"),
        "content.topic" => Ok("m.room.topic"),
        other => Err(Error::invalid_param(format!("Unrecognised search key {other}"))),
    }
}

fn string_list(v: Option<&Value>, what: &str) -> Result<Option<Vec<String>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map(str::to_owned).ok_or_else(|| Error::bad_json(format!("{what} must be strings"))))
            .collect::<Result<_>>()
            .map(Some),
        Some(_) => Err(Error::bad_json(format!("{what} must be a list"))),
    }
}

async fn search(svc: Svc, who: Requester, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    let q = query(&req);
    let offset = query_i64(&q, "next_batch")?.unwrap_or(0);
    let max_offset = crate::actors::search::MAX_OFFSET;
    let offset = usize::try_from(offset)
        .ok()
        .filter(|o| *o <= max_offset)
        .ok_or_else(|| Error::invalid_param(format!("next_batch must be between 0 and {max_offset}")))?;
    let cats = body.get("search_categories").filter(|v| v.is_object()).ok_or_else(|| Error::missing_param("Missing search_categories"))?;
    let Some(criteria) = cats.get("room_events") else {
        return Ok(ok_json(json!({"search_categories": {}})));
    };
    if !criteria.is_object() {
        return Err(Error::bad_json("room_events must be an object"));
    }
    let term = str_field(criteria, "search_term")?.to_owned();
    let kinds: Vec<String> = string_list(criteria.get("keys"), "keys")?
        .unwrap_or_default()
        .iter()
        .map(|k| key_to_kind(k).map(str::to_owned))
        .collect::<Result<_>>()?;
    let filter = criteria.get("filter").cloned().unwrap_or(Value::Null);
    let wanted_rooms = string_list(filter.get("rooms"), "filter.rooms")?;
    let not_rooms: HashSet<String> = string_list(filter.get("not_rooms"), "filter.not_rooms")?.unwrap_or_default().into_iter().collect();
    let limit = match filter.get("limit") {
        None | Some(Value::Null) => 10,
        Some(v) => {
            let n = v.as_u64().ok_or_else(|| Error::bad_json("filter.limit must be a non-negative integer"))?;
            n.min(crate::actors::search::MAX_LIMIT as u64) as usize
        }
    };
    let recent = match criteria.get("order_by").and_then(Value::as_str) {
        None | Some("rank") => false,
        Some("recent") => true,
        Some(_) => return Err(Error::invalid_param("order_by must be rank or recent")),
    };
    let context = criteria.get("event_context").filter(|c| c.is_object()).cloned();

    // Only rooms the requester is joined to are searched.
    let user = who.user_id.to_string();
    let joined = svc.db.run(move |c| crate::store::memberships::joined_rooms(c, &user)).await?;
    let rooms: Vec<String> =
        joined.into_iter().filter(|r| wanted_rooms.as_ref().is_none_or(|w| w.contains(r)) && !not_rooms.contains(r)).collect();
    let highlights: Vec<String> =
        term.split_whitespace().map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase()).filter(|w| !w.is_empty()).collect();
    if rooms.is_empty() || limit == 0 {
        return Ok(ok_json(json!({"search_categories": {"room_events": {"count": 0, "highlights": highlights, "results": []}}})));
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
    let off = offset;
    let found = tokio::task::spawn_blocking(move || crate::actors::search::search(&shared, &term, &scopes, &kinds, recent, off, limit))
        .await
        .map_err(|e| Error::internal(e.to_string()))??;

    let ids: Vec<(String, f64)> = found.hits.iter().map(|h| (h.event_id.clone(), h.rank)).collect();
    let results = svc
        .db
        .run(move |c| {
            let mut out = Vec::new();
            for (id, rank) in ids {
                let Some(p) = crate::store::events::event_by_id(c, &id)? else { continue };
                // The index matched by position; the event's own position is what counts.
                let Some(view) = views.get(&p.room_id).filter(|v| v.can_see(p.stream_ordering)) else { continue };
                let mut r = json!({"rank": rank, "result": p.to_client(None)});
                if let Some(ctx) = &context {
                    r["context"] = event_context(c, &p, view, ctx)?;
                }
                out.push(r);
            }
            Ok(out)
        })
        .await?;
    let mut room_events = json!({"count": found.count, "highlights": highlights, "results": results});
    // No token past the deepest page a search may reach.
    if off + limit < found.count && off + limit <= max_offset {
        room_events["next_batch"] = json!((off + limit).to_string());
    }
    Ok(ok_json(json!({"search_categories": {"room_events": room_events}})))
}

fn event_context(c: &mut crate::store::Conn, p: &Pdu, view: &HistoryView, ctx: &Value) -> Result<Value> {
    let before = ctx.get("before_limit").and_then(Value::as_i64).unwrap_or(5).clamp(0, 100);
    let after = ctx.get("after_limit").and_then(Value::as_i64).unwrap_or(5).clamp(0, 100);
    let pos = p.stream_ordering;
    let events_before = vis::visible_events(c, &p.room_id, view, 0, pos - 1, before, true, None)?;
    let events_after = vis::visible_events(c, &p.room_id, view, pos, i64::MAX, after, false, None)?;
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
            if let Some(m) = crate::store::events::state_event(c, &p.room_id, "m.room.member", s)? {
                profiles
                    .insert(s.to_owned(), json!({"displayname": m.content.get("displayname"), "avatar_url": m.content.get("avatar_url")}));
            }
        }
        out["profile_info"] = Value::Object(profiles);
    }
    Ok(out)
}
