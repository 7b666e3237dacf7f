//! The requester's devices: list, rename, delete (with `m.login.password` UIA).

use crate::api::{Body, Svc, ok_json, opt_str};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::store::devices::{self, Device};
use actix_web::{HttpResponse, web};
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

pub fn device_json(d: &Device) -> Value {
    json!({
        "device_id": d.device_id,
        "display_name": d.display_name,
        "last_seen_ip": d.last_seen_ip,
        "last_seen_ts": d.last_seen_ts,
    })
}

async fn list(svc: Svc, who: Requester) -> Result<HttpResponse> {
    let user = who.user_id.to_string();
    let devices = svc.db.run(move |c| devices::list_devices(c, &user)).await?;
    Ok(ok_json(json!({"devices": devices.iter().map(device_json).collect::<Vec<_>>()})))
}

async fn get(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    let (user, id) = (who.user_id.to_string(), path.into_inner());
    let d = svc.db.run(move |c| devices::find_device(c, &user, &id)).await?;
    d.map(|d| ok_json(device_json(&d))).ok_or_else(|| Error::not_found("Device not found"))
}

async fn rename(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    let name = opt_str(&body, "display_name")?.map(crate::ids::parse_device_name).transpose()?;
    let (user, id) = (who.user_id.to_string(), path.into_inner());
    let n = svc.db.run(move |c| devices::rename_device(c, &user, &id, name.as_deref())).await?;
    if n == 0 {
        return Err(Error::not_found("Device not found"));
    }
    Ok(ok_json(json!({})))
}

async fn delete(svc: &Svc, who: &Requester, body: &Value, ids: Vec<String>) -> Result<HttpResponse> {
    super::account::password_uia(svc, who, body).await?;
    revoke(svc, who.user_id.to_string(), ids).await?;
    Ok(ok_json(json!({})))
}

/// Deletes the devices with their tokens, pushers and connection history, and forgets the
/// cached sessions. Shared with the admin API.
pub async fn revoke(svc: &Svc, user_id: String, ids: Vec<String>) -> Result<()> {
    let u = user_id.clone();
    let removed = svc.db.run(move |c| devices::delete_devices(c, &u, &ids)).await?;
    svc.tokens.forget(&removed);
    crate::actors::notifier::device_list_changed(svc, &user_id).await;
    Ok(())
}

/// The `devices` list of a delete_devices body.
pub fn device_ids(body: &Value) -> Result<Vec<String>> {
    match body.get("devices") {
        Some(Value::Array(a)) => {
            a.iter().map(|v| v.as_str().map(str::to_owned).ok_or_else(|| Error::bad_json("devices must be strings"))).collect()
        }
        None => Err(Error::missing_param("Missing devices")),
        Some(_) => Err(Error::bad_json("devices must be a list")),
    }
}

async fn delete_one(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let id = path.into_inner();
    let (user, i) = (who.user_id.to_string(), id.clone());
    if svc.db.run(move |c| devices::find_device(c, &user, &i)).await?.is_none() {
        return Err(Error::not_found("Device not found"));
    }
    delete(&svc, &who, &body.object()?, vec![id]).await
}

async fn delete_many(svc: Svc, who: Requester, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    let ids = device_ids(&body)?;
    delete(&svc, &who, &body, ids).await
}
