//! Synapse's redaction of a user's events (`POST v1/user/{user}/redact`), run as an admin job:
//! each redaction goes through the room's actor like a client's, so its authorization, the
//! redacted copy, sync and search all follow as for any redaction.

use crate::Services;
use crate::error::{Error, Result};
use ruma::{EventId, OwnedUserId, RoomId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Events taken per room when the request names no limit, as in Synapse.
pub const DEFAULT_LIMIT: i64 = 1000;
/// The most events taken per room whatever the request says.
pub const MAX_LIMIT: i64 = 100_000;
/// The most rooms one request may name.
pub const MAX_ROOMS: usize = 10_000;

/// The job's parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRedaction {
    pub admin: OwnedUserId,
    /// Empty: every room the user is joined to when the job runs.
    pub rooms: Vec<String>,
    pub reason: Option<String>,
    pub limit: i64,
    /// Sends the redactions as the admin rather than as the user (Synapse's `use_admin`).
    #[serde(default)]
    pub use_admin: bool,
    /// Only events sent at or after / at or before these times (ms), bounds included.
    #[serde(default)]
    pub after_ts: Option<i64>,
    #[serde(default)]
    pub before_ts: Option<i64>,
}

/// Redacts the user's events room by room; answers Synapse's result, `{"failed_redactions":
/// {event_id: reason}}`. A room this server does not know fails the whole job, as in Synapse.
/// As in Synapse, each redaction is sent as the user themselves (who may always redact their own
/// events) unless the request says `use_admin` or the user is another server's; then the admin
/// sends it, which fails where the admin lacks the power.
pub async fn redact_user_events(svc: &Arc<Services>, user: &UserId, p: &UserRedaction) -> Result<Value> {
    let rooms: Vec<String> = if p.rooms.is_empty() {
        let u = user.to_string();
        svc.db.run(move |c| crate::store::memberships::joined_rooms(c, &u)).await?.into_iter().map(|r| r.to_string()).collect()
    } else {
        p.rooms.clone()
    };
    let local = user.server_name().as_str() == svc.server_name();
    let mut failed = Map::new();
    for room in rooms {
        let (r, u) = (room.clone(), user.to_string());
        let window = crate::store::events::SentWindow { limit: p.limit.clamp(1, MAX_LIMIT), after_ts: p.after_ts, before_ts: p.before_ts };
        let found = svc
            .db
            .run(move |c| {
                if crate::store::rooms::room_row(c, &r)?.is_none() {
                    return Ok(None);
                }
                Ok(Some(crate::store::events::redactable_by_sender(c, &r, &u, &window)?))
            })
            .await?;
        let unknown = || Error::not_found(format!("404: Could not find room_version for {room}"));
        let events = found.ok_or_else(unknown)?;
        let room_id = RoomId::parse(&room).map_err(|_| unknown())?;
        let sender: &UserId = if p.use_admin || !local { &p.admin } else { user };
        for event in events {
            let sent = match EventId::parse(&event) {
                Ok(id) => super::room_events::redact_as(svc, sender, &room_id, &id, user, p.reason.as_deref()).await.map(|_| ()),
                Err(e) => Err(Error::internal_from("stored event ID", e)),
            };
            if let Err(e) = sent {
                log::warn!("redacting {event} of {user} in {room} failed: {e}");
                failed.insert(event, json!(e.client_message()));
            }
        }
    }
    Ok(json!({"failed_redactions": failed}))
}
