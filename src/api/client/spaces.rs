//! `GET /_matrix/client/v1/rooms/{roomId}/hierarchy`: the rooms of a space, depth first.

use crate::api::extractors::Requester;
use crate::api::{Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::ids::parse_room_id;
use crate::service::spaces::{self, HierarchyRequest};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

pub fn configure_v1(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/_matrix/client/v1/rooms/{room}/hierarchy", web::get().to(hierarchy))]);
}

#[derive(Deserialize)]
struct HierarchyQuery {
    suggested_only: Option<bool>,
    limit: Option<i64>,
    max_depth: Option<i64>,
    from: Option<String>,
}

async fn hierarchy(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    let q: HierarchyQuery = parse_query(&req)?;
    if q.limit.is_some_and(|l| l < 1) {
        return Err(Error::invalid_param("limit must be a positive integer"));
    }
    if q.max_depth.is_some_and(|d| d < 0) {
        return Err(Error::invalid_param("max_depth must be a non-negative integer"));
    }
    let request = HierarchyRequest {
        suggested_only: q.suggested_only.unwrap_or(false),
        max_depth: q.max_depth,
        limit: q.limit.unwrap_or(spaces::DEFAULT_LIMIT),
        from: q.from,
    };
    let page = spaces::hierarchy(&svc, &who.user_id, &room_id, request).await?;
    let mut body = json!({"rooms": page.rooms});
    if let Some(next) = page.next_batch {
        body["next_batch"] = json!(next);
    }
    Ok(ok_json(body))
}
