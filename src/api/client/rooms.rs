//! `POST /createRoom`.

use crate::actors::room::CreateRoom;
use crate::api::{Body, Svc, arc, ok_json, opt_bool, opt_str, str_field};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::events::{DEFAULT_ROOM_VERSION, EventDraft, SUPPORTED_ROOM_VERSIONS};
use crate::ids::{self, parse_alias, parse_user_id};
use crate::store::rooms::RoomRow;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/createRoom", web::post().to(create_room))]);
}

fn default_power_levels(creator: &str) -> Value {
    json!({
        "users": { creator: 100 },
        "users_default": 0,
        "events": {
            "m.room.name": 50,
            "m.room.power_levels": 100,
            "m.room.history_visibility": 100,
            "m.room.canonical_alias": 50,
            "m.room.avatar": 50,
            "m.room.tombstone": 100,
            "m.room.server_acl": 100,
            "m.room.encryption": 100
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": 0,
        "historical": 100
    })
}

fn merge(base: &mut Value, over: &Value) {
    if let (Some(b), Some(o)) = (base.as_object_mut(), over.as_object()) {
        for (k, v) in o {
            b.insert(k.clone(), v.clone());
        }
    }
}

async fn create_room(svc: Svc, who: Requester, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    if who.shadow_banned {
        return Ok(ok_json(json!({"room_id": ids::new_room_id(svc.server_name())})));
    }
    let creator = who.user_id.to_string();
    let version = opt_str(&body, "room_version")?.unwrap_or(DEFAULT_ROOM_VERSION).to_owned();
    if !SUPPORTED_ROOM_VERSIONS.contains(&version.as_str()) {
        return Err(Error::new(crate::error::ErrorKind::UnsupportedRoomVersion, "Unsupported room version"));
    }
    let visibility = opt_str(&body, "visibility")?.unwrap_or("private");
    if !matches!(visibility, "public" | "private") {
        return Err(Error::bad_json("visibility must be public or private"));
    }
    let preset = opt_str(&body, "preset")?.unwrap_or(if visibility == "public" { "public_chat" } else { "private_chat" });
    if !matches!(preset, "public_chat" | "private_chat" | "trusted_private_chat") {
        return Err(Error::bad_json("Unknown preset"));
    }
    let is_direct = opt_bool(&body, "is_direct")?.unwrap_or(false);
    let invites: Vec<String> = match body.get("invite") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| Error::bad_json("invite must be a list of user IDs"))
                    .and_then(parse_user_id)
                    .map(|u| u.to_string())
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(Error::bad_json("invite must be a list of user IDs")),
    };
    let alias = match opt_str(&body, "room_alias_name")? {
        Some(local) => {
            // ruma accepts any localpart; an empty one, or one with ':' or whitespace, names no
            // alias anyone could type, and the whole alias is bounded like every other ID.
            if local.is_empty() || local.contains(':') || local.chars().any(char::is_whitespace) {
                return Err(Error::invalid_param("room_alias_name must be a non-empty localpart without ':' or whitespace"));
            }
            let full = format!("#{local}:{}", svc.server_name());
            if full.len() > 255 {
                return Err(Error::invalid_param("The room alias would be longer than 255 bytes"));
            }
            let alias = parse_alias(&full)?;
            let a = alias.to_string();
            if svc.db.run(move |c| crate::store::rooms::alias_room(c, &a)).await?.is_some() {
                return Err(Error::new(crate::error::ErrorKind::RoomInUse, "Room alias already taken"));
            }
            Some(alias.to_string())
        }
        None => None,
    };

    let room_id = ids::new_room_id(svc.server_name());
    let mut create_content = json!({"room_version": version});
    if version != "11" {
        create_content["creator"] = json!(creator);
    }
    if let Some(cc) = body.get("creation_content") {
        if !cc.is_object() {
            return Err(Error::bad_json("creation_content must be an object"));
        }
        merge(&mut create_content, cc);
        create_content["room_version"] = json!(version);
    }
    let mut pl = default_power_levels(&creator);
    if preset == "trusted_private_chat" {
        for u in &invites {
            pl["users"][u] = json!(100);
        }
    }
    if let Some(o) = body.get("power_level_content_override") {
        if !o.is_object() {
            return Err(Error::bad_json("power_level_content_override must be an object"));
        }
        merge(&mut pl, o);
    }
    let mut events: Vec<(String, EventDraft)> = Vec::new();
    let mut push = |d: EventDraft| events.push((creator.clone(), d));
    push(EventDraft::state("m.room.create", "", create_content));
    push(EventDraft::state("m.room.member", &creator, crate::service::membership::join_content(&svc, &creator, "join").await?));
    push(EventDraft::state("m.room.power_levels", "", pl));
    if let Some(a) = &alias {
        push(EventDraft::state("m.room.canonical_alias", "", json!({"alias": a})));
    }
    let join_rule = if preset == "public_chat" { "public" } else { "invite" };
    push(EventDraft::state("m.room.join_rules", "", json!({"join_rule": join_rule})));
    push(EventDraft::state("m.room.history_visibility", "", json!({"history_visibility": "shared"})));
    if preset != "public_chat" {
        push(EventDraft::state("m.room.guest_access", "", json!({"guest_access": "can_join"})));
    }
    match body.get("initial_state") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for ev in list {
                let kind = str_field(ev, "type")?;
                let sk = opt_str(ev, "state_key")?.unwrap_or("");
                let content = ev
                    .get("content")
                    .filter(|c| c.is_object())
                    .ok_or_else(|| Error::bad_json("initial_state content must be an object"))?;
                push(EventDraft::state(kind, sk, content.clone()));
            }
        }
        Some(_) => return Err(Error::bad_json("initial_state must be a list")),
    }
    if let Some(name) = opt_str(&body, "name")? {
        push(EventDraft::state("m.room.name", "", json!({"name": name})));
    }
    if let Some(topic) = opt_str(&body, "topic")? {
        push(EventDraft::state("m.room.topic", "", json!({"topic": topic})));
    }
    for u in &invites {
        let mut content = json!({"membership": "invite"});
        if is_direct {
            content["is_direct"] = json!(true);
        }
        push(EventDraft::state("m.room.member", u, content));
    }
    let row = RoomRow {
        room_id: room_id.to_string(),
        room_version: version,
        creator: creator.clone(),
        is_public: visibility == "public",
        created_ts: ids::now_ms(),
    };
    let svc_arc = arc(&svc);
    let addr = svc_arc.directory.new_room(&svc_arc, room_id.as_str());
    addr.send(CreateRoom { row, events }).await??;
    if let Some(a) = alias {
        let (r, c) = (room_id.to_string(), creator.clone());
        svc.db.run(move |conn| crate::store::rooms::add_alias(conn, &a, &r, &c)).await?;
    }
    log::info!("{creator} created {room_id}");
    Ok(ok_json(json!({"room_id": room_id})))
}
