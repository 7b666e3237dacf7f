//! Sending events and reading a room: send, state, redact, event, messages, context, members.

use crate::api::extractors::Requester;
use crate::api::tokens::{page_token, parse_token};
use crate::api::{Body, Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::events::Pdu;
use crate::events::filter::TypeFilter;
use crate::ids::{parse_event_id, parse_room_id};
use crate::service::{history, relations, room_events};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/rooms/{room}/send/{type}/{txn}", web::put().to(send)),
            ("/rooms/{room}/state", web::get().to(get_state)),
            ("/rooms/{room}/state/{type}", web::get().to(get_state_event)),
            ("/rooms/{room}/state/{type}/", web::get().to(get_state_event)),
            ("/rooms/{room}/state/{type}/{key}", web::get().to(get_state_event_key)),
            ("/rooms/{room}/state/{type}", web::put().to(put_state)),
            ("/rooms/{room}/state/{type}/", web::put().to(put_state)),
            ("/rooms/{room}/state/{type}/{key}", web::put().to(put_state_key)),
            ("/rooms/{room}/redact/{event}/{txn}", web::put().to(redact)),
            ("/rooms/{room}/event/{event}", web::get().to(get_event)),
            ("/rooms/{room}/messages", web::get().to(messages)),
            ("/rooms/{room}/context/{event}", web::get().to(context)),
            ("/rooms/{room}/members", web::get().to(members)),
            ("/rooms/{room}/joined_members", web::get().to(joined_members)),
        ],
    );
}

fn event_id_reply(id: ruma::OwnedEventId) -> HttpResponse {
    ok_json(json!({"event_id": id}))
}

async fn send(svc: Svc, who: Requester, path: web::Path<(String, String, String)>, body: Body) -> Result<HttpResponse> {
    let (room, kind, txn) = path.into_inner();
    let room_id = parse_room_id(&room)?;
    let content = body.object()?;
    Ok(event_id_reply(room_events::send_message(&svc, &who, &room_id, &kind, &txn, content).await?))
}

async fn put_state_inner(svc: Svc, who: Requester, room: &str, kind: &str, key: &str, body: Body) -> Result<HttpResponse> {
    let room_id = parse_room_id(room)?;
    let content = body.object()?;
    Ok(event_id_reply(room_events::put_state(&svc, &who, &room_id, kind, key, content).await?))
}

async fn put_state(svc: Svc, who: Requester, path: web::Path<(String, String)>, body: Body) -> Result<HttpResponse> {
    let (room, kind) = path.into_inner();
    put_state_inner(svc, who, &room, &kind, "", body).await
}

async fn put_state_key(svc: Svc, who: Requester, path: web::Path<(String, String, String)>, body: Body) -> Result<HttpResponse> {
    let (room, kind, key) = path.into_inner();
    put_state_inner(svc, who, &room, &kind, &key, body).await
}

#[derive(Deserialize)]
struct RedactBody {
    reason: Option<String>,
}

async fn redact(svc: Svc, who: Requester, path: web::Path<(String, String, String)>, body: Body) -> Result<HttpResponse> {
    let (room, event, txn) = path.into_inner();
    let room_id = parse_room_id(&room)?;
    let RedactBody { reason } = body.parse()?;
    let event_id = parse_event_id(&event)?;
    Ok(event_id_reply(room_events::redact(&svc, &who, &room_id, &event_id, &txn, reason).await?))
}

fn client_events(list: &[Pdu]) -> Vec<Value> {
    list.iter().map(|p| p.to_client(None)).collect()
}

async fn get_state(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    let state = history::visible_state(&svc, &who.user_id, &room_id).await?;
    Ok(ok_json(Value::Array(client_events(&state))))
}

/// `?format=`: the content alone (the default) or the whole event.
#[derive(Deserialize, Default, PartialEq)]
#[serde(rename_all = "lowercase")]
enum StateFormat {
    #[default]
    Content,
    Event,
}

#[derive(Deserialize)]
struct StateEventQuery {
    #[serde(default)]
    format: StateFormat,
}

async fn state_event(svc: Svc, who: Requester, req: HttpRequest, room: &str, kind: &str, key: &str) -> Result<HttpResponse> {
    let room_id = parse_room_id(room)?;
    let q: StateEventQuery = parse_query(&req)?;
    let event = history::state_event(&svc, &who.user_id, &room_id, kind, key).await?;
    Ok(ok_json(if q.format == StateFormat::Event { event.to_client(None) } else { event.content }))
}

async fn get_state_event(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (room, kind) = path.into_inner();
    state_event(svc, who, req, &room, &kind, "").await
}

async fn get_state_event_key(
    svc: Svc,
    who: Requester,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse> {
    let (room, kind, key) = path.into_inner();
    state_event(svc, who, req, &room, &kind, &key).await
}

async fn get_event(svc: Svc, who: Requester, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (room, event) = path.into_inner();
    let room_id = parse_room_id(&room)?;
    let event_id = parse_event_id(&event)?;
    let event = history::event(&svc, &who.user_id, &room_id, &event_id).await?;
    let bundled = relations::bundle(&svc, &who.user_id, &room_id, vec![event]).await?;
    Ok(ok_json(bundled.client_events().pop().unwrap_or_default()))
}

/// A `filter` query parameter (a JSON `RoomEventFilter`): its types and `lazy_load_members`.
fn room_event_filter(raw: Option<&str>) -> Result<(TypeFilter, bool)> {
    let Some(raw) = raw else { return Ok((TypeFilter::default(), false)) };
    let filter: Value = serde_json::from_str(raw).map_err(|_| Error::invalid_param("filter is not JSON"))?;
    if !filter.is_object() {
        return Err(Error::bad_json("filter must be a JSON object"));
    }
    let lazy = match filter.get("lazy_load_members") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Error::bad_json("filter.lazy_load_members must be a boolean")),
    };
    Ok((TypeFilter::from_json(Some(&filter)), lazy))
}

fn non_negative_limit(limit: Option<i64>) -> Result<i64> {
    match limit {
        Some(l) if l < 0 => Err(Error::invalid_param("limit must not be negative")),
        l => Ok(l.unwrap_or(10)),
    }
}

#[derive(Deserialize)]
struct MessagesQuery {
    dir: Option<String>,
    limit: Option<i64>,
    from: Option<String>,
    to: Option<String>,
    filter: Option<String>,
}

async fn messages(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    let q: MessagesQuery = parse_query(&req)?;
    let backwards = match q.dir.as_deref() {
        None | Some("b") => true,
        Some("f") => false,
        Some(_) => return Err(Error::invalid_param("dir must be b or f")),
    };
    let (filter, lazy_members) = room_event_filter(q.filter.as_deref())?;
    let page = history::PageRequest {
        backwards,
        limit: non_negative_limit(q.limit)?,
        from: q.from.as_deref().map(parse_token).transpose()?,
        to: q.to.as_deref().map(parse_token).transpose()?,
        filter,
        lazy_members,
    };
    let page = history::messages(&svc, &who.user_id, &room_id, page).await?;
    let chunk = relations::bundle(&svc, &who.user_id, &room_id, page.chunk).await?.client_events();
    let mut body = json!({"chunk": chunk, "start": page_token(page.start)});
    if let Some(e) = page.end {
        body["end"] = json!(page_token(e));
    }
    if lazy_members {
        body["state"] = json!(client_events(&page.state));
    }
    Ok(ok_json(body))
}

#[derive(Deserialize)]
struct MembersQuery {
    membership: Option<String>,
    not_membership: Option<String>,
}

async fn members(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    let q: MembersQuery = parse_query(&req)?;
    let state = history::visible_state(&svc, &who.user_id, &room_id).await?;
    let chunk: Vec<Value> = state
        .iter()
        .filter(|p| p.kind == "m.room.member")
        .filter(|p| q.membership.as_deref().is_none_or(|m| p.membership() == Some(m)))
        .filter(|p| q.not_membership.as_deref().is_none_or(|m| p.membership() != Some(m)))
        .map(|p| p.to_client(None))
        .collect();
    Ok(ok_json(json!({"chunk": chunk})))
}

async fn joined_members(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    let mut joined = serde_json::Map::new();
    for p in history::joined_members(&svc, &who.user_id, &room_id).await? {
        // Both keys always, null when unset, as clients expect.
        let field = |k: &str| p.content.get(k).filter(|v| v.is_string()).cloned().unwrap_or(Value::Null);
        let info = json!({"display_name": field("displayname"), "avatar_url": field("avatar_url")});
        joined.insert(p.state_key.clone().unwrap_or_default(), info);
    }
    Ok(ok_json(json!({"joined": joined})))
}

#[derive(Deserialize)]
struct ContextQuery {
    limit: Option<i64>,
    filter: Option<String>,
}

/// `GET /rooms/{roomId}/context/{eventId}`: the event and the visible events around it.
async fn context(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (room, event) = path.into_inner();
    let room_id = parse_room_id(&room)?;
    let event_id = parse_event_id(&event)?;
    let q: ContextQuery = parse_query(&req)?;
    let (filter, lazy_members) = room_event_filter(q.filter.as_deref())?;
    let limit = non_negative_limit(q.limit)?;
    let ctx = history::context(&svc, &who.user_id, &room_id, &event_id, limit, filter, lazy_members).await?;
    let (n_before, n_after) = (ctx.before.len(), ctx.after.len());
    let all: Vec<Pdu> = std::iter::once(ctx.event).chain(ctx.before).chain(ctx.after).collect();
    let mut shown = relations::bundle(&svc, &who.user_id, &room_id, all).await?.client_events().into_iter();
    let event = shown.next().unwrap_or_default();
    let before: Vec<Value> = shown.by_ref().take(n_before).collect();
    let after: Vec<Value> = shown.take(n_after).collect();
    Ok(ok_json(json!({
        "event": event,
        "events_before": before,
        "events_after": after,
        "state": client_events(&ctx.state),
        "start": page_token(ctx.start),
        "end": page_token(ctx.end),
    })))
}
