//! Operations both admin dialects offer: evacuating a room or a user, purging a room,
//! rebuilding the search index, refreshing a remote user's devices. The actors own each change.

use crate::Services;
use crate::actors::room::{Evacuate, Purge};
use crate::actors::user::{EvacuateUser, EvacuationReport};
use crate::error::{Error, ErrorKind, Result};
use ruma::{OwnedUserId, RoomId, UserId};
use std::sync::Arc;

/// Every local member leaves the room; answers who left.
pub async fn evacuate_room(svc: &Arc<Services>, admin: &UserId, room_id: &RoomId) -> Result<Vec<OwnedUserId>> {
    log::info!("admin {admin} evacuates room {room_id}");
    svc.send_to_room(room_id, Evacuate).await?
}

/// The user leaves every room; answers the rooms left and those that failed.
pub async fn evacuate_user(svc: &Arc<Services>, admin: &UserId, user_id: &UserId) -> Result<EvacuationReport> {
    log::info!("admin {admin} evacuates user {user_id}");
    svc.directory.user(svc, user_id).await?.send(EvacuateUser).await?
}

/// Evacuates the room and deletes it with everything in it.
pub async fn purge_room(svc: &Arc<Services>, admin: &UserId, room_id: &RoomId) -> Result<()> {
    log::info!("admin {admin} purges room {room_id}");
    let report = svc.send_to_room(room_id, Purge).await??;
    log::info!("room {room_id} purged: {} members evacuated, {} events deleted", report.evacuated.len(), report.events_deleted);
    Ok(())
}

/// Starts rebuilding the search index unless a rebuild is running.
pub async fn reindex(svc: &Services, admin: &UserId) -> Result<()> {
    let started = svc.search.send(crate::actors::search::Reindex).await?;
    log::info!("admin {admin} asked for a search reindex (started: {started})");
    Ok(())
}

/// Fetches the remote user's device list from their server now and replaces the stored one;
/// 502 if their server cannot give it.
pub async fn refresh_devices(svc: &Services, admin: &UserId, user_id: &UserId) -> Result<()> {
    if user_id.server_name().as_str() == svc.server_name() {
        return Err(Error::invalid_param("Can not refresh the device list of a local user"));
    }
    log::info!("admin {admin} refreshes the device list of {user_id}");
    super::keys::refresh_remote_devices(svc, user_id, true).await.map_err(|e| {
        Error::new(ErrorKind::BadGateway, format!("Could not refresh the device list of {user_id} from {}: {e}", user_id.server_name()))
    })?;
    Ok(())
}

/// Dendrite's password reset: the user must exist before the request is read (the order
/// Ensemble documents), then the new password is checked with Dendrite's rules.
pub async fn reset_password(
    svc: &Services,
    admin: super::accounts::Acting<'_>,
    user_id: &UserId,
    request: impl FnOnce() -> Result<(String, bool)>,
) -> Result<()> {
    let id = user_id.to_string();
    if !svc.db.run(move |c| crate::store::users::exists(c, &id)).await? {
        return Err(Error::not_found("User does not exist"));
    }
    let (new_password, logout_devices) = request()?;
    if new_password.is_empty() {
        return Err(Error::missing_param("Expecting non-empty password"));
    }
    if new_password.len() < 8 {
        return Err(Error::weak_password("Password too weak: at least 8 bytes"));
    }
    if new_password.len() > 512 {
        return Err(Error::invalid_param("Password too long: at most 512 bytes"));
    }
    // An admin resetting their own password keeps the device they are using.
    let keep = if admin.user_id == user_id { admin.device_id } else { None };
    super::accounts::set_password(svc, user_id, new_password, logout_devices, keep).await?;
    log::info!("admin {} reset the password of {user_id} (logout_devices: {logout_devices})", admin.user_id);
    Ok(())
}
