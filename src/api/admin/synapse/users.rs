//! Synapse user admin endpoints: whois and the admin flag.

use crate::api::extractors::{Admin, Requester};
use crate::api::{Body, Svc, ok_json};
use crate::error::Result;
use crate::ids::parse_user_id;
use crate::service::accounts;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

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

/// Admins may ask about anyone, users about themselves. Synapse files every connection under
/// one device named `""`, and the admin UIs read that key.
async fn whois(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    let (user_id, connections) = accounts::whois(&svc, &who.user_id, who.is_server_admin(), &target).await?;
    let connections: Vec<_> =
        connections.iter().map(|c| json!({"ip": c.ip, "last_seen": c.last_seen, "user_agent": c.user_agent})).collect();
    Ok(ok_json(json!({"user_id": user_id, "devices": {"": {"sessions": [{"connections": connections}]}}})))
}

async fn get_admin(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let flag = accounts::is_admin(&svc, &parse_user_id(&path)?).await?;
    Ok(ok_json(json!({"admin": flag})))
}

#[derive(Deserialize)]
struct SetAdminBody {
    admin: bool,
}

async fn set_admin(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    let b: SetAdminBody = body.parse()?;
    accounts::set_admin(&svc, &admin.user_id, &target, b.admin).await?;
    Ok(ok_json(json!({})))
}
