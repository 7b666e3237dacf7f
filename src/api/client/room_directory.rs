//! The room directory: `/publicRooms` (GET and POST with a search filter) and each room's
//! `/directory/list/room/{roomId}` visibility.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::ids::parse_room_id;
use crate::service::room_directory::{self, ListQuery, MAX_LIMIT};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/publicRooms", web::get().to(list_get)),
            ("/publicRooms", web::post().to(list_post)),
            ("/directory/list/room/{room}", web::get().to(get_visibility)),
            ("/directory/list/room/{room}", web::put().to(set_visibility)),
        ],
    );
}

/// Page tokens are `o<offset>`.
fn parse_since(since: Option<&str>) -> Result<usize> {
    match since {
        None | Some("") => Ok(0),
        Some(s) => s.strip_prefix('o').and_then(|n| n.parse().ok()).ok_or_else(|| Error::invalid_param("Invalid since token")),
    }
}

fn check_server(svc: &Svc, server: Option<&str>) -> Result<()> {
    match server {
        Some(s) if s != svc.server_name() => Err(Error::invalid_param("Only this server's room directory is served")),
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
struct ListGetQuery {
    server: Option<String>,
    limit: Option<i64>,
    since: Option<String>,
}

#[derive(Deserialize)]
struct ServerQuery {
    server: Option<String>,
}

#[derive(Deserialize)]
struct ListBody {
    limit: Option<u64>,
    since: Option<String>,
    filter: Option<ListFilter>,
}

#[derive(Deserialize)]
struct ListFilter {
    generic_search_term: Option<String>,
}

async fn list_get(svc: Svc, req: HttpRequest) -> Result<HttpResponse> {
    let q: ListGetQuery = parse_query(&req)?;
    check_server(&svc, q.server.as_deref())?;
    let limit = match q.limit {
        Some(n) if n < 0 => return Err(Error::invalid_param("limit must not be negative")),
        Some(n) => (n as usize).min(MAX_LIMIT),
        None => 100,
    };
    list(&svc, ListQuery { limit, offset: parse_since(q.since.as_deref())?, term: None }).await
}

async fn list_post(svc: Svc, _who: Requester, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    check_server(&svc, parse_query::<ServerQuery>(&req)?.server.as_deref())?;
    let b: ListBody = body.parse()?;
    let limit = b.limit.map_or(100, |n| n.min(MAX_LIMIT as u64) as usize);
    let term = b.filter.and_then(|f| f.generic_search_term).map(|s| s.to_lowercase());
    list(&svc, ListQuery { limit, offset: parse_since(b.since.as_deref())?, term }).await
}

async fn list(svc: &Svc, q: ListQuery) -> Result<HttpResponse> {
    let (offset, limit) = (q.offset, q.limit);
    let page = room_directory::list(svc, q).await?;
    let mut body = json!({"chunk": page.chunk, "total_room_count_estimate": page.total});
    if page.more {
        // `offset` comes from the client's token: it may be near usize::MAX.
        body["next_batch"] = json!(format!("o{}", offset.saturating_add(limit)));
    }
    if offset > 0 {
        body["prev_batch"] = json!(format!("o{}", offset.saturating_sub(limit)));
    }
    Ok(ok_json(body))
}

async fn get_visibility(svc: Svc, path: web::Path<String>) -> Result<HttpResponse> {
    let published = room_directory::is_published(&svc, &parse_room_id(&path)?).await?;
    Ok(ok_json(json!({"visibility": if published { "public" } else { "private" }})))
}

#[derive(Deserialize)]
struct VisibilityBody {
    visibility: String,
}

async fn set_visibility(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let room = parse_room_id(&path)?;
    let published = match body.parse::<VisibilityBody>()?.visibility.as_str() {
        "public" => true,
        "private" => false,
        _ => return Err(Error::invalid_param("visibility must be public or private")),
    };
    room_directory::set_published(&svc, &who, &room, published).await?;
    Ok(ok_json(json!({})))
}
