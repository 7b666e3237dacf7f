//! Typing notifications: kept by the room's actor, which expires them.

use crate::Services;
use crate::actors::room::SetTyping;
use crate::auth::tokens::Session;
use crate::error::Result;
use ruma::RoomId;
use std::sync::Arc;
use std::time::Duration;

/// Longest a client may claim to type without refreshing. Longer asks are cut to this, not
/// refused (clients send what they like and expect 200): 120 s is Synapse's cap too, and the spec
/// tells clients to refresh every 20-30 s, so a vanished client stops "typing" within 2 minutes
/// and each expiry timer in the room actor lives at most that long.
pub const MAX_TIMEOUT_MS: u64 = 120_000;
/// What a client that names no timeout gets, as in Synapse.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;

pub async fn set(svc: &Arc<Services>, who: &Session, room_id: &RoomId, typing: bool, timeout_ms: Option<u64>) -> Result<()> {
    if who.shadow_banned {
        return Ok(());
    }
    let timeout = Duration::from_millis(timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS).min(MAX_TIMEOUT_MS));
    let sent = svc.send_to_room(room_id, SetTyping { user: who.user_id.clone(), typing, timeout }).await;
    sent.map_err(|e| super::room_events::not_in_unknown_room(e, &who.user_id, room_id))??;
    Ok(())
}
