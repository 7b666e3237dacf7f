//! Presence: what users set, what `/sync` refreshes, and what room-mates see (online users idle
//! for a while show as `unavailable`).

use crate::Services;
use crate::actors::notifier::{Advanced, Stream};
use crate::error::{Error, Result};
use crate::store::presence::{self, Presence};
use ruma::{OwnedUserId, UserId};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Online users not seen for this long are shown as `unavailable` (idle), as Synapse does.
const IDLE_AFTER_MS: i64 = 5 * 60_000;

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

/// How long a sync's presence refresh is taken as done without asking the store again. The
/// store refreshes `last_active_ts` once a minute at most, so this only spares syncs a store
/// round trip that would change nothing (a long-polling client syncs many times a minute).
const REFRESH_CHECKED_FOR: Duration = Duration::from_secs(10);
/// Entries kept before the old ones are dropped: users who synced in the last few seconds.
const REFRESHES_KEPT: usize = 4_096;

/// Whose presence a sync refreshed lately, and to what.
#[derive(Default)]
pub struct RecentRefreshes(Mutex<HashMap<OwnedUserId, (String, Instant)>>);

impl RecentRefreshes {
    fn fresh(&self, user: &UserId, state: &str) -> bool {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(user).is_some_and(|(s, at)| s == state && at.elapsed() < REFRESH_CHECKED_FOR)
    }

    fn note(&self, user: &UserId, state: Option<&str>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match state {
            Some(state) => {
                if map.len() >= REFRESHES_KEPT {
                    map.retain(|_, (_, at)| at.elapsed() < REFRESH_CHECKED_FOR);
                }
                map.insert(user.to_owned(), (state.to_owned(), Instant::now()));
            }
            None => {
                map.remove(user);
            }
        }
    }
}

/// Stores the user's presence and wakes their room-mates' syncs if what they see changed.
/// `status_msg`: `None` keeps the message, `Some(None)` clears it.
pub async fn update(svc: &Services, user: &UserId, state: &str, status_msg: Option<Option<String>>) -> Result<()> {
    if !svc.config.presence_enabled {
        return Ok(());
    }
    let refresh = status_msg.is_none();
    if refresh && svc.presence_refreshes.fresh(user, state) {
        return Ok(());
    }
    // A change set by hand is not a refresh: the next sync asks the store again.
    svc.presence_refreshes.note(user, None);
    let (u, s) = (user.to_string(), state.to_owned());
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
    if refresh {
        svc.presence_refreshes.note(user, Some(state));
    }
    Ok(())
}

/// The user sets their presence (a shadow-banned user's change is not kept).
pub async fn set(svc: &Services, user: &UserId, shadow_banned: bool, state: &str, status_msg: Option<String>) -> Result<()> {
    valid_state(state)?;
    if shadow_banned {
        return Ok(());
    }
    update(svc, user, state, Some(status_msg)).await
}

/// `target`'s presence as `viewer` sees it: themselves, or someone they share a room with.
pub async fn get(svc: &Services, viewer: &UserId, target: &UserId) -> Result<Value> {
    let (target, me) = (target.to_string(), viewer.to_string());
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
    Ok(match found.filter(|_| svc.config.presence_enabled) {
        Some(p) => content(&p, crate::ids::now_ms()),
        None => json!({"presence": "offline"}),
    })
}

/// The presence of each of `users` in the legacy (v1) event shape the initial syncs answer with:
/// `user_id` inside the content, and `offline` for whoever never set or refreshed theirs.
pub async fn snapshot(svc: &Services, users: Vec<String>) -> Result<Vec<Value>> {
    if !svc.config.presence_enabled {
        return Ok(Vec::new());
    }
    let ids = users.clone();
    let found: std::collections::HashMap<String, Presence> =
        svc.db.run(move |c| presence::get_many(c, &ids)).await?.into_iter().map(|p| (p.user_id.clone(), p)).collect();
    let now = crate::ids::now_ms();
    Ok(users
        .into_iter()
        .map(|u| {
            let mut c = match found.get(&u) {
                Some(p) => content(p, now),
                None => json!({"presence": "offline"}),
            };
            c["user_id"] = json!(u);
            json!({"type": "m.presence", "content": c})
        })
        .collect())
}

/// The `set_presence` of a sync request: `online` (the default) or `unavailable` refresh the
/// user's presence; `offline` leaves it as it is.
pub fn sync_presence(value: Option<&str>) -> Result<Option<String>> {
    match value {
        None => Ok(Some("online".into())),
        Some("offline") => Ok(None),
        Some(s) => valid_state(s).map(|_| Some(s.to_owned())),
    }
}
