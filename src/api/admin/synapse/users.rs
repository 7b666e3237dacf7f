//! Synapse user admin endpoints built so far: whois and the admin flag.

use crate::api::{Body, Svc, ok_json};
use crate::auth::{Admin, Requester};
use crate::error::{Error, Result};
use crate::ids::parse_user_id;
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/v1/whois/{user_id}", web::get().to(whois)),
            ("/v1/users/{user_id}/admin", web::get().to(get_admin)),
            ("/v1/users/{user_id}/admin", web::put().to(set_admin)),
        ],
    );
}

/// A local user that exists: 400 for remote IDs, 404 for unknown ones.
pub async fn existing_local_user(svc: &Svc, raw: &str) -> Result<crate::store::users::User> {
    let id = parse_user_id(raw)?;
    if id.server_name().as_str() != svc.server_name() {
        return Err(Error::invalid_param("Only local users can be managed here"));
    }
    let s = id.to_string();
    svc.db.run(move |c| crate::store::users::find(c, &s)).await?.ok_or_else(|| Error::not_found("User not found"))
}

/// Admins may ask about anyone, users about themselves.
pub async fn whois(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    if !who.is_server_admin() && who.user_id != target {
        return Err(Error::forbidden("You are not a server admin"));
    }
    let user = existing_local_user(&svc, &path).await?;
    // Whatever was seen up to this request counts.
    svc.client_ips.flush(&svc.db).await?;
    let id = user.user_id.clone();
    let rows = svc.db.run(move |c| crate::store::client_ips::connections(c, &id)).await?;
    let mut devices: Map<String, Value> = Map::new();
    for (device, ip, ua, last_seen) in rows {
        let entry = devices.entry(device).or_insert_with(|| json!({"sessions": [{"connections": []}]}));
        if let Some(list) = entry["sessions"][0]["connections"].as_array_mut() {
            list.push(json!({"ip": ip, "last_seen": last_seen, "user_agent": ua}));
        }
    }
    Ok(ok_json(json!({"user_id": user.user_id, "devices": devices})))
}

async fn get_admin(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let user = existing_local_user(&svc, &path).await?;
    Ok(ok_json(json!({"admin": user.admin})))
}

async fn set_admin(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let user = existing_local_user(&svc, &path).await?;
    let body = body.object()?;
    let flag = match body.get("admin") {
        Some(Value::Bool(b)) => *b,
        None => return Err(Error::missing_param("Missing admin")),
        Some(_) => return Err(Error::bad_json("admin must be a boolean")),
    };
    if !flag && user.user_id == admin.user_id.as_str() {
        return Err(Error::bad_json("You may not demote yourself."));
    }
    let id = user.user_id.clone();
    svc.db.run(move |c| crate::store::users::set_admin(c, &id, flag)).await?;
    svc.tokens.forget_user(&user.user_id);
    log::info!("admin {} set admin={flag} for {}", admin.user_id, user.user_id);
    Ok(ok_json(json!({})))
}
