//! The room directory: `/publicRooms` (GET and POST with a search filter) and each room's
//! `/directory/list/room/{roomId}` visibility.

use crate::actors::room::GetMember;
use crate::api::{Body, Svc, arc, ok_json, query, str_field};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::ids::parse_room_id;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Most rooms one page lists.
const MAX_LIMIT: usize = 1_000;

/// Power needed to publish or withdraw a room (the default for state events), unless admin.
const PUBLISH_LEVEL: i64 = 50;

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

struct ListQuery {
    limit: usize,
    offset: usize,
    term: Option<String>,
}

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

async fn list_get(svc: Svc, req: HttpRequest) -> Result<HttpResponse> {
    let q = query(&req);
    check_server(&svc, q.get("server").map(String::as_str))?;
    let limit = match crate::api::query_i64(&q, "limit")? {
        Some(n) if n < 0 => return Err(Error::invalid_param("limit must not be negative")),
        Some(n) => (n as usize).min(MAX_LIMIT),
        None => 100,
    };
    list(&svc, ListQuery { limit, offset: parse_since(q.get("since").map(String::as_str))?, term: None }).await
}

async fn list_post(svc: Svc, _who: Requester, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    check_server(&svc, query(&req).get("server").map(String::as_str))?;
    let body = body.object()?;
    let limit = match body.get("limit") {
        None | Some(Value::Null) => 100,
        Some(v) => v.as_u64().ok_or_else(|| Error::bad_json("limit must be a non-negative integer"))?.min(MAX_LIMIT as u64) as usize,
    };
    let since = crate::api::opt_str(&body, "since")?;
    let term = match body.get("filter").and_then(|f| f.get("generic_search_term")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.to_lowercase()),
        Some(_) => return Err(Error::bad_json("generic_search_term must be a string")),
    };
    list(&svc, ListQuery { limit, offset: parse_since(since)?, term }).await
}

/// The state a directory entry shows.
const ENTRY_STATE: &[&str] = &[
    "m.room.name",
    "m.room.topic",
    "m.room.canonical_alias",
    "m.room.avatar",
    "m.room.join_rules",
    "m.room.history_visibility",
    "m.room.guest_access",
    "m.room.create",
];

/// One directory entry from the room's current state (event type -> content).
fn entry(room_id: &str, joined: i64, state: &HashMap<&str, &Value>) -> Value {
    let content = |kind: &str| state.get(kind).copied().unwrap_or(&Value::Null);
    let mut e = Map::new();
    e.insert("room_id".into(), json!(room_id));
    e.insert("num_joined_members".into(), json!(joined));
    for (kind, field, key) in [
        ("m.room.name", "name", "name"),
        ("m.room.topic", "topic", "topic"),
        ("m.room.canonical_alias", "canonical_alias", "alias"),
        ("m.room.avatar", "avatar_url", "url"),
    ] {
        if let Some(v) = content(kind).get(key).and_then(Value::as_str).filter(|v| !v.is_empty()) {
            e.insert(field.into(), json!(v));
        }
    }
    let join_rule = content("m.room.join_rules").get("join_rule").and_then(Value::as_str).unwrap_or("invite");
    let history = content("m.room.history_visibility").get("history_visibility").and_then(Value::as_str).unwrap_or("shared");
    let guests = content("m.room.guest_access").get("guest_access").and_then(Value::as_str) == Some("can_join");
    if let Some(t) = content("m.room.create").get("type").and_then(Value::as_str) {
        e.insert("room_type".into(), json!(t));
    }
    e.insert("join_rule".into(), json!(join_rule));
    e.insert("world_readable".into(), json!(history == "world_readable"));
    e.insert("guest_can_join".into(), json!(guests));
    Value::Object(e)
}

async fn list(svc: &Svc, q: ListQuery) -> Result<HttpResponse> {
    let ListQuery { limit, offset, term } = q;
    let (chunk, total, more) = svc
        .db
        .run(move |c| {
            let rooms = crate::store::rooms::published_rooms(c)?;
            let ids: Vec<String> = rooms.iter().map(|(r, _)| r.clone()).collect();
            // One read of the listed state for every published room, not one per room and type.
            let pdus = crate::store::events::room_state_of_types(c, &ids, ENTRY_STATE)?;
            let mut state: HashMap<&str, HashMap<&str, &Value>> = HashMap::new();
            for p in &pdus {
                state.entry(p.room_id.as_str()).or_default().insert(p.kind.as_str(), &p.content);
            }
            let mut matching = Vec::new();
            for (room_id, joined) in &rooms {
                let e = entry(room_id, *joined, state.get(room_id.as_str()).unwrap_or(&HashMap::new()));
                let hit = term.as_deref().is_none_or(|t| {
                    ["name", "topic", "canonical_alias", "room_id"]
                        .iter()
                        .any(|f| e.get(*f).and_then(Value::as_str).is_some_and(|v| v.to_lowercase().contains(t)))
                });
                if hit {
                    matching.push(e);
                }
            }
            let total = matching.len();
            let page: Vec<Value> = matching.into_iter().skip(offset).take(limit).collect();
            let more = offset.saturating_add(page.len()) < total;
            Ok((page, total, more))
        })
        .await?;
    let mut body = json!({"chunk": chunk, "total_room_count_estimate": total});
    if more {
        // `offset` comes from the client's token: it may be near usize::MAX.
        body["next_batch"] = json!(format!("o{}", offset.saturating_add(limit)));
    }
    if offset > 0 {
        body["prev_batch"] = json!(format!("o{}", offset.saturating_sub(limit)));
    }
    Ok(ok_json(body))
}

async fn get_visibility(svc: Svc, path: web::Path<String>) -> Result<HttpResponse> {
    let room = parse_room_id(&path)?.to_string();
    let row = svc.db.run(move |c| crate::store::rooms::room_row(c, &room)).await?;
    let row = row.ok_or_else(|| Error::not_found("Unknown room"))?;
    Ok(ok_json(json!({"visibility": if row.is_public { "public" } else { "private" }})))
}

async fn set_visibility(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let room = parse_room_id(&path)?.to_string();
    let body = body.object()?;
    let published = match str_field(&body, "visibility")? {
        "public" => true,
        "private" => false,
        _ => return Err(Error::invalid_param("visibility must be public or private")),
    };
    let member = arc(&svc).send_to_room(&room, GetMember { user: who.user_id.to_string() }).await??;
    if !who.is_server_admin() && (member.membership != "join" || member.power < PUBLISH_LEVEL) {
        return Err(Error::forbidden("You need power level 50 in the room to change its directory visibility"));
    }
    if who.shadow_banned {
        return Ok(ok_json(json!({})));
    }
    let r = room.clone();
    if !svc.db.run(move |c| crate::store::rooms::set_published(c, &r, published)).await? {
        return Err(Error::not_found("Unknown room"));
    }
    log::info!("{} set the directory visibility of {room} to {}", who.user_id, if published { "public" } else { "private" });
    Ok(ok_json(json!({})))
}
