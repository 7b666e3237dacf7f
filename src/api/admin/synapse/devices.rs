//! Admin view of a user's devices: list, create, show, rename, delete.

use super::users::existing_local_user;
use crate::api::{Body, Svc, ok_json, opt_str, str_field};
use crate::auth::Admin;
use crate::error::{Error, Result};
use crate::store::devices::{self, Device};
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/v2/users/{user_id}/devices", web::get().to(list)),
            ("/v2/users/{user_id}/devices", web::post().to(create)),
            ("/v2/users/{user_id}/delete_devices", web::post().to(delete_many)),
            ("/v2/users/{user_id}/devices/{device_id}", web::get().to(show)),
            ("/v2/users/{user_id}/devices/{device_id}", web::put().to(rename)),
            ("/v2/users/{user_id}/devices/{device_id}", web::delete().to(delete_one)),
        ],
    );
}

fn device_json(d: &Device) -> Value {
    json!({
        "device_id": d.device_id,
        "display_name": d.display_name,
        "last_seen_ip": d.last_seen_ip,
        "last_seen_ts": d.last_seen_ts,
        "last_seen_user_agent": d.last_seen_user_agent,
        "user_id": d.user_id,
        "dehydrated": false,
    })
}

async fn list(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let user = existing_local_user(&svc, &path).await?;
    // Pending client IPs first, so last_seen is current.
    svc.client_ips.flush(&svc.db).await?;
    let devices = svc.db.run(move |c| devices::list_devices(c, &user.user_id)).await?;
    Ok(ok_json(json!({"devices": devices.iter().map(device_json).collect::<Vec<_>>(), "total": devices.len()})))
}

async fn create(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let user = existing_local_user(&svc, &path).await?;
    let body = body.object()?;
    let device_id = crate::ids::parse_device_id(str_field(&body, "device_id")?)?;
    let id = user.user_id.clone();
    svc.db.run(move |c| devices::create_device(c, &id, &device_id)).await?;
    log::info!("admin {} created a device for {}", admin.user_id, user.user_id);
    Ok(HttpResponse::Created().json(json!({})))
}

async fn show(svc: Svc, _admin: Admin, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (u, device_id) = path.into_inner();
    let user = existing_local_user(&svc, &u).await?;
    svc.client_ips.flush(&svc.db).await?;
    let d = svc.db.run(move |c| devices::find_device(c, &user.user_id, &device_id)).await?;
    d.map(|d| ok_json(device_json(&d))).ok_or_else(|| Error::not_found("Device not found"))
}

async fn rename(svc: Svc, _admin: Admin, path: web::Path<(String, String)>, body: Body) -> Result<HttpResponse> {
    let (u, device_id) = path.into_inner();
    let user = existing_local_user(&svc, &u).await?;
    let body = body.object()?;
    let name = opt_str(&body, "display_name")?.map(crate::ids::parse_device_name).transpose()?;
    let n = svc.db.run(move |c| devices::rename_device(c, &user.user_id, &device_id, name.as_deref())).await?;
    if n == 0 {
        return Err(Error::not_found("Device not found"));
    }
    Ok(ok_json(json!({})))
}

async fn remove(svc: &Svc, admin: &Admin, user_id: String, ids: Vec<String>) -> Result<HttpResponse> {
    log::info!("admin {} deletes devices {ids:?} of {user_id}", admin.user_id);
    crate::api::client::devices::revoke(svc, user_id, ids).await?;
    Ok(ok_json(json!({})))
}

async fn delete_one(svc: Svc, admin: Admin, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (u, device_id) = path.into_inner();
    let user = existing_local_user(&svc, &u).await?;
    remove(&svc, &admin, user.user_id, vec![device_id]).await
}

async fn delete_many(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let user = existing_local_user(&svc, &path).await?;
    let body = body.object()?;
    let ids = crate::api::client::devices::device_ids(&body)?;
    remove(&svc, &admin, user.user_id, ids).await
}
