//! Synapse's room admin API: the room list, one room's details, members and state, and the
//! rooms' sizes in the store.

use crate::api::extractors::Admin;
use crate::api::{Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::service::admin_rooms::{self, ListQuery, ORDER_NAMES, RoomOrder};
use actix_web::{HttpRequest, HttpResponse, web};
use ruma::OwnedRoomId;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/v1/rooms", web::get().to(list)),
            ("/v1/rooms/{room_id}", web::get().to(details)),
            ("/v1/rooms/{room_id}/members", web::get().to(members)),
            ("/v1/rooms/{room_id}/state", web::get().to(state)),
            ("/v1/statistics/database/rooms", web::get().to(database_rooms)),
        ],
    );
}

/// A room ID from the path of a read: one that does not parse names no room this server knows,
/// so 404 as Synapse answers it.
pub(super) fn known_room_id(path: &str) -> Result<OwnedRoomId> {
    OwnedRoomId::try_from(path).map_err(|_| Error::not_found("Room not found"))
}

/// A paging number: absent is `default`, negative 400, as Synapse words it.
pub(super) fn non_negative(name: &str, v: Option<i64>, default: i64) -> Result<i64> {
    match v {
        Some(n) if n < 0 => Err(Error::invalid_param(format!("Query parameter {name} must be a positive integer."))),
        v => Ok(v.unwrap_or(default)),
    }
}

/// `dir`: forwards unless `b`.
pub(super) fn backwards(dir: Option<&str>) -> Result<bool> {
    match dir {
        None | Some("f") => Ok(false),
        Some("b") => Ok(true),
        Some(_) => Err(Error::invalid_param("Query parameter 'dir' must be one of ['b', 'f']")),
    }
}

#[derive(Deserialize)]
struct ListParams {
    from: Option<i64>,
    limit: Option<i64>,
    order_by: Option<String>,
    dir: Option<String>,
    search_term: Option<String>,
    public_rooms: Option<bool>,
    empty_rooms: Option<bool>,
}

async fn list(svc: Svc, _admin: Admin, req: HttpRequest) -> Result<HttpResponse> {
    let q: ListParams = parse_query(&req)?;
    let order = match q.order_by.as_deref() {
        None => RoomOrder::Name,
        Some(s) => RoomOrder::parse(s).ok_or_else(|| {
            let names: Vec<String> = ORDER_NAMES.iter().map(|n| format!("'{n}'")).collect();
            Error::invalid_param(format!("Query parameter 'order_by' must be one of [{}]", names.join(", ")))
        })?,
    };
    if q.search_term.as_deref() == Some("") {
        return Err(Error::invalid_param("search_term cannot be an empty string"));
    }
    let from = non_negative("from", q.from, 0)?;
    let limit = non_negative("limit", q.limit, 100)?.min(admin_rooms::MAX_LIST_LIMIT);
    let query = ListQuery {
        from,
        limit,
        order,
        backwards: backwards(q.dir.as_deref())?,
        search_term: q.search_term,
        public_rooms: q.public_rooms,
        empty_rooms: q.empty_rooms,
    };
    let listed = admin_rooms::list(&svc, query).await?;
    let mut body = json!({"offset": from, "rooms": listed.rooms, "total_rooms": listed.total});
    if from.saturating_add(limit) < listed.total {
        body["next_batch"] = json!(from + limit);
    }
    if from > 0 {
        body["prev_batch"] = json!((from - limit).max(0));
    }
    Ok(ok_json(body))
}

async fn details(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let room = admin_rooms::details(&svc, &known_room_id(&path)?).await?;
    Ok(ok_json(json!(room)))
}

async fn members(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let members = admin_rooms::members(&svc, &known_room_id(&path)?).await?;
    Ok(ok_json(json!({"total": members.len(), "members": members})))
}

#[derive(Deserialize)]
struct StateParams {
    #[serde(rename = "type")]
    kind: Option<String>,
}

async fn state(svc: Svc, _admin: Admin, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let q: StateParams = parse_query(&req)?;
    let kind = q.kind.filter(|k| !k.is_empty());
    let state = admin_rooms::state(&svc, &known_room_id(&path)?, kind).await?;
    let state: Vec<Value> = state.iter().map(|p| p.to_client(None)).collect();
    Ok(ok_json(json!({"state": state})))
}

async fn database_rooms(svc: Svc, _admin: Admin) -> Result<HttpResponse> {
    let rooms: Vec<Value> = admin_rooms::database_sizes(&svc)
        .await?
        .into_iter()
        .map(|(room_id, size)| json!({"room_id": room_id, "estimated_size": size}))
        .collect();
    Ok(ok_json(json!({"rooms": rooms})))
}
