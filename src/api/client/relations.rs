//! Relations and threads: `GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]`
//! and `GET /rooms/{roomId}/threads`, served under `/_matrix/client/v1` only (as the spec has them).

use crate::api::extractors::Requester;
use crate::api::tokens::{page_token, parse_token};
use crate::api::{Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::ids::{parse_event_id, parse_room_id};
use crate::service::relations::{self, ChildFilter, RECURSION_DEPTH, RelationsRequest};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

pub fn configure_v1(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/_matrix/client/v1/rooms/{room}/relations/{event}", web::get().to(children)),
            ("/_matrix/client/v1/rooms/{room}/relations/{event}/{rel_type}", web::get().to(children_of_type)),
            ("/_matrix/client/v1/rooms/{room}/relations/{event}/{rel_type}/{event_type}", web::get().to(children_of_type_and_kind)),
            ("/_matrix/client/v1/rooms/{room}/threads", web::get().to(threads)),
        ],
    );
}

#[derive(Deserialize)]
struct RelationsQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
    dir: Option<String>,
    recurse: Option<bool>,
}

async fn children(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (room, event) = path.into_inner();
    relations_reply(svc, who, req, &room, &event, None, None).await
}

async fn children_of_type(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (room, event, rel_type) = path.into_inner();
    relations_reply(svc, who, req, &room, &event, Some(rel_type), None).await
}

async fn children_of_type_and_kind(
    svc: Svc,
    who: Requester,
    req: HttpRequest,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse> {
    let (room, event, rel_type, kind) = path.into_inner();
    relations_reply(svc, who, req, &room, &event, Some(rel_type), Some(kind)).await
}

async fn relations_reply(
    svc: Svc,
    who: Requester,
    req: HttpRequest,
    room: &str,
    event: &str,
    rel_type: Option<String>,
    event_type: Option<String>,
) -> Result<HttpResponse> {
    let room_id = parse_room_id(room)?;
    let parent = parse_event_id(event)?;
    let q: RelationsQuery = parse_query(&req)?;
    let backwards = match q.dir.as_deref() {
        None | Some("b") => true,
        Some("f") => false,
        Some(_) => return Err(Error::invalid_param("dir must be b or f")),
    };
    let limit = match q.limit {
        // Synapse fails on 0 (a 500); a page that can never move on is refused instead.
        Some(l) if l < 1 => return Err(Error::invalid_param("limit must be a positive integer")),
        l => l.unwrap_or(relations::DEFAULT_LIMIT),
    };
    let recurse = q.recurse.unwrap_or(false);
    let request = RelationsRequest {
        filter: ChildFilter { rel_type, event_type, recurse },
        backwards,
        from: q.from.as_deref().map(parse_token).transpose()?,
        to: q.to.as_deref().map(parse_token).transpose()?,
        limit,
    };
    let from = request.from;
    let page = relations::relations(&svc, &who.user_id, &room_id, &parent, request).await?;
    let mut body = json!({"chunk": page.chunk.client_events()});
    if let Some(next) = page.next {
        body["next_batch"] = json!(page_token(next));
    }
    if let Some(from) = from {
        body["prev_batch"] = json!(page_token(from));
    }
    if recurse {
        body["recursion_depth"] = json!(RECURSION_DEPTH);
    }
    Ok(ok_json(body))
}

#[derive(Deserialize, Default, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Include {
    #[default]
    All,
    Participated,
}

#[derive(Deserialize)]
struct ThreadsQuery {
    #[serde(default)]
    include: Include,
    limit: Option<i64>,
    from: Option<String>,
}

async fn threads(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    let q: ThreadsQuery = parse_query(&req)?;
    let limit = match q.limit {
        Some(l) if l < 1 => return Err(Error::invalid_param("limit must be a positive integer")),
        l => l.unwrap_or(relations::DEFAULT_THREADS),
    };
    let from = q.from.as_deref().map(parse_token).transpose()?;
    let page = relations::threads(&svc, &who.user_id, &room_id, q.include == Include::Participated, from, limit).await?;
    let mut body = json!({"chunk": page.chunk.client_events()});
    if let Some(next) = page.next {
        body["next_batch"] = json!(page_token(next));
    }
    Ok(ok_json(body))
}
