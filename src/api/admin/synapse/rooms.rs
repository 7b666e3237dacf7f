//! Synapse's room admin API: the room list, one room's details, members, state, messages, an
//! event's context, the event nearest a time, blocking, make_room_admin, force-join, forward
//! extremities, and the rooms' sizes in the store.

use crate::api::extractors::Admin;
use crate::api::tokens::{page_token, parse_token};
use crate::api::{Body, Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::events::filter::TypeFilter;
use crate::service::admin_room_actions::{self as actions, RoomTarget};
use crate::service::admin_rooms::{self, ListQuery, ORDER_NAMES, RoomOrder};
use crate::service::spaces;
use actix_web::{HttpRequest, HttpResponse, web};
use ruma::OwnedRoomId;
use serde::Deserialize;
use serde_json::{Value, json};

/// Registered with the deletion routes of `jobs`, which share `/v1/rooms/{room_id}`.
pub fn routes() -> Vec<(&'static str, actix_web::Route)> {
    vec![
        ("/v1/rooms", web::get().to(list)),
        ("/v1/rooms/{room_id}", web::get().to(details)),
        ("/v1/rooms/{room_id}/members", web::get().to(members)),
        ("/v1/rooms/{room_id}/state", web::get().to(state)),
        ("/v1/rooms/{room_id}/hierarchy", web::get().to(hierarchy)),
        ("/v1/rooms/{room_id}/messages", web::get().to(messages)),
        ("/v1/rooms/{room_id}/context/{event_id}", web::get().to(context)),
        ("/v1/rooms/{room_id}/timestamp_to_event", web::get().to(timestamp_to_event)),
        ("/v1/rooms/{room_id}/block", web::get().to(get_block)),
        ("/v1/rooms/{room_id}/block", web::put().to(put_block)),
        ("/v1/rooms/{room_id}/make_room_admin", web::post().to(make_room_admin)),
        ("/v1/rooms/{room_id}/forward_extremities", web::get().to(forward_extremities)),
        ("/v1/rooms/{room_id}/forward_extremities", web::delete().to(delete_forward_extremities)),
        ("/v1/join/{room_id}", web::post().to(join)),
        ("/v1/statistics/database/rooms", web::get().to(database_rooms)),
    ]
}

/// A room ID from the path of a read: one that does not parse names no room this server knows,
/// so 404 as Synapse answers it.
fn known_room_id(path: &str) -> Result<OwnedRoomId> {
    OwnedRoomId::try_from(path).map_err(|_| Error::not_found("Room not found"))
}

/// A paging number: absent is `default`, negative 400, as Synapse words it.
fn non_negative(name: &str, v: Option<i64>, default: i64) -> Result<i64> {
    match v {
        Some(n) if n < 0 => Err(Error::invalid_param(format!("Query parameter {name} must be a positive integer."))),
        v => Ok(v.unwrap_or(default)),
    }
}

/// `dir`: forwards unless `b`.
fn backwards(dir: Option<&str>) -> Result<bool> {
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

#[derive(Deserialize)]
struct HierarchyParams {
    from: Option<String>,
    limit: Option<i64>,
    max_depth: Option<i64>,
    suggested_only: Option<bool>,
}

/// The space's rooms as the client's `/hierarchy` shows them, every local room included
/// whatever its join rules.
async fn hierarchy(svc: Svc, _admin: Admin, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = known_room_id(&path)?;
    let q: HierarchyParams = parse_query(&req)?;
    if q.limit.is_some_and(|l| l < 1) {
        return Err(Error::invalid_param("limit must be a positive integer"));
    }
    if q.max_depth.is_some_and(|d| d < 0) {
        return Err(Error::invalid_param("max_depth must be a non-negative integer"));
    }
    let request = spaces::HierarchyRequest {
        suggested_only: q.suggested_only.unwrap_or(false),
        max_depth: q.max_depth,
        limit: q.limit.unwrap_or(spaces::DEFAULT_LIMIT),
        from: q.from,
    };
    let page = spaces::hierarchy_as_admin(&svc, &room_id, request).await?;
    let mut body = json!({"rooms": page.rooms});
    if let Some(next) = page.next_batch {
        body["next_batch"] = json!(next);
    }
    Ok(ok_json(body))
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

/// A room ID or alias from the path of an action: 400 `M_UNKNOWN` if it is neither, as Synapse.
async fn room_target(svc: &Svc, path: &str) -> Result<OwnedRoomId> {
    let target = if path.starts_with('!') {
        OwnedRoomId::try_from(path).ok().map(RoomTarget::Room)
    } else {
        ruma::OwnedRoomAliasId::try_from(path).ok().map(RoomTarget::Alias)
    };
    let target = target.ok_or_else(|| Error::unknown(format!("{path} was not legal room ID or room alias")))?;
    actions::resolve(svc, target).await
}

/// A room ID the block endpoints accept (any room, known or not): 400 `M_UNKNOWN` otherwise.
fn legal_room_id(path: &str) -> Result<OwnedRoomId> {
    OwnedRoomId::try_from(path).map_err(|_| Error::unknown(format!("{path} is not a legal room ID")))
}

/// A `filter` query parameter (a `RoomEventFilter`): the types it lets through.
fn type_filter(raw: Option<&str>) -> Result<TypeFilter> {
    let Some(raw) = raw else { return Ok(TypeFilter::default()) };
    let filter: Value = serde_json::from_str(raw).map_err(|_| Error::invalid_param("filter is not JSON"))?;
    if !filter.is_object() {
        return Err(Error::bad_json("filter must be a JSON object"));
    }
    Ok(TypeFilter::from_json(Some(&filter)))
}

#[derive(Deserialize)]
struct MessagesParams {
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
    dir: Option<String>,
    filter: Option<String>,
}

/// As the client's `/messages`, for any room and every event in it; forwards by default, as
/// Synapse's admin endpoint.
async fn messages(svc: Svc, _admin: Admin, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let q: MessagesParams = parse_query(&req)?;
    let backwards = backwards(q.dir.as_deref())?;
    let limit = non_negative("limit", q.limit, 10)?;
    let from = q.from.as_deref().map(parse_token).transpose()?;
    let to = q.to.as_deref().map(parse_token).transpose()?;
    let filter = type_filter(q.filter.as_deref())?;
    let page = match OwnedRoomId::try_from(path.as_str()) {
        Ok(room) => actions::messages(&svc, &room, backwards, from, to, limit, filter).await?,
        // A malformed ID names no room: no events, as Synapse answers.
        Err(_) => actions::Page { chunk: Vec::new(), start: from.unwrap_or(0), end: None, state: Vec::new() },
    };
    let chunk: Vec<Value> = page.chunk.iter().map(|p| p.to_client(None)).collect();
    let mut body = json!({"chunk": chunk, "start": page_token(page.start)});
    if let Some(end) = page.end {
        body["end"] = json!(page_token(end));
    }
    Ok(ok_json(body))
}

#[derive(Deserialize)]
struct ContextParams {
    limit: Option<i64>,
    filter: Option<String>,
}

async fn context(svc: Svc, _admin: Admin, req: HttpRequest, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (room, event) = path.into_inner();
    let q: ContextParams = parse_query(&req)?;
    let limit = non_negative("limit", q.limit, 10)?;
    let filter = type_filter(q.filter.as_deref())?;
    let not_found = || Error::not_found("Event not found.");
    let room = OwnedRoomId::try_from(room.as_str()).map_err(|_| not_found())?;
    let event = ruma::OwnedEventId::try_from(event.as_str()).map_err(|_| not_found())?;
    let ctx = actions::context(&svc, &room, &event, limit, filter).await?;
    let client = |list: &[crate::events::Pdu]| list.iter().map(|p| p.to_client(None)).collect::<Vec<Value>>();
    Ok(ok_json(json!({
        "event": ctx.event.to_client(None),
        "events_before": client(&ctx.before),
        "events_after": client(&ctx.after),
        "state": client(&ctx.state),
        "start": page_token(ctx.start),
        "end": page_token(ctx.end),
    })))
}

#[derive(Deserialize)]
struct TimestampParams {
    ts: Option<String>,
    dir: Option<String>,
}

async fn timestamp_to_event(svc: Svc, _admin: Admin, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let q: TimestampParams = parse_query(&req)?;
    let ts = q.ts.ok_or_else(|| Error::missing_param("Missing required integer query parameter ts"))?;
    let ts: i64 = ts.parse().map_err(|_| Error::invalid_param("Query parameter ts must be an integer"))?;
    let forwards = !backwards(q.dir.as_deref())?;
    let dir = if forwards { "FORWARDS" } else { "BACKWARDS" };
    let room = OwnedRoomId::try_from(path.as_str())
        .map_err(|_| Error::not_found(format!("Unable to find event from {ts} in direction Direction.{dir}")))?;
    let (event_id, origin_server_ts) = actions::timestamp_to_event(&svc, &room, ts, forwards).await?;
    Ok(ok_json(json!({"event_id": event_id, "origin_server_ts": origin_server_ts})))
}

async fn get_block(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let room = legal_room_id(&path)?;
    Ok(ok_json(match actions::blocked_by(&svc, &room).await? {
        Some(user_id) => json!({"block": true, "user_id": user_id}),
        None => json!({"block": false}),
    }))
}

#[derive(Deserialize)]
struct BlockBody {
    block: Value,
}

async fn put_block(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let b: BlockBody = body.parse_nonempty()?;
    let room = legal_room_id(&path)?;
    let block = b.block.as_bool().ok_or_else(|| Error::bad_json("Param 'block' must be a boolean."))?;
    actions::set_blocked(&svc, &admin.user_id, &room, block).await?;
    Ok(ok_json(json!({"block": block})))
}

#[derive(Deserialize)]
struct UserBody {
    user_id: Option<String>,
}

async fn make_room_admin(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let b: UserBody = body.parse()?;
    let room = room_target(&svc, &path).await?;
    let user = match b.user_id {
        Some(u) => crate::ids::parse_user_id(&u)?,
        None => admin.user_id.clone(),
    };
    actions::make_room_admin(&crate::api::arc(&svc), &admin.user_id, &room, &user).await?;
    Ok(ok_json(json!({})))
}

async fn join(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let b: UserBody = body.parse_nonempty()?;
    let user = b.user_id.ok_or_else(|| Error::missing_param("Missing params: ['user_id']"))?;
    let user = crate::ids::parse_user_id(&user)?;
    let room = room_target(&svc, &path).await?;
    actions::force_join(&crate::api::arc(&svc), &admin.user_id, &user, &room).await?;
    Ok(ok_json(json!({"room_id": room})))
}

async fn forward_extremities(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let room = room_target(&svc, &path).await?;
    let results: Vec<Value> = actions::forward_extremities(&svc, &room)
        .await?
        .into_iter()
        // No state groups here: state is kept per room, not per event.
        .map(|(event_id, depth, ts)| json!({"event_id": event_id, "state_group": null, "depth": depth, "received_ts": ts}))
        .collect();
    Ok(ok_json(json!({"count": results.len(), "results": results})))
}

/// A room here has one forward extremity, which is never deleted: nothing to delete.
async fn delete_forward_extremities(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    room_target(&svc, &path).await?;
    Ok(ok_json(json!({"deleted": 0})))
}
