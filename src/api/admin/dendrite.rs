//! `/_dendrite/admin/...`: evacuate, purge, reset passwords, reindex search, refresh devices.

use crate::api::extractors::Admin;
use crate::api::{Body, Svc, arc, ok_json};
use crate::error::{Error, Result};
use crate::ids::{local_user_from_path, parse_room_id, parse_user_id};
use crate::service::accounts::Acting;
use crate::service::admin;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

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
    let affected = admin::evacuate_room(&arc(&svc), &admin.user_id, &room_id).await?;
    Ok(ok_json(json!({"affected": affected})))
}

async fn evacuate_user(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let user_id = local_user_from_path(&path, svc.server_name())?;
    let report = admin::evacuate_user(&arc(&svc), &admin.user_id, &user_id).await?;
    let mut body = json!({"affected": report.left});
    if !report.failed.is_empty() {
        body["failed"] = json!(report.failed.iter().map(|(room, error)| json!({"room_id": room, "error": error})).collect::<Vec<_>>());
    }
    Ok(ok_json(body))
}

#[derive(Deserialize)]
struct ResetPasswordBody {
    password: Option<String>,
    logout_devices: Option<bool>,
}

/// Checks in the order Ensemble documents: ID, existence, JSON, presence, length.
async fn reset_password(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let user_id = local_user_from_path(&path, svc.server_name())?;
    let acting = Acting { user_id: &admin.user_id, device_id: admin.device_id.as_deref() };
    admin::reset_password(&svc, acting, &user_id, || {
        let b: ResetPasswordBody = body.parse()?;
        let password = b.password.ok_or_else(|| Error::missing_param("Expecting non-empty password"))?;
        Ok((password, b.logout_devices.unwrap_or(false)))
    })
    .await?;
    Ok(ok_json(json!({"password_updated": true})))
}

async fn reindex(svc: Svc, admin: Admin) -> Result<HttpResponse> {
    admin::reindex(&svc, &admin.user_id).await?;
    Ok(ok_json(json!({})))
}

async fn purge_room(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    admin::purge_room(&arc(&svc), &admin.user_id, &room_id).await?;
    Ok(ok_json(json!({})))
}

/// Fetches the remote user's device list from their server now and replaces the stored one.
async fn refresh_devices(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let user_id = parse_user_id(&path)?;
    admin::refresh_devices(&svc, &admin.user_id, &user_id).await?;
    Ok(ok_json(json!({})))
}
