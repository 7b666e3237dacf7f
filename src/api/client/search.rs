//! `POST /search` over `room_events`: the body checked, the search service asked.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::service::search::{self, MAX_LIMIT, MAX_OFFSET, SearchRequest};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

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

#[derive(Deserialize)]
struct SearchQuery {
    next_batch: Option<i64>,
}

#[derive(Deserialize)]
struct SearchBody {
    search_categories: Categories,
}

#[derive(Deserialize)]
struct Categories {
    room_events: Option<RoomEventsCriteria>,
}

#[derive(Deserialize)]
struct RoomEventsCriteria {
    search_term: String,
    keys: Option<Vec<String>>,
    #[serde(default)]
    filter: Option<SearchFilter>,
    order_by: Option<String>,
    event_context: Option<Value>,
}

#[derive(Deserialize, Default)]
struct SearchFilter {
    rooms: Option<Vec<String>>,
    not_rooms: Option<Vec<String>>,
    limit: Option<u64>,
}

async fn search(svc: Svc, who: Requester, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    let q: SearchQuery = parse_query(&req)?;
    let offset = usize::try_from(q.next_batch.unwrap_or(0))
        .ok()
        .filter(|o| *o <= MAX_OFFSET)
        .ok_or_else(|| Error::invalid_param(format!("next_batch must be between 0 and {MAX_OFFSET}")))?;
    let body: SearchBody = body.parse()?;
    let Some(criteria) = body.search_categories.room_events else {
        return Ok(ok_json(json!({"search_categories": {}})));
    };
    let kinds = criteria.keys.unwrap_or_default().iter().map(|k| key_to_kind(k).map(str::to_owned)).collect::<Result<_>>()?;
    let filter = criteria.filter.unwrap_or_default();
    let recent = match criteria.order_by.as_deref() {
        None | Some("rank") => false,
        Some("recent") => true,
        Some(_) => return Err(Error::invalid_param("order_by must be rank or recent")),
    };
    let request = SearchRequest {
        term: criteria.search_term,
        kinds,
        rooms: filter.rooms,
        not_rooms: filter.not_rooms.unwrap_or_default().into_iter().collect(),
        limit: filter.limit.map_or(10, |n| n.min(MAX_LIMIT as u64) as usize),
        offset,
        recent,
        context: criteria.event_context.filter(Value::is_object),
    };
    let found = search::search_room_events(&svc, &who, request).await?;
    let mut room_events = json!({"count": found.count, "highlights": found.highlights, "results": found.results});
    if let Some(next) = found.next_offset {
        room_events["next_batch"] = json!(next.to_string());
    }
    Ok(ok_json(json!({"search_categories": {"room_events": room_events}})))
}
