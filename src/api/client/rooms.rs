//! `POST /createRoom` and `POST /rooms/{roomId}/upgrade`: the body parsed into the room to
//! create or the version to upgrade to; the services do the rest.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::{self, parse_user_id};
use crate::service::room_creation::{self, InitialState, NewRoom, Preset, Visibility};
use crate::service::{room_upgrade, suspension};
use actix_web::{HttpResponse, web};
use ruma::RoomVersionId;
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/createRoom", web::post().to(create_room)), ("/rooms/{room}/upgrade", web::post().to(upgrade_room))]);
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

async fn create_room(svc: Svc, who: Requester, body: Body) -> Result<HttpResponse> {
    let body: CreateRoomBody = body.parse()?;
    suspension::check(&who, suspension::Act::Send)?;
    if who.shadow_banned {
        return Ok(ok_json(json!({"room_id": ids::new_room_id(svc.server_name())})));
    }
    let mut room = NewRoom::new(who.user_id.clone());
    room.version = body.room_version.map(|v| RoomVersionId::try_from(v).map_err(|_| unsupported_version())).transpose()?;
    room.visibility = body.visibility.unwrap_or_default();
    room.preset = body.preset;
    room.is_direct = body.is_direct.unwrap_or(false);
    room.invites = body.invite.unwrap_or_default().iter().map(|u| parse_user_id(u)).collect::<Result<_>>()?;
    room.alias_localpart = body.room_alias_name;
    room.creation_content = body.creation_content.unwrap_or_default();
    room.power_level_override = body.power_level_content_override.unwrap_or_default();
    room.initial_state = body.initial_state.unwrap_or_default();
    room.name = body.name;
    room.topic = body.topic;
    let room_id = room_creation::create_room(&svc, room).await?;
    Ok(ok_json(json!({"room_id": room_id})))
}

fn unsupported_version() -> Error {
    Error::new(ErrorKind::UnsupportedRoomVersion, "Unsupported room version")
}

#[derive(Deserialize)]
struct UpgradeBody {
    new_version: String,
}

/// `POST /rooms/{roomId}/upgrade`.
async fn upgrade_room(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let UpgradeBody { new_version } = body.parse()?;
    let room_id = ids::parse_room_id(&path)?;
    let replacement = room_upgrade::upgrade(&svc, &who, &room_id, &new_version).await?;
    Ok(ok_json(json!({"replacement_room": replacement})))
}
