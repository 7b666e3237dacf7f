//! `PUT /rooms/{roomId}/typing/{userId}`: typing notifications, kept by the room's actor.

use crate::actors::room::SetTyping;
use crate::api::{Body, Svc, arc, ok_json, opt_bool};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::ids::{parse_room_id, parse_user_id};
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use std::time::Duration;

/// Longest a client may claim to type without refreshing. Longer asks are cut to this, not
/// refused (clients send what they like and expect 200): 120 s is Synapse's cap too, and the spec
/// tells clients to refresh every 20-30 s, so a vanished client stops "typing" within 2 minutes
/// and each expiry timer in the room actor lives at most that long. Default 30 s as Synapse.
const MAX_TIMEOUT_MS: i64 = 120_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/rooms/{room}/typing/{user}", web::put().to(set))]);
}

async fn set(svc: Svc, who: Requester, path: web::Path<(String, String)>, body: Body) -> Result<HttpResponse> {
    let (room, user) = path.into_inner();
    let room = parse_room_id(&room)?;
    if parse_user_id(&user)? != who.user_id {
        return Err(Error::forbidden("You can only set your own typing state"));
    }
    let body = body.object()?;
    let typing = opt_bool(&body, "typing")?.ok_or_else(|| Error::missing_param("Missing typing"))?;
    let timeout = match body.get("timeout") {
        None | Some(Value::Null) => 30_000,
        Some(v) => v.as_i64().filter(|t| *t >= 0).ok_or_else(|| Error::bad_json("timeout must be a non-negative integer"))?,
    }
    .min(MAX_TIMEOUT_MS);
    if who.shadow_banned {
        return Ok(ok_json(json!({})));
    }
    let msg = SetTyping { user: who.user_id.to_string(), typing, timeout: Duration::from_millis(timeout as u64) };
    arc(&svc).send_to_room(room.as_str(), msg).await??;
    Ok(ok_json(json!({})))
}
