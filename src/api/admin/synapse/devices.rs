//! Admin view of a user's devices: list, create, show, rename, delete.

use crate::api::extractors::Admin;
use crate::api::{Body, Svc, ok_json};
use crate::error::Result;
use crate::ids::parse_user_id;
use crate::service::devices::{self, Device};
use actix_web::{HttpResponse, web};
use ruma::OwnedDeviceId;
use serde::Deserialize;
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
    let devices = devices::admin_list(&svc, &parse_user_id(&path)?).await?;
    Ok(ok_json(json!({"devices": devices.iter().map(device_json).collect::<Vec<_>>(), "total": devices.len()})))
}

#[derive(Deserialize)]
struct CreateBody {
    device_id: String,
}

async fn create(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    let b: CreateBody = body.parse()?;
    let device_id = OwnedDeviceId::from(crate::ids::parse_device_id(&b.device_id)?);
    devices::admin_create(&svc, &admin.user_id, &target, &device_id).await?;
    Ok(HttpResponse::Created().json(json!({})))
}

async fn show(svc: Svc, _admin: Admin, path: web::Path<(String, OwnedDeviceId)>) -> Result<HttpResponse> {
    let (user, device_id) = path.into_inner();
    Ok(ok_json(device_json(&devices::admin_get(&svc, &parse_user_id(&user)?, &device_id).await?)))
}

#[derive(Deserialize)]
struct RenameBody {
    display_name: Option<String>,
}

async fn rename(svc: Svc, _admin: Admin, path: web::Path<(String, OwnedDeviceId)>, body: Body) -> Result<HttpResponse> {
    let (user, device_id) = path.into_inner();
    let user = parse_user_id(&user)?;
    let name = body.parse::<RenameBody>()?.display_name.as_deref().map(crate::ids::parse_device_name).transpose()?;
    devices::admin_rename(&svc, &user, &device_id, name).await?;
    Ok(ok_json(json!({})))
}

async fn delete_one(svc: Svc, admin: Admin, path: web::Path<(String, OwnedDeviceId)>) -> Result<HttpResponse> {
    let (user, device_id) = path.into_inner();
    devices::admin_delete(&svc, &admin.user_id, &parse_user_id(&user)?, vec![device_id]).await?;
    Ok(ok_json(json!({})))
}

#[derive(Deserialize)]
struct DeleteDevicesBody {
    devices: Vec<OwnedDeviceId>,
}

async fn delete_many(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    let b: DeleteDevicesBody = body.parse()?;
    devices::admin_delete(&svc, &admin.user_id, &target, b.devices).await?;
    Ok(ok_json(json!({})))
}
