//! `/_dendrite/admin/...`: evacuate, purge, reset passwords, reindex search, refresh devices.

use crate::actors::room::{Evacuate, Purge};
use crate::actors::user::EvacuateUser;
use crate::api::{Body, Svc, arc, ok_json};
use crate::auth::Admin;
use crate::error::{Error, Result};
use crate::ids::{local_user_from_path, parse_room_id, parse_user_id};
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Both methods: the seed versions of Dendrite's page disagree (GET before v0.12, POST after).
    crate::api::routes(
        cfg,
        vec![
            ("/evacuateRoom/{room_id}", web::get().to(evacuate_room)),
            ("/evacuateRoom/{room_id}", web::post().to(evacuate_room)),
            ("/evacuateUser/{user_id}", web::get().to(evacuate_user)),
            ("/evacuateUser/{user_id}", web::post().to(evacuate_user)),
            ("/resetPassword/{user_id}", web::post().to(reset_password)),
            ("/fulltext/reindex", web::get().to(reindex)),
            ("/fulltext/reindex", web::post().to(reindex)),
            ("/purgeRoom/{room_id}", web::post().to(purge_room)),
            ("/refreshDevices/{user_id}", web::post().to(refresh_devices)),
        ],
    );
}

async fn evacuate_room(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    log::info!("admin {} evacuates room {room_id}", admin.user_id);
    let affected = arc(&svc).send_to_room(room_id.as_str(), Evacuate).await??;
    Ok(ok_json(json!({"affected": affected})))
}

async fn evacuate_user(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let user_id = local_user_from_path(&path, svc.server_name())?;
    log::info!("admin {} evacuates user {user_id}", admin.user_id);
    let svc = arc(&svc);
    let actor = svc.directory.user(&svc, user_id.as_str()).await?;
    let report = actor.send(EvacuateUser).await??;
    let mut body = json!({"affected": report.left});
    if !report.failed.is_empty() {
        body["failed"] = json!(report.failed.iter().map(|(room, error)| json!({"room_id": room, "error": error})).collect::<Vec<_>>());
    }
    Ok(ok_json(body))
}

/// Checks in the order Ensemble documents: ID, existence, JSON, presence, length.
async fn reset_password(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let user_id = local_user_from_path(&path, svc.server_name())?;
    let id = user_id.to_string();
    if !svc.db.run(move |c| crate::store::users::exists(c, &id)).await? {
        return Err(Error::not_found("User does not exist"));
    }
    let body = body.object()?;
    let new_password = match body.get("password") {
        None | Some(Value::Null) => return Err(Error::missing_param("Expecting non-empty password")),
        Some(Value::String(s)) if s.is_empty() => return Err(Error::missing_param("Expecting non-empty password")),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(Error::bad_json("password must be a string")),
    };
    if new_password.len() < 8 {
        return Err(Error::weak_password("Password too weak: at least 8 bytes"));
    }
    if new_password.len() > 512 {
        return Err(Error::invalid_param("Password too long: at most 512 bytes"));
    }
    let logout_devices = crate::api::opt_bool(&body, "logout_devices")?.unwrap_or(false);
    // An admin resetting their own password keeps the device they are using.
    let keep = if admin.user_id == user_id { admin.device_id.clone() } else { None };
    crate::api::client::account::set_password(&svc, user_id.as_str(), new_password, logout_devices, keep).await?;
    log::info!("admin {} reset the password of {user_id} (logout_devices: {logout_devices})", admin.user_id);
    Ok(ok_json(json!({"password_updated": true})))
}

async fn reindex(svc: Svc, admin: Admin) -> Result<HttpResponse> {
    let started = svc.search.send(crate::actors::search::Reindex).await?;
    log::info!("admin {} asked for a search reindex (started: {started})", admin.user_id);
    Ok(ok_json(json!({})))
}

async fn purge_room(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    log::info!("admin {} purges room {room_id}", admin.user_id);
    let report = arc(&svc).send_to_room(room_id.as_str(), Purge).await??;
    log::info!("room {room_id} purged: {} members evacuated, {} events deleted", report.evacuated.len(), report.events_deleted);
    Ok(ok_json(json!({})))
}

/// Fetches the remote user's device list from their server now and replaces the stored one.
async fn refresh_devices(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let user_id = parse_user_id(&path)?;
    if user_id.server_name().as_str() == svc.server_name() {
        return Err(Error::invalid_param("Can not refresh the device list of a local user"));
    }
    log::info!("admin {} refreshes the device list of {user_id}", admin.user_id);
    crate::federation::device_lists::refresh(&svc, user_id.as_str(), true).await.map_err(|e| {
        Error::new(
            crate::error::ErrorKind::BadGateway,
            format!("Could not refresh the device list of {user_id} from {}: {e}", user_id.server_name()),
        )
    })?;
    Ok(ok_json(json!({})))
}
