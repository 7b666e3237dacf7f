//! Presence: `GET`/`PUT /presence/{userId}/status`, the `set_presence` of `/sync`, and the
//! `m.presence` events syncs carry for room-mates whose presence changed.

use crate::actors::notifier::{Advanced, Stream};
use crate::api::{Body, Svc, ok_json, opt_str, str_field};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::ids::parse_user_id;
use crate::store::presence::{self, Presence};
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

/// Online users not seen for this long are shown as `unavailable` (idle), as Synapse does.
const IDLE_AFTER_MS: i64 = 5 * 60_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/presence/{user}/status", web::get().to(get)), ("/presence/{user}/status", web::put().to(set))]);
}

/// What others see: the stored state, idled when an online user has not been active for a while.
pub fn content(p: &Presence, now: i64) -> Value {
    let ago = (now - p.last_active_ts).max(0);
    let state = if p.state == "online" && ago > IDLE_AFTER_MS { "unavailable" } else { p.state.as_str() };
    let mut c = json!({"presence": state, "last_active_ago": ago, "currently_active": state == "online"});
    if let Some(m) = &p.status_msg {
        c["status_msg"] = json!(m);
    }
    c
}

fn valid_state(s: &str) -> Result<()> {
    match s {
        "online" | "offline" | "unavailable" => Ok(()),
        _ => Err(Error::invalid_param("presence must be online, offline or unavailable")),
    }
}

/// Stores the user's presence and wakes their room-mates' syncs if what they see changed.
pub async fn update(svc: &Svc, user: &str, state: &str, status_msg: Option<Option<String>>) -> Result<()> {
    if !svc.config.presence_enabled {
        return Ok(());
    }
    let (u, s) = (user.to_owned(), state.to_owned());
    let changed = svc
        .db
        .run(move |c| {
            let Some(position) = presence::set(c, &u, &s, status_msg.as_ref().map(|m| m.as_deref()), crate::ids::now_ms())? else {
                return Ok(None);
            };
            Ok(Some((crate::store::memberships::room_mates(c, &u)?, position)))
        })
        .await?;
    if let Some((users, position)) = changed {
        svc.notifier.do_send(Advanced { stream: Stream::Presence, users, position });
    }
    Ok(())
}

async fn set(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    if parse_user_id(&path)? != who.user_id {
        return Err(Error::forbidden("You can only set your own presence"));
    }
    let body = body.object()?;
    let state = str_field(&body, "presence")?.to_owned();
    valid_state(&state)?;
    let msg = opt_str(&body, "status_msg")?.map(str::to_owned);
    if !who.shadow_banned {
        update(&svc, who.user_id.as_str(), &state, Some(msg)).await?;
    }
    Ok(ok_json(json!({})))
}

async fn get(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?.to_string();
    let me = who.user_id.to_string();
    let (exists, visible, found) = svc
        .db
        .run(move |c| {
            let exists = crate::store::users::exists(c, &target)?;
            let visible = target == me || crate::store::memberships::share_room(c, &me, &target)?;
            Ok((exists, visible, presence::get(c, &target)?))
        })
        .await?;
    if !exists {
        return Err(Error::not_found("Unknown user"));
    }
    if !visible {
        return Err(Error::forbidden("You are not allowed to see their presence"));
    }
    match found.filter(|_| svc.config.presence_enabled) {
        Some(p) => Ok(ok_json(content(&p, crate::ids::now_ms()))),
        None => Ok(ok_json(json!({"presence": "offline"}))),
    }
}

/// The `set_presence` of a sync request: `online` (the default) or `unavailable` refresh the
/// user's presence; `offline` leaves it as it is.
pub fn sync_presence(value: Option<&String>) -> Result<Option<String>> {
    match value.map(String::as_str) {
        None => Ok(Some("online".into())),
        Some("offline") => Ok(None),
        Some(s) => valid_state(s).map(|_| Some(s.to_owned())),
    }
}
