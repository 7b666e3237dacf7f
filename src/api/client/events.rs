//! Sending events and reading a room: send, state, redact, event, messages, context, members.

use crate::actors::room::SendEvent;
use crate::api::{Body, Svc, arc, ok_json, query, query_i64};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::events::visibility::StateAccess;
use crate::events::{EventDraft, Pdu};
use crate::ids::parse_room_id;
use crate::store::events::TxnKey;
use crate::store::visibility as vis;
use actix_web::{HttpRequest, HttpResponse, web};
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

/// The requester's view of the room and the state they may read: 403 if they may read nothing of
/// it, 404 if it does not exist. The rule itself lives in [`crate::events::visibility`].
pub async fn require_visible(svc: &Svc, who: &Requester, room_id: &str) -> Result<StateAccess> {
    let (r, u) = (room_id.to_owned(), who.user_id.to_string());
    svc.db.run(move |c| vis::require_state_access(c, &r, &u)).await
}

/// A transaction ID is scoped to one device and one endpoint (the path: room, event type or
/// redacted event), so the stored key carries the scope before a separator.
pub fn txn_key(who: &Requester, scope: &str, txn: &str) -> TxnKey {
    TxnKey {
        user_id: who.user_id.to_string(),
        device_id: who.device_id.clone().unwrap_or_default(),
        txn_id: format!("{scope}{}{txn}", crate::store::events::TXN_SCOPE_SEP),
    }
}

async fn send_event(
    svc: &Svc,
    who: &Requester,
    room_id: &str,
    draft: EventDraft,
    txn: Option<TxnKey>,
    redacts_sender: Option<String>,
) -> Result<HttpResponse> {
    if who.shadow_banned {
        // Looks like success to the sender; nothing is stored or seen by anyone.
        return Ok(ok_json(json!({"event_id": crate::ids::fake_event_id()})));
    }
    let txn_checked_at = Some(std::time::Instant::now());
    if let Some(key) = txn.clone()
        && let Some(id) = svc.db.run(move |c| crate::store::events::txn_event(c, &key)).await?
    {
        return Ok(ok_json(json!({"event_id": id})));
    }
    svc.rate_limits.message(who)?;
    let msg = SendEvent { sender: who.user_id.to_string(), draft, txn, txn_checked_at, redacts_sender };
    let id = arc(svc).send_to_room(room_id, msg).await??;
    Ok(ok_json(json!({"event_id": id})))
}

async fn send(svc: Svc, who: Requester, path: web::Path<(String, String, String)>, body: Body) -> Result<HttpResponse> {
    let (room, kind, txn) = path.into_inner();
    let room_id = parse_room_id(&room)?;
    let content = body.object()?;
    if kind == "m.room.redaction" {
        return Err(Error::bad_json("Use the redact endpoint to redact events"));
    }
    let key = txn_key(&who, &format!("send/{room_id}/{kind}"), &txn);
    send_event(&svc, &who, room_id.as_str(), EventDraft::message(&kind, content), Some(key), None).await
}

async fn put_state_inner(svc: Svc, who: Requester, room: &str, kind: &str, key: &str, body: Body) -> Result<HttpResponse> {
    let room_id = parse_room_id(room)?;
    let content = body.object()?;
    if kind == "m.room.member" {
        let membership = content.get("membership").and_then(|m| m.as_str());
        crate::api::admin::synapse::notices::refuse_leaving_notice_room(&svc, room_id.as_str(), who.user_id.as_str(), key, membership)
            .await?;
    }
    send_event(&svc, &who, room_id.as_str(), EventDraft::state(kind, key, content), None, None).await
}

async fn put_state(svc: Svc, who: Requester, path: web::Path<(String, String)>, body: Body) -> Result<HttpResponse> {
    let (room, kind) = path.into_inner();
    put_state_inner(svc, who, &room, &kind, "", body).await
}

async fn put_state_key(svc: Svc, who: Requester, path: web::Path<(String, String, String)>, body: Body) -> Result<HttpResponse> {
    let (room, kind, key) = path.into_inner();
    put_state_inner(svc, who, &room, &kind, &key, body).await
}

async fn redact(svc: Svc, who: Requester, path: web::Path<(String, String, String)>, body: Body) -> Result<HttpResponse> {
    let (room, event, txn) = path.into_inner();
    let room_id = parse_room_id(&room)?;
    let body = body.object()?;
    let mut content = json!({});
    if let Some(r) = crate::api::opt_str(&body, "reason")? {
        content["reason"] = json!(r);
    }
    let (e, r) = (event.clone(), room_id.to_string());
    let target = svc.db.run(move |c| crate::store::events::event_origin(c, &e)).await?;
    let (_, sender) = target.filter(|(room, _)| *room == r).ok_or_else(|| Error::not_found("Event not found"))?;
    let key = txn_key(&who, &format!("redact/{room_id}/{event}"), &txn);
    let draft = EventDraft { kind: "m.room.redaction".into(), state_key: None, content, redacts: Some(event) };
    send_event(&svc, &who, room_id.as_str(), draft, Some(key), Some(sender)).await
}

/// State visible to the requester: current while joined (or the room is world readable), as of
/// the end of their last stay otherwise.
async fn visible_state(svc: &Svc, who: &Requester, room_id: &str) -> Result<Vec<Pdu>> {
    let (r, u) = (room_id.to_owned(), who.user_id.to_string());
    svc.db
        .run(move |c| {
            let access = vis::require_state_access(c, &r, &u)?;
            vis::visible_state(c, &r, access)
        })
        .await
}

async fn get_state(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    let state = visible_state(&svc, &who, room_id.as_str()).await?;
    Ok(ok_json(Value::Array(state.iter().map(|p| p.to_client(None)).collect())))
}

async fn state_event(svc: Svc, who: Requester, room: &str, kind: &str, key: &str) -> Result<HttpResponse> {
    let room_id = parse_room_id(room)?;
    let state = visible_state(&svc, &who, room_id.as_str()).await?;
    state
        .into_iter()
        .find(|p| p.kind == kind && p.state_key.as_deref() == Some(key))
        .map(|p| ok_json(p.content))
        .ok_or_else(|| Error::not_found("Event not found"))
}

async fn get_state_event(svc: Svc, who: Requester, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (room, kind) = path.into_inner();
    state_event(svc, who, &room, &kind, "").await
}

async fn get_state_event_key(svc: Svc, who: Requester, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (room, kind, key) = path.into_inner();
    state_event(svc, who, &room, &kind, &key).await
}

async fn get_event(svc: Svc, who: Requester, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (room, event) = path.into_inner();
    let room_id = parse_room_id(&room)?.to_string();
    let user = who.user_id.to_string();
    let found = svc
        .db
        .run(move |c| {
            let (view, _) = vis::require_view(c, &room_id, &user)?;
            let Some(mut p) =
                crate::store::events::event_by_id(c, &event)?.filter(|p| p.room_id == room_id && view.can_see(p.stream_ordering))
            else {
                return Ok(None);
            };
            p.hide_if_erased(&crate::store::users::erased_users(c)?, view.joined_at());
            Ok(Some(p))
        })
        .await?;
    found.map(|p| ok_json(p.to_client(None))).ok_or_else(|| Error::not_found("Event not found"))
}

/// A pagination or sync token: `s<events>_<account data>` or `t<events>`; the events position.
pub fn parse_token(t: &str) -> Result<i64> {
    let body = t.strip_prefix('s').or_else(|| t.strip_prefix('t')).unwrap_or(t);
    body.split('_').next().and_then(|p| p.parse().ok()).ok_or_else(|| Error::invalid_param("Invalid pagination token"))
}

/// A room event filter's `types`/`not_types`.
#[derive(Default, Clone)]
pub struct TypeFilter {
    pub types: Option<Vec<String>>,
    pub not_types: Vec<String>,
}

impl TypeFilter {
    pub fn from_json(v: Option<&Value>) -> Self {
        let list = |k: &str| {
            v.and_then(|f| f.get(k))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect::<Vec<_>>())
        };
        Self { types: list("types"), not_types: list("not_types").unwrap_or_default() }
    }
    pub fn allows(&self, kind: &str) -> bool {
        let m = |p: &String| p == kind || (p.ends_with('*') && kind.starts_with(&p[..p.len() - 1]));
        self.types.as_ref().is_none_or(|t| t.iter().any(m)) && !self.not_types.iter().any(m)
    }
    /// Exact types only, for pushing the filter into the query.
    pub fn exact_types(&self) -> Option<Vec<String>> {
        self.types.as_ref().filter(|t| t.iter().all(|p| !p.ends_with('*'))).cloned()
    }
}

async fn messages(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?.to_string();
    let q = query(&req);
    let backwards = match q.get("dir").map(String::as_str) {
        None | Some("b") => true,
        Some("f") => false,
        Some(_) => return Err(Error::invalid_param("dir must be b or f")),
    };
    let limit = query_i64(&q, "limit")?.unwrap_or(10);
    if limit < 0 {
        return Err(Error::invalid_param("limit must not be negative"));
    }
    let limit = limit.min(1000);
    let from = q.get("from").map(|t| parse_token(t)).transpose()?;
    let to = q.get("to").map(|t| parse_token(t)).transpose()?;
    let tf = query_filter(&q)?;
    let (r, user) = (room_id.clone(), who.user_id.to_string());
    let types = tf.exact_types();
    let (chunk, start) = svc
        .db
        .run(move |c| {
            let max = crate::store::events::max_stream(c)?;
            let (start, (mut chunk, joined_at)) = if backwards {
                let start = from.unwrap_or(max);
                (start, vis::visible_page(c, &r, &user, to.unwrap_or(0), start, limit, true, types.as_deref())?)
            } else {
                let start = from.unwrap_or(0);
                (start, vis::visible_page(c, &r, &user, start, to.unwrap_or(max), limit, false, types.as_deref())?)
            };
            let erased = crate::store::users::erased_users(c)?;
            for p in chunk.iter_mut() {
                p.hide_if_erased(&erased, joined_at);
            }
            Ok((chunk, start))
        })
        .await?;
    let full = chunk.len() as i64 == limit && limit > 0;
    let end = chunk.last().map(|p| if backwards { p.stream_ordering - 1 } else { p.stream_ordering });
    let events: Vec<Value> = chunk.iter().filter(|p| tf.allows(&p.kind)).map(|p| p.to_client(None)).collect();
    let mut body = json!({"chunk": events, "start": format!("t{start}")});
    if let (true, Some(e)) = (full, end) {
        body["end"] = json!(format!("t{e}"));
    }
    Ok(ok_json(body))
}

async fn members(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    let q = query(&req);
    let state = visible_state(&svc, &who, room_id.as_str()).await?;
    let chunk: Vec<Value> = state
        .iter()
        .filter(|p| p.kind == "m.room.member")
        .filter(|p| q.get("membership").is_none_or(|m| p.membership() == Some(m.as_str())))
        .filter(|p| q.get("not_membership").is_none_or(|m| p.membership() != Some(m.as_str())))
        .map(|p| p.to_client(None))
        .collect();
    Ok(ok_json(json!({"chunk": chunk})))
}

/// Current members only, to members and to anyone in a world-readable room: a former member
/// gets 403, as the spec's "must be in the room" and Synapse have it.
async fn joined_members(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?.to_string();
    let user = who.user_id.to_string();
    let state = svc
        .db
        .run(move |c| {
            vis::require_current_members(c, &room_id, &user)?;
            crate::store::events::current_state(c, &room_id)
        })
        .await?;
    let mut joined = serde_json::Map::new();
    for p in state.iter().filter(|p| p.membership() == Some("join")) {
        let mut info = json!({});
        if let Some(d) = p.content.get("displayname").filter(|v| v.is_string()) {
            info["display_name"] = d.clone();
        }
        if let Some(a) = p.content.get("avatar_url").filter(|v| v.is_string()) {
            info["avatar_url"] = a.clone();
        }
        joined.insert(p.state_key.clone().unwrap_or_default(), info);
    }
    Ok(ok_json(json!({"joined": joined})))
}

/// A `filter` query parameter (a JSON `RoomEventFilter`) as far as types go.
fn query_filter(q: &std::collections::HashMap<String, String>) -> Result<TypeFilter> {
    let filter: Option<Value> = match q.get("filter") {
        Some(f) => Some(serde_json::from_str(f).map_err(|_| Error::invalid_param("filter is not JSON"))?),
        None => None,
    };
    Ok(TypeFilter::from_json(filter.as_ref()))
}

/// At most this many context events (`limit` is split between before and after).
const CONTEXT_LIMIT: i64 = 100;

/// `GET /rooms/{roomId}/context/{eventId}`: the event and the visible events around it.
async fn context(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (room, event) = path.into_inner();
    let room_id = parse_room_id(&room)?.to_string();
    let q = query(&req);
    let limit = query_i64(&q, "limit")?.unwrap_or(10);
    if limit < 0 {
        return Err(Error::invalid_param("limit must not be negative"));
    }
    let limit = limit.min(CONTEXT_LIMIT);
    let tf = query_filter(&q)?;
    let types = tf.exact_types();
    let user = who.user_id.to_string();
    let (target, before, after, state) = svc
        .db
        .run(move |c| {
            let (view, _) = vis::require_view(c, &room_id, &user)?;
            let mut target = crate::store::events::event_by_id(c, &event)?
                .filter(|p| p.room_id == room_id && view.can_see(p.stream_ordering))
                .ok_or_else(|| Error::not_found("Event not found"))?;
            let pos = target.stream_ordering;
            let n_before = limit / 2;
            let mut before = vis::visible_events(c, &room_id, &view, 0, pos - 1, n_before, true, types.as_deref())?;
            let mut after = vis::visible_events(c, &room_id, &view, pos, i64::MAX, limit - n_before, false, types.as_deref())?;
            let last = after.last().map_or(pos, |p| p.stream_ordering);
            let state = crate::store::events::state_at(c, &room_id, last)?;
            let erased = crate::store::users::erased_users(c)?;
            for p in std::iter::once(&mut target).chain(before.iter_mut()).chain(after.iter_mut()) {
                p.hide_if_erased(&erased, view.joined_at());
            }
            Ok((target, before, after, state))
        })
        .await?;
    let pos = target.stream_ordering;
    let start = before.last().map_or(pos - 1, |p| p.stream_ordering - 1);
    let end = after.last().map_or(pos, |p| p.stream_ordering);
    let shown = |list: &[Pdu]| list.iter().filter(|p| tf.allows(&p.kind)).map(|p| p.to_client(None)).collect::<Vec<_>>();
    Ok(ok_json(json!({
        "event": target.to_client(None),
        "events_before": shown(&before),
        "events_after": shown(&after),
        "state": shown(&state),
        "start": format!("t{start}"),
        "end": format!("t{end}"),
    })))
}
