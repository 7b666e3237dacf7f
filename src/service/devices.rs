//! Devices and their sessions: starting one (login, registration), listing, renaming, deleting
//! (by the user with their password, or by an admin).

use super::accounts::{DeviceRequest, NewSession, local_user, password_uia};
use crate::Services;
use crate::auth::uia::Operation;
use crate::error::{Error, Result};
use crate::store::devices;
pub use crate::store::devices::Device;
use ruma::{DeviceId, OwnedDeviceId, UserId};

/// Creates a session for `user_id` on the device asked for (a new one if none is named) and
/// returns its token. A device that had a session loses it.
pub async fn start_session(svc: &Services, user_id: &UserId, device: DeviceRequest) -> Result<NewSession> {
    let device_id = device.device_id.unwrap_or_else(|| OwnedDeviceId::from(crate::ids::new_device_id()));
    let token = crate::ids::new_access_token();
    let hash = crate::auth::tokens::hash_token(&token);
    let (u, d, name) = (user_id.to_string(), device_id.to_string(), device.display_name);
    let key = (u.clone(), d.clone());
    let replaced = svc.db.run(move |c| devices::login(c, &u, &d, name.as_deref(), &hash)).await?;
    svc.tokens.forget(&replaced);
    // A device ID used again after its device was deleted (with its keys) has none: the counts
    // kept for the old one must not show, and no session of it could sync before this one.
    svc.kept.key_counts.forget(&key);
    crate::actors::notifier::device_list_changed(svc, user_id.as_str()).await;
    Ok(NewSession { user_id: user_id.to_owned(), access_token: token, device_id })
}

pub async fn list(svc: &Services, user_id: &UserId) -> Result<Vec<Device>> {
    let user = user_id.to_string();
    svc.db.run(move |c| devices::list_devices(c, &user)).await
}

fn not_found() -> Error {
    Error::not_found("Device not found")
}

pub async fn get(svc: &Services, user_id: &UserId, device_id: &DeviceId) -> Result<Device> {
    let (user, id) = (user_id.to_string(), device_id.to_string());
    svc.db.run(move |c| devices::find_device(c, &user, &id)).await?.ok_or_else(not_found)
}

/// Renames (or, with `None`, unnames) a device; 404 if the user has no such device.
pub async fn rename(svc: &Services, user_id: &UserId, device_id: &DeviceId, name: Option<String>) -> Result<()> {
    let (user, id) = (user_id.to_string(), device_id.to_string());
    let n = svc.db.run(move |c| devices::rename_device(c, &user, &id, name.as_deref())).await?;
    if n == 0 {
        return Err(not_found());
    }
    Ok(())
}

/// Deletes the devices with their tokens, pushers and connection history, and forgets the
/// cached sessions.
pub async fn revoke(svc: &Services, user_id: &UserId, ids: Vec<OwnedDeviceId>) -> Result<()> {
    let u = user_id.to_string();
    let ids: Vec<String> = ids.into_iter().map(|d| d.to_string()).collect();
    let removed = svc.db.run(move |c| devices::delete_devices(c, &u, &ids)).await?;
    svc.tokens.forget(&removed);
    crate::actors::notifier::device_list_changed(svc, user_id.as_str()).await;
    Ok(())
}

/// The user deletes one device of theirs (404 if unknown), proving their password.
pub async fn delete_own_device(svc: &Services, user_id: &UserId, device_id: OwnedDeviceId, op: Operation) -> Result<()> {
    get(svc, user_id, &device_id).await?;
    delete_own(svc, user_id, vec![device_id], op).await
}

/// The user deletes devices of theirs (unknown ones are ignored), proving their password.
pub async fn delete_own(svc: &Services, user_id: &UserId, ids: Vec<OwnedDeviceId>, op: Operation) -> Result<()> {
    password_uia(svc, user_id, op).await?;
    revoke(svc, user_id, ids).await
}

/// A local user's devices as an admin sees them, last-seen data current.
pub async fn admin_list(svc: &Services, target: &UserId) -> Result<Vec<Device>> {
    local_user(svc, target).await?;
    // Pending client IPs first, so last_seen is current.
    svc.client_ips.flush(&svc.db).await?;
    list(svc, target).await
}

pub async fn admin_get(svc: &Services, target: &UserId, device_id: &DeviceId) -> Result<Device> {
    local_user(svc, target).await?;
    svc.client_ips.flush(&svc.db).await?;
    get(svc, target, device_id).await
}

/// Creates a device without a session (idempotent).
pub async fn admin_create(svc: &Services, admin: &UserId, target: &UserId, device_id: &DeviceId) -> Result<()> {
    local_user(svc, target).await?;
    let (id, device) = (target.to_string(), device_id.to_string());
    svc.db.run(move |c| devices::create_device(c, &id, &device)).await?;
    log::info!("admin {admin} created a device for {target}");
    Ok(())
}

pub async fn admin_rename(svc: &Services, target: &UserId, device_id: &DeviceId, name: Option<String>) -> Result<()> {
    local_user(svc, target).await?;
    rename(svc, target, device_id, name).await
}

pub async fn admin_delete(svc: &Services, admin: &UserId, target: &UserId, ids: Vec<OwnedDeviceId>) -> Result<()> {
    local_user(svc, target).await?;
    log::info!("admin {admin} deletes devices {ids:?} of {target}");
    revoke(svc, target, ids).await
}
