//! The requester's devices: list, rename, delete (with `m.login.password` UIA).

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json};
use crate::error::Result;
use crate::service::devices::{self, Device};
use actix_web::{HttpRequest, HttpResponse, web};
use ruma::OwnedDeviceId;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/devices", web::get().to(list)),
            ("/devices/{id}", web::get().to(get)),
            ("/devices/{id}", web::put().to(rename)),
            ("/devices/{id}", web::delete().to(delete_one)),
            ("/delete_devices", web::post().to(delete_many)),
        ],
    );
}

fn device_json(d: &Device) -> Value {
    json!({
        "device_id": d.device_id,
        "display_name": d.display_name,
        "last_seen_ip": d.last_seen_ip,
        "last_seen_ts": d.last_seen_ts,
    })
}

async fn list(svc: Svc, who: Requester) -> Result<HttpResponse> {
    let devices = devices::list(&svc, &who.user_id).await?;
    Ok(ok_json(json!({"devices": devices.iter().map(device_json).collect::<Vec<_>>()})))
}

async fn get(svc: Svc, who: Requester, path: web::Path<OwnedDeviceId>) -> Result<HttpResponse> {
    Ok(ok_json(device_json(&devices::get(&svc, &who.user_id, &path).await?)))
}

#[derive(Deserialize)]
struct RenameBody {
    display_name: Option<String>,
}

impl RenameBody {
    /// The new name, bounded.
    fn name(self) -> Result<Option<String>> {
        self.display_name.as_deref().map(crate::ids::parse_device_name).transpose()
    }
}

async fn rename(svc: Svc, who: Requester, path: web::Path<OwnedDeviceId>, body: Body) -> Result<HttpResponse> {
    let name = body.parse::<RenameBody>()?.name()?;
    devices::rename(&svc, &who.user_id, &path, name).await?;
    Ok(ok_json(json!({})))
}

async fn delete_one(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<OwnedDeviceId>, body: Body) -> Result<HttpResponse> {
    let (_, op) = body.parse_uia::<Value>(&req, Some(&who.user_id))?;
    devices::delete_own_device(&svc, &who.user_id, path.into_inner(), op).await?;
    Ok(ok_json(json!({})))
}

#[derive(Deserialize)]
struct DeleteDevicesBody {
    devices: Vec<OwnedDeviceId>,
}

async fn delete_many(svc: Svc, who: Requester, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    let (b, op) = body.parse_uia::<DeleteDevicesBody>(&req, Some(&who.user_id))?;
    devices::delete_own(&svc, &who.user_id, b.devices, op).await?;
    Ok(ok_json(json!({})))
}
