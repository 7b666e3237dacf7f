//! Creating rooms, membership changes, aliases and the user's joined rooms.

use crate::actors::room::SendEvent;
use crate::api::{Body, Svc, arc, ok_json, opt_str, str_field};
use crate::auth::Requester;
use crate::error::{MResult, MatrixError};
use crate::events::EventDraft;
use crate::ids::{self, parse_alias, parse_room_id, parse_user_id};
use crate::service::room_creation::{self, InitialState, NewRoom, Preset, Visibility};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use ruma::RoomVersionId;
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/createRoom", web::post().to(create_room)),
            ("/join/{room}", web::post().to(join_by_id_or_alias)),
            ("/rooms/{room}/join", web::post().to(join)),
            ("/rooms/{room}/leave", web::post().to(leave)),
            ("/rooms/{room}/invite", web::post().to(invite)),
            ("/rooms/{room}/kick", web::post().to(kick)),
            ("/rooms/{room}/ban", web::post().to(ban)),
            ("/rooms/{room}/unban", web::post().to(unban)),
            ("/rooms/{room}/forget", web::post().to(forget)),
            ("/directory/room/{alias}", web::get().to(get_alias)),
            ("/directory/room/{alias}", web::put().to(put_alias)),
            ("/directory/room/{alias}", web::delete().to(delete_alias)),
            ("/rooms/{room}/aliases", web::get().to(room_aliases)),
            ("/joined_rooms", web::get().to(joined_rooms)),
        ],
    );
}

/// The member event content for `user` joining, with their current profile.
pub async fn join_content(svc: &Svc, user: &str, membership: &str) -> MResult<Value> {
    let id = user.to_owned();
    let profile = svc.db.run(move |c| crate::store::users::profile(c, &id)).await?;
    let mut content = json!({"membership": membership});
    if let Some(p) = profile {
        if let Some(d) = p.displayname {
            content["displayname"] = json!(d);
        }
        if let Some(a) = p.avatar_url {
            content["avatar_url"] = json!(a);
        }
    }
    Ok(content)
}

/// The body of `/createRoom`.
#[derive(Deserialize)]
struct CreateRoomBody {
    room_version: Option<String>,
    visibility: Option<Visibility>,
    preset: Option<Preset>,
    is_direct: Option<bool>,
    invite: Option<Vec<String>>,
    room_alias_name: Option<String>,
    creation_content: Option<Map<String, Value>>,
    power_level_content_override: Option<Map<String, Value>>,
    initial_state: Option<Vec<InitialState>>,
    name: Option<String>,
    topic: Option<String>,
}

async fn create_room(svc: Svc, who: Requester, body: Body) -> MResult<HttpResponse> {
    let body: CreateRoomBody = body.parse()?;
    if who.shadow_banned {
        return Ok(ok_json(json!({"room_id": ids::new_room_id(svc.server_name())})));
    }
    let mut room = NewRoom::new(who.user_id.clone());
    room.version = body.room_version.map(|v| RoomVersionId::try_from(v).map_err(|_| unsupported_version())).transpose()?;
    room.visibility = body.visibility.unwrap_or_default();
    room.preset = body.preset;
    room.is_direct = body.is_direct.unwrap_or(false);
    room.invites = body.invite.unwrap_or_default().iter().map(|u| parse_user_id(u)).collect::<MResult<_>>()?;
    room.alias_localpart = body.room_alias_name;
    room.creation_content = body.creation_content.unwrap_or_default();
    room.power_level_override = body.power_level_content_override.unwrap_or_default();
    room.initial_state = body.initial_state.unwrap_or_default();
    room.name = body.name;
    room.topic = body.topic;
    let room_id = room_creation::create_room(&arc(&svc), room).await?;
    Ok(ok_json(json!({"room_id": room_id})))
}

fn unsupported_version() -> MatrixError {
    MatrixError::new(StatusCode::BAD_REQUEST, "M_UNSUPPORTED_ROOM_VERSION", "Unsupported room version")
}

/// Sends a membership event for `target` from the requester.
async fn membership(svc: &Svc, sender: &str, room_id: &str, target: &str, content: Value) -> MResult<String> {
    crate::api::admin::synapse::notices::refuse_leaving_notice_room(svc, room_id, sender, target, content["membership"].as_str()).await?;
    let msg = SendEvent {
        sender: sender.to_owned(),
        draft: EventDraft::state("m.room.member", target, content),
        txn: None,
        txn_checked_at: None,
        redacts_sender: None,
    };
    arc(svc).send_to_room(room_id, msg).await?
}

fn with_reason(mut content: Value, body: &Value) -> MResult<Value> {
    if let Some(r) = opt_str(body, "reason")? {
        content["reason"] = json!(r);
    }
    Ok(content)
}

async fn do_join(svc: &Svc, who: &Requester, room_id: &str, body: &Value) -> MResult<HttpResponse> {
    svc.rate_limits.join(who)?;
    let content = with_reason(join_content(svc, who.user_id.as_str(), "join").await?, body)?;
    membership(svc, who.user_id.as_str(), room_id, who.user_id.as_str(), content).await?;
    Ok(ok_json(json!({"room_id": room_id})))
}

async fn join(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> MResult<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    do_join(&svc, &who, room_id.as_str(), &body.object()?).await
}

async fn join_by_id_or_alias(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> MResult<HttpResponse> {
    let target = path.into_inner();
    let room_id = if target.starts_with('#') {
        let alias = parse_alias(&target)?.to_string();
        svc.db
            .run(move |c| crate::store::rooms::alias_room(c, &alias))
            .await?
            .ok_or_else(|| MatrixError::not_found("Room alias not found"))?
            .0
    } else {
        parse_room_id(&target)?.to_string()
    };
    do_join(&svc, &who, &room_id, &body.object()?).await
}

async fn leave(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> MResult<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    let content = with_reason(json!({"membership": "leave"}), &body.object()?)?;
    membership(&svc, who.user_id.as_str(), room_id.as_str(), who.user_id.as_str(), content).await?;
    Ok(ok_json(json!({})))
}

/// invite, kick, ban, unban: a membership event about `user_id` from the body.
async fn moderate(svc: Svc, who: Requester, path: web::Path<String>, body: Body, membership_value: &str) -> MResult<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    let body = body.object()?;
    let target = parse_user_id(str_field(&body, "user_id")?)?;
    if membership_value == "invite" {
        svc.rate_limits.invite(&who, room_id.as_str(), target.as_str())?;
    }
    if membership_value == "invite" && who.shadow_banned {
        return Ok(ok_json(json!({})));
    }
    if membership_value == "invite" && target.server_name().as_str() == svc.server_name() {
        let t = target.to_string();
        if !svc.db.run(move |c| crate::store::users::exists(c, &t)).await? {
            return Err(MatrixError::not_found("Unknown user"));
        }
    }
    let mut content = with_reason(json!({"membership": membership_value}), &body)?;
    if membership_value == "invite"
        && let Some(Value::Bool(d)) = body.get("is_direct")
    {
        content["is_direct"] = json!(d);
    }
    membership(&svc, who.user_id.as_str(), room_id.as_str(), target.as_str(), content).await?;
    Ok(ok_json(json!({})))
}

async fn invite(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> MResult<HttpResponse> {
    moderate(svc, who, path, body, "invite").await
}

async fn kick(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> MResult<HttpResponse> {
    moderate(svc, who, path, body, "leave").await
}

async fn ban(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> MResult<HttpResponse> {
    moderate(svc, who, path, body, "ban").await
}

async fn unban(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> MResult<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    let b = body.object()?;
    let target = parse_user_id(str_field(&b, "user_id")?)?;
    let t = target.to_string();
    let r = room_id.to_string();
    let current = svc.db.run(move |c| crate::store::memberships::membership(c, &r, &t)).await?;
    if current.is_none_or(|m| m.membership != "ban") {
        return Err(MatrixError::forbidden(format!("{target} is not banned")));
    }
    let content = with_reason(json!({"membership": "leave"}), &b)?;
    membership(&svc, who.user_id.as_str(), room_id.as_str(), target.as_str(), content).await?;
    Ok(ok_json(json!({})))
}

async fn forget(svc: Svc, who: Requester, path: web::Path<String>) -> MResult<HttpResponse> {
    let room_id = parse_room_id(&path)?.to_string();
    let user = who.user_id.to_string();
    svc.db
        .run(move |c| {
            match crate::store::memberships::membership(c, &room_id, &user)? {
                None => return Err(MatrixError::not_found("You were never in this room")),
                Some(m) if m.membership == "join" || m.membership == "invite" => {
                    return Err(MatrixError::unknown("You must leave the room before forgetting it"));
                }
                Some(_) => {}
            }
            crate::store::memberships::forget(c, &room_id, &user)
        })
        .await?;
    Ok(ok_json(json!({})))
}

async fn get_alias(svc: Svc, path: web::Path<String>) -> MResult<HttpResponse> {
    let alias = parse_alias(&path)?.to_string();
    let found = svc.db.run(move |c| crate::store::rooms::alias_room(c, &alias)).await?;
    let (room_id, _) = found.ok_or_else(|| MatrixError::not_found("Room alias not found"))?;
    Ok(ok_json(json!({"room_id": room_id, "servers": [svc.server_name()]})))
}

async fn put_alias(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> MResult<HttpResponse> {
    let alias = parse_alias(&path)?;
    if alias.server_name().as_str() != svc.server_name() {
        return Err(MatrixError::invalid_param("Alias must be on this server"));
    }
    let body = body.object()?;
    let room_id = parse_room_id(str_field(&body, "room_id")?)?.to_string();
    let (a, creator) = (alias.to_string(), who.user_id.to_string());
    svc.db
        .run(move |c| {
            if crate::store::rooms::room_row(c, &room_id)?.is_none() {
                return Err(MatrixError::not_found("Unknown room"));
            }
            if !crate::store::rooms::add_alias(c, &a, &room_id, &creator)? {
                return Err(MatrixError::new(StatusCode::CONFLICT, "M_UNKNOWN", "Room alias already exists"));
            }
            Ok(())
        })
        .await?;
    Ok(ok_json(json!({})))
}

async fn delete_alias(svc: Svc, who: Requester, path: web::Path<String>) -> MResult<HttpResponse> {
    let alias = parse_alias(&path)?.to_string();
    let user = who.user_id.to_string();
    let admin = who.is_server_admin();
    svc.db
        .run(move |c| {
            let (_, creator) = crate::store::rooms::alias_room(c, &alias)?.ok_or_else(|| MatrixError::not_found("Room alias not found"))?;
            if creator != user && !admin {
                return Err(MatrixError::forbidden("You did not create this alias"));
            }
            crate::store::rooms::delete_alias(c, &alias)
        })
        .await?;
    Ok(ok_json(json!({})))
}

async fn room_aliases(svc: Svc, who: Requester, path: web::Path<String>) -> MResult<HttpResponse> {
    let room_id = parse_room_id(&path)?.to_string();
    crate::api::client::events::require_visible(&svc, &who, &room_id).await?;
    let aliases = svc.db.run(move |c| crate::store::rooms::room_aliases(c, &room_id)).await?;
    Ok(ok_json(json!({"aliases": aliases})))
}

async fn joined_rooms(svc: Svc, who: Requester) -> MResult<HttpResponse> {
    let user = who.user_id.to_string();
    let rooms = svc.db.run(move |c| crate::store::memberships::joined_rooms(c, &user)).await?;
    Ok(ok_json(json!({"joined_rooms": rooms})))
}
