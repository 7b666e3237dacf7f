//! Creating rooms, membership changes, aliases and the user's joined rooms.

use crate::actors::room::{CreateRoom, SendEvent};
use crate::api::{Body, Svc, arc, ok_json, opt_bool, opt_str, str_field};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::events::{DEFAULT_ROOM_VERSION, EventDraft, SUPPORTED_ROOM_VERSIONS};
use crate::ids::{self, parse_alias, parse_room_id, parse_user_id};
use crate::store::rooms::RoomRow;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

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

/// The member event content for `user` joining, with their current profile.
pub async fn join_content(svc: &Svc, user: &str, membership: &str) -> Result<Value> {
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
    push(EventDraft::state("m.room.member", &creator, join_content(&svc, &creator, "join").await?));
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

/// Sends a membership event for `target` from the requester.
async fn membership(svc: &Svc, sender: &str, room_id: &str, target: &str, content: Value) -> Result<String> {
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

fn with_reason(mut content: Value, body: &Value) -> Result<Value> {
    if let Some(r) = opt_str(body, "reason")? {
        content["reason"] = json!(r);
    }
    Ok(content)
}

async fn do_join(svc: &Svc, who: &Requester, room_id: &str, body: &Value) -> Result<HttpResponse> {
    svc.rate_limits.join(who)?;
    let content = with_reason(join_content(svc, who.user_id.as_str(), "join").await?, body)?;
    membership(svc, who.user_id.as_str(), room_id, who.user_id.as_str(), content).await?;
    Ok(ok_json(json!({"room_id": room_id})))
}

async fn join(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    do_join(&svc, &who, room_id.as_str(), &body.object()?).await
}

async fn join_by_id_or_alias(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let target = path.into_inner();
    let room_id = if target.starts_with('#') {
        let alias = parse_alias(&target)?.to_string();
        svc.db.run(move |c| crate::store::rooms::alias_room(c, &alias)).await?.ok_or_else(|| Error::not_found("Room alias not found"))?.0
    } else {
        parse_room_id(&target)?.to_string()
    };
    do_join(&svc, &who, &room_id, &body.object()?).await
}

async fn leave(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    let content = with_reason(json!({"membership": "leave"}), &body.object()?)?;
    membership(&svc, who.user_id.as_str(), room_id.as_str(), who.user_id.as_str(), content).await?;
    Ok(ok_json(json!({})))
}

/// invite, kick, ban, unban: a membership event about `user_id` from the body.
async fn moderate(svc: Svc, who: Requester, path: web::Path<String>, body: Body, membership_value: &str) -> Result<HttpResponse> {
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
            return Err(Error::not_found("Unknown user"));
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

async fn invite(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    moderate(svc, who, path, body, "invite").await
}

async fn kick(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    moderate(svc, who, path, body, "leave").await
}

async fn ban(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    moderate(svc, who, path, body, "ban").await
}

async fn unban(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    let b = body.object()?;
    let target = parse_user_id(str_field(&b, "user_id")?)?;
    let t = target.to_string();
    let r = room_id.to_string();
    let current = svc.db.run(move |c| crate::store::memberships::membership(c, &r, &t)).await?;
    if current.is_none_or(|m| m.membership != "ban") {
        return Err(Error::forbidden(format!("{target} is not banned")));
    }
    let content = with_reason(json!({"membership": "leave"}), &b)?;
    membership(&svc, who.user_id.as_str(), room_id.as_str(), target.as_str(), content).await?;
    Ok(ok_json(json!({})))
}

async fn forget(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?.to_string();
    let user = who.user_id.to_string();
    svc.db
        .run(move |c| {
            match crate::store::memberships::membership(c, &room_id, &user)? {
                None => return Err(Error::not_found("You were never in this room")),
                Some(m) if m.membership == "join" || m.membership == "invite" => {
                    return Err(Error::unknown("You must leave the room before forgetting it"));
                }
                Some(_) => {}
            }
            crate::store::memberships::forget(c, &room_id, &user)
        })
        .await?;
    Ok(ok_json(json!({})))
}

async fn get_alias(svc: Svc, path: web::Path<String>) -> Result<HttpResponse> {
    let alias = parse_alias(&path)?.to_string();
    let found = svc.db.run(move |c| crate::store::rooms::alias_room(c, &alias)).await?;
    let (room_id, _) = found.ok_or_else(|| Error::not_found("Room alias not found"))?;
    Ok(ok_json(json!({"room_id": room_id, "servers": [svc.server_name()]})))
}

async fn put_alias(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let alias = parse_alias(&path)?;
    if alias.server_name().as_str() != svc.server_name() {
        return Err(Error::invalid_param("Alias must be on this server"));
    }
    let body = body.object()?;
    let room_id = parse_room_id(str_field(&body, "room_id")?)?.to_string();
    let (a, creator) = (alias.to_string(), who.user_id.to_string());
    svc.db
        .run(move |c| {
            if crate::store::rooms::room_row(c, &room_id)?.is_none() {
                return Err(Error::not_found("Unknown room"));
            }
            if !crate::store::rooms::add_alias(c, &a, &room_id, &creator)? {
                return Err(Error::new(crate::error::ErrorKind::Conflict, "Room alias already exists"));
            }
            Ok(())
        })
        .await?;
    Ok(ok_json(json!({})))
}

async fn delete_alias(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    let alias = parse_alias(&path)?.to_string();
    let user = who.user_id.to_string();
    let admin = who.is_server_admin();
    svc.db
        .run(move |c| {
            let (_, creator) = crate::store::rooms::alias_room(c, &alias)?.ok_or_else(|| Error::not_found("Room alias not found"))?;
            if creator != user && !admin {
                return Err(Error::forbidden("You did not create this alias"));
            }
            crate::store::rooms::delete_alias(c, &alias)
        })
        .await?;
    Ok(ok_json(json!({})))
}

async fn room_aliases(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?.to_string();
    crate::api::client::events::require_visible(&svc, &who, &room_id).await?;
    let aliases = svc.db.run(move |c| crate::store::rooms::room_aliases(c, &room_id)).await?;
    Ok(ok_json(json!({"aliases": aliases})))
}

async fn joined_rooms(svc: Svc, who: Requester) -> Result<HttpResponse> {
    let user = who.user_id.to_string();
    let rooms = svc.db.run(move |c| crate::store::memberships::joined_rooms(c, &user)).await?;
    Ok(ok_json(json!({"joined_rooms": rooms})))
}
