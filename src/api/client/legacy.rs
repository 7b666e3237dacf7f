//! Deprecated routes old bots and bridges still call: the `/events` stream, `/initialSync`,
//! a room's `/initialSync`, and sending without a transaction ID. Thin over the services.

use crate::api::extractors::Requester;
use crate::api::tokens::{parse_since, parse_token, since_token};
use crate::api::{Body, Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::ids::parse_room_id;
use crate::service::legacy::StreamStart;
use crate::service::{legacy, room_events};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/events", web::get().to(events)),
            ("/initialSync", web::get().to(initial_sync)),
            ("/rooms/{room}/initialSync", web::get().to(room_initial_sync)),
            ("/rooms/{room}/send/{type}", web::post().to(send_without_txn)),
        ],
    );
}

fn non_negative(name: &str, v: Option<i64>, default: i64) -> Result<i64> {
    match v {
        Some(n) if n < 0 => Err(Error::invalid_param(format!("{name} must not be negative"))),
        n => Ok(n.unwrap_or(default)),
    }
}

#[derive(Deserialize)]
struct EventsQuery {
    from: Option<String>,
    timeout: Option<i64>,
    /// Checked (a non-negative integer) but not applied: a page holds what the stream has.
    limit: Option<i64>,
    room_id: Option<String>,
}

/// `GET /events`: the stream after `from` (or from now), waiting up to `timeout` ms.
async fn events(svc: Svc, who: Requester, req: HttpRequest) -> Result<HttpResponse> {
    let q: EventsQuery = parse_query(&req)?;
    let from = match q.from.as_deref() {
        None => StreamStart::Now,
        Some(t) if t.starts_with('t') => StreamStart::AfterEvent(parse_token(t)?),
        Some(t) => StreamStart::At(parse_since(t)?),
    };
    let timeout = non_negative("timeout", q.timeout, 30_000)?;
    non_negative("limit", q.limit, 10)?;
    let room = q.room_id.as_deref().map(parse_room_id).transpose()?;
    let page = legacy::events(&svc, &who, from, timeout, room.as_deref()).await?;
    Ok(ok_json(json!({"chunk": page.chunk, "start": since_token(&page.start), "end": since_token(&page.end)})))
}

#[derive(Deserialize)]
struct InitialSyncQuery {
    limit: Option<i64>,
    archived: Option<bool>,
}

/// `GET /initialSync`.
async fn initial_sync(svc: Svc, who: Requester, req: HttpRequest) -> Result<HttpResponse> {
    let q: InitialSyncQuery = parse_query(&req)?;
    let limit = non_negative("limit", q.limit, 10)?;
    let (mut body, end) = legacy::initial_sync(&svc, &who, limit, q.archived.unwrap_or(false)).await?;
    body["end"] = json!(since_token(&end));
    Ok(ok_json(body))
}

#[derive(Deserialize)]
struct RoomInitialSyncQuery {
    limit: Option<i64>,
}

/// `GET /rooms/{roomId}/initialSync`.
async fn room_initial_sync(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    let q: RoomInitialSyncQuery = parse_query(&req)?;
    let limit = non_negative("limit", q.limit, 10)?;
    Ok(ok_json(legacy::room_initial_sync(&svc, &who, &room_id, limit).await?))
}

/// `POST /rooms/{roomId}/send/{eventType}`: a send with a fresh transaction ID, so a retry
/// sends again (the reason the spec replaced it).
async fn send_without_txn(svc: Svc, who: Requester, path: web::Path<(String, String)>, body: Body) -> Result<HttpResponse> {
    let (room, kind) = path.into_inner();
    let room_id = parse_room_id(&room)?;
    let content = body.object()?;
    let txn = format!("legacy-{}", crate::ids::random_alnum(24));
    let id = room_events::send_message(&svc, &who, &room_id, &kind, &txn, content).await?;
    Ok(ok_json(json!({"event_id": id})))
}
