//! Membership endpoints: join, leave, invite, kick, ban, unban, forget, joined rooms.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json};
use crate::error::Result;
use crate::ids::{parse_alias, parse_room_id, parse_user_id};
use crate::service::membership::{self, JoinTarget, Moderation};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/join/{room}", web::post().to(join_by_id_or_alias)),
            ("/rooms/{room}/join", web::post().to(join)),
            ("/rooms/{room}/leave", web::post().to(leave)),
            ("/rooms/{room}/invite", web::post().to(invite)),
            ("/rooms/{room}/kick", web::post().to(kick)),
            ("/rooms/{room}/ban", web::post().to(ban)),
            ("/rooms/{room}/unban", web::post().to(unban)),
            ("/rooms/{room}/forget", web::post().to(forget)),
            ("/joined_rooms", web::get().to(joined_rooms)),
        ],
    );
}

#[derive(Deserialize)]
struct ReasonBody {
    reason: Option<String>,
}

#[derive(Deserialize)]
struct TargetBody {
    user_id: String,
    reason: Option<String>,
    is_direct: Option<Value>,
}

async fn join_to(svc: Svc, who: Requester, target: JoinTarget, body: Body) -> Result<HttpResponse> {
    let extra: Map<String, Value> = body.parse()?;
    let room_id = membership::join(&svc, &who, target, extra).await?;
    Ok(ok_json(json!({"room_id": room_id})))
}

async fn join(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    join_to(svc, who, JoinTarget::Room(room_id), body).await
}

async fn join_by_id_or_alias(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let target = if path.starts_with('#') { JoinTarget::Alias(parse_alias(&path)?) } else { JoinTarget::Room(parse_room_id(&path)?) };
    join_to(svc, who, target, body).await
}

async fn leave(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    let ReasonBody { reason } = body.parse()?;
    membership::leave(&svc, &who, &room_id, reason).await?;
    Ok(ok_json(json!({})))
}

async fn moderate(svc: Svc, who: Requester, path: web::Path<String>, body: Body, action: Moderation) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    let b: TargetBody = body.parse()?;
    let target = parse_user_id(&b.user_id)?;
    let mut extra = Map::new();
    if action == Moderation::Invite
        && let Some(d @ Value::Bool(_)) = b.is_direct
    {
        extra.insert("is_direct".into(), d);
    }
    membership::moderate(&svc, &who, &room_id, &target, action, b.reason, extra).await?;
    Ok(ok_json(json!({})))
}

async fn invite(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    moderate(svc, who, path, body, Moderation::Invite).await
}

async fn kick(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    moderate(svc, who, path, body, Moderation::Kick).await
}

async fn ban(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    moderate(svc, who, path, body, Moderation::Ban).await
}

async fn unban(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    moderate(svc, who, path, body, Moderation::Unban).await
}

async fn forget(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    membership::forget(&svc, &who, &room_id).await?;
    Ok(ok_json(json!({})))
}

async fn joined_rooms(svc: Svc, who: Requester) -> Result<HttpResponse> {
    Ok(ok_json(json!({"joined_rooms": membership::joined_rooms(&svc, &who.user_id).await?})))
}
